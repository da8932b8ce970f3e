// CPU kernels for ops/random.h: element i of a draw depends only on (seed, offset, i).
#include "ops/random.h"

#include <cmath>

#include "core/parallel.h"
#include "core/rng.h"

namespace lamina::cpu {

constexpr int64_t kRandomGrain = 8192;

void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high) {
  const double span = high - low;
  if (x.dtype() == DType::Float32) {
    float* p = x.data<float>();
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = static_cast<float>(low + span * uniform_at_f32(seed, offset, static_cast<uint64_t>(i)));
    });
  } else {
    double* p = x.data<double>();
    parallel_for(0, x.numel(), kRandomGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = low + span * uniform_at_f64(seed, offset, static_cast<uint64_t>(i));
    });
  }
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
        int64_t v = low + static_cast<int64_t>(std::floor(uniform_at_f64(seed, offset, static_cast<uint64_t>(i)) * span));
        if (v >= high) v = high - 1;
        p[i] = static_cast<T>(v);
      }
    });
  });
}

}  // namespace lamina::cpu
