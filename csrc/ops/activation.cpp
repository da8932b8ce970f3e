// Activations and softmax: argument checks and dispatch (kernels in csrc/cpu/activation.cpp).
#include "ops/activation.h"

#include <cmath>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {

const char* activation_name(Activation op) {
  static const char* names[] = {"relu", "relu6", "leaky_relu", "elu", "gelu", "gelu", "sigmoid", "tanh", "softplus"};
  return names[static_cast<int>(op)];
}

bool activation_backward_uses_output(Activation op) {
  return op == Activation::Relu || op == Activation::Relu6 || op == Activation::Sigmoid || op == Activation::Tanh;
}

namespace {

void check_float_cpu(const Tensor& t, const char* op, const char* name) {
  check_defined(t, op, name);
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu()");
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '", name,
               "' must be a float32 or float64 tensor, got ", dtype_name(t.dtype()));
}

void check_params(Activation op, double alpha, double beta) {
  const char* name = activation_name(op);
  switch (op) {
    case Activation::LeakyRelu:
      LAMINA_CHECK(std::isfinite(alpha), ValueError, name, "argument 'negative_slope' must be finite, got ", alpha);
      break;
    case Activation::Elu:
      LAMINA_CHECK(std::isfinite(alpha), ValueError, name, "argument 'alpha' must be finite, got ", alpha);
      break;
    case Activation::Softplus:
      LAMINA_CHECK(std::isfinite(alpha) && alpha != 0, ValueError, name, "argument 'beta' must be finite and non-zero, got ",
                   alpha);
      LAMINA_CHECK(!std::isnan(beta), ValueError, name, "argument 'threshold' must not be NaN");
      break;
    default: break;
  }
}

// The pair (grad, other) must match in shape and dtype.
void check_pair(const Tensor& g, const Tensor& t, const char* op, const char* tname) {
  check_float_cpu(g, op, "grad_output");
  check_float_cpu(t, op, tname);
  LAMINA_CHECK(g.dtype() == t.dtype(), TypeError, op, "'grad_output' and '", tname, "' must share a dtype, got ",
               dtype_name(g.dtype()), " and ", dtype_name(t.dtype()));
  LAMINA_CHECK(g.sizes() == t.sizes(), ValueError, op, "'grad_output' has shape ", g.sizes(), " but '", tname,
               "' has shape ", t.sizes());
}

struct SoftmaxView {
  int64_t outer = 1, D = 1, inner = 1;
};

SoftmaxView softmax_view(const Tensor& x, int64_t dim, const char* op) {
  const int64_t nd = std::max<int64_t>(x.dim(), 1);  // a 0-d tensor behaves as one element along dim 0
  LAMINA_CHECK(dim >= -nd && dim < nd, IndexError, op, "dimension out of range (expected to be in range of [", -nd,
               ", ", nd - 1, "], but got ", dim, ")");
  if (dim < 0) dim += nd;
  SoftmaxView v;
  if (x.dim() == 0) return v;
  for (int64_t d = 0; d < dim; ++d) v.outer *= x.size(d);
  v.D = x.size(dim);
  for (int64_t d = dim + 1; d < x.dim(); ++d) v.inner *= x.size(d);
  return v;
}

}  // namespace

Tensor activation_forward(Activation op, const Tensor& x, double alpha, double beta) {
  LAMINA_CHECK(static_cast<int>(op) >= 0 && static_cast<int>(op) < kActivationCount, ValueError, "activation",
               "unknown activation code ", static_cast<int>(op));
  const char* name = activation_name(op);
  check_float_cpu(x, name, "input");
  check_params(op, alpha, beta);
  const Tensor xc = contiguous(x);
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() > 0) cpu::activation_forward(op, out, xc, alpha, beta);
  return out;
}

Tensor activation_backward(Activation op, const Tensor& grad_output, const Tensor& saved, double alpha,
                           double beta) {
  LAMINA_CHECK(static_cast<int>(op) >= 0 && static_cast<int>(op) < kActivationCount, ValueError, "activation",
               "unknown activation code ", static_cast<int>(op));
  const std::string name = std::string(activation_name(op)) + "_backward";
  check_pair(grad_output, saved, name.c_str(), activation_backward_uses_output(op) ? "output" : "input");
  check_params(op, alpha, beta);
  const Tensor g = contiguous(grad_output), s = contiguous(saved);
  Tensor out = Tensor::empty(g.sizes(), g.dtype(), g.device());
  if (out.numel() > 0) cpu::activation_backward(op, out, g, s, alpha, beta);
  return out;
}

Tensor softmax_forward(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_float_cpu(x, op, "input");
  const SoftmaxView v = softmax_view(x, dim, op);
  const Tensor xc = contiguous(x);
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() > 0) cpu::softmax_forward(out, xc, v.outer, v.D, v.inner, log);
  return out;
}

Tensor softmax_backward(const Tensor& grad_output, const Tensor& output, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_pair(grad_output, output, op, "output");
  const SoftmaxView v = softmax_view(output, dim, op);
  const Tensor g = contiguous(grad_output), y = contiguous(output);
  Tensor out = Tensor::empty(g.sizes(), g.dtype(), g.device());
  if (out.numel() > 0) cpu::softmax_backward(out, g, y, v.outer, v.D, v.inner, log);
  return out;
}

}  // namespace lamina
