// CPU loop templates for elementwise kernels: one strided plan (core/iter.h), split across
// threads, with contiguous fast paths the compiler can vectorise.
#pragma once
#include "core/iter.h"
#include "core/tensor.h"

namespace lamina::cpu {

constexpr int64_t kElementwiseGrain = 32768;

// out[i] = f(x[i]); out and x have the same shape (x may have stride 0 dims).
template <typename Out, typename In, typename F>
void unary_loop(const Tensor& out, const Tensor& x, const F& f) {
  const auto p = make_plan<2>(out.sizes(), {out.strides(), x.strides()}, "unary");
  Out* po = out.data<Out>();
  const In* px = x.data<In>();
  const int64_t so = p.strides[0][p.ndim - 1], sx = p.strides[1][p.ndim - 1];
  plan_parallel_for(p, kElementwiseGrain, [&](const int64_t* off, int64_t n) {
    Out* o = po + off[0];
    const In* a = px + off[1];
    if (so == 1 && sx == 1) {
      for (int64_t k = 0; k < n; ++k) o[k] = f(a[k]);
    } else if (so == 1 && sx == 0) {
      const Out v = f(a[0]);
      for (int64_t k = 0; k < n; ++k) o[k] = v;
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * so] = f(a[k * sx]);
    }
  });
}

// out[i] = f(a[i], b[i]); all three have out's shape (inputs may have stride 0 dims).
template <typename Out, typename In, typename F>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const F& f) {
  const auto p = make_plan<3>(out.sizes(), {out.strides(), a.strides(), b.strides()}, "binary");
  Out* po = out.data<Out>();
  const In* pa = a.data<In>();
  const In* pb = b.data<In>();
  const int64_t so = p.strides[0][p.ndim - 1], sa = p.strides[1][p.ndim - 1],
                sb = p.strides[2][p.ndim - 1];
  plan_parallel_for(p, kElementwiseGrain, [&](const int64_t* off, int64_t n) {
    Out* o = po + off[0];
    const In* x = pa + off[1];
    const In* y = pb + off[2];
    if (so == 1 && sa == 1 && sb == 1) {
      for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], y[k]);
    } else if (so == 1 && sa == 1 && sb == 0) {
      const In c = y[0];
      for (int64_t k = 0; k < n; ++k) o[k] = f(x[k], c);
    } else if (so == 1 && sa == 0 && sb == 1) {
      const In c = x[0];
      for (int64_t k = 0; k < n; ++k) o[k] = f(c, y[k]);
    } else {
      for (int64_t k = 0; k < n; ++k) o[k * so] = f(x[k * sa], y[k * sb]);
    }
  });
}

// out[i] = f(c[i], a[i], b[i]).
template <typename Out, typename C, typename In, typename F>
void ternary_loop(const Tensor& out, const Tensor& c, const Tensor& a, const Tensor& b, const F& f) {
  const auto p = make_plan<4>(out.sizes(), {out.strides(), c.strides(), a.strides(), b.strides()}, "ternary");
  Out* po = out.data<Out>();
  const C* pc = c.data<C>();
  const In* pa = a.data<In>();
  const In* pb = b.data<In>();
  const int d = p.ndim - 1;
  const int64_t so = p.strides[0][d], sc = p.strides[1][d], sa = p.strides[2][d], sb = p.strides[3][d];
  plan_parallel_for(p, kElementwiseGrain, [&](const int64_t* off, int64_t n) {
    Out* o = po + off[0];
    const C* z = pc + off[1];
    const In* x = pa + off[2];
    const In* y = pb + off[3];
    for (int64_t k = 0; k < n; ++k) o[k * so] = f(z[k * sc], x[k * sa], y[k * sb]);
  });
}

}  // namespace lamina::cpu
