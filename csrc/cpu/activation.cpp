// CPU kernels for ops/activation.h.
//
// Every kernel body is written once as an always-inline template over contiguous ranges and
// compiled twice: plain (whatever the build targets) and for AVX2+FMA, picked at run time. The
// loops are elementwise or reduce into independent lanes, so the compiler vectorises them. For
// float32 the transcendental functions are branch-free polynomial versions (exp, log1p, tanh,
// expm1, the normal CDF; Cephes and Numerical Recipes fits, a few ulp, checked against float64 in
// tests/python/test_activation.py) that vectorise too, where calls to libm would not (glibc's
// tanhf and erff cost ~20 ns each here). float64 (gradient checks) goes through libm.
#include "ops/activation.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"

#include "cpu/fast_math.h"
#include "cpu/isa.h"

// Without -fno-trapping-math GCC keeps the float comparisons of exp_f32 and relu as branches
// (they might raise floating-point exceptions), which stops vectorisation; nothing here relies on
// floating-point exceptions.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace lamina::cpu {
namespace {

constexpr int64_t kGrain = 16384;       // elements per task below which a kernel runs inline
constexpr int64_t kColumnChunk = 256;  // softmax over a non-last dim: columns per task

std::atomic<bool> g_force_portable{false};

bool use_avx2() { return cpu_has_avx2_fma() && !g_force_portable.load(std::memory_order_relaxed); }

// exp_f32 and tanh_f32: cpu/fast_math.h.

// log for float32 x > 0 (Cephes' logf: x = 2^e m with m in [sqrt(1/2), sqrt(2)), a degree-9
// polynomial in m - 1): within 2 ulp. Positive normal inputs only (callers guarantee it).
[[gnu::always_inline]] inline float log_f32(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, 4);
  int32_t e = ((bits >> 23) & 0xff) - 126;  // x = 2^e * m, m in [0.5, 1)
  const int32_t mbits = (bits & 0x007fffff) | 0x3f000000;
  float m;
  std::memcpy(&m, &mbits, 4);
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1 : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const float fe = static_cast<float>(e);
  y += fe * -2.12194440e-4f;
  y += -0.5f * z;
  return m + y + fe * 0.693359375f;
}

// log(1 + u) for float32 u in [0, 1] (log of w = 1 + u, corrected by u / (w - 1) for the
// rounding of w): within a few ulp.
[[gnu::always_inline]] inline float log1p01_f32(float u) {
  const float w = 1.0f + u;
  const float d = w - 1.0f;
  return d == 0.0f ? u : log_f32(w) * (u / (d == 0.0f ? 1.0f : d));
}

// expm1 for float32: Taylor to x^9 / 9! below |x| = 0.5, exp(x) - 1 above; within 3 ulp.
[[gnu::always_inline]] inline float expm1_f32(float x) {
  float p = 1.0f / 362880.0f;
  p = p * x + 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  const float small = (p * x) * x + x;
  const float big = exp_f32(x) - 1.0f;
  return (x < 0.5f && x > -0.5f) ? small : big;
}

// exp(-x^2 / 2) for float32 without the error of rounding x^2: x = h + l with h the top 12 bits
// of x, so h^2 / 2 is exact and exp(-x^2 / 2) = exp(-h^2 / 2) * exp(-l (x + h) / 2).
[[gnu::always_inline]] inline float exp_neg_half_sq_f32(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, 4);
  bits &= ~0xfff;
  float h;
  std::memcpy(&h, &bits, 4);
  const float l = x - h;
  return exp_f32(-0.5f * h * h) * exp_f32(-0.5f * l * (x + h));
}

// The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 for float32, through the Chebyshev fit of
// erfc in Numerical Recipes (erfcc: relative error below 1.2e-7 everywhere), taken on the side
// where it has no cancellation: Phi(x) for x < 0, 1 - Phi(-x) for x >= 0; within 1e-6 relative.
// With z = |x| / sqrt 2, erfcc(z) = t exp(-z^2 + P(t)); exp(-z^2) = exp(-x^2 / 2) is taken from x
// itself, since rounding z would cost 2 z^2 ulp.
[[gnu::always_inline]] inline float phi_f32(float x) {
  const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float tail = 0.5f * t * exp_f32(p) * exp_neg_half_sq_f32(x);  // erfc(z) / 2 = Phi(-|x|)
  return x < 0.0f ? tail : 1.0f - tail;
}

// The elementwise functions the kernels use: float32 through the branch-free versions above (so
// the loops vectorise), float64 through libm.
template <typename T>
[[gnu::always_inline]] inline T vexp(T x) {
  if constexpr (std::is_same_v<T, float>) return exp_f32(x);
  else return std::exp(x);
}
template <typename T>
[[gnu::always_inline]] inline T vexpm1(T x) {
  if constexpr (std::is_same_v<T, float>) return expm1_f32(x);
  else return std::expm1(x);
}
template <typename T>
[[gnu::always_inline]] inline T vtanh(T x) {
  if constexpr (std::is_same_v<T, float>) return tanh_f32(x);
  else return std::tanh(x);
}
template <typename T>
[[gnu::always_inline]] inline T vphi(T x) {
  if constexpr (std::is_same_v<T, float>) return phi_f32(x);
  else return T(0.5) * std::erfc(-x * T(M_SQRT1_2));
}
template <typename T>
[[gnu::always_inline]] inline T vexp_neg_half_sq(T x) {
  if constexpr (std::is_same_v<T, float>) return exp_neg_half_sq_f32(x);
  else return std::exp(T(-0.5) * x * x);
}
// log(1 + exp(z)), for the softplus: max(z, 0) + log1p(exp(-|z|)).
template <typename T>
[[gnu::always_inline]] inline T vlog1pexp(T z) {
  const T a = z < T(0) ? -z : z;
  if constexpr (std::is_same_v<T, float>) return (z > 0.0f ? z : 0.0f) + log1p01_f32(exp_f32(-a));
  else return (z > T(0) ? z : T(0)) + std::log1p(std::exp(-a));
}

// ================================================================ elementwise activations

template <typename T>
[[gnu::always_inline]] inline void act_forward_body(Activation op, const T* x, T* y, int64_t n, T alpha, T beta) {
  switch (op) {
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : x[i];  // NaN passes through
      break;
    case Activation::Relu6:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] < T(0) ? T(0) : (x[i] > T(6) ? T(6) : x[i]);
      break;
    case Activation::LeakyRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : x[i] * alpha;
      break;
    case Activation::Elu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] <= T(0) ? vexpm1<T>(x[i]) * alpha : x[i];
      break;
    case Activation::Gelu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] * vphi<T>(x[i]);
      break;
    case Activation::GeluTanh: {
      const T kBeta = T(M_SQRT2 * M_2_SQRTPI * 0.5), kKappa = T(0.044715);
      for (int64_t i = 0; i < n; ++i) {
        const T v = x[i];
        y[i] = T(0.5) * v * (T(1) + vtanh<T>(kBeta * (v + kKappa * v * v * v)));
      }
      break;
    }
    case Activation::Sigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + vexp<T>(-x[i]));
      break;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = vtanh<T>(x[i]);
      break;
    case Activation::Softplus:  // alpha = beta, beta = threshold
      for (int64_t i = 0; i < n; ++i) {
        const T z = x[i] * alpha;
        y[i] = z > beta ? x[i] : vlog1pexp<T>(z) / alpha;
      }
      break;
  }
}

// s is the forward's output (relu, relu6, sigmoid, tanh) or input (the others).
template <typename T>
[[gnu::always_inline]] inline void act_backward_body(Activation op, const T* g, const T* s, T* dx, int64_t n,
                                                     T alpha, T beta) {
  switch (op) {
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i) dx[i] = s[i] <= T(0) ? T(0) : g[i];
      break;
    case Activation::Relu6:
      for (int64_t i = 0; i < n; ++i) dx[i] = (s[i] <= T(0) || s[i] >= T(6)) ? T(0) : g[i];
      break;
    case Activation::LeakyRelu:
      for (int64_t i = 0; i < n; ++i) dx[i] = s[i] > T(0) ? g[i] : g[i] * alpha;
      break;
    case Activation::Elu:
      for (int64_t i = 0; i < n; ++i) dx[i] = s[i] <= T(0) ? g[i] * alpha * vexp<T>(s[i]) : g[i];
      break;
    case Activation::Gelu: {
      const T kPdf = T(M_2_SQRTPI * M_SQRT1_2 * 0.5);  // 1 / sqrt(2 pi)
      for (int64_t i = 0; i < n; ++i) {
        const T v = s[i];
        const T cdf = vphi<T>(v);
        const T pdf = vexp_neg_half_sq<T>(v) * kPdf;
        dx[i] = g[i] * (cdf + v * pdf);
      }
      break;
    }
    case Activation::GeluTanh: {
      const T kBeta = T(M_SQRT2 * M_2_SQRTPI * 0.5), kKappa = T(0.044715);
      for (int64_t i = 0; i < n; ++i) {
        const T v = s[i], v2 = v * v;
        const T th = vtanh<T>(kBeta * (v + kKappa * v2 * v));
        const T left = T(0.5) * v, right = T(1) + th;
        const T dleft = T(0.5) * right;
        const T dright = left * (T(1) - th * th) * kBeta * (T(1) + T(3) * kKappa * v2);
        dx[i] = g[i] * (dleft + dright);
      }
      break;
    }
    case Activation::Sigmoid:
      for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * (T(1) - s[i]) * s[i];
      break;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * (T(1) - s[i] * s[i]);
      break;
    case Activation::Softplus:
      for (int64_t i = 0; i < n; ++i) {
        const T z = s[i] * alpha;
        const T sig = T(1) / (T(1) + vexp<T>(-z));  // e^z / (e^z + 1)
        dx[i] = z > beta ? g[i] : g[i] * sig;
      }
      break;
  }
}

// ================================================================ softmax
// Rows: `rows` runs of D contiguous values (softmax over the last dim).

// Sum of e[0..n) in independent lanes, folded into double every 1024 elements.
template <typename T>
[[gnu::always_inline]] inline double lane_sum(const T* e, int64_t n) {
  constexpr int L = 16;
  double total = 0;
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t end = std::min<int64_t>(n, b + 1024);
    T acc[L] = {};
    int64_t i = b;
    for (; i + L <= end; i += L)
      for (int j = 0; j < L; ++j) acc[j] += e[i + j];
    double blk = 0;
    for (int j = 0; j < L; ++j) blk += acc[j];
    for (; i < end; ++i) blk += e[i];
    total += blk;
  }
  return total;
}

template <typename T>
[[gnu::always_inline]] inline T lane_max(const T* x, int64_t n) {
  constexpr int L = 16;
  T acc[L];
  for (int j = 0; j < L; ++j) acc[j] = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) acc[j] = acc[j] < x[i + j] ? x[i + j] : acc[j];
  T m = -std::numeric_limits<T>::infinity();
  for (int j = 0; j < L; ++j) m = m < acc[j] ? acc[j] : m;
  for (; i < n; ++i) m = m < x[i] ? x[i] : m;
  return m;
}

template <typename T>
[[gnu::always_inline]] inline void softmax_rows_body(const T* x, T* y, int64_t rows, int64_t D, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    const T m = lane_max(xr, D);
    // y holds x - max first (exact for logits of +-1e4), then exp of it.
    for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] - m;
    if (log) {
      // sum of exp without keeping it: exponentiate into lanes block by block.
      constexpr int L = 16;
      double total = 0;
      for (int64_t b = 0; b < D; b += 1024) {
        const int64_t end = std::min<int64_t>(D, b + 1024);
        T acc[L] = {};
        int64_t i = b;
        for (; i + L <= end; i += L)
          for (int j = 0; j < L; ++j) acc[j] += vexp<T>(yr[i + j]);
        double blk = 0;
        for (int j = 0; j < L; ++j) blk += acc[j];
        for (; i < end; ++i) blk += vexp<T>(yr[i]);
        total += blk;
      }
      const T ls = static_cast<T>(std::log(total));
      for (int64_t i = 0; i < D; ++i) yr[i] = yr[i] - ls;
    } else {
      for (int64_t i = 0; i < D; ++i) yr[i] = vexp<T>(yr[i]);
      const T inv = static_cast<T>(1.0 / lane_sum(yr, D));
      for (int64_t i = 0; i < D; ++i) yr[i] *= inv;
    }
  }
}

// Columns: softmax over D rows of stride `inner`, for columns [0, w) of a chunk (x and y point at
// the chunk's first column). acc holds 2 * w doubles of scratch.
template <typename T>
[[gnu::always_inline]] inline void softmax_cols_body(const T* x, T* y, int64_t D, int64_t inner, int64_t w, bool log,
                                                     T* mx, double* sum) {
  for (int64_t i = 0; i < w; ++i) mx[i] = -std::numeric_limits<T>::infinity(), sum[i] = 0;
  for (int64_t d = 0; d < D; ++d) {
    const T* r = x + d * inner;
    for (int64_t i = 0; i < w; ++i) mx[i] = mx[i] < r[i] ? r[i] : mx[i];
  }
  for (int64_t d = 0; d < D; ++d) {
    const T* r = x + d * inner;
    T* o = y + d * inner;
    if (log) {
      for (int64_t i = 0; i < w; ++i) {
        o[i] = r[i] - mx[i];
        sum[i] += static_cast<double>(vexp<T>(o[i]));
      }
    } else {
      for (int64_t i = 0; i < w; ++i) {
        const T e = vexp<T>(r[i] - mx[i]);
        o[i] = e;
        sum[i] += static_cast<double>(e);
      }
    }
  }
  // mx becomes the per-column factor: 1 / sum, or log(sum).
  for (int64_t i = 0; i < w; ++i) mx[i] = static_cast<T>(log ? std::log(sum[i]) : 1.0 / sum[i]);
  for (int64_t d = 0; d < D; ++d) {
    T* o = y + d * inner;
    if (log) {
      for (int64_t i = 0; i < w; ++i) o[i] = o[i] - mx[i];
    } else {
      for (int64_t i = 0; i < w; ++i) o[i] *= mx[i];
    }
  }
}

template <typename T>
[[gnu::always_inline]] inline void softmax_back_rows_body(const T* g, const T* y, T* dx, int64_t rows, int64_t D,
                                                          bool log) {
  constexpr int L = 16;
  for (int64_t r = 0; r < rows; ++r) {
    const T* gr = g + r * D;
    const T* yr = y + r * D;
    T* o = dx + r * D;
    // softmax: s = sum(g * y);  log_softmax: s = sum(g).
    double s = 0;
    for (int64_t b = 0; b < D; b += 1024) {
      const int64_t end = std::min<int64_t>(D, b + 1024);
      T acc[L] = {};
      int64_t i = b;
      if (log) {
        for (; i + L <= end; i += L)
          for (int j = 0; j < L; ++j) acc[j] += gr[i + j];
      } else {
        for (; i + L <= end; i += L)
          for (int j = 0; j < L; ++j) acc[j] += gr[i + j] * yr[i + j];
      }
      double blk = 0;
      for (int j = 0; j < L; ++j) blk += acc[j];
      for (; i < end; ++i) blk += log ? gr[i] : gr[i] * yr[i];
      s += blk;
    }
    const T st = static_cast<T>(s);
    if (log) {
      for (int64_t i = 0; i < D; ++i) o[i] = gr[i] - vexp<T>(yr[i]) * st;
    } else {
      for (int64_t i = 0; i < D; ++i) o[i] = yr[i] * (gr[i] - st);
    }
  }
}

template <typename T>
[[gnu::always_inline]] inline void softmax_back_cols_body(const T* g, const T* y, T* dx, int64_t D, int64_t inner,
                                                          int64_t w, bool log, T* st, double* sum) {
  for (int64_t i = 0; i < w; ++i) sum[i] = 0;
  for (int64_t d = 0; d < D; ++d) {
    const T* gr = g + d * inner;
    const T* yr = y + d * inner;
    if (log) {
      for (int64_t i = 0; i < w; ++i) sum[i] += static_cast<double>(gr[i]);
    } else {
      for (int64_t i = 0; i < w; ++i) sum[i] += static_cast<double>(gr[i] * yr[i]);
    }
  }
  for (int64_t i = 0; i < w; ++i) st[i] = static_cast<T>(sum[i]);
  for (int64_t d = 0; d < D; ++d) {
    const T* gr = g + d * inner;
    const T* yr = y + d * inner;
    T* o = dx + d * inner;
    if (log) {
      for (int64_t i = 0; i < w; ++i) o[i] = gr[i] - vexp<T>(yr[i]) * st[i];
    } else {
      for (int64_t i = 0; i < w; ++i) o[i] = yr[i] * (gr[i] - st[i]);
    }
  }
}

// Each body compiled plain and for AVX2+FMA (cpu/isa.h); `use_avx2()` picks at run time.

LAMINA_COMPILE_TWICE(act_forward, (Activation op, const T* x, T* y, int64_t n, T alpha, T beta), (op, x, y, n, alpha, beta))
LAMINA_COMPILE_TWICE(act_backward, (Activation op, const T* g, const T* s, T* dx, int64_t n, T alpha, T beta),
                 (op, g, s, dx, n, alpha, beta))
LAMINA_COMPILE_TWICE(softmax_rows, (const T* x, T* y, int64_t rows, int64_t D, bool log), (x, y, rows, D, log))
LAMINA_COMPILE_TWICE(softmax_cols, (const T* x, T* y, int64_t D, int64_t inner, int64_t w, bool log, T* mx, double* sum),
                 (x, y, D, inner, w, log, mx, sum))
LAMINA_COMPILE_TWICE(softmax_back_rows, (const T* g, const T* y, T* dx, int64_t rows, int64_t D, bool log),
                 (g, y, dx, rows, D, log))
LAMINA_COMPILE_TWICE(softmax_back_cols,
                 (const T* g, const T* y, T* dx, int64_t D, int64_t inner, int64_t w, bool log, T* st, double* sum),
                 (g, y, dx, D, inner, w, log, st, sum))


// Splits (outer, D, inner) into tasks: whole rows when inner == 1, else (outer, column chunk)
// pairs; calls rows(r0, r1) or cols(o, c0, w).
template <typename Rows, typename Cols>
void softmax_tasks(int64_t outer, int64_t D, int64_t inner, const Rows& rows, const Cols& cols) {
  if (inner == 1) {
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(D, 1));
    parallel_for(0, outer, grain, [&](int64_t b, int64_t e) { rows(b, e); });
    return;
  }
  const int64_t chunks = (inner + kColumnChunk - 1) / kColumnChunk;
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(D * std::min(inner, kColumnChunk), 1));
  parallel_for(0, outer * chunks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / chunks, c0 = (t % chunks) * kColumnChunk;
      cols(o, c0, std::min(kColumnChunk, inner - c0));
    }
  });
}

}  // namespace

void activation_forward(Activation op, const Tensor& out, const Tensor& x, double alpha, double beta) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), activation_name(op), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = out.data<T>();
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    parallel_for(0, x.numel(), kGrain, [&](int64_t s, int64_t e) { act_forward<T>(op, px + s, py + s, e - s, a, b); });
  });
}

void activation_backward(Activation op, const Tensor& grad_input, const Tensor& grad_output, const Tensor& saved,
                         double alpha, double beta) {
  LAMINA_DISPATCH_FLOAT(saved.dtype(), activation_name(op), [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_output.data<T>();
    const T* ps = saved.data<T>();
    T* pd = grad_input.data<T>();
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    parallel_for(0, saved.numel(), kGrain,
                 [&](int64_t s, int64_t e) { act_backward<T>(op, pg + s, ps + s, pd + s, e - s, a, b); });
  });
}

void softmax_forward(const Tensor& out, const Tensor& x, int64_t outer, int64_t D, int64_t inner, bool log) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = out.data<T>();
    softmax_tasks(
        outer, D, inner, [&](int64_t r0, int64_t r1) { softmax_rows<T>(px + r0 * D, py + r0 * D, r1 - r0, D, log); },
        [&](int64_t o, int64_t c0, int64_t w) {
          std::vector<T> mx(w);
          std::vector<double> sum(w);
          const int64_t off = o * D * inner + c0;
          softmax_cols<T>(px + off, py + off, D, inner, w, log, mx.data(), sum.data());
        });
  });
}

void softmax_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& output, int64_t outer,
                      int64_t D, int64_t inner, bool log) {
  LAMINA_DISPATCH_FLOAT(output.dtype(), log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = grad_output.data<T>();
    const T* py = output.data<T>();
    T* pd = grad_input.data<T>();
    softmax_tasks(
        outer, D, inner,
        [&](int64_t r0, int64_t r1) { softmax_back_rows<T>(pg + r0 * D, py + r0 * D, pd + r0 * D, r1 - r0, D, log); },
        [&](int64_t o, int64_t c0, int64_t w) {
          std::vector<T> st(w);
          std::vector<double> sum(w);
          const int64_t off = o * D * inner + c0;
          softmax_back_cols<T>(pg + off, py + off, pd + off, D, inner, w, log, st.data(), sum.data());
        });
  });
}

void activation_force_portable(bool on) { g_force_portable.store(on); }

}  // namespace lamina::cpu
