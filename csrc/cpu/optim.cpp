// CPU kernels for ops/optim.h.
//
// Every parameter of a group is cut into chunks of at most kChunk elements; one parallel region
// (parallel_for) hands the chunks of all tensors to the threads. Inside a chunk, blocks of kBlock
// elements go through the update one simple loop at a time (each loop vectorises; the block stays
// in L1), in the order of torch's single-tensor implementation, so every intermediate is rounded
// where torch rounds it:
//   torch                                         here (T = the parameter's dtype)
//   grad.add(param, alpha=wd)                     d = d + T(wd) * p
//   buf.mul_(m).add_(grad, alpha=1 - dampening)   b = b * T(m) + T(1 - dampening) * d
//   exp_avg.lerp_(grad, 1 - beta1)               lerp(m, d, T(1 - beta1))  (ATen's two-sided lerp)
//   exp_avg_sq.mul_(b2).addcmul_(g, g, value=c)   v = v * T(b2) + T(c) * d * d
//   (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)      sqrt(v) / T(bc2_sqrt) + T(eps)
//   param.addcdiv_(exp_avg, denom, value=-s)      p = p + T(-s) * m / denom
// The bias corrections are computed in double per parameter from its step count (torch does the
// same in Python), before the kernel runs. Each kernel is compiled twice, plain (SSE2 on x86-64)
// and for AVX2, and picked at run time (see "Instruction sets" below); both give the same bits.
// The multi-tensor norm sums in double over fixed lanes and merges per-chunk partials in order,
// so its result does not depend on the number of threads.
#include "ops/optim.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define LAMINA_OPTIM_AVX2 1
#endif

#include "core/cpu_features.h"
#include "core/parallel.h"

#if defined(__GNUC__)
#define LAMINA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LAMINA_ALWAYS_INLINE inline
#endif

namespace lamina::cpu {
namespace {

constexpr int64_t kChunk = 1 << 14;         // elements per unit of parallel work
constexpr int64_t kBlock = 512;             // elements per pass inside a chunk (fits L1)
constexpr int64_t kMinParallel = 1 << 15;   // below this many elements in all, one thread

struct Chunk {
  int64_t tensor;
  int64_t begin, end;
};

// Chunks of every tensor, in tensor order.
std::vector<Chunk> make_chunks(const std::vector<Tensor>& ts, int64_t* total) {
  std::vector<Chunk> chunks;
  *total = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    const int64_t n = ts[i].numel();
    *total += n;
    for (int64_t b = 0; b < n; b += kChunk) chunks.push_back({static_cast<int64_t>(i), b, std::min(n, b + kChunk)});
  }
  return chunks;
}

// Calls f(chunk) for every chunk, all tensors in one parallel region.
template <typename F>
void for_each_chunk(const std::vector<Tensor>& ts, const F& f) {
  int64_t total = 0;
  const std::vector<Chunk> chunks = make_chunks(ts, &total);
  const int64_t n = static_cast<int64_t>(chunks.size());
  const int64_t grain = total < kMinParallel ? n : 1;
  parallel_for(0, n, grain, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) f(chunks[c]);
  });
}

// Instruction sets. Each kernel is one always-inline template, instantiated in a plain function
// (SSE2 on x86-64) and in one compiled for AVX2 (picked at run time from cpu_features()); the
// loops vectorise to the wider registers there. The arithmetic is the same IEEE operations in the
// same order (no FMA), so both give bit-identical results.
struct Portable {};
struct Avx2 {};

// out[k] = sqrt(x[k]) (out may be x). Explicit SIMD because the compiler can't vectorise
// std::sqrt while it may set errno; correctly rounded either way, so the result is the same.
LAMINA_ALWAYS_INLINE void sqrt_block(Portable, float* out, const float* x, int64_t n) {
  int64_t k = 0;
#if defined(__SSE2__)
  for (; k + 4 <= n; k += 4) _mm_storeu_ps(out + k, _mm_sqrt_ps(_mm_loadu_ps(x + k)));
#endif
  for (; k < n; ++k) out[k] = std::sqrt(x[k]);
}
LAMINA_ALWAYS_INLINE void sqrt_block(Portable, double* out, const double* x, int64_t n) {
  int64_t k = 0;
#if defined(__SSE2__)
  for (; k + 2 <= n; k += 2) _mm_storeu_pd(out + k, _mm_sqrt_pd(_mm_loadu_pd(x + k)));
#endif
  for (; k < n; ++k) out[k] = std::sqrt(x[k]);
}
#if LAMINA_OPTIM_AVX2
__attribute__((target("avx2"))) inline void sqrt_block(Avx2, float* out, const float* x, int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) _mm256_storeu_ps(out + k, _mm256_sqrt_ps(_mm256_loadu_ps(x + k)));
  for (; k < n; ++k) out[k] = std::sqrt(x[k]);
}
__attribute__((target("avx2"))) inline void sqrt_block(Avx2, double* out, const double* x, int64_t n) {
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) _mm256_storeu_pd(out + k, _mm256_sqrt_pd(_mm256_loadu_pd(x + k)));
  for (; k < n; ++k) out[k] = std::sqrt(x[k]);
}
#endif

// d = -g or g.
template <typename T>
LAMINA_ALWAYS_INLINE void load_grad(T* __restrict d, const T* __restrict g, int64_t n, bool maximize) {
  if (maximize) {
    for (int64_t k = 0; k < n; ++k) d[k] = -g[k];
  } else {
    for (int64_t k = 0; k < n; ++k) d[k] = g[k];
  }
}

// d = d + wd * p   (torch: grad.add(param, alpha=weight_decay))
template <typename T>
LAMINA_ALWAYS_INLINE void add_weight_decay(T* __restrict d, const T* __restrict p, int64_t n, T wd) {
  for (int64_t k = 0; k < n; ++k) d[k] = d[k] + wd * p[k];
}

// a = lerp(a, x, w) with ATen's formula: a + w * (x - a) when |w| < 0.5, else x - (x - a) * (1 - w).
template <typename T>
LAMINA_ALWAYS_INLINE void lerp_block(T* __restrict a, const T* __restrict x, int64_t n, T w) {
  if (std::abs(w) < T(0.5)) {
    for (int64_t k = 0; k < n; ++k) a[k] = a[k] + w * (x[k] - a[k]);
  } else {
    const T omw = T(1) - w;
    for (int64_t k = 0; k < n; ++k) a[k] = x[k] - (x[k] - a[k]) * omw;
  }
}

// v = v * beta + c * d * d   (torch: v.mul_(beta).addcmul_(d, d, value=c))
template <typename T>
LAMINA_ALWAYS_INLINE void ema_square(T* __restrict v, const T* __restrict d, int64_t n, T beta, T c) {
  for (int64_t k = 0; k < n; ++k) v[k] = v[k] * beta + c * d[k] * d[k];
}

// ------------------------------------------------------------------------------------- SGD
template <typename T, typename Isa>
LAMINA_ALWAYS_INLINE void sgd_chunk(const Tensor& param, const Tensor& grad, const Tensor* buf, bool first, int64_t b, int64_t e,
               const SGDOptions& o) {
  T* __restrict p = param.data<T>() + b;
  const T* __restrict g = grad.data<T>() + b;
  T* __restrict mb = buf ? buf->data<T>() + b : nullptr;
  const T wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
  const T damp1 = static_cast<T>(1.0 - o.dampening), neg_lr = static_cast<T>(-o.lr);
  const bool use_wd = o.weight_decay != 0.0;
  alignas(64) T d[kBlock];
  for (int64_t s = 0; s < e - b; s += kBlock) {
    const int64_t n = std::min(kBlock, e - b - s);
    T* __restrict ps = p + s;
    load_grad(d, g + s, n, o.maximize);
    if (use_wd) add_weight_decay(d, ps, n, wd);
    if (mb) {
      T* __restrict bs = mb + s;
      if (first) {
        for (int64_t k = 0; k < n; ++k) bs[k] = d[k];  // buf = grad.clone()
      } else {
        for (int64_t k = 0; k < n; ++k) bs[k] = bs[k] * mom + damp1 * d[k];
      }
      if (o.nesterov) {
        for (int64_t k = 0; k < n; ++k) d[k] = d[k] + mom * bs[k];  // grad.add(buf, alpha=momentum)
      } else {
        for (int64_t k = 0; k < n; ++k) d[k] = bs[k];
      }
    }
    for (int64_t k = 0; k < n; ++k) ps[k] = ps[k] + neg_lr * d[k];  // param.add_(grad, alpha=-lr)
  }
}

// ------------------------------------------------------------------------------------- Adam
struct AdamScalars {
  double step_size;     // lr / (1 - beta1^step)
  double bc2_sqrt;      // (1 - beta2^step) ** 0.5
};

template <typename T, typename Isa>
LAMINA_ALWAYS_INLINE void adam_chunk(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor* max_sq, const AdamScalars& sc, int64_t b, int64_t e, const AdamOptions& o) {
  T* __restrict p = param.data<T>() + b;
  const T* __restrict g = grad.data<T>() + b;
  T* __restrict m = exp_avg.data<T>() + b;
  T* __restrict v = exp_avg_sq.data<T>() + b;
  T* __restrict vmax = max_sq ? max_sq->data<T>() + b : nullptr;
  const T wd = static_cast<T>(o.weight_decay);
  const T decay = static_cast<T>(1.0 - o.lr * o.weight_decay);
  const T w1 = static_cast<T>(1.0 - o.beta1);
  const T beta2 = static_cast<T>(o.beta2), c2 = static_cast<T>(1.0 - o.beta2);
  const T bc2s = static_cast<T>(sc.bc2_sqrt), eps = static_cast<T>(o.eps);
  const T neg_step = static_cast<T>(-sc.step_size);
  const bool use_wd = o.weight_decay != 0.0;
  alignas(64) T d[kBlock];
  alignas(64) T den[kBlock];
  for (int64_t s = 0; s < e - b; s += kBlock) {
    const int64_t n = std::min(kBlock, e - b - s);
    T* __restrict ps = p + s;
    T* __restrict ms = m + s;
    T* __restrict vs = v + s;
    load_grad(d, g + s, n, o.maximize);
    if (use_wd) {
      if (o.decoupled_weight_decay) {
        for (int64_t k = 0; k < n; ++k) ps[k] = ps[k] * decay;  // param.mul_(1 - lr * wd)
      } else {
        add_weight_decay(d, ps, n, wd);
      }
    }
    lerp_block(ms, d, n, w1);
    ema_square(vs, d, n, beta2, c2);
    if (vmax) {
      T* __restrict xs = vmax + s;
      // torch.maximum: NaN propagates.
      for (int64_t k = 0; k < n; ++k) xs[k] = (xs[k] > vs[k] || xs[k] != xs[k]) ? xs[k] : vs[k];
      sqrt_block(Isa{}, den, xs, n);
    } else {
      sqrt_block(Isa{}, den, vs, n);
    }
    for (int64_t k = 0; k < n; ++k) ps[k] = ps[k] + neg_step * ms[k] / (den[k] / bc2s + eps);
  }
}

// ------------------------------------------------------------------------------------- RMSprop
template <typename T, typename Isa>
LAMINA_ALWAYS_INLINE void rmsprop_chunk(const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor* grad_avg,
                   const Tensor* buf, int64_t b, int64_t e, const RMSpropOptions& o) {
  T* __restrict p = param.data<T>() + b;
  const T* __restrict g = grad.data<T>() + b;
  T* __restrict sq = square_avg.data<T>() + b;
  T* __restrict ga = grad_avg ? grad_avg->data<T>() + b : nullptr;
  T* __restrict mb = buf ? buf->data<T>() + b : nullptr;
  const T wd = static_cast<T>(o.weight_decay);
  const T alpha = static_cast<T>(o.alpha), c = static_cast<T>(1.0 - o.alpha);
  const T eps = static_cast<T>(o.eps), mom = static_cast<T>(o.momentum);
  const T neg_lr = static_cast<T>(-o.lr);
  const bool use_wd = o.weight_decay != 0.0;
  alignas(64) T d[kBlock];
  alignas(64) T avg[kBlock];
  for (int64_t s = 0; s < e - b; s += kBlock) {
    const int64_t n = std::min(kBlock, e - b - s);
    T* __restrict ps = p + s;
    T* __restrict sqs = sq + s;
    load_grad(d, g + s, n, o.maximize);
    if (use_wd) add_weight_decay(d, ps, n, wd);
    ema_square(sqs, d, n, alpha, c);
    if (ga) {
      T* __restrict gas = ga + s;
      lerp_block(gas, d, n, c);
      // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
      for (int64_t k = 0; k < n; ++k) avg[k] = sqs[k] + T(-1) * gas[k] * gas[k];
      sqrt_block(Isa{}, avg, avg, n);
    } else {
      sqrt_block(Isa{}, avg, sqs, n);
    }
    for (int64_t k = 0; k < n; ++k) avg[k] = avg[k] + eps;
    if (mb) {
      T* __restrict bs = mb + s;
      // buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
      for (int64_t k = 0; k < n; ++k) bs[k] = bs[k] * mom + T(1) * d[k] / avg[k];
      for (int64_t k = 0; k < n; ++k) ps[k] = ps[k] + neg_lr * bs[k];
    } else {
      for (int64_t k = 0; k < n; ++k) ps[k] = ps[k] + neg_lr * d[k] / avg[k];  // addcdiv_(value=-lr)
    }
  }
}

// ------------------------------------------------------------------------------------- dispatch
// name##_portable<T>(args) and name##_avx2<T>(args): the kernel compiled for each instruction set.
#if LAMINA_OPTIM_AVX2
#define LAMINA_OPTIM_INSTANCES(name)                                                     \
  template <typename T, typename... A>                                                  \
  auto name##_portable(const A&... a) {                                                 \
    return name<T, Portable>(a...);                                                     \
  }                                                                                     \
  template <typename T, typename... A>                                                  \
  __attribute__((target("avx2"))) auto name##_avx2(const A&... a) {                     \
    return name<T, Avx2>(a...);                                                         \
  }
#else
#define LAMINA_OPTIM_INSTANCES(name)                                                     \
  template <typename T, typename... A>                                                  \
  auto name##_portable(const A&... a) {                                                 \
    return name<T, Portable>(a...);                                                     \
  }
#endif
LAMINA_OPTIM_INSTANCES(sgd_chunk)
LAMINA_OPTIM_INSTANCES(adam_chunk)
LAMINA_OPTIM_INSTANCES(rmsprop_chunk)

std::atomic<bool> g_force_portable{false};

bool use_avx2() {
#if LAMINA_OPTIM_AVX2
  static const bool yes = cpu_features().avx2;
  return yes && !g_force_portable.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

// Runs kernel `name` on dtype `dt` with the widest instruction set this CPU has.
#if LAMINA_OPTIM_AVX2
#define LAMINA_OPTIM_CALL(name, dt, avx2, ...)                                            \
  ((dt) == DType::Float32 ? ((avx2) ? name##_avx2<float>(__VA_ARGS__) : name##_portable<float>(__VA_ARGS__)) \
                          : ((avx2) ? name##_avx2<double>(__VA_ARGS__) : name##_portable<double>(__VA_ARGS__)))
#define LAMINA_OPTIM_CALL_T(name, T, avx2, ...) \
  ((avx2) ? name##_avx2<T>(__VA_ARGS__) : name##_portable<T>(__VA_ARGS__))
#else
#define LAMINA_OPTIM_CALL_T(name, T, avx2, ...) name##_portable<T>(__VA_ARGS__)
#define LAMINA_OPTIM_CALL(name, dt, avx2, ...) \
  ((dt) == DType::Float32 ? name##_portable<float>(__VA_ARGS__) : name##_portable<double>(__VA_ARGS__))
#endif

// ------------------------------------------------------------------------------------- norms
enum class NormKind { Zero, One, Two, Inf, NegInf, P };

NormKind norm_kind(double p) {
  if (p == 0.0) return NormKind::Zero;
  if (p == 1.0) return NormKind::One;
  if (p == 2.0) return NormKind::Two;
  if (p == std::numeric_limits<double>::infinity()) return NormKind::Inf;
  if (p == -std::numeric_limits<double>::infinity()) return NormKind::NegInf;
  return NormKind::P;
}

// sum f(x[k]) in double over kLanes independent accumulators (which the compiler vectorises),
// added up in a fixed order: the result depends only on the data.
constexpr int64_t kLanes = 8;
template <typename T, typename F>
LAMINA_ALWAYS_INLINE double lane_sum(const T* x, int64_t n, const F& f) {
  double acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int64_t j = 0; j < kLanes; ++j) acc[j] += f(static_cast<double>(x[k + j]));
  }
  for (; k < n; ++k) acc[k % kLanes] += f(static_cast<double>(x[k]));
  double total = 0;
  for (int64_t j = 0; j < kLanes; ++j) total += acc[j];
  return total;
}

// The partial of one chunk: a sum (0, 1, 2, p) or an extreme (inf, -inf) of |x|.
struct AbsOp {
  LAMINA_ALWAYS_INLINE double operator()(double v) const { return std::abs(v); }
};
struct SquareOp {
  LAMINA_ALWAYS_INLINE double operator()(double v) const { return v * v; }
};

template <typename T, typename Isa>
LAMINA_ALWAYS_INLINE double norm_partial(const T* x, int64_t n, NormKind kind, double p) {
  switch (kind) {
    case NormKind::Zero: {
      double acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += x[k] != T(0) ? 1.0 : 0.0;
      return acc;
    }
    case NormKind::One: return lane_sum(x, n, AbsOp{});
    case NormKind::Two: return lane_sum(x, n, SquareOp{});
    case NormKind::Inf: {
      double acc = 0;
      for (int64_t k = 0; k < n; ++k) {
        const double a = std::abs(static_cast<double>(x[k]));
        acc = (a > acc || a != a) && acc == acc ? a : acc;  // NaN wins and stays
      }
      return acc;
    }
    case NormKind::NegInf: {
      double acc = std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) {
        const double a = std::abs(static_cast<double>(x[k]));
        acc = (a < acc || a != a) && acc == acc ? a : acc;
      }
      return acc;
    }
    case NormKind::P: {
      double acc = 0;
      for (int64_t k = 0; k < n; ++k) acc += std::pow(std::abs(static_cast<double>(x[k])), p);
      return acc;
    }
  }
  return 0.0;
}

// t[b:e] *= scale
template <typename T, typename Isa>
LAMINA_ALWAYS_INLINE void scale_chunk(const Tensor& t, int64_t b, int64_t e, double scale) {
  T* __restrict x = t.data<T>() + b;
  const T s = static_cast<T>(scale);
  for (int64_t k = 0; k < e - b; ++k) x[k] = x[k] * s;
}

LAMINA_OPTIM_INSTANCES(norm_partial)
LAMINA_OPTIM_INSTANCES(scale_chunk)

double merge_partial(double a, double b, NormKind kind) {
  if (kind == NormKind::Inf) return (b > a || b != b) && a == a ? b : a;
  if (kind == NormKind::NegInf) return (b < a || b != b) && a == a ? b : a;
  return a + b;
}

double finish_norm(double acc, NormKind kind, double p) {
  switch (kind) {
    case NormKind::Two: return std::sqrt(acc);
    case NormKind::P: return std::pow(acc, 1.0 / p);
    default: return acc;
  }
}

}  // namespace

void sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
              const std::vector<Tensor>& momentum_buffers, const std::vector<uint8_t>& first_step,
              const SGDOptions& opt) {
  const bool use_mom = !momentum_buffers.empty(), avx2 = use_avx2();
  for_each_chunk(params, [&](const Chunk& c) {
    const size_t i = static_cast<size_t>(c.tensor);
    const Tensor* buf = use_mom ? &momentum_buffers[i] : nullptr;
    const bool first = use_mom && first_step[i];
    LAMINA_OPTIM_CALL(sgd_chunk, params[i].dtype(), avx2, params[i], grads[i], buf, first, c.begin, c.end, opt);
  });
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<double>& step_counts,
               const AdamOptions& opt) {
  std::vector<AdamScalars> sc(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const double step = step_counts[i];
    const double bc1 = 1.0 - std::pow(opt.beta1, step);
    const double bc2 = 1.0 - std::pow(opt.beta2, step);
    sc[i].step_size = opt.lr / bc1;
    sc[i].bc2_sqrt = std::pow(bc2, 0.5);  // Python's bias_correction2**0.5
  }
  const bool ams = !max_exp_avg_sqs.empty(), avx2 = use_avx2();
  for_each_chunk(params, [&](const Chunk& c) {
    const size_t i = static_cast<size_t>(c.tensor);
    const Tensor* mx = ams ? &max_exp_avg_sqs[i] : nullptr;
    LAMINA_OPTIM_CALL(adam_chunk, params[i].dtype(), avx2, params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], mx,
                      sc[i], c.begin, c.end, opt);
  });
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_buffers, const RMSpropOptions& opt) {
  const bool centered = !grad_avgs.empty(), use_mom = !momentum_buffers.empty(), avx2 = use_avx2();
  for_each_chunk(params, [&](const Chunk& c) {
    const size_t i = static_cast<size_t>(c.tensor);
    const Tensor* ga = centered ? &grad_avgs[i] : nullptr;
    const Tensor* mb = use_mom ? &momentum_buffers[i] : nullptr;
    LAMINA_OPTIM_CALL(rmsprop_chunk, params[i].dtype(), avx2, params[i], grads[i], square_avgs[i], ga, mb, c.begin,
                      c.end, opt);
  });
}

std::vector<double> tensor_norms(const std::vector<Tensor>& tensors, double norm_type) {
  const NormKind kind = norm_kind(norm_type);
  int64_t total = 0;
  const std::vector<Chunk> chunks = make_chunks(tensors, &total);
  const int64_t n = static_cast<int64_t>(chunks.size());
  // One partial per chunk, merged in chunk order afterwards: the result does not depend on the
  // number of threads.
  std::vector<double> partial(static_cast<size_t>(n));
  const bool avx2 = use_avx2();
  parallel_for(0, n, total < kMinParallel ? n : 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const Chunk& ch = chunks[c];
      const Tensor& t = tensors[static_cast<size_t>(ch.tensor)];
      const int64_t len = ch.end - ch.begin;
      partial[c] = t.dtype() == DType::Float32
                       ? LAMINA_OPTIM_CALL_T(norm_partial, float, avx2, t.data<float>() + ch.begin, len, kind, norm_type)
                       : LAMINA_OPTIM_CALL_T(norm_partial, double, avx2, t.data<double>() + ch.begin, len, kind,
                                             norm_type);
    }
  });
  const double init = kind == NormKind::NegInf ? std::numeric_limits<double>::infinity() : 0.0;
  std::vector<double> acc(tensors.size(), init);
  for (int64_t c = 0; c < n; ++c) {
    double& a = acc[static_cast<size_t>(chunks[c].tensor)];
    a = merge_partial(a, partial[c], kind);
  }
  for (double& a : acc) a = finish_norm(a, kind, norm_type);
  return acc;
}

void optim_force_portable(bool force) { g_force_portable.store(force); }

void multi_tensor_scale_(const std::vector<Tensor>& tensors, double scale) {
  const bool avx2 = use_avx2();
  for_each_chunk(tensors, [&](const Chunk& c) {
    const Tensor& t = tensors[static_cast<size_t>(c.tensor)];
    LAMINA_OPTIM_CALL(scale_chunk, t.dtype(), avx2, t, c.begin, c.end, scale);
  });
}

}  // namespace lamina::cpu
