// A plain, correct GEMM (i-k-j loops, rows split across threads): the baseline the packed GEMM
// is validated against and the implementation until it lands.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"

namespace lamina::cpu {
namespace {

template <typename T>
void gemm_ref(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  parallel_for(0, M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * K / 64 + 1)), [&](int64_t b, int64_t e) {
    std::vector<T> acc(static_cast<size_t>(N));
    for (int64_t i = b; i < e; ++i) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T a = ta ? A[k * lda + i] : A[i * lda + k];
        if (tb) {
          for (int64_t j = 0; j < N; ++j) acc[j] += a * B[j * ldb + k];
        } else {
          const T* brow = B + k * ldb;
          for (int64_t j = 0; j < N; ++j) acc[j] += a * brow[j];
        }
      }
      T* c = C + i * ldc;
      for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + (beta == T(0) ? T(0) : beta * c[j]);
    }
  });
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_ref<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_ref<double>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* sgemm_kernel_name() { return "reference"; }

}  // namespace lamina::cpu
