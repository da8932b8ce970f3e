// GRU and Elman RNN (tanh / relu) over a whole sequence, one C++ call per layer and direction, as
// cuDNN does: torch.nn.GRU / torch.nn.RNN for one layer and one direction.
// https://pytorch.org/docs/stable/generated/torch.nn.GRU.html
// https://pytorch.org/docs/stable/generated/torch.nn.RNN.html
//
// Shape letters: T time steps, B batch, I input size, H hidden size, G gates (3 for the GRU: r, z, n
// in PyTorch's order; 1 for the RNN).
//
//   input   [T, B, I] (time-major)        hx       [B, H]
//   w_ih    [G*H, I]                      w_hh     [G*H, H]
//   b_ih    [G*H] or undefined            b_hh     [G*H] or undefined
//   output  [T, B, H]                     h_n      [B, H]
//
// GRU:  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//       z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//       n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//       h' = (1 - z) * n + z * h
// RNN:  h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu
//
// Variable lengths (PyTorch's packed layout, rows sorted by length, longest first): `batch_sizes`
// is empty (every row active at every step) or holds T non-increasing counts; at step t only rows
// [0, batch_sizes[t]) are active. Inactive rows output 0 and keep their state. With `reverse` time
// runs T-1 .. 0, so each row starts from hx at its own last valid step.
//
// Forward: the input projection of all steps is one GEMM; each step is one GEMM over the active
// rows of the state and one fused pass over the gates. It returns a workspace (GRU: r, z, n and
// W_hn h + b_hn per step and row, [T, B, 4H]; RNN: undefined, the output suffices) that backward
// reads. Backward runs through time with one GEMM per step for the state gradient, then the input
// gradient and each weight gradient as one GEMM over all steps.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace lamina {

enum class RnnMode : int { Tanh = 0, Relu = 1, Gru = 2 };

const char* rnn_mode_name(RnnMode mode);  // "rnn_tanh", "rnn_relu", "gru"
int64_t rnn_gates(RnnMode mode);          // 1 or 3

struct RnnForwardResult {
  Tensor output;     // [T, B, H]
  Tensor h_n;        // [B, H]
  Tensor workspace;  // what backward needs besides the output (undefined for the RNN)
};

RnnForwardResult rnn_forward(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih,
                             const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                             const std::vector<int64_t>& batch_sizes, bool reverse);

struct RnnGrads {
  Tensor grad_input, grad_hx, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh;
};

// grad_output [T, B, H] and grad_h_n [B, H] may each be undefined (zero). `output` and `workspace`
// are rnn_forward's. Gradients are written (=) and returned for those asked for; the biases'
// gradients are returned only when `has_bias`.
RnnGrads rnn_backward(RnnMode mode, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& input,
                      const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                      const Tensor& workspace, const std::vector<int64_t>& batch_sizes, bool reverse,
                      bool has_bias, bool need_input, bool need_hx, bool need_weights);

namespace cpu {
// Arguments are checked and contiguous; b_ih, b_hh may be undefined; batch_sizes has T entries.
void rnn_forward(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                 const Tensor& b_ih, const Tensor& b_hh, const std::vector<int64_t>& batch_sizes,
                 bool reverse, const Tensor& output, const Tensor& h_n, const Tensor& workspace);
// grad_output, grad_h_n are contiguous and defined (zeros when absent); outputs are written when
// defined.
void rnn_backward(RnnMode mode, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& input,
                  const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                  const Tensor& workspace, const std::vector<int64_t>& batch_sizes, bool reverse,
                  const Tensor& grad_input, const Tensor& grad_hx, const Tensor& grad_w_ih,
                  const Tensor& grad_w_hh, const Tensor& grad_b_ih, const Tensor& grad_b_hh);
}  // namespace cpu

}  // namespace lamina
