// Single- and double-precision GEMM on the CPU, row-major, BLAS semantics:
//
//   C = alpha * op(A) * op(B) + beta * C        op(A): M x K, op(B): K x N, C: M x N
//
// op(A)[i][k] = trans_a ? A[k * lda + i] : A[i * lda + k]   (likewise for B). Transposed operands
// are read in place, never copied by the caller. beta == 0 overwrites C without reading it (NaN in
// C is ignored), as BLAS does. The routine threads itself (OpenMP, lamina.set_num_threads);
// called from inside a parallel region it runs on the calling thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace lamina::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

void dgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// C = alpha * A * B^T + beta * C for few rows (M up to a few dozen: an RBM's or a layer's small
// batches), computed straight from A (M x K) and B (N x K), both row-major, with no packing: each
// element of B is used only M times, so transposing it into packed panels would cost as much as
// the product. Otherwise sgemm's contract (beta == 0 overwrites C; threads over the columns of
// C), but not its summation order.
void sgemm_small_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_small_nt(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda, const double* B,
                    int64_t ldb, double beta, double* C, int64_t ldc);
// The same, overloaded on the element type for kernels templated on it.
inline void gemm_small_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                          int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_small_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm_small_nt(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm_small_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// A right-hand operand packed once for many products with different left-hand operands (an RNN's
// recurrent weights, multiplied at every time step): s/dgemm_pack_b packs op(B) (K x N, read as
// sgemm reads it); s/dgemm_packed_b then computes C = alpha * op(A) * B + beta * C with it, as sgemm
// would (same micro-kernels, same threading, same per-element summation order), without packing
// B again. The packed copy is independent of the source memory afterwards.
struct PackedB {
  std::shared_ptr<void> data;  // the packed panels (64-byte aligned)
  const void* family = nullptr;  // the micro-kernel family it was packed for
  int64_t K = 0, N = 0, kc = 0, nc = 0;
  bool is_double = false;
};
PackedB sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb);
PackedB dgemm_pack_b(bool trans_b, int64_t K, int64_t N, const double* B, int64_t ldb);
void sgemm_packed_b(bool trans_a, int64_t M, float alpha, const float* A, int64_t lda, const PackedB& B, float beta,
                    float* C, int64_t ldc);
void dgemm_packed_b(bool trans_a, int64_t M, double alpha, const double* A, int64_t lda, const PackedB& B,
                    double beta, double* C, int64_t ldc);

// The left-hand operand of a product with a PackedB, packed ahead (gemm_pack_a_cols), e.g. by
// several threads that each pack the range of columns (k) they produced. The memory belongs to
// the caller (gemm_packed_a_bytes(M_max, B) bytes, 64-byte aligned); a PackedA describes one
// product's M <= M_max rows. s/dgemm_packed_ab then computes C = alpha * op(A) * B + beta * C with no
// packing at all, summing each element in the same order as sgemm.
struct PackedA {
  void* data = nullptr;
  const void* family = nullptr;
  int64_t M = 0, K = 0, mc = 0, kc = 0;
};
size_t gemm_packed_a_bytes(int64_t max_m, const PackedB& B);
PackedA gemm_packed_a(void* buffer, int64_t M, const PackedB& B);
void gemm_pack_a_cols(bool trans_a, const float* A, int64_t lda, int64_t k0, int64_t k1, const PackedA& pa);
void gemm_pack_a_cols(bool trans_a, const double* A, int64_t lda, int64_t k0, int64_t k1, const PackedA& pa);
void sgemm_packed_ab(float alpha, const PackedA& A, const PackedB& B, float beta, float* C, int64_t ldc);
void dgemm_packed_ab(double alpha, const PackedA& A, const PackedB& B, double beta, double* C, int64_t ldc);

// Which micro-kernel family sgemm uses on this CPU ("avx512", "avx2+fma" or "portable").
const char* sgemm_kernel_name();

}  // namespace lamina::cpu
