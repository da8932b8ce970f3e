// The float32 exp and tanh fits of cpu/fast_math.h against double-precision libm, over a dense
// grid of magnitudes from 1e-7 to the clamps and past them, both signs, and at NaN and +-inf.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/fast_math.h"

namespace {

using lamina::cpu::exp_f32;
using lamina::cpu::tanh_f32;
using lamina::cpu::tanh_f32_rational;

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
