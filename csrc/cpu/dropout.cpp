// CPU kernels for ops/dropout.h. One Philox block gives the uniforms of 4 consecutive elements
// (core/rng.h: element i is lane i % 4 of block offset + i / 4), so tasks split on block
// boundaries and each block is computed once.
#include "ops/dropout.h"

#include <algorithm>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/isa.h"

namespace lamina::cpu {

namespace {
constexpr int64_t kBlockGrain = 2048;  // blocks of 4 elements per task below which it runs inline

bool use_avx2() { return cpu_has_avx2_fma(); }

// Elements [b, e): each Philox block computed once for its four elements (core/rng.h
// for_each_draw), in a loop the AVX2 build vectorises.
template <typename T>
[[gnu::always_inline]] inline void dropout_range_body(const T* px, T* py, bool* pm, int64_t b, int64_t e, double p,
                                                      T s, uint64_t seed, uint64_t offset) {
  for_each_draw<1>(seed, offset, static_cast<uint64_t>(b), static_cast<uint64_t>(e), [&](int64_t i, const uint32_t* u) {
    const bool keep = static_cast<double>(uniform_float(u[0])) >= p;
    pm[i] = keep;
    py[i] = px[i] * (keep ? s : T(0));
  });
}

LAMINA_COMPILE_TWICE(dropout_range,
                     (const T* px, T* py, bool* pm, int64_t b, int64_t e, double p, T s, uint64_t seed,
                      uint64_t offset),
                     (px, py, pm, b, e, p, s, seed, offset))
}  // namespace

void dropout_forward(const Tensor& out, const Tensor& mask, const Tensor& x, double p, double scale, uint64_t seed,
                     uint64_t offset) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = out.data<T>();
    bool* pm = mask.data<bool>();
    const int64_t n = x.numel();
    const T s = static_cast<T>(scale);
    parallel_for(0, (n + 3) / 4, kBlockGrain, [&](int64_t b, int64_t e) {
      dropout_range<T>(px, py, pm, b * 4, std::min(n, e * 4), p, s, seed, offset);
    });
  });
}

void dropout_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& mask, double scale) {
  LAMINA_DISPATCH_FLOAT(grad_output.dtype(), "dropout_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_output.data<T>();
    const bool* pm = mask.data<bool>();
    T* pd = grad_input.data<T>();
    const T s = static_cast<T>(scale);
    parallel_for(0, grad_output.numel(), 32768, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) pd[i] = pg[i] * (pm[i] ? s : T(0));
    });
  });
}

}  // namespace lamina::cpu
