// CPU kernels for ops/elementwise.h.
#include "ops/elementwise.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/loops.h"
#include "ops/scalar_math.h"

namespace lamina::cpu {

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  LAMINA_DISPATCH_ALL(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (is_comparison(op) || op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr) {
      switch (op) {
        case BinaryOp::Eq: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x == y; });
        case BinaryOp::Ne: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x != y; });
        case BinaryOp::Lt: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x < y; });
        case BinaryOp::Le: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x <= y; });
        case BinaryOp::Gt: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x > y; });
        case BinaryOp::Ge: return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x >= y; });
        case BinaryOp::LogicalAnd:
          return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x != T(0) && y != T(0); });
        case BinaryOp::LogicalOr:
          return binary_loop<bool, T>(out, a, b, [](T x, T y) { return x != T(0) || y != T(0); });
        default: break;
      }
    }
    if constexpr (!std::is_same_v<T, bool>) {
      switch (op) {
        case BinaryOp::Add: return binary_loop<T, T>(out, a, b, [](T x, T y) { return T(x + y); });
        case BinaryOp::Sub: return binary_loop<T, T>(out, a, b, [](T x, T y) { return T(x - y); });
        case BinaryOp::Mul: return binary_loop<T, T>(out, a, b, [](T x, T y) { return T(x * y); });
        case BinaryOp::Div: return binary_loop<T, T>(out, a, b, [](T x, T y) { return T(x / y); });
        case BinaryOp::Pow: return binary_loop<T, T>(out, a, b, [](T x, T y) { return scalar_pow(x, y); });
        case BinaryOp::Maximum: return binary_loop<T, T>(out, a, b, [](T x, T y) { return scalar_max(x, y); });
        case BinaryOp::Minimum: return binary_loop<T, T>(out, a, b, [](T x, T y) { return scalar_min(x, y); });
        case BinaryOp::FloorDiv: return binary_loop<T, T>(out, a, b, [](T x, T y) { return scalar_floordiv(x, y); });
        case BinaryOp::Remainder: return binary_loop<T, T>(out, a, b, [](T x, T y) { return scalar_remainder(x, y); });
        default: break;
      }
    }
    LAMINA_FAIL(TypeError, name, "not supported for dtype ", dtype_name(a.dtype()));
  });
}

void unary(UnaryOp op, const Tensor& out, const Tensor& x) {
  const char* name = unary_op_name(op);
  LAMINA_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if (op == UnaryOp::LogicalNot) return unary_loop<bool, T>(out, x, [](T v) { return v == T(0); });
    if constexpr (std::is_floating_point_v<T>) {
      switch (op) {
        case UnaryOp::Exp: return unary_loop<T, T>(out, x, [](T v) { return std::exp(v); });
        case UnaryOp::Log: return unary_loop<T, T>(out, x, [](T v) { return std::log(v); });
        case UnaryOp::Sqrt: return unary_loop<T, T>(out, x, [](T v) { return std::sqrt(v); });
        case UnaryOp::Rsqrt: return unary_loop<T, T>(out, x, [](T v) { return T(1) / std::sqrt(v); });
        case UnaryOp::Reciprocal: return unary_loop<T, T>(out, x, [](T v) { return T(1) / v; });
        case UnaryOp::Sin: return unary_loop<T, T>(out, x, [](T v) { return std::sin(v); });
        case UnaryOp::Cos: return unary_loop<T, T>(out, x, [](T v) { return std::cos(v); });
        case UnaryOp::Tanh: return unary_loop<T, T>(out, x, [](T v) { return std::tanh(v); });
        case UnaryOp::Sigmoid: return unary_loop<T, T>(out, x, [](T v) { return scalar_sigmoid(v); });
        case UnaryOp::Log1p: return unary_loop<T, T>(out, x, [](T v) { return std::log1p(v); });
        case UnaryOp::Expm1: return unary_loop<T, T>(out, x, [](T v) { return std::expm1(v); });
        case UnaryOp::Floor: return unary_loop<T, T>(out, x, [](T v) { return std::floor(v); });
        case UnaryOp::Ceil: return unary_loop<T, T>(out, x, [](T v) { return std::ceil(v); });
        case UnaryOp::Round: return unary_loop<T, T>(out, x, [](T v) { return std::nearbyint(v); });
        default: break;
      }
    }
    if constexpr (!std::is_same_v<T, bool>) {
      switch (op) {
        case UnaryOp::Neg: return unary_loop<T, T>(out, x, [](T v) { return scalar_neg(v); });
        case UnaryOp::Abs: return unary_loop<T, T>(out, x, [](T v) { return scalar_abs(v); });
        case UnaryOp::Sign: return unary_loop<T, T>(out, x, [](T v) { return scalar_sign(v); });
        case UnaryOp::Relu: return unary_loop<T, T>(out, x, [](T v) { return v < T(0) ? T(0) : v; });
        case UnaryOp::Floor:
        case UnaryOp::Ceil:
        case UnaryOp::Round: return unary_loop<T, T>(out, x, [](T v) { return v; });
        default: break;
      }
    }
    LAMINA_FAIL(TypeError, name, "not supported for dtype ", dtype_name(x.dtype()));
  });
}

void clamp(const Tensor& out, const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "clamp", [&](auto tag) {
    using T = decltype(tag);
    const bool has_lo = min.has_value(), has_hi = max.has_value();
    const T lo = has_lo ? min->to<T>() : T(0), hi = has_hi ? max->to<T>() : T(0);
    unary_loop<T, T>(out, x, [=](T v) { return scalar_clamp(v, has_lo, lo, has_hi, hi); });
  });
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  LAMINA_DISPATCH_ALL(a.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    ternary_loop<T, bool, T>(out, cond, a, b, [](bool c, T x, T y) { return c ? x : y; });
  });
}

namespace {
template <typename Pred>
bool any_of_int64(const Tensor& x, const Pred& pred) {
  std::atomic<bool> found{false};
  const auto p = make_plan<1>(x.sizes(), {x.strides()}, "any");
  const int64_t* px = x.data<int64_t>();
  const int64_t s = p.strides[0][p.ndim - 1];
  plan_parallel_for(p, kElementwiseGrain, [&](const int64_t* off, int64_t n) {
    bool f = false;
    for (int64_t k = 0; k < n; ++k) f |= pred(px[off[0] + k * s]);
    if (f) found.store(true);
  });
  return found.load();
}
}  // namespace

bool any_zero(const Tensor& x) {
  return any_of_int64(x, [](int64_t v) { return v == 0; });
}
bool any_negative(const Tensor& x) {
  return any_of_int64(x, [](int64_t v) { return v < 0; });
}

}  // namespace lamina::cpu
