// Templates behind every micro-kernel family, included only by the ISA files (gemm_avx2.cpp,
// gemm_avx512.cpp, gemm_portable.cpp). One register-blocked kernel and scalar packers written
// once over a small "vector traits" type S:
//
//   S::T  element type         S::V  register type        S::W  lanes per register
//   S::zero()  S::load(p) (aligned)  S::loadu(p)  S::storeu(p, v)  S::bcast(p)  S::set1(x)
//   S::fma(a, b, c) = a * b + c      S::mul(a, b)
//
// Everything sits in an anonymous namespace on purpose: each ISA file gets its own copy compiled
// with its own -m flags, so the linker can never hand an AVX-512 instantiation to a caller that
// runs on a CPU without it (the usual ODR trap of per-file ISA flags). For the same reason these
// templates call nothing from the standard library.
#pragma once
#include <cstdint>

#include "cpu/gemm/gemm_kernels.h"

namespace lamina::cpu::gemm {
namespace {

template <typename I>
constexpr I imin(I a, I b) { return a < b ? a : b; }

// C[0:ROWS, 0:NV*W] = alpha * A * B + beta * C over kc steps, A packed in panels of MR rows (ROWS
// <= MR: the last, short panel of a block); ROWS x NV accumulators stay in registers. An FMA's
// result is an input of the next step's FMA on the same accumulator 4-5 cycles later, so with two
// FMA pipes a tile needs 8 or more independent accumulators to keep them busy: the short panels
// with fewer (1-3 rows at NV = 2) split k into KS interleaved phases, each with its own
// accumulators, added together at the end.
template <class S, int MR, int NV, int ROWS = MR>
inline void micro_kernel(int64_t kc, const typename S::T* __restrict a, const typename S::T* __restrict b,
                         typename S::T* __restrict c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  using V = typename S::V;
  constexpr int W = S::W;
  constexpr int KS = ROWS * NV >= 8 ? 1 : (ROWS * NV >= 4 ? 2 : 4);
  V acc[KS][ROWS][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i) {
    // C is read (beta != 0) or written only after the k loop: start fetching its lines now.
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + NV * W - 1, 1);
  }
#pragma GCC unroll 4
  for (int s = 0; s < KS; ++s)
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[s][i][j] = S::zero();
  int64_t l = 0;
  if constexpr (KS > 1) {
    for (; l + KS <= kc; l += KS) {
#pragma GCC unroll 4
      for (int s = 0; s < KS; ++s) {
        V bv[NV];
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) bv[j] = S::load(b + s * NV * W + j * W);
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; ++i) {
          const V av = S::bcast(a + s * MR + i);
#pragma GCC unroll 8
          for (int j = 0; j < NV; ++j) acc[s][i][j] = S::fma(av, bv[j], acc[s][i][j]);
        }
      }
      a += KS * MR;
      b += KS * NV * W;
    }
  }
#pragma GCC unroll 4
  for (; l < kc; ++l) {
    V bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = S::load(b + j * W);
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) {
      const V av = S::bcast(a + i);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[0][i][j] = S::fma(av, bv[j], acc[0][i][j]);
    }
    a += MR;
    b += NV * W;
  }
#pragma GCC unroll 4
  for (int s = 1; s < KS; ++s)
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[0][i][j] = S::add(acc[0][i][j], acc[s][i][j]);
  const V va = S::set1(alpha);
  if (beta == typename S::T(0)) {
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) S::storeu(c + i * ldc + j * W, S::mul(acc[0][i][j], va));
  } else {
    const V vb = S::set1(beta);
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        typename S::T* p = c + i * ldc + j * W;
        S::storeu(p, S::fma(acc[0][i][j], va, S::mul(S::loadu(p), vb)));
      }
  }
}

// A short panel's rows (ROWS * NV < 8 accumulators per B panel: 1-3 rows of a 6 x 16 tile) over
// P consecutive full B panels at once (panel p at b + p * kc * NR, its C columns at p * NR): the
// P * ROWS * NV accumulators are independent chains, so the FMA pipes stay busy without
// splitting k as micro_kernel does, and each broadcast of A feeds P * NV FMAs.
template <class S, int MR, int NV, int ROWS, int P>
inline void micro_kernel_multi(int64_t kc, const typename S::T* __restrict a, const typename S::T* __restrict b,
                               typename S::T* __restrict c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  using V = typename S::V;
  constexpr int W = S::W, NR = NV * W;
  V acc[ROWS][P][NV];
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      __builtin_prefetch(c + i * ldc + p * NR, 1);
      __builtin_prefetch(c + i * ldc + p * NR + NR - 1, 1);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][p][j] = S::zero();
    }
  const int64_t bstride = kc * NR;
#pragma GCC unroll 2
  for (int64_t l = 0; l < kc; ++l) {
    V av[ROWS];
#pragma GCC unroll 32
    for (int i = 0; i < ROWS; ++i) av[i] = S::bcast(a + i);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        const V bv = S::load(b + p * bstride + j * W);
#pragma GCC unroll 32
        for (int i = 0; i < ROWS; ++i) acc[i][p][j] = S::fma(av[i], bv, acc[i][p][j]);
      }
    a += MR;
    b += NR;
  }
  const V va = S::set1(alpha);
#pragma GCC unroll 32
  for (int i = 0; i < ROWS; ++i)
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        typename S::T* q = c + i * ldc + p * NR + j * W;
        if (beta == typename S::T(0))
          S::storeu(q, S::mul(acc[i][p][j], va));
        else
          S::storeu(q, S::fma(acc[i][p][j], va, S::mul(S::loadu(q), S::set1(beta))));
      }
}

// ROWS rows over `panels` full B panels in groups of at most P, as even as can be (4 panels with
// P = 3 go as 2 + 2, not 3 + 1: a group of one has too few accumulators). Every group, even of
// one panel, sums k in the same order, so a result never depends on how the driver's threads
// split the panels.
template <class S, int MR, int NV, int ROWS, int P>
inline void short_panel_group(int g, int64_t kc, const typename S::T* a, const typename S::T* b, typename S::T* c,
                              int64_t ldc, typename S::T alpha, typename S::T beta) {
  if constexpr (P > 1)
    if (g < P) return short_panel_group<S, MR, NV, ROWS, P - 1>(g, kc, a, b, c, ldc, alpha, beta);
  micro_kernel_multi<S, MR, NV, ROWS, P>(kc, a, b, c, ldc, alpha, beta);
}

template <class S, int MR, int NV, int ROWS, int P>
inline void short_panel_run(int64_t panels, int64_t kc, const typename S::T* a, const typename S::T* b,
                            typename S::T* c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  constexpr int64_t NR = NV * S::W;
  for (int64_t q = 0; q < panels;) {
    const int64_t left = panels - q, groups = (left + P - 1) / P;
    const int g = static_cast<int>((left + groups - 1) / groups);
    short_panel_group<S, MR, NV, ROWS, P>(g, kc, a, b + q * kc * NR, c + q * NR, ldc, alpha, beta);
    q += g;
  }
}

// The short-panel kernels: m (1 .. MR - 1) rows of C over `panels` consecutive full B panels (see
// kShortPanelGroup). 2 or 3 rows take several panels at once, as many as give a full tile's
// number of accumulators (at most kShortPanelGroup).
template <class S, int MR, int NV, int ROWS = MR - 1>
inline void micro_kernel_rows(int m, int64_t panels, int64_t kc, const typename S::T* a, const typename S::T* b,
                              typename S::T* c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  if constexpr (ROWS >= 1) {
    if (m == ROWS) {
      if constexpr (ROWS >= kShortMultiMinRows && ROWS <= kShortMultiMaxRows) {
        short_panel_run<S, MR, NV, ROWS, imin(kShortPanelGroup, MR / ROWS)>(panels, kc, a, b, c, ldc, alpha, beta);
      } else {
        constexpr int64_t NR = NV * S::W;
        for (int64_t q = 0; q < panels; ++q)
          micro_kernel<S, MR, NV, ROWS>(kc, a, b + q * kc * NR, c + q * NR, ldc, alpha, beta);
      }
    } else {
      micro_kernel_rows<S, MR, NV, ROWS - 1>(m, panels, kc, a, b, c, ldc, alpha, beta);
    }
  }
}

// Scalar packers for any tile shape (and for the edge panels of the vector packers).
template <typename T, int MR>
inline void pack_a_scalar(bool trans, const T* x, int64_t ldx, int64_t m, int64_t k, T* out) {
  for (int64_t i0 = 0; i0 < m; i0 += MR) {
    const int64_t mm = imin<int64_t>(MR, m - i0);
    for (int64_t l = 0; l < k; ++l) {
      T* o = out + l * MR;
      if (trans) {
        const T* src = x + l * ldx + i0;
        for (int64_t r = 0; r < mm; ++r) o[r] = src[r];
      } else {
        const T* src = x + i0 * ldx + l;
        for (int64_t r = 0; r < mm; ++r) o[r] = src[r * ldx];
      }
      for (int64_t r = mm; r < MR; ++r) o[r] = T(0);
    }
    out += MR * k;
  }
}

template <typename T, int NR>
inline void pack_b_scalar(bool trans, const T* x, int64_t ldx, int64_t n, int64_t k, T* out) {
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int64_t nn = imin<int64_t>(NR, n - j0);
    for (int64_t l = 0; l < k; ++l) {
      T* o = out + l * NR;
      if (trans) {
        const T* src = x + j0 * ldx + l;
        for (int64_t c = 0; c < nn; ++c) o[c] = src[c * ldx];
      } else {
        const T* src = x + l * ldx + j0;
        for (int64_t c = 0; c < nn; ++c) o[c] = src[c];
      }
      for (int64_t c = nn; c < NR; ++c) o[c] = T(0);
    }
    out += NR * k;
  }
}

// Plain scalar "vectors" for the portable family (the compiler may still vectorise the tile).
template <typename TT>
struct ScalarTraits {
  using T = TT;
  using V = TT;
  static constexpr int W = 1;
  static V zero() { return T(0); }
  static V load(const T* p) { return *p; }
  static V loadu(const T* p) { return *p; }
  static void storeu(T* p, V v) { *p = v; }
  static V bcast(const T* p) { return *p; }
  static V set1(T x) { return x; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V mul(V a, V b) { return a * b; }
  static V add(V a, V b) { return a + b; }
  static T hsum(V v) { return v; }
};

// ---- Products A B^T with few rows, straight from A and B (gemm.h: s/dgemm_small_nt) -------------
// With M of a few dozen rows, packing B costs as much as the product itself (each element of B is
// used M times), and with B^T the packing is a transpose. A is M x K and B is N x K, both
// row-major: C[i][j] = A row i . B row j, MI x NJ vector accumulators over k, summed across lanes
// at the end; every row is read contiguously. (A B for few rows reads B in columns, which is
// slow for row strides of a multiple of 4 KiB: the packed path does that better.)
template <class S, int MI, int NJ>
inline void dot_tile(int64_t k, const typename S::T* __restrict a, int64_t lda, const typename S::T* __restrict b,
                     int64_t ldb, typename S::T* __restrict c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[MI][NJ];
#pragma GCC unroll 8
  for (int i = 0; i < MI; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) acc[i][j] = S::zero();
  int64_t l = 0;
  for (; l + W <= k; l += W) {
    V bv[NJ];
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) bv[j] = S::loadu(b + j * ldb + l);
#pragma GCC unroll 8
    for (int i = 0; i < MI; ++i) {
      const V av = S::loadu(a + i * lda + l);
#pragma GCC unroll 8
      for (int j = 0; j < NJ; ++j) acc[i][j] = S::fma(av, bv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MI; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NJ; ++j) {
      T s = S::hsum(acc[i][j]);
      for (int64_t q = l; q < k; ++q) s += a[i * lda + q] * b[j * ldb + q];
      T* p = c + i * ldc + j;
      *p = beta == T(0) ? alpha * s : alpha * s + beta * *p;
    }
}

// dot_tile for mi <= MI rows and nj <= NJ columns (the edges).
template <class S, int MI, int NJ>
inline void dot_edge(int mi, int nj, int64_t k, const typename S::T* a, int64_t lda, const typename S::T* b,
                     int64_t ldb, typename S::T* c, int64_t ldc, typename S::T alpha, typename S::T beta) {
  if constexpr (MI > 1) {
    if (mi < MI) return dot_edge<S, MI - 1, NJ>(mi, nj, k, a, lda, b, ldb, c, ldc, alpha, beta);
  }
  if constexpr (NJ > 1) {
    if (nj < NJ) return dot_edge<S, MI, NJ - 1>(mi, nj, k, a, lda, b, ldb, c, ldc, alpha, beta);
  }
  dot_tile<S, MI, NJ>(k, a, lda, b, ldb, c, ldc, alpha, beta);
}

// C[0:m, 0:n] = alpha * A B^T + beta * C. Rows of B go in groups of NJ (kept in L1) past all of A.
template <class S, int MI, int NJ>
inline void small_nt(int64_t m, int64_t n, int64_t k, typename S::T alpha, const typename S::T* a, int64_t lda,
                     const typename S::T* b, int64_t ldb, typename S::T beta, typename S::T* c, int64_t ldc) {
  for (int64_t j0 = 0; j0 < n; j0 += NJ) {
    const int nj = static_cast<int>(imin<int64_t>(NJ, n - j0));
    for (int64_t i0 = 0; i0 < m; i0 += MI) {
      const int mi = static_cast<int>(imin<int64_t>(MI, m - i0));
      dot_edge<S, MI, NJ>(mi, nj, k, a + i0 * lda, lda, b + j0 * ldb, ldb, c + i0 * ldc + j0, ldc, alpha, beta);
    }
  }
}

}  // namespace
}  // namespace lamina::cpu::gemm

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace lamina::cpu::gemm {
namespace {

struct Avx2Float {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_load_ps(p); }
  static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static T hsum(V v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
  }
};

struct Avx2Double {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_load_pd(p); }
  static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static T hsum(V v) {
    const __m128d x = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
  }
};

// Transposes the 8x8 block r[0..7] in place: afterwards r[q][j] = old r[j][q].
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Lane mask with the first n (0..8) lanes set, for maskload.
inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// One panel of a non-transposed A (rows <= MR of them; the rest of the panel is zeros): 8 x 8
// blocks transposed in registers. Inlined with rows = MR for full panels.
template <int MR>
__attribute__((always_inline)) inline void pack_a_nt_panel(const float* x, int64_t ldx, int rows, int64_t k,
                                                            float* o) {
  constexpr int G = (MR + 7) / 8;  // groups of 8 rows
  int64_t l = 0;
  for (; l + 8 < k; l += 8) {  // < k: the spill of step l + 7 lands in step l + 8
    __m256 r[G][8];
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j)
        r[g][j] = 8 * g + j < rows ? _mm256_loadu_ps(x + (8 * g + j) * ldx + l) : _mm256_setzero_ps();
      transpose8(r[g]);
    }
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q)
#pragma GCC unroll 4
      for (int g = 0; g < G; ++g) _mm256_storeu_ps(o + (l + q) * MR + 8 * g, r[g][q]);
  }
  for (; l < k; ++l)
    for (int r = 0; r < MR; ++r) o[l * MR + r] = r < rows ? x[r * ldx + l] : 0.0f;
}

// Float packers with AVX2 (MR, NR any size). A vector store of 8 may run past the MR values of
// step l into step l + 1's, which is written afterwards; the last step of a panel is stored by
// scalar code, so a packer never writes outside the panels it was given (threads pack
// neighbouring panels of one buffer at the same time). A short last panel takes the same path,
// with zeros for its missing rows.
template <int MR>
inline void pack_a_avx(bool trans, const float* x, int64_t ldx, int64_t m, int64_t k, float* out) {
  constexpr int G = (MR + 7) / 8;  // groups of 8 rows
  const int64_t mfull = m - m % MR;
  const int mshort = static_cast<int>(m - mfull);
  if (trans) {  // op(A)[i][l] = x[l * ldx + i]: MR values of row l per panel
    // Eight rows at a time, panel by panel: each panel then receives 8 * MR consecutive floats
    // (one run of stores) before the next; one row at a time across all panels spreads the
    // stores over MR * k-strided lines and runs at less than half the speed.
    int64_t l = 0;
    for (; l + 8 < k; l += 8) {  // < k: row l + 7's spill lands in row l + 8, written later
      const float* src = x + l * ldx;
      float* o = out + l * MR;
      for (int64_t i0 = 0; i0 < mfull; i0 += MR, o += MR * k) {
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q)
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g) {
            const int rows = imin(8, MR - 8 * g);
            const float* s = src + q * ldx + i0 + 8 * g;
            const __m256 v = rows == 8 ? _mm256_loadu_ps(s) : _mm256_maskload_ps(s, first_lanes(rows));
            _mm256_storeu_ps(o + q * MR + 8 * g, v);
          }
      }
      if (mshort > 0) {  // o is the short panel's step l now; rows past m load as zeros
        __m256i lanes[G];
#pragma GCC unroll 4
        for (int g = 0; g < G; ++g) lanes[g] = first_lanes(mshort - 8 * g < 0 ? 0 : imin(8, mshort - 8 * g));
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q)  // step by step, so that each step's spill is overwritten after
#pragma GCC unroll 4
          for (int g = 0; g < G; ++g)
            _mm256_storeu_ps(o + q * MR + 8 * g, _mm256_maskload_ps(src + q * ldx + mfull + 8 * g, lanes[g]));
      }
    }
    for (; l < k; ++l)  // the last rows by scalar code: a vector store would spill into the next panel
      for (int64_t i0 = 0; i0 < m; i0 += MR)
        for (int r = 0; r < MR; ++r) out[i0 * k + l * MR + r] = i0 + r < m ? x[l * ldx + i0 + r] : 0.0f;
  } else {  // op(A)[i][l] = x[i * ldx + l]: transpose 8 x 8 blocks, panel by panel
    for (int64_t i0 = 0; i0 < mfull; i0 += MR) pack_a_nt_panel<MR>(x + i0 * ldx, ldx, MR, k, out + i0 * k);
    if (mshort > 0) pack_a_nt_panel<MR>(x + mfull * ldx, ldx, mshort, k, out + mfull * k);
  }
}

template <int NR>
inline void pack_b_avx(bool trans, const float* x, int64_t ldx, int64_t n, int64_t k, float* out) {
  static_assert(NR % 8 == 0, "NR must be a multiple of 8");
  constexpr int G = NR / 8;
  const int64_t nfull = n - n % NR;
  if (!trans) {  // op(B)[l][j] = x[l * ldx + j]: eight rows at a time, read in order (which the
                 // hardware prefetchers follow; sliver by sliver strides across pages), each
                 // sliver receiving 8 * NR consecutive floats before the next (one row at a time
                 // spreads the stores over NR * k-strided lines: 1.3-1.6 times slower)
    int64_t l = 0;
    for (; l + 8 <= k; l += 8) {
      const float* src = x + l * ldx;
      float* o = out + l * NR;
      for (int64_t j0 = 0; j0 < nfull; j0 += NR, o += NR * k)
#pragma GCC unroll 8
        for (int q = 0; q < 8; ++q)
#pragma GCC unroll 8
          for (int g = 0; g < G; ++g) _mm256_store_ps(o + q * NR + 8 * g, _mm256_loadu_ps(src + q * ldx + j0 + 8 * g));
    }
    for (; l < k; ++l) {
      const float* src = x + l * ldx;
      float* o = out + l * NR;
      for (int64_t j0 = 0; j0 < nfull; j0 += NR, o += NR * k)
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) _mm256_store_ps(o + 8 * g, _mm256_loadu_ps(src + j0 + 8 * g));
    }
  } else {  // op(B)[l][j] = x[j * ldx + l]: transpose 8 x 8 blocks
    for (int64_t j0 = 0; j0 < nfull; j0 += NR) {
      float* o = out + j0 * k;
      int64_t l = 0;
      for (; l + 8 <= k; l += 8) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) {
          __m256 r[8];
#pragma GCC unroll 8
          for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(x + (j0 + 8 * g + j) * ldx + l);
          transpose8(r);
#pragma GCC unroll 8
          for (int q = 0; q < 8; ++q) _mm256_store_ps(o + (l + q) * NR + 8 * g, r[q]);
        }
      }
      for (; l < k; ++l)
        for (int c = 0; c < NR; ++c) o[l * NR + c] = x[(j0 + c) * ldx + l];
    }
  }
  if (nfull < n) pack_b_scalar<float, NR>(trans, trans ? x + nfull * ldx : x + nfull, ldx, n - nfull, k, out + nfull * k);
}

}  // namespace
}  // namespace lamina::cpu::gemm
#endif  // __AVX2__ && __FMA__

// Defines one family's entry points in namespace `ns` from traits SF/SD (float/double), tile
// shapes and packers.
#define LAMINA_GEMM_DEFINE_FAMILY(ns, SF, MRF, NVF, PACK_AF, PACK_BF, SD, MRD, NVD)                     \
  namespace lamina::cpu::gemm::ns {                                                                  \
  void ssmall_nt(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,             \
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {                   \
    small_nt<SF, 4, 3>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                                 \
  }                                                                                                  \
  void dsmall_nt(int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,           \
                 const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {                \
    small_nt<SD, 4, 3>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                                 \
  }                                                                                                  \
  const int kMrF = MRF, kNrF = NVF * SF::W, kMrD = MRD, kNrD = NVD * SD::W;                           \
  void skernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha,          \
               float beta) {                                                                         \
    micro_kernel<SF, MRF, NVF>(kc, a, b, c, ldc, alpha, beta);                                       \
  }                                                                                                  \
  void skernel_m(int m, int64_t panels, int64_t kc, const float* a, const float* b, float* c, int64_t ldc, \
                 float alpha, float beta) {                                                          \
    micro_kernel_rows<SF, MRF, NVF>(m, panels, kc, a, b, c, ldc, alpha, beta);                       \
  }                                                                                                  \
  void spack_a(bool trans, const float* x, int64_t ldx, int64_t rows, int64_t k, float* out) {         \
    PACK_AF(trans, x, ldx, rows, k, out);                                                            \
  }                                                                                                  \
  void spack_b(bool trans, const float* x, int64_t ldx, int64_t rows, int64_t k, float* out) {         \
    PACK_BF(trans, x, ldx, rows, k, out);                                                            \
  }                                                                                                  \
  void dkernel(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, double alpha,      \
               double beta) {                                                                        \
    micro_kernel<SD, MRD, NVD>(kc, a, b, c, ldc, alpha, beta);                                       \
  }                                                                                                  \
  void dkernel_m(int m, int64_t panels, int64_t kc, const double* a, const double* b, double* c,         \
                 int64_t ldc, double alpha, double beta) {                                           \
    micro_kernel_rows<SD, MRD, NVD>(m, panels, kc, a, b, c, ldc, alpha, beta);                       \
  }                                                                                                  \
  void dpack_a(bool trans, const double* x, int64_t ldx, int64_t rows, int64_t k, double* out) {       \
    pack_a_scalar<double, MRD>(trans, x, ldx, rows, k, out);                                         \
  }                                                                                                  \
  void dpack_b(bool trans, const double* x, int64_t ldx, int64_t rows, int64_t k, double* out) {       \
    pack_b_scalar<double, NVD * SD::W>(trans, x, ldx, rows, k, out);                                 \
  }                                                                                                  \
  }
