// Fully connected layer: torch.nn.functional.linear, y = x W^T + b.
// https://pytorch.org/docs/stable/generated/torch.nn.functional.linear.html
//
// Shapes: x [*, K] (any leading dims, flattened to M rows), weight [N, K] (out_features x
// in_features, PyTorch's layout), bias [N] or undefined, y [*, N]. Forward and backward are each
// one call: both run through the packed GEMM (lamina::cpu::sgemm/dgemm), which reads transposed
// operands in place.
#pragma once
#include "core/tensor.h"

namespace lamina {

// y = x W^T + b. `bias` may be undefined.
Tensor linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias);

struct LinearGrads {
  Tensor grad_input;   // dy W      [*, K]  (undefined unless asked for)
  Tensor grad_weight;  // dy^T x    [N, K]
  Tensor grad_bias;    // sum_rows dy  [N]
};

// `input` is needed for grad_weight only, `weight` for grad_input only (either may be undefined
// when its gradient is not asked for). `input_shape` is x's shape (grad_input's shape).
LinearGrads linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                            const Shape& input_shape, bool need_input, bool need_weight,
                            bool need_bias);

namespace cpu {
// A matrix operand as the GEMM reads it: element (i, j) at data[i * ld + j], or at
// data[j * ld + i] when `trans`.
struct MatrixArg {
  Tensor t;  // keeps the memory alive
  bool trans = false;
  int64_t ld = 1;
};
// out [M, N] contiguous = x [M, K] W^T (+ bias broadcast over rows).
void linear_forward(const Tensor& out, const MatrixArg& x, const MatrixArg& w, const Tensor& bias,
                    int64_t M, int64_t N, int64_t K);
// Each output is written (=) when defined: grad_input [M, K] = g W, grad_weight [N, K] = g^T x,
// grad_bias [N] = column sums of g. g is [M, N] row-major (trans false).
void linear_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                     const MatrixArg& g, const MatrixArg& x, const MatrixArg& w, int64_t M,
                     int64_t N, int64_t K);
}  // namespace cpu

}  // namespace lamina
