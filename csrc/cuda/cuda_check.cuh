// Checked CUDA calls, the device guard and the stream every kernel launches on.
//
//   LAMINA_CUDA_CHECK(cudaMemcpyAsync(...), "to");   // RuntimeError naming the op on failure
//   kernel<<<grid, block, 0, current_stream(dev)>>>(...);
//   LAMINA_CUDA_LAUNCH_CHECK("add");                  // right after every launch
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/errors.h"

// Throws lamina::RuntimeError naming `op`, the failing call and CUDA's description of the error.
// The runtime's last-error slot is cleared first so a later launch check does not report it again.
#define LAMINA_CUDA_CHECK(expr, op)                                                          \
  do {                                                                                       \
    const cudaError_t lamina_err_ = (expr);                                                  \
    if (lamina_err_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError();                                                              \
      LAMINA_FAIL(RuntimeError, op, "CUDA error in ", #expr, ": ",                           \
                  cudaGetErrorString(lamina_err_), " (", cudaGetErrorName(lamina_err_), ")"); \
    }                                                                                        \
  } while (0)

// Checks the launch just made (bad configuration, no kernel image for this GPU, ...). Errors
// raised while the kernel runs surface at the next synchronising call.
#define LAMINA_CUDA_LAUNCH_CHECK(op)                                                         \
  do {                                                                                       \
    const cudaError_t lamina_err_ = cudaGetLastError();                                      \
    if (lamina_err_ != cudaSuccess) {                                                        \
      LAMINA_FAIL(RuntimeError, op, "CUDA kernel launch failed: ",                           \
                  cudaGetErrorString(lamina_err_), " (", cudaGetErrorName(lamina_err_), ")"); \
    }                                                                                        \
  } while (0)

namespace lamina::cuda {

// The stream kernels and copies on `device` are ordered on. Today this is the legacy default
// stream of each device, so work is serialised per device and cudaMemcpy/cudaFree order with it;
// a per-device stream (or stream pools) changes only this function.
inline cudaStream_t current_stream(int /*device*/) { return cudaStreamLegacy; }

// Makes `device` current for the scope; restores the previous device on exit (errors ignored
// there: a destructor must not throw).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    LAMINA_CUDA_CHECK(cudaGetDevice(&prev_), "cuda.set_device");
    if (prev_ != device) {
      LAMINA_CUDA_CHECK(cudaSetDevice(device), "cuda.set_device");
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

// Launch shape for a grid-stride loop over n items with `threads` per block.
constexpr int kThreads = 256;
inline unsigned int grid_for(int64_t n, int threads = kThreads) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = int64_t(1) << 16;  // enough to fill any GPU; the loop covers the rest
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace lamina::cuda
