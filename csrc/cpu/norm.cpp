// CPU kernels for ops/norm.h: batch normalization forward and fused backward.
//
// x is contiguous and viewed as (N, C, S); channel c's values are N runs of S contiguous values,
// run n starting at x + (n * C + c) * S. Two ways to walk them:
//  - planar (S >= kPlanarMinS, the conv case): channels go to threads; a channel's runs are read
//    once for its statistics and once more to normalise (or, for the backward, to form dx). When
//    a channel is small (<= kKeepBytes), the first pass also copies its runs into a per-thread
//    scratch buffer that the second pass reads: the runs of one channel lie C * S values apart,
//    often a power of two times 4 KiB, and would evict each other from L1 and L2 otherwise.
//  - columnar (small S, e.g. (N, C)): a row of W = C * S values holds every channel. Statistics
//    go over (chunk of rows, block of columns) tasks with one accumulator per column, elementwise
//    along the rows (vectorised across channels); chunks and then each channel's S columns are
//    folded afterwards. Normalisation streams whole rows. The chunking depends only on the shape.
// Either way a channel's sums are taken in a fixed order, so results do not depend on the thread
// count.
//
// Statistics are single-pass shifted sums: with K near the channel's mean (the mean of its first
// few values), s1 = sum(x - K) and s2 = sum((x - K)^2) give mean = K + s1 / n and
// M2 = s2 - s1^2 / n without the cancellation of raw sums of squares. Values are summed in T at
// most 16 per lane (float32: ~1e-7 relative error) and those partial sums folded into double
// (the portable planar loops sum in double throughout).
// The float32 planar loops are written with AVX2+FMA intrinsics, the others compiled twice
// (plain and AVX2+FMA); the CPU picks at run time.
//
// Normalisation is y = (x - m) * (weight * invstd) + b' and the input gradient
// dx = a * dy + b * (x - m) + c, with m the mean rounded to T and b', c absorbing the rounding:
// subtracting m first keeps float32 exact for inputs whose mean is large against their spread.
#include "ops/norm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"

#include "cpu/isa.h"

#if LAMINA_CPU_X86
#include <immintrin.h>
#endif

namespace lamina::cpu {
namespace {

constexpr int64_t kPlanarMinS = 16;    // runs at least this long: planar walk
constexpr int64_t kTaskElems = 32768;  // fewer elements than this per task: run inline

std::atomic<bool> g_force_portable{false};

bool use_avx2() { return cpu_has_avx2_fma() && !g_force_portable.load(std::memory_order_relaxed); }

// ================================================================ planar run primitives
// Each walks N runs of S contiguous values; run n of an operand starts at ptr + n * its stride.
// The statistics loops can also copy the runs they read into `keep` (N * S contiguous values):
// the second pass then reads that copy, which stays in L2, instead of the operand, whose runs lie
// a power of two apart in the shapes conv nets make and evict each other from L1 and L2.

// s1 = sum(x - K), s2 = sum((x - K)^2).
template <typename T>
void runs_moments_ref(const T* p, int64_t ps, int64_t N, int64_t S, double K, double& s1, double& s2, T* keep) {
  constexpr int L = 4;
  double a[L] = {}, b[L] = {};
  double ta = 0, tb = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* r = p + n * ps;
    if (keep) std::copy(r, r + S, keep + n * S);
    int64_t i = 0;
    for (; i + L <= S; i += L)
      for (int j = 0; j < L; ++j) {
        const double d = static_cast<double>(r[i + j]) - K;
        a[j] += d;
        b[j] += d * d;
      }
    for (; i < S; ++i) {
      const double d = static_cast<double>(r[i]) - K;
      ta += d;
      tb += d * d;
    }
  }
  for (int j = 0; j < L; ++j) ta += a[j], tb += b[j];
  s1 = ta;
  s2 = tb;
}

// y = (x - mean) * a + b.
template <typename T>
void runs_affine_ref(const T* x, int64_t xs, T* y, int64_t ys, int64_t N, int64_t S, T mean, T a, T b) {
  for (int64_t n = 0; n < N; ++n) {
    const T* r = x + n * xs;
    T* o = y + n * ys;
    for (int64_t i = 0; i < S; ++i) o[i] = (r[i] - mean) * a + b;
  }
}

// sdy = sum(dy), sdyx = sum(dy * (x - mean)), sd = sum(x - mean).
template <typename T>
void runs_grad_moments_ref(const T* dy, int64_t gs, const T* x, int64_t xs, int64_t N, int64_t S, double mean,
                           double& sdy, double& sdyx, double& sd, T* keep_dy, T* keep_x) {
  constexpr int L = 4;
  double a[L] = {}, b[L] = {}, c[L] = {};
  double ta = 0, tb = 0, tc = 0;
  for (int64_t n = 0; n < N; ++n) {
    const T* g = dy + n * gs;
    const T* r = x + n * xs;
    if (keep_dy) std::copy(g, g + S, keep_dy + n * S), std::copy(r, r + S, keep_x + n * S);
    int64_t i = 0;
    for (; i + L <= S; i += L)
      for (int j = 0; j < L; ++j) {
        const double gv = g[i + j], d = static_cast<double>(r[i + j]) - mean;
        a[j] += gv;
        b[j] += gv * d;
        c[j] += d;
      }
    for (; i < S; ++i) {
      const double gv = g[i], d = static_cast<double>(r[i]) - mean;
      ta += gv;
      tb += gv * d;
      tc += d;
    }
  }
  for (int j = 0; j < L; ++j) ta += a[j], tb += b[j], tc += c[j];
  sdy = ta;
  sdyx = tb;
  sd = tc;
}

// dx = a * dy + b * (x - mean) + c; x is not read when b == 0 and c == 0 (evaluation mode).
template <typename T>
void runs_grad_input_ref(const T* dy, int64_t gs, const T* x, int64_t xs, T* dx, int64_t ds, int64_t N, int64_t S,
                         T mean, T a, T b, T c) {
  const bool scale_only = b == T(0) && c == T(0);
  for (int64_t n = 0; n < N; ++n) {
    const T* g = dy + n * gs;
    const T* r = x + n * xs;
    T* o = dx + n * ds;
    if (scale_only) {
      for (int64_t i = 0; i < S; ++i) o[i] = a * g[i];
    } else {
      for (int64_t i = 0; i < S; ++i) o[i] = a * g[i] + b * (r[i] - mean) + c;
    }
  }
}

#if LAMINA_CPU_X86
LAMINA_AVX2_FMA inline double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
LAMINA_AVX2_FMA inline __m256d lo4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
LAMINA_AVX2_FMA inline __m256d hi4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
LAMINA_AVX2_FMA inline __m256d widen_sum(__m256 v) { return _mm256_add_pd(lo4(v), hi4(v)); }

// The AVX2 statistics accumulate 8-lane float partial sums over at most kFoldIters iterations
// (16 values per lane) and fold them into double lanes, so the error stays that of 16-term float
// sums (~1e-7 relative) at a third of the instructions of converting every value to double.
constexpr int kFoldIters = 16;

LAMINA_AVX2_FMA void runs_moments_avx2(const float* p, int64_t ps, int64_t N, int64_t S, double K, double& s1,
                                       double& s2, float* keep) {
  const float kf = static_cast<float>(K);  // K is a float value (see shift_of)
  const __m256 k = _mm256_set1_ps(kf);
  __m256d D1 = _mm256_setzero_pd(), D2 = D1;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
  int iters = 0;
  double ta = 0, tb = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* r = p + n * ps;
    float* kp = keep ? keep + n * S : nullptr;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16) {
      const __m256 v0 = _mm256_loadu_ps(r + i), v1 = _mm256_loadu_ps(r + i + 8);
      if (kp) _mm256_storeu_ps(kp + i, v0), _mm256_storeu_ps(kp + i + 8, v1);
      const __m256 d0 = _mm256_sub_ps(v0, k), d1 = _mm256_sub_ps(v1, k);
      a0 = _mm256_add_ps(a0, d0), a1 = _mm256_add_ps(a1, d1);
      b0 = _mm256_fmadd_ps(d0, d0, b0), b1 = _mm256_fmadd_ps(d1, d1, b1);
      if (++iters == kFoldIters) {
        D1 = _mm256_add_pd(D1, widen_sum(_mm256_add_ps(a0, a1)));
        D2 = _mm256_add_pd(D2, widen_sum(_mm256_add_ps(b0, b1)));
        a0 = a1 = b0 = b1 = _mm256_setzero_ps();
        iters = 0;
      }
    }
    for (; i < S; ++i) {
      if (kp) kp[i] = r[i];
      const double d = static_cast<double>(r[i] - kf);
      ta += d;
      tb += d * d;
    }
  }
  D1 = _mm256_add_pd(D1, widen_sum(_mm256_add_ps(a0, a1)));
  D2 = _mm256_add_pd(D2, widen_sum(_mm256_add_ps(b0, b1)));
  s1 = ta + hsum(D1);
  s2 = tb + hsum(D2);
}

LAMINA_AVX2_FMA void runs_affine_avx2(const float* x, int64_t xs, float* y, int64_t ys, int64_t N, int64_t S,
                                      float mean, float a, float b) {
  const __m256 vm = _mm256_set1_ps(mean), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  for (int64_t n = 0; n < N; ++n) {
    const float* r = x + n * xs;
    float* o = y + n * ys;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16) {
      const __m256 v0 = _mm256_sub_ps(_mm256_loadu_ps(r + i), vm);
      const __m256 v1 = _mm256_sub_ps(_mm256_loadu_ps(r + i + 8), vm);
      _mm256_storeu_ps(o + i, _mm256_fmadd_ps(v0, va, vb));
      _mm256_storeu_ps(o + i + 8, _mm256_fmadd_ps(v1, va, vb));
    }
    for (; i < S; ++i) o[i] = std::fma(r[i] - mean, a, b);
  }
}

LAMINA_AVX2_FMA void runs_grad_moments_avx2(const float* dy, int64_t gs, const float* x, int64_t xs, int64_t N,
                                            int64_t S, double mean, double& sdy, double& sdyx, double& sd,
                                            float* keep_dy, float* keep_x) {
  const float mf = static_cast<float>(mean);  // the saved mean, a float value
  const __m256 m = _mm256_set1_ps(mf);
  __m256d DA = _mm256_setzero_pd(), DB = DA, DC = DA;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0;
  int iters = 0;
  double ta = 0, tb = 0, tc = 0;
  for (int64_t n = 0; n < N; ++n) {
    const float* g = dy + n * gs;
    const float* r = x + n * xs;
    float* kg = keep_dy ? keep_dy + n * S : nullptr;
    float* kx = keep_dy ? keep_x + n * S : nullptr;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16) {
      const __m256 g0 = _mm256_loadu_ps(g + i), g1 = _mm256_loadu_ps(g + i + 8);
      const __m256 v0 = _mm256_loadu_ps(r + i), v1 = _mm256_loadu_ps(r + i + 8);
      if (kg) {
        _mm256_storeu_ps(kg + i, g0), _mm256_storeu_ps(kg + i + 8, g1);
        _mm256_storeu_ps(kx + i, v0), _mm256_storeu_ps(kx + i + 8, v1);
      }
      const __m256 d0 = _mm256_sub_ps(v0, m), d1 = _mm256_sub_ps(v1, m);
      a0 = _mm256_add_ps(a0, g0), a1 = _mm256_add_ps(a1, g1);
      b0 = _mm256_fmadd_ps(g0, d0, b0), b1 = _mm256_fmadd_ps(g1, d1, b1);
      c0 = _mm256_add_ps(c0, d0), c1 = _mm256_add_ps(c1, d1);
      if (++iters == kFoldIters) {
        DA = _mm256_add_pd(DA, widen_sum(_mm256_add_ps(a0, a1)));
        DB = _mm256_add_pd(DB, widen_sum(_mm256_add_ps(b0, b1)));
        DC = _mm256_add_pd(DC, widen_sum(_mm256_add_ps(c0, c1)));
        a0 = a1 = b0 = b1 = c0 = c1 = _mm256_setzero_ps();
        iters = 0;
      }
    }
    for (; i < S; ++i) {
      if (kg) kg[i] = g[i], kx[i] = r[i];
      const double gv = g[i], d = static_cast<double>(r[i] - mf);
      ta += gv;
      tb += gv * d;
      tc += d;
    }
  }
  DA = _mm256_add_pd(DA, widen_sum(_mm256_add_ps(a0, a1)));
  DB = _mm256_add_pd(DB, widen_sum(_mm256_add_ps(b0, b1)));
  DC = _mm256_add_pd(DC, widen_sum(_mm256_add_ps(c0, c1)));
  sdy = ta + hsum(DA);
  sdyx = tb + hsum(DB);
  sd = tc + hsum(DC);
}

LAMINA_AVX2_FMA void runs_grad_input_avx2(const float* dy, int64_t gs, const float* x, int64_t xs, float* dx,
                                          int64_t ds, int64_t N, int64_t S, float mean, float a, float b, float c) {
  const __m256 vm = _mm256_set1_ps(mean), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b),
               vc = _mm256_set1_ps(c);
  const bool scale_only = b == 0.0f && c == 0.0f;
  for (int64_t n = 0; n < N; ++n) {
    const float* g = dy + n * gs;
    const float* r = x + n * xs;
    float* o = dx + n * ds;
    int64_t i = 0;
    if (scale_only) {
      for (; i + 8 <= S; i += 8) _mm256_storeu_ps(o + i, _mm256_mul_ps(va, _mm256_loadu_ps(g + i)));
      for (; i < S; ++i) o[i] = a * g[i];
      continue;
    }
    for (; i + 8 <= S; i += 8) {
      const __m256 t = _mm256_fmadd_ps(vb, _mm256_sub_ps(_mm256_loadu_ps(r + i), vm), vc);
      _mm256_storeu_ps(o + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(g + i), t));
    }
    for (; i < S; ++i) o[i] = std::fma(a, g[i], std::fma(b, r[i] - mean, c));
  }
}
#endif  // LAMINA_CPU_X86

template <typename T>
void runs_moments(const T* p, int64_t ps, int64_t N, int64_t S, double K, double& s1, double& s2, T* keep) {
#if LAMINA_CPU_X86
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2()) return runs_moments_avx2(p, ps, N, S, K, s1, s2, keep);
  }
#endif
  runs_moments_ref(p, ps, N, S, K, s1, s2, keep);
}

template <typename T>
void runs_affine(const T* x, int64_t xs, T* y, int64_t ys, int64_t N, int64_t S, T mean, T a, T b) {
#if LAMINA_CPU_X86
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2()) return runs_affine_avx2(x, xs, y, ys, N, S, mean, a, b);
  }
#endif
  runs_affine_ref(x, xs, y, ys, N, S, mean, a, b);
}

template <typename T>
void runs_grad_moments(const T* dy, int64_t gs, const T* x, int64_t xs, int64_t N, int64_t S, double mean,
                       double& sdy, double& sdyx, double& sd, T* keep_dy, T* keep_x) {
#if LAMINA_CPU_X86
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2()) return runs_grad_moments_avx2(dy, gs, x, xs, N, S, mean, sdy, sdyx, sd, keep_dy, keep_x);
  }
#endif
  runs_grad_moments_ref(dy, gs, x, xs, N, S, mean, sdy, sdyx, sd, keep_dy, keep_x);
}

template <typename T>
void runs_grad_input(const T* dy, int64_t gs, const T* x, int64_t xs, T* dx, int64_t ds, int64_t N, int64_t S,
                     T mean, T a, T b, T c) {
#if LAMINA_CPU_X86
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2()) return runs_grad_input_avx2(dy, gs, x, xs, dx, ds, N, S, mean, a, b, c);
  }
#endif
  runs_grad_input_ref(dy, gs, x, xs, dx, ds, N, S, mean, a, b, c);
}

// ================================================================ columnar primitives
// x is viewed as N rows of W = C * S values. Statistics go over chunks of rows and blocks of at
// most kColumnBlock columns, one accumulator per column; the loops run elementwise along a row,
// so the compiler vectorises them (each body is compiled twice, plain and for AVX2+FMA). A
// column's values are summed in T over kFoldRows rows at a time, then folded into double.
constexpr int64_t kColumnBlock = 1024;
constexpr int64_t kFoldRows = 16;

// s1[j] += sum(x - K[j]), s2[j] += sum((x - K[j])^2) over `rows` rows; w <= kColumnBlock.
template <typename T>
[[gnu::always_inline]] inline void cols_moments_body(const T* p, int64_t rows, int64_t W, int64_t w, const T* K,
                                                     double* s1, double* s2) {
  T a[kColumnBlock], b[kColumnBlock];
  for (int64_t r0 = 0; r0 < rows; r0 += kFoldRows) {
    for (int64_t j = 0; j < w; ++j) a[j] = b[j] = T(0);
    const int64_t r1 = std::min(rows, r0 + kFoldRows);
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = p + r * W;
      for (int64_t j = 0; j < w; ++j) {
        const T d = row[j] - K[j];
        a[j] += d;
        b[j] += d * d;
      }
    }
    for (int64_t j = 0; j < w; ++j) s1[j] += static_cast<double>(a[j]), s2[j] += static_cast<double>(b[j]);
  }
}

// sdy[j] += sum(dy), sdyx[j] += sum(dy * (x - M[j])), sd[j] += sum(x - M[j]).
template <typename T>
[[gnu::always_inline]] inline void cols_grad_moments_body(const T* dy, const T* x, int64_t rows, int64_t W, int64_t w,
                                                          const T* M, double* sdy, double* sdyx, double* sd) {
  T a[kColumnBlock], b[kColumnBlock], c[kColumnBlock];
  for (int64_t r0 = 0; r0 < rows; r0 += kFoldRows) {
    for (int64_t j = 0; j < w; ++j) a[j] = b[j] = c[j] = T(0);
    const int64_t r1 = std::min(rows, r0 + kFoldRows);
    for (int64_t r = r0; r < r1; ++r) {
      const T* g = dy + r * W;
      const T* row = x + r * W;
      for (int64_t j = 0; j < w; ++j) {
        const T d = row[j] - M[j];
        a[j] += g[j];
        b[j] += g[j] * d;
        c[j] += d;
      }
    }
    for (int64_t j = 0; j < w; ++j) {
      sdy[j] += static_cast<double>(a[j]);
      sdyx[j] += static_cast<double>(b[j]);
      sd[j] += static_cast<double>(c[j]);
    }
  }
}

// y = (x - M) * A + B along rows of W values.
template <typename T>
[[gnu::always_inline]] inline void rows_affine_body(const T* x, T* y, int64_t rows, int64_t W, const T* M, const T* A,
                                                    const T* B) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * W;
    T* o = y + r * W;
    for (int64_t j = 0; j < W; ++j) o[j] = (row[j] - M[j]) * A[j] + B[j];
  }
}

// dx = A * dy + B * (x - M) + C along rows of W values.
template <typename T>
[[gnu::always_inline]] inline void rows_grad_input_body(const T* dy, const T* x, T* dx, int64_t rows, int64_t W,
                                                        const T* M, const T* A, const T* B, const T* C) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = dy + r * W;
    const T* row = x + r * W;
    T* o = dx + r * W;
    for (int64_t j = 0; j < W; ++j) o[j] = A[j] * g[j] + B[j] * (row[j] - M[j]) + C[j];
  }
}


LAMINA_COMPILE_TWICE(cols_moments,
                  (const T* p, int64_t rows, int64_t W, int64_t w, const T* K, double* s1, double* s2),
                  (p, rows, W, w, K, s1, s2))
LAMINA_COMPILE_TWICE(cols_grad_moments,
                  (const T* dy, const T* x, int64_t rows, int64_t W, int64_t w, const T* M, double* sdy, double* sdyx,
                   double* sd),
                  (dy, x, rows, W, w, M, sdy, sdyx, sd))
LAMINA_COMPILE_TWICE(rows_affine, (const T* x, T* y, int64_t rows, int64_t W, const T* M, const T* A, const T* B),
                  (x, y, rows, W, M, A, B))
LAMINA_COMPILE_TWICE(rows_grad_input,
                  (const T* dy, const T* x, T* dx, int64_t rows, int64_t W, const T* M, const T* A, const T* B,
                   const T* C),
                  (dy, x, dx, rows, W, M, A, B, C))


// ================================================================ drivers

struct Dims {
  int64_t N, C, S;
};

Dims dims_of(const Tensor& x) {
  const int64_t N = x.size(0), C = x.size(1);
  return {N, C, N * C > 0 ? x.numel() / (N * C) : 0};
}

// Optional 1-D tensors, read and written through their (contiguous) data.
template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// What one channel's statistics turn into: what forward saves and the affine map it applies.
template <typename T>
struct ForwardParams {
  const T* weight;
  const T* bias;
  T* running_mean;
  T* running_var;
  T* save_mean;
  T* save_invstd;
  bool training;
  double momentum, eps;
  int64_t count;  // N * S

  // Records channel c's statistics (batch statistics when training, else ignored and read from the
  // running stats) and returns the map y = (x - mean) * a + b.
  void finish(int64_t c, double mean, double var, T& m_out, T& a_out, T& b_out) const {
    if (!training) {
      mean = static_cast<double>(running_mean[c]);
      var = static_cast<double>(running_var[c]);
    }
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[c] = static_cast<T>(mean);
    save_invstd[c] = static_cast<T>(invstd);
    if (training && running_mean != nullptr) {
      const double unbiased = var * static_cast<double>(count) / static_cast<double>(count - 1);
      running_mean[c] = static_cast<T>((1.0 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = static_cast<T>((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
    // y = (x - m) * a + b with m the mean rounded to T and b absorbing the rounding, so that
    // inputs whose mean is large against their spread keep full precision.
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double a = w * invstd;
    m_out = static_cast<T>(mean);
    a_out = static_cast<T>(a);
    b_out = static_cast<T>((bias ? static_cast<double>(bias[c]) : 0.0) - (mean - static_cast<double>(m_out)) * a);
  }
};

// The shift K of a channel's shifted sums: the mean of its first (up to 8) values, rounded to T.
// Close to the channel mean, so sum((x - K)^2) does not dwarf the variance.
template <typename T>
double shift_of(const T* p, int64_t S) {
  const int64_t k = std::min<int64_t>(S, 8);
  double m = 0;
  for (int64_t i = 0; i < k; ++i) m += static_cast<double>(p[i]);
  return static_cast<double>(static_cast<T>(m / static_cast<double>(k)));
}

// Mean and biased variance from shifted sums over `count` values.
inline void moments_to_stats(double K, double s1, double s2, double count, double& mean, double& var) {
  mean = K + s1 / count;
  var = std::max(0.0, (s2 - s1 * s1 / count) / count);
}

// Per-thread scratch for the copies of a channel's runs (see "planar run primitives"); empty when
// a channel is too large for them to stay in L2.
constexpr int64_t kKeepBytes = 64 * 1024;

template <typename T>
void forward_planar(const ForwardParams<T>& P, const T* x, T* y, Dims d) {
  const auto [N, C, S] = d;
  const int64_t grain = std::max<int64_t>(1, kTaskElems / std::max<int64_t>(N * S, 1));
  const bool keep = P.training && N > 1 && N * S * static_cast<int64_t>(sizeof(T)) <= kKeepBytes;
  parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
    std::vector<T> scratch(keep ? N * S : 0);
    for (int64_t c = cb; c < ce; ++c) {
      const T* xc = x + c * S;
      double mean = 0, var = 0;
      if (P.training) {
        const double K = shift_of(xc, S);
        double s1, s2;
        runs_moments(xc, C * S, N, S, K, s1, s2, keep ? scratch.data() : nullptr);
        moments_to_stats(K, s1, s2, static_cast<double>(N * S), mean, var);
      }
      T m, a, b;
      P.finish(c, mean, var, m, a, b);
      if (keep) runs_affine(scratch.data(), S, y + c * S, C * S, N, S, m, a, b);
      else runs_affine(xc, C * S, y + c * S, C * S, N, S, m, a, b);
    }
  });
}

// The columnar walk's tasks: chunks of rows times blocks of columns. The chunking depends on the
// shape only, never on the thread count, so results are the same for any number of threads.
struct ColumnTasks {
  int64_t rows_per, chunks, blocks;
  int64_t count() const { return chunks * blocks; }
};
inline ColumnTasks column_tasks(int64_t N, int64_t W) {
  const int64_t min_rows = std::max<int64_t>(kFoldRows, kTaskElems / std::max<int64_t>(W, 1));
  // at most 16 chunks, and partial sums (3 doubles per column and chunk) within ~8 MiB
  const int64_t cap = std::max<int64_t>(1, std::min<int64_t>(16, (8 << 20) / std::max<int64_t>(24 * W, 1)));
  const int64_t chunks = std::clamp<int64_t>((N + min_rows - 1) / min_rows, 1, cap);
  const int64_t rows_per = std::max<int64_t>(1, (N + chunks - 1) / chunks);
  return {rows_per, std::max<int64_t>(1, (N + rows_per - 1) / rows_per), (W + kColumnBlock - 1) / kColumnBlock};
}

// Runs task(chunk row range, column range) over all tasks, on the thread pool.
template <typename F>
void for_column_tasks(const ColumnTasks& t, int64_t N, int64_t W, const F& task) {
  parallel_for(0, t.count(), 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t chunk = k / t.blocks, j0 = (k % t.blocks) * kColumnBlock;
      const int64_t r0 = chunk * t.rows_per;
      task(chunk, r0, std::min(N, r0 + t.rows_per), j0, std::min(W, j0 + kColumnBlock));
    }
  });
}

// Calls f(r0, r1) over ranges of whole rows, on the thread pool.
template <typename F>
void for_row_ranges(int64_t N, int64_t W, const F& f) {
  parallel_for(0, N, std::max<int64_t>(1, kTaskElems / std::max<int64_t>(W, 1)), f);
}

template <typename T>
void forward_columnar(const ForwardParams<T>& P, const T* x, T* y, Dims d) {
  const auto [N, C, S] = d;
  const int64_t W = C * S;
  std::vector<T> M(W), A(W), B(W);
  std::vector<double> chan_mean(C, 0.0), chan_var(C, 0.0);
  if (P.training) {
    // Shift per column: the mean of its first (up to 8) rows.
    std::vector<T> K(W);
    const int64_t k = std::min<int64_t>(N, 8);
    for (int64_t j = 0; j < W; ++j) {
      double m = 0;
      for (int64_t r = 0; r < k; ++r) m += static_cast<double>(x[r * W + j]);
      K[j] = static_cast<T>(m / static_cast<double>(k));
    }
    const ColumnTasks t = column_tasks(N, W);
    std::vector<double> s1(t.chunks * W, 0.0), s2(t.chunks * W, 0.0);
    for_column_tasks(t, N, W, [&](int64_t chunk, int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
      cols_moments<T>(x + r0 * W + j0, r1 - r0, W, j1 - j0, K.data() + j0, s1.data() + chunk * W + j0,
                      s2.data() + chunk * W + j0);
    });
    // Chunks fold in order; then each channel's S columns (N values each) fold by Chan's rule.
    for (int64_t c = 0; c < C; ++c) {
      double msum = 0, m2 = 0;
      for (int64_t s = 0; s < S; ++s) {
        const int64_t j = c * S + s;
        double a = 0, b = 0;
        for (int64_t ch = 0; ch < t.chunks; ++ch) a += s1[ch * W + j], b += s2[ch * W + j];
        double mj, vj;
        moments_to_stats(static_cast<double>(K[j]), a, b, static_cast<double>(N), mj, vj);
        s1[j] = mj;  // reuse: the column's mean
        msum += mj;
        m2 += vj * static_cast<double>(N);
      }
      const double mean = msum / static_cast<double>(S);
      for (int64_t s = 0; s < S; ++s) {
        const double dm = s1[c * S + s] - mean;
        m2 += static_cast<double>(N) * dm * dm;
      }
      chan_mean[c] = mean;
      chan_var[c] = m2 / static_cast<double>(N * S);
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    T m, a, b;
    P.finish(c, chan_mean[c], chan_var[c], m, a, b);
    for (int64_t s = 0; s < S; ++s) M[c * S + s] = m, A[c * S + s] = a, B[c * S + s] = b;
  }
  for_row_ranges(N, W, [&](int64_t r0, int64_t r1) {
    rows_affine<T>(x + r0 * W, y + r0 * W, r1 - r0, W, M.data(), A.data(), B.data());
  });
}

// Gradient outputs (nullptr when not wanted) and the saved statistics.
template <typename T>
struct BackwardParams {
  T* grad_input;
  T* grad_weight;
  T* grad_bias;
  const T* weight;
  const T* mean;
  const T* invstd;
  bool training;
  int64_t count;

  bool need_sums() const { return training || grad_weight != nullptr || grad_bias != nullptr; }

  // Records dweight/dbias from the channel's sums over (x - m), m = the saved mean (rounded to T),
  // and returns dx = a * dy + b * (x - m) + c. In training, sd = sum(x - m) recovers the exact
  // batch mean m + sd / n, so the rounding of the saved mean costs no precision.
  void finish(int64_t c, double sdy, double sdyx, double sd, T& a_out, T& b_out, T& c_out) const {
    const double is = static_cast<double>(invstd[c]);
    const double n = static_cast<double>(count);
    const double delta = training && count > 0 ? sd / n : 0.0;  // exact mean - m
    sdyx -= delta * sdy;                                        // sum(dy * (x - exact mean))
    if (grad_weight) grad_weight[c] = static_cast<T>(sdyx * is);
    if (grad_bias) grad_bias[c] = static_cast<T>(sdy);
    const double w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double a = w * is;
    if (!training) {
      a_out = static_cast<T>(a), b_out = T(0), c_out = T(0);
      return;
    }
    // dx = a * (dy - sdy / n - (x - exact mean) * is^2 * sdyx / n)
    const double b = -a * is * is * sdyx / n;
    a_out = static_cast<T>(a);
    b_out = static_cast<T>(b);
    c_out = static_cast<T>(-a * sdy / n - b * delta);
  }
};

template <typename T>
void backward_planar(const BackwardParams<T>& P, const T* dy, const T* x, Dims d) {
  const auto [N, C, S] = d;
  const int64_t grain = std::max<int64_t>(1, kTaskElems / std::max<int64_t>(N * S, 1));
  const bool keep = P.need_sums() && P.grad_input && P.training && N > 1 &&
                    2 * N * S * static_cast<int64_t>(sizeof(T)) <= kKeepBytes;
  parallel_for(0, C, grain, [&](int64_t cb, int64_t ce) {
    std::vector<T> scratch(keep ? 2 * N * S : 0);
    T* kdy = keep ? scratch.data() : nullptr;
    T* kx = keep ? scratch.data() + N * S : nullptr;
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t off = c * S;
      double sdy = 0, sdyx = 0, sd = 0;
      if (P.need_sums())
        runs_grad_moments(dy + off, C * S, x + off, C * S, N, S, static_cast<double>(P.mean[c]), sdy, sdyx, sd, kdy,
                          kx);
      T a, b, k;
      P.finish(c, sdy, sdyx, sd, a, b, k);
      if (!P.grad_input) continue;
      if (keep) runs_grad_input(kdy, S, kx, S, P.grad_input + off, C * S, N, S, P.mean[c], a, b, k);
      else runs_grad_input(dy + off, C * S, x + off, C * S, P.grad_input + off, C * S, N, S, P.mean[c], a, b, k);
    }
  });
}

template <typename T>
void backward_columnar(const BackwardParams<T>& P, const T* dy, const T* x, Dims d) {
  const auto [N, C, S] = d;
  const int64_t W = C * S;
  std::vector<T> M(W), A(W), B(W), K(W);
  for (int64_t j = 0; j < W; ++j) M[j] = P.mean[j / std::max<int64_t>(S, 1)];
  std::vector<double> gy(C, 0.0), gyx(C, 0.0), gd(C, 0.0);
  if (P.need_sums()) {
    const ColumnTasks t = column_tasks(N, W);
    std::vector<double> sdy(t.chunks * W, 0.0), sdyx(t.chunks * W, 0.0), sd(t.chunks * W, 0.0);
    for_column_tasks(t, N, W, [&](int64_t chunk, int64_t r0, int64_t r1, int64_t j0, int64_t j1) {
      const int64_t o = chunk * W + j0;
      cols_grad_moments<T>(dy + r0 * W + j0, x + r0 * W + j0, r1 - r0, W, j1 - j0, M.data() + j0, sdy.data() + o,
                           sdyx.data() + o, sd.data() + o);
    });
    for (int64_t ch = 0; ch < t.chunks; ++ch)  // in order: the same sums for any thread count
      for (int64_t j = 0; j < W; ++j) {
        const int64_t c = j / S;
        gy[c] += sdy[ch * W + j], gyx[c] += sdyx[ch * W + j], gd[c] += sd[ch * W + j];
      }
  }
  for (int64_t c = 0; c < C; ++c) {
    T a, b, k;
    P.finish(c, gy[c], gyx[c], gd[c], a, b, k);
    for (int64_t s = 0; s < S; ++s) A[c * S + s] = a, B[c * S + s] = b, K[c * S + s] = k;
  }
  if (!P.grad_input) return;
  T* dx = P.grad_input;
  for_row_ranges(N, W, [&](int64_t r0, int64_t r1) {
    rows_grad_input<T>(dy + r0 * W, x + r0 * W, dx + r0 * W, r1 - r0, W, M.data(), A.data(), B.data(), K.data());
  });
}

}  // namespace

void batch_norm_forward(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd,
                        const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const Tensor& running_mean, const Tensor& running_var, bool training,
                        double momentum, double eps) {
  const Dims d = dims_of(x);
  LAMINA_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const ForwardParams<T> P{ptr_or_null<T>(weight), ptr_or_null<T>(bias), ptr_or_null<T>(running_mean),
                             ptr_or_null<T>(running_var), save_mean.data<T>(), save_invstd.data<T>(),
                             training, momentum, eps, d.N * d.S};
    if (x.numel() == 0) {  // nothing to normalise; no batch statistics, running stats untouched
      for (int64_t c = 0; c < d.C; ++c) {
        if (training) {
          P.save_mean[c] = T(0), P.save_invstd[c] = T(0);
        } else {
          T m, a, b;
          P.finish(c, 0.0, 0.0, m, a, b);
        }
      }
      return;
    }
    if (d.S >= kPlanarMinS) forward_planar(P, x.data<T>(), out.data<T>(), d);
    else forward_columnar(P, x.data<T>(), out.data<T>(), d);
  });
}

void batch_norm_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                         const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training) {
  const Dims d = dims_of(x);
  LAMINA_DISPATCH_FLOAT(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const BackwardParams<T> P{ptr_or_null<T>(grad_input), ptr_or_null<T>(grad_weight), ptr_or_null<T>(grad_bias),
                              ptr_or_null<T>(weight), save_mean.data<T>(), save_invstd.data<T>(),
                              training, d.N * d.S};
    if (d.S >= kPlanarMinS) backward_planar(P, grad_out.data<T>(), x.data<T>(), d);
    else backward_columnar(P, grad_out.data<T>(), x.data<T>(), d);
  });
}

void batch_norm_force_portable(bool on) { g_force_portable.store(on); }

}  // namespace lamina::cpu
