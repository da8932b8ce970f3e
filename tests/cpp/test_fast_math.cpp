// The float32 exp and tanh fits of cpu/fast_math.h against double-precision libm, over a dense
// grid of magnitudes from 1e-7 to the clamps and past them, both signs, and at NaN and +-inf. The
// double-precision log, cos and Box-Muller of the normal draws against libm's, on random inputs
// over their whole domains and at the edges of the lanes' values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "core/rng.h"
#include "cpu/fast_math.h"

namespace {

using lamina::cpu::exp_f32;
using lamina::cpu::tanh_f32;
using lamina::cpu::tanh_f32_rational;

// |got - want| in units of the double spacing at |want|.
double ulps64(double got, double want) {
  const double w = std::fabs(want);
  return std::fabs(got - want) / (std::nextafter(w, std::numeric_limits<double>::infinity()) - w);
}

// |got - want| in units of the float spacing at |want|.
double ulps(float got, double want) {
  const float w = static_cast<float>(std::fabs(want));
  const double ulp = static_cast<double>(std::nextafter(w, std::numeric_limits<float>::infinity()) - w);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

// max ulp error of f against tanh over x = +-10^e, e in [-7, 1.3] (past the clamp at 9).
template <typename F>
double tanh_max_ulps(F f, double* worst_x) {
  double worst = 0.0;
  constexpr int kN = 400000;
  for (int i = 0; i <= kN; ++i) {
    const float x = static_cast<float>(std::pow(10.0, -7.0 + 8.3 * i / kN));
    for (const float v : {x, -x}) {
      const double e = ulps(f(v), std::tanh(static_cast<double>(v)));
      if (e > worst) {
        worst = e;
        *worst_x = v;
      }
    }
  }
  return worst;
}

TEST(FastMath, TanhWithinThreeUlps) {
  double at = 0.0;
  EXPECT_LE(tanh_max_ulps([](float x) { return tanh_f32(x); }, &at), 3.0) << "at x = " << at;
}

TEST(FastMath, RationalTanhWithinSixUlps) {
  double at = 0.0;
  EXPECT_LE(tanh_max_ulps([](float x) { return tanh_f32_rational(x); }, &at), 6.0) << "at x = " << at;
  EXPECT_EQ(tanh_f32_rational(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(tanh_f32_rational(std::numeric_limits<float>::quiet_NaN())));
  const float inf = std::numeric_limits<float>::infinity();
  // Saturates 3 ulp below 1 (the clamp at 7.9).
  EXPECT_NEAR(tanh_f32_rational(inf), 1.0f, 2e-7f);
  EXPECT_NEAR(tanh_f32_rational(-inf), -1.0f, 2e-7f);
  EXPECT_NEAR(tanh_f32_rational(1e30f), 1.0f, 2e-7f);
  // Odd, and monotone across the clamp.
  for (float x : {1e-3f, 0.3f, 1.7f, 7.8f, 8.9f}) EXPECT_EQ(tanh_f32_rational(-x), -tanh_f32_rational(x));
  EXPECT_LE(tanh_f32_rational(7.85f), tanh_f32_rational(7.9f));
  EXPECT_LE(tanh_f32_rational(7.9f), tanh_f32_rational(9.5f));
  // Never above 1 in magnitude (unclamped, the rounding of x P / Q exceeds 1 from about 7.99 on).
  // Every float in [6, 12], where tanh is within 1e-5 of 1: below 6 the error cannot reach 1.
  float worst = 0.0f;
  for (float x = 6.0f; x <= 12.0f; x = std::nextafter(x, 13.0f)) worst = std::max(worst, std::fabs(tanh_f32_rational(x)));
  EXPECT_LE(worst, 1.0f);
}

TEST(FastMath, ExpWithinTwoUlps) {
  double worst = 0.0, at = 0.0;
  constexpr int kN = 400000;
  for (int i = 0; i <= kN; ++i) {
    const float x = static_cast<float>(-87.0 + 175.0 * i / kN);
    const double e = ulps(exp_f32(x), std::exp(static_cast<double>(x)));
    if (e > worst) {
      worst = e;
      at = x;
    }
  }
  EXPECT_LE(worst, 2.0) << "at x = " << at;
  EXPECT_EQ(exp_f32(-100.0f), 0.0f);
  EXPECT_TRUE(std::isinf(exp_f32(100.0f)));
  EXPECT_TRUE(std::isnan(exp_f32(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace

TEST(FastMath, LogF64WithinTwoUlps) {
  // x = 2^-e (1 + m), every exponent the radius meets (u1 in [2^-53, 1]), random mantissas.
  std::mt19937_64 g(21);
  double worst = 0.0, at = 0.0;
  for (int i = 0; i < 1000000; ++i) {
    const double x = std::min(1.0, std::ldexp(1.0 + static_cast<double>(g() >> 12) * 0x1p-52, -static_cast<int>(g() % 54)));
    const double want = std::log(x);
    const double got = lamina::cpu::log_f64_positive(x);
    const double e = x == 1.0 ? std::fabs(got) : ulps64(got, want);
    if (e > worst) {
      worst = e;
      at = x;
    }
  }
  EXPECT_LE(worst, 2.0) << "at x = " << at;
  EXPECT_EQ(lamina::cpu::log_f64_positive(1.0), 0.0);
  // Around the switch of the mantissa at sqrt(2), and at the ends of the radius' range.
  for (double x : {0x1.6a09e667f3bcdp+0 / 2, std::nextafter(0x1.6a09e667f3bcdp+0 / 2, 1.0), 0.5, 0x1p-53, 1.0 - 0x1p-53})
    EXPECT_LE(ulps64(lamina::cpu::log_f64_positive(x), std::log(x)), 2.0) << x;
}

TEST(FastMath, CosF64WithinOneUlp) {
  // The angle 2 pi u for u = k 2^-53 in [0, 1), and next to the multiples of pi/2, where the
  // result is small and only an accurate reduction keeps its relative error.
  std::mt19937_64 g(22);
  double worst = 0.0, at = 0.0;
  auto check = [&](double x) {
    const double e = ulps64(lamina::cpu::cos_f64_small(x), std::cos(x));
    if (e > worst) {
      worst = e;
      at = x;
    }
  };
  for (int i = 0; i < 1000000; ++i) check(6.283185307179586 * (static_cast<double>(g() >> 11) * 0x1p-53));
  for (int k = 0; k <= 4; ++k) {
    double x = 6.283185307179586 * (0.25 * k);
    for (int j = 0; j < 40; ++j, x = std::nextafter(x, 0.0)) check(x);
  }
  EXPECT_LE(worst, 1.0) << "at x = " << at;
  EXPECT_EQ(lamina::cpu::cos_f64_small(0.0), 1.0);
}

TEST(FastMath, BoxMullerF64MatchesLibm) {
  // Random Philox-like lanes: within 4 ulp of double of core/rng.h's box_muller (libm log and
  // cos), the same float32 value every time; and every combination of edge lanes (u1 = 1 and 2^-53,
  // u2 = 0 and next to 1/4, 1/2, 3/4 and 1).
  std::mt19937_64 g(23);
  double worst = 0.0, at = 0.0;
  int float_differs = 0;
  for (int i = 0; i < 1000000; ++i) {
    const uint64_t r1 = g(), r2 = g();
    const uint32_t a = static_cast<uint32_t>(r1), b = static_cast<uint32_t>(r1 >> 32);
    const uint32_t c = static_cast<uint32_t>(r2), d = static_cast<uint32_t>(r2 >> 32);
    const double want = lamina::box_muller(a, b, c, d), got = lamina::cpu::box_muller_f64(a, b, c, d);
    const double e = ulps64(got, want);
    if (e > worst) {
      worst = e;
      at = want;
    }
    float_differs += static_cast<float>(got) != static_cast<float>(want);
  }
  EXPECT_LE(worst, 4.0) << "at z = " << at;
  EXPECT_EQ(float_differs, 0);
  const uint32_t edges[] = {0u, 1u, 0x7ffu, 0x800u, 0x3fffffffu, 0x40000000u, 0x7fffffffu, 0x80000000u,
                            0xbfffffffu, 0xc0000000u, 0xffffffffu};
  for (uint32_t a : edges)
    for (uint32_t b : edges)
      for (uint32_t c : edges)
        for (uint32_t d : edges) {
          const double want = lamina::box_muller(a, b, c, d), got = lamina::cpu::box_muller_f64(a, b, c, d);
          if (want == 0.0) EXPECT_EQ(got, 0.0) << a << " " << b << " " << c << " " << d;
          else EXPECT_LE(ulps64(got, want), 4.0) << a << " " << b << " " << c << " " << d;
        }
}
