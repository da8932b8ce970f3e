#include "core/allocator.h"

#include <atomic>
#include <cstdlib>

#include "core/cuda_hooks.h"
#include "core/errors.h"

namespace lamina {
namespace {
std::atomic<int64_t> g_cpu_allocated{0};
std::atomic<int64_t> g_cpu_max{0};

DataPtr cpu_allocate(size_t nbytes) {
  const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = nullptr;
  if (rounded > 0 && posix_memalign(&p, kCpuAlignment, rounded) != 0) p = nullptr;
  if (rounded > 0 && p == nullptr) {
    LAMINA_FAIL(RuntimeError, "empty", "out of memory: could not allocate ", nbytes,
                " bytes on the CPU");
  }
  const int64_t now = g_cpu_allocated.fetch_add(static_cast<int64_t>(rounded)) + rounded;
  int64_t prev = g_cpu_max.load();
  while (now > prev && !g_cpu_max.compare_exchange_weak(prev, now)) {
  }
  return DataPtr(p, [rounded](void* q) {
    std::free(q);
    g_cpu_allocated.fetch_sub(static_cast<int64_t>(rounded));
  });
}
}  // namespace

DataPtr allocate(size_t nbytes, Device device) {
  if (device.is_cpu()) return cpu_allocate(nbytes);
  return cuda::allocate(nbytes, device.index);
}

MemoryStats cpu_memory_stats() {
  MemoryStats s;
  s.allocated = g_cpu_allocated.load();
  s.max_allocated = g_cpu_max.load();
  s.reserved = s.allocated;
  return s;
}

}  // namespace lamina
