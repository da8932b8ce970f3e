// The plain, correct GEMM (i-k-j loops, accumulating in double; rows split across threads) that
// tests check the packed GEMM against.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm_internal.h"

namespace lamina::cpu {
namespace {

template <typename T>
void gemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  parallel_for(0, M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * K / 64 + 1)), [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(N));
    for (int64_t i = b; i < e; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        for (int64_t j = 0; j < N; ++j) acc[j] += a * static_cast<double>(tb ? B[j * ldb + k] : B[k * ldb + j]);
      }
      T* c = C + i * ldc;
      for (int64_t j = 0; j < N; ++j)
        c[j] = static_cast<T>(alpha * acc[j] + (beta == T(0) ? 0.0 : static_cast<double>(beta) * c[j]));
    }
  });
}

}  // namespace

void sgemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_ref<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                     const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_ref<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace lamina::cpu
