// Memory. CPU blocks are 64-byte aligned (one cache line, one AVX-512 register); freed blocks of
// 64 KiB and more are cached for reuse (allocator.cpp says why). CUDA blocks come from a caching
// allocator (csrc/cuda/runtime.cu) that keeps freed blocks for reuse.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace lamina {

using DataPtr = std::shared_ptr<void>;

// Allocates `nbytes` on `device`; RuntimeError ("out of memory ...") naming the size on failure.
DataPtr allocate(size_t nbytes, Device device);

constexpr size_t kCpuAlignment = 64;

struct MemoryStats {
  int64_t allocated = 0;      // bytes in live tensors
  int64_t max_allocated = 0;  // high-water mark since start (or last reset)
  int64_t reserved = 0;       // bytes held by the allocator, including cached blocks
};

MemoryStats cpu_memory_stats();
// Returns the CPU blocks cached for reuse to the system.
void empty_cpu_cache();

// A kernel's temporary CPU buffer of n elements of T, left uninitialised. It comes from
// allocate(), so a large one is the same cached block call after call: no page faults, and no
// zeroing as with std::vector.
template <typename T>
class CpuScratch {
 public:
  explicit CpuScratch(int64_t n)
      : mem_(allocate(sizeof(T) * static_cast<size_t>(n > 0 ? n : 1), Device())) {}
  T* data() const { return static_cast<T*>(mem_.get()); }

 private:
  DataPtr mem_;
};

}  // namespace lamina
