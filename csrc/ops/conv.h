// 2-D convolution, forward and backward, with torch.nn.functional.conv2d's semantics:
// https://pytorch.org/docs/stable/generated/torch.nn.functional.conv2d.html
//
// Shape letters, used throughout the conv files:
//   N batch, C input channels, H x W input size, O output channels, KH x KW kernel size,
//   OH x OW output size, G groups (C and O both divisible by G).
//   input [N, C, H, W] (or unbatched [C, H, W]), weight [O, C/G, KH, KW], bias [O],
//   output [N, O, OH, OW] with OH = (H + pad_top + pad_bottom - dilation_h * (KH - 1) - 1) / stride_h + 1.
//
// Padding may be asymmetric (padding="same" with an odd total pads one more at the bottom/right,
// as PyTorch does); the entry points take it as 2 values (pad_h, pad_w) or 4 (top, bottom, left,
// right). The Python layer resolves "same" and "valid".
//
// Contract (as in llm.c): the backward writes grad_input and grad_weight/grad_bias (=, not +=);
// autograd accumulates.
#pragma once
#include <array>

#include "core/tensor.h"

namespace lamina {

struct Conv2dGeometry {
  int64_t N, C, H, W;  // input
  int64_t O, KH, KW;   // weight [O, C / G, KH, KW]
  int64_t OH, OW;      // output
  int64_t G;           // groups
  int64_t stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_bottom, pad_left, pad_right;
};

// bias may be undefined (no bias).
Tensor conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
                      const Shape& padding, const Shape& dilation, int64_t groups);

// Returns {grad_input, grad_weight, grad_bias}; an entry is undefined where output_mask is false.
// grad_output has the forward output's shape.
std::array<Tensor, 3> conv2d_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                                      const Shape& stride, const Shape& padding, const Shape& dilation,
                                      int64_t groups, std::array<bool, 3> output_mask);

// The kernel conv2d runs for these arguments on the CPU: "direct", "gemm" or "im2col" (see
// cpu::conv2d_path); for tests and benchmarks.
const char* conv2d_kernel_path(const Tensor& input, const Tensor& weight, const Shape& stride, const Shape& padding,
                               const Shape& dilation, int64_t groups);

// Kernel contracts: every tensor contiguous and 4-D, of one floating dtype. out [N, O, OH, OW];
// bias undefined or [O]. In the backward, undefined outputs are not computed.
namespace cpu {
void conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const Conv2dGeometry& g);
void conv2d_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                     const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Conv2dGeometry& g);
// Which kernel runs (for tests and benchmarks): "direct" (AVX2 direct convolution, float32),
// "gemm" (1x1 without padding or stride: the input is the GEMM operand) or "im2col" (im2col + GEMM).
const char* conv2d_path(const Conv2dGeometry& g, DType dtype);
}  // namespace cpu

}  // namespace lamina
