// Branch-free float32 exp and tanh for the CPU kernels (activations, LSTM/GRU/RNN gates), so the
// loops calling them vectorise: Cephes' fits, exp within 2 ulp of expf (0 below -87.33, no
// denormals; inf above 88.72; NaN for NaN), tanh within 3 ulp (+-1 for large |x|). And the
// double-precision Box-Muller transform of the normal draws (box_muller_f64), branch-free too.
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

// ---------------------------------------------------------------- double precision: Box-Muller
// core/rng.h defines a normal draw as sqrt(-2 log u1) cos(2 pi u2) in double precision, which
// CUDA evaluates with its device log and cos. On the CPU glibc's log and cos cost some 100 cycles
// an element and keep the loop scalar; the functions below compute the same expression with
// plain multiplies, adds and selects that the compiler vectorises, within a few ulp of double
// (tests/cpp/test_fast_math.cpp measures it against libm): float32 draws are the same numbers, and
// float64 draws agree with libm's (and CUDA's) to about 1e-15. Taylor series throughout, cut
// where the next term is below 2^-55 of the result; no fitted coefficients. A loop calling
// box_muller_f64 vectorises only in a file compiled with -fno-math-errno (CMakeLists.txt sets it
// for the callers): otherwise GCC keeps a branch to libm's sqrt after every square root, to set
// errno for negative arguments, and no #pragma turns that off.

[[gnu::always_inline]] inline uint64_t f64_bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, 8);
  return b;
}
[[gnu::always_inline]] inline double f64_from_bits(uint64_t b) {
  double x;
  std::memcpy(&x, &b, 8);
  return x;
}

// log(x) for a positive normal double x (the radius takes x in [2^-53, 1]). x = 2^e m with m in
// (sqrt(1/2), sqrt(2)], log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.1716: 2 s (1 + s^2/3 +
// ... + s^18/19), the next term (s^20/21) below 2^-55. e log 2 in two parts (ln2_hi has 32
// significant bits, so e ln2_hi is exact).
[[gnu::always_inline]] inline double log_f64_positive(double x) {
  const uint64_t b = f64_bits(x);
  const double two52 = 4503599627370496.0;
  // The exponent field as a double: 2^52 + field, exactly, through the mantissa bits.
  const double e1 = (f64_from_bits((b >> 52) | 0x4330000000000000ull) - two52) - 1023.0;
  const double m1 = f64_from_bits((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  const bool big = m1 > 0x1.6a09e667f3bcdp+0;  // sqrt(2)
  const double m = big ? m1 * 0.5 : m1;
  const double e = big ? e1 + 1.0 : e1;
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  double p = 1.0 / 19.0;
  p = p * z + 1.0 / 17.0;
  p = p * z + 1.0 / 15.0;
  p = p * z + 1.0 / 13.0;
  p = p * z + 1.0 / 11.0;
  p = p * z + 1.0 / 9.0;
  p = p * z + 1.0 / 7.0;
  p = p * z + 1.0 / 5.0;
  p = p * z + 1.0 / 3.0;
  const double t = s + s;
  const double log_m = t + t * (z * p);
  return e * 0x1.62e42feep-1 + (log_m + e * 0x1.a39ef35793c76p-33);  // e ln2_hi + (log m + e ln2_lo)
}

// cos(x) for x in [0, 7] (the angle 2 pi u2 < 2 pi): x = k pi/2 + r with |r| <= pi/4 (Cody and
// Waite: pi/2 in three parts, the first two with 33 significant bits, so k times them is exact
// and x - k P1 is exact by Sterbenz), then +-cos r or +-sin r by k mod 4. Taylor series in r^2 up
// to r^16 (cos) and r^17 (sin).
[[gnu::always_inline]] inline double cos_f64_small(double x) {
  const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double kt = x * 0x1.45f306dc9c883p-1 + magic;  // x * 2/pi
  const double k = kt - magic;
  const uint64_t q = f64_bits(kt) & 3;  // k mod 4, from the mantissa's low bits
  const double r = ((x - k * 0x1.921fb544p+0) - k * 0x1.0b4611a6p-34) - k * 0x1.3198a2e037073p-69;
  const double z = r * r;
  double c = 1.0 / 20922789888000.0;  // 1/16!
  c = c * z - 1.0 / 87178291200.0;    // 1/14!
  c = c * z + 1.0 / 479001600.0;      // 1/12!
  c = c * z - 1.0 / 3628800.0;        // 1/10!
  c = c * z + 1.0 / 40320.0;          // 1/8!
  c = c * z - 1.0 / 720.0;
  c = c * z + 1.0 / 24.0;
  c = c * z - 0.5;
  c = c * z + 1.0;
  double sn = 1.0 / 355687428096000.0;  // 1/17!
  sn = sn * z - 1.0 / 1307674368000.0;  // 1/15!
  sn = sn * z + 1.0 / 6227020800.0;     // 1/13!
  sn = sn * z - 1.0 / 39916800.0;       // 1/11!
  sn = sn * z + 1.0 / 362880.0;         // 1/9!
  sn = sn * z - 1.0 / 5040.0;
  sn = sn * z + 1.0 / 120.0;
  sn = sn * z - 1.0 / 6.0;
  sn = r + r * (z * sn);
  // k mod 4 = 0, 1, 2, 3: cos r, -sin r, -cos r, sin r.
  const double v = (q & 1) ? sn : c;
  return f64_from_bits(f64_bits(v) ^ (((q + 1) & 2) << 62));
}

// A standard normal from one Philox block's four 32-bit lanes, as core/rng.h's box_muller:
// u1 = 1 - uniform_double(a, b) in (0, 1], u2 = uniform_double(c, d), sqrt(-2 log u1) cos(2 pi u2).
// uniform_double(a, b) = (a 2^21 + (b >> 11)) 2^-53 is formed exactly from the two halves as
// doubles (the 32-bit integers pass through the mantissa bits, as AVX2 has no conversion of
// unsigned or 64-bit integers to double).
[[gnu::always_inline]] inline double u32_to_f64(uint32_t v) {
  return f64_from_bits(static_cast<uint64_t>(v) | 0x4330000000000000ull) - 4503599627370496.0;
}
[[gnu::always_inline]] inline double uniform_f64_exact(uint32_t a, uint32_t b) {
  return u32_to_f64(a) * 0x1p-32 + u32_to_f64(b >> 11) * 0x1p-53;
}
[[gnu::always_inline]] inline double box_muller_f64(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  const double u1 = 1.0 - uniform_f64_exact(a, b);
  const double u2 = uniform_f64_exact(c, d);
  return std::sqrt(-2.0 * log_f64_positive(u1)) * cos_f64_small(6.283185307179586 * u2);
}

}  // namespace
}  // namespace lamina::cpu
