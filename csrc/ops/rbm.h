// One fused contrastive-divergence update (CD-k, or persistent CD-k) of a restricted Boltzmann
// machine, as in Hinton's "A Practical Guide to Training Restricted Boltzmann Machines"
// (UTML TR 2010-003). Python's lamina.pretrain.RBM._cd_step_reference is the same update written
// with tensor ops; both draw the same random numbers in the same order.
//
// Shapes: N batch rows, M chain rows (M = N for CD; the persistent chain's rows for PCD),
// V visible units, H hidden units. weight (H, V) as nn.Linear, h_bias (H), v_bias (V).
//
//   h0 = E[h | v0]                                   positive statistics (probabilities)
//   chain: CD starts at v0 (hidden mean h0), PCD at the persistent chain
//   k times:  hs ~ h | chain          (draw: M*H uniforms, or normals for Gaussian hidden units)
//             vk = E[v | hs]          (PCD: vk ~ v | hs, a second draw of M*V)
//             hk = E[h | vk]
//   vel_w = momentum * vel_w + lr * (h0^T v0 / N - hk^T vk / M - weight_decay * weight)
//   vel_hb = momentum * vel_hb + lr * (mean(h0) - mean(hk)),  vel_vb likewise with v0, vk
//   weight += vel_w, h_bias += vel_hb, v_bias += vel_vb;  PCD: chain = vk
//
// The random draws are taken from the default generator in the order: step 0 hidden, (PCD: step
// 0 visible), step 1 hidden, ...; draw d uses element i of the stream at (seed, offset_d, i) as
// lamina.rand / lamina.randn would (uniform: u < p gives 1). Returns the batch's reconstruction
// error, sum((v0 - v1)^2) / N with v1 the first reconstruction of the CD chain, or with
// v1 = E[v | h0] for PCD.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace lamina {

struct RbmStep {
  double lr, momentum, weight_decay;
  int64_t k;
  bool gaussian_visible, gaussian_hidden;
};

// chain: an undefined tensor for CD, the (M, V) persistent chain (updated in place) for PCD.
// weight, h_bias, v_bias and the three velocities are updated in place.
double rbm_cd_step(const Tensor& v, const Tensor& chain, const Tensor& weight, const Tensor& h_bias,
                   const Tensor& v_bias, const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb,
                   const RbmStep& p);

// Kernel contract: arguments checked, contiguous, one dtype (float32 or float64), on the CPU;
// offsets[d] is the stream offset of draw d (k draws for CD, 2k for PCD, in the order above).
namespace cpu {
double rbm_cd_step(const Tensor& v, const Tensor& chain, const Tensor& weight, const Tensor& h_bias,
                   const Tensor& v_bias, const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb,
                   const RbmStep& p, uint64_t seed, const std::vector<uint64_t>& offsets);
// Tests: run the plain (baseline x86-64) build of the activation and sampling pass even where
// AVX2+FMA is available.
void rbm_force_portable(bool on);
}  // namespace cpu

}  // namespace lamina
