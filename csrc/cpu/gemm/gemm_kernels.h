// The pieces of the packed GEMM that depend on the instruction set: one micro-kernel and two
// packing routines per family, each family compiled in its own file with its own flags
// (gemm_avx2.cpp: -mavx2 -mfma, gemm_avx512.cpp: -mavx512f, gemm_portable.cpp: none) and chosen
// at run time by the driver (gemm.cpp) from cpu_features(). Types and declarations only: this
// header is included by files built with different -m flags, so it must not define any function.
//
// Packed layouts (the driver owns the buffers, 64-byte aligned; packers write only inside the
// panels they are given, so threads may pack neighbouring panels of one buffer concurrently):
//   A block (m x k of op(A)): ceil(m / MR) panels one after another; panel p holds, for each
//     l in [0, k), the MR values op(A)[p*MR + r][l] (r = 0..MR-1) contiguously; rows past m are 0.
//   B panel (k x n of op(B)): ceil(n / NR) panels; panel q holds, for each l in [0, k), the NR
//     values op(B)[l][q*NR + c] contiguously; columns past n are 0.
// Micro-kernel: C[0:MR, 0:NR] = alpha * Apanel * Bpanel + beta * C, C row-major with row stride
// ldc (kernel_m: the first m rows only, for a short last panel, over one or more B panels; the
// driver routes tiles narrower than NR through a scratch tile). beta == 0 stores without reading C.
#pragma once
#include <cstdint>

namespace lamina::cpu::gemm {

// Slack after every packed buffer (cache-line padding between the buffers of different threads).
constexpr int64_t kPackPad = 64;

template <typename T>
using KernelFn = void (*)(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T alpha, T beta);
// The same for the first m < MR rows only (a block's last, short panel of A), over `panels`
// consecutive full B panels (panel q at b + q * kc * NR, its C columns from q * NR): a short tile
// has too few accumulators to keep the FMA pipes busy on one panel alone.
template <typename T>
using ShortKernelFn = void (*)(int m, int64_t panels, int64_t kc, const T* a, const T* b, T* c, int64_t ldc, T alpha,
                               T beta);
// Short panels of kShortMultiMinRows..kShortMultiMaxRows rows have too few accumulators on one B
// panel (1 x 16 is load-bound anyway, 4 x 16 has 8 chains): the driver hands kernel_m up to
// kShortPanelGroup full panels of those at once, the slivers it has just multiplied with the
// block's full panels (still in L2); other short panels one at a time, while the sliver is in L1.
constexpr int kShortMultiMinRows = 2, kShortMultiMaxRows = 3, kShortPanelGroup = 6;
// Packs op(X)[0:rows, 0:k] where op(X)[i][l] = trans ? x[l * ldx + i] : x[i * ldx + l] (A), or
// op(X)[l][j] = trans ? x[j * ldx + l] : x[l * ldx + j] (B, with rows = n).
template <typename T>
using PackFn = void (*)(bool trans, const T* x, int64_t ldx, int64_t rows, int64_t k, T* out);
// C[0:m, 0:n] = alpha * A B^T + beta * C with no packing (s/dgemm_small_nt): A m x k and B n x k
// row-major, read where they lie; one thread.
template <typename T>
using SmallNtFn = void (*)(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
                           T beta, T* c, int64_t ldc);

// One family of micro-kernels: register tile MR x NR and the cache blocks it was tuned with
// (A block MC x KC stays in L2, a KC x NR sliver of B in L1, the KC x NC panel of B in L3).
template <typename T>
struct KernelFamily {
  const char* name;
  int mr, nr;
  int64_t mc, kc, nc;
  KernelFn<T> kernel;
  ShortKernelFn<T> kernel_m;
  PackFn<T> pack_a;
  PackFn<T> pack_b;
  SmallNtFn<T> small_nt;
};

// Each ISA file defines its family's entry points; a file whose flags the compiler lacks
// defines none, and the driver leaves that family out (LAMINA_GEMM_HAVE_<ISA>).
#define LAMINA_GEMM_DECLARE_FAMILY(ns)                                                                   \
  namespace ns {                                                                                         \
  extern const int kMrF, kNrF, kMrD, kNrD;                                                               \
  void skernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta); \
  void skernel_m(int m, int64_t panels, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, \
                 float alpha, float beta);                                                               \
  void spack_a(bool trans, const float* x, int64_t ldx, int64_t rows, int64_t k, float* out);            \
  void spack_b(bool trans, const float* x, int64_t ldx, int64_t rows, int64_t k, float* out);            \
  void dkernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double alpha,        \
               double beta);                                                                             \
  void dkernel_m(int m, int64_t panels, int64_t kc, const double* a, const double* b, double* c,           \
                 int64_t ldc, double alpha, double beta);                                                \
  void dpack_a(bool trans, const double* x, int64_t ldx, int64_t rows, int64_t k, double* out);          \
  void dpack_b(bool trans, const double* x, int64_t ldx, int64_t rows, int64_t k, double* out);          \
  void ssmall_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,             \
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc);                    \
  void dsmall_nt(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,           \
                 const double* b, int64_t ldb, double beta, double* c, int64_t ldc);                 \
  }

LAMINA_GEMM_DECLARE_FAMILY(portable)
LAMINA_GEMM_DECLARE_FAMILY(avx2)
LAMINA_GEMM_DECLARE_FAMILY(avx512)
LAMINA_GEMM_DECLARE_FAMILY(avx2_wide)  // tests only: the avx512 tiles with AVX2 registers

}  // namespace lamina::cpu::gemm
