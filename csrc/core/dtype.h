// Element types. float32 everywhere; float64 on the CPU (gradient checks); int64 for labels and
// indices; bool for masks and comparisons; float16/bfloat16 are reserved for mixed precision.
#pragma once
#include <cstdint>
#include <string>

namespace lamina {

enum class DType : int8_t { Float32 = 0, Float64 = 1, Int64 = 2, Bool = 3, Float16 = 4, BFloat16 = 5 };

inline int64_t itemsize(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
    case DType::Float16: return 2;
    case DType::BFloat16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

inline bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

// True for the dtypes that have compute kernels today.
inline bool has_kernels(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Int64 || t == DType::Bool;
}

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::Bool; };

}  // namespace lamina

// Calls a generic lambda with a value of the C++ type matching `dtype` (its type is the type
// argument): LAMINA_DISPATCH(t.dtype(), "add", [&](auto tag) { using T = decltype(tag); ... });
#define LAMINA_DISPATCH_ALL(dtype, op, ...)                                               \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::lamina::DType::Float32: return (__VA_ARGS__)(float{});                        \
      case ::lamina::DType::Float64: return (__VA_ARGS__)(double{});                       \
      case ::lamina::DType::Int64: return (__VA_ARGS__)(int64_t{});                        \
      case ::lamina::DType::Bool: return (__VA_ARGS__)(bool{});                            \
      default:                                                                            \
        ::lamina::detail::throw_error<::lamina::TypeError>(                               \
            op, std::string("dtype ") + ::lamina::dtype_name(dtype) + " has no kernels yet"); \
    }                                                                                     \
  }()

#define LAMINA_DISPATCH_FLOAT(dtype, op, ...)                                             \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::lamina::DType::Float32: return (__VA_ARGS__)(float{});                        \
      case ::lamina::DType::Float64: return (__VA_ARGS__)(double{});                       \
      default:                                                                            \
        ::lamina::detail::throw_error<::lamina::TypeError>(                               \
            op, std::string("expected a floating-point tensor, got dtype ") +             \
                    ::lamina::dtype_name(dtype));                                         \
    }                                                                                     \
  }()

#define LAMINA_DISPATCH_NUMERIC(dtype, op, ...)                                           \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::lamina::DType::Float32: return (__VA_ARGS__)(float{});                        \
      case ::lamina::DType::Float64: return (__VA_ARGS__)(double{});                       \
      case ::lamina::DType::Int64: return (__VA_ARGS__)(int64_t{});                        \
      default:                                                                            \
        ::lamina::detail::throw_error<::lamina::TypeError>(                               \
            op, std::string("expected a float or int64 tensor, got dtype ") +            \
                    ::lamina::dtype_name(dtype));                                         \
    }                                                                                     \
  }()
