// Batch normalization over the channel dim of (N, C), (N, C, L), (N, C, H, W) (and any (N, C, *)):
// torch.nn.functional.batch_norm (https://pytorch.org/docs/stable/generated/torch.nn.functional.batch_norm.html)
// and ATen's native_batch_norm / native_batch_norm_backward.
//
// Shape letters used throughout: N batch, C channels, S = prod(spatial dims) (1 for (N, C)).
//
// Training: each channel's mean and biased variance over its N*S values are computed in one pass
// (shifted sums in double), the output is (x - mean) * invstd * weight + bias with
// invstd = 1 / sqrt(var + eps), and running stats, when given, are updated in place:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * n / (n - 1)   (unbiased)
// Evaluation: running_mean / running_var normalise instead.
// Either way the forward returns save_mean and save_invstd (the statistics it normalised with),
// which is all the backward needs besides the input.
#pragma once
#include <array>

#include "core/tensor.h"

namespace lamina {

struct BatchNormForward {
  Tensor output;       // input's shape, contiguous
  Tensor save_mean;    // (C,)
  Tensor save_invstd;  // (C,)
};

struct BatchNormBackward {
  Tensor grad_input;   // undefined unless output_mask[0]
  Tensor grad_weight;  // undefined unless output_mask[1]
  Tensor grad_bias;    // undefined unless output_mask[2]
};

// weight, bias, running_mean, running_var may be undefined (affine=False / no running stats);
// evaluation needs the running stats. momentum in [0, 1] is not enforced, as in torch.
BatchNormForward batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    bool training, double momentum, double eps);

// The fused backward. With the statistics the forward saved:
//   training:  dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),  xhat = (x - mean) * invstd
//   eval:      dx = weight * invstd * dy   (the statistics are constants)
//   both:      dweight = sum(dy * xhat),  dbias = sum(dy)   (sums over N and S per channel)
BatchNormBackward batch_norm_backward(const Tensor& grad_output, const Tensor& input,
                                      const Tensor& weight, const Tensor& save_mean,
                                      const Tensor& save_invstd, bool training,
                                      std::array<bool, 3> output_mask);

// Kernels. Everything is checked and contiguous; x is viewed as (N, C, S) with C = x.size(1).
// Optional tensors are undefined when absent. Gradients are written (=), not accumulated.
namespace cpu {
void batch_norm_forward(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                        const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps);
void batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                         const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training);
// For tests: run the portable loops even where the AVX2+FMA ones could run (false: pick by CPU).
void batch_norm_force_portable(bool on);
}  // namespace cpu

}  // namespace lamina
