// Argument checks and dispatch for ops/rnn.h. Every operand is made contiguous before the kernels
// run (they are small next to the work of a sequence).
#include "ops/rnn.h"

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

void check_float(const Tensor& t, const char* op, const char* name) {
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '",
               name, "' must be float32 or float64, got ", dtype_name(t.dtype()));
}

// Defined, float, same dtype and device as `ref`, on the CPU.
void check_operand(const Tensor& t, const Tensor& ref, const char* op, const char* name) {
  check_defined(t, op, name);
  check_float(t, op, name);
  LAMINA_CHECK(t.dtype() == ref.dtype(), TypeError, op, "expected 'input' and '", name,
               "' of the same dtype, got ", dtype_name(ref.dtype()), " and ", dtype_name(t.dtype()));
  check_same_device(ref, t, op, "input", name);
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu()");
}

struct Dims {
  int64_t T, B, I, H, G;
};

Dims check_args(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, const std::vector<int64_t>& batch_sizes) {
  const char* op = rnn_mode_name(mode);
  check_operand(input, input, op, "input");
  check_operand(hx, input, op, "hx");
  check_operand(w_ih, input, op, "w_ih");
  check_operand(w_hh, input, op, "w_hh");
  if (b_ih.defined()) check_operand(b_ih, input, op, "b_ih");
  if (b_hh.defined()) check_operand(b_hh, input, op, "b_hh");
  LAMINA_CHECK(b_ih.defined() == b_hh.defined(), ValueError, op,
               "b_ih and b_hh must both be given or both be None");
  LAMINA_CHECK(input.dim() == 3, ValueError, op,
               "argument 'input' must be 3-D (seq_len, batch, input_size), got shape ", input.sizes());
  const int64_t G = rnn_gates(mode);
  const int64_t T = input.size(0), B = input.size(1), I = input.size(2);
  LAMINA_CHECK(w_ih.dim() == 2 && w_ih.size(1) == I && w_ih.size(0) % G == 0, ValueError, op,
               "argument 'w_ih' must have shape (", G, "*hidden_size, ", I,
               ") for input of shape ", input.sizes(), ", got ", w_ih.sizes());
  const int64_t H = w_ih.size(0) / G;
  LAMINA_CHECK(H > 0, ValueError, op, "hidden_size must be positive, got w_ih of shape ", w_ih.sizes());
  LAMINA_CHECK(w_hh.dim() == 2 && w_hh.size(0) == G * H && w_hh.size(1) == H, ValueError, op,
               "argument 'w_hh' must have shape [", G * H, ", ", H, "] (w_ih has shape ", w_ih.sizes(),
               "), got ", w_hh.sizes());
  for (const auto& [b, name] : {std::pair<const Tensor*, const char*>{&b_ih, "b_ih"}, {&b_hh, "b_hh"}}) {
    if (b->defined()) {
      LAMINA_CHECK(b->dim() == 1 && b->size(0) == G * H, ValueError, op, "argument '", name,
                   "' must have shape [", G * H, "], got ", b->sizes());
    }
  }
  LAMINA_CHECK(hx.dim() == 2 && hx.size(0) == B && hx.size(1) == H, ValueError, op,
               "argument 'hx' must have shape [", B, ", ", H, "] (batch, hidden_size), got ", hx.sizes(),
               " for input of shape ", input.sizes());
  if (!batch_sizes.empty()) {
    LAMINA_CHECK(static_cast<int64_t>(batch_sizes.size()) == T, ValueError, op, "batch_sizes has ",
                 batch_sizes.size(), " entries but the input has ", T, " time steps");
    for (int64_t t = 0; t < T; ++t) {
      LAMINA_CHECK(batch_sizes[t] >= 0 && batch_sizes[t] <= B, ValueError, op, "batch_sizes[", t, "] = ",
                   batch_sizes[t], " is outside [0, ", B, "] (the batch size)");
      LAMINA_CHECK(t == 0 || batch_sizes[t] <= batch_sizes[t - 1], ValueError, op,
                   "batch_sizes must be non-increasing (sequences sorted by length, longest first), got ",
                   batch_sizes);
    }
  }
  return {T, B, I, H, G};
}

std::vector<int64_t> full_batch_sizes(const std::vector<int64_t>& bs, int64_t T, int64_t B) {
  return bs.empty() ? std::vector<int64_t>(static_cast<size_t>(T), B) : bs;
}

Tensor contig_or_undef(const Tensor& t) { return t.defined() ? contiguous(t) : Tensor(); }

}  // namespace

const char* rnn_mode_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::Tanh: return "rnn_tanh";
    case RnnMode::Relu: return "rnn_relu";
    case RnnMode::Gru: return "gru";
  }
  return "rnn";
}

int64_t rnn_gates(RnnMode mode) { return mode == RnnMode::Gru ? 3 : 1; }

RnnForwardResult rnn_forward(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih,
                             const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                             const std::vector<int64_t>& batch_sizes, bool reverse) {
  const Dims d = check_args(mode, input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes);
  const DType dt = input.dtype();
  RnnForwardResult r;
  r.output = Tensor::empty({d.T, d.B, d.H}, dt);
  r.h_n = Tensor::empty({d.B, d.H}, dt);
  if (mode == RnnMode::Gru) r.workspace = Tensor::empty({d.T, d.B, 4 * d.H}, dt);
  cpu::rnn_forward(mode, contiguous(input), contiguous(hx), contiguous(w_ih), contiguous(w_hh),
                   contig_or_undef(b_ih), contig_or_undef(b_hh), full_batch_sizes(batch_sizes, d.T, d.B),
                   reverse, r.output, r.h_n, r.workspace);
  return r;
}

RnnGrads rnn_backward(RnnMode mode, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& input,
                      const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                      const Tensor& workspace, const std::vector<int64_t>& batch_sizes, bool reverse,
                      bool has_bias, bool need_input, bool need_hx, bool need_weights) {
  const char* op = rnn_mode_name(mode);
  const Dims d = check_args(mode, input, hx, w_ih, w_hh, Tensor(), Tensor(), batch_sizes);
  const DType dt = input.dtype();
  check_operand(output, input, op, "output");
  LAMINA_CHECK(output.sizes() == Shape({d.T, d.B, d.H}), ValueError, op, "argument 'output' must have shape [",
               d.T, ", ", d.B, ", ", d.H, "], got ", output.sizes());
  if (mode == RnnMode::Gru) {
    check_operand(workspace, input, op, "workspace");
    LAMINA_CHECK(workspace.sizes() == Shape({d.T, d.B, 4 * d.H}), ValueError, op,
                 "argument 'workspace' must have shape [", d.T, ", ", d.B, ", ", 4 * d.H, "], got ",
                 workspace.sizes());
  }
  Tensor go, gh;
  if (grad_output.defined()) {
    check_operand(grad_output, input, op, "grad_output");
    LAMINA_CHECK(grad_output.sizes() == output.sizes(), ValueError, op, "grad_output shape ",
                 grad_output.sizes(), " does not match output shape ", output.sizes());
    go = contiguous(grad_output);
  } else {
    go = full({d.T, d.B, d.H}, Scalar::from_double(0.0), dt, Device());
  }
  if (grad_h_n.defined()) {
    check_operand(grad_h_n, input, op, "grad_h_n");
    LAMINA_CHECK(grad_h_n.sizes() == hx.sizes(), ValueError, op, "grad_h_n shape ", grad_h_n.sizes(),
                 " does not match hx shape ", hx.sizes());
    gh = contiguous(grad_h_n);
  } else {
    gh = full({d.B, d.H}, Scalar::from_double(0.0), dt, Device());
  }
  RnnGrads r;
  if (need_input) r.grad_input = Tensor::empty({d.T, d.B, d.I}, dt);
  if (need_hx) r.grad_hx = Tensor::empty({d.B, d.H}, dt);
  if (need_weights) {
    r.grad_w_ih = Tensor::empty({d.G * d.H, d.I}, dt);
    r.grad_w_hh = Tensor::empty({d.G * d.H, d.H}, dt);
    if (has_bias) {
      r.grad_b_ih = Tensor::empty({d.G * d.H}, dt);
      r.grad_b_hh = Tensor::empty({d.G * d.H}, dt);
    }
  }
  cpu::rnn_backward(mode, go, gh, contiguous(input), contiguous(hx), contiguous(w_ih), contiguous(w_hh),
                    contiguous(output), contig_or_undef(workspace), full_batch_sizes(batch_sizes, d.T, d.B),
                    reverse, r.grad_input, r.grad_hx, r.grad_w_ih, r.grad_w_hh, r.grad_b_ih, r.grad_b_hh);
  return r;
}

}  // namespace lamina
