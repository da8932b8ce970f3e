// Activations with fused forward and backward kernels, and softmax / log_softmax along any dim.
// Semantics follow torch.nn.functional.relu, relu6, leaky_relu, elu, gelu (approximate='none' |
// 'tanh'), sigmoid, tanh, softplus, softmax, log_softmax
// (https://pytorch.org/docs/stable/nn.functional.html#non-linear-activation-functions),
// including their backward formulas (ATen's *_backward kernels).
#pragma once
#include "core/tensor.h"

namespace lamina {

enum class Activation : int {
  Relu,       // max(x, 0)
  Relu6,      // min(max(x, 0), 6)
  LeakyRelu,  // x > 0 ? x : alpha * x                   (alpha = negative_slope)
  Elu,        // x > 0 ? x : alpha * (exp(x) - 1)
  Gelu,       // x * Phi(x)
  GeluTanh,   // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Sigmoid,    // 1 / (1 + exp(-x))
  Tanh,
  Softplus,   // beta x > threshold ? x : log1p(exp(beta x)) / beta   (alpha = beta, beta = threshold)
};
constexpr int kActivationCount = 9;

const char* activation_name(Activation op);
// Whether the backward is a function of the forward's output (relu, relu6, sigmoid, tanh) rather
// than of its input: autograd saves whichever this names.
bool activation_backward_uses_output(Activation op);

// y = f(x); alpha and beta are the op's parameters (see the enum), ignored by the others.
Tensor activation_forward(Activation op, const Tensor& x, double alpha = 0.0, double beta = 0.0);
// dx = dy * f'(x), from `saved` = the forward's output or input (activation_backward_uses_output).
Tensor activation_backward(Activation op, const Tensor& grad_output, const Tensor& saved, double alpha = 0.0,
                           double beta = 0.0);

// softmax(x)_i = exp(x_i - max) / sum_j exp(x_j - max) along `dim` (negative dims count from the
// end); log_softmax = x_i - max - log(sum_j exp(x_j - max)). Exact for logits of +-1e4.
Tensor softmax_forward(const Tensor& x, int64_t dim, bool log);
// From the forward's output y:  softmax: dx = y * (dy - sum(dy * y));  log_softmax: dx = dy - exp(y) * sum(dy).
Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim, bool log);

// Kernels: contiguous operands of one shape and a floating dtype. Softmax views x as
// (outer, D, inner) with D the size of the softmax dim.
namespace cpu {
void activation_forward(Activation op, const Tensor& out, const Tensor& x, double alpha, double beta);
void activation_backward(Activation op, const Tensor& grad_input, const Tensor& grad_output, const Tensor& saved,
                         double alpha, double beta);
void softmax_forward(const Tensor& out, const Tensor& x, int64_t outer, int64_t D, int64_t inner, bool log);
void softmax_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& output, int64_t outer,
                      int64_t D, int64_t inner, bool log);
// For tests: run the portable loops even where the AVX2+FMA ones could run (false: pick by CPU).
void activation_force_portable(bool on);
}  // namespace cpu

}  // namespace lamina
