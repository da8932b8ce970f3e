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

}  // namespace

void reduce(ReduceOp op, const Tensor& out, const Tensor& x, int64_t nreduce, int64_t correction) {
  int64_t R = 1;
  for (int64_t d = x.dim() - nreduce; d < x.dim(); ++d) R *= x.size(d);
  LAMINA_DISPATCH_NUMERIC(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
      using A = SumAcc<T>;
      reduce_rows<T, A>(
          x, nreduce, A(0), [](A& a, T v, int64_t) { a += v; }, [](A& a, const A& b) { a += b; },
          [&](int64_t m, const A& a) {
            if (op == ReduceOp::Mean) po[m] = static_cast<T>(static_cast<double>(a) / static_cast<double>(R));
            else po[m] = static_cast<T>(a);
          });
    } else if (op == ReduceOp::Var || op == ReduceOp::Std) {
      const int64_t M = out.numel();
      std::vector<double> mean(static_cast<size_t>(M));
      reduce_rows<T, double>(
          x, nreduce, 0.0, [](double& a, T v, int64_t) { a += static_cast<double>(v); },
          [](double& a, const double& b) { a += b; },
          [&](int64_t m, const double& a) { mean[m] = a / static_cast<double>(R); });
      const double divisor = std::max<double>(0.0, static_cast<double>(R - correction));
      // Second pass: each row's sum of squared deviations from its own mean.
      const int64_t nkeep = x.dim() - nreduce;
      const Shape rsz(x.sizes().begin() + nkeep, x.sizes().end());
      const Shape rst(x.strides().begin() + nkeep, x.strides().end());
      const Shape kst(x.strides().begin(), x.strides().begin() + nkeep);
      const auto kp = make_plan<1>(Shape(x.sizes().begin(), x.sizes().begin() + nkeep), {kst}, "var");
      const auto rp = make_plan<1>(rsz, {rst}, "var");
      const T* px = x.data<T>();
      const int64_t rs = rp.strides[0][rp.ndim - 1];
      parallel_for(0, M, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
        for (int64_t m = b; m < e; ++m) {
          const int64_t base = plan_offset(kp, m);
          const double mu = mean[m];
          double acc = 0.0;
          plan_for_range(rp, 0, R, [&](const int64_t* off, int64_t n) {
            const T* p = px + base + off[0];
            for (int64_t k = 0; k < n; ++k) {
              const double dv = static_cast<double>(p[k * rs]) - mu;
              acc += dv * dv;
            }
          });
          const double var = acc / divisor;
          po[m] = static_cast<T>(op == ReduceOp::Std ? std::sqrt(var) : var);
        }
      });
    } else {  // AMax / AMin
      const bool is_min = op == ReduceOp::AMin;
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
