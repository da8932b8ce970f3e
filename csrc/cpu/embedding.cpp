// CPU kernels for ops/embedding.h. Forward copies rows in parallel. Backward is deterministic:
// threads split the embedding dimension D into column ranges, and each adds the rows of
// grad_output in index order into its own columns, so no two threads touch the same element and
// the summation order never changes.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "ops/embedding.h"

namespace lamina::cpu {

void embedding_forward(const Tensor& out, const Tensor& weight, const Tensor& indices) {
  const int64_t n = indices.numel(), D = weight.size(1);
  const int64_t* idx = indices.data<int64_t>();
  LAMINA_DISPATCH_FLOAT(weight.dtype(), "embedding", [&](auto tag) {
    using T = decltype(tag);
    const T* w = weight.data<T>();
    T* y = out.data<T>();
    parallel_for(0, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) std::copy(w + idx[i] * D, w + (idx[i] + 1) * D, y + i * D);
    });
  });
}

void embedding_backward(const Tensor& grad_weight, const Tensor& grad_output, const Tensor& indices,
                        int64_t padding_idx, bool scale_grad_by_freq) {
  const int64_t n = indices.numel(), N = grad_weight.size(0), D = grad_weight.size(1);
  const int64_t* idx = indices.data<int64_t>();
  std::vector<int64_t> counts;
  if (scale_grad_by_freq) {
    counts.assign(static_cast<size_t>(N), 0);
    for (int64_t i = 0; i < n; ++i) ++counts[idx[i]];
  }
  LAMINA_DISPATCH_FLOAT(grad_weight.dtype(), "embedding", [&](auto tag) {
    using T = decltype(tag);
    T* gw = grad_weight.data<T>();
    const T* g = grad_output.data<T>();
    std::fill(gw, gw + N * D, T(0));
    const int64_t grain = std::max<int64_t>(16, 65536 / std::max<int64_t>(n, 1));
    parallel_for(0, D, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = idx[i];
        if (k == padding_idx) continue;
        const T* src = g + i * D;
        T* dst = gw + k * D;
        if (scale_grad_by_freq) {
          const T s = T(1) / static_cast<T>(counts[k]);
          for (int64_t c = c0; c < c1; ++c) dst[c] += src[c] * s;
        } else {
          for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
        }
      }
    });
  });
}

}  // namespace lamina::cpu
