// CPU kernels for ops/copy.h.
#include "ops/copy.h"

#include <type_traits>

#include "cpu/loops.h"

namespace lamina::cpu {

namespace {
template <typename To, typename From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) return v != From(0);
  else return static_cast<To>(v);
}
}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  LAMINA_DISPATCH_ALL(dst.dtype(), "copy_", [&](auto dtag) {
    using D = decltype(dtag);
    LAMINA_DISPATCH_ALL(src.dtype(), "copy_", [&](auto stag) {
      using S = decltype(stag);
      unary_loop<D, S>(dst, src, [](S v) { return convert<D>(v); });
    });
  });
}

void fill(const Tensor& x, Scalar value) {
  LAMINA_DISPATCH_ALL(x.dtype(), "fill_", [&](auto tag) {
    using T = decltype(tag);
    const T v = value.to<T>();
    const auto p = make_plan<1>(x.sizes(), {x.strides()}, "fill_");
    T* px = x.data<T>();
    const int64_t s = p.strides[0][p.ndim - 1];
    plan_parallel_for(p, kElementwiseGrain, [&](const int64_t* off, int64_t n) {
      T* o = px + off[0];
      for (int64_t k = 0; k < n; ++k) o[k * s] = v;
    });
  });
}

void arange(const Tensor& out, Scalar start, Scalar step) {
  LAMINA_DISPATCH_NUMERIC(out.dtype(), "arange", [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    parallel_for(0, out.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if constexpr (std::is_integral_v<T>) po[i] = start.to<T>() + static_cast<T>(i) * step.to<T>();
        else po[i] = static_cast<T>(start.d + static_cast<double>(i) * step.d);
      }
    });
  });
}

}  // namespace lamina::cpu
