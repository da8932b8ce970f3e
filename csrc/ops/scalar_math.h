// Scalar semantics shared by the CPU and CUDA kernels, so both give PyTorch's answers:
// NaN propagation in max/min/clamp, Python-style floor division and remainder, integer powers.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/rng.h"  // LAMINA_HD

namespace lamina {

template <typename T>
LAMINA_HD T scalar_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a > b ? a : b;
}
template <typename T>
LAMINA_HD T scalar_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a < b ? a : b;
}
template <typename T>
LAMINA_HD T scalar_clamp(T v, bool has_lo, T lo, bool has_hi, T hi) {
  if constexpr (std::is_floating_point_v<T>) {
    if (v != v) return v;
  }
  if (has_lo && v < lo) v = lo;
  if (has_hi && v > hi) v = hi;
  return v;
}
template <typename T>
LAMINA_HD T scalar_neg(T v) {
  if constexpr (std::is_integral_v<T>) return static_cast<T>(0ull - static_cast<uint64_t>(v));
  else return -v;
}
template <typename T>
LAMINA_HD T scalar_abs(T v) {
  if constexpr (std::is_integral_v<T>) return v < 0 ? scalar_neg(v) : v;
  else return std::fabs(v);
}
// sign(NaN) is 0, as torch.sign on the CPU.
template <typename T>
LAMINA_HD T scalar_sign(T v) {
  return static_cast<T>((v > T(0)) - (v < T(0)));
}
template <typename T>
LAMINA_HD T scalar_sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}
template <typename T>
LAMINA_HD T scalar_pow(T a, T b) {
  if constexpr (std::is_integral_v<T>) {  // b >= 0 is checked before the kernel
    uint64_t r = 1, base = static_cast<uint64_t>(a);
    uint64_t e = static_cast<uint64_t>(b);
    while (e) {
      if (e & 1) r *= base;
      base *= base;
      e >>= 1;
    }
    return static_cast<T>(r);
  } else {
    return std::pow(a, b);
  }
}
// Python's a // b.
template <typename T>
LAMINA_HD T scalar_floordiv(T a, T b) {
  if constexpr (std::is_integral_v<T>) {  // b != 0 is checked before the kernel
    if (b == -1) return scalar_neg(a);
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  } else {
    if (b == T(0)) return a / b;
    const T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
    if (div == T(0)) return std::copysign(T(0), a / b);
    T fl = std::floor(div);
    if (div - fl > T(0.5)) fl += T(1);
    return fl;
  }
}
// Python's a % b (the result takes the sign of b), as torch.remainder.
template <typename T>
LAMINA_HD T scalar_remainder(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == -1) return 0;
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    T r = std::fmod(a, b);
    if (r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
    return r;
  }
}

}  // namespace lamina
