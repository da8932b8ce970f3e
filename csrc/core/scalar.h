// A number from Python: kept as int64 or double so int64 tensors don't lose precision.
#pragma once
#include <cstdint>

namespace lamina {

struct Scalar {
  bool is_int = false;
  int64_t i = 0;
  double d = 0.0;

  Scalar() = default;
  static Scalar from_int(int64_t v) { Scalar s; s.is_int = true; s.i = v; s.d = static_cast<double>(v); return s; }
  static Scalar from_double(double v) { Scalar s; s.d = v; s.i = static_cast<int64_t>(v == v ? v : 0); return s; }

  template <typename T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>) return is_int ? i != 0 : d != 0.0;
    else if constexpr (std::is_integral_v<T>) return is_int ? static_cast<T>(i) : static_cast<T>(d);
    else return is_int ? static_cast<T>(i) : static_cast<T>(d);
  }
};

}  // namespace lamina
