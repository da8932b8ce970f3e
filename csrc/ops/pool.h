// 2-D pooling, forward and backward, with PyTorch's semantics:
//   max_pool2d           https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
//   avg_pool2d           https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
//   adaptive_avg_pool2d  https://pytorch.org/docs/stable/generated/torch.nn.AdaptiveAvgPool2d.html
//
// Shape letters: N batch, C channels, H x W input, OH x OW output, KH x KW window. The input is
// [N, C, H, W] or unbatched [C, H, W]; each (n, c) plane is pooled on its own. Output size, as
// PyTorch's pooling_output_shape:
//   OH = floor_or_ceil((H + 2 * pad_h - dilation_h * (KH - 1) - 1) / stride_h) + 1, and with
//   ceil_mode the last window must start inside the input or the top/left padding (else OH - 1).
// Padding is at most half the window (pad_h <= KH / 2) and counts as -inf for max and as 0 for
// avg (where count_include_pad decides whether it counts in the divisor).
//
// max_pool2d's indices are flat positions ih * W + iw inside each plane, as PyTorch's.
// Backward passes write grad_input (=).
#pragma once
#include <array>
#include <optional>

#include "core/tensor.h"

namespace lamina {

struct Pool2dGeometry {
  int64_t NC, H, W;  // planes (N * C) and input size
  int64_t OH, OW;    // output size
  int64_t KH, KW, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
};

// Returns {output, indices (int64)}.
std::array<Tensor, 2> max_pool2d_forward(const Tensor& input, const Shape& kernel_size, const Shape& stride,
                                         const Shape& padding, const Shape& dilation, bool ceil_mode);
Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices, const Shape& input_sizes);

Tensor avg_pool2d_forward(const Tensor& input, const Shape& kernel_size, const Shape& stride, const Shape& padding,
                          bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override);
Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_sizes, const Shape& kernel_size,
                           const Shape& stride, const Shape& padding, bool ceil_mode, bool count_include_pad,
                           std::optional<int64_t> divisor_override);

// output_size: (OH, OW).
Tensor adaptive_avg_pool2d_forward(const Tensor& input, const Shape& output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_sizes);

// Kernel contracts: contiguous tensors viewed as planes [NC, H, W] / [NC, OH, OW]; divisor 0
// means none (count_include_pad decides).
namespace cpu {
void max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input, const Pool2dGeometry& g);
// Returns how many indices fell outside [0, H * W) (those are skipped).
int64_t max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                            const Pool2dGeometry& g);
void avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dGeometry& g, bool count_include_pad,
                        int64_t divisor);
void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Pool2dGeometry& g,
                         bool count_include_pad, int64_t divisor);
void adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dGeometry& g);
void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Pool2dGeometry& g);
}  // namespace cpu

}  // namespace lamina
