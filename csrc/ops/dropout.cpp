// Dropout: argument checks, the generator's bookkeeping and dispatch (kernels in csrc/cpu/dropout.cpp).
#include "ops/dropout.h"

#include <cmath>

#include "core/rng.h"
#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

void check_float_cpu(const Tensor& t, const char* op, const char* name) {
  check_defined(t, op, name);
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op,
               "CUDA kernels for dropout are not implemented yet; move the tensor to the CPU with .cpu()");
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '", name,
               "' must be a float32 or float64 tensor, got ", dtype_name(t.dtype()));
}

void check_p(double p, const char* op) {
  LAMINA_CHECK(p >= 0.0 && p <= 1.0, ValueError, op, "dropout probability has to be between 0 and 1, but got ", p);
}

}  // namespace

DropoutForward dropout_forward(const Tensor& input, double p) {
  check_float_cpu(input, "dropout", "input");
  check_p(p, "dropout");
  const Tensor x = contiguous(input);
  DropoutForward r;
  r.output = Tensor::empty(x.sizes(), x.dtype(), x.device());
  r.mask = Tensor::empty(x.sizes(), DType::Bool, x.device());
  if (x.numel() == 0) return r;
  if (p == 0.0 || p == 1.0) {  // everything kept / everything dropped: no draw
    fill_(r.mask, Scalar::from_int(p == 0.0 ? 1 : 0));
    if (p == 0.0) copy_(r.output, x);
    else cpu::dropout_backward(r.output, x, r.mask, 0.0);  // x * 0 (NaN stays NaN, as in torch)
    return r;
  }
  const GeneratorState g = default_generator();
  const uint64_t offset = reserve_blocks(uniform_blocks_f32(static_cast<uint64_t>(x.numel())));
  cpu::dropout_forward(r.output, r.mask, x, p, 1.0 / (1.0 - p), g.seed, offset);
  return r;
}

Tensor dropout_backward(const Tensor& grad_output, const Tensor& mask, double p) {
  check_float_cpu(grad_output, "dropout_backward", "grad_output");
  check_defined(mask, "dropout_backward", "mask");
  check_p(p, "dropout_backward");
  LAMINA_CHECK(mask.dtype() == DType::Bool && mask.device() == grad_output.device(), TypeError, "dropout_backward",
               "argument 'mask' must be a bool tensor on the gradient's device, got ", mask.describe());
  LAMINA_CHECK(mask.sizes() == grad_output.sizes(), ValueError, "dropout_backward", "argument 'mask' has shape ",
               mask.sizes(), " but 'grad_output' has shape ", grad_output.sizes());
  const Tensor g = contiguous(grad_output), m = contiguous(mask);
  Tensor out = Tensor::empty(g.sizes(), g.dtype(), g.device());
  if (out.numel() > 0) cpu::dropout_backward(out, g, m, p == 1.0 ? 0.0 : 1.0 / (1.0 - p));
  return out;
}

}  // namespace lamina
