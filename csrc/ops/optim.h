// Fused multi-tensor optimizer updates: one call updates every parameter of a param group (its
// parameters, gradients and state tensors come in as lists), plus the multi-tensor norm and scale
// behind lamina.nn.utils.clip_grad_norm_.
//
// Semantics and the order of floating-point operations follow torch.optim's single-tensor
// implementations in torch 2.x (torch/optim/sgd.py _single_tensor_sgd, adam.py
// _single_tensor_adam, rmsprop.py _single_tensor_rmsprop; https://pytorch.org/docs/stable/optim.html):
// elementwise math runs in the parameter's dtype with the hyper-parameters cast to it where torch
// casts them; bias corrections are computed in double from the step count, as torch does in
// Python. Trajectories therefore match torch's to float32 rounding.
//
// Contract of every *_step: all lists have one entry per parameter (or are empty where the
// option leaves that state unused); entry i of each list has the shape, dtype and device of
// params[i]; everything is contiguous, float32 or float64, on the CPU. Every argument is checked
// before any memory is written. Parameters and state tensors are updated in place and their
// storage versions bumped (autograd then rejects tensors saved before the update).
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace lamina {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
  bool decoupled_weight_decay = false;  // true = AdamW
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
};

// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize. When momentum != 0,
// `momentum_buffers` has one entry per parameter; an undefined entry is a first step: a buffer is
// allocated and set to the (weight-decayed) gradient, as torch does. Returns the buffers (every
// entry defined), or an empty list when momentum == 0 (then `momentum_buffers` must be empty or
// all undefined).
std::vector<Tensor> sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<Tensor>& momentum_buffers, const SGDOptions& opt);

// Adam / AdamW (amsgrad, coupled or decoupled weight decay, maximize). `steps` holds each
// parameter's step count as a one-element float32 or float64 CPU tensor; it is incremented here
// before the update (torch's state['step']). `max_exp_avg_sqs` is used only with amsgrad (empty
// otherwise).
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
               const AdamOptions& opt);

// RMSprop (centered, momentum, weight decay, maximize). `grad_avgs` is used only when centered,
// `momentum_buffers` only when momentum > 0 (empty otherwise). `steps` as for adam_step.
void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_buffers, const std::vector<Tensor>& steps,
                  const RMSpropOptions& opt);

// torch.nn.utils.get_total_norm: the norm_type-norm of each tensor (accumulated in double), then
// the norm_type-norm of those norms. norm_type may be inf or -inf; 0 counts non-zeros as
// torch.linalg.vector_norm does. 0.0 for an empty list. Tensors may have any strides and mix
// float32 and float64.
double multi_tensor_norm(const std::vector<Tensor>& tensors, double norm_type);

// t *= scale for every tensor (scale cast to each tensor's dtype). Contiguous float tensors.
void multi_tensor_scale_(const std::vector<Tensor>& tensors, double scale);

// Kernels: arguments checked, everything contiguous on the CPU. Per-parameter scalars that torch
// computes in Python (the bias corrections of Adam) come precomputed, one per parameter.
namespace cpu {
void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<uint8_t>& first_step,
              const SGDOptions& opt);
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<double>& step_counts,
               const AdamOptions& opt);
void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_buffers, const RMSpropOptions& opt);
// The per-tensor norms (of contiguous tensors).
std::vector<double> tensor_norms(const std::vector<Tensor>& tensors, double norm_type);
void multi_tensor_scale_(const std::vector<Tensor>& tensors, double scale);
// For tests: run the portable (SSE2) kernels even where AVX2 is available. Both give the same bits.
void optim_force_portable(bool force);
}  // namespace cpu

}  // namespace lamina
