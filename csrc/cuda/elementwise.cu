// Binary elementwise ops, torch.where and the any_zero/any_negative checks on CUDA.
// Semantics follow the PyTorch pointwise ops (https://pytorch.org/docs/stable/torch.html#pointwise-ops)
// through the scalar functions the CPU kernels use too (ops/scalar_math.h): comparisons and
// logical_and/or write bool; pow on int64 is integer power; floor_divide and remainder are
// Python's // and %; maximum/minimum propagate NaN. Arithmetic on bool is a TypeError, as on the
// CPU. Integer division by zero is rejected before the kernel (any_zero); the kernel writes 0
// there rather than rely on the hardware.
// Unary ops and clamp are in unary.cu.
#include <type_traits>

#include "cuda/loops.cuh"
#include "ops/elementwise.h"
#include "ops/scalar_math.h"

namespace lamina::cuda {
namespace {

constexpr bool writes_bool(BinaryOp op) {
  switch (op) {
    case BinaryOp::Eq: case BinaryOp::Ne: case BinaryOp::Lt: case BinaryOp::Le:
    case BinaryOp::Gt: case BinaryOp::Ge: case BinaryOp::LogicalAnd: case BinaryOp::LogicalOr:
      return true;
    default:
      return false;
  }
}

// The scalar functions are shared with the CPU kernels (ops/scalar_math.h).
template <BinaryOp OP, typename T>
__device__ __forceinline__ auto binary_value(T a, T b) {
  if constexpr (OP == BinaryOp::Eq) return a == b;
  else if constexpr (OP == BinaryOp::Ne) return a != b;
  else if constexpr (OP == BinaryOp::Lt) return a < b;
  else if constexpr (OP == BinaryOp::Le) return a <= b;
  else if constexpr (OP == BinaryOp::Gt) return a > b;
  else if constexpr (OP == BinaryOp::Ge) return a >= b;
  else if constexpr (OP == BinaryOp::LogicalAnd) return (a != T(0)) && (b != T(0));
  else if constexpr (OP == BinaryOp::LogicalOr) return (a != T(0)) || (b != T(0));
  else if constexpr (OP == BinaryOp::Add) return T(a + b);
  else if constexpr (OP == BinaryOp::Sub) return T(a - b);
  else if constexpr (OP == BinaryOp::Mul) return T(a * b);
  else if constexpr (OP == BinaryOp::Div) {
    if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : T(a / b);
    else return T(a / b);
  } else if constexpr (OP == BinaryOp::Pow) {
    return scalar_pow(a, b);
  } else if constexpr (OP == BinaryOp::Maximum) {
    return scalar_max(a, b);
  } else if constexpr (OP == BinaryOp::Minimum) {
    return scalar_min(a, b);
  } else if constexpr (OP == BinaryOp::FloorDiv) {
    if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : scalar_floordiv(a, b);
    else return scalar_floordiv(a, b);
  } else {
    static_assert(OP == BinaryOp::Remainder, "unhandled binary op");
    if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : scalar_remainder(a, b);
    else return scalar_remainder(a, b);
  }
}

template <BinaryOp OP, typename T>
struct BinaryBody {
  using O = std::conditional_t<writes_bool(OP), bool, T>;
  O* out;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[3]) const {
    out[off[0]] = binary_value<OP, T>(a[off[1]], b[off[2]]);
  }
};

template <BinaryOp OP>
void launch_binary(const Tensor& out, const Tensor& a, const Tensor& b, const char* name) {
  const DType want = writes_bool(OP) ? DType::Bool : a.dtype();
  LAMINA_CHECK(out.dtype() == want, TypeError, name, "CUDA kernel expects an output of dtype ",
               dtype_name(want), ", got ", dtype_name(out.dtype()));
  const Shape& shape = out.sizes();
  const StridedPlan<3> plan = make_plan<3>(
      shape, {out.strides(), strides_for(a, shape, name), strides_for(b, shape, name)}, name);
  LAMINA_DISPATCH_ALL(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> && !writes_bool(OP)) {
      LAMINA_FAIL(TypeError, name, "not supported for dtype bool");
    } else {
      using Body = BinaryBody<OP, T>;
      const Body body{static_cast<typename Body::O*>(out.data_ptr()), a.data<T>(), b.data<T>()};
      launch_plan(plan, body, out.device().index, name);
    }
  });
}

template <typename T>
struct WhereBody {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t (&off)[4]) const {
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
};

template <typename T, bool kNegative>
struct FlagBody {
  const T* x;
  int* flag;
  __device__ void operator()(const int64_t (&off)[1]) const {
    const T v = x[off[0]];
    const bool hit = kNegative ? (v < T(0)) : (v == T(0));
    if (hit) *flag = 1;  // every writer stores 1: the race is benign
  }
};

// True when some element of x is zero (kNegative = false) or negative (true).
template <bool kNegative>
bool any_flag(const Tensor& x, const char* name) {
  if (x.numel() == 0) return false;
  if (kNegative && x.dtype() == DType::Bool) return false;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  DataPtr flag_mem = allocate(sizeof(int), device);
  int* flag = static_cast<int*>(flag_mem.get());
  LAMINA_CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), stream), name);
  const StridedPlan<1> plan = make_plan<1>(x.sizes(), {x.strides()}, name);
  LAMINA_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    launch_plan(plan, FlagBody<T, kNegative>{x.data<T>(), flag}, device, name);
  });
  int host = 0;
  LAMINA_CUDA_CHECK(cudaMemcpyAsync(&host, flag, sizeof(int), cudaMemcpyDeviceToHost, stream), name);
  LAMINA_CUDA_CHECK(cudaStreamSynchronize(stream), name);
  return host != 0;
}

}  // namespace

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  if (out.numel() == 0) return;
  LAMINA_CHECK(a.dtype() == b.dtype(), TypeError, name, "CUDA kernel expects operands of one dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  DeviceGuard guard(out.device().index);
  switch (op) {
#define LAMINA_BINARY_CASE(OP) \
  case BinaryOp::OP: return launch_binary<BinaryOp::OP>(out, a, b, name);
    LAMINA_BINARY_CASE(Add)
    LAMINA_BINARY_CASE(Sub)
    LAMINA_BINARY_CASE(Mul)
    LAMINA_BINARY_CASE(Div)
    LAMINA_BINARY_CASE(Pow)
    LAMINA_BINARY_CASE(Maximum)
    LAMINA_BINARY_CASE(Minimum)
    LAMINA_BINARY_CASE(FloorDiv)
    LAMINA_BINARY_CASE(Remainder)
    LAMINA_BINARY_CASE(Eq)
    LAMINA_BINARY_CASE(Ne)
    LAMINA_BINARY_CASE(Lt)
    LAMINA_BINARY_CASE(Le)
    LAMINA_BINARY_CASE(Gt)
    LAMINA_BINARY_CASE(Ge)
    LAMINA_BINARY_CASE(LogicalAnd)
    LAMINA_BINARY_CASE(LogicalOr)
#undef LAMINA_BINARY_CASE
  }
  LAMINA_FAIL(ValueError, "binary", "unknown binary op ", static_cast<int>(op));
}

void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  const char* name = "where";
  if (out.numel() == 0) return;
  LAMINA_CHECK(cond.dtype() == DType::Bool, TypeError, name, "condition must be bool, got ",
               dtype_name(cond.dtype()));
  LAMINA_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), TypeError, name,
               "CUDA kernel expects input and other of dtype ", dtype_name(out.dtype()), ", got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  const int device = out.device().index;
  DeviceGuard guard(device);
  const Shape& shape = out.sizes();
  const StridedPlan<4> plan = make_plan<4>(
      shape,
      {out.strides(), strides_for(cond, shape, name), strides_for(a, shape, name),
       strides_for(b, shape, name)},
      name);
  LAMINA_DISPATCH_ALL(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    launch_plan(plan, WhereBody<T>{out.data<T>(), cond.data<bool>(), a.data<T>(), b.data<T>()},
                device, name);
  });
}

bool any_zero(const Tensor& x) { return any_flag<false>(x, "any_zero"); }
bool any_negative(const Tensor& x) { return any_flag<true>(x, "any_negative"); }

}  // namespace lamina::cuda
