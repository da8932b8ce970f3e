// Branch-free float32 exp and tanh for the CPU kernels (activations, LSTM/GRU/RNN gates), so the
// loops calling them vectorise: Cephes' fits, exp within 2 ulp of expf (0 below -87.33, no
// denormals; inf above 88.72; NaN for NaN), tanh within 3 ulp (+-1 for large |x|).
//
// Include it first among a kernel file's own code: it turns on -fno-trapping-math for the rest
// of the file (GCC otherwise keeps the float comparisons below as branches, which stops
// vectorisation; no kernel relies on floating-point exceptions).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace lamina::cpu {
namespace {

// exp(x) for x clamped to [-87.34, 88.38] (NaN stays NaN): the smallest normal float below the
// range, about 2.7e38 above it. For callers that only add it to or divide by it (sigmoid, tanh),
// where the clamped values give the same results as the true ones, at a third less work.
[[gnu::always_inline]] inline float exp_f32_clamped(float x) {
  const float hi = 88.3762626647950f, lo = -87.3365478515625f;
  float xc = x < lo ? lo : x;  // a comparison with NaN is false: NaN passes both clamps
  xc = xc > hi ? hi : xc;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  int32_t ti, mi;
  std::memcpy(&ti, &t, 4);
  std::memcpy(&mi, &magic, 4);
  const int32_t ni = ti - mi;
  float r = xc - n * 0.693359375f;  // x = n ln2 + r, |r| <= ln2 / 2
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;  // degree-6 polynomial for exp(r)
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (ni + 127) << 23;  // 2^n through the exponent bits
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;  // NaN: p is NaN whatever the scale
}

[[gnu::always_inline]] inline float exp_f32(float x) {
  float e = exp_f32_clamped(x);
  e = x < -87.3365478515625f ? 0.0f : e;
  return x > 88.7228317f ? std::numeric_limits<float>::infinity() : e;
}

// An odd polynomial below |x| = 0.625, 1 - 2 / (exp(2|x|) + 1) above.
[[gnu::always_inline]] inline float tanh_f32(float x) {
  const float z = x < 0.0f ? -x : x;
  const float z2 = x * x;
  float p = -5.70498872745e-3f;
  p = p * z2 + 2.06390887954e-2f;
  p = p * z2 - 5.37397155531e-2f;
  p = p * z2 + 1.33314422036e-1f;
  p = p * z2 - 3.33332819422e-1f;
  const float small = p * z2 * x + x;
  const float big = 1.0f - 2.0f / (exp_f32_clamped(z + z) + 1.0f);
  const float r = x < 0.0f ? -big : big;
  return z < 0.625f ? small : r;
}

// tanh for the recurrent cells' gate passes (LSTM, GRU, RNN): x P(x^2) / Q(x^2), a (5, 3) rational
// minimax fit of tanh(x) / x in x^2 on |x| <= 9 (relative error 5.9e-8 before rounding;
// scripts/fit_tanh.py derives the coefficients), with x clamped to +-7.9, where it gives 1 - 1.8e-7
// (3 ulp below 1; tanh(7.9) = 1 - 2.8e-7): further out, the few ulp of rounding in x P / Q would
// take it above 1. Never above 1 in magnitude; NaN stays NaN.
// In float32 it is within 5.4 ulp (3.3e-7 absolute) of tanh, against tanh_f32's 1.3 ulp, at less
// than half the cost (11 against 25 cycles per 8 lanes on Zen 3, no exp and one division): the gate
// passes spend most of their time in their nonlinearities. nn.Tanh keeps tanh_f32.
[[gnu::always_inline]] inline float tanh_f32_rational(float x) {
  const float lim = 7.9f;  // past about 7.99 the rounding of x P / Q can exceed 1
  float xc = x < -lim ? -lim : x;  // a comparison with NaN is false: NaN passes both clamps
  xc = xc > lim ? lim : xc;
  const float t = xc * xc;
  float p = 1.825527357e-11f;
  p = p * t - 1.278045136e-08f;
  p = p * t + 9.267424512e-06f;
  p = p * t + 2.920762242e-03f;
  p = p * t + 1.291922883e-01f;
  p = p * t + 9.999999412e-01f;
  float q = 2.281002550e-04f;
  q = q * t + 2.376317035e-02f;
  q = q * t + 4.625251270e-01f;
  q = q * t + 1.0f;
  return xc * p / q;
}

// The gates' nonlinearities: the fits above for float32, libm for float64.
template <typename T>
[[gnu::always_inline]] inline T vsigmoid(T x) {
  if constexpr (std::is_same_v<T, float>) return 1.0f / (1.0f + exp_f32_clamped(-x));
  else return T(1) / (T(1) + std::exp(-x));
}

}  // namespace
}  // namespace lamina::cpu
