// CPU-only builds: the CUDA entry points say loudly why there is no CUDA.
#ifndef LAMINA_WITH_CUDA
#include "core/cuda_hooks.h"

namespace lamina::cuda {
namespace {
[[noreturn]] void no_cuda(const char* op) {
  LAMINA_FAIL(RuntimeError, op, "Lamina was built without CUDA (", LAMINA_CUDA_REASON,
              "); rebuild with nvcc on PATH or LAMINA_CUDA=ON");
}
}  // namespace

bool is_built() { return false; }
int device_count() { return 0; }
std::string unavailable_reason() { return std::string("not built with CUDA: ") + LAMINA_CUDA_REASON; }
std::string device_name(int) { no_cuda("cuda.get_device_name"); }
void check_device(int, const char* op) { no_cuda(op); }
DataPtr allocate(size_t, int) { no_cuda("empty"); }
MemoryStats memory_stats(int) { return MemoryStats{}; }
void reset_peak_memory_stats(int) {}
void empty_cache() {}
void copy_host_to_device(void*, const void*, size_t, int) { no_cuda("to"); }
void copy_device_to_host(void*, const void*, size_t, int) { no_cuda("to"); }
void copy_device_to_device(void*, const void*, size_t, int) { no_cuda("to"); }
void synchronize(int) {}

}  // namespace lamina::cuda
#endif
