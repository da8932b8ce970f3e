// Strided iteration shared by the elementwise, copy and reduction kernels on CPU and CUDA.
//
// A StridedPlan<N> describes N operands walked over one shape: sizes[d] and, for operand k, its
// stride strides[k][d] (in elements; 0 for a broadcast dimension). make_plan drops size-1
// dimensions and merges neighbours that are contiguous for every operand, so a contiguous
// elementwise op becomes one flat loop.
#pragma once
#include <array>
#include <cstdint>

#include "core/errors.h"
#include "core/parallel.h"
#include "core/shape.h"

namespace lamina {

constexpr int kMaxDims = 16;

template <int N>
struct StridedPlan {
  int ndim = 1;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {1};
  int64_t strides[N][kMaxDims] = {};
};

template <int N>
StridedPlan<N> make_plan(const Shape& shape, const std::array<Shape, N>& strides, const char* op) {
  StridedPlan<N> p;
  p.numel = checked_numel(shape, op);
  int64_t sz[64];
  int64_t st[N][64];
  int nd = 0;
  LAMINA_CHECK(shape.size() <= 64, ValueError, op, "too many dimensions: ", shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const bool merge = nd > 0 && [&] {
      for (int k = 0; k < N; ++k)
        if (st[k][nd - 1] != strides[k][d] * shape[d]) return false;
      return true;
    }();
    if (merge) {
      sz[nd - 1] *= shape[d];
      for (int k = 0; k < N; ++k) st[k][nd - 1] = strides[k][d];
    } else {
      sz[nd] = shape[d];
      for (int k = 0; k < N; ++k) st[k][nd] = strides[k][d];
      ++nd;
    }
  }
  if (nd == 0) {  // a scalar, or all sizes 1
    p.ndim = 1;
    p.sizes[0] = 1;
    for (int k = 0; k < N; ++k) p.strides[k][0] = 0;
    if (p.numel == 0) p.sizes[0] = 0;
    return p;
  }
  LAMINA_CHECK(nd <= kMaxDims, ValueError, op, "operands need ", nd,
               " non-mergeable dimensions; at most ", kMaxDims, " are supported (shape ", shape, ")");
  p.ndim = nd;
  for (int d = 0; d < nd; ++d) {
    p.sizes[d] = sz[d];
    for (int k = 0; k < N; ++k) p.strides[k][d] = st[k][d];
  }
  return p;
}

// Offsets (per operand) of linear element `row * inner` of the plan, where inner is the size of
// the innermost dimension.
template <int N>
inline void plan_row_offsets(const StridedPlan<N>& p, int64_t row, int64_t off[N]) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = p.ndim - 2; d >= 0; --d) {
    const int64_t idx = row % p.sizes[d];
    row /= p.sizes[d];
    for (int k = 0; k < N; ++k) off[k] += idx * p.strides[k][d];
  }
}

// Calls f(off, n) for runs along the innermost dimension covering [begin, end): `off` holds the
// operands' element offsets of the run's first element, n its length; the run's inner strides are
// p.strides[k][p.ndim - 1].
template <int N, typename F>
void plan_for_range(const StridedPlan<N>& p, int64_t begin, int64_t end, const F& f) {
  const int64_t inner = p.sizes[p.ndim - 1];
  if (inner == 0) return;
  int64_t i = begin;
  while (i < end) {
    const int64_t row = i / inner, col = i % inner;
    const int64_t n = std::min(inner - col, end - i);
    int64_t off[N];
    plan_row_offsets(p, row, off);
    for (int k = 0; k < N; ++k) off[k] += col * p.strides[k][p.ndim - 1];
    f(off, n);
    i += n;
  }
}

// plan_for_range over the whole plan, split across threads.
template <int N, typename F>
void plan_parallel_for(const StridedPlan<N>& p, int64_t grain, const F& f) {
  parallel_for(0, p.numel, grain, [&](int64_t b, int64_t e) { plan_for_range(p, b, e, f); });
}

}  // namespace lamina
