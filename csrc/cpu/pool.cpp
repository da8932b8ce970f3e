// CPU kernels for ops/pool.h. Each (n, c) plane is pooled on its own; planes are split across
// threads. Window bounds follow PyTorch's CPU kernels line for line (aten/src/ATen/native/cpu/
// MaxPoolKernel.cpp, AvgPoolKernel.cpp, AdaptiveAvgPoolKernel.cpp), so ties, NaN and padding
// behave the same: max keeps the first maximum (a NaN wins), avg divides by the window clipped
// to the padded input (count_include_pad) or to the input.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LAMINA_POOL_AVX2 1
#define LAMINA_AVX2 __attribute__((target("avx2,fma")))
#else
#define LAMINA_POOL_AVX2 0
#endif

namespace lamina::cpu {
namespace {

// Whether the AVX2 row kernels run for T on this CPU (float32 only).
template <typename T>
bool simd_ok() {
#if LAMINA_POOL_AVX2
  static const bool avx2 = cpu_features().avx2;
  return std::is_same_v<T, float> && avx2;
#else
  return false;
#endif
}

int64_t plane_grain(int64_t per_plane) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, per_plane)); }

// Valid output columns [lo, hi) of window column kj: 0 <= ow * stride_w - pad_w + kj * dilation_w < W.
void column_ranges(const Pool2dGeometry& g, std::vector<int64_t>& lo, std::vector<int64_t>& hi) {
  lo.resize(static_cast<size_t>(g.KW));
  hi.resize(static_cast<size_t>(g.KW));
  for (int64_t kj = 0; kj < g.KW; ++kj) {
    const int64_t off = kj * g.dilation_w - g.pad_w;
    int64_t l = off >= 0 ? 0 : (-off + g.stride_w - 1) / g.stride_w;
    const int64_t h = (g.W - 1 - off) < 0 ? 0 : (g.W - 1 - off) / g.stride_w + 1;
    l = std::min(l, g.OW);
    lo[static_cast<size_t>(kj)] = l;
    hi[static_cast<size_t>(kj)] = std::clamp(h, l, g.OW);
  }
}

// One tap of the window over output columns [a, b) of a row: m[ow] and best[ow] take x[i] with
// i = base + ow * sw when it is larger or NaN (torch's rule). Returns the first column not done.
template <typename T>
int64_t max_tap_simd(T*, int32_t*, const T*, int64_t, int64_t a, int64_t, int64_t, int64_t) {
  return a;
}

#if LAMINA_POOL_AVX2
// float32 with AVX2: 8 columns at a time, branch-free (a data-dependent branch per element
// mispredicts half the time on random data).
// 8 floats x[i0 + j * sw], j < 8; plane_end bounds what may be read.
LAMINA_AVX2 inline __m256 load_strided(const float* x, int64_t i0, int64_t sw, int64_t plane_end, __m256i step) {
  if (sw == 1) return _mm256_loadu_ps(x + i0);
  if (sw == 2 && i0 + 16 <= plane_end) {  // two loads and a shuffle beat a gather
    const __m256 lo = _mm256_loadu_ps(x + i0), hi = _mm256_loadu_ps(x + i0 + 8);
    const __m256 even = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));  // x0 x2 x8 x10 | x4 x6 x12 x14
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  return _mm256_i32gather_ps(x + i0, step, 4);
}

template <>
LAMINA_AVX2 int64_t max_tap_simd<float>(float* m, int32_t* best, const float* x, int64_t base, int64_t a, int64_t b,
                                        int64_t sw, int64_t plane_end) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i step = _mm256_mullo_epi32(lane, _mm256_set1_epi32(static_cast<int>(sw)));
  if (b - a < 8) return a;
  // The last vector overlaps the one before when b - a is not a multiple of 8: a tap applied twice
  // to a column changes nothing (the second time it is not larger; a NaN sets the same index).
  for (int64_t ow = a; ow < b; ow = (ow + 8 < b && ow + 16 > b) ? b - 8 : ow + 8) {
    const int64_t i0 = base + ow * sw;
    const __m256 v = load_strided(x, i0, sw, plane_end, step);
    const __m256 mv = _mm256_loadu_ps(m + ow);
    const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, mv, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    _mm256_storeu_ps(m + ow, _mm256_blendv_ps(mv, v, take));
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i0)), step);
    const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(best + ow));
    const __m256i nb = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(bv), _mm256_castsi256_ps(idx), take));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(best + ow), nb);
  }
  return b;
}
#endif

// The window of output (oh, ow) clipped to the input, and its divisor (PyTorch's avg_pool2d).
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;  // 0: empty window
};
AvgWindow avg_window(const Pool2dGeometry& g, int64_t oh, int64_t ow, bool count_include_pad, int64_t divisor) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = std::min(h0 + g.KH, g.H + g.pad_h), w1 = std::min(w0 + g.KW, g.W + g.pad_w);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H);
  w1 = std::min(w1, g.W);
  if (h0 >= h1 || w0 >= w1) return {h0, h0, w0, w0, 0};
  const int64_t div = divisor ? divisor : count_include_pad ? pool_size : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, div};
}

// Output positions in blocks of 8 for the gather kernels (float32, AVX2), shared by all planes:
// each lane's output row and column, and for max pooling torch's initial argmax (the window's
// first valid element), for avg pooling its divisor (0: an empty window).
struct PositionTable {
  int64_t P = 0;
  std::vector<int32_t> oh, ow, first;
  std::vector<float> div;
};

PositionTable position_table(const Pool2dGeometry& g) {
  PositionTable t;
  t.P = g.OH * g.OW;
  const size_t n = static_cast<size_t>((t.P + 7) / 8 * 8);
  t.oh.assign(n, 0);
  t.ow.assign(n, 0);
  t.first.assign(n, 0);
  for (int64_t p = 0; p < t.P; ++p) {
    const int64_t oh = p / g.OW, ow = p % g.OW;
    t.oh[static_cast<size_t>(p)] = static_cast<int32_t>(oh);
    t.ow[static_cast<size_t>(p)] = static_cast<int32_t>(ow);
    int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    while (h0 < 0) h0 += g.dilation_h;
    while (w0 < 0) w0 += g.dilation_w;
    t.first[static_cast<size_t>(p)] = static_cast<int32_t>(h0 * g.W + w0);
  }
  return t;
}

#if LAMINA_POOL_AVX2
// The lanes of tap (ki, kj) that fall inside the input, and their flat input indices.
struct Tap {
  __m256i index, valid;
};
LAMINA_AVX2 inline Tap tap_at(__m256i ih, __m256i iw, const Pool2dGeometry& g) {
  const __m256i minus1 = _mm256_set1_epi32(-1);
  const __m256i valid = _mm256_and_si256(
      _mm256_and_si256(_mm256_cmpgt_epi32(ih, minus1), _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(g.H)), ih)),
      _mm256_and_si256(_mm256_cmpgt_epi32(iw, minus1), _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(g.W)), iw)));
  return {_mm256_add_epi32(_mm256_mullo_epi32(ih, _mm256_set1_epi32(static_cast<int>(g.W))), iw), valid};
}

// Max pooling of one plane, 8 output positions (any rows) per step, each tap one masked gather.
// Used where output rows are shorter than a vector.
LAMINA_AVX2 void max_plane_gather(const float* x, float* y, int64_t* idx, const Pool2dGeometry& g,
                                  const PositionTable& t) {
  for (int64_t p0 = 0; p0 < t.P; p0 += 8) {
    const __m256i oh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.oh.data() + p0));
    const __m256i ow = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.ow.data() + p0));
    const __m256i h_base = _mm256_sub_epi32(_mm256_mullo_epi32(oh, _mm256_set1_epi32(static_cast<int>(g.stride_h))),
                                            _mm256_set1_epi32(static_cast<int>(g.pad_h)));
    const __m256i w_base = _mm256_sub_epi32(_mm256_mullo_epi32(ow, _mm256_set1_epi32(static_cast<int>(g.stride_w))),
                                            _mm256_set1_epi32(static_cast<int>(g.pad_w)));
    __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256i best = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.first.data() + p0));
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      const __m256i ih = _mm256_add_epi32(h_base, _mm256_set1_epi32(static_cast<int>(ki * g.dilation_h)));
      for (int64_t kj = 0; kj < g.KW; ++kj) {
        const __m256i iw = _mm256_add_epi32(w_base, _mm256_set1_epi32(static_cast<int>(kj * g.dilation_w)));
        const Tap tp = tap_at(ih, iw, g);
        const __m256 ok = _mm256_castsi256_ps(tp.valid);
        const __m256 v = _mm256_mask_i32gather_ps(m, x, tp.index, ok, 4);
        const __m256 take =
            _mm256_and_ps(ok, _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
        m = _mm256_blendv_ps(m, v, take);
        best = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best), _mm256_castsi256_ps(tp.index), take));
      }
    }
    alignas(32) float mv[8];
    alignas(32) int32_t bv[8];
    _mm256_store_ps(mv, m);
    _mm256_store_si256(reinterpret_cast<__m256i*>(bv), best);
    const int64_t n = std::min<int64_t>(8, t.P - p0);
    for (int64_t j = 0; j < n; ++j) {
      y[p0 + j] = mv[j];
      idx[p0 + j] = bv[j];
    }
  }
}

// Average pooling of one plane, 8 output positions per step (taps summed in torch's order).
LAMINA_AVX2 void avg_plane_gather(const float* x, float* y, const Pool2dGeometry& g, const PositionTable& t) {
  for (int64_t p0 = 0; p0 < t.P; p0 += 8) {
    const __m256i oh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.oh.data() + p0));
    const __m256i ow = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.ow.data() + p0));
    const __m256i h_base = _mm256_sub_epi32(_mm256_mullo_epi32(oh, _mm256_set1_epi32(static_cast<int>(g.stride_h))),
                                            _mm256_set1_epi32(static_cast<int>(g.pad_h)));
    const __m256i w_base = _mm256_sub_epi32(_mm256_mullo_epi32(ow, _mm256_set1_epi32(static_cast<int>(g.stride_w))),
                                            _mm256_set1_epi32(static_cast<int>(g.pad_w)));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t ki = 0; ki < g.KH; ++ki) {
      const __m256i ih = _mm256_add_epi32(h_base, _mm256_set1_epi32(static_cast<int>(ki)));
      for (int64_t kj = 0; kj < g.KW; ++kj) {
        const Tap tp = tap_at(ih, _mm256_add_epi32(w_base, _mm256_set1_epi32(static_cast<int>(kj))), g);
        sum = _mm256_add_ps(sum, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), x, tp.index,
                                                          _mm256_castsi256_ps(tp.valid), 4));
      }
    }
    const __m256 div = _mm256_loadu_ps(t.div.data() + p0);
    const __m256 empty = _mm256_cmp_ps(div, _mm256_setzero_ps(), _CMP_EQ_OQ);
    const __m256 out = _mm256_andnot_ps(empty, _mm256_div_ps(sum, _mm256_blendv_ps(div, _mm256_set1_ps(1.0f), empty)));
    alignas(32) float ov[8];
    _mm256_store_ps(ov, out);
    const int64_t n = std::min<int64_t>(8, t.P - p0);
    for (int64_t j = 0; j < n; ++j) y[p0 + j] = ov[j];
  }
}
#endif

// Output rows at a time: the taps of the window outside, the output columns inside (in torch's
// order, rows then columns, so ties and NaN pick the same element as torch).
template <typename T>
void max_fwd(T* y, int64_t* idx, const T* x, const Pool2dGeometry& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  std::vector<int64_t> lo, hi;
  column_ranges(g, lo, hi);
  // The first valid column of each output's window (torch's initial argmax).
  std::vector<int64_t> first_w(static_cast<size_t>(g.OW));
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    int64_t w0 = ow * g.stride_w - g.pad_w;
    while (w0 < 0) w0 += g.dilation_w;
    first_w[static_cast<size_t>(ow)] = w0;
  }
  const bool simd = simd_ok<T>() && HW < (int64_t(1) << 31);
#if LAMINA_POOL_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (simd && g.OW < 16) {  // short rows: 8 positions of any rows per step
      const PositionTable t = position_table(g);
      parallel_for(0, g.NC, plane_grain(OHW * g.KH * g.KW), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) max_plane_gather(x + c * HW, y + c * OHW, idx + c * OHW, g, t);
      });
      return;
    }
  }
#endif
  parallel_for(0, g.NC, plane_grain(OHW * g.KH * g.KW), [&](int64_t c0, int64_t c1) {
    std::vector<int32_t> best(static_cast<size_t>(g.OW));
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* m = y + c * OHW + oh * g.OW;
        int64_t* out_idx = idx + c * OHW + oh * g.OW;
        int64_t h0 = oh * g.stride_h - g.pad_h;
        const int64_t h1 = std::min(h0 + (g.KH - 1) * g.dilation_h + 1, g.H);
        while (h0 < 0) h0 += g.dilation_h;
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          m[ow] = -std::numeric_limits<T>::infinity();
          best[static_cast<size_t>(ow)] = static_cast<int32_t>(h0 * g.W + first_w[static_cast<size_t>(ow)]);
        }
        if (simd) {
          for (int64_t ih = h0; ih < h1; ih += g.dilation_h) {
            for (int64_t kj = 0; kj < g.KW; ++kj) {
              const int64_t base = ih * g.W + kj * g.dilation_w - g.pad_w;  // + ow * stride_w
              const int64_t a = lo[static_cast<size_t>(kj)], b = hi[static_cast<size_t>(kj)];
              for (int64_t ow = max_tap_simd<T>(m, best.data(), xp, base, a, b, g.stride_w, HW); ow < b; ++ow) {
                const int64_t i = base + ow * g.stride_w;
                if (xp[i] > m[ow] || std::isnan(xp[i])) {
                  m[ow] = xp[i];
                  best[static_cast<size_t>(ow)] = static_cast<int32_t>(i);
                }
              }
            }
          }
          for (int64_t ow = 0; ow < g.OW; ++ow) out_idx[ow] = best[static_cast<size_t>(ow)];
          continue;
        }
        // Portable: one output at a time (int64 indices for planes of any size).
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          int64_t w0 = ow * g.stride_w - g.pad_w;
          const int64_t w1 = std::min(w0 + (g.KW - 1) * g.dilation_w + 1, g.W);
          while (w0 < 0) w0 += g.dilation_w;
          T mv = -std::numeric_limits<T>::infinity();
          int64_t bi = h0 * g.W + w0;
          for (int64_t ih = h0; ih < h1; ih += g.dilation_h) {
            for (int64_t iw = w0; iw < w1; iw += g.dilation_w) {
              const T v = xp[ih * g.W + iw];
              if (v > mv || std::isnan(v)) {
                mv = v;
                bi = ih * g.W + iw;
              }
            }
          }
          m[ow] = mv;
          out_idx[ow] = bi;
        }
      }
    }
  });
}

template <typename T>
int64_t max_bwd(T* dx, const T* dy, const int64_t* idx, const Pool2dGeometry& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  std::atomic<int64_t> bad{0};
  parallel_for(0, g.NC, plane_grain(HW + OHW), [&](int64_t c0, int64_t c1) {
    int64_t nbad = 0;
    for (int64_t c = c0; c < c1; ++c) {
      T* dxp = dx + c * HW;
      std::fill(dxp, dxp + HW, T(0));
      const T* dyp = dy + c * OHW;
      const int64_t* ip = idx + c * OHW;
      for (int64_t o = 0; o < OHW; ++o) {
        const int64_t i = ip[o];
        if (i < 0 || i >= HW) {
          ++nbad;
          continue;
        }
        dxp[i] += dyp[o];
      }
    }
    if (nbad) bad.fetch_add(nbad);
  });
  return bad.load();
}

template <typename T>
void avg_fwd(T* y, const T* x, const Pool2dGeometry& g, bool count_include_pad, int64_t divisor) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
#if LAMINA_POOL_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (simd_ok<T>() && HW < (int64_t(1) << 31)) {
      PositionTable t = position_table(g);
      t.div.assign(t.oh.size(), 0.0f);
      for (int64_t p = 0; p < t.P; ++p)
        t.div[static_cast<size_t>(p)] =
            static_cast<float>(avg_window(g, p / g.OW, p % g.OW, count_include_pad, divisor).divisor);
      parallel_for(0, g.NC, plane_grain(OHW * g.KH * g.KW), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) avg_plane_gather(x + c * HW, y + c * OHW, g, t);
      });
      return;
    }
  }
#endif
  parallel_for(0, g.NC, plane_grain(OHW * g.KH * g.KW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * OHW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor);
          if (!a.divisor) {
            yp[oh * g.OW + ow] = T(0);
            continue;
          }
          T sum = T(0);
          for (int64_t ih = a.h0; ih < a.h1; ++ih)
            for (int64_t iw = a.w0; iw < a.w1; ++iw) sum += xp[ih * g.W + iw];
          yp[oh * g.OW + ow] = sum / static_cast<T>(a.divisor);
        }
      }
    }
  });
}

template <typename T>
void avg_bwd(T* dx, const T* dy, const Pool2dGeometry& g, bool count_include_pad, int64_t divisor) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  parallel_for(0, g.NC, plane_grain(HW + OHW * g.KH * g.KW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* dxp = dx + c * HW;
      std::fill(dxp, dxp + HW, T(0));
      const T* dyp = dy + c * OHW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow a = avg_window(g, oh, ow, count_include_pad, divisor);
          if (!a.divisor) continue;
          const T v = dyp[oh * g.OW + ow] / static_cast<T>(a.divisor);
          for (int64_t ih = a.h0; ih < a.h1; ++ih)
            for (int64_t iw = a.w0; iw < a.w1; ++iw) dxp[ih * g.W + iw] += v;
        }
      }
    }
  });
}

// Adaptive windows: [floor(o * in / out), ceil((o + 1) * in / out)).
int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
int64_t end_index(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

// Sum of x[h0:h1, w0:w1] (row length W). Wide windows (global pooling) add in 8 independent
// lanes, which the compiler vectorizes; narrow ones add in order.
template <typename T>
T window_sum(const T* x, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  if (w0 == 0 && w1 == W && h1 - h0 > 1) {  // whole rows: one contiguous range
    return window_sum(x + h0 * W, (h1 - h0) * W, 0, 1, 0, (h1 - h0) * W);
  }
  if (w1 - w0 < 16) {
    T sum = T(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += x[ih * W + iw];
    return sum;
  }
  T lanes[8] = {};
  T tail = T(0);
  for (int64_t ih = h0; ih < h1; ++ih) {
    const T* r = x + ih * W;
    int64_t iw = w0;
    for (; iw + 8 <= w1; iw += 8)
      for (int l = 0; l < 8; ++l) lanes[l] += r[iw + l];
    for (; iw < w1; ++iw) tail += r[iw];
  }
  return ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])) + tail;
}

template <typename T>
void adaptive_fwd(T* y, const T* x, const Pool2dGeometry& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  parallel_for(0, g.NC, plane_grain(HW + OHW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * OHW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = start_index(oh, g.OH, g.H), h1 = end_index(oh, g.OH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = start_index(ow, g.OW, g.W), w1 = end_index(ow, g.OW, g.W);
          yp[oh * g.OW + ow] = window_sum(xp, g.W, h0, h1, w0, w1) / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <typename T>
void adaptive_bwd(T* dx, const T* dy, const Pool2dGeometry& g) {
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  parallel_for(0, g.NC, plane_grain(HW + OHW), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* dxp = dx + c * HW;
      std::fill(dxp, dxp + HW, T(0));
      const T* dyp = dy + c * OHW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = start_index(oh, g.OH, g.H), h1 = end_index(oh, g.OH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = start_index(ow, g.OW, g.W), w1 = end_index(ow, g.OW, g.W);
          const T v = dyp[oh * g.OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) dxp[ih * g.W + iw] += v;
        }
      }
    }
  });
}

}  // namespace

void max_pool2d_forward(const Tensor& out, const Tensor& indices, const Tensor& input, const Pool2dGeometry& g) {
  LAMINA_DISPATCH_FLOAT(out.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_fwd<T>(out.data<T>(), indices.data<int64_t>(), input.data<T>(), g);
  });
}

int64_t max_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                            const Pool2dGeometry& g) {
  return LAMINA_DISPATCH_FLOAT(grad_input.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    return max_bwd<T>(grad_input.data<T>(), grad_output.data<T>(), indices.data<int64_t>(), g);
  });
}

void avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dGeometry& g, bool count_include_pad,
                        int64_t divisor) {
  LAMINA_DISPATCH_FLOAT(out.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_fwd<T>(out.data<T>(), input.data<T>(), g, count_include_pad, divisor);
  });
}

void avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Pool2dGeometry& g,
                         bool count_include_pad, int64_t divisor) {
  LAMINA_DISPATCH_FLOAT(grad_input.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_bwd<T>(grad_input.data<T>(), grad_output.data<T>(), g, count_include_pad, divisor);
  });
}

void adaptive_avg_pool2d_forward(const Tensor& out, const Tensor& input, const Pool2dGeometry& g) {
  LAMINA_DISPATCH_FLOAT(out.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_fwd<T>(out.data<T>(), input.data<T>(), g);
  });
}

void adaptive_avg_pool2d_backward(const Tensor& grad_input, const Tensor& grad_output, const Pool2dGeometry& g) {
  LAMINA_DISPATCH_FLOAT(grad_input.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_bwd<T>(grad_input.data<T>(), grad_output.data<T>(), g);
  });
}

}  // namespace lamina::cpu
