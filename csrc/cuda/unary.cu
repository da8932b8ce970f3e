// Unary elementwise ops and torch.clamp on CUDA (binary ops and where are in elementwise.cu).
// Semantics follow PyTorch through the scalar functions the CPU kernels use too
// (ops/scalar_math.h): round is half to even (torch.round), relu keeps NaN, sigmoid is
// 1 / (1 + exp(-x)), logical_not writes bool for any dtype, clamp keeps a NaN input and applies
// max after min. Float functions run in float for float32 and in double for float64. The dtypes
// each op accepts are the CPU's: every op on float32/float64; neg, abs, sign, relu, floor, ceil,
// round and logical_not on int64 (floor/ceil/round are the identity); logical_not on bool;
// anything else is a TypeError.
#include <optional>
#include <type_traits>

#include "cuda/loops.cuh"
#include "ops/elementwise.h"
#include "ops/scalar_math.h"

namespace lamina::cuda {
namespace {

template <UnaryOp OP, typename T>
__device__ __forceinline__ T numeric_unary(T x) {
  if constexpr (OP == UnaryOp::Neg) return scalar_neg(x);
  else if constexpr (OP == UnaryOp::Abs) return scalar_abs(x);
  else if constexpr (OP == UnaryOp::Sign) return scalar_sign(x);
  else if constexpr (OP == UnaryOp::Relu) return x < T(0) ? T(0) : x;  // NaN stays NaN
  else {
    static_assert(OP == UnaryOp::Floor || OP == UnaryOp::Ceil || OP == UnaryOp::Round,
                  "not an int64 op");
    return x;
  }
}

template <UnaryOp OP, typename T>
__device__ __forceinline__ T float_unary(T x) {
  if constexpr (OP == UnaryOp::Exp) return math::exp(x);
  else if constexpr (OP == UnaryOp::Log) return math::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return math::sqrt(x);
  else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / math::sqrt(x);
  else if constexpr (OP == UnaryOp::Reciprocal) return T(1) / x;
  else if constexpr (OP == UnaryOp::Sin) return math::sin(x);
  else if constexpr (OP == UnaryOp::Cos) return math::cos(x);
  else if constexpr (OP == UnaryOp::Tanh) return math::tanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return scalar_sigmoid(x);
  else if constexpr (OP == UnaryOp::Log1p) return math::log1p(x);
  else if constexpr (OP == UnaryOp::Expm1) return math::expm1(x);
  else if constexpr (OP == UnaryOp::Floor) return math::floor(x);
  else if constexpr (OP == UnaryOp::Ceil) return math::ceil(x);
  else if constexpr (OP == UnaryOp::Round) return math::rint(x);
  else return numeric_unary<OP>(x);
}

// The ops defined for int64 too (floor, ceil and round are the identity on integers).
template <UnaryOp OP>
constexpr bool int_ok() {
  return OP == UnaryOp::Neg || OP == UnaryOp::Abs || OP == UnaryOp::Sign || OP == UnaryOp::Relu ||
         OP == UnaryOp::Floor || OP == UnaryOp::Ceil || OP == UnaryOp::Round ||
         OP == UnaryOp::LogicalNot;
}

template <UnaryOp OP, typename T>
constexpr bool supported() {
  if constexpr (OP == UnaryOp::LogicalNot) return true;
  else if constexpr (std::is_same_v<T, bool>) return false;
  else if constexpr (std::is_floating_point_v<T>) return true;
  else return int_ok<OP>();
}

template <UnaryOp OP, typename T>
__device__ __forceinline__ auto unary_value(T x) {
  if constexpr (OP == UnaryOp::LogicalNot) return x == T(0);
  else if constexpr (std::is_floating_point_v<T>) return float_unary<OP>(x);
  else return numeric_unary<OP>(x);
}

template <UnaryOp OP, typename T>
struct UnaryBody {
  using O = std::conditional_t<OP == UnaryOp::LogicalNot, bool, T>;
  O* out;
  const T* x;
  __device__ void operator()(const int64_t (&off)[2]) const {
    out[off[0]] = unary_value<OP, T>(x[off[1]]);
  }
};

template <UnaryOp OP>
void launch_unary(const Tensor& out, const Tensor& x, const char* name) {
  const DType want = OP == UnaryOp::LogicalNot ? DType::Bool : x.dtype();
  LAMINA_CHECK(out.dtype() == want, TypeError, name, "CUDA kernel expects an output of dtype ",
               dtype_name(want), ", got ", dtype_name(out.dtype()));
  const Shape& shape = out.sizes();
  const StridedPlan<2> plan =
      make_plan<2>(shape, {out.strides(), strides_for(x, shape, name)}, name);
  LAMINA_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!supported<OP, T>()) {
      LAMINA_FAIL(TypeError, name, "not supported for dtype ", dtype_name(x.dtype()));
    } else {
      using Body = UnaryBody<OP, T>;
      const Body body{static_cast<typename Body::O*>(out.data_ptr()), x.data<T>()};
      launch_plan(plan, body, out.device().index, name);
    }
  });
}

template <typename T>
struct ClampBody {
  T* out;
  const T* x;
  T lo, hi;
  bool has_lo, has_hi;
  __device__ void operator()(const int64_t (&off)[2]) const {
    out[off[0]] = scalar_clamp(x[off[1]], has_lo, lo, has_hi, hi);
  }
};

}  // namespace

void unary(UnaryOp op, const Tensor& out, const Tensor& x) {
  const char* name = unary_op_name(op);
  if (out.numel() == 0) return;
  DeviceGuard guard(out.device().index);
  switch (op) {
#define LAMINA_UNARY_CASE(OP) \
  case UnaryOp::OP: return launch_unary<UnaryOp::OP>(out, x, name);
    LAMINA_UNARY_CASE(Neg)
    LAMINA_UNARY_CASE(Exp)
    LAMINA_UNARY_CASE(Log)
    LAMINA_UNARY_CASE(Sqrt)
    LAMINA_UNARY_CASE(Rsqrt)
    LAMINA_UNARY_CASE(Abs)
    LAMINA_UNARY_CASE(Sign)
    LAMINA_UNARY_CASE(Reciprocal)
    LAMINA_UNARY_CASE(Sin)
    LAMINA_UNARY_CASE(Cos)
    LAMINA_UNARY_CASE(Tanh)
    LAMINA_UNARY_CASE(Sigmoid)
    LAMINA_UNARY_CASE(Log1p)
    LAMINA_UNARY_CASE(Expm1)
    LAMINA_UNARY_CASE(Floor)
    LAMINA_UNARY_CASE(Ceil)
    LAMINA_UNARY_CASE(Round)
    LAMINA_UNARY_CASE(LogicalNot)
    LAMINA_UNARY_CASE(Relu)
#undef LAMINA_UNARY_CASE
  }
  LAMINA_FAIL(ValueError, "unary", "unknown unary op ", static_cast<int>(op));
}

void clamp(const Tensor& out, const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  const char* name = "clamp";
  if (out.numel() == 0) return;
  LAMINA_CHECK(out.dtype() == x.dtype(), TypeError, name, "CUDA kernel expects an output of dtype ",
               dtype_name(x.dtype()), ", got ", dtype_name(out.dtype()));
  const int device = out.device().index;
  DeviceGuard guard(device);
  const Shape& shape = out.sizes();
  const StridedPlan<2> plan =
      make_plan<2>(shape, {out.strides(), strides_for(x, shape, name)}, name);
  LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const ClampBody<T> body{out.data<T>(), x.data<T>(),
                            min ? min->to<T>() : T(0), max ? max->to<T>() : T(0),
                            min.has_value(), max.has_value()};
    launch_plan(plan, body, device, name);
  });
}

}  // namespace lamina::cuda
