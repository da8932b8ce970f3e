// CPU kernels for ops/conv.h. Three paths, picked per call (conv2d_path says which):
//
//   "direct"  float32 with AVX2+FMA, stride 1: direct convolution with the output in registers
//             (see the comment above namespace direct below). Small reductions (first layers,
//             depthwise) gain most: a GEMM spends their time packing and storing.
//   "gemm"    1x1, stride 1, no padding: the input [Cg, P] is the GEMM operand as it lies.
//   "im2col"  everything else: im2col + GEMM (lamina::cpu::sgemm/dgemm).
//
// Shape letters as in ops/conv.h, plus, per group: Cg = C / G input channels, Og = O / G output
// channels, K = Cg * KH * KW (the reduction length), P = OH * OW output positions per sample.
//
// For one group, the column matrix col [K, P] of a sample holds at row k = (c, ki, kj) and column
// p = (oh, ow) the input value x[c, oh*stride_h - pad_top + ki*dilation_h, ow*stride_w - pad_left
// + kj*dilation_w] (0 in the padding). Then
//   forward          y[n]  (Og x P) = W_g (Og x K) @ col[n] (K x P)            (+ bias)
//   grad_weight      dW_g (Og x K)  = sum_n dy[n] (Og x P) @ col[n]^T (P x K)
//   grad_input       dcol (K x P)   = W_g^T (K x Og) @ dy[n] (Og x P), then col2im adds dcol into dx[n]
//   grad_bias        db[o]          = sum_{n, p} dy[n, o, p]
// and for the "gemm" path col[n] is x[n] itself and dx[n] = W_g^T @ dy[n].
//
// Work is cut into tiles of columns: a slice [p0, p1) of one sample's positions when P is large
// (so a tile's column matrix stays in cache), or several whole samples side by side when P is
// small (so each GEMM is wide enough to run well). Threads: samples are split across threads
// (each calling the GEMM single-threaded, or running the direct kernels) when the batch divides
// evenly or is large; otherwise, and for small problems, the calling thread runs the samples and
// the GEMM threads itself. Parameter gradients are accumulated per thread and summed at the end.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/conv.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LAMINA_CONV_DIRECT 1
#define LAMINA_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define LAMINA_CONV_DIRECT 0
#endif

namespace lamina::cpu {
namespace {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Tiling knobs (bytes and columns), chosen for 1 MiB of L2 per core.
constexpr int64_t kColBudgetBytes = int64_t(8) << 20;  // one tile's column matrix
constexpr int64_t kMinCols = 256;                      // below this many positions, batch samples
constexpr int64_t kTargetCols = 512;                   // columns per tile when batching samples
constexpr int64_t kMinParallelMacs = int64_t(1) << 20;  // multiply-adds below which one thread runs

struct Plan {
  int64_t Cg, Og, K, P, HW;
  bool no_col;       // 1x1, stride 1, no padding: the input is its own column matrix
  int64_t nb;        // samples per tile (> 1 only when a tile spans whole samples)
  int64_t pc;        // positions per tile when nb == 1
  int nthreads;      // threads that split the batch (1: the GEMM threads itself)
  int64_t cols_max;  // columns of the largest tile
};

Plan make_plan(const Conv2dGeometry& g, int64_t elem) {
  Plan p{};
  p.Cg = g.C / g.G;
  p.Og = g.O / g.G;
  p.K = p.Cg * g.KH * g.KW;
  p.P = g.OH * g.OW;
  p.HW = g.H * g.W;
  p.no_col = g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 &&
             g.pad_bottom == 0 && g.pad_left == 0 && g.pad_right == 0;
  const int nt = get_num_threads();
  // Waking a team costs tens of microseconds (far more on a busy machine): small convolutions
  // stay on the calling thread.
  const bool big = g.N * g.O * p.K * p.P >= kMinParallelMacs;
  const bool split = big && nt > 1 && !omp_in_parallel() && g.N >= nt && (g.N % nt == 0 || g.N >= 4 * nt);
  p.nthreads = split ? nt : 1;
  const int64_t per_thread = ceil_div(g.N, p.nthreads);
  const int64_t max_cols = std::max<int64_t>(64, kColBudgetBytes / std::max<int64_t>(1, p.K * elem));
  p.nb = 1;
  p.pc = std::max<int64_t>(p.P, 1);
  if (p.no_col) {
    // no column matrix: one tile per sample
  } else if (p.P >= kMinCols) {
    if (p.P > max_cols) {
      const int64_t chunks = ceil_div(p.P, max_cols);
      p.pc = std::min(p.P, ceil_div(ceil_div(p.P, chunks), 16) * 16);
    }
  } else if (p.P > 0) {
    p.nb = std::clamp<int64_t>(kTargetCols / p.P, 1, per_thread);
    p.nb = std::max<int64_t>(1, std::min(p.nb, max_cols / p.P));
  }
  p.cols_max = p.nb * p.pc;
  return p;
}

// Valid output columns [lo, hi) of kernel column kj: 0 <= ow * stride_w - pad_left + kj * dilation_w < W.
struct ColRange {
  int64_t lo, hi, off;  // off = kj * dilation_w - pad_left
};
ColRange col_range(const Conv2dGeometry& g, int64_t kj) {
  const int64_t off = kj * g.dilation_w - g.pad_left;
  int64_t lo = off >= 0 ? 0 : ceil_div(-off, g.stride_w);
  int64_t hi = (g.W - 1 - off) < 0 ? 0 : (g.W - 1 - off) / g.stride_w + 1;
  lo = std::min(lo, g.OW);
  hi = std::clamp(hi, lo, g.OW);
  return {lo, hi, off};
}

// Walks the positions [p0, p1) of one (channel, ki, kj) row of the column matrix, one output row
// at a time: f(d, valid, base, ow0, a, b, ow1) with d[i] the entry of output column ow0 + i for
// ow in [ow0, ow1), valid false when the whole input row is padding, and the columns [a, b) where
// x[base + ow * stride_w] (x: the channel's plane) is the input value (the rest is padding).
template <typename T, typename F>
void walk_row(const Conv2dGeometry& g, int64_t ki, const ColRange& cr, int64_t p0, int64_t p1, T* dst, const F& f) {
  const int64_t ih_off = ki * g.dilation_h - g.pad_top;
  int64_t p = p0;
  while (p < p1) {
    const int64_t oh = p / g.OW, ow0 = p % g.OW;
    const int64_t ow1 = std::min(g.OW, ow0 + (p1 - p));
    const int64_t ih = oh * g.stride_h + ih_off;
    T* d = dst + (p - p0);  // d[i] is position (oh, ow0 + i)
    if (ih < 0 || ih >= g.H) {
      f(d, false, int64_t(0), ow0, ow0, ow0, ow1);
    } else {
      const int64_t a = std::clamp(cr.lo, ow0, ow1), b = std::clamp(cr.hi, a, ow1);
      f(d, true, ih * g.W + cr.off, ow0, a, b, ow1);
    }
    p += ow1 - ow0;
  }
}

// col [K, nb * (p1 - p0)] from nb samples starting at x (channels of one group, sample stride xs).
template <typename T>
void im2col(const T* x, int64_t xs, int64_t nb, int64_t p0, int64_t p1, const Conv2dGeometry& g, int64_t Cg, T* col) {
  const int64_t L = p1 - p0, cols = nb * L, HW = g.H * g.W, sw = g.stride_w;
  for (int64_t kj = 0; kj < g.KW; ++kj) {
    const ColRange cr = col_range(g, kj);
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t ki = 0; ki < g.KH; ++ki) {
        const int64_t k = (c * g.KH + ki) * g.KW + kj;
        for (int64_t j = 0; j < nb; ++j) {
          const T* xc = x + j * xs + c * HW;
          walk_row(g, ki, cr, p0, p1, col + k * cols + j * L,
                   [&](T* d, bool valid, int64_t base, int64_t ow0, int64_t a, int64_t b, int64_t ow1) {
                     std::fill(d, d + (a - ow0), T(0));
                     if (valid && b > a) {
                       const T* s = xc + (base + a * sw);
                       T* da = d + (a - ow0);
                       if (sw == 1) {
                         std::memcpy(da, s, static_cast<size_t>(b - a) * sizeof(T));
                       } else {
                         for (int64_t i = 0; i < b - a; ++i) da[i] = s[i * sw];
                       }
                     }
                     std::fill(d + (b - ow0), d + (ow1 - ow0), T(0));
                   });
        }
      }
    }
  }
}

// dx += col2im(col): the adjoint of im2col (same layout).
template <typename T>
void col2im(const T* col, int64_t nb, int64_t p0, int64_t p1, const Conv2dGeometry& g, int64_t Cg, T* dx, int64_t xs) {
  const int64_t L = p1 - p0, cols = nb * L, HW = g.H * g.W, sw = g.stride_w;
  for (int64_t j = 0; j < nb; ++j) {
    for (int64_t c = 0; c < Cg; ++c) {
      T* xc = dx + j * xs + c * HW;
      for (int64_t ki = 0; ki < g.KH; ++ki) {
        for (int64_t kj = 0; kj < g.KW; ++kj) {
          const ColRange cr = col_range(g, kj);
          const int64_t k = (c * g.KH + ki) * g.KW + kj;
          walk_row(g, ki, cr, p0, p1, const_cast<T*>(col + k * cols + j * L),
                   [&](T* d, bool valid, int64_t base, int64_t ow0, int64_t a, int64_t b, int64_t) {
                     if (!valid || b <= a) return;
                     T* s = xc + (base + a * sw);
                     const T* da = d + (a - ow0);
                     if (sw == 1) {
                       for (int64_t i = 0; i < b - a; ++i) s[i] += da[i];
                     } else {
                       for (int64_t i = 0; i < b - a; ++i) s[i * sw] += da[i];
                     }
                   });
        }
      }
    }
  }
}

// Per-thread scratch, carved out of one allocation made before any thread starts.
template <typename T>
struct Scratch {
  T* col = nullptr;   // [K, cols_max]
  T* dcol = nullptr;  // [K, cols_max]
  T* tmp = nullptr;   // [Og, cols_max]
  T* dw = nullptr;    // [O, K]
};

// The scratch of every thread, carved out of one allocation made before any thread starts.
template <typename T>
struct Workspace {
  Tensor buf;
  std::vector<Scratch<T>> s;
  Workspace(const Conv2dGeometry& g, const Plan& plan, bool need_col, bool need_dcol, bool need_tmp, bool need_dw) {
    const int64_t nt = plan.nthreads;
    const int64_t col_n = need_col ? plan.K * plan.cols_max : 0;
    const int64_t dcol_n = need_dcol ? plan.K * plan.cols_max : 0;
    const int64_t tmp_n = need_tmp ? plan.Og * plan.cols_max : 0;
    const int64_t dw_n = need_dw ? g.O * plan.K : 0;
    const int64_t per = col_n + dcol_n + tmp_n + dw_n;
    buf = Tensor::empty({std::max<int64_t>(1, per * nt)}, DTypeOf<T>::value);
    s.resize(static_cast<size_t>(nt));
    for (int64_t t = 0; t < nt; ++t) {
      T* base = buf.data<T>() + t * per;
      Scratch<T>& st = s[static_cast<size_t>(t)];
      st.col = col_n ? base : nullptr;
      st.dcol = dcol_n ? base + col_n : nullptr;
      st.tmp = tmp_n ? base + col_n + dcol_n : nullptr;
      st.dw = dw_n ? base + col_n + dcol_n + tmp_n : nullptr;
    }
  }
};

// Calls f(t, n0, n1) for t in [0, nt) with the samples [n0, n1) of range t, on nt threads
// (inline when nt == 1).
template <typename F>
void for_sample_ranges(int64_t N, int64_t nt, const F& f) {
  const int64_t per = ceil_div(N, nt);
  if (nt == 1) {
    f(int64_t(0), int64_t(0), N);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(nt))
  {
    // OpenMP may grant fewer threads than asked: each thread takes every nth-th range.
    for (int64_t t = omp_get_thread_num(); t < nt; t += omp_get_num_threads()) {
      const int64_t n0 = std::min(N, t * per), n1 = std::min(N, n0 + per);
      f(t, n0, n1);
    }
  }
}

// Calls f(n0, n1, scratch) for each thread's range of samples, on plan.nthreads threads.
template <typename T, typename F>
void run_split(const Conv2dGeometry& g, const Plan& plan, Workspace<T>& ws, const F& f) {
  for_sample_ranges(g.N, plan.nthreads,
                    [&](int64_t t, int64_t n0, int64_t n1) { f(n0, n1, ws.s[static_cast<size_t>(t)]); });
}

// Visits the tiles of samples [n0, n1): f(n, nbt, p0, p1).
template <typename F>
void for_each_tile(const Plan& plan, int64_t n0, int64_t n1, const F& f) {
  for (int64_t n = n0; n < n1; n += plan.nb) {
    const int64_t nbt = std::min(plan.nb, n1 - n);
    if (nbt > 1) {
      f(n, nbt, int64_t(0), plan.P);
      continue;
    }
    for (int64_t p0 = 0; p0 < plan.P; p0 += plan.pc) f(n, int64_t(1), p0, std::min(plan.P, p0 + plan.pc));
  }
}

// ---------------------------------------------------------------------------------------------
// Direct convolution (AVX2+FMA, float32, stride 1). For short reductions (Cg * KH * KW <=
// kDirectMaxK: first layers such as LeNet's 1->6 5x5 or RGB 3->64 3x3, depthwise layers) a GEMM
// spends more time packing and loading/storing C than multiplying; the direct kernels keep 12
// output vectors in registers through the whole reduction and read the input where it lies. For
// long reductions they are still a few percent faster than im2col + GEMM on 3x3 layers (no column
// matrix), as long as the flat layout below wastes little (usable()).
//
// The trick that makes the loops plain: the input plane is copied, zero-padded, into a buffer of
// row length Wp = W + pad_left + pad_right, and output positions are numbered in that row length
// too ("flat" position q = oh * Wp + ow). Then every tap k = (c, ki, kj) of the window is a fixed
// offset off[k] = c * Hp * Wp + ki * dilation_h * Wp + kj * dilation_w, and
//     out_flat[o][q] = bias[o] + sum_k w[o][k] * in[q + off[k]]
// for consecutive q: 8 outputs are one unaligned load per tap. Flat positions with ow >= OW (the
// last KW-1 columns of each padded row) are computed and not stored.
//   grad_input is the same kernel on the transposed problem: dy zero-padded by (KH-1)*dilation -
//   pad on each side, the weight flipped and transposed to [Cg][Og * KH * KW].
//   grad_weight: dW[o][k] = sum_q dy_flat[o][q] * in[q + off[k]], dy_flat being dy laid out in
//   row length Wp with zeros in the extra columns.
// ---------------------------------------------------------------------------------------------
#if LAMINA_CONV_DIRECT
namespace direct {

constexpr int64_t kDirectMaxK = 64;
constexpr int64_t kGroupPositions = 96;  // positions per group of vectors: 8 * NV for NV in {4, 6, 12}

// Lanes [a, b) set.
LAMINA_AVX2_FMA inline __m256i lane_range(int64_t a, int64_t b) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i ge_a = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(static_cast<int>(a) - 1));
  const __m256i lt_b = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(b)), lane);
  return _mm256_and_si256(ge_a, lt_b);
}

// Stores the 8 flat positions starting at row r, column c (row length Wp in flat numbering) of v
// into an OH x OW plane, skipping the extra columns. Wp >= 8, so 8 lanes span at most two rows.
LAMINA_AVX2_FMA inline void store_flat(float* out, int64_t r, int64_t c, __m256 v, int64_t OH, int64_t OW, int64_t Wp) {
  if (r >= OH) return;
  if (c + 8 <= OW) {
    _mm256_storeu_ps(out + r * OW + c, v);
    return;
  }
  if (c < OW) _mm256_maskstore_ps(out + r * OW + c, lane_range(0, OW - c), v);
  const int64_t s = Wp - c;  // the first lane that belongs to row r + 1 (column 0)
  if (s < 8 && r + 1 < OH) _mm256_maskstore_ps(out + ((r + 1) * OW - s), lane_range(s, std::min<int64_t>(8, s + OW)), v);
}

// OB output channels x NV vectors at flat positions [q0, q0 + 8 NV): the whole reduction in
// registers, then one store per vector.
template <int OB, int NV>
LAMINA_AVX2_FMA void conv_block(const float* in, const int64_t* off, int64_t K, const float* w, int64_t ldw,
                                const float* bias, int64_t q0, float* out, int64_t ldo, int64_t OH, int64_t OW,
                                int64_t Wp) {
  __m256 acc[OB][NV];
  _Pragma("GCC unroll 16")
  for (int o = 0; o < OB; ++o) {
    const __m256 b = bias ? _mm256_set1_ps(bias[o]) : _mm256_setzero_ps();
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; ++v) acc[o][v] = b;
  }
  const float* base = in + q0;
  for (int64_t k = 0; k < K; ++k) {
    const float* p = base + off[k];
    __m256 wb[OB];
    _Pragma("GCC unroll 16")
    for (int o = 0; o < OB; ++o) wb[o] = _mm256_broadcast_ss(w + o * ldw + k);
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; ++v) {
      const __m256 x = _mm256_loadu_ps(p + 8 * v);
      _Pragma("GCC unroll 16")
      for (int o = 0; o < OB; ++o) acc[o][v] = _mm256_fmadd_ps(wb[o], x, acc[o][v]);
    }
  }
  int64_t row[NV], col[NV];  // (row, column) of each vector's first position, without a division each
  row[0] = q0 / Wp;
  col[0] = q0 % Wp;
  for (int v = 1; v < NV; ++v) {
    row[v] = row[v - 1];
    col[v] = col[v - 1] + 8;
    if (col[v] >= Wp) {  // Wp >= 8: one row at most
      col[v] -= Wp;
      ++row[v];
    }
  }
  _Pragma("GCC unroll 16")
  for (int o = 0; o < OB; ++o)
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; ++v) store_flat(out + o * ldo, row[v], col[v], acc[o][v], OH, OW, Wp);
}

LAMINA_AVX2_FMA inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// dw[o][k] += sum_q dy[o][q] * in[q + off[k]] for OB channels x KB taps, q over [0, Q) (Q % 8 == 0).
template <int OB, int KB>
LAMINA_AVX2_FMA void dw_block(const float* dy, int64_t ldd, const float* in, const int64_t* off, int64_t Q, float* dw,
                              int64_t ldw) {
  __m256 acc[OB][KB];
  _Pragma("GCC unroll 16")
  for (int o = 0; o < OB; ++o)
    _Pragma("GCC unroll 16")
    for (int k = 0; k < KB; ++k) acc[o][k] = _mm256_setzero_ps();
  const float* p[KB];
  _Pragma("GCC unroll 16")
  for (int k = 0; k < KB; ++k) p[k] = in + off[k];
  for (int64_t q = 0; q < Q; q += 8) {
    __m256 d[OB];
    _Pragma("GCC unroll 16")
    for (int o = 0; o < OB; ++o) d[o] = _mm256_loadu_ps(dy + o * ldd + q);
    _Pragma("GCC unroll 16")
    for (int k = 0; k < KB; ++k) {
      const __m256 x = _mm256_loadu_ps(p[k] + q);
      _Pragma("GCC unroll 16")
      for (int o = 0; o < OB; ++o) acc[o][k] = _mm256_fmadd_ps(d[o], x, acc[o][k]);
    }
  }
  _Pragma("GCC unroll 16")
  for (int o = 0; o < OB; ++o)
    _Pragma("GCC unroll 16")
    for (int k = 0; k < KB; ++k) dw[o * ldw + k] += hsum(acc[o][k]);
}

// All output channels of one plane problem: out[o] for o < OC (plane stride ldo) from the padded
// input `in`, flat positions [0, Qpad) (a multiple of kGroupPositions).
LAMINA_AVX2_FMA void conv_plane(const float* in, const int64_t* off, int64_t K, const float* w, const float* bias,
                                int64_t OC, int64_t Qpad, float* out, int64_t ldo, int64_t OH, int64_t OW,
                                int64_t Wp) {
  // Positions outside, channels inside: a group's input rows stay in cache across all channels.
  for (int64_t q = 0; q < Qpad; q += kGroupPositions) {
    for (int64_t o = 0; o < OC; o += 3) {
      const int64_t ob = std::min<int64_t>(3, OC - o);
      const float* wo = w + o * K;
      const float* bo = bias ? bias + o : nullptr;
      float* oo = out + o * ldo;
      if (ob == 3) {
        for (int64_t j = 0; j < kGroupPositions; j += 32) conv_block<3, 4>(in, off, K, wo, K, bo, q + j, oo, ldo, OH, OW, Wp);
      } else if (ob == 2) {
        for (int64_t j = 0; j < kGroupPositions; j += 48) conv_block<2, 6>(in, off, K, wo, K, bo, q + j, oo, ldo, OH, OW, Wp);
      } else {
        conv_block<1, 12>(in, off, K, wo, K, bo, q, oo, ldo, OH, OW, Wp);
      }
    }
  }
}

template <int OB>
LAMINA_AVX2_FMA void dw_row(const float* dy, int64_t ldd, const float* in, const int64_t* off, int64_t K, int64_t Q,
                            float* dw) {
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) dw_block<OB, 4>(dy, ldd, in, off + k, Q, dw + k, K);
  switch (K - k) {
    case 3: dw_block<OB, 3>(dy, ldd, in, off + k, Q, dw + k, K); break;
    case 2: dw_block<OB, 2>(dy, ldd, in, off + k, Q, dw + k, K); break;
    case 1: dw_block<OB, 1>(dy, ldd, in, off + k, Q, dw + k, K); break;
    default: break;
  }
}

LAMINA_AVX2_FMA void dw_plane(const float* dy, int64_t ldd, const float* in, const int64_t* off, int64_t K, int64_t OC,
                              int64_t Q, float* dw) {
  for (int64_t o = 0; o < OC; o += 3) {
    const int64_t ob = std::min<int64_t>(3, OC - o);
    if (ob == 3) dw_row<3>(dy + o * ldd, ldd, in, off, K, Q, dw + o * K);
    else if (ob == 2) dw_row<2>(dy + o * ldd, ldd, in, off, K, Q, dw + o * K);
    else dw_row<1>(dy + o * ldd, ldd, in, off, K, Q, dw + o * K);
  }
}

// Stride 1 (the kernels read consecutive positions), rows of at least one vector (the two-row
// stores), and not a plain 1x1 (a GEMM without im2col is better there). With a long reduction the
// GEMM path is as good, so the flat layout's extra work (positions computed / positions kept, the
// padded columns and the rounding to whole groups) must stay small too.
bool usable(const Conv2dGeometry& g) {
  static const bool cpu_ok = cpu_features().avx2 && cpu_features().fma;
  const int64_t K = g.C / g.G * g.KH * g.KW;
  const int64_t Wp = g.W + g.pad_left + g.pad_right;
  const bool plain_1x1 = g.KH == 1 && g.KW == 1 && g.pad_top == 0 && g.pad_bottom == 0 && g.pad_left == 0 &&
                         g.pad_right == 0;
  if (!cpu_ok || g.stride_h != 1 || g.stride_w != 1 || plain_1x1 || g.OW < 8 || g.W < 8) return false;
  const int64_t computed = ceil_div((g.OH - 1) * Wp + g.OW, kGroupPositions) * kGroupPositions;
  return K <= kDirectMaxK || computed * 5 <= g.OH * g.OW * 6;
}

// The padded-input layout of one sample's group: rows of length Wp, channel planes of Hp * Wp.
struct Layout {
  int64_t Hp, Wp, plane, K, Q, Qpad, len;
  std::vector<int64_t> off;
  // in: Cin planes of Hin x Win padded by (top, left) into Hp x Wp, window KH x KW (dilated);
  // out: OH x OW.
  Layout(int64_t Cin, int64_t Hp_, int64_t Wp_, int64_t KH, int64_t KW, int64_t dh, int64_t dw, int64_t OH, int64_t OW)
      : Hp(Hp_), Wp(Wp_), plane(Hp_ * Wp_), K(Cin * KH * KW) {
    off.resize(static_cast<size_t>(K));
    for (int64_t c = 0; c < Cin; ++c)
      for (int64_t ki = 0; ki < KH; ++ki)
        for (int64_t kj = 0; kj < KW; ++kj) off[static_cast<size_t>((c * KH + ki) * KW + kj)] = c * plane + ki * dh * Wp + kj * dw;
    Q = (OH - 1) * Wp + OW;
    Qpad = ceil_div(Q, kGroupPositions) * kGroupPositions;
    len = std::max(Cin * plane, Qpad + off.back()) + 8;  // reads run up to 7 floats past the last position
  }
};

// buf (len floats) = zeros, with src planes [C][H][W] placed at (top, left) of each Hp x Wp plane
// (top/left may be negative: rows/columns before the plane are cropped).
void pad_planes(float* buf, const Layout& L, const float* src, int64_t C, int64_t H, int64_t W, int64_t top, int64_t left) {
  std::fill(buf, buf + L.len, 0.0f);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t r = h + top;
      if (r < 0 || r >= L.Hp) continue;
      const int64_t w0 = std::max<int64_t>(0, -left), w1 = std::min<int64_t>(W, L.Wp - left);
      if (w1 > w0) std::memcpy(buf + c * L.plane + r * L.Wp + left + w0, src + (c * H + h) * W + w0, static_cast<size_t>(w1 - w0) * sizeof(float));
    }
}

void forward(const Conv2dGeometry& g, int nthreads, const float* x, const float* w, const float* b, float* y) {
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, HW = g.H * g.W, P = g.OH * g.OW;
  const Layout L(Cg, g.H + g.pad_top + g.pad_bottom, g.W + g.pad_left + g.pad_right, g.KH, g.KW, g.dilation_h,
                 g.dilation_w, g.OH, g.OW);
  const Tensor buf = Tensor::empty({nthreads * L.len}, DType::Float32);
  for_sample_ranges(g.N, nthreads, [&](int64_t t, int64_t n0, int64_t n1) {
    float* in = buf.data<float>() + t * L.len;
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t gi = 0; gi < g.G; ++gi) {
        pad_planes(in, L, x + (n * g.C + gi * Cg) * HW, Cg, g.H, g.W, g.pad_top, g.pad_left);
        conv_plane(in, L.off.data(), L.K, w + gi * Og * L.K, b ? b + gi * Og : nullptr, Og, L.Qpad,
                   y + (n * g.O + gi * Og) * P, P, g.OH, g.OW, L.Wp);
      }
  });
}

// dx and/or dw (either may be null); dw is written (=).
void backward(const Conv2dGeometry& g, int nthreads, const float* x, const float* w, const float* dy, float* dx,
              float* dw) {
  const int64_t Cg = g.C / g.G, Og = g.O / g.G, HW = g.H * g.W, P = g.OH * g.OW;
  const int64_t K = Cg * g.KH * g.KW, WN = g.O * K;
  // grad_weight: the forward's layout, dy laid out flat in row length Wp
  const Layout L(Cg, g.H + g.pad_top + g.pad_bottom, g.W + g.pad_left + g.pad_right, g.KH, g.KW, g.dilation_h,
                 g.dilation_w, g.OH, g.OW);
  const int64_t dyf_len = Og * L.Qpad;
  // grad_input: the transposed problem, dy padded by the kernel span minus the padding
  const int64_t span_h = (g.KH - 1) * g.dilation_h, span_w = (g.KW - 1) * g.dilation_w;
  const Layout T(Og, g.H + span_h, g.W + span_w, g.KH, g.KW, g.dilation_h, g.dilation_w, g.H, g.W);
  std::vector<float> wt;  // [G][Cg][Og * KH * KW]: flipped and transposed
  if (dx) {
    wt.resize(static_cast<size_t>(g.G * Cg * T.K));
    for (int64_t gi = 0; gi < g.G; ++gi)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t o = 0; o < Og; ++o)
          for (int64_t ki = 0; ki < g.KH; ++ki)
            for (int64_t kj = 0; kj < g.KW; ++kj)
              wt[static_cast<size_t>(((gi * Cg + c) * Og + o) * g.KH * g.KW + ki * g.KW + kj)] =
                  w[(((gi * Og + o) * Cg + c) * g.KH + (g.KH - 1 - ki)) * g.KW + (g.KW - 1 - kj)];
  }
  const int64_t per = (dw ? L.len + dyf_len + WN : 0) + (dx ? T.len : 0);
  const Tensor buf = Tensor::empty({std::max<int64_t>(1, nthreads * per)}, DType::Float32);
  for_sample_ranges(g.N, nthreads, [&](int64_t t, int64_t n0, int64_t n1) {
    float* base = buf.data<float>() + t * per;
    float* in = base;
    float* dyf = base + L.len;
    float* acc = base + L.len + dyf_len;
    float* dyp = base + (dw ? L.len + dyf_len + WN : 0);
    if (dw) std::fill(acc, acc + WN, 0.0f);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t gi = 0; gi < g.G; ++gi) {
        const float* dyn = dy + (n * g.O + gi * Og) * P;
        if (dw) {
          pad_planes(in, L, x + (n * g.C + gi * Cg) * HW, Cg, g.H, g.W, g.pad_top, g.pad_left);
          std::fill(dyf, dyf + dyf_len, 0.0f);
          for (int64_t o = 0; o < Og; ++o)
            for (int64_t r = 0; r < g.OH; ++r)
              std::memcpy(dyf + o * L.Qpad + r * L.Wp, dyn + o * P + r * g.OW, static_cast<size_t>(g.OW) * sizeof(float));
          dw_plane(dyf, L.Qpad, in, L.off.data(), K, Og, L.Qpad, acc + gi * Og * K);
        }
        if (dx) {
          // dy placed at (span_h - pad_top, span_w - pad_left) of the H + span_h x W + span_w planes
          float* dxn = dx + (n * g.C + gi * Cg) * HW;
          pad_planes(dyp, T, dyn, Og, g.OH, g.OW, span_h - g.pad_top, span_w - g.pad_left);
          conv_plane(dyp, T.off.data(), T.K, wt.data() + gi * Cg * T.K, nullptr, Cg, T.Qpad, dxn, HW, g.H, g.W, T.Wp);
        }
      }
  });
  if (dw) {
    for (int64_t i = 0; i < WN; ++i) {
      float s = 0.0f;
      for (int64_t t = 0; t < nthreads; ++t) s += buf.data<float>()[t * per + L.len + dyf_len + i];
      dw[i] = s;
    }
  }
}

}  // namespace direct
#endif  // LAMINA_CONV_DIRECT

template <typename T>
void forward_impl(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const Conv2dGeometry& g) {
  const Plan plan = make_plan(g, sizeof(T));
  const T* x = input.data<T>();
  const T* w = weight.data<T>();
  const T* b = bias.defined() ? bias.data<T>() : nullptr;
  T* y = out.data<T>();
  const int64_t CHW = g.C * plan.HW, OP = g.O * plan.P, K = plan.K, P = plan.P, Og = plan.Og, Cg = plan.Cg;
  if (K == 0) {  // no input channels: the output is the bias
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t o = 0; o < g.O; ++o) std::fill(y + n * OP + o * P, y + n * OP + (o + 1) * P, b ? b[o] : T(0));
    return;
  }
#if LAMINA_CONV_DIRECT
  if constexpr (std::is_same_v<T, float>) {
    if (direct::usable(g)) {
      direct::forward(g, plan.nthreads, x, w, b, y);
      return;
    }
  }
#endif
  Workspace<T> ws(g, plan, !plan.no_col, false, plan.nb > 1, false);
  run_split<T>(g, plan, ws, [&](int64_t n0, int64_t n1, Scratch<T>& s) {
    for_each_tile(plan, n0, n1, [&](int64_t n, int64_t nbt, int64_t p0, int64_t p1) {
      const int64_t L = p1 - p0, cols = nbt * L;
      for (int64_t gi = 0; gi < g.G; ++gi) {
        const T* xg = x + n * CHW + gi * Cg * plan.HW;
        const T* B = xg + p0;
        int64_t ldb = plan.HW;
        if (!plan.no_col) {
          im2col(xg, CHW, nbt, p0, p1, g, Cg, s.col);
          B = s.col;
          ldb = cols;
        }
        const T* wg = w + gi * Og * K;
        if (nbt == 1) {
          T* C = y + n * OP + gi * Og * P + p0;
          T beta = T(0);
          if (b) {
            for (int64_t o = 0; o < Og; ++o) std::fill(C + o * P, C + o * P + L, b[gi * Og + o]);
            beta = T(1);
          }
          gemm(false, false, Og, cols, K, T(1), wg, K, B, ldb, beta, C, P);
        } else {
          gemm(false, false, Og, cols, K, T(1), wg, K, B, ldb, T(0), s.tmp, cols);
          for (int64_t j = 0; j < nbt; ++j) {
            for (int64_t o = 0; o < Og; ++o) {
              const T* src = s.tmp + o * cols + j * P;
              T* dst = y + (n + j) * OP + (gi * Og + o) * P;
              const T bo = b ? b[gi * Og + o] : T(0);
              for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + bo;
            }
          }
        }
      }
    });
  });
}

template <typename T>
void backward_impl(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                   const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Conv2dGeometry& g) {
  const Plan plan = make_plan(g, sizeof(T));
  const T* x = input.data<T>();
  const T* w = weight.data<T>();
  const T* dy = grad_output.data<T>();
  T* dx = grad_input.defined() ? grad_input.data<T>() : nullptr;
  T* dw = grad_weight.defined() ? grad_weight.data<T>() : nullptr;
  const int64_t CHW = g.C * plan.HW, OP = g.O * plan.P, K = plan.K, P = plan.P, Og = plan.Og, Cg = plan.Cg;
  const int64_t WN = g.O * K;

  if (grad_bias.defined()) {
    T* db = grad_bias.data<T>();
    parallel_for(0, g.O, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, g.N * P)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        double acc = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const T* r = dy + n * OP + o * P;
          T part = T(0);
          for (int64_t p = 0; p < P; ++p) part += r[p];
          acc += part;
        }
        db[o] = static_cast<T>(acc);
      }
    });
  }
  if (!dx && !dw) return;
  if (dx && (K == 0 || P == 0)) std::fill(dx, dx + g.N * CHW, T(0));
  if (dw && (K == 0 || P == 0 || g.N == 0)) std::fill(dw, dw + WN, T(0));
  if (K == 0 || P == 0 || g.N == 0) return;

#if LAMINA_CONV_DIRECT
  if constexpr (std::is_same_v<T, float>) {
    if (direct::usable(g)) {
      direct::backward(g, plan.nthreads, x, w, dy, dx, dw);
      return;
    }
  }
#endif
  const bool multi = plan.nthreads > 1;
  const bool need_col = dw && !plan.no_col, need_dcol = dx && !plan.no_col;
  if (dw && !multi) std::fill(dw, dw + WN, T(0));
  Workspace<T> ws(g, plan, need_col, need_dcol, plan.nb > 1, dw && multi);
  run_split<T>(g, plan, ws, [&](int64_t n0, int64_t n1, Scratch<T>& s) {
    T* dwacc = multi ? s.dw : dw;
    if (dwacc && multi) std::fill(dwacc, dwacc + WN, T(0));
    if (dx && !plan.no_col && n1 > n0) std::fill(dx + n0 * CHW, dx + n1 * CHW, T(0));
    for_each_tile(plan, n0, n1, [&](int64_t n, int64_t nbt, int64_t p0, int64_t p1) {
      const int64_t L = p1 - p0, cols = nbt * L;
      for (int64_t gi = 0; gi < g.G; ++gi) {
        // this tile's dy as an [Og, cols] matrix
        const T* A = dy + n * OP + gi * Og * P + p0;
        int64_t lda = P;
        if (nbt > 1) {
          for (int64_t o = 0; o < Og; ++o)
            for (int64_t j = 0; j < nbt; ++j)
              std::memcpy(s.tmp + o * cols + j * P, dy + (n + j) * OP + (gi * Og + o) * P,
                          static_cast<size_t>(P) * sizeof(T));
          A = s.tmp;
          lda = cols;
        }
        const T* xg = x + n * CHW + gi * Cg * plan.HW;
        const T* wg = w + gi * Og * K;
        if (dwacc) {
          const T* B = xg + p0;
          int64_t ldb = plan.HW;
          if (!plan.no_col) {
            im2col(xg, CHW, nbt, p0, p1, g, Cg, s.col);
            B = s.col;
            ldb = cols;
          }
          gemm(false, true, Og, K, cols, T(1), A, lda, B, ldb, T(1), dwacc + gi * Og * K, K);
        }
        if (dx) {
          T* dxg = dx + n * CHW + gi * Cg * plan.HW;
          if (plan.no_col) {
            gemm(true, false, Cg, cols, Og, T(1), wg, K, A, lda, T(0), dxg + p0, plan.HW);
          } else {
            gemm(true, false, K, cols, Og, T(1), wg, K, A, lda, T(0), s.dcol, cols);
            col2im(s.dcol, nbt, p0, p1, g, Cg, dxg, CHW);
          }
        }
      }
    });
  });
  if (dw && multi) {  // sum the per-thread partial weight gradients
    parallel_for(0, WN, 4096, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T acc = T(0);
        for (const Scratch<T>& st : ws.s) acc += st.dw[i];
        dw[i] = acc;
      }
    });
  }
}

}  // namespace

const char* conv2d_path(const Conv2dGeometry& g, DType dtype) {
#if LAMINA_CONV_DIRECT
  if (dtype == DType::Float32 && direct::usable(g)) return "direct";
#endif
  const Plan plan = make_plan(g, itemsize(dtype));
  return plan.no_col ? "gemm" : "im2col";
}

void conv2d_forward(const Tensor& out, const Tensor& input, const Tensor& weight, const Tensor& bias,
                    const Conv2dGeometry& g) {
  LAMINA_DISPATCH_FLOAT(out.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    forward_impl<T>(out, input, weight, bias, g);
  });
}

void conv2d_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                     const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Conv2dGeometry& g) {
  LAMINA_DISPATCH_FLOAT(grad_output.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    backward_impl<T>(grad_input, grad_weight, grad_bias, grad_output, input, weight, g);
  });
}

}  // namespace lamina::cpu
