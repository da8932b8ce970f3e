// CPU kernels for ops/dropout.h. One Philox block gives the uniforms of 4 consecutive elements
// (core/rng.h: element i is lane i % 4 of block offset + i / 4), so tasks split on block
// boundaries and each block is computed once.
#include "ops/dropout.h"

#include <algorithm>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace lamina::cpu {

namespace {
constexpr int64_t kBlockGrain = 2048;  // blocks of 4 elements per task below which it runs inline
}

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
      for (int64_t blk = b; blk < e; ++blk) {
        const Philox4 r = philox4x32(offset + static_cast<uint64_t>(blk), seed);
        const int64_t i0 = blk * 4, lanes = std::min<int64_t>(4, n - i0);
        for (int64_t l = 0; l < lanes; ++l) {
          const bool keep = static_cast<double>(uniform_float(r.v[l])) >= p;
          pm[i0 + l] = keep;
          py[i0 + l] = px[i0 + l] * (keep ? s : T(0));
        }
      }
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
