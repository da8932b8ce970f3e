// Dropout: torch.nn.functional.dropout in training mode
// (https://pytorch.org/docs/stable/generated/torch.nn.functional.dropout.html). Each element is
// kept with probability 1 - p and scaled by 1 / (1 - p), or zeroed. The mask comes from Lamina's
// counter-based generator (core/rng.h): element i is kept when uniform_at_f32(seed, offset, i) >= p,
// so a draw depends only on lamina.manual_seed and the draws before it, never on the thread count.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace lamina {

struct DropoutForward {
  Tensor output;  // input's shape and dtype, contiguous
  Tensor mask;    // bool, input's shape: true where the element was kept
};

// 0 <= p <= 1. p == 0 keeps everything and p == 1 zeroes everything; neither draws random numbers.
DropoutForward dropout_forward(const Tensor& input, double p);
// grad_input = grad_output * mask / (1 - p)  (0 everywhere when p == 1).
Tensor dropout_backward(const Tensor& grad_output, const Tensor& mask, double p);

// Kernels: contiguous operands of one shape; scale = 1 / (1 - p).
namespace cpu {
void dropout_forward(const Tensor& out, const Tensor& mask, const Tensor& x, double p, double scale, uint64_t seed,
                     uint64_t offset);
void dropout_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& mask, double scale);
}  // namespace cpu

}  // namespace lamina
