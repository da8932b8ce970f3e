// Helpers shared by the C++ unit tests: building tensors from vectors, reading any strided view
// element by element, random non-zero data, multi-index arithmetic for naive reference loops.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "core/errors.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace lamina::test {

// Row-major multi-index of linear element `i` of `sizes`.
inline Shape unravel(int64_t i, const Shape& sizes) {
  Shape idx(sizes.size(), 0);
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    const int64_t s = sizes[d];
    idx[d] = s > 0 ? i % s : 0;
    i = s > 0 ? i / s : 0;
  }
  return idx;
}

// Element offset (relative to the tensor's data_ptr) of multi-index `idx`.
inline int64_t elem_offset(const Shape& idx, const Shape& strides) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * strides[d];
  return off;
}

// Index into an operand of shape `in` broadcast to an output index `out_idx` (right-aligned).
inline Shape broadcast_index(const Shape& out_idx, const Shape& in) {
  Shape idx(in.size());
  const size_t lead = out_idx.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) idx[d] = in[d] == 1 ? 0 : out_idx[lead + d];
  return idx;
}

inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

template <typename T>
T at(const Tensor& t, const Shape& idx) {
  return t.data<T>()[elem_offset(idx, t.strides())];
}

// The tensor's elements in logical (row-major) order, whatever its strides.
template <typename T>
std::vector<T> to_vec(const Tensor& t) {
  std::vector<T> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = at<T>(t, unravel(i, t.sizes()));
  return out;
}

// A contiguous tensor holding `vals` (row-major).
template <typename T>
Tensor from_vec(const Shape& sizes, const std::vector<T>& vals) {
  Tensor t = Tensor::empty(sizes, DTypeOf<T>::value);
  EXPECT_EQ(static_cast<int64_t>(vals.size()), t.numel());
  T* p = t.data<T>();
  for (size_t i = 0; i < vals.size(); ++i) p[i] = vals[i];
  return t;
}

// Random values in [lo, hi) with |v| >= 1e-3 (floats) or != 0 (ints), so that a kernel that
// forgets an element or writes zeros cannot pass by accident.
template <typename T>
std::vector<T> random_vec(int64_t n, std::mt19937& rng, double lo = -2.0, double hi = 2.0) {
  std::vector<T> v(static_cast<size_t>(n));
  if constexpr (std::is_same_v<T, bool>) {
    std::bernoulli_distribution dist(0.5);
    for (auto&& x : v) x = dist(rng);
  } else if constexpr (std::is_integral_v<T>) {
    std::uniform_int_distribution<int64_t> dist(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    for (auto& x : v) {
      do x = static_cast<T>(dist(rng));
      while (x == 0);
    }
  } else {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (auto& x : v) {
      do x = static_cast<T>(dist(rng));
      while (std::fabs(static_cast<double>(x)) < 1e-3);
    }
  }
  return v;
}

template <typename T>
Tensor random_tensor(const Shape& sizes, std::mt19937& rng, double lo = -2.0, double hi = 2.0) {
  return from_vec<T>(sizes, random_vec<T>(numel_of(sizes), rng, lo, hi));
}

// Runs `f`, expects it to throw E, and returns the message (empty when it did not throw).
template <typename E, typename F>
std::string expect_throw_msg(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

// "[2, 3]": gtest's messages can't find lamina's operator<< for std::vector by ADL.
inline std::string str(const Shape& s) { return detail::concat(s); }

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}
inline bool contains(const std::string& s, const std::string& sub) {
  return s.find(sub) != std::string::npos;
}

// Relative-or-absolute closeness; NaN only matches NaN.
inline ::testing::AssertionResult close(double got, double want, double rtol, double atol = 0.0) {
  if (std::isnan(want) || std::isnan(got)) {
    if (std::isnan(want) && std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << want;
  }
  if (std::isinf(want) || std::isinf(got)) {
    if (got == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", want " << want;
  }
  const double tol = atol + rtol * std::fabs(want);
  if (std::fabs(got - want) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", want " << want << " (|diff| "
                                       << std::fabs(got - want) << " > tol " << tol << ")";
}

// Sets the thread count for a scope and restores it afterwards.
struct ThreadGuard {
  int saved;
  explicit ThreadGuard(int n) : saved(get_num_threads()) { set_num_threads(n); }
  ~ThreadGuard() { set_num_threads(saved); }
};

}  // namespace lamina::test
