// Ops against naive reference loops: elementwise (binary, unary, clamp, where), copy/fill/arange/cat,
// reductions, max/argmax, sum_to_size, matmul, and thread-count independence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "core/parallel.h"
#include "ops/copy.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::at;
using test::broadcast_index;
using test::close;
using test::contains;
using test::expect_throw_msg;
using test::from_vec;
using test::random_tensor;
using test::starts_with;
using test::to_vec;
using test::unravel;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

template <typename T>
constexpr double rtol_for() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

// A transposed (non-contiguous) view with logical shape `sizes` (2-D or more: last two dims swapped).
template <typename T>
Tensor random_transposed(const Shape& sizes, std::mt19937& rng, double lo = -2.0, double hi = 2.0) {
  Shape s = sizes;
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Tensor t = random_tensor<T>(s, rng, lo, hi).transpose(-1, -2);
  EXPECT_EQ(t.sizes(), sizes);
  EXPECT_FALSE(t.is_contiguous());
  return t;
}

// Checks binary(op, a, b) element by element against ref(x, y), broadcast naively.
template <typename T, typename R, typename F>
void check_binary(BinaryOp op, const Tensor& a, const Tensor& b, const F& ref, double rtol = 0.0) {
  SCOPED_TRACE(std::string(binary_op_name(op)) + " " + dtype_name(a.dtype()));
  const Tensor out = binary(op, a, b);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), "ref");
  ASSERT_EQ(out.sizes(), shape);
  ASSERT_EQ(out.dtype(), DTypeOf<R>::value);
  ASSERT_TRUE(out.is_contiguous());
  const R* po = out.data<R>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    const Shape idx = unravel(i, shape);
    const T x = at<T>(a, broadcast_index(idx, a.sizes()));
    const T y = at<T>(b, broadcast_index(idx, b.sizes()));
    const R want = ref(x, y);
    if constexpr (std::is_floating_point_v<R>) {
      ASSERT_TRUE(close(po[i], want, rtol)) << "element " << i << ": x=" << x << " y=" << y;
    } else {
      ASSERT_EQ(po[i], want) << "element " << i << ": x=" << x << " y=" << y;
    }
  }
}

struct ShapePair {
  Shape a, b;
};
const std::vector<ShapePair> kBroadcastPairs = {
    {{3, 1, 5}, {4, 1}}, {{2, 3, 7}, {7}}, {{1}, {3, 5}}, {{}, {7}}, {{5, 1, 3}, {1, 6, 1}}, {{9}, {9}},
};

// ---------------------------------------------------------------------------------------------
// binary
// ---------------------------------------------------------------------------------------------

template <typename T>
void float_binary_suite() {
  std::mt19937 rng(11);
  for (const auto& sp : kBroadcastPairs) {
    const Tensor a = random_tensor<T>(sp.a, rng), b = random_tensor<T>(sp.b, rng);
    check_binary<T, T>(BinaryOp::Add, a, b, [](T x, T y) { return T(x + y); });
    check_binary<T, T>(BinaryOp::Sub, a, b, [](T x, T y) { return T(x - y); });
    check_binary<T, T>(BinaryOp::Mul, a, b, [](T x, T y) { return T(x * y); });
    check_binary<T, T>(BinaryOp::Div, a, b, [](T x, T y) { return T(x / y); });
    check_binary<T, T>(BinaryOp::Maximum, a, b, [](T x, T y) { return std::max(x, y); });
    check_binary<T, T>(BinaryOp::Minimum, a, b, [](T x, T y) { return std::min(x, y); });
    const Tensor pa = random_tensor<T>(sp.a, rng, 0.1, 3.0);
    check_binary<T, T>(BinaryOp::Pow, pa, b, [](T x, T y) { return T(std::pow(double(x), double(y))); },
                       rtol_for<T>() * 4);
  }
}

TEST(Binary, Float32ArithmeticBroadcast) { float_binary_suite<float>(); }
TEST(Binary, Float64ArithmeticBroadcast) { float_binary_suite<double>(); }

TEST(Binary, NonContiguousOperands) {
  std::mt19937 rng(12);
  const Tensor a = random_transposed<float>({5, 7}, rng);
  const Tensor b = random_tensor<float>({7}, rng);
  check_binary<float, float>(BinaryOp::Add, a, b, [](float x, float y) { return x + y; });
  check_binary<float, float>(BinaryOp::Mul, b, a, [](float x, float y) { return x * y; });
  const Tensor c = random_transposed<float>({5, 7}, rng);
  check_binary<float, float>(BinaryOp::Sub, a, c, [](float x, float y) { return x - y; });
  const Tensor d = random_tensor<float>({3, 20}, rng).slice(1, 1, 20, 3);  // [3, 7], stride 3
  check_binary<float, float>(BinaryOp::Div, d, a.narrow(0, 1, 3), [](float x, float y) { return x / y; });
}

TEST(Binary, Int64Arithmetic) {
  std::mt19937 rng(13);
  for (const auto& sp : kBroadcastPairs) {
    const Tensor a = random_tensor<int64_t>(sp.a, rng, -50, 50), b = random_tensor<int64_t>(sp.b, rng, -9, 9);
    using I = int64_t;
    check_binary<I, I>(BinaryOp::Add, a, b, [](I x, I y) { return x + y; });
    check_binary<I, I>(BinaryOp::Sub, a, b, [](I x, I y) { return x - y; });
    check_binary<I, I>(BinaryOp::Mul, a, b, [](I x, I y) { return x * y; });
    check_binary<I, I>(BinaryOp::Maximum, a, b, [](I x, I y) { return std::max(x, y); });
    check_binary<I, I>(BinaryOp::Minimum, a, b, [](I x, I y) { return std::min(x, y); });
    // Python semantics through an independent formula: floor of the exact quotient.
    check_binary<I, I>(BinaryOp::FloorDiv, a, b,
                       [](I x, I y) { return static_cast<I>(std::floor(double(x) / double(y))); });
    check_binary<I, I>(BinaryOp::Remainder, a, b,
                       [](I x, I y) { return x - y * static_cast<I>(std::floor(double(x) / double(y))); });
    const Tensor e = random_tensor<int64_t>(sp.b, rng, 1, 6);
    check_binary<I, I>(BinaryOp::Pow, a, e, [](I x, I y) {
      I r = 1;
      for (I k = 0; k < y; ++k) r *= x;
      return r;
    });
  }
}

TEST(Binary, Int64FloorDivRemainderPythonTable) {
  // Every sign combination, exact and inexact quotients, and the -1 divisor.
  std::vector<int64_t> av, bv;
  for (int64_t x = -7; x <= 7; ++x)
    for (int64_t y : {-3, -2, -1, 1, 2, 3}) {
      av.push_back(x);
      bv.push_back(y);
    }
  const Shape s{static_cast<int64_t>(av.size())};
  const Tensor q = binary(BinaryOp::FloorDiv, from_vec<int64_t>(s, av), from_vec<int64_t>(s, bv));
  const Tensor r = binary(BinaryOp::Remainder, from_vec<int64_t>(s, av), from_vec<int64_t>(s, bv));
  for (size_t i = 0; i < av.size(); ++i) {
    const int64_t x = av[i], y = bv[i];
    const int64_t qi = q.data<int64_t>()[i], ri = r.data<int64_t>()[i];
    EXPECT_EQ(qi * y + ri, x) << x << " // " << y;
    EXPECT_TRUE(ri == 0 || (ri < 0) == (y < 0)) << x << " % " << y << " = " << ri;
    EXPECT_LT(std::abs(ri), std::abs(y)) << x << " % " << y;
  }
  // Spot values from Python.
  auto fd = [](int64_t x, int64_t y) {
    return binary(BinaryOp::FloorDiv, from_vec<int64_t>({1}, {x}), from_vec<int64_t>({1}, {y})).data<int64_t>()[0];
  };
  auto rm = [](int64_t x, int64_t y) {
    return binary(BinaryOp::Remainder, from_vec<int64_t>({1}, {x}), from_vec<int64_t>({1}, {y})).data<int64_t>()[0];
  };
  EXPECT_EQ(fd(-7, 2), -4);
  EXPECT_EQ(rm(-7, 2), 1);
  EXPECT_EQ(fd(7, -2), -4);
  EXPECT_EQ(rm(7, -2), -1);
  EXPECT_EQ(fd(-7, -2), 3);
  EXPECT_EQ(rm(-7, -2), -1);
  EXPECT_EQ(fd(-6, 3), -2);
  EXPECT_EQ(rm(-6, 3), 0);
  EXPECT_EQ(fd(5, -1), -5);
  EXPECT_EQ(rm(5, -1), 0);
}

TEST(Binary, FloatFloorDivRemainderPythonSemantics) {
  struct Row {
    double a, b, q, r;  // from CPython: a // b, a % b
  };
  const Row rows[] = {
      {7.0, 2.0, 3.0, 1.0},        {-7.0, 2.0, -4.0, 1.0},     {7.0, -2.0, -4.0, -1.0},
      {-7.0, -2.0, 3.0, -1.0},     {5.25, 0.75, 7.0, 0.0},     {-0.5, 2.0, -1.0, 1.5},
      {0.5, -2.0, -1.0, -1.5},     {-7.5, 2.0, -4.0, 0.5},     {7.5, -0.25, -30.0, 0.0},
      {1.0, 0.1, 9.0, 0.09999999999999995},  // not floor(1 / 0.1) = 10
      {-1.0, 0.1, -10.0, 5.551115123125783e-17},
  };
  std::vector<double> av, bv;
  for (const auto& r : rows) {
    av.push_back(r.a);
    bv.push_back(r.b);
  }
  const Shape s{static_cast<int64_t>(av.size())};
  const Tensor a = from_vec<double>(s, av), b = from_vec<double>(s, bv);
  const auto q = to_vec<double>(binary(BinaryOp::FloorDiv, a, b));
  const auto r = to_vec<double>(binary(BinaryOp::Remainder, a, b));
  for (size_t i = 0; i < av.size(); ++i) {
    EXPECT_EQ(q[i], rows[i].q) << rows[i].a << " // " << rows[i].b;
    EXPECT_NEAR(r[i], rows[i].r, 1e-15) << rows[i].a << " % " << rows[i].b;
  }
  // Float division by zero gives IEEE results (as torch), not an error.
  const auto z = to_vec<double>(binary(BinaryOp::FloorDiv, from_vec<double>({3}, {1.0, -1.0, 0.0}),
                                       from_vec<double>({1}, {0.0})));
  EXPECT_EQ(z[0], kInf);
  EXPECT_EQ(z[1], -kInf);
  EXPECT_TRUE(std::isnan(z[2]));
  // float32 too, broadcast against a scalar tensor.
  const auto qf = to_vec<float>(binary(BinaryOp::FloorDiv, from_vec<float>({4}, {-7.f, 7.f, -0.5f, 3.f}),
                                        from_vec<float>({}, {2.f})));
  EXPECT_EQ(qf, (std::vector<float>{-4.f, 3.f, -1.f, 1.f}));
  const auto rf = to_vec<float>(binary(BinaryOp::Remainder, from_vec<float>({4}, {-7.f, 7.f, -0.5f, 3.f}),
                                        from_vec<float>({}, {-2.f})));
  EXPECT_EQ(rf, (std::vector<float>{-1.f, -1.f, -0.5f, -1.f}));
}

TEST(Binary, RandomFloatFloorDivRemainder) {
  std::mt19937 rng(14);
  const Tensor a = random_tensor<double>({7, 9}, rng, -20, 20);
  const Tensor b = random_tensor<double>({9}, rng, -3, 3);
  const Tensor q = binary(BinaryOp::FloorDiv, a, b), r = binary(BinaryOp::Remainder, a, b);
  for (int64_t i = 0; i < 63; ++i) {
    const double x = a.data<double>()[i], y = b.data<double>()[i % 9];
    const double exact = x / y;
    if (std::fabs(exact - std::round(exact)) < 1e-9) continue;  // too close to call
    EXPECT_EQ(q.data<double>()[i], std::floor(exact)) << x << " // " << y;
    const double ri = r.data<double>()[i];
    EXPECT_TRUE(close(ri, x - y * std::floor(exact), 1e-12, 1e-12)) << x << " % " << y;
    EXPECT_TRUE(ri == 0 || (ri < 0) == (y < 0)) << x << " % " << y;
  }
}

TEST(Binary, IntegerDivisionByZeroThrows) {
  const Tensor a = from_vec<int64_t>({3}, {1, 2, 3});
  const Tensor b = from_vec<int64_t>({3}, {1, 0, 2});
  const std::string m = expect_throw_msg<ValueError>([&] { binary(BinaryOp::FloorDiv, a, b); });
  EXPECT_TRUE(starts_with(m, "lamina.floor_divide: ")) << m;
  EXPECT_THROW(binary(BinaryOp::Remainder, a, b), ValueError);
  EXPECT_THROW(binary(BinaryOp::FloorDiv, a, from_vec<int64_t>({}, {0})), ValueError);  // broadcast zero
  Tensor c = from_vec<int64_t>({3}, {4, 5, 6});
  EXPECT_THROW(binary_inplace(BinaryOp::FloorDiv, c, b), ValueError);
  EXPECT_EQ(to_vec<int64_t>(c), (std::vector<int64_t>{4, 5, 6}));  // nothing written
  EXPECT_THROW(binary(BinaryOp::Pow, a, from_vec<int64_t>({1}, {-1})), ValueError);
}

TEST(Binary, MaximumMinimumPropagateNaN) {
  for (bool f32 : {false, true}) {
    const std::vector<double> x{1.0, kNaN, 3.0, kNaN, -0.5};
    const std::vector<double> y{kNaN, 2.0, 1.0, kNaN, 4.0};
    auto run = [&](BinaryOp op) {
      if (f32) {
        std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
        auto r = to_vec<float>(binary(op, from_vec<float>({5}, xf), from_vec<float>({5}, yf)));
        return std::vector<double>(r.begin(), r.end());
      }
      return to_vec<double>(binary(op, from_vec<double>({5}, x), from_vec<double>({5}, y)));
    };
    const auto mx = run(BinaryOp::Maximum), mn = run(BinaryOp::Minimum);
    EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]) && std::isnan(mx[3]));
    EXPECT_EQ(mx[2], 3.0);
    EXPECT_EQ(mx[4], 4.0);
    EXPECT_TRUE(std::isnan(mn[0]) && std::isnan(mn[1]) && std::isnan(mn[3]));
    EXPECT_EQ(mn[2], 1.0);
    EXPECT_EQ(mn[4], -0.5);
  }
}

TEST(Binary, ComparisonsGiveBool) {
  std::mt19937 rng(15);
  for (const auto& sp : kBroadcastPairs) {
    // Few distinct values so that equality happens, plus a NaN.
    Tensor a = random_tensor<int64_t>(sp.a, rng, -2, 2);
    Tensor b = random_tensor<int64_t>(sp.b, rng, -2, 2);
    using I = int64_t;
    check_binary<I, bool>(BinaryOp::Eq, a, b, [](I x, I y) { return x == y; });
    check_binary<I, bool>(BinaryOp::Ne, a, b, [](I x, I y) { return x != y; });
    check_binary<I, bool>(BinaryOp::Lt, a, b, [](I x, I y) { return x < y; });
    check_binary<I, bool>(BinaryOp::Le, a, b, [](I x, I y) { return x <= y; });
    check_binary<I, bool>(BinaryOp::Gt, a, b, [](I x, I y) { return x > y; });
    check_binary<I, bool>(BinaryOp::Ge, a, b, [](I x, I y) { return x >= y; });
    Tensor fa = Tensor::empty(a.sizes(), DType::Float32), fb = Tensor::empty(b.sizes(), DType::Float32);
    copy_(fa, a);
    copy_(fb, b);
    fa.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
    check_binary<float, bool>(BinaryOp::Eq, fa, fb, [](float x, float y) { return x == y; });
    check_binary<float, bool>(BinaryOp::Ne, fa, fb, [](float x, float y) { return x != y; });
    check_binary<float, bool>(BinaryOp::Lt, fa, fb, [](float x, float y) { return x < y; });
    check_binary<float, bool>(BinaryOp::Ge, fa, fb, [](float x, float y) { return x >= y; });
  }
  const Tensor t = from_vec<bool>({4}, {true, true, false, false}), u = from_vec<bool>({4}, {true, false, true, false});
  EXPECT_EQ(to_vec<bool>(binary(BinaryOp::LogicalAnd, t, u)), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(to_vec<bool>(binary(BinaryOp::LogicalOr, t, u)), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(to_vec<bool>(binary(BinaryOp::Eq, t, u)), (std::vector<bool>{true, false, false, true}));
}

TEST(Binary, TypeAndShapeErrors) {
  const Tensor f = from_vec<float>({3}, {1, 2, 3});
  const Tensor d = from_vec<double>({3}, {1, 2, 3});
  const Tensor i = from_vec<int64_t>({3}, {1, 2, 3});
  const Tensor b = from_vec<bool>({3}, {true, false, true});
  EXPECT_THROW(binary(BinaryOp::Add, f, d), TypeError);
  EXPECT_THROW(binary(BinaryOp::Div, i, i), TypeError);
  EXPECT_THROW(binary(BinaryOp::Add, b, b), TypeError);
  EXPECT_THROW(binary(BinaryOp::Add, f, Tensor()), ValueError);
  const std::string m = expect_throw_msg<ValueError>([&] { binary(BinaryOp::Add, f, from_vec<float>({2}, {1, 2})); });
  EXPECT_TRUE(starts_with(m, "lamina.add: ")) << m;
  EXPECT_TRUE(contains(m, "[3]") && contains(m, "[2]")) << m;
  const Tensor h = Tensor::empty({3}, DType::Float16);
  EXPECT_THROW(binary(BinaryOp::Add, h, h), TypeError);
}

TEST(Binary, InplaceIntoStridedViewWithBroadcast) {
  std::mt19937 rng(16);
  Tensor base = random_tensor<double>({7, 5}, rng);
  const std::vector<double> before = to_vec<double>(base);
  Tensor out = base.transpose(0, 1);  // [5, 7]
  const Tensor b = random_tensor<double>({7}, rng);
  const int64_t v0 = out.version();
  binary_inplace(BinaryOp::Mul, out, b);
  EXPECT_GT(out.version(), v0);
  for (int64_t r = 0; r < 7; ++r)
    for (int64_t c = 0; c < 5; ++c)
      ASSERT_EQ(at<double>(base, {r, c}), before[r * 5 + c] * b.data<double>()[r]);
  // The output can't be broadcast up, nor written through a stride-0 dim.
  Tensor small = from_vec<double>({5}, std::vector<double>(5, 1.0));
  EXPECT_THROW(binary_inplace(BinaryOp::Add, small, base), ValueError);
  Tensor e = from_vec<double>({1, 3}, {1, 2, 3}).expand({4, 3});
  EXPECT_THROW(binary_inplace(BinaryOp::Add, e, from_vec<double>({3}, {1, 1, 1})), ValueError);
  EXPECT_THROW(binary_inplace(BinaryOp::Lt, out, b), ValueError);
}

// ---------------------------------------------------------------------------------------------
// unary, clamp, where
// ---------------------------------------------------------------------------------------------

template <typename T>
void unary_suite() {
  std::mt19937 rng(21);
  const Tensor x = random_transposed<T>({5, 7}, rng, -3.0, 3.0);
  Tensor pos = Tensor::empty({5, 7}, DTypeOf<T>::value);
  for (int64_t i = 0; i < 35; ++i) pos.data<T>()[i] = std::fabs(x.data<T>()[i]) + T(0.1);
  struct U {
    UnaryOp op;
    bool positive;
    std::function<double(double)> ref;
  };
  const std::vector<U> ops = {
      {UnaryOp::Neg, false, [](double v) { return -v; }},
      {UnaryOp::Exp, false, [](double v) { return std::exp(v); }},
      {UnaryOp::Log, true, [](double v) { return std::log(v); }},
      {UnaryOp::Sqrt, true, [](double v) { return std::sqrt(v); }},
      {UnaryOp::Rsqrt, true, [](double v) { return 1.0 / std::sqrt(v); }},
      {UnaryOp::Abs, false, [](double v) { return std::fabs(v); }},
      {UnaryOp::Sign, false, [](double v) { return double((v > 0) - (v < 0)); }},
      {UnaryOp::Reciprocal, false, [](double v) { return 1.0 / v; }},
      {UnaryOp::Sin, false, [](double v) { return std::sin(v); }},
      {UnaryOp::Cos, false, [](double v) { return std::cos(v); }},
      {UnaryOp::Tanh, false, [](double v) { return std::tanh(v); }},
      {UnaryOp::Sigmoid, false, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      {UnaryOp::Log1p, true, [](double v) { return std::log1p(v); }},
      {UnaryOp::Expm1, false, [](double v) { return std::expm1(v); }},
      {UnaryOp::Floor, false, [](double v) { return std::floor(v); }},
      {UnaryOp::Ceil, false, [](double v) { return std::ceil(v); }},
      {UnaryOp::Round, false, [](double v) { return std::nearbyint(v); }},
      {UnaryOp::Relu, false, [](double v) { return v > 0 ? v : 0.0; }},
  };
  for (const auto& u : ops) {
    SCOPED_TRACE(unary_op_name(u.op));
    const Tensor in = u.positive ? pos.transpose(0, 1) : x;
    const Tensor out = unary(u.op, in);
    ASSERT_EQ(out.sizes(), in.sizes());
    ASSERT_EQ(out.dtype(), DTypeOf<T>::value);
    const auto got = to_vec<T>(out);
    const auto inv = to_vec<T>(in);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(close(got[i], static_cast<T>(u.ref(inv[i])), rtol_for<T>() * 2, 1e-30)) << "x=" << inv[i];
  }
}

TEST(Unary, Float32VsStd) { unary_suite<float>(); }
TEST(Unary, Float64VsStd) { unary_suite<double>(); }

TEST(Unary, RoundHalfToEvenAndSpecials) {
  const Tensor x = from_vec<double>({8}, {0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, kNaN});
  const auto r = to_vec<double>(unary(UnaryOp::Round, x));
  EXPECT_EQ(r[0], 0.0);
  EXPECT_EQ(r[1], 2.0);
  EXPECT_EQ(r[2], 2.0);
  EXPECT_EQ(r[3], 0.0);
  EXPECT_EQ(r[4], -2.0);
  EXPECT_EQ(r[5], -2.0);
  EXPECT_EQ(r[6], 2.0);
  EXPECT_TRUE(std::isnan(r[7]));
  // sign(NaN) is 0, as torch.sign on the CPU (csrc/ops/scalar_math.h).
  const auto s = to_vec<double>(unary(UnaryOp::Sign, from_vec<double>({3}, {-0.0, kNaN, -3.0})));
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[1], 0.0);
  EXPECT_EQ(s[2], -1.0);
  const auto l = to_vec<double>(unary(UnaryOp::Log, from_vec<double>({2}, {0.0, -1.0})));
  EXPECT_EQ(l[0], -kInf);
  EXPECT_TRUE(std::isnan(l[1]));
}

TEST(Unary, Int64AndErrors) {
  const Tensor i = from_vec<int64_t>({5}, {-3, 0, 7, -1, std::numeric_limits<int64_t>::min() + 1});
  EXPECT_EQ(to_vec<int64_t>(unary(UnaryOp::Neg, i)),
            (std::vector<int64_t>{3, 0, -7, 1, std::numeric_limits<int64_t>::max()}));
  EXPECT_EQ(to_vec<int64_t>(unary(UnaryOp::Abs, i)),
            (std::vector<int64_t>{3, 0, 7, 1, std::numeric_limits<int64_t>::max()}));
  EXPECT_EQ(to_vec<int64_t>(unary(UnaryOp::Sign, i)), (std::vector<int64_t>{-1, 0, 1, -1, -1}));
  EXPECT_EQ(to_vec<int64_t>(unary(UnaryOp::Relu, i)), (std::vector<int64_t>{0, 0, 7, 0, 0}));
  const Tensor nb = unary(UnaryOp::LogicalNot, i);
  EXPECT_EQ(nb.dtype(), DType::Bool);
  EXPECT_EQ(to_vec<bool>(nb), (std::vector<bool>{false, true, false, false, false}));
  EXPECT_THROW(unary(UnaryOp::Exp, i), TypeError);
  EXPECT_THROW(unary(UnaryOp::Neg, from_vec<bool>({1}, {true})), TypeError);
  const std::string m = expect_throw_msg<TypeError>([&] { unary(UnaryOp::Sqrt, i); });
  EXPECT_TRUE(starts_with(m, "lamina.sqrt: ")) << m;
}

TEST(Clamp, NaNPropagatesAndBounds) {
  const Tensor x = from_vec<double>({6}, {-2.0, -0.25, 0.0, 0.75, 3.0, kNaN});
  const auto both = to_vec<double>(clamp(x, Scalar::from_double(-0.5), Scalar::from_double(0.5)));
  EXPECT_EQ(both[0], -0.5);
  EXPECT_EQ(both[1], -0.25);
  EXPECT_EQ(both[2], 0.0);
  EXPECT_EQ(both[3], 0.5);
  EXPECT_EQ(both[4], 0.5);
  EXPECT_TRUE(std::isnan(both[5]));
  const auto lo = to_vec<double>(clamp(x, Scalar::from_double(0.0), std::nullopt));
  EXPECT_EQ(lo[0], 0.0);
  EXPECT_EQ(lo[4], 3.0);
  EXPECT_TRUE(std::isnan(lo[5]));
  const auto hi = to_vec<double>(clamp(x, std::nullopt, Scalar::from_int(0)));
  EXPECT_EQ(hi[0], -2.0);
  EXPECT_EQ(hi[3], 0.0);
  EXPECT_TRUE(std::isnan(hi[5]));
  // min > max gives max everywhere (torch.clamp).
  const auto inv = to_vec<double>(clamp(x, Scalar::from_double(1.0), Scalar::from_double(-1.0)));
  for (int k = 0; k < 5; ++k) EXPECT_EQ(inv[k], -1.0);
  EXPECT_THROW(clamp(x, std::nullopt, std::nullopt), ValueError);
}

TEST(Clamp, RandomFloat32AndInt64) {
  std::mt19937 rng(22);
  const Tensor x = random_transposed<float>({6, 9}, rng, -3, 3);
  const auto got = to_vec<float>(clamp(x, Scalar::from_double(-1.25), Scalar::from_double(0.5)));
  const auto in = to_vec<float>(x);
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(got[i], std::min(std::max(in[i], -1.25f), 0.5f));
  const Tensor xi = random_tensor<int64_t>({11}, rng, -20, 20);
  const auto gi = to_vec<int64_t>(clamp(xi, Scalar::from_int(-5), Scalar::from_int(7)));
  const auto ii = to_vec<int64_t>(xi);
  for (size_t k = 0; k < ii.size(); ++k) ASSERT_EQ(gi[k], std::min<int64_t>(std::max<int64_t>(ii[k], -5), 7));
}

TEST(Where, BroadcastsAllThree) {
  std::mt19937 rng(23);
  const Tensor cond = random_tensor<bool>({3, 1}, rng);
  const Tensor a = random_tensor<float>({1, 4}, rng);
  const Tensor b = random_transposed<float>({3, 4}, rng);
  const Tensor out = where(cond, a, b);
  ASSERT_EQ(out.sizes(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      const float want = at<bool>(cond, {i, 0}) ? at<float>(a, {0, j}) : at<float>(b, {i, j});
      ASSERT_EQ(at<float>(out, {i, j}), want);
    }
  // Both branches used at least once with this seed (otherwise the test proves little).
  const auto c = to_vec<bool>(cond);
  EXPECT_NE(std::count(c.begin(), c.end(), true), 0);
  EXPECT_NE(std::count(c.begin(), c.end(), false), 0);
  EXPECT_THROW(where(a, a, b), TypeError);  // condition must be bool
  EXPECT_THROW(where(cond, a, from_vec<double>({1}, {1.0})), TypeError);
  EXPECT_THROW(where(cond, a, from_vec<float>({2}, {1, 2})), ValueError);
}

// ---------------------------------------------------------------------------------------------
// copy_, fill_, arange, cat
// ---------------------------------------------------------------------------------------------

TEST(Copy, CastsBetweenDtypes) {
  const Tensor src = from_vec<double>({6}, {2.7, -2.7, 0.0, 1e-3, -0.5, 123456789.0});
  Tensor f = Tensor::empty({6}, DType::Float32);
  copy_(f, src);
  const auto fv = to_vec<float>(f);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(fv[k], static_cast<float>(src.data<double>()[k]));
  Tensor i = Tensor::empty({6}, DType::Int64);
  copy_(i, src);
  EXPECT_EQ(to_vec<int64_t>(i), (std::vector<int64_t>{2, -2, 0, 0, 0, 123456789}));  // toward zero
  Tensor b = Tensor::empty({6}, DType::Bool);
  copy_(b, src);
  EXPECT_EQ(to_vec<bool>(b), (std::vector<bool>{true, true, false, true, true, true}));
  Tensor back = Tensor::empty({6}, DType::Float64);
  copy_(back, b);
  EXPECT_EQ(to_vec<double>(back), (std::vector<double>{1, 1, 0, 1, 1, 1}));
  copy_(back, i);
  EXPECT_EQ(to_vec<double>(back), (std::vector<double>{2, -2, 0, 0, 0, 123456789}));
  const Tensor c = to_dtype(src, DType::Float32);
  EXPECT_EQ(to_vec<float>(c), fv);
  EXPECT_TRUE(to_dtype(src, DType::Float64).shares_storage(src));
}

TEST(Copy, FromBroadcastAndStridedSources) {
  std::mt19937 rng(31);
  const Tensor row = random_tensor<float>({1, 5}, rng);
  Tensor dst = Tensor::empty({4, 5}, DType::Float64);
  copy_(dst, row);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 5; ++c) ASSERT_EQ(at<double>(dst, {r, c}), double(at<float>(row, {0, c})));
  const Tensor t = random_transposed<double>({4, 5}, rng);
  copy_(dst, t);
  EXPECT_EQ(to_vec<double>(dst), to_vec<double>(t));
  const Tensor cl = clone(t);
  EXPECT_TRUE(cl.is_contiguous());
  EXPECT_FALSE(cl.shares_storage(t));
  EXPECT_EQ(to_vec<double>(cl), to_vec<double>(t));
  const Tensor ct = contiguous(t);
  EXPECT_TRUE(ct.is_contiguous());
  EXPECT_EQ(to_vec<double>(ct), to_vec<double>(t));
  EXPECT_TRUE(contiguous(dst).shares_storage(dst));
}

TEST(Copy, IntoStridedDestinationLeavesRestAlone) {
  std::mt19937 rng(32);
  Tensor base = random_tensor<double>({5, 7}, rng);
  const auto before = to_vec<double>(base);
  Tensor dst = base.slice(1, 1, 7, 2).narrow(0, 1, 3);  // rows 1..3, cols 1, 3, 5
  const Tensor src = random_tensor<double>({3, 3}, rng);
  const int64_t v0 = base.version();
  copy_(dst, src);
  EXPECT_GT(base.version(), v0);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 7; ++c) {
      const bool written = r >= 1 && r <= 3 && c % 2 == 1 && c <= 5;
      const double want = written ? at<double>(src, {r - 1, (c - 1) / 2}) : before[r * 7 + c];
      ASSERT_EQ(at<double>(base, {r, c}), want) << r << "," << c;
    }
}

TEST(Copy, Errors) {
  Tensor dst = Tensor::empty({4, 5}, DType::Float32);
  EXPECT_THROW(copy_(dst, Tensor::empty({3, 5}, DType::Float32)), ValueError);
  EXPECT_THROW(copy_(dst, Tensor::empty({2, 4, 5}, DType::Float32)), ValueError);  // can't shrink
  Tensor e = Tensor::empty({1, 5}, DType::Float32).expand({4, 5});
  EXPECT_THROW(copy_(e, dst), ValueError);
  EXPECT_THROW(copy_(dst, Tensor::empty({4, 5}, DType::Float16)), TypeError);
}

TEST(Reshape, ViewOrCopy) {
  std::mt19937 rng(33);
  const Tensor x = random_tensor<float>({3, 4}, rng);
  const Tensor v = reshape(x, {2, -1});
  EXPECT_TRUE(v.shares_storage(x));
  const Tensor t = x.transpose(0, 1);
  const Tensor r = reshape(t, {12});
  EXPECT_FALSE(r.shares_storage(x));
  EXPECT_EQ(to_vec<float>(r), to_vec<float>(t));
}

TEST(Fill, AllDtypesAndStridedViews) {
  Tensor f = Tensor::empty({3, 5}, DType::Float32);
  fill_(f, Scalar::from_double(2.5));
  for (float v : to_vec<float>(f)) ASSERT_EQ(v, 2.5f);
  Tensor i = Tensor::empty({7}, DType::Int64);
  fill_(i, Scalar::from_int(-(int64_t(1) << 60) - 3));  // exact in int64, not in double
  for (int64_t v : to_vec<int64_t>(i)) ASSERT_EQ(v, -(int64_t(1) << 60) - 3);
  Tensor b = Tensor::empty({4}, DType::Bool);
  fill_(b, Scalar::from_int(3));
  for (bool v : to_vec<bool>(b)) ASSERT_TRUE(v);
  // Only the view's elements change.
  Tensor base = Tensor::empty({4, 6}, DType::Float64);
  fill_(base, Scalar::from_double(1.0));
  fill_(base.transpose(0, 1).narrow(0, 2, 3).slice(1, 0, 4, 2), Scalar::from_double(-7.0));
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 6; ++c) {
      const bool hit = (r == 0 || r == 2) && c >= 2 && c <= 4;
      ASSERT_EQ(at<double>(base, {r, c}), hit ? -7.0 : 1.0) << r << "," << c;
    }
  const Tensor fu = full({2, 3}, Scalar::from_int(4), DType::Int64, Device());
  EXPECT_EQ(to_vec<int64_t>(fu), (std::vector<int64_t>(6, 4)));
}

TEST(Arange, IntCounts) {
  auto ints = [](int64_t a, int64_t b, int64_t s) {
    return to_vec<int64_t>(arange(Scalar::from_int(a), Scalar::from_int(b), Scalar::from_int(s), DType::Int64, Device()));
  };
  EXPECT_EQ(ints(0, 10, 3), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_EQ(ints(0, 9, 3), (std::vector<int64_t>{0, 3, 6}));
  EXPECT_EQ(ints(5, 0, -2), (std::vector<int64_t>{5, 3, 1}));
  EXPECT_EQ(ints(-3, 4, 1), (std::vector<int64_t>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_EQ(ints(-7, -1, 2), (std::vector<int64_t>{-7, -5, -3}));
  EXPECT_EQ(ints(4, 4, 1).size(), 0u);
  EXPECT_EQ(ints(4, 4, -1).size(), 0u);
}

TEST(Arange, FloatCountsLikeTorch) {
  auto fl = [](double a, double b, double s, DType dt) {
    return arange(Scalar::from_double(a), Scalar::from_double(b), Scalar::from_double(s), dt, Device());
  };
  const Tensor t = fl(0, 1, 0.3, DType::Float32);
  ASSERT_EQ(t.numel(), 4);
  const auto v = to_vec<float>(t);
  for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(v[k], 0.3f * k);
  EXPECT_EQ(fl(1, 2.5, 0.5, DType::Float64).numel(), 3);
  EXPECT_EQ(fl(1, 2.51, 0.5, DType::Float64).numel(), 4);
  const Tensor n = fl(1, -1, -0.25, DType::Float64);
  ASSERT_EQ(n.numel(), 8);
  EXPECT_EQ(to_vec<double>(n)[7], 1 - 7 * 0.25);
  // Int bounds into a float tensor.
  const Tensor m = arange(Scalar::from_int(0), Scalar::from_int(5), Scalar::from_int(2), DType::Float64, Device());
  EXPECT_EQ(to_vec<double>(m), (std::vector<double>{0, 2, 4}));
}

TEST(Arange, Errors) {
  auto a = [](double s, double e, double st, DType dt = DType::Float32) {
    return arange(Scalar::from_double(s), Scalar::from_double(e), Scalar::from_double(st), dt, Device());
  };
  EXPECT_THROW(a(0, 1, 0), ValueError);
  EXPECT_THROW(a(0, 1, -0.5), ValueError);
  EXPECT_THROW(a(1, 0, 0.5), ValueError);
  EXPECT_THROW(a(0, kInf, 1), ValueError);
  EXPECT_THROW(a(0, kNaN, 1), ValueError);
  EXPECT_THROW(a(0, 1e300, 1e-300), ValueError);
  EXPECT_THROW(a(0, 5, 1, DType::Bool), TypeError);
}

TEST(Cat, EveryDimOddSizes) {
  std::mt19937 rng(41);
  const Shape base{4, 5, 3};
  for (int64_t d = 0; d < 3; ++d) {
    for (int64_t dd : {d, d - 3}) {  // positive and negative dim
      std::vector<Tensor> ts;
      std::vector<int64_t> lens{3, 1, 5};
      for (size_t k = 0; k < lens.size(); ++k) {
        Shape s = base;
        s[d] = lens[k];
        ts.push_back(k == 1 && s[0] > 1 ? random_tensor<float>(s, rng)
                                        : random_tensor<float>({s[2], s[1], s[0]}, rng).permute({2, 1, 0}));
      }
      const Tensor out = cat(ts, dd);
      Shape want = base;
      want[d] = 9;
      ASSERT_EQ(out.sizes(), want);
      for (int64_t i = 0; i < out.numel(); ++i) {
        Shape idx = unravel(i, want);
        size_t k = 0;
        while (idx[d] >= lens[k]) idx[d] -= lens[k++];
        ASSERT_EQ(out.data<float>()[i], at<float>(ts[k], idx)) << "dim " << d << " element " << i;
      }
    }
  }
}

TEST(Cat, SkipsEmpty1DAndChecksShapes) {
  const Tensor a = from_vec<int64_t>({2, 2}, {1, 2, 3, 4});
  const Tensor b = from_vec<int64_t>({1, 2}, {5, 6});
  const Tensor e = Tensor::empty({0}, DType::Int64);
  EXPECT_EQ(to_vec<int64_t>(cat({e, a, e, b}, 0)), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(cat({a, b}, -2).sizes(), (Shape{3, 2}));
  const std::string m = expect_throw_msg<ValueError>([&] { cat({a, b}, 1); });
  EXPECT_TRUE(starts_with(m, "lamina.cat: ")) << m;
  EXPECT_TRUE(contains(m, "[2, 2]") && contains(m, "[1, 2]")) << m;
  EXPECT_THROW(cat({a, from_vec<int64_t>({4}, {1, 2, 3, 4})}, 0), ValueError);  // ndim mismatch
  EXPECT_THROW(cat({a, from_vec<double>({1, 2}, {1, 2})}, 0), TypeError);
  EXPECT_THROW(cat({}, 0), ValueError);
  EXPECT_THROW(cat({a, b}, 2), IndexError);
  EXPECT_THROW(cat({from_vec<int64_t>({}, {1})}, 0), ValueError);  // 0-d
}

// ---------------------------------------------------------------------------------------------
// reductions
// ---------------------------------------------------------------------------------------------

const char* kReduceNames[] = {"sum", "mean", "var", "std", "amax", "amin"};

// Naive double-precision reduction of x over `dims` (empty = all), kept dims in row-major order.
template <typename T>
std::vector<double> ref_reduce(ReduceOp op, const Tensor& x, const Shape& dims, int64_t correction) {
  const int64_t nd = x.dim();
  std::vector<bool> red(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) red[d < 0 ? d + nd : d] = true;
  Shape ks, rs;
  for (int64_t d = 0; d < nd; ++d) (red[d] ? rs : ks).push_back(x.size(d));
  const int64_t M = test::numel_of(ks), R = test::numel_of(rs);
  std::vector<double> out(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) {
    const Shape ki = unravel(m, ks);
    std::vector<double> vals;
    for (int64_t r = 0; r < R; ++r) {
      const Shape ri = unravel(r, rs);
      Shape idx(nd);
      size_t a = 0, b = 0;
      for (int64_t d = 0; d < nd; ++d) idx[d] = red[d] ? ri[b++] : ki[a++];
      vals.push_back(static_cast<double>(at<T>(x, idx)));
    }
    double sum = 0, mx = -kInf, mn = kInf;
    for (double v : vals) {
      sum += v;
      mx = std::max(mx, v);
      mn = std::min(mn, v);
    }
    const double mean = sum / R;
    double ss = 0;
    for (double v : vals) ss += (v - mean) * (v - mean);
    const double var = ss / std::max<double>(0, double(R - correction));
    switch (op) {
      case ReduceOp::Sum: out[m] = sum; break;
      case ReduceOp::Mean: out[m] = mean; break;
      case ReduceOp::Var: out[m] = var; break;
      case ReduceOp::Std: out[m] = std::sqrt(var); break;
      case ReduceOp::AMax: out[m] = mx; break;
      case ReduceOp::AMin: out[m] = mn; break;
    }
  }
  return out;
}

Shape expected_reduce_shape(const Shape& sizes, const Shape& dims, bool keepdim) {
  const int64_t nd = static_cast<int64_t>(sizes.size());
  std::vector<bool> red(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) red[d < 0 ? d + nd : d] = true;
  Shape s;
  for (int64_t d = 0; d < nd; ++d) {
    if (!red[d]) s.push_back(sizes[d]);
    else if (keepdim) s.push_back(1);
  }
  return s;
}

template <typename T>
void check_reduce(const Tensor& x, ReduceOp op, const Shape& dims, bool keepdim, int64_t correction = 1) {
  SCOPED_TRACE(::testing::Message() << kReduceNames[int(op)] << " dims " << test::str(dims) << " keepdim " << keepdim
                                    << " correction " << correction << " shape " << test::str(x.sizes())
                                    << (x.is_contiguous() ? "" : " (strided)"));
  const Tensor out = reduce(op, x, dims, keepdim, correction);
  ASSERT_EQ(out.sizes(), expected_reduce_shape(x.sizes(), dims, keepdim));
  ASSERT_EQ(out.dtype(), x.dtype());
  const auto want = ref_reduce<T>(op, x, dims, correction);
  ASSERT_EQ(out.numel(), static_cast<int64_t>(want.size()));
  const auto got = to_vec<T>(out);
  const double atol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  for (size_t i = 0; i < want.size(); ++i) {
    if constexpr (std::is_integral_v<T>) {
      ASSERT_EQ(got[i], static_cast<T>(want[i])) << "output " << i;
    } else {
      ASSERT_TRUE(close(got[i], want[i], rtol_for<T>(), atol)) << "output " << i;
    }
  }
}

const std::vector<Shape> kReduceDims = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0}, {1, 2}, {0, 1}, {0, 1, 2}, {}};

template <typename T>
void reduce_suite(const Tensor& x) {
  for (const Shape& dims : kReduceDims)
    for (bool keepdim : {false, true}) {
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::AMax, ReduceOp::AMin})
        check_reduce<T>(x, op, dims, keepdim);
      for (ReduceOp op : {ReduceOp::Var, ReduceOp::Std})
        for (int64_t c : {0, 1}) check_reduce<T>(x, op, dims, keepdim, c);
    }
}

TEST(Reduce, Float32AllDimSets) {
  std::mt19937 rng(51);
  reduce_suite<float>(random_tensor<float>({5, 7, 3}, rng, -1, 3));
}

TEST(Reduce, Float64AllDimSets) {
  std::mt19937 rng(52);
  reduce_suite<double>(random_tensor<double>({5, 7, 3}, rng, -1, 3));
}

TEST(Reduce, NonContiguousInputs) {
  std::mt19937 rng(53);
  reduce_suite<float>(random_tensor<float>({3, 7, 5}, rng, -1, 3).transpose(0, 2));       // [5, 7, 3]
  reduce_suite<double>(random_tensor<double>({7, 3, 5}, rng).permute({2, 0, 1}));         // [5, 7, 3]
  reduce_suite<double>(random_tensor<double>({5, 9, 3}, rng).slice(1, 1, 9, 2).narrow(1, 0, 3));
}

TEST(Reduce, Int64SumAmaxAmin) {
  std::mt19937 rng(54);
  const Tensor x = random_tensor<int64_t>({5, 7, 3}, rng, -1000, 1000);
  for (const Shape& dims : kReduceDims)
    for (bool keepdim : {false, true})
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::AMax, ReduceOp::AMin}) check_reduce<int64_t>(x, op, dims, keepdim);
  EXPECT_THROW(reduce(ReduceOp::Mean, x, {0}, false), TypeError);
  EXPECT_THROW(reduce(ReduceOp::Var, x, {0}, false), TypeError);
}

TEST(Reduce, EdgeCases) {
  const Tensor x = from_vec<double>({2, 3}, {1, 2, 3, 4, 5, 6});
  // A single element with correction 1 has no variance: NaN, as torch.
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::Var, x.narrow(1, 0, 1), {1}, false))[0]));
  // Empty reductions: sum 0, mean NaN, amax IndexError.
  const Tensor z = Tensor::empty({3, 0}, DType::Float64);
  EXPECT_EQ(to_vec<double>(reduce(ReduceOp::Sum, z, {1}, false)), (std::vector<double>{0, 0, 0}));
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::Mean, z, {1}, false))[0]));
  EXPECT_THROW(reduce(ReduceOp::AMax, z, {1}, false), IndexError);
  EXPECT_EQ(reduce(ReduceOp::AMax, z, {0}, false).numel(), 0);  // nothing to reduce into
  // A 0-d input.
  const Tensor s = from_vec<double>({}, {4.5});
  EXPECT_EQ(to_vec<double>(reduce(ReduceOp::Sum, s, {}, false)), (std::vector<double>{4.5}));
  EXPECT_EQ(to_vec<double>(reduce(ReduceOp::Sum, s, {0}, true)), (std::vector<double>{4.5}));
  // NaN propagates through amax/amin.
  const Tensor n = from_vec<double>({4}, {1, kNaN, 3, -1});
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::AMax, n, {0}, false))[0]));
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::AMin, n, {0}, false))[0]));
  // Errors.
  EXPECT_THROW(reduce(ReduceOp::Sum, x, {0, 0}, false), ValueError);
  EXPECT_THROW(reduce(ReduceOp::Sum, x, {0, -2}, false), ValueError);
  EXPECT_THROW(reduce(ReduceOp::Sum, x, {2}, false), IndexError);
  EXPECT_THROW(reduce(ReduceOp::Var, x, {0}, false, -1), ValueError);
  EXPECT_THROW(reduce(ReduceOp::Sum, from_vec<bool>({1}, {true}), {}, false), TypeError);
  const std::string m = expect_throw_msg<IndexError>([&] { reduce(ReduceOp::Mean, x, {3}, false); });
  EXPECT_TRUE(starts_with(m, "lamina.mean: ")) << m;
}

// Column sums wider than the vertical kernel's 512-column chunk, with a partial last chunk.
TEST(Reduce, WideColumnSums) {
  std::mt19937 rng(56);
  const Tensor x = random_tensor<float>({3, 1031}, rng);
  const Tensor y = random_tensor<double>({2, 5, 1100}, rng);
  const Tensor z = random_tensor<int64_t>({7, 1030}, rng, -100, 100);
  for (bool keepdim : {false, true}) {
    check_reduce<float>(x, ReduceOp::Sum, {0}, keepdim);
    check_reduce<float>(x, ReduceOp::Mean, {0}, keepdim);
    check_reduce<double>(y, ReduceOp::Sum, {1}, keepdim);
    check_reduce<double>(y, ReduceOp::Sum, {0, 1}, keepdim);
    check_reduce<double>(y, ReduceOp::Mean, {0}, keepdim);
    check_reduce<int64_t>(z, ReduceOp::Sum, {0}, keepdim);
  }
}

// Long rows with few outputs take the split-row paths when more than one thread is set
// (contiguous rows from 65536 elements, strided rows from 32768).
TEST(Reduce, LongRowsSplitAcrossThreads) {
  test::ThreadGuard threads(2);
  std::mt19937 rng(55);
  const Tensor x = random_tensor<double>({1, 70001}, rng, -1, 3);
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Var, ReduceOp::Std, ReduceOp::AMax, ReduceOp::AMin})
    check_reduce<double>(x, op, {1}, false);
  const Tensor xs = random_tensor<float>({70001}, rng, -1, 3);
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::AMax, ReduceOp::AMin}) check_reduce<float>(xs, op, {}, false);
  // A NaN (or the extreme) in the second half still wins the merge.
  std::vector<double> v(70001, 1.0);
  v[50000] = kNaN;
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::AMax, from_vec<double>({70001}, v), {}, false))[0]));
  EXPECT_TRUE(std::isnan(to_vec<double>(reduce(ReduceOp::AMin, from_vec<double>({70001}, v), {}, false))[0]));
  v[50000] = -3.0;
  v[69999] = 8.0;
  EXPECT_EQ(to_vec<double>(reduce(ReduceOp::AMax, from_vec<double>({70001}, v), {}, false))[0], 8.0);
  EXPECT_EQ(to_vec<double>(reduce(ReduceOp::AMin, from_vec<double>({70001}, v), {}, false))[0], -3.0);
  const Tensor xf = random_tensor<float>({50001, 3}, rng, -1, 3).select(1, 2);  // [50001], stride 3
  for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Var, ReduceOp::AMax})
    check_reduce<float>(xf, op, {0}, true);
}

// A float32 tensor of n elements whose storage ends exactly at an unreadable (PROT_NONE) page, so
// that a kernel reading even one element past the end crashes instead of reading garbage.
Tensor guarded_tensor(int64_t n) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t nbytes = static_cast<size_t>(n) * sizeof(float);
  const size_t data_pages = (nbytes + page - 1) / page;
  const size_t total = (data_pages + 1) * page;
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return Tensor();
  char* guard = static_cast<char*>(base) + data_pages * page;
  mprotect(guard, page, PROT_NONE);
  auto st = std::make_shared<Storage>();
  st->data = DataPtr(guard - nbytes, [base, total](void*) { munmap(base, total); });
  st->nbytes = static_cast<int64_t>(nbytes);
  Tensor t = Tensor::from_storage(st, {n}, {1}, 0, DType::Float32, "test");
  for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(i % 1000);
  return t;
}

// Regression (found by this suite, fixed): csrc/cpu/reduce.cpp reduce_contig_rows splits a long contiguous row into nt pieces of
// per = ceil(R / nt); when (nt - 1) * per >= R the last threads get empty ranges [R, R), and the
// AMax/AMin row_fn extreme_contig(p + R, 0) still reads p[0] (`m[j] = p[0]`), one element past
// the row. The merge ignores that partial, so results are right, but the read is out of bounds:
// R = 65536 with 257 threads (lamina.set_num_threads(257), or a 384-thread machine with
// R = 65876) crashes when the buffer ends at a page boundary (np.memmap, DLPack imports).
// Run in a child process so the crash fails only this test.
TEST(ReduceDeathTest, AmaxLongRowManyThreadsStaysInBounds) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto run = [](ReduceOp op) {
    set_num_threads(257);
    const Tensor x = guarded_tensor(65536);
    if (!x.defined()) std::exit(3);
    const float v = reduce(op, x, {}, false).data<float>()[0];
    std::exit(v == (op == ReduceOp::AMax ? 999.0f : 0.0f) ? 0 : 1);
  };
  EXPECT_EXIT(run(ReduceOp::AMax), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(run(ReduceOp::AMin), ::testing::ExitedWithCode(0), "");
  // The same row with 2 threads touches only its own elements.
  test::ThreadGuard threads(2);
  const Tensor x = guarded_tensor(65536);
  ASSERT_TRUE(x.defined());
  EXPECT_EQ(reduce(ReduceOp::AMax, x, {}, false).data<float>()[0], 999.0f);
  EXPECT_EQ(reduce(ReduceOp::Sum, x, {}, false).data<float>()[0], [] {
    double s = 0;
    for (int64_t i = 0; i < 65536; ++i) s += i % 1000;
    return static_cast<float>(s);
  }());
}

// ---------------------------------------------------------------------------------------------
// max_dim / argmax
// ---------------------------------------------------------------------------------------------

// First index of the max (min) along `dim`, NaN winning at its first occurrence.
template <typename T>
std::pair<double, int64_t> ref_arg(const Tensor& x, const Shape& idx0, int64_t dim, bool is_min) {
  Shape idx = idx0;
  double best = 0;
  int64_t bi = -1;
  for (int64_t k = 0; k < x.size(dim); ++k) {
    idx[dim] = k;
    const double v = static_cast<double>(at<T>(x, idx));
    if (bi < 0) {
      best = v, bi = k;
      continue;
    }
    if (std::isnan(best)) break;
    if (std::isnan(v) || (is_min ? v < best : v > best)) best = v, bi = k;
  }
  return {best, bi};
}

template <typename T>
void check_max_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_min) {
  SCOPED_TRACE(::testing::Message() << (is_min ? "min" : "max") << " dim " << dim << " keepdim " << keepdim);
  const auto [vals, idxs] = max_dim(x, dim, keepdim, is_min);
  const Shape want_shape = expected_reduce_shape(x.sizes(), {dim}, keepdim);
  ASSERT_EQ(vals.sizes(), want_shape);
  ASSERT_EQ(idxs.sizes(), want_shape);
  ASSERT_EQ(idxs.dtype(), DType::Int64);
  ASSERT_EQ(vals.dtype(), x.dtype());
  const int64_t d = dim < 0 ? dim + x.dim() : dim;
  Shape kept = x.sizes();
  kept[d] = 1;
  for (int64_t m = 0; m < test::numel_of(kept); ++m) {
    const Shape idx = unravel(m, kept);
    const auto [bv, bi] = ref_arg<T>(x, idx, d, is_min);
    const double gv = static_cast<double>(vals.data<T>()[m]);
    ASSERT_EQ(idxs.data<int64_t>()[m], bi) << "output " << m;
    ASSERT_TRUE(std::isnan(bv) ? std::isnan(gv) : gv == bv) << "output " << m << ": " << gv << " vs " << bv;
  }
}

TEST(MaxDim, RandomAgainstReference) {
  std::mt19937 rng(61);
  const Tensor x = random_tensor<float>({5, 7, 3}, rng);
  const Tensor t = random_transposed<double>({5, 7, 9}, rng);
  const Tensor i = random_tensor<int64_t>({5, 7, 3}, rng, -4, 4);  // many ties
  for (int64_t dim : {0, 1, 2, -1})
    for (bool keepdim : {false, true})
      for (bool is_min : {false, true}) {
        check_max_dim<float>(x, dim, keepdim, is_min);
        check_max_dim<double>(t, dim, keepdim, is_min);
        check_max_dim<int64_t>(i, dim, keepdim, is_min);
      }
}

TEST(MaxDim, ScalarInput) {
  const Tensor s = from_vec<double>({}, {2.5});
  const auto [v, i] = max_dim(s, 0, false, false);
  EXPECT_EQ(v.dim(), 0);
  EXPECT_EQ(to_vec<double>(v), (std::vector<double>{2.5}));
  EXPECT_EQ(to_vec<int64_t>(i), (std::vector<int64_t>{0}));
  EXPECT_EQ(to_vec<int64_t>(argmax(s, -1, false, false, false)), (std::vector<int64_t>{0}));
  EXPECT_THROW(max_dim(s, 1, false, false), IndexError);
  EXPECT_THROW(max_dim(Tensor::empty({2, 0}, DType::Float32), 1, false, false), IndexError);
}

TEST(MaxDim, FirstIndexOnTies) {
  const Tensor x = from_vec<double>({2, 5}, {3, 1, 3, 2, 3, 0, -1, -1, 0, -1});
  const auto [v, i] = max_dim(x, 1, false, false);
  EXPECT_EQ(to_vec<double>(v), (std::vector<double>{3, 0}));
  EXPECT_EQ(to_vec<int64_t>(i), (std::vector<int64_t>{0, 0}));
  const auto [vm, im] = max_dim(x, 1, true, true);
  EXPECT_EQ(vm.sizes(), (Shape{2, 1}));
  EXPECT_EQ(to_vec<double>(vm), (std::vector<double>{1, -1}));
  EXPECT_EQ(to_vec<int64_t>(im), (std::vector<int64_t>{1, 1}));
  const auto [vc, ic] = max_dim(x.transpose(0, 1), 0, false, false);  // same, through a strided view
  EXPECT_EQ(to_vec<int64_t>(ic), (std::vector<int64_t>{0, 0}));
}

TEST(MaxDim, NaNIndexWins) {
  const Tensor x = from_vec<float>({2, 4}, {1, NAN, 5, NAN, 7, 2, 9, NAN});
  for (bool is_min : {false, true}) {
    const auto [v, i] = max_dim(x, 1, false, is_min);
    const auto vv = to_vec<float>(v);
    EXPECT_TRUE(std::isnan(vv[0]) && std::isnan(vv[1])) << is_min;
    EXPECT_EQ(to_vec<int64_t>(i), (std::vector<int64_t>{1, 3})) << is_min;
  }
  EXPECT_EQ(to_vec<int64_t>(argmax(x, 0, true, false, false)), (std::vector<int64_t>{1}));
}

TEST(MaxDim, LongRowsSplitAcrossThreadsKeepFirstIndex) {
  test::ThreadGuard threads(2);
  const int64_t n = 40001;
  std::vector<double> v(static_cast<size_t>(n), 1.0);
  const Shape s{1, n};
  // All equal: index 0 in both halves.
  EXPECT_EQ(to_vec<int64_t>(max_dim(from_vec<double>(s, v), 1, false, false).second), (std::vector<int64_t>{0}));
  // Ties between the halves: the first one.
  v[20] = 5.0;
  v[35000] = 5.0;
  EXPECT_EQ(to_vec<int64_t>(max_dim(from_vec<double>(s, v), 1, false, false).second), (std::vector<int64_t>{20}));
  v[20] = 1.0;
  v[30000] = 5.0;
  EXPECT_EQ(to_vec<int64_t>(max_dim(from_vec<double>(s, v), 1, false, false).second), (std::vector<int64_t>{30000}));
  // A NaN in the second half beats a larger value in the first; the first NaN wins.
  v[10] = 100.0;
  v[25000] = kNaN;
  v[39000] = kNaN;
  EXPECT_EQ(to_vec<int64_t>(max_dim(from_vec<double>(s, v), 1, false, false).second), (std::vector<int64_t>{25000}));
  EXPECT_EQ(to_vec<int64_t>(argmax(from_vec<double>(s, v), 0, true, false, true)), (std::vector<int64_t>{25000}));
}

TEST(Argmax, AllDimsIsFlatIndex) {
  std::mt19937 rng(62);
  std::vector<double> v = test::random_vec<double>(60, rng, -1, 1);
  v[37] = 5.0;
  v[41] = 5.0;  // a later tie
  v[13] = -5.0;
  const Tensor x = from_vec<double>({3, 4, 5}, v);
  const Tensor a = argmax(x, 0, true, false, false);
  EXPECT_EQ(a.dim(), 0);
  EXPECT_EQ(to_vec<int64_t>(a), (std::vector<int64_t>{37}));
  EXPECT_EQ(to_vec<int64_t>(argmax(x, 0, true, false, true)), (std::vector<int64_t>{13}));
  const Tensor k = argmax(x, 0, true, true, false);
  EXPECT_EQ(k.sizes(), (Shape{1, 1, 1}));
  // Over a permuted view the flat index is in the view's logical order.
  // x's maxima 37 = (1, 3, 2) and 41 = (2, 0, 1) land at p's (2, 1, 3) = 31 and (1, 2, 0) = 20:
  // in p's order the tie at 41 comes first.
  const Tensor p = x.permute({2, 0, 1});  // [5, 3, 4]
  EXPECT_EQ(to_vec<int64_t>(argmax(p, 0, true, false, false)), (std::vector<int64_t>{20}));
  // Along one dim equals max_dim's indices.
  EXPECT_EQ(to_vec<int64_t>(argmax(x, 1, false, false, false)), to_vec<int64_t>(max_dim(x, 1, false, false).second));
  EXPECT_THROW(argmax(Tensor::empty({0}, DType::Float32), 0, true, false, false), IndexError);
}

TEST(SumToSize, ReversesBroadcast) {
  std::mt19937 rng(63);
  const Tensor x = random_tensor<double>({2, 3, 4, 5}, rng);
  const Tensor r = sum_to_size(x, {3, 1, 5});
  ASSERT_EQ(r.sizes(), (Shape{3, 1, 5}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t l = 0; l < 5; ++l) {
      double want = 0;
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t k = 0; k < 4; ++k) want += at<double>(x, {a, i, k, l});
      ASSERT_TRUE(close(at<double>(r, {i, 0, l}), want, 1e-13, 1e-13));
    }
  const Tensor s = sum_to_size(x.transpose(1, 3), {1, 5, 1, 1});  // [2, 5, 4, 3] -> [1, 5, 1, 1]
  ASSERT_EQ(s.sizes(), (Shape{1, 5, 1, 1}));
  for (int64_t l = 0; l < 5; ++l) {
    double want = 0;
    for (int64_t a = 0; a < 2; ++a)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t k = 0; k < 4; ++k) want += at<double>(x, {a, i, k, l});
    ASSERT_TRUE(close(s.data<double>()[l], want, 1e-13, 1e-13));
  }
  const Tensor all = sum_to_size(x, {});
  EXPECT_EQ(all.dim(), 0);
  EXPECT_TRUE(sum_to_size(x, {2, 3, 4, 5}).shares_storage(x));  // nothing to reduce
  EXPECT_THROW(sum_to_size(x, {2, 5}), ValueError);
  EXPECT_THROW(sum_to_size(x, {1, 2, 3, 4, 5}), ValueError);
}

// ---------------------------------------------------------------------------------------------
// matmul
// ---------------------------------------------------------------------------------------------

template <typename T>
void check_matmul(const Tensor& a, const Tensor& b) {
  SCOPED_TRACE(::testing::Message() << dtype_name(a.dtype()) << " " << test::str(a.sizes()) << " @ "
                                    << test::str(b.sizes()));
  const Tensor out = matmul(a, b);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const Shape batch = broadcast_shapes(Shape(a.sizes().begin(), a.sizes().end() - 2),
                                       Shape(b.sizes().begin(), b.sizes().end() - 2), "ref");
  Shape want = batch;
  want.push_back(M);
  want.push_back(N);
  ASSERT_EQ(out.sizes(), want);
  ASSERT_EQ(out.dtype(), a.dtype());
  for (int64_t e = 0; e < out.numel(); ++e) {
    Shape idx = unravel(e, want);
    const int64_t i = idx[idx.size() - 2], j = idx.back();
    Shape ai = idx, bi = idx;
    double acc = 0, mag = 0;
    int64_t iacc = 0;
    for (int64_t k = 0; k < K; ++k) {
      ai[ai.size() - 2] = i, ai.back() = k;
      bi[bi.size() - 2] = k, bi.back() = j;
      const T x = at<T>(a, broadcast_index(ai, a.sizes())), y = at<T>(b, broadcast_index(bi, b.sizes()));
      acc += double(x) * double(y);
      mag += std::fabs(double(x) * double(y));
      if constexpr (std::is_integral_v<T>) iacc += x * y;
    }
    const T got = out.data<T>()[e];
    if constexpr (std::is_integral_v<T>) {
      ASSERT_EQ(got, iacc) << "element " << e;
    } else {
      ASSERT_TRUE(close(got, acc, 0, (std::is_same_v<T, float> ? 1e-6 : 1e-14) * (mag + 1e-30))) << "element " << e;
    }
  }
}

template <typename T>
void matmul_suite() {
  std::mt19937 rng(71);
  const double lo = std::is_integral_v<T> ? -9 : -2, hi = std::is_integral_v<T> ? 9 : 2;
  check_matmul<T>(random_tensor<T>({3, 5}, rng, lo, hi), random_tensor<T>({5, 7}, rng, lo, hi));
  check_matmul<T>(random_tensor<T>({2, 1, 3, 5}, rng, lo, hi), random_tensor<T>({4, 5, 7}, rng, lo, hi));
  check_matmul<T>(random_tensor<T>({3, 5}, rng, lo, hi), random_tensor<T>({2, 4, 5, 7}, rng, lo, hi));
  check_matmul<T>(random_tensor<T>({4, 1, 1, 5}, rng, lo, hi), random_tensor<T>({3, 5, 1}, rng, lo, hi));
  check_matmul<T>(random_transposed<T>({3, 5}, rng, lo, hi), random_transposed<T>({5, 7}, rng, lo, hi));
  check_matmul<T>(random_transposed<T>({2, 3, 5}, rng, lo, hi), random_tensor<T>({5, 7}, rng, lo, hi));
  check_matmul<T>(random_tensor<T>({2, 1, 3, 5}, rng, lo, hi), random_transposed<T>({4, 5, 7}, rng, lo, hi));
  // Batch dims that are themselves a strided view (every other batch).
  check_matmul<T>(random_tensor<T>({6, 3, 5}, rng, lo, hi).slice(0, 0, 6, 2),
                  random_tensor<T>({5, 3, 7}, rng, lo, hi).transpose(0, 1));
}

TEST(Matmul, Float32BatchedBroadcastTransposed) { matmul_suite<float>(); }
TEST(Matmul, Float64BatchedBroadcastTransposed) { matmul_suite<double>(); }
TEST(Matmul, Int64BatchedBroadcastTransposed) { matmul_suite<int64_t>(); }

TEST(Matmul, LargerThanOneGrain) {
  std::mt19937 rng(72);
  test::ThreadGuard threads(2);
  check_matmul<float>(random_tensor<float>({37, 129}, rng), random_transposed<float>({129, 65}, rng));
}

TEST(Matmul, EmptyKGivesZeros) {
  const Tensor out = matmul(Tensor::empty({3, 0}, DType::Float32), Tensor::empty({0, 4}, DType::Float32));
  ASSERT_EQ(out.sizes(), (Shape{3, 4}));
  for (float v : to_vec<float>(out)) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(matmul(Tensor::empty({0, 3}, DType::Float32), Tensor::empty({3, 4}, DType::Float32)).numel(), 0);
}

TEST(Matmul, Errors) {
  const Tensor a = Tensor::empty({3, 5}, DType::Float32);
  const std::string m = expect_throw_msg<ValueError>([&] { matmul(a, Tensor::empty({4, 7}, DType::Float32)); });
  EXPECT_TRUE(starts_with(m, "lamina.matmul: ")) << m;
  EXPECT_TRUE(contains(m, "[3, 5]") && contains(m, "[4, 7]")) << m;
  EXPECT_THROW(matmul(Tensor::empty({2, 3, 5}, DType::Float32), Tensor::empty({3, 5, 7}, DType::Float32)), ValueError);
  EXPECT_THROW(matmul(Tensor::empty({5}, DType::Float32), Tensor::empty({5, 7}, DType::Float32)), ValueError);
  EXPECT_THROW(matmul(a, Tensor::empty({5, 7}, DType::Float64)), TypeError);
  EXPECT_THROW(matmul(Tensor::empty({3, 5}, DType::Bool), Tensor::empty({5, 7}, DType::Bool)), TypeError);
}

// ---------------------------------------------------------------------------------------------
// thread-count independence
// ---------------------------------------------------------------------------------------------

template <typename T>
std::vector<T> sum_with_threads(int nt, const Tensor& x, const Shape& dims) {
  test::ThreadGuard threads(nt);
  return to_vec<T>(reduce(ReduceOp::Sum, x, dims, false));
}

// When there are at least as many output rows as threads, each row is summed by one thread in a
// fixed order: bit-identical results for 1 and 2 threads (contiguous rows, column sums, strided).
TEST(Threads, SumManyRowsIdenticalForOneAndTwoThreads) {
  std::mt19937 rng(81);
  const Tensor x = random_tensor<float>({3, 100003}, rng);
  EXPECT_EQ(sum_with_threads<float>(1, x, {1}), sum_with_threads<float>(2, x, {1}));
  const Tensor z = random_tensor<float>({301, 307}, rng);
  EXPECT_EQ(sum_with_threads<float>(1, z, {0}), sum_with_threads<float>(2, z, {0}));
  const Tensor t = random_transposed<float>({301, 307}, rng);
  EXPECT_EQ(sum_with_threads<float>(1, t, {1}), sum_with_threads<float>(2, t, {1}));
  const Tensor d = random_tensor<double>({3, 100003}, rng);
  EXPECT_EQ(sum_with_threads<double>(1, d, {1}), sum_with_threads<double>(2, d, {1}));
}

// Documented, not a bug: a single long row (>= 65536 contiguous elements, fewer rows than threads)
// is split into one partial sum per thread. float32 partials are summed in 16 float lanes per
// 4096-element block (csrc/cpu/reduce.cpp sum_contig), so the block boundaries move with the
// thread count and the float32 result differs in its last bits between 1 and 2 threads (as in
// PyTorch). Both stay within 1e-6 of the exact sum relative to sum |x|.
TEST(Threads, SumOneLongRowCloseForOneAndTwoThreads) {
  std::mt19937 rng(82);
  for (bool f64 : {false, true}) {
    const Tensor y = f64 ? random_tensor<double>({100003}, rng) : random_tensor<float>({100003}, rng);
    double exact = 0, mag = 0;
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double v = f64 ? y.data<double>()[i] : y.data<float>()[i];
      exact += v;
      mag += std::fabs(v);
    }
    double one, two;
    if (f64) {
      one = sum_with_threads<double>(1, y, {})[0];
      two = sum_with_threads<double>(2, y, {})[0];
    } else {
      one = sum_with_threads<float>(1, y, {})[0];
      two = sum_with_threads<float>(2, y, {})[0];
    }
    EXPECT_TRUE(close(one, exact, 0, 1e-6 * mag)) << (f64 ? "float64" : "float32");
    EXPECT_TRUE(close(two, exact, 0, 1e-6 * mag)) << (f64 ? "float64" : "float32");
    if (f64) EXPECT_TRUE(close(one, two, 1e-12, 1e-12));
  }
}

TEST(Threads, ElementwiseSameForOneAndTwoThreads) {
  std::mt19937 rng(83);
  const Tensor a = random_transposed<float>({300, 301}, rng), b = random_tensor<float>({301}, rng);
  std::vector<float> r1, r2;
  {
    test::ThreadGuard t(1);
    r1 = to_vec<float>(binary(BinaryOp::Mul, a, b));
  }
  {
    test::ThreadGuard t(2);
    r2 = to_vec<float>(binary(BinaryOp::Mul, a, b));
  }
  EXPECT_EQ(r1, r2);
  EXPECT_THROW(set_num_threads(0), ValueError);
}

}  // namespace
}  // namespace lamina
