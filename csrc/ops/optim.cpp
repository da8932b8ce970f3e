// Argument checks and dispatch for the fused optimizer updates (ops/optim.h). Every list is
// checked in full before any memory is written, so a bad entry leaves every parameter untouched.
#include "ops/optim.h"

#include <cmath>
#include <string>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

std::string entry(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

void check_not_cuda(const Tensor& t, const char* op, const std::string& name) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu() (argument '", name,
               "' is on ", t.device().str(), ")");
}

// A parameter: defined, float32/float64, contiguous, on the CPU.
void check_param(const Tensor& p, const char* op, size_t i) {
  const std::string name = entry("params", i);
  LAMINA_CHECK(p.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
  check_not_cuda(p, op, name);
  LAMINA_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, TypeError, op, "argument '", name,
               "' must be a float32 or float64 tensor, got ", dtype_name(p.dtype()));
  LAMINA_CHECK(p.is_contiguous(), ValueError, op, "argument '", name, "' must be contiguous, got shape ",
               p.sizes(), " with strides ", p.strides());
}

// A tensor that goes with params[i]: same shape, dtype and device, contiguous.
void check_like(const Tensor& t, const Tensor& p, const char* op, const char* list, size_t i) {
  const std::string name = entry(list, i);
  LAMINA_CHECK(t.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
  check_not_cuda(t, op, name);
  LAMINA_CHECK(t.dtype() == p.dtype(), TypeError, op, "argument '", name, "' must have the dtype of params[", i,
               "] (", dtype_name(p.dtype()), "), got ", dtype_name(t.dtype()));
  LAMINA_CHECK(t.sizes() == p.sizes(), ValueError, op, "argument '", name, "' must have the shape of params[", i,
               "] ", p.sizes(), ", got ", t.sizes());
  LAMINA_CHECK(t.is_contiguous(), ValueError, op, "argument '", name, "' must be contiguous, got strides ",
               t.strides());
}

void check_list(const std::vector<Tensor>& list, const std::vector<Tensor>& params, const char* op,
                const char* name) {
  LAMINA_CHECK(list.size() == params.size(), ValueError, op, "argument '", name, "' must have one tensor per parameter (",
               params.size(), "), got ", list.size());
  for (size_t i = 0; i < list.size(); ++i) check_like(list[i], params[i], op, name, i);
}

// A list used only under some option: empty when unused, one per parameter when used.
void check_optional_list(const std::vector<Tensor>& list, const std::vector<Tensor>& params, bool used,
                         const char* op, const char* name, const char* option) {
  if (used) {
    check_list(list, params, op, name);
  } else {
    LAMINA_CHECK(list.empty(), ValueError, op, "argument '", name, "' must be empty unless ", option, ", got ",
                 list.size(), " tensors");
  }
}

void check_params(const std::vector<Tensor>& params, const std::vector<Tensor>& grads, const char* op) {
  for (size_t i = 0; i < params.size(); ++i) check_param(params[i], op, i);
  check_list(grads, params, op, "grads");
}

void check_steps(const std::vector<Tensor>& steps, size_t n, const char* op) {
  LAMINA_CHECK(steps.size() == n, ValueError, op, "argument 'steps' must have one tensor per parameter (", n,
               "), got ", steps.size());
  for (size_t i = 0; i < n; ++i) {
    const Tensor& s = steps[i];
    const std::string name = entry("steps", i);
    LAMINA_CHECK(s.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
    LAMINA_CHECK(s.device().is_cpu(), ValueError, op, "argument '", name, "' must be on the CPU, got ",
                 s.device().str());
    LAMINA_CHECK(s.dtype() == DType::Float32 || s.dtype() == DType::Float64, TypeError, op, "argument '", name,
                 "' must be a float32 or float64 tensor, got ", dtype_name(s.dtype()));
    LAMINA_CHECK(s.numel() == 1, ValueError, op, "argument '", name, "' must hold one element, got shape ",
                 s.sizes());
  }
}

// Reads a step count, adds one in the step tensor's own dtype (as torch's `step_t += 1`), and
// returns the new count.
double increment_step(const Tensor& s) {
  s.bump_version();
  if (s.dtype() == DType::Float32) {
    float* p = s.data<float>();
    *p = *p + 1.0f;
    return static_cast<double>(*p);
  }
  double* p = s.data<double>();
  *p = *p + 1.0;
  return *p;
}

void bump_all(const std::vector<Tensor>& list) {
  for (const Tensor& t : list) t.bump_version();
}

}  // namespace

std::vector<Tensor> sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<Tensor>& momentum_buffers, const SGDOptions& opt) {
  const char* op = "sgd";
  LAMINA_CHECK(!(opt.lr < 0.0), ValueError, op, "Invalid learning rate: ", opt.lr);
  LAMINA_CHECK(!(opt.momentum < 0.0), ValueError, op, "Invalid momentum value: ", opt.momentum);
  LAMINA_CHECK(!(opt.weight_decay < 0.0), ValueError, op, "Invalid weight_decay value: ", opt.weight_decay);
  LAMINA_CHECK(!opt.nesterov || (opt.momentum > 0.0 && opt.dampening == 0.0), ValueError, op,
               "Nesterov momentum requires a momentum and zero dampening");
  check_params(params, grads, op);
  const bool use_momentum = opt.momentum != 0.0;
  std::vector<Tensor> bufs;
  std::vector<uint8_t> first(params.size(), 0);
  if (use_momentum) {
    LAMINA_CHECK(momentum_buffers.size() == params.size(), ValueError, op,
                 "argument 'momentum_buffers' must have one entry (a tensor or None) per parameter (", params.size(),
                 "), got ", momentum_buffers.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (momentum_buffers[i].defined()) check_like(momentum_buffers[i], params[i], op, "momentum_buffers", i);
    }
    bufs.resize(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (momentum_buffers[i].defined()) {
        bufs[i] = momentum_buffers[i];
      } else {
        bufs[i] = Tensor::empty(params[i].sizes(), params[i].dtype(), params[i].device());
        first[i] = 1;
      }
    }
  } else {
    for (size_t i = 0; i < momentum_buffers.size(); ++i) {
      LAMINA_CHECK(!momentum_buffers[i].defined(), ValueError, op,
                   "argument 'momentum_buffers' must be empty (or all None) when momentum is 0");
    }
  }
  if (params.empty()) return bufs;
  bump_all(params);
  bump_all(bufs);
  cpu::sgd_step(params, grads, bufs, first, opt);
  return bufs;
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
               const AdamOptions& opt) {
  const char* op = opt.decoupled_weight_decay ? "adamw" : "adam";
  LAMINA_CHECK(!(opt.lr < 0.0), ValueError, op, "Invalid learning rate: ", opt.lr);
  LAMINA_CHECK(!(opt.eps < 0.0), ValueError, op, "Invalid epsilon value: ", opt.eps);
  LAMINA_CHECK(!(opt.beta1 < 0.0 || opt.beta1 >= 1.0), ValueError, op, "Invalid beta parameter at index 0: ",
               opt.beta1);
  LAMINA_CHECK(!(opt.beta2 < 0.0 || opt.beta2 >= 1.0), ValueError, op, "Invalid beta parameter at index 1: ",
               opt.beta2);
  LAMINA_CHECK(!(opt.weight_decay < 0.0), ValueError, op, "Invalid weight_decay value: ", opt.weight_decay);
  check_params(params, grads, op);
  check_list(exp_avgs, params, op, "exp_avgs");
  check_list(exp_avg_sqs, params, op, "exp_avg_sqs");
  check_optional_list(max_exp_avg_sqs, params, opt.amsgrad, op, "max_exp_avg_sqs", "amsgrad");
  check_steps(steps, params.size(), op);
  if (params.empty()) return;
  std::vector<double> counts(params.size());
  for (size_t i = 0; i < params.size(); ++i) counts[i] = increment_step(steps[i]);
  bump_all(params);
  bump_all(exp_avgs);
  bump_all(exp_avg_sqs);
  bump_all(max_exp_avg_sqs);
  cpu::adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, counts, opt);
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_buffers, const std::vector<Tensor>& steps,
                  const RMSpropOptions& opt) {
  const char* op = "rmsprop";
  LAMINA_CHECK(!(opt.lr < 0.0), ValueError, op, "Invalid learning rate: ", opt.lr);
  LAMINA_CHECK(!(opt.eps < 0.0), ValueError, op, "Invalid epsilon value: ", opt.eps);
  LAMINA_CHECK(!(opt.momentum < 0.0), ValueError, op, "Invalid momentum value: ", opt.momentum);
  LAMINA_CHECK(!(opt.weight_decay < 0.0), ValueError, op, "Invalid weight_decay value: ", opt.weight_decay);
  LAMINA_CHECK(!(opt.alpha < 0.0), ValueError, op, "Invalid alpha value: ", opt.alpha);
  check_params(params, grads, op);
  check_list(square_avgs, params, op, "square_avgs");
  check_optional_list(grad_avgs, params, opt.centered, op, "grad_avgs", "centered");
  check_optional_list(momentum_buffers, params, opt.momentum > 0.0, op, "momentum_buffers", "momentum > 0");
  check_steps(steps, params.size(), op);
  if (params.empty()) return;
  for (const Tensor& s : steps) increment_step(s);
  bump_all(params);
  bump_all(square_avgs);
  bump_all(grad_avgs);
  bump_all(momentum_buffers);
  cpu::rmsprop_step(params, grads, square_avgs, grad_avgs, momentum_buffers, opt);
}

double multi_tensor_norm(const std::vector<Tensor>& tensors, double norm_type) {
  const char* op = "clip_grad_norm_";
  LAMINA_CHECK(!std::isnan(norm_type), ValueError, op, "argument 'norm_type' must not be NaN");
  std::vector<Tensor> xs(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const std::string name = entry("tensors", i);
    LAMINA_CHECK(t.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
    check_not_cuda(t, op, name);
    LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '", name,
                 "' must be a float32 or float64 tensor, got ", dtype_name(t.dtype()));
    xs[i] = contiguous(t);
  }
  if (xs.empty()) return 0.0;
  const std::vector<double> norms = cpu::tensor_norms(xs, norm_type);
  // The norm of the norms, as torch stacks the per-tensor norms and takes their vector norm.
  Tensor stacked = Tensor::empty({static_cast<int64_t>(norms.size())}, DType::Float64);
  for (size_t i = 0; i < norms.size(); ++i) stacked.data<double>()[i] = norms[i];
  return cpu::tensor_norms({stacked}, norm_type)[0];
}

void multi_tensor_scale_(const std::vector<Tensor>& tensors, double scale) {
  const char* op = "clip_grad_norm_";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    const std::string name = entry("tensors", i);
    LAMINA_CHECK(t.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
    check_not_cuda(t, op, name);
    LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '", name,
                 "' must be a float32 or float64 tensor, got ", dtype_name(t.dtype()));
    LAMINA_CHECK(t.is_contiguous(), ValueError, op, "argument '", name, "' must be contiguous, got strides ",
                 t.strides());
  }
  if (tensors.empty()) return;
  bump_all(tensors);
  cpu::multi_tensor_scale_(tensors, scale);
}

}  // namespace lamina
