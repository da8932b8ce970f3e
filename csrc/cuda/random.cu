// Random fills on CUDA from the counter-based generator of core/rng.h: element i depends only on
// (seed, offset, i), so these match the CPU kernels element for element. The formulas (the CPU
// kernels must use the same ones):
//   uniform, float32:  float(low + (high - low) * double(uniform_at_f32(seed, offset, i)))
//   uniform, float64:  low + (high - low) * uniform_at_f64(seed, offset, i)
//   normal:            T(mean + std * normal_at(seed, offset, i))
//   randint:           min(low + int64(floor(uniform_at_f64(seed, offset, i) * span)), high - 1)
//                      with span = double(high) - double(low)
// The multiply-adds use __dmul_rn/__dadd_rn so nvcc does not fuse them into an FMA, which would
// round differently from the CPU (csrc/cpu/random.cpp is built with -ffp-contract=off). normal_at
// calls the device log/cos/sqrt, and the CPU evaluates the same formula with its own vectorised
// log and cos (cpu/fast_math.h box_muller_f64, within 4 ulp of glibc's), so normal draws match
// the CPU to a few ulp of double (float32 draws are almost always identical).
#include <cmath>

#include "core/rng.h"
#include "cuda/loops.cuh"
#include "ops/random.h"

namespace lamina::cuda {
namespace {

template <typename T>
struct UniformBody {
  T* x;
  uint64_t seed, offset;
  double low, span;
  __device__ void operator()(int64_t i) const {
    const uint64_t k = static_cast<uint64_t>(i);
    const double u = std::is_same_v<T, float> ? static_cast<double>(uniform_at_f32(seed, offset, k))
                                              : uniform_at_f64(seed, offset, k);
    T v = static_cast<T>(__dadd_rn(low, __dmul_rn(span, u)));
    const T hi = static_cast<T>(low + span);
    if (span > 0 && v >= hi) v = ::nextafter(hi, static_cast<T>(low));  // stay in [low, high)
    x[i] = v;
  }
};

template <typename T>
struct NormalBody {
  T* x;
  uint64_t seed, offset;
  double mean, std;
  __device__ void operator()(int64_t i) const {
    const double z = normal_at(seed, offset, static_cast<uint64_t>(i));
    x[i] = static_cast<T>(__dadd_rn(mean, __dmul_rn(std, z)));
  }
};

// Integers in [low, high): the CPU's formula, with the final add done in uint64 so that it wraps
// instead of overflowing.
template <typename T>
struct RandintBody {
  T* x;
  uint64_t seed, offset;
  int64_t low, high;
  double span;  // double(high) - double(low)
  __device__ void operator()(int64_t i) const {
    const double u = uniform_at_f64(seed, offset, static_cast<uint64_t>(i));
    const int64_t k = static_cast<int64_t>(::floor(u * span));
    int64_t v = static_cast<int64_t>(static_cast<uint64_t>(low) + static_cast<uint64_t>(k));
    if (v >= high) v = high - 1;  // u * span can round up to span
    x[i] = static_cast<T>(v);
  }
};

void check_contiguous(const Tensor& x, const char* name) {
  LAMINA_CHECK(x.is_contiguous(), ValueError, name, "CUDA kernel expects a contiguous tensor");
}

}  // namespace

void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high) {
  const char* name = "uniform_";
  if (x.numel() == 0) return;
  check_contiguous(x, name);
  const int device = x.device().index;
  DeviceGuard guard(device);
  LAMINA_DISPATCH_FLOAT(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    launch_linear(x.numel(), UniformBody<T>{x.data<T>(), seed, offset, low, high - low}, device, name);
  });
}

void normal(const Tensor& x, uint64_t seed, uint64_t offset, double mean, double std) {
  const char* name = "normal_";
  if (x.numel() == 0) return;
  check_contiguous(x, name);
  const int device = x.device().index;
  DeviceGuard guard(device);
  LAMINA_DISPATCH_FLOAT(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    launch_linear(x.numel(), NormalBody<T>{x.data<T>(), seed, offset, mean, std}, device, name);
  });
}

void randint(const Tensor& x, uint64_t seed, uint64_t offset, int64_t low, int64_t high) {
  const char* name = "randint_";
  if (x.numel() == 0) return;
  check_contiguous(x, name);
  LAMINA_CHECK(low < high, ValueError, name, "expected low < high, got low=", low, ", high=", high);
  const int device = x.device().index;
  DeviceGuard guard(device);
  const double span = static_cast<double>(high) - static_cast<double>(low);
  LAMINA_DISPATCH_NUMERIC(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    launch_linear(x.numel(), RandintBody<T>{x.data<T>(), seed, offset, low, high, span}, device,
                  name);
  });
}

}  // namespace lamina::cuda
