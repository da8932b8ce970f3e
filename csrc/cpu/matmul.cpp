// CPU kernel for ops/matmul.h: a plain, correct batched product (i-k-j order so the inner loop
// runs along rows of b and out). The packed, cache-blocked GEMM replaces it in its own issue.
#include "ops/matmul.h"

#include <type_traits>
#include <vector>

#include "core/parallel.h"

namespace lamina::cpu {

void bmm(const Tensor& out, const Tensor& a, const Tensor& b) {
  LAMINA_DISPATCH_NUMERIC(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
    const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
    const int64_t as0 = a.stride(0), as1 = a.stride(1), as2 = a.stride(2);
    const int64_t bs0 = b.stride(0), bs1 = b.stride(1), bs2 = b.stride(2);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K * N));
    parallel_for(0, B * M, grain, [&](int64_t begin, int64_t end) {
      std::vector<Acc> acc(static_cast<size_t>(N));
      for (int64_t bm = begin; bm < end; ++bm) {
        const int64_t bi = bm / M, i = bm % M;
        std::fill(acc.begin(), acc.end(), Acc(0));
        const T* arow = pa + bi * as0 + i * as1;
        for (int64_t k = 0; k < K; ++k) {
          const Acc av = static_cast<Acc>(arow[k * as2]);
          const T* brow = pb + bi * bs0 + k * bs1;
          if (bs2 == 1) {
            for (int64_t j = 0; j < N; ++j) acc[j] += av * static_cast<Acc>(brow[j]);
          } else {
            for (int64_t j = 0; j < N; ++j) acc[j] += av * static_cast<Acc>(brow[j * bs2]);
          }
        }
        T* orow = po + bm * N;
        for (int64_t j = 0; j < N; ++j) orow[j] = static_cast<T>(acc[j]);
      }
    });
  });
}

}  // namespace lamina::cpu
