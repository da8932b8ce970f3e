// Argument checks and dispatch for ops/lstm.h. Operands are made contiguous (a no-op when they
// already are) before the kernels, which index them as plain row-major arrays.
#include "ops/lstm.h"

#include <cstring>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

void check_cpu(const Tensor& t, const char* op) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu()");
}

// Every defined tensor of `ts` (named by `names`): float32/float64, the dtype and device of the
// first, on the CPU.
void check_operands(const char* op, std::initializer_list<const Tensor*> ts,
                    std::initializer_list<const char*> names) {
  const Tensor* first = nullptr;
  const char* first_name = "";
  auto name = names.begin();
  for (const Tensor* t : ts) {
    const char* n = *name++;
    if (!t->defined()) continue;
    if (!first) {
      LAMINA_CHECK(t->dtype() == DType::Float32 || t->dtype() == DType::Float64, TypeError, op, "argument '",
                   n, "' must be float32 or float64, got ", dtype_name(t->dtype()));
      first = t;
      first_name = n;
      continue;
    }
    LAMINA_CHECK(t->dtype() == first->dtype(), TypeError, op, "expected '", first_name, "' and '", n,
                 "' of the same dtype, got ", dtype_name(first->dtype()), " and ", dtype_name(t->dtype()));
    check_same_device(*first, *t, op, first_name, n);
  }
  if (first) check_cpu(*first, op);
}

void check_shape(const Tensor& t, const Shape& want, const char* op, const char* name, const char* what) {
  LAMINA_CHECK(t.sizes() == want, ValueError, op, "argument '", name, "' must have shape ", want, " ", what,
               ", got ", t.sizes());
}

Tensor contig(const Tensor& t) { return t.defined() ? contiguous(t) : t; }

struct Dims {
  int64_t T, B, I, H;
};

// The checks shared by forward and backward: shapes of input, states, weights, biases, batch_sizes.
Dims check_layer(const char* op, const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                 const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, const std::vector<int64_t>& bs) {
  check_defined(input, op, "input");
  check_defined(hx, op, "hx");
  check_defined(cx, op, "cx");
  check_defined(w_ih, op, "w_ih");
  check_defined(w_hh, op, "w_hh");
  check_operands(op, {&input, &hx, &cx, &w_ih, &w_hh, &b_ih, &b_hh},
                 {"input", "hx", "cx", "w_ih", "w_hh", "b_ih", "b_hh"});
  LAMINA_CHECK(input.dim() == 3, ValueError, op,
               "argument 'input' must be 3-D (seq_len, batch, input_size), got shape ", input.sizes());
  const int64_t T = input.size(0), B = input.size(1), I = input.size(2);
  LAMINA_CHECK(hx.dim() == 2 && hx.size(0) == B, ValueError, op, "argument 'hx' must have shape [", B,
               ", hidden_size] (batch ", B, " of input shape ", input.sizes(), "), got ", hx.sizes());
  const int64_t H = hx.size(1);
  LAMINA_CHECK(H >= 1, ValueError, op, "hidden_size must be at least 1, got hx of shape ", hx.sizes());
  check_shape(cx, hx.sizes(), op, "cx", "(the shape of hx)");
  check_shape(w_ih, {4 * H, I}, op, "w_ih", "(4 * hidden_size, input_size)");
  check_shape(w_hh, {4 * H, H}, op, "w_hh", "(4 * hidden_size, hidden_size)");
  if (b_ih.defined()) check_shape(b_ih, {4 * H}, op, "b_ih", "(4 * hidden_size)");
  if (b_hh.defined()) check_shape(b_hh, {4 * H}, op, "b_hh", "(4 * hidden_size)");
  if (!bs.empty()) {
    LAMINA_CHECK(static_cast<int64_t>(bs.size()) == T, ValueError, op, "batch_sizes has ", bs.size(),
                 " entries but input has ", T, " steps (shape ", input.sizes(), ")");
    for (size_t t = 0; t < bs.size(); ++t) {
      LAMINA_CHECK(bs[t] >= 0 && bs[t] <= B, ValueError, op, "batch_sizes[", t, "] = ", bs[t],
                   " is outside [0, ", B, "] (batch of input shape ", input.sizes(), ")");
      LAMINA_CHECK(t == 0 || bs[t] <= bs[t - 1], ValueError, op,
                   "batch_sizes must be non-increasing (sequences sorted by length, longest first), got ",
                   bs[t - 1], " then ", bs[t], " at step ", t);
    }
  }
  return {T, B, I, H};
}

}  // namespace

LstmForward lstm_forward(const Tensor& input_, const Tensor& hx_, const Tensor& cx_, const Tensor& w_ih_,
                         const Tensor& w_hh_, const Tensor& b_ih_, const Tensor& b_hh_,
                         const std::vector<int64_t>& batch_sizes, bool reverse) {
  constexpr const char* kOp = "lstm";
  const Dims d = check_layer(kOp, input_, hx_, cx_, w_ih_, w_hh_, b_ih_, b_hh_, batch_sizes);
  const Tensor input = contig(input_), hx = contig(hx_), cx = contig(cx_), w_ih = contig(w_ih_),
               w_hh = contig(w_hh_), b_ih = contig(b_ih_), b_hh = contig(b_hh_);
  const DType dt = input.dtype();
  LstmForward r;
  r.output = Tensor::empty({d.T, d.B, d.H}, dt);
  r.h_n = Tensor::empty({d.B, d.H}, dt);
  r.c_n = Tensor::empty({d.B, d.H}, dt);
  r.gates = Tensor::empty({d.T, d.B, 4 * d.H}, dt);
  r.cells = Tensor::empty({d.T, d.B, d.H}, dt);
  if (d.T == 0 || d.B == 0) {
    copy_(r.h_n, hx);
    copy_(r.c_n, cx);
    return r;
  }
  cpu::lstm_forward(r, input, hx, cx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse);
  return r;
}

LstmGrads lstm_backward(const Tensor& grad_output_, const Tensor& grad_h_n_, const Tensor& grad_c_n_,
                        const Tensor& input_, const Tensor& hx_, const Tensor& cx_, const Tensor& w_ih_,
                        const Tensor& w_hh_, const Tensor& output_, const Tensor& gates_, const Tensor& cells_,
                        const std::vector<int64_t>& batch_sizes, bool reverse, const LstmNeeds& needs,
                        bool gates_scratch) {
  constexpr const char* kOp = "lstm_backward";
  const Dims d = check_layer(kOp, input_, hx_, cx_, w_ih_, w_hh_, Tensor(), Tensor(), batch_sizes);
  check_defined(output_, kOp, "output");
  check_defined(gates_, kOp, "gates");
  check_defined(cells_, kOp, "cells");
  check_operands(kOp, {&input_, &grad_output_, &grad_h_n_, &grad_c_n_, &output_, &gates_, &cells_},
                 {"input", "grad_output", "grad_h_n", "grad_c_n", "output", "gates", "cells"});
  const Shape seq_h{d.T, d.B, d.H}, state{d.B, d.H};
  if (grad_output_.defined()) check_shape(grad_output_, seq_h, kOp, "grad_output", "(seq_len, batch, hidden_size)");
  if (grad_h_n_.defined()) check_shape(grad_h_n_, state, kOp, "grad_h_n", "(batch, hidden_size)");
  if (grad_c_n_.defined()) check_shape(grad_c_n_, state, kOp, "grad_c_n", "(batch, hidden_size)");
  check_shape(output_, seq_h, kOp, "output", "(seq_len, batch, hidden_size)");
  check_shape(gates_, {d.T, d.B, 4 * d.H}, kOp, "gates", "(seq_len, batch, 4 * hidden_size)");
  check_shape(cells_, seq_h, kOp, "cells", "(seq_len, batch, hidden_size)");
  const DType dt = input_.dtype();
  LstmGrads g;
  if (needs.input) g.grad_input = Tensor::empty({d.T, d.B, d.I}, dt);
  if (needs.hx) g.grad_hx = Tensor::empty(state, dt);
  if (needs.cx) g.grad_cx = Tensor::empty(state, dt);
  if (needs.w_ih) g.grad_w_ih = Tensor::empty({4 * d.H, d.I}, dt);
  if (needs.w_hh) g.grad_w_hh = Tensor::empty({4 * d.H, d.H}, dt);
  if (needs.bias) g.grad_bias = Tensor::empty({4 * d.H}, dt);
  if (d.T == 0 || d.B == 0) {  // nothing ran: the states pass through, every other gradient is 0
    for (const Tensor* t : {&g.grad_input, &g.grad_w_ih, &g.grad_w_hh, &g.grad_bias})
      if (t->defined() && t->numel() > 0) fill_(*t, Scalar::from_double(0.0));
    for (auto [out, in] : {std::pair{&g.grad_hx, &grad_h_n_}, std::pair{&g.grad_cx, &grad_c_n_}}) {
      if (!out->defined() || out->numel() == 0) continue;
      if (in->defined()) copy_(*out, *in);
      else fill_(*out, Scalar::from_double(0.0));
    }
    return g;
  }
  cpu::lstm_backward(g, contig(grad_output_), contig(grad_h_n_), contig(grad_c_n_), contig(input_), contig(hx_),
                     contig(cx_), contig(w_ih_), contig(w_hh_), contig(output_), contig(gates_), contig(cells_),
                     batch_sizes, reverse, gates_scratch);
  return g;
}

LstmForward lstm_cell_forward(const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                              const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  constexpr const char* kOp = "lstm_cell";
  check_defined(input, kOp, "input");
  LAMINA_CHECK(input.dim() == 2, ValueError, kOp, "argument 'input' must be 2-D (batch, input_size), got shape ",
               input.sizes());
  check_defined(hx, kOp, "hx");
  LAMINA_CHECK(hx.dim() == 2, ValueError, kOp, "argument 'hx' must be 2-D (batch, hidden_size), got shape ",
               hx.sizes());
  return lstm_forward(input.unsqueeze(0), hx, cx, w_ih, w_hh, b_ih, b_hh, {}, false);
}

LstmGrads lstm_cell_backward(const Tensor& grad_hy, const Tensor& grad_cy, const Tensor& input, const Tensor& hx,
                             const Tensor& cx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& gates,
                             const Tensor& cells, const LstmNeeds& needs) {
  constexpr const char* kOp = "lstm_cell_backward";
  check_defined(input, kOp, "input");
  LAMINA_CHECK(input.dim() == 2, ValueError, kOp, "argument 'input' must be 2-D (batch, input_size), got shape ",
               input.sizes());
  check_defined(cells, kOp, "cells");
  // The cell's output is its h', which backward needs only when T > 1: pass cells as a stand-in.
  LstmGrads g = lstm_backward(Tensor(), grad_hy, grad_cy, input.unsqueeze(0), hx, cx, w_ih, w_hh, cells, gates,
                              cells, {}, false, needs);
  if (g.grad_input.defined()) g.grad_input = g.grad_input.select(0, 0);
  return g;
}

// ---------------------------------------------------------------- packed layout

namespace {

void check_pack_args(const char* op, const std::vector<int64_t>& bs, const std::vector<int64_t>& index, int64_t B) {
  LAMINA_CHECK(!bs.empty(), ValueError, op, "batch_sizes must not be empty");
  for (size_t t = 0; t < bs.size(); ++t) {
    LAMINA_CHECK(bs[t] >= 1 && bs[t] <= B, ValueError, op, "batch_sizes[", t, "] = ", bs[t],
                 " is outside [1, ", B, "] (batch size ", B, ")");
    LAMINA_CHECK(t == 0 || bs[t] <= bs[t - 1], ValueError, op, "batch_sizes must be non-increasing, got ",
                 bs[t - 1], " then ", bs[t], " at step ", t);
  }
  if (!index.empty()) {
    LAMINA_CHECK(static_cast<int64_t>(index.size()) == B, ValueError, op, "the index has ", index.size(),
                 " entries for a batch of ", B);
    std::vector<char> seen(static_cast<size_t>(B), 0);
    for (int64_t v : index) {
      LAMINA_CHECK(v >= 0 && v < B && !seen[static_cast<size_t>(v)], ValueError, op,
                   "the index must be a permutation of 0..", B - 1, ", got entry ", v);
      seen[static_cast<size_t>(v)] = 1;
    }
  }
}

}  // namespace

Tensor rnn_pack(const Tensor& padded_, const std::vector<int64_t>& bs, const std::vector<int64_t>& index) {
  constexpr const char* kOp = "rnn_pack";
  check_defined(padded_, kOp, "padded");
  check_cpu(padded_, kOp);
  LAMINA_CHECK(padded_.dim() >= 2, ValueError, kOp, "argument 'padded' must be at least 2-D (T, B, *), got shape ",
               padded_.sizes());
  const int64_t T = padded_.size(0), B = padded_.size(1);
  LAMINA_CHECK(static_cast<int64_t>(bs.size()) <= T, ValueError, kOp, "batch_sizes has ", bs.size(),
               " entries but the padded input only ", T, " steps (shape ", padded_.sizes(), ")");
  check_pack_args(kOp, bs, index, B);
  const Tensor padded = contiguous(padded_);
  int64_t N = 0;
  for (int64_t b : bs) N += b;
  Shape out_shape{N};
  for (int64_t d = 2; d < padded.dim(); ++d) out_shape.push_back(padded.size(d));
  Tensor out = Tensor::empty(out_shape, padded.dtype());
  const int64_t row = (B > 0 && T > 0 ? padded.numel() / (T * B) : 0) * padded.itemsize();
  const char* src = static_cast<const char*>(padded.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  int64_t k = 0;
  for (size_t t = 0; t < bs.size(); ++t)
    for (int64_t j = 0; j < bs[t]; ++j, ++k) {
      const int64_t b = index.empty() ? j : index[static_cast<size_t>(j)];
      std::memcpy(dst + k * row, src + (static_cast<int64_t>(t) * B + b) * row, static_cast<size_t>(row));
    }
  return out;
}

Tensor rnn_unpack(const Tensor& packed_, const std::vector<int64_t>& bs, const std::vector<int64_t>& index,
                  int64_t B, int64_t total_length, double padding_value) {
  constexpr const char* kOp = "rnn_unpack";
  check_defined(packed_, kOp, "packed");
  check_cpu(packed_, kOp);
  LAMINA_CHECK(packed_.dim() >= 1, ValueError, kOp, "argument 'packed' must be at least 1-D (N, *), got shape ",
               packed_.sizes());
  LAMINA_CHECK(B >= 1, ValueError, kOp, "batch must be at least 1, got ", B);
  check_pack_args(kOp, bs, index, B);
  LAMINA_CHECK(total_length >= static_cast<int64_t>(bs.size()), ValueError, kOp, "total_length ", total_length,
               " is shorter than the ", bs.size(), " steps of the packed sequence");
  int64_t N = 0;
  for (int64_t b : bs) N += b;
  LAMINA_CHECK(packed_.size(0) == N, ValueError, kOp, "packed data has ", packed_.size(0),
               " rows but batch_sizes sum to ", N);
  const Tensor packed = contiguous(packed_);
  Shape out_shape{total_length, B};
  for (int64_t d = 1; d < packed.dim(); ++d) out_shape.push_back(packed.size(d));
  Tensor out = full(out_shape, Scalar::from_double(padding_value), packed.dtype(), packed.device());
  const int64_t row = (N > 0 ? packed.numel() / N : 0) * packed.itemsize();
  const char* src = static_cast<const char*>(packed.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  int64_t k = 0;
  for (size_t t = 0; t < bs.size(); ++t)
    for (int64_t j = 0; j < bs[t]; ++j, ++k) {
      const int64_t b = index.empty() ? j : index[static_cast<size_t>(j)];
      std::memcpy(dst + (static_cast<int64_t>(t) * B + b) * row, src + k * row, static_cast<size_t>(row));
    }
  return out;
}

}  // namespace lamina
