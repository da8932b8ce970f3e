// Single- and double-precision GEMM on the CPU, row-major, BLAS semantics:
//
//   C = alpha * op(A) * op(B) + beta * C        op(A): M x K, op(B): K x N, C: M x N
//
// op(A)[i][k] = trans_a ? A[k * lda + i] : A[i * lda + k]   (likewise for B). Transposed operands
// are read in place, never copied by the caller. beta == 0 overwrites C without reading it (NaN in
// C is ignored), as BLAS does. The routine threads itself (OpenMP, lamina.set_num_threads);
// called from inside a parallel region it runs on the calling thread.
#pragma once
#include <cstdint>

namespace lamina::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Which micro-kernel family sgemm uses on this CPU ("avx512", "avx2+fma" or "portable").
const char* sgemm_kernel_name();

}  // namespace lamina::cpu
