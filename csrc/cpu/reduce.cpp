// CPU kernels for ops/reduce.h. One template walks each output row's reduced block; rows go to
// threads, or, when there are fewer rows than threads, each row is split across threads and the
// partial results merged in index order.
#include "ops/reduce.h"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/iter.h"

namespace lamina::cpu {
namespace {

template <int N>
int64_t plan_offset(const StridedPlan<N>& p, int64_t linear, int k = 0) {
  const int64_t inner = p.sizes[p.ndim - 1];
  if (inner == 0) return 0;
  int64_t off[N];
  plan_row_offsets(p, linear / inner, off);
  return off[k] + (linear % inner) * p.strides[k][p.ndim - 1];
}

// Reduces x (reduced dims trailing) row by row. step(acc, value, r) folds element r of the row's
// block into acc; merge(left, right) folds a later partial into an earlier one; done(m, acc).
template <typename T, typename Acc, typename Step, typename Merge, typename Done>
void reduce_rows(const Tensor& x, int64_t nreduce, Acc init, const Step& step, const Merge& merge,
                 const Done& done) {
  const int64_t nkeep = x.dim() - nreduce;
  const Shape ksz(x.sizes().begin(), x.sizes().begin() + nkeep);
  const Shape kst(x.strides().begin(), x.strides().begin() + nkeep);
  const Shape rsz(x.sizes().begin() + nkeep, x.sizes().end());
  const Shape rst(x.strides().begin() + nkeep, x.strides().end());
  const auto kp = make_plan<1>(ksz, {kst}, "reduce");
  const auto rp = make_plan<1>(rsz, {rst}, "reduce");
  const int64_t M = kp.numel, R = rp.numel;
  const T* px = x.data<T>();
  const int64_t rs = rp.strides[0][rp.ndim - 1];
  auto row = [&](int64_t m, int64_t rb, int64_t re) {
    const int64_t base = plan_offset(kp, m);
    Acc acc = init;
    int64_t r = rb;
    plan_for_range(rp, rb, re, [&](const int64_t* off, int64_t n) {
      const T* p = px + base + off[0];
      if (rs == 1) {
        for (int64_t k = 0; k < n; ++k) step(acc, p[k], r + k);
      } else {
        for (int64_t k = 0; k < n; ++k) step(acc, p[k * rs], r + k);
      }
      r += n;
    });
    return acc;
  };
  const int nt = get_num_threads();
  if (M >= nt || R < 32768 || nt == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, M, grain, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) done(m, row(m, 0, R));
    });
    return;
  }
  std::vector<Acc> partial(nt, init);
  for (int64_t m = 0; m < M; ++m) {
    parallel_for(0, nt, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t per = (R + nt - 1) / nt;
        const int64_t rb = t * per, re = std::min(R, rb + per);
        partial[t] = rb < re ? row(m, rb, re) : init;
      }
    });
    Acc acc = partial[0];
    for (int t = 1; t < nt; ++t) merge(acc, partial[t]);
    done(m, acc);
  }
}

template <typename T>
using SumAcc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;

template <typename T>
struct ArgAcc {
  T v;
  int64_t i;
  bool has;
};

template <typename T>
inline bool beats(T v, T cur, bool is_min) {
  if constexpr (std::is_floating_point_v<T>) {
    if (cur != cur) return false;
    if (v != v) return true;
  }
  return is_min ? v < cur : v > cur;
}


// Sum of n contiguous values: 16 independent lanes the compiler vectorises, blocks of 4096
// folded into a double, so float32 sums stay within ~1e-7 relative of the exact sum.
template <typename T>
SumAcc<T> sum_contig(const T* p, int64_t n) {
  using A = SumAcc<T>;
  constexpr int L = 16;
  A total = 0;
  for (int64_t b = 0; b < n; b += 4096) {
    const int64_t e = std::min<int64_t>(n, b + 4096);
    T acc[L] = {};
    int64_t i = b;
    for (; i + L <= e; i += L)
      for (int j = 0; j < L; ++j) acc[j] += p[i + j];
    A block = 0;
    for (int j = 0; j < L; ++j) block += static_cast<A>(acc[j]);
    for (; i < e; ++i) block += static_cast<A>(p[i]);
    total += block;
  }
  return total;
}

// Sum of squared deviations from `mean` of n contiguous values.
template <typename T>
double ssd_contig(const T* p, int64_t n, double mean) {
  constexpr int L = 8;
  double acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) {
      const double d = static_cast<double>(p[i + j]) - mean;
      acc[j] += d * d;
    }
  double s = 0;
  for (int j = 0; j < L; ++j) s += acc[j];
  for (; i < n; ++i) {
    const double d = static_cast<double>(p[i]) - mean;
    s += d * d;
  }
  return s;
}

// Max (or min) of n >= 1 contiguous values, NaN if any is NaN.
template <typename T>
T extreme_contig(const T* p, int64_t n, bool is_min) {
  if (n <= 0) return T(0);  // an empty share of a row: the caller's merge ignores it
  constexpr int L = 16;
  T m[L];
  for (int j = 0; j < L; ++j) m[j] = p[0];
  bool nan = false;
  int64_t i = 0;
  if (is_min) {
    for (; i + L <= n; i += L)
      for (int j = 0; j < L; ++j) {
        const T v = p[i + j];
        if constexpr (std::is_floating_point_v<T>) nan |= (v != v);
        m[j] = v < m[j] ? v : m[j];
      }
  } else {
    for (; i + L <= n; i += L)
      for (int j = 0; j < L; ++j) {
        const T v = p[i + j];
        if constexpr (std::is_floating_point_v<T>) nan |= (v != v);
        m[j] = v > m[j] ? v : m[j];
      }
  }
  T r = m[0];
  for (int j = 1; j < L; ++j) r = is_min ? (m[j] < r ? m[j] : r) : (m[j] > r ? m[j] : r);
  for (; i < n; ++i) {
    const T v = p[i];
    if constexpr (std::is_floating_point_v<T>) nan |= (v != v);
    r = is_min ? (v < r ? v : r) : (v > r ? v : r);
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (nan) return std::numeric_limits<T>::quiet_NaN();
  }
  return r;
}

// The reduction's geometry: kept dims (plan kp) and reduced dims (plan rp) of x.
struct Geometry {
  StridedPlan<1> kp, rp;
  int64_t M, R;
};

Geometry geometry(const Tensor& x, int64_t nreduce) {
  const int64_t nkeep = x.dim() - nreduce;
  Geometry g;
  g.kp = make_plan<1>(Shape(x.sizes().begin(), x.sizes().begin() + nkeep),
                      {Shape(x.strides().begin(), x.strides().begin() + nkeep)}, "reduce");
  g.rp = make_plan<1>(Shape(x.sizes().begin() + nkeep, x.sizes().end()),
                      {Shape(x.strides().begin() + nkeep, x.strides().end())}, "reduce");
  g.M = g.kp.numel;
  g.R = g.rp.numel;
  return g;
}

// Reduces each row's contiguous block with row_fn(ptr, begin, end) -> Acc; long single rows are
// split across threads and the partials merged in order.
template <typename T, typename Acc, typename RowFn, typename Merge, typename Done>
void reduce_contig_rows(const Tensor& x, const Geometry& g, const RowFn& row_fn, const Merge& merge,
                        const Done& done) {
  const T* px = x.data<T>();
  const int nt = get_num_threads();
  if (g.M >= nt || g.R < 65536 || nt == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(g.R, 1));
    parallel_for(0, g.M, grain, [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) done(m, row_fn(px + plan_offset(g.kp, m), 0, g.R));
    });
    return;
  }
  std::vector<Acc> partial(nt);
  for (int64_t m = 0; m < g.M; ++m) {
    const T* row = px + plan_offset(g.kp, m);
    const int64_t per = (g.R + nt - 1) / nt;
    parallel_for(0, nt, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t rb = std::min(g.R, t * per), re = std::min(g.R, rb + per);
        partial[t] = row_fn(row, rb, re);
      }
    });
    Acc acc = partial[0];
    for (int t = 1; t < nt; ++t) acc = merge(acc, partial[t], t * per < g.R);
    done(m, acc);
  }
}

// Column sums: the kept dims' innermost dim is contiguous in x, so whole rows of the reduced
// dims are added into a buffer of accumulators (the bias-gradient shape: sum over a batch).
template <typename T, typename Done>
void sum_vertical(const Tensor& x, const Geometry& g, const Done& done) {
  using A = SumAcc<T>;
  const T* px = x.data<T>();
  const int64_t inner = g.kp.sizes[g.kp.ndim - 1];
  const int64_t outer = g.M / inner;
  constexpr int64_t kChunk = 512;
  const int64_t nchunks = (inner + kChunk - 1) / kChunk;
  const int64_t rs = g.rp.strides[0][g.rp.ndim - 1];
  parallel_for(0, outer * nchunks, 1, [&](int64_t b, int64_t e) {
    A acc[kChunk];
    for (int64_t w = b; w < e; ++w) {
      const int64_t o = w / nchunks, c = w % nchunks;
      const int64_t j0 = c * kChunk, jn = std::min(kChunk, inner - j0);
      const int64_t base = plan_offset(g.kp, o * inner) + j0;
      for (int64_t j = 0; j < jn; ++j) acc[j] = 0;
      plan_for_range(g.rp, 0, g.R, [&](const int64_t* off, int64_t n) {
        for (int64_t k = 0; k < n; ++k) {
          const T* p = px + base + off[0] + k * rs;
          for (int64_t j = 0; j < jn; ++j) acc[j] += static_cast<A>(p[j]);
        }
      });
      for (int64_t j = 0; j < jn; ++j) done(o * inner + j0 + j, acc[j]);
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const Tensor& out, const Tensor& x, int64_t nreduce, int64_t correction) {
  int64_t R = 1;
  for (int64_t d = x.dim() - nreduce; d < x.dim(); ++d) R *= x.size(d);
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
      using A = SumAcc<T>;
      auto finish = [&](int64_t m, A a) {
        if (op == ReduceOp::Mean) po[m] = static_cast<T>(static_cast<double>(a) / static_cast<double>(R));
        else po[m] = static_cast<T>(a);
      };
      const Geometry g = geometry(x, nreduce);
      const bool contig_rows = g.rp.ndim == 1 && g.rp.strides[0][0] == 1;
      const bool vertical = !contig_rows && g.kp.strides[0][g.kp.ndim - 1] == 1 && g.M > 1;
      if (contig_rows) {
        reduce_contig_rows<T, A>(
            x, g, [](const T* p, int64_t b, int64_t e) { return sum_contig(p + b, e - b); },
            [](A a, A b, bool) { return a + b; }, finish);
      } else if (vertical) {
        sum_vertical<T>(x, g, finish);
      } else {
        reduce_rows<T, A>(
            x, nreduce, A(0), [](A& a, T v, int64_t) { a += v; }, [](A& a, const A& b) { a += b; }, finish);
      }
    } else if (op == ReduceOp::Var || op == ReduceOp::Std) {
      // Two passes per row in double: the mean, then the squared deviations from it.
      const Geometry g = geometry(x, nreduce);
      const bool contig = g.rp.ndim == 1 && g.rp.strides[0][0] == 1;
      const double divisor = std::max<double>(0.0, static_cast<double>(R - correction));
      const T* px = x.data<T>();
      const int64_t rs = g.rp.strides[0][g.rp.ndim - 1];
      parallel_for(0, g.M, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
        for (int64_t m = b; m < e; ++m) {
          const T* row = px + plan_offset(g.kp, m);
          double sum = 0.0, ssd = 0.0;
          if (contig) {
            sum = static_cast<double>(sum_contig(row, R));
            ssd = ssd_contig(row, R, sum / static_cast<double>(R));
          } else {
            plan_for_range(g.rp, 0, R, [&](const int64_t* off, int64_t n) {
              for (int64_t k = 0; k < n; ++k) sum += static_cast<double>(row[off[0] + k * rs]);
            });
            const double mu = sum / static_cast<double>(R);
            plan_for_range(g.rp, 0, R, [&](const int64_t* off, int64_t n) {
              for (int64_t k = 0; k < n; ++k) {
                const double d = static_cast<double>(row[off[0] + k * rs]) - mu;
                ssd += d * d;
              }
            });
          }
          const double var = ssd / divisor;
          po[m] = static_cast<T>(op == ReduceOp::Std ? std::sqrt(var) : var);
        }
      });
    } else {  // AMax / AMin
      const bool is_min = op == ReduceOp::AMin;
      const Geometry g = geometry(x, nreduce);
      if (g.rp.ndim == 1 && g.rp.strides[0][0] == 1) {
        reduce_contig_rows<T, T>(
            x, g, [is_min](const T* p, int64_t b, int64_t e) { return extreme_contig(p + b, e - b, is_min); },
            [is_min](T a, T b, bool valid) {
              if (!valid) return a;
              if constexpr (std::is_floating_point_v<T>) {
                if (a != a) return a;
                if (b != b) return b;
              }
              return is_min ? (b < a ? b : a) : (b > a ? b : a);
            },
            [&](int64_t m, T v) { po[m] = v; });
        return;
      }
      using A = ArgAcc<T>;
      reduce_rows<T, A>(
          x, nreduce, A{T(0), 0, false},
          [is_min](A& a, T v, int64_t r) {
            if (!a.has || beats(v, a.v, is_min)) a = A{v, r, true};
          },
          [is_min](A& a, const A& b) {
            if (b.has && (!a.has || beats(b.v, a.v, is_min))) a = b;
          },
          [&](int64_t m, const A& a) { po[m] = a.v; });
    }
  });
}

void arg_reduce(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t nreduce, bool is_min) {
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "max", [&](auto tag) {
    using T = decltype(tag);
    T* pv = values.defined() ? values.data<T>() : nullptr;
    int64_t* pi = indices.data<int64_t>();
    using A = ArgAcc<T>;
    reduce_rows<T, A>(
        x, nreduce, A{T(0), 0, false},
        [is_min](A& a, T v, int64_t r) {
          if (!a.has || beats(v, a.v, is_min)) a = A{v, r, true};
        },
        [is_min](A& a, const A& b) {
          if (b.has && (!a.has || beats(b.v, a.v, is_min))) a = b;
        },
        [&](int64_t m, const A& a) {
          if (pv) pv[m] = a.v;
          pi[m] = a.i;
        });
  });
}

}  // namespace lamina::cpu
