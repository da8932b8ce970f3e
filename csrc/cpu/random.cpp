// CPU kernels for ops/random.h: element i of a draw depends only on (seed, offset, i).
#include "ops/random.h"

#include <cmath>
#include <type_traits>

#include "core/parallel.h"
#include "core/rng.h"

namespace lamina::cpu {

constexpr int64_t kRandomGrain = 8192;

void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high) {
  const double span = high - low;
  LAMINA_DISPATCH_FLOAT(x.dtype(), "uniform_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    const T hi = static_cast<T>(high), below_hi = std::nextafter(hi, static_cast<T>(low));
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const uint64_t k = static_cast<uint64_t>(i);
        const double u = std::is_same_v<T, float> ? static_cast<double>(uniform_at_f32(seed, offset, k))
                                                  : uniform_at_f64(seed, offset, k);
        T v = static_cast<T>(low + span * u);
        if (span > 0 && v >= hi) v = below_hi;  // rounding must not reach `high`: [low, high)
        p[i] = v;
      }
    });
  });
}

void normal(const Tensor& x, uint64_t seed, uint64_t offset, double mean, double std) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), "normal_", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<T>(mean + std * normal_at(seed, offset, static_cast<uint64_t>(i)));
    });
  });
}

void randint(const Tensor& x, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "randint", [&](auto tag) {
    using T = decltype(tag);
    T* p = x.data<T>();
    const double span = static_cast<double>(high) - static_cast<double>(low);
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const auto k = static_cast<int64_t>(std::floor(uniform_at_f64(seed, offset, static_cast<uint64_t>(i)) * span));
        int64_t v = static_cast<int64_t>(static_cast<uint64_t>(low) + static_cast<uint64_t>(k));  // wraps, as on CUDA
        if (v >= high) v = high - 1;
        p[i] = static_cast<T>(v);
      }
    });
  });
}

}  // namespace lamina::cpu
