// CPU kernels for ops/random.h: element i of a draw depends only on (seed, offset, i).
#include "cpu/fast_math.h"  // first: see its note on -fno-trapping-math
#include "ops/random.h"

#include <cmath>
#include <type_traits>

#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/isa.h"

namespace lamina::cpu {

constexpr int64_t kRandomGrain = 8192;

namespace {

bool use_avx2() { return cpu_has_avx2_fma(); }

// Elements [b, e) of a uniform draw; each Philox block is computed once for all its elements
// (core/rng.h for_each_draw), in a loop the AVX2 build vectorises.
template <typename T>
[[gnu::always_inline]] inline void uniform_range_body(T* p, int64_t b, int64_t e, uint64_t seed, uint64_t offset,
                                                      double low, double span, T hi, T below_hi) {
  auto put = [&](int64_t i, double u) {
    T v = static_cast<T>(low + span * u);
    if (span > 0 && v >= hi) v = below_hi;  // rounding must not reach `high`: [low, high)
    p[i] = v;
  };
  const uint64_t i0 = static_cast<uint64_t>(b), i1 = static_cast<uint64_t>(e);
  if constexpr (std::is_same_v<T, float>)
    for_each_draw<1>(seed, offset, i0, i1, [&](int64_t i, const uint32_t* u) { put(i, double(uniform_float(u[0]))); });
  else
    for_each_draw<2>(seed, offset, i0, i1, [&](int64_t i, const uint32_t* u) { put(i, uniform_double(u[0], u[1])); });
}

// Elements [b, e) of a normal draw: normal_at (core/rng.h) with the blocks generated a chunk at a
// time; element i is Box-Muller on the four lanes of block offset + i, evaluated by
// box_muller_f64 (cpu/fast_math.h: libm's log and cos to a few ulp of double, vectorised).
template <typename T>
[[gnu::always_inline]] inline void normal_range_body(T* p, int64_t b, int64_t e, uint64_t seed, uint64_t offset,
                                                     double mean, double std) {
  for_each_draw<4>(seed, offset, static_cast<uint64_t>(b), static_cast<uint64_t>(e), [&](int64_t i, const uint32_t* r) {
    p[i] = static_cast<T>(mean + std * box_muller_f64(r[0], r[1], r[2], r[3]));
  });
}

LAMINA_COMPILE_TWICE(normal_range,
                     (T * p, int64_t b, int64_t e, uint64_t seed, uint64_t offset, double mean, double std),
                     (p, b, e, seed, offset, mean, std))

LAMINA_COMPILE_TWICE(uniform_range,
                     (T * p, int64_t b, int64_t e, uint64_t seed, uint64_t offset, double low, double span, T hi,
                      T below_hi),
                     (p, b, e, seed, offset, low, span, hi, below_hi))

}  // namespace

void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high) {
  const double span = high - low;
  LAMINA_DISPATCH_FLOAT(x.dtype(), "uniform_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    const T hi = static_cast<T>(high), below_hi = std::nextafter(hi, static_cast<T>(low));
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      uniform_range<T>(p, b, e, seed, offset, low, span, hi, below_hi);
    });
  });
}

void normal(const Tensor& x, uint64_t seed, uint64_t offset, double mean, double std) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), "normal_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      normal_range<T>(p, b, e, seed, offset, mean, std);
    });
  });
}

void randint(const Tensor& x, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "randint", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    const double span = static_cast<double>(high) - static_cast<double>(low);
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for_each_draw<2>(seed, offset, static_cast<uint64_t>(b), static_cast<uint64_t>(e),
                       [&](int64_t i, const uint32_t* u) {  // uniform_at_f64, each block once
        const auto k = static_cast<int64_t>(std::floor(uniform_double(u[0], u[1]) * span));
        int64_t v = static_cast<int64_t>(static_cast<uint64_t>(low) + static_cast<uint64_t>(k));  // wraps, as on CUDA
        if (v >= high) v = high - 1;
        p[i] = static_cast<T>(v);
      });
    });
  });
}

}  // namespace lamina::cpu
