#include "core/shape.h"

#include <limits>

namespace lamina {

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    strides[i] = s;
    s *= sizes[i] > 1 ? sizes[i] : 1;
  }
  return strides;
}

int64_t checked_numel(const Shape& sizes, const char* op) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    LAMINA_CHECK(s >= 0, ValueError, op, "sizes must be non-negative, got ", sizes);
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) {
      LAMINA_FAIL(ValueError, op, "the number of elements of shape ", sizes, " overflows int64");
    }
    n *= s;
  }
  return n;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LAMINA_CHECK(da == db || da == 1 || db == 1, ValueError, op,
                 "shapes ", a, " and ", b, " cannot be broadcast together (dimension ", i,
                 ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Shape& sizes, const Shape& strides, const Shape& target, const char* op) {
  LAMINA_CHECK(sizes.size() <= target.size(), ValueError, op, "cannot broadcast shape ", sizes,
               " to ", target);
  const size_t lead = target.size() - sizes.size();
  Shape out(target.size(), 0);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const int64_t s = sizes[i], t = target[lead + i];
    LAMINA_CHECK(s == t || s == 1, ValueError, op, "cannot broadcast shape ", sizes, " to ", target);
    out[lead + i] = (s == 1 && t != 1) ? 0 : strides[i];
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = ndim == 0 ? 1 : ndim;
  LAMINA_CHECK(dim >= -n && dim < n, IndexError, op, "dimension out of range (expected to be in [",
               -n, ", ", n - 1, "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

}  // namespace lamina
