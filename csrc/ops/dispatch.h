// Device dispatch helpers shared by the ops/*.cpp files.
#pragma once
#include "core/cuda_hooks.h"
#include "core/tensor.h"

namespace lamina {

// Throws ValueError naming `op` and both devices unless a and b are on the same device.
inline void check_same_device(const Tensor& a, const Tensor& b, const char* op, const char* an,
                              const char* bn) {
  LAMINA_CHECK(a.device() == b.device(), ValueError, op, "expected all tensors on the same device, got '",
               an, "' on ", a.device().str(), " and '", bn, "' on ", b.device().str());
}

inline void check_defined(const Tensor& t, const char* op, const char* name) {
  LAMINA_CHECK(t.defined(), ValueError, op, "argument '", name, "' is an undefined tensor");
}

inline void check_kernels(const Tensor& t, const char* op, const char* name) {
  LAMINA_CHECK(has_kernels(t.dtype()), TypeError, op, "argument '", name, "' has dtype ",
               dtype_name(t.dtype()), ", which has no kernels yet");
}

}  // namespace lamina

// Calls cpu::fn(args...) or cuda::fn(args...) by `device`; CPU-only builds raise a clear error.
#ifdef LAMINA_WITH_CUDA
#define LAMINA_DEVICE_CALL(device, op, fn, ...)                 \
  ((device).is_cpu() ? ::lamina::cpu::fn(__VA_ARGS__)            \
                     : (::lamina::cuda::check_device((device).index, op), ::lamina::cuda::fn(__VA_ARGS__)))
#else
#define LAMINA_DEVICE_CALL(device, op, fn, ...) \
  ((device).is_cpu() ? ::lamina::cpu::fn(__VA_ARGS__) : (::lamina::cuda::check_device((device).index, op), ::lamina::cpu::fn(__VA_ARGS__)))
#endif
