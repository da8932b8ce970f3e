// CPU kernels for ops/loss.h.
//
// Class losses walk positions (n, s) of x viewed as (N, C, S): the C values of one position are
// S apart. Sums over positions are taken in double, per fixed block of positions and then over
// the blocks in order, so the result does not depend on the number of threads.
#include "ops/loss.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/iter.h"
#include "core/parallel.h"

// The vectorised loops below need their per-element helpers inlined (a call per element stops
// the vectoriser); GCC does not always inline them on its own in functions this size.
#if defined(__GNUC__)
#define LAMINA_LOSS_INLINE inline __attribute__((always_inline))
#else
#define LAMINA_LOSS_INLINE inline
#endif

namespace lamina::cpu {
namespace {

constexpr int64_t kBlockWork = 1 << 14;  // elements per block of a deterministic sum

int64_t positions_per_block(int64_t C) {
  return std::max<int64_t>(1, kBlockWork / std::max<int64_t>(C, 1));
}

// Calls f(begin, end) -> ClassLossSums over fixed blocks of [0, P) (in parallel) and adds the
// block sums in block order.
template <typename F>
ClassLossSums blocked_sums(int64_t P, int64_t per_block, const F& f) {
  const int64_t nblocks = (P + per_block - 1) / per_block;
  std::vector<ClassLossSums> partial(static_cast<size_t>(nblocks));
  parallel_for(0, nblocks, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) partial[k] = f(k * per_block, std::min(P, (k + 1) * per_block));
  });
  ClassLossSums s;
  for (const auto& p : partial) {
    s.loss += p.loss;
    s.weight += p.weight;
  }
  return s;
}

// Vectorisable float exp and log (Cephes' polynomials, within 1 ulp): no calls and no
// branches, selects are bit masks (a branch around a float op that "could trap" stops GCC's
// vectoriser). torch's CPU kernels vectorise these too (Sleef); float64 uses libm (it serves
// gradient checks). Bits move through __builtin_bit_cast where there is one: inside "omp simd"
// loops GCC turns a memcpy's addressable local into a per-lane array and gives up.
#if defined(__has_builtin)
#if __has_builtin(__builtin_bit_cast)
#define LAMINA_LOSS_BIT_CAST 1
#endif
#endif
LAMINA_LOSS_INLINE float bits_to_float(int32_t b) {
#ifdef LAMINA_LOSS_BIT_CAST
  return __builtin_bit_cast(float, b);
#else
  float f;
  std::memcpy(&f, &b, sizeof(float));
  return f;
#endif
}
LAMINA_LOSS_INLINE int32_t float_to_bits(float f) {
#ifdef LAMINA_LOSS_BIT_CAST
  return __builtin_bit_cast(int32_t, f);
#else
  int32_t b;
  std::memcpy(&b, &f, sizeof(float));
  return b;
#endif
}
LAMINA_LOSS_INLINE int32_t mask_of(bool c) { return -static_cast<int32_t>(c); }
// mask ? a : b, for a mask of all ones or all zeros
LAMINA_LOSS_INLINE float select_bits(int32_t mask, float a, float b) {
  return bits_to_float((float_to_bits(a) & mask) | (float_to_bits(b) & ~mask));
}

// exp(x < -104) = 0, exp(x > 88.72) = inf, NaN stays NaN; subnormal results by gradual underflow.
LAMINA_LOSS_INLINE float vexp(float x) {
  const int32_t keep = mask_of(!(x < -104.0f));
  const float xc = select_bits(mask_of(x > 89.0f), 89.0f, select_bits(keep, x, -104.0f));
  const float fx = xc * 1.44269504088896341f + 0.5f;
  const int32_t i = static_cast<int32_t>(fx);
  const int32_t n = i + (static_cast<float>(i) > fx ? -1 : 0);  // floor(fx)
  const float fn = static_cast<float>(n);
  const float r = xc - fn * 0.693359375f - fn * -2.12194440e-4f;  // x - n ln2
  const float z = r * r;
  const float y = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                    1.6666665459e-1f) * r + 5.0000001201e-1f) * z + r + 1.0f;
  const int32_t n1 = n >> 1, n2 = n - n1;  // 2^n = 2^n1 2^n2, both normal floats
  return y * bits_to_float(((n1 + 127) << 23) & keep) * bits_to_float((n2 + 127) << 23);
}

// log(0) = -inf, log(inf) = inf, log(x < 0) = log(NaN) = NaN; subnormal x handled.
LAMINA_LOSS_INLINE float vlog(float x) {
  const int32_t sub = mask_of(x < 1.17549435e-38f);  // subnormal (or 0, or negative): scale by 2^23
  const int32_t bits = float_to_bits(select_bits(sub, x * 8388608.0f, x));
  int32_t e = ((bits >> 23) & 0xff) - 126 - (23 & sub);
  float m = bits_to_float((bits & 0x007fffff) | 0x3f000000);  // x = 2^e m, m in [0.5, 1)
  const int32_t small = mask_of(m < 0.707106781186547524f);
  e += small;                                                  // e - 1 where m is small
  m = m + bits_to_float(float_to_bits(m) & small) - 1.0f;      // then 2m - 1, else m - 1
  const float z = m * m;
  float y = ((((((((7.0376836292e-2f * m - 1.1514610310e-1f) * m + 1.1676998740e-1f) * m - 1.2420140846e-1f) * m +
                 1.4249322787e-1f) * m - 1.6668057665e-1f) * m + 2.0000714765e-1f) * m - 2.4999993993e-1f) * m +
            3.3333331174e-1f) * m * z;
  const float fe = static_cast<float>(e);
  y += -2.12194440e-4f * fe - 0.5f * z;
  float r = m + y + 0.693359375f * fe;
  r = select_bits(mask_of(x == 0.0f), -std::numeric_limits<float>::infinity(), r);
  r = select_bits(mask_of(x == std::numeric_limits<float>::infinity()), x, r);
  return select_bits(mask_of(!(x >= 0.0f)), std::numeric_limits<float>::quiet_NaN(), r);
}
LAMINA_LOSS_INLINE double vlog(double x) { return std::log(x); }
// c ? a : b with both sides already computed (a ternary over float expressions can become a
// branch, which the vectoriser refuses).
LAMINA_LOSS_INLINE float choose(bool c, float a, float b) { return select_bits(mask_of(c), a, b); }
LAMINA_LOSS_INLINE double choose(bool c, double a, double b) { return c ? a : b; }
LAMINA_LOSS_INLINE double vexp(double x) { return std::exp(x); }  // float64 is for gradient checks

// One row of C contiguous logits: the maximum (the shift) and log(sum_c exp(x_c - shift)), so
// that log p_c = (x_c - shift) - logsum loses nothing even at |x| = 1e4. NaN anywhere gives
// NaN; a row of -inf gives logsum = -inf.
template <typename T>
inline void row_logsumexp(const T* x, int64_t C, T* shift_out, T* logsum_out) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < C; ++c) m = x[c] > m ? x[c] : m;
  const T shift = std::isinf(m) && m < 0 ? T(0) : m;
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < C; ++c) sum += static_cast<double>(vexp(x[c] - shift));
  // NaN in x: the max may skip it, the sum does not
  *shift_out = shift;
  *logsum_out = static_cast<T>(std::log(sum));
}

// sum_c a_c * ((x_c - shift) - logsum), in double
template <typename T>
inline double row_dot_logp(const T* a, const T* x, int64_t C, T shift, T logsum) {
  double acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t c = 0; c < C; ++c) acc += static_cast<double>(a[c]) * static_cast<double>((x[c] - shift) - logsum);
  return acc;
}

// Positions are visited in tiles of up to kTile along s inside one n. With S == 1 a tile is one
// position whose C values are contiguous: the loops run over c ("rows"). With S > 1 the
// tile's positions are contiguous for every c: the loops run over the tile's lanes l
// ("columns"), c outermost, so every inner loop is contiguous and vectorises either way.
constexpr int64_t kTile = 64;

// Calls f(n, s0, L) for runs of positions [b, e) that stay inside one n, at most kTile long.
template <typename F>
void for_tiles(int64_t b, int64_t e, int64_t S, const F& f) {
  int64_t pos = b;
  while (pos < e) {
    const int64_t n = pos / S, s0 = pos % S;
    const int64_t L = std::min({kTile, S - s0, e - pos});
    f(n, s0, L);
    pos += L;
  }
}

template <typename T>
std::vector<T> class_weights(const Tensor& weight, int64_t C) {
  if (weight.defined()) return std::vector<T>(weight.data<T>(), weight.data<T>() + C);
  return std::vector<T>(static_cast<size_t>(C), T(1));
}

// Per-tile log-sum-exp over columns: for lanes l < L of xb (element (c, l) at xb[c * S + l]),
// the maximum and log(sum_c exp(x - max)), as row_logsumexp.
template <typename T>
void column_logsumexp(const T* xb, int64_t C, int64_t S, int64_t L, T* shift, T* logsum) {
  T m[kTile];
  double sum[kTile];
  for (int64_t l = 0; l < L; ++l) m[l] = -std::numeric_limits<T>::infinity();
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = xb + c * S;
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) m[l] = xc[l] > m[l] ? xc[l] : m[l];
  }
  for (int64_t l = 0; l < L; ++l) {
    shift[l] = std::isinf(m[l]) && m[l] < 0 ? T(0) : m[l];
    sum[l] = 0;
  }
  for (int64_t c = 0; c < C; ++c) {
    const T* xc = xb + c * S;
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) sum[l] += static_cast<double>(vexp(xc[l] - shift[l]));
  }
  for (int64_t l = 0; l < L; ++l) logsum[l] = static_cast<T>(std::log(sum[l]));
}

template <typename T>
ClassLossSums ce_forward(const Tensor& loss_pos, const Tensor& lse, const Tensor& x, const Tensor& target,
                         const Tensor& weight, const ClassLossGeometry& g, int64_t ignore_index, double eps) {
  const int64_t C = g.C, S = g.S, P = g.N * g.S;
  const T* px = x.data<T>();
  const std::vector<T> wv = class_weights<T>(weight, C);
  const T* pw = wv.data();
  T* out = loss_pos.defined() ? loss_pos.data<T>() : nullptr;
  T* plse = lse.data<T>();
  const double smooth = eps / static_cast<double>(C);
  const T keep = static_cast<T>(1 - eps), add = static_cast<T>(smooth);  // t' = t keep + add
  const int64_t* py = g.prob ? nullptr : target.data<int64_t>();
  const T* pt = g.prob ? target.data<T>() : nullptr;
  return blocked_sums(P, positions_per_block(C), [&](int64_t b, int64_t e) {
    ClassLossSums sums;
    std::vector<T> wt(g.prob && S == 1 ? static_cast<size_t>(C) : 0);
    T shift[kTile], logsum[kTile];
    double loss[kTile], sm[kTile];
    for_tiles(b, e, S, [&](int64_t n, int64_t s0, int64_t L) {
      const int64_t base = n * C * S + s0, pos0 = n * S + s0;
      const T* xb = px + base;
      // 1. log-sum-exp of each position
      if (S == 1) {
        row_logsumexp(xb, C, &shift[0], &logsum[0]);
      } else {
        column_logsumexp(xb, C, S, L, shift, logsum);
      }
      // 2. the loss of each position
      if (g.prob) {
        const T* tb = pt + base;
        if (S == 1) {
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) wt[c] = pw[c] * (tb[c] * keep + add);
          loss[0] = -row_dot_logp(wt.data(), xb, C, shift[0], logsum[0]);
        } else {
          for (int64_t l = 0; l < L; ++l) loss[l] = 0;
          for (int64_t c = 0; c < C; ++c) {
            const T* xc = xb + c * S;
            const T* tc = tb + c * S;
            const T wc = pw[c];
#pragma omp simd
            for (int64_t l = 0; l < L; ++l)
              loss[l] -= static_cast<double>(wc * (tc[l] * keep + add)) *
                         static_cast<double>((xc[l] - shift[l]) - logsum[l]);
          }
        }
        sums.weight += static_cast<double>(L);
      } else {
        if (eps > 0) {
          if (S == 1) {
            sm[0] = row_dot_logp(pw, xb, C, shift[0], logsum[0]);
          } else {
            for (int64_t l = 0; l < L; ++l) sm[l] = 0;
            for (int64_t c = 0; c < C; ++c) {
              const T* xc = xb + c * S;
              const double wc = pw[c];
#pragma omp simd
              for (int64_t l = 0; l < L; ++l) sm[l] += wc * static_cast<double>((xc[l] - shift[l]) - logsum[l]);
            }
          }
        }
        for (int64_t l = 0; l < L; ++l) {
          const int64_t y = py[pos0 + l];
          loss[l] = 0;
          if (y == ignore_index) continue;
          const double wy = pw[y];
          loss[l] = -wy * ((static_cast<double>(xb[y * S + l]) - shift[l]) - logsum[l]);
          if (eps > 0) loss[l] = (1 - eps) * loss[l] - smooth * sm[l];
          sums.weight += wy;
        }
      }
      for (int64_t l = 0; l < L; ++l) {
        plse[2 * (pos0 + l)] = shift[l];
        plse[2 * (pos0 + l) + 1] = logsum[l];
        if (out) out[pos0 + l] = static_cast<T>(loss[l]);
        sums.loss += loss[l];
      }
    });
    return sums;
  });
}

template <typename T>
void ce_backward(const Tensor& dx, const Tensor& dtarget, const Tensor& dweight, const Tensor& grad,
                 bool per_position, double scale, const Tensor& x, const Tensor& target, const Tensor& weight,
                 const Tensor& lse, const ClassLossGeometry& g, int64_t ignore_index, double eps) {
  const int64_t C = g.C, S = g.S, P = g.N * g.S;
  const T* px = x.data<T>();
  const std::vector<T> wv = class_weights<T>(weight, C);
  const T* pw = wv.data();
  const T* plse = lse.data<T>();
  const T* pg = grad.data<T>();
  T* pdx = dx.defined() ? dx.data<T>() : nullptr;
  T* pdt = dtarget.defined() ? dtarget.data<T>() : nullptr;
  const int64_t* py = g.prob ? nullptr : target.data<int64_t>();
  const T* pt = g.prob ? target.data<T>() : nullptr;
  const double smooth = eps / static_cast<double>(C);
  const T keep = static_cast<T>(1 - eps), add = static_cast<T>(smooth);
  double wsum = 0;
  for (int64_t c = 0; c < C; ++c) wsum += pw[c];
  auto gpos = [&](int64_t pos) { return static_cast<double>(per_position ? pg[pos] : pg[0]) * scale; };

  if (pdx || pdt) {
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1));
    parallel_for(0, P, grain, [&](int64_t b, int64_t e) {
      T shift[kTile], logsum[kTile], A[kTile], B[kTile], a[kTile];
      double tw[kTile];
      for_tiles(b, e, S, [&](int64_t n, int64_t s0, int64_t L) {
        const int64_t base = n * C * S + s0, pos0 = n * S + s0;
        const T* xb = px + base;
        for (int64_t l = 0; l < L; ++l) {
          shift[l] = plse[2 * (pos0 + l)];
          logsum[l] = plse[2 * (pos0 + l) + 1];
        }
        if (!g.prob) {
          // d/dx_c = a (p_c - [c == y]) + b (p_c sum_k w_k - w_c), a = (1 - eps) g w_y,
          // b = eps / C g: written as A p_c - B w_c, then a taken off at c = y.
          for (int64_t l = 0; l < L; ++l) {
            const int64_t y = py[pos0 + l];
            const double gp = y == ignore_index ? 0.0 : gpos(pos0 + l);
            a[l] = y == ignore_index ? T(0) : static_cast<T>((1 - eps) * gp * pw[y]);
            A[l] = static_cast<T>((1 - eps) * gp * (y == ignore_index ? 0.0 : static_cast<double>(pw[y])) +
                                  smooth * gp * wsum);
            B[l] = static_cast<T>(smooth * gp);
          }
          T* db = pdx + base;
          if (S == 1) {  // one position: vectorise over c
            const T A0 = A[0], B0 = B[0], sh = shift[0], ls = logsum[0];
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) db[c] = A0 * vexp((xb[c] - sh) - ls) - B0 * pw[c];
          } else {
            for (int64_t c = 0; c < C; ++c) {
              const T* xc = xb + c * S;
              T* dc = db + c * S;
              const T wc = pw[c];
#pragma omp simd
              for (int64_t l = 0; l < L; ++l) dc[l] = A[l] * vexp((xc[l] - shift[l]) - logsum[l]) - B[l] * wc;
            }
          }
          for (int64_t l = 0; l < L; ++l) {
            const int64_t y = py[pos0 + l];
            if (y == ignore_index) {
              for (int64_t c = 0; c < C; ++c) db[c * S + l] = T(0);  // exactly 0, whatever the logits
            } else {
              db[y * S + l] -= a[l];
            }
          }
          return;
        }
        // Probability targets: d/dx_c = g (p_c sum_k w_k t'_k - w_c t'_c);
        // d/dt_c = -g w_c (1 - eps) log p_c.
        const T* tb = pt + base;
        for (int64_t l = 0; l < L; ++l) {
          const double gp = gpos(pos0 + l);
          A[l] = static_cast<T>(gp);
          B[l] = static_cast<T>(-gp * (1 - eps));
          tw[l] = 0;
        }
        if (S == 1) {  // one position: vectorise over c
          const T g0 = A[0], f0 = B[0], sh = shift[0], ls = logsum[0];
          if (pdx) {
            double t0 = 0;
#pragma omp simd reduction(+ : t0)
            for (int64_t c = 0; c < C; ++c) t0 += static_cast<double>(pw[c] * (tb[c] * keep + add));
            const T gtw = static_cast<T>(static_cast<double>(g0) * t0);
            T* db = pdx + base;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c)
              db[c] = gtw * vexp((xb[c] - sh) - ls) - g0 * (pw[c] * (tb[c] * keep + add));
          }
          if (pdt) {
            T* db = pdt + base;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) db[c] = f0 * pw[c] * ((xb[c] - sh) - ls);
          }
          return;
        }
        if (pdx) {
          for (int64_t c = 0; c < C; ++c) {
            const T* tc = tb + c * S;
            const T wc = pw[c];
#pragma omp simd
            for (int64_t l = 0; l < L; ++l) tw[l] += static_cast<double>(wc * (tc[l] * keep + add));
          }
          for (int64_t l = 0; l < L; ++l) a[l] = static_cast<T>(static_cast<double>(A[l]) * tw[l]);  // g tw
          T* db = pdx + base;
          for (int64_t c = 0; c < C; ++c) {
            const T* xc = xb + c * S;
            const T* tc = tb + c * S;
            T* dc = db + c * S;
            const T wc = pw[c];
#pragma omp simd
            for (int64_t l = 0; l < L; ++l)
              dc[l] = a[l] * vexp((xc[l] - shift[l]) - logsum[l]) - A[l] * (wc * (tc[l] * keep + add));
          }
        }
        if (pdt) {
          T* db = pdt + base;
          for (int64_t c = 0; c < C; ++c) {
            const T* xc = xb + c * S;
            T* dc = db + c * S;
            const T wc = pw[c];
#pragma omp simd
            for (int64_t l = 0; l < L; ++l) dc[l] = B[l] * wc * ((xc[l] - shift[l]) - logsum[l]);
          }
        }
      });
    });
  }
  if (dweight.defined()) {
    // Probability targets: dw_c = -sum over positions of g t'_c log p_c, per block of positions
    // and then over the blocks in order.
    const int64_t per_block = positions_per_block(C);
    const int64_t nblocks = (P + per_block - 1) / per_block;
    std::vector<double> partial(static_cast<size_t>(nblocks * C), 0.0);
    parallel_for(0, nblocks, 1, [&](int64_t kb, int64_t ke) {
      for (int64_t k = kb; k < ke; ++k) {
        double* acc = partial.data() + k * C;
        for (int64_t pos = k * per_block; pos < std::min(P, (k + 1) * per_block); ++pos) {
          const int64_t base = (pos / S) * C * S + pos % S;
          const double gp = gpos(pos);
          const double shift = plse[2 * pos], logsum = plse[2 * pos + 1];
          for (int64_t c = 0; c < C; ++c) {
            const double tc = static_cast<double>(pt[base + c * S]) * (1 - eps) + smooth;
            acc[c] -= gp * tc * ((static_cast<double>(px[base + c * S]) - shift) - logsum);
          }
        }
      }
    });
    T* pdw = dweight.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      double v = 0;
      for (int64_t k = 0; k < nblocks; ++k) v += partial[k * C + c];
      pdw[c] = static_cast<T>(v);
    }
  }
}

template <typename T>
ClassLossSums nll_forward(const Tensor& loss_pos, const Tensor& x, const Tensor& target, const Tensor& weight,
                          const ClassLossGeometry& g, int64_t ignore_index) {
  const int64_t C = g.C, S = g.S, P = g.N * g.S;
  const T* px = x.data<T>();
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;
  const int64_t* py = target.data<int64_t>();
  T* out = loss_pos.defined() ? loss_pos.data<T>() : nullptr;
  return blocked_sums(P, kBlockWork, [&](int64_t b, int64_t e) {
    ClassLossSums s;
    for (int64_t pos = b; pos < e; ++pos) {
      const int64_t y = py[pos];
      double l = 0;
      if (y != ignore_index) {
        const int64_t n = pos / S, sp = pos % S;
        const double wy = pw ? static_cast<double>(pw[y]) : 1.0;
        l = -wy * static_cast<double>(px[(n * C + y) * S + sp]);
        s.weight += wy;
      }
      if (out) out[pos] = static_cast<T>(l);
      s.loss += l;
    }
    return s;
  });
}

template <typename T>
void nll_backward(const Tensor& dx, const Tensor& grad, bool per_position, double scale, const Tensor& target,
                  const Tensor& weight, const ClassLossGeometry& g, int64_t ignore_index) {
  const int64_t C = g.C, S = g.S;
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;
  const int64_t* py = target.data<int64_t>();
  const T* pg = grad.data<T>();
  T* pdx = dx.data<T>();
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1));
  parallel_for(0, g.N, std::max<int64_t>(1, grain / std::max<int64_t>(S, 1)), [&](int64_t b, int64_t e) {
    std::fill(pdx + b * C * S, pdx + e * C * S, T(0));
    for (int64_t pos = b * S; pos < e * S; ++pos) {
      const int64_t y = py[pos];
      if (y == ignore_index) continue;
      const int64_t n = pos / S, sp = pos % S;
      const double wy = pw ? static_cast<double>(pw[y]) : 1.0;
      const double gp = static_cast<double>(per_position ? pg[pos] : pg[0]) * scale;
      pdx[(n * C + y) * S + sp] = static_cast<T>(-wy * gp);
    }
  });
}

// ---- pointwise losses ----

// log1p(z) = log(u) + (z - (u - 1)) / u with u = 1 + z rounded: the second term restores what
// the rounding of u lost (all of log1p(z) when u rounds to 1). It is below half an ulp of u, so
// 1/u may be rough: the chord 1.5 - u/2 (exact at u = 1 and 2) keeps the error below 1e-8
// without a division.
LAMINA_LOSS_INLINE float vlog1p(float z) {
  const float u = 1.0f + z;
  return vlog(u) + (z - (u - 1.0f)) * (1.5f - 0.5f * u);
}
LAMINA_LOSS_INLINE double vlog1p(double z) { return std::log1p(z); }

// The loss of one element, weight included.
template <PointwiseLoss K, typename T>
LAMINA_LOSS_INLINE T pointwise_value(T x, T t, T w, T pw) {
  if constexpr (K == PointwiseLoss::MSE) {
    const T d = x - t;
    return w * (d * d);
  } else if constexpr (K == PointwiseLoss::L1) {
    return w * std::abs(x - t);
  } else if constexpr (K == PointwiseLoss::BCE) {
    // torch: (t - 1) * max(log1p(-x), -100) - t * max(log(x), -100)
    const T a = vlog1p(-x), b = vlog(x);
    return w * ((t - T(1)) * (a > T(-100) ? a : T(-100)) - t * (b > T(-100) ? b : T(-100)));
  } else {
    // torch: (1 - t) x - lw log_sigmoid(x), lw = 1 + (pw - 1) t. With log_sigmoid(x) =
    // min(x, 0) - L, L = log1p(exp(-|x|)), the x terms are gathered first so that nothing
    // cancels: (1 - t) x + lw L for x >= 0, and -pw t x + lw L for x < 0 (softplus(x) = L
    // exactly when t = 0, even at x = -69 where L = 1e-30).
    const T lw = T(1) + (pw - T(1)) * t;
    const T L = vlog1p(vexp(-std::abs(x)));
    const T lin = choose(x >= T(0), (T(1) - t) * x, -(pw * t * x));
    return w * (lin + lw * L);
  }
}

// The gradient of one element's loss with respect to the input (Which = 0), the target (1) or
// the weight (2, without the mean's shift: g (loss / w - shift)); g includes the reduction's
// scale.
template <PointwiseLoss K, int Which, typename T>
LAMINA_LOSS_INLINE T pointwise_grad(T g, T x, T t, T w, T pw, T shift) {
  if constexpr (K == PointwiseLoss::MSE) {
    const T d = x - t;
    if constexpr (Which == 0) return T(2) * d * w * g;
    if constexpr (Which == 1) return -(T(2) * d * w * g);
    if constexpr (Which == 2) return (d * d - shift) * g;
  } else if constexpr (K == PointwiseLoss::L1) {
    const T d = x - t;
    const T sign = static_cast<T>(d > T(0)) - static_cast<T>(d < T(0));
    if constexpr (Which == 0) return sign * w * g;
    if constexpr (Which == 1) return -(sign * w * g);
    if constexpr (Which == 2) return (std::abs(d) - shift) * g;
  } else if constexpr (K == PointwiseLoss::BCE) {
    // torch: (x - t) / max((1 - x) x, 1e-12) * w * g; target: -logit(x) * w * g
    if constexpr (Which == 0) {
      const T den = (T(1) - x) * x;
      return (x - t) / (den > T(1e-12) ? den : T(1e-12)) * w * g;
    }
    if constexpr (Which == 1) return -vlog(x / (T(1) - x)) * w * g;
    if constexpr (Which == 2) return T(0);
  } else {
    // d/dx = (1 - t) - lw sigmoid(-x), gathered as for the loss: with s = sigmoid(-|x|) (small),
    // (1 - t) - lw s for x >= 0 and lw s - pw t for x < 0.
    // d/dt = -x - (pw - 1) log_sigmoid(x): -x + (pw - 1) L for x >= 0, -pw x + (pw - 1) L for x < 0.
    if constexpr (Which == 0) {
      const T lw = T(1) + (pw - T(1)) * t;
      const T e = vexp(-std::abs(x));
      const T sg = e / (T(1) + e);
      return choose(x >= T(0), (T(1) - t) - lw * sg, lw * sg - pw * t) * w * g;
    }
    if constexpr (Which == 1) {
      const T L = vlog1p(vexp(-std::abs(x)));
      return (choose(x >= T(0), -x, -(pw * x)) + (pw - T(1)) * L) * w * g;
    }
    if constexpr (Which == 2) return T(0);
  }
}

// Operand strides along the innermost run of a plan: contiguous (1) or broadcast (0) are the
// fast cases, compiled with the stride known; anything else takes the general loop.
template <int SW, int SP, int SG>
struct FastStrides {
  static constexpr int w = SW, pw = SP, g = SG;
};

template <typename F>
bool dispatch_fast(int64_t sw, int64_t sp, int64_t sg, const F& f) {
  if ((sw != 0 && sw != 1) || (sp != 0 && sp != 1) || (sg != 0 && sg != 1)) return false;
  const int key = static_cast<int>(sw * 4 + sp * 2 + sg);
  switch (key) {
    case 0: f(FastStrides<0, 0, 0>{}); break;
    case 1: f(FastStrides<0, 0, 1>{}); break;
    case 2: f(FastStrides<0, 1, 0>{}); break;
    case 3: f(FastStrides<0, 1, 1>{}); break;
    case 4: f(FastStrides<1, 0, 0>{}); break;
    case 5: f(FastStrides<1, 0, 1>{}); break;
    case 6: f(FastStrides<1, 1, 0>{}); break;
    default: f(FastStrides<1, 1, 1>{}); break;
  }
  return true;
}

template <PointwiseLoss K, typename T>
double pointwise_forward(const Tensor& out, const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw) {
  const Shape& shape = x.sizes();
  const Shape zero(shape.size(), 0);
  const auto p = make_plan<5>(shape, {out.defined() ? out.strides() : zero, x.strides(), t.strides(), w.strides(),
                                      pw.strides()}, pointwise_loss_name(K));
  T* po = out.defined() ? out.data<T>() : nullptr;
  const T* px = x.data<T>();
  const T* pt = t.data<T>();
  const T* pwt = w.data<T>();
  const T* ppw = pw.data<T>();
  const int d = p.ndim - 1;
  const int64_t so = p.strides[0][d], sx = p.strides[1][d], st = p.strides[2][d], sw = p.strides[3][d],
                sp = p.strides[4][d];
  const bool contiguous = sx == 1 && st == 1 && (!po || so == 1);
  const ClassLossSums s = blocked_sums(p.numel, kBlockWork, [&](int64_t b, int64_t e) {
    double acc = 0;
    plan_for_range(p, b, e, [&](const int64_t* off, int64_t n) {
      const T* a_ = px + off[1];
      const T* y_ = pt + off[2];
      const T* ww_ = pwt + off[3];
      const T* qq_ = ppw + off[4];
      T* o_ = po ? po + off[0] : nullptr;
      const bool fast = contiguous && dispatch_fast(sw, sp, 0, [&](auto fs) {
        constexpr int64_t SW = decltype(fs)::w, SP = decltype(fs)::pw;
        // locals, not the enclosing lambdas' captures: loads through a closure in the loop
        // stop the vectoriser
        const T* const a = a_;
        const T* const y = y_;
        const T* const ww = ww_;
        const T* const qq = qq_;
        T* const o = o_;
        // partial sums in T over short chunks (a few dozen terms per SIMD lane), then in double
        for (int64_t k0 = 0; k0 < n; k0 += 256) {
          const int64_t k1 = std::min(n, k0 + 256);
          T part = 0;
          if (o) {
#pragma omp simd reduction(+ : part)
            for (int64_t k = k0; k < k1; ++k) {
              const T v = pointwise_value<K, T>(a[k], y[k], ww[k * SW], qq[k * SP]);
              o[k] = v;
              part += v;
            }
          } else {
#pragma omp simd reduction(+ : part)
            for (int64_t k = k0; k < k1; ++k) part += pointwise_value<K, T>(a[k], y[k], ww[k * SW], qq[k * SP]);
          }
          acc += static_cast<double>(part);
        }
      });
      if (fast) return;
      for (int64_t k = 0; k < n; ++k) {
        const T v = pointwise_value<K, T>(a_[k * sx], y_[k * st], ww_[k * sw], qq_[k * sp]);
        if (o_) o_[k * so] = v;
        acc += v;
      }
    });
    ClassLossSums r;
    r.loss = acc;
    return r;
  });
  return s.loss;
}

// One gradient (Which) of the pointwise loss, written to `out` (contiguous, the plan's shape).
template <PointwiseLoss K, int Which, typename T>
void pointwise_backward_one(const Tensor& out, const Tensor& grad, double scale, double shift, const Tensor& x,
                            const Tensor& t, const Tensor& w, const Tensor& pw) {
  const Shape& shape = x.sizes();
  const auto p = make_plan<6>(shape, {out.strides(), grad.strides(), x.strides(), t.strides(), w.strides(),
                                      pw.strides()}, pointwise_loss_name(K));
  T* po = out.data<T>();
  const T* pg = grad.data<T>();
  const T* px = x.data<T>();
  const T* pt = t.data<T>();
  const T* pwt = w.data<T>();
  const T* ppw = pw.data<T>();
  const int d = p.ndim - 1;
  int64_t s[6];
  for (int k = 0; k < 6; ++k) s[k] = p.strides[k][d];
  const T sc = static_cast<T>(scale), sh = static_cast<T>(shift);
  const bool contiguous = s[0] == 1 && s[2] == 1 && s[3] == 1;
  plan_parallel_for(p, 16384, [&](const int64_t* off, int64_t n) {
    T* const o = po + off[0];
    const T* const g = pg + off[1];
    const T* const a = px + off[2];
    const T* const y = pt + off[3];
    const T* const ww = pwt + off[4];
    const T* const qq = ppw + off[5];
    const bool fast = contiguous && dispatch_fast(s[4], s[5], s[1], [&](auto fs) {
      constexpr int64_t SW = decltype(fs)::w, SP = decltype(fs)::pw, SG = decltype(fs)::g;
      T* const o_ = o;  // locals, not captures (see pointwise_forward)
      const T *const g_ = g, *const a_ = a, *const y_ = y, *const ww_ = ww, *const qq_ = qq;
      const T sc_ = sc, sh_ = sh;
#pragma omp simd
      for (int64_t k = 0; k < n; ++k)
        o_[k] = pointwise_grad<K, Which, T>(g_[k * SG] * sc_, a_[k], y_[k], ww_[k * SW], qq_[k * SP], sh_);
    });
    if (fast) return;
    for (int64_t k = 0; k < n; ++k)
      o[k * s[0]] = pointwise_grad<K, Which, T>(g[k * s[1]] * sc, a[k * s[2]], y[k * s[3]], ww[k * s[4]],
                                                qq[k * s[5]], sh);
  });
}

template <PointwiseLoss K, typename T>
void pointwise_backward(const Tensor& dx, const Tensor& dt, const Tensor& dw, const Tensor& grad, double scale,
                        double shift, const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw) {
  if (dx.defined()) pointwise_backward_one<K, 0, T>(dx, grad, scale, shift, x, t, w, pw);
  if (dt.defined()) pointwise_backward_one<K, 1, T>(dt, grad, scale, shift, x, t, w, pw);
  if (dw.defined()) pointwise_backward_one<K, 2, T>(dw, grad, scale, shift, x, t, w, pw);
}

template <typename F>
void dispatch_pointwise(PointwiseLoss kind, DType dtype, const F& f) {
  LAMINA_DISPATCH_FLOAT(dtype, pointwise_loss_name(kind), [&](auto tag) {
    using T = decltype(tag);
    switch (kind) {
      case PointwiseLoss::MSE: return f(T{}, std::integral_constant<PointwiseLoss, PointwiseLoss::MSE>{});
      case PointwiseLoss::L1: return f(T{}, std::integral_constant<PointwiseLoss, PointwiseLoss::L1>{});
      case PointwiseLoss::BCE: return f(T{}, std::integral_constant<PointwiseLoss, PointwiseLoss::BCE>{});
      case PointwiseLoss::BCEWithLogits:
        return f(T{}, std::integral_constant<PointwiseLoss, PointwiseLoss::BCEWithLogits>{});
    }
  });
}

}  // namespace

ClassLossSums cross_entropy_forward(const Tensor& loss_pos, const Tensor& lse, const Tensor& x,
                                    const Tensor& target, const Tensor& weight, const ClassLossGeometry& g,
                                    int64_t ignore_index, double label_smoothing) {
  return LAMINA_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    return ce_forward<T>(loss_pos, lse, x, target, weight, g, ignore_index, label_smoothing);
  });
}

void cross_entropy_backward(const Tensor& dx, const Tensor& dtarget, const Tensor& dweight, const Tensor& grad,
                            bool grad_per_position, double scale, const Tensor& x, const Tensor& target,
                            const Tensor& weight, const Tensor& lse, const ClassLossGeometry& g,
                            int64_t ignore_index, double label_smoothing) {
  LAMINA_DISPATCH_FLOAT(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ce_backward<T>(dx, dtarget, dweight, grad, grad_per_position, scale, x, target, weight, lse, g, ignore_index,
                   label_smoothing);
  });
}

ClassLossSums nll_loss_forward(const Tensor& loss_pos, const Tensor& x, const Tensor& target,
                               const Tensor& weight, const ClassLossGeometry& g, int64_t ignore_index) {
  return LAMINA_DISPATCH_FLOAT(x.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    return nll_forward<T>(loss_pos, x, target, weight, g, ignore_index);
  });
}

void nll_loss_backward(const Tensor& dx, const Tensor& grad, bool grad_per_position, double scale,
                       const Tensor& target, const Tensor& weight, const ClassLossGeometry& g,
                       int64_t ignore_index) {
  LAMINA_DISPATCH_FLOAT(dx.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    nll_backward<T>(dx, grad, grad_per_position, scale, target, weight, g, ignore_index);
  });
}

bool find_bad_label(const Tensor& target, int64_t C, int64_t ignore_index, int64_t* value, int64_t* position) {
  const int64_t* py = target.data<int64_t>();
  const int64_t n = target.numel();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = py[i];
    if (y != ignore_index && (y < 0 || y >= C)) {
      *value = y;
      *position = i;
      return true;
    }
  }
  return false;
}

bool all_in_unit_interval(const Tensor& x) {
  const auto p = make_plan<1>(x.sizes(), {x.strides()}, "binary_cross_entropy");
  std::atomic<bool> bad{false};
  LAMINA_DISPATCH_FLOAT(x.dtype(), "binary_cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    const int64_t sx = p.strides[0][p.ndim - 1];
    plan_parallel_for(p, 65536, [&](const int64_t* off, int64_t n) {
      const T* a = px + off[0];
      int out = 0;  // NaN compares false: out of the interval
      if (sx == 1) {
        _Pragma("omp simd reduction(| : out)")  // (inside a macro argument: no #pragma)
        for (int64_t k = 0; k < n; ++k) out |= static_cast<int>(!((a[k] >= T(0)) & (a[k] <= T(1))));
      } else {
        for (int64_t k = 0; k < n; ++k) out |= static_cast<int>(!((a[k * sx] >= T(0)) & (a[k * sx] <= T(1))));
      }
      if (out) bad.store(true, std::memory_order_relaxed);
    });
  });
  return !bad.load();
}

double pointwise_loss_forward(PointwiseLoss kind, const Tensor& out, const Tensor& x, const Tensor& t,
                              const Tensor& w, const Tensor& pw) {
  double r = 0;
  dispatch_pointwise(kind, x.dtype(), [&](auto tag, auto k) {
    using T = decltype(tag);
    r = pointwise_forward<decltype(k)::value, T>(out, x, t, w, pw);
  });
  return r;
}

void pointwise_loss_backward(PointwiseLoss kind, const Tensor& dx, const Tensor& dt, const Tensor& dw,
                             const Tensor& grad, double scale, double shift, const Tensor& x, const Tensor& t,
                             const Tensor& w, const Tensor& pw) {
  dispatch_pointwise(kind, x.dtype(), [&](auto tag, auto k) {
    using T = decltype(tag);
    pointwise_backward<decltype(k)::value, T>(dx, dt, dw, grad, scale, shift, x, t, w, pw);
  });
}

}  // namespace lamina::cpu
