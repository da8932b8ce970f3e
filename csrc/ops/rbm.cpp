// RBM contrastive-divergence step: argument checks, the generator's bookkeeping and dispatch
// (kernel in csrc/cpu/rbm.cpp).
#include "ops/rbm.h"

#include <cmath>

#include "core/rng.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

constexpr const char* kOp = "rbm_cd_step";

void check_arg(const Tensor& t, const char* name, const Tensor& like) {
  check_defined(t, kOp, name);
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, kOp,
               "CUDA kernels for rbm_cd_step are not implemented yet; move the tensor to the CPU with .cpu()");
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, kOp, "argument '", name,
               "' must be a float32 or float64 tensor, got dtype ", dtype_name(t.dtype()));
  LAMINA_CHECK(t.dtype() == like.dtype(), TypeError, kOp, "argument '", name, "' has dtype ", dtype_name(t.dtype()),
               " but 'weight' has dtype ", dtype_name(like.dtype()));
  LAMINA_CHECK(t.is_contiguous(), ValueError, kOp, "argument '", name, "' must be contiguous");
}

void check_shape(const Tensor& t, const char* name, const Shape& want) {
  LAMINA_CHECK(t.sizes() == want, ValueError, kOp, "argument '", name, "' must have shape ", want, ", got ",
               t.sizes());
}

}  // namespace

double rbm_cd_step(const Tensor& v, const Tensor& chain, const Tensor& weight, const Tensor& h_bias,
                   const Tensor& v_bias, const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb,
                   const RbmStep& p) {
  check_arg(weight, "weight", weight);
  LAMINA_CHECK(weight.dim() == 2 && weight.numel() > 0, ValueError, kOp,
               "argument 'weight' must be a non-empty 2-D (n_hidden, n_visible) tensor, got shape ", weight.sizes());
  const int64_t H = weight.sizes()[0], V = weight.sizes()[1];
  check_arg(v, "v", weight);
  LAMINA_CHECK(v.dim() == 2 && v.sizes()[1] == V && v.sizes()[0] > 0, ValueError, kOp,
               "argument 'v' must have shape (N >= 1, n_visible=", V, " as in 'weight' ", weight.sizes(),
               "), got ", v.sizes());
  check_arg(h_bias, "h_bias", weight);
  check_shape(h_bias, "h_bias", {H});
  check_arg(v_bias, "v_bias", weight);
  check_shape(v_bias, "v_bias", {V});
  check_arg(vel_w, "velocity of weight", weight);
  check_shape(vel_w, "velocity of weight", {H, V});
  check_arg(vel_hb, "velocity of h_bias", weight);
  check_shape(vel_hb, "velocity of h_bias", {H});
  check_arg(vel_vb, "velocity of v_bias", weight);
  check_shape(vel_vb, "velocity of v_bias", {V});
  const bool persistent = chain.defined();
  if (persistent) {
    check_arg(chain, "chain", weight);
    LAMINA_CHECK(chain.dim() == 2 && chain.sizes()[1] == V && chain.sizes()[0] > 0, ValueError, kOp,
                 "argument 'chain' must have shape (M >= 1, n_visible=", V, " as in 'weight'), got ",
                 chain.sizes());
    LAMINA_CHECK(!chain.shares_storage(v) && !chain.shares_storage(weight), ValueError, kOp,
                 "argument 'chain' must not share memory with 'v' or 'weight'");
  }
  LAMINA_CHECK(p.k >= 1, ValueError, kOp, "argument 'k' must be >= 1, got ", p.k);
  LAMINA_CHECK(std::isfinite(p.lr) && p.lr >= 0, ValueError, kOp, "argument 'lr' must be finite and >= 0, got ", p.lr);
  LAMINA_CHECK(std::isfinite(p.momentum) && p.momentum >= 0 && p.momentum < 1, ValueError, kOp,
               "argument 'momentum' must lie in [0, 1), got ", p.momentum);
  LAMINA_CHECK(std::isfinite(p.weight_decay) && p.weight_decay >= 0, ValueError, kOp,
               "argument 'weight_decay' must be finite and >= 0, got ", p.weight_decay);
  for (const Tensor* t : {&weight, &h_bias, &v_bias, &vel_w, &vel_hb, &vel_vb})
    LAMINA_CHECK(!t->shares_storage(v), ValueError, kOp, "argument 'v' must not share memory with the parameters");

  // Reserve the draws in the order the reference takes them.
  const uint64_t M = static_cast<uint64_t>(persistent ? chain.sizes()[0] : v.sizes()[0]);
  const bool f32 = weight.dtype() == DType::Float32;
  auto blocks = [&](uint64_t n, bool gaussian) {
    return gaussian ? normal_blocks(n) : (f32 ? uniform_blocks_f32(n) : uniform_blocks_f64(n));
  };
  const GeneratorState g = default_generator();
  std::vector<uint64_t> offsets;
  for (int64_t s = 0; s < p.k; ++s) {
    offsets.push_back(reserve_blocks(blocks(M * static_cast<uint64_t>(H), p.gaussian_hidden)));
    if (persistent) offsets.push_back(reserve_blocks(blocks(M * static_cast<uint64_t>(V), p.gaussian_visible)));
  }
  for (const Tensor* t : {&weight, &h_bias, &v_bias, &vel_w, &vel_hb, &vel_vb}) t->bump_version();
  if (persistent) chain.bump_version();
  return cpu::rbm_cd_step(v, chain, weight, h_bias, v_bias, vel_w, vel_hb, vel_vb, p, g.seed, offsets);
}

}  // namespace lamina
