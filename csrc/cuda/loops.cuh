// Shared pieces of the CUDA kernels: strided loops over a StridedPlan (core/iter.h), a flat loop,
// stores into an output of a run-time dtype, and float/double overloads of the math functions.
//
// A "body" is a small struct of pointers and parameters with a __device__ operator() that
// handles one element given the operands' element offsets; plan_kernel runs it over a plan with a
// grid-stride loop. The plan travels by value as a kernel argument.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/cuda_hooks.h"
#include "core/dtype.h"
#include "core/iter.h"
#include "core/tensor.h"
#include "cuda/cuda_check.cuh"

namespace lamina::cuda {

// Strides of `t` walked over `shape`: its own strides when the shapes match, else broadcast ones
// (stride 0 on broadcast dimensions).
inline Shape strides_for(const Tensor& t, const Shape& shape, const char* op) {
  if (t.sizes() == shape) return t.strides();
  return broadcast_strides(t.sizes(), t.strides(), shape, op);
}

// Element offsets of linear element i (row-major over p.sizes) for every operand. Divisions run
// in 32 bits when the plan has fewer than 2^32 elements (64-bit division is several times slower).
// The loop is unrolled over kMaxDims so the plan is read straight from the kernel's parameters.
template <int N>
__device__ __forceinline__ void plan_offsets(const StridedPlan<N>& p, int64_t i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  if (p.numel <= int64_t(UINT32_MAX)) {
    uint32_t r = static_cast<uint32_t>(i);
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < p.ndim) {
        const uint32_t s = static_cast<uint32_t>(p.sizes[d]);
        const uint32_t q = r / s;
        const int64_t idx = static_cast<int64_t>(r - q * s);
        r = q;
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += idx * p.strides[k][d];
      }
    }
  } else {
    int64_t r = i;
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d < p.ndim) {
        const int64_t s = p.sizes[d];
        const int64_t q = r / s;
        const int64_t idx = r - q * s;
        r = q;
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += idx * p.strides[k][d];
      }
    }
  }
}

// Runs body(off) for every element of the plan. A plan that merged into one dimension (all
// operands contiguous, scalars of stride 0, or equally strided) skips the index arithmetic.
template <int N, typename Body>
__global__ void plan_kernel(StridedPlan<N> p, Body body) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p.ndim == 1) {
    for (; i < p.numel; i += step) {
      int64_t off[N];
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] = i * p.strides[k][0];
      body(off);
    }
  } else {
    for (; i < p.numel; i += step) {
      int64_t off[N];
      plan_offsets(p, i, off);
      body(off);
    }
  }
}

template <int N, typename Body>
void launch_plan(const StridedPlan<N>& p, const Body& body, int device, const char* op) {
  if (p.numel == 0) return;
  plan_kernel<N, Body><<<grid_for(p.numel), kThreads, 0, current_stream(device)>>>(p, body);
  LAMINA_CUDA_LAUNCH_CHECK(op);
}

// Runs body(i) for i in [0, n).
template <typename Body>
__global__ void linear_kernel(int64_t n, Body body) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    body(i);
}

template <typename Body>
void launch_linear(int64_t n, const Body& body, int device, const char* op) {
  if (n <= 0) return;
  linear_kernel<Body><<<grid_for(n), kThreads, 0, current_stream(device)>>>(n, body);
  LAMINA_CUDA_LAUNCH_CHECK(op);
}

// out[i] = v converted to the dtype `dt` (one of the four kernel dtypes); bool is v != 0.
template <typename V>
__device__ __forceinline__ void store_as(void* out, DType dt, int64_t i, V v) {
  switch (dt) {
    case DType::Float32: static_cast<float*>(out)[i] = static_cast<float>(v); break;
    case DType::Float64: static_cast<double*>(out)[i] = static_cast<double>(v); break;
    case DType::Int64: static_cast<int64_t*>(out)[i] = static_cast<int64_t>(v); break;
    case DType::Bool: static_cast<bool*>(out)[i] = (v != V(0)); break;
    default: break;  // rejected on the host before launch
  }
}

// Throws RuntimeError unless `dt` is one of the dtypes the kernels store (for run-time stores).
inline void check_store_dtype(DType dt, const char* op) {
  LAMINA_CHECK(has_kernels(dt), TypeError, op, "dtype ", dtype_name(dt), " has no CUDA kernels yet");
}

template <typename T>
__device__ __forceinline__ bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}

// Math with one name for float and double (float calls the single-precision functions).
namespace math {
__device__ __forceinline__ float exp(float x) { return ::expf(x); }
__device__ __forceinline__ double exp(double x) { return ::exp(x); }
__device__ __forceinline__ float log(float x) { return ::logf(x); }
__device__ __forceinline__ double log(double x) { return ::log(x); }
__device__ __forceinline__ float sqrt(float x) { return ::sqrtf(x); }
__device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
__device__ __forceinline__ float sin(float x) { return ::sinf(x); }
__device__ __forceinline__ double sin(double x) { return ::sin(x); }
__device__ __forceinline__ float cos(float x) { return ::cosf(x); }
__device__ __forceinline__ double cos(double x) { return ::cos(x); }
__device__ __forceinline__ float tanh(float x) { return ::tanhf(x); }
__device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
__device__ __forceinline__ float log1p(float x) { return ::log1pf(x); }
__device__ __forceinline__ double log1p(double x) { return ::log1p(x); }
__device__ __forceinline__ float expm1(float x) { return ::expm1f(x); }
__device__ __forceinline__ double expm1(double x) { return ::expm1(x); }
__device__ __forceinline__ float floor(float x) { return ::floorf(x); }
__device__ __forceinline__ double floor(double x) { return ::floor(x); }
__device__ __forceinline__ float ceil(float x) { return ::ceilf(x); }
__device__ __forceinline__ double ceil(double x) { return ::ceil(x); }
__device__ __forceinline__ float rint(float x) { return ::rintf(x); }  // half to even
__device__ __forceinline__ double rint(double x) { return ::rint(x); }
__device__ __forceinline__ float abs(float x) { return ::fabsf(x); }
__device__ __forceinline__ double abs(double x) { return ::fabs(x); }
__device__ __forceinline__ float pow(float x, float y) { return ::powf(x, y); }
__device__ __forceinline__ double pow(double x, double y) { return ::pow(x, y); }
__device__ __forceinline__ float fmod(float x, float y) { return ::fmodf(x, y); }
__device__ __forceinline__ double fmod(double x, double y) { return ::fmod(x, y); }
}  // namespace math

}  // namespace lamina::cuda
