// Batch normalization: argument checks and dispatch (kernels in csrc/cpu/norm.cpp).
#include "ops/norm.h"

#include <cmath>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

constexpr const char* kFwd = "batch_norm";
constexpr const char* kBwd = "batch_norm_backward";

void check_cpu(const Tensor& t, const char* op) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op,
               "CUDA kernels for batch_norm are not implemented yet; move the tensor to the CPU with .cpu()");
}

void check_input(const Tensor& x, const char* op) {
  check_defined(x, op, "input");
  check_cpu(x, op);
  LAMINA_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, TypeError, op,
               "argument 'input' must be float32 or float64, got ", dtype_name(x.dtype()));
  LAMINA_CHECK(x.dim() >= 2, ValueError, op, "argument 'input' must have shape (N, C) or (N, C, *), got shape ",
               x.sizes());
}

// An optional per-channel tensor: 1-D with C elements, input's dtype and device.
void check_channel_tensor(const Tensor& t, const Tensor& x, const char* op, const char* name) {
  if (!t.defined()) return;
  check_same_device(x, t, op, "input", name);
  check_cpu(t, op);
  LAMINA_CHECK(t.dtype() == x.dtype(), TypeError, op, "argument '", name, "' must have the input's dtype ",
               dtype_name(x.dtype()), ", got ", dtype_name(t.dtype()));
  LAMINA_CHECK(t.dim() == 1 && t.size(0) == x.size(1), ValueError, op, "argument '", name, "' should have shape [",
               x.size(1), "] (one value per channel of input ", x.sizes(), "), got shape ", t.sizes());
}

}  // namespace

BatchNormForward batch_norm_forward(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const Tensor& running_mean, const Tensor& running_var,
                                    bool training, double momentum, double eps) {
  check_input(input, kFwd);
  check_channel_tensor(weight, input, kFwd, "weight");
  check_channel_tensor(bias, input, kFwd, "bias");
  check_channel_tensor(running_mean, input, kFwd, "running_mean");
  check_channel_tensor(running_var, input, kFwd, "running_var");
  LAMINA_CHECK(running_mean.defined() == running_var.defined(), ValueError, kFwd,
               "'running_mean' and 'running_var' must both be tensors or both be None");
  LAMINA_CHECK(training || running_mean.defined(), ValueError, kFwd,
               "'running_mean' and 'running_var' must be tensors in evaluation mode (training=False)");
  LAMINA_CHECK(std::isfinite(eps) && eps >= 0, ValueError, kFwd, "argument 'eps' must be finite and >= 0, got ", eps);
  LAMINA_CHECK(std::isfinite(momentum), ValueError, kFwd, "argument 'momentum' must be finite, got ", momentum);
  const int64_t C = input.size(1);
  if (training && input.numel() > 0) {
    LAMINA_CHECK(input.numel() / C > 1, ValueError, kFwd,
                 "Expected more than 1 value per channel when training, got input size ", input.sizes());
  }
  if (training && running_mean.defined()) {
    LAMINA_CHECK(!running_mean.shares_storage(running_var) || running_mean.offset() != running_var.offset(),
                 ValueError, kFwd, "'running_mean' and 'running_var' must not be the same tensor");
    for (const Tensor* t : {&running_mean, &running_var})
      LAMINA_CHECK(!t->shares_storage(input), ValueError, kFwd,
                   "running statistics must not share memory with the input");
  }

  const Tensor x = contiguous(input);
  const Tensor w = weight.defined() ? contiguous(weight) : weight;
  const Tensor b = bias.defined() ? contiguous(bias) : bias;
  // Running stats are updated in place: kernels write contiguous buffers, copied back when the
  // caller's tensors are strided views.
  const bool update = training && running_mean.defined() && input.numel() > 0;
  auto stat = [&](const Tensor& t) {
    if (!t.defined() || t.is_contiguous()) return t;
    return update ? clone(t) : contiguous(t);
  };
  const Tensor rm = stat(running_mean), rv = stat(running_var);
  BatchNormForward r;
  r.output = Tensor::empty(x.sizes(), x.dtype(), x.device());
  r.save_mean = Tensor::empty({C}, x.dtype(), x.device());
  r.save_invstd = Tensor::empty({C}, x.dtype(), x.device());
  cpu::batch_norm_forward(r.output, r.save_mean, r.save_invstd, x, w, b, rm, rv, training, momentum, eps);
  if (update) {
    if (rm.shares_storage(running_mean)) running_mean.bump_version();
    else copy_(running_mean, rm);
    if (rv.shares_storage(running_var)) running_var.bump_version();
    else copy_(running_var, rv);
  }
  return r;
}

BatchNormBackward batch_norm_backward(const Tensor& grad_output, const Tensor& input,
                                      const Tensor& weight, const Tensor& save_mean,
                                      const Tensor& save_invstd, bool training,
                                      std::array<bool, 3> output_mask) {
  check_input(input, kBwd);
  check_defined(grad_output, kBwd, "grad_output");
  check_same_device(input, grad_output, kBwd, "input", "grad_output");
  LAMINA_CHECK(grad_output.dtype() == input.dtype(), TypeError, kBwd, "argument 'grad_output' must have the input's dtype ",
               dtype_name(input.dtype()), ", got ", dtype_name(grad_output.dtype()));
  LAMINA_CHECK(grad_output.sizes() == input.sizes(), ValueError, kBwd, "argument 'grad_output' must have the input's shape ",
               input.sizes(), ", got ", grad_output.sizes());
  check_channel_tensor(weight, input, kBwd, "weight");
  check_defined(save_mean, kBwd, "save_mean");
  check_defined(save_invstd, kBwd, "save_invstd");
  check_channel_tensor(save_mean, input, kBwd, "save_mean");
  check_channel_tensor(save_invstd, input, kBwd, "save_invstd");

  const Tensor x = contiguous(input), dy = contiguous(grad_output);
  const Tensor w = weight.defined() ? contiguous(weight) : weight;
  const Tensor m = contiguous(save_mean), is = contiguous(save_invstd);
  const int64_t C = input.size(1);
  BatchNormBackward r;
  if (output_mask[0]) r.grad_input = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (output_mask[1]) r.grad_weight = Tensor::empty({C}, x.dtype(), x.device());
  if (output_mask[2]) r.grad_bias = Tensor::empty({C}, x.dtype(), x.device());
  if (!output_mask[0] && !output_mask[1] && !output_mask[2]) return r;
  cpu::batch_norm_backward(r.grad_input, r.grad_weight, r.grad_bias, dy, x, w, m, is, training);
  return r;
}

}  // namespace lamina
