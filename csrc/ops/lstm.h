// LSTM: one layer and one direction over a whole sequence, forward and backward through time, in
// one call each (as cuDNN runs it); the cell (torch.nn.LSTMCell) is the same pass with T = 1.
// https://pytorch.org/docs/stable/generated/torch.nn.LSTM.html
//
// Shapes (letters used throughout): T steps, B batch rows, I input features, H hidden units.
//   input [T, B, I] (time-major), hx, cx [B, H], w_ih [4H, I], w_hh [4H, H], b_ih, b_hh [4H] or
//   undefined. Gate rows of the weights in PyTorch's order i, f, g, o:
//     i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)   f = sigmoid(...)   g = tanh(...)
//     o = sigmoid(...)   c' = f * c + i * g   h' = o * tanh(c')
//   batch_sizes: empty (every row active at every step) or T non-increasing counts: at step t only
//   rows [0, batch_sizes[t]) are active (PyTorch's packed layout, sequences sorted by length,
//   longest first); an inactive row's output is 0 and its state does not change. `reverse` runs
//   time T-1 .. 0; a row then starts from hx/cx at its own last valid step. h_n/c_n of a row is its
//   state after its last processed step.
//
// Forward: the input projection of all T*B rows is one GEMM (into the gates buffer, onto the
// summed biases), then per step one GEMM of the active rows' h with W_hh^T and one fused pass over
// the gates. Backward: per step (in reverse order) one fused pass for the gate gradients and one GEMM
// dh = dGates W_hh; after the loop dX = dGates W_ih, dW_ih = dGates^T X and dW_hh = dGates^T H_prev
// are one GEMM each (dW_hh two: the shifted outputs, then the initial state).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace lamina {

struct LstmForward {
  Tensor output;  // [T, B, H]
  Tensor h_n;     // [B, H]
  Tensor c_n;     // [B, H]
  Tensor gates;   // [T, B, 4H] activated gates, in the kernel's own column order (for backward)
  Tensor cells;   // [T, B, H] cell state after each step (saved for backward)
};

LstmForward lstm_forward(const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                         const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                         const std::vector<int64_t>& batch_sizes, bool reverse);

struct LstmGrads {
  Tensor grad_input;  // [T, B, I]
  Tensor grad_hx;     // [B, H]
  Tensor grad_cx;     // [B, H]
  Tensor grad_w_ih;   // [4H, I]
  Tensor grad_w_hh;   // [4H, H]
  Tensor grad_bias;   // [4H]: the gradient of b_ih and of b_hh alike
};

// Which gradients to compute (the others come back undefined).
struct LstmNeeds {
  bool input = true, hx = true, cx = true, w_ih = true, w_hh = true, bias = true;
};

// grad_output [T, B, H], grad_h_n, grad_c_n [B, H]: any may be undefined (zero). `output`,
// `gates`, `cells` are lstm_forward's; input, hx, cx, weights as given to it.
// gates_scratch: the caller will not read `gates` again (autograd frees the saved tensors after
// this backward unless the graph is retained), so the gate gradients, a buffer of the same shape,
// are written over it instead of into new memory: each step's gates are read just before their
// gradients replace them, so those stores land in cache lines already there rather than in lines
// fetched for writing (T * B * 4H floats: 8 MB at T 64, B 32, H 256), and the working set is smaller.
LstmGrads lstm_backward(const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& grad_c_n,
                        const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& output, const Tensor& gates, const Tensor& cells,
                        const std::vector<int64_t>& batch_sizes, bool reverse, const LstmNeeds& needs,
                        bool gates_scratch = false);

// The cell: input [B, I], hx, cx [B, H]; returns h' and c' (h_n, c_n), output [1, B, H] (h'),
// gates [1, B, 4H] and cells [1, B, H] (c') for lstm_cell_backward.
LstmForward lstm_cell_forward(const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                              const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh);
LstmGrads lstm_cell_backward(const Tensor& grad_hy, const Tensor& grad_cy, const Tensor& input,
                             const Tensor& hx, const Tensor& cx, const Tensor& w_ih, const Tensor& w_hh,
                             const Tensor& gates, const Tensor& cells, const LstmNeeds& needs);

// Packed-sequence layout helpers (any dtype; rows of prod(*) elements):
//   rnn_pack:   padded [T, B, *] -> packed [sum(batch_sizes), *], step t's rows one after another,
//               row j of step t taken from padded[t, index[j]] (index empty: j).
//   rnn_unpack: the adjoint: packed [N, *] -> padded [total_length, B, *], padding_value elsewhere.
// batch_sizes: T non-increasing counts in [1, B] (T <= total_length for unpack); index: B distinct
// rows in [0, B) or empty.
Tensor rnn_pack(const Tensor& padded, const std::vector<int64_t>& batch_sizes, const std::vector<int64_t>& index);
Tensor rnn_unpack(const Tensor& packed, const std::vector<int64_t>& batch_sizes, const std::vector<int64_t>& index,
                  int64_t batch, int64_t total_length, double padding_value);

namespace cpu {
// Kernels: every tensor contiguous, shapes checked; bias undefined means none. `bs` has T entries.
void lstm_forward(const LstmForward& out, const Tensor& input, const Tensor& hx, const Tensor& cx,
                  const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                  const std::vector<int64_t>& bs, bool reverse);
// Gradients are written (=) into the defined tensors of `g`; gates_scratch: `gates` may be
// overwritten (with the gate gradients).
void lstm_backward(const LstmGrads& g, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& grad_c_n,
                   const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                   const Tensor& w_hh, const Tensor& output, const Tensor& gates, const Tensor& cells,
                   const std::vector<int64_t>& bs, bool reverse, bool gates_scratch);
}  // namespace cpu

}  // namespace lamina
