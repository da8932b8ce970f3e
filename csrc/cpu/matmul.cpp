// CPU kernel for ops/matmul.h. Float32 and float64 go through the packed GEMM (cpu/gemm/gemm.h),
// one call per batch entry, with each operand's inner two dims read in place when either of them
// has unit stride (as a transposed operand when it is the row dim) and copied contiguous first
// otherwise. int64 keeps a plain i-k-j loop.
#include "ops/matmul.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/copy.h"

namespace lamina::cpu {
namespace {

// How the GEMM reads one operand [B, R, C]: base pointer, batch stride, transposed or not and its
// leading dimension.
template <typename T>
struct GemmOperand {
  Tensor keep;  // the contiguous copy, when one was needed
  const T* data = nullptr;
  int64_t batch_stride = 0;
  bool trans = false;
  int64_t ld = 0;
};

template <typename T>
GemmOperand<T> gemm_operand(const Tensor& t) {
  GemmOperand<T> g;
  const int64_t rows = t.size(1), cols = t.size(2), s1 = t.stride(1), s2 = t.stride(2);
  Tensor src = t;
  if (!(s2 == 1 || cols == 1) && !(s1 == 1 || rows == 1)) {
    src = contiguous(t);
    g.keep = src;
  }
  g.data = src.data<T>();
  g.batch_stride = src.stride(0);
  const int64_t r1 = src.stride(1), r2 = src.stride(2);
  if (r2 == 1 || cols == 1) {  // rows of `cols` contiguous values
    g.trans = false;
    g.ld = rows == 1 ? cols : r1;
  } else {  // columns contiguous: the transpose of a row-major [cols, rows] matrix
    g.trans = true;
    g.ld = cols == 1 ? rows : r2;
  }
  return g;
}

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
          T* C) {
  if constexpr (std::is_same_v<T, float>)
    sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
  else
    dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, 0.0, C, N);
}

template <typename T>
void bmm_gemm(const Tensor& out, const Tensor& a, const Tensor& b) {
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const GemmOperand<T> ga = gemm_operand<T>(a), gb = gemm_operand<T>(b);
  T* po = out.data<T>();
  auto one = [&](int64_t i) {
    gemm<T>(ga.trans, gb.trans, M, N, K, ga.data + i * ga.batch_stride, ga.ld, gb.data + i * gb.batch_stride, gb.ld,
            po + i * M * N);
  };
  // Many small products: one per thread, each GEMM on its calling thread. Otherwise one after
  // another, each GEMM using all threads.
  const int64_t work = M * N * std::max<int64_t>(K, 1);
  if (B > 1 && work < (int64_t(1) << 20)) {
    parallel_for(0, B, std::max<int64_t>(1, (int64_t(1) << 16) / work), [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < B; ++i) one(i);
  }
}

void bmm_int64(const Tensor& out, const Tensor& a, const Tensor& b) {
  using T = int64_t;
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  const int64_t as0 = a.stride(0), as1 = a.stride(1), as2 = a.stride(2);
  const int64_t bs0 = b.stride(0), bs1 = b.stride(1), bs2 = b.stride(2);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, K * N));
  parallel_for(0, B * M, grain, [&](int64_t begin, int64_t end) {
    std::vector<T> acc(static_cast<size_t>(N));
    for (int64_t bm = begin; bm < end; ++bm) {
      const int64_t bi = bm / M, i = bm % M;
      std::fill(acc.begin(), acc.end(), T(0));
      const T* arow = pa + bi * as0 + i * as1;
      for (int64_t k = 0; k < K; ++k) {
        const T av = arow[k * as2];
        const T* brow = pb + bi * bs0 + k * bs1;
        for (int64_t j = 0; j < N; ++j) acc[j] += av * brow[j * bs2];
      }
      T* orow = po + bm * N;
      for (int64_t j = 0; j < N; ++j) orow[j] = acc[j];
    }
  });
}

}  // namespace

void bmm(const Tensor& out, const Tensor& a, const Tensor& b) {
  LAMINA_DISPATCH_NUMERIC(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, int64_t>)
      bmm_int64(out, a, b);
    else
      bmm_gemm<T>(out, a, b);
  });
}

}  // namespace lamina::cpu
