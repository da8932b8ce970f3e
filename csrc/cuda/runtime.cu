// The CUDA runtime behind core/cuda_hooks.h: device discovery, a caching allocator, copies.
//
// Caching allocator. cudaMalloc and cudaFree are slow and synchronise the device, so freed blocks
// are kept per device in free lists keyed by their rounded size and handed out again to the next
// request of the same rounded size:
//   - requests below 1 MiB round up to a multiple of 512 bytes;
//   - requests of 1 MiB or more round up to a multiple of 2 MiB.
// A block is reused only for exactly its rounded size (no splitting), which keeps the code short
// and the waste bounded (< 512 bytes, or < 2 MiB on blocks of at least 1 MiB). When cudaMalloc
// fails, every cached block of that device is released and the allocation is tried once more.
// Stats count rounded sizes: `allocated` is held by live tensors, `reserved` by the allocator
// (live plus cached). All kernels and copies of a device run on one stream
// (cuda_check.cuh: current_stream), so a block freed while kernels that use it are still queued
// can be handed out at once: the next user's work is ordered after them on the same stream.
#include <cuda_runtime.h>

#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/cuda_hooks.h"
#include "cuda/cuda_check.cuh"

namespace lamina::cuda {
namespace {

// ---- devices ----

struct DeviceInfo {
  int count = 0;
  std::string reason;  // why count is 0
};

const DeviceInfo& device_info() {
  static const DeviceInfo info = [] {
    DeviceInfo d;
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      d.count = 0;
      d.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) + " (" +
                 cudaGetErrorName(e) + ")";
      if (e == cudaErrorInsufficientDriver) {
        d.reason += "; no NVIDIA driver is loaded, or it is older than the CUDA runtime Lamina was built with";
      }
    } else if (n <= 0) {
      d.count = 0;
      d.reason = "no CUDA device is visible (check the driver and CUDA_VISIBLE_DEVICES)";
    } else {
      d.count = n;
    }
    return d;
  }();
  return info;
}

// ---- caching allocator ----

constexpr size_t kSmallLimit = size_t(1) << 20;  // 1 MiB
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t(2) << 20;  // 2 MiB

size_t round_size(size_t n) {
  const size_t r = n < kSmallLimit ? kSmallRound : kLargeRound;
  return (n + r - 1) / r * r;
}

struct DeviceCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // rounded size -> cached blocks
  int64_t allocated = 0;
  int64_t max_allocated = 0;
  int64_t reserved = 0;
};

class CachingAllocator {
 public:
  explicit CachingAllocator(int ndevices)
      : caches_(std::make_unique<DeviceCache[]>(ndevices > 0 ? ndevices : 1)) {}

  DeviceCache& cache(int device) { return caches_[device]; }

  // A cached block of exactly `size` bytes, or nullptr.
  void* take_cached(int device, size_t size) {
    DeviceCache& c = cache(device);
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it == c.free_blocks.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    note_allocated(c, size);
    return p;
  }

  void note_new_block(int device, size_t size) {
    DeviceCache& c = cache(device);
    std::lock_guard<std::mutex> lock(c.mu);
    c.reserved += static_cast<int64_t>(size);
    note_allocated(c, size);
  }

  // The deleter's path: back into the free list. Never throws; if the block cannot be cached it
  // is released with cudaFree instead.
  void give_back(int device, void* p, size_t size) noexcept {
    DeviceCache& c = cache(device);
    bool cached = false;
    try {
      std::lock_guard<std::mutex> lock(c.mu);
      c.allocated -= static_cast<int64_t>(size);
      try {
        c.free_blocks[size].push_back(p);
        cached = true;
      } catch (...) {
        c.reserved -= static_cast<int64_t>(size);
      }
    } catch (...) {
    }
    if (!cached) {
      int prev = 0;
      const bool have_prev = cudaGetDevice(&prev) == cudaSuccess;
      (void)cudaSetDevice(device);
      (void)cudaFree(p);
      if (have_prev) (void)cudaSetDevice(prev);
      (void)cudaGetLastError();
    }
  }

  // Releases every cached block of `device` with cudaFree. Returns the first error, if any, after
  // trying them all.
  cudaError_t release_cached(int device) {
    DeviceCache& c = cache(device);
    std::vector<std::pair<void*, size_t>> blocks;
    {
      std::lock_guard<std::mutex> lock(c.mu);
      for (auto& [size, list] : c.free_blocks) {
        for (void* p : list) blocks.emplace_back(p, size);
        c.reserved -= static_cast<int64_t>(size * list.size());
      }
      c.free_blocks.clear();
    }
    if (blocks.empty()) return cudaSuccess;
    DeviceGuard guard(device);
    cudaError_t first = cudaSuccess;
    for (auto& [p, size] : blocks) {
      const cudaError_t e = cudaFree(p);
      if (e != cudaSuccess && first == cudaSuccess) first = e;
    }
    if (first != cudaSuccess) (void)cudaGetLastError();
    return first;
  }

 private:
  static void note_allocated(DeviceCache& c, size_t size) {
    c.allocated += static_cast<int64_t>(size);
    if (c.allocated > c.max_allocated) c.max_allocated = c.allocated;
  }

  std::unique_ptr<DeviceCache[]> caches_;
};

// Shared with every block's deleter, so the allocator outlives tensors freed during static
// destruction (Python may release tensors after this translation unit's statics are gone).
const std::shared_ptr<CachingAllocator>& allocator() {
  static const std::shared_ptr<CachingAllocator> a =
      std::make_shared<CachingAllocator>(device_info().count);
  return a;
}

struct BlockDeleter {
  std::shared_ptr<CachingAllocator> alloc;
  int device;
  size_t size;
  void operator()(void* p) const noexcept {
    if (p != nullptr) alloc->give_back(device, p, size);
  }
};

}  // namespace

// ---- cuda_hooks.h ----

bool is_built() { return true; }

int device_count() { return device_info().count; }

std::string unavailable_reason() { return device_info().reason; }

void check_device(int device, const char* op) {
  const DeviceInfo& info = device_info();
  if (info.count == 0) {
    LAMINA_FAIL(RuntimeError, op, "CUDA device cuda:", device,
                " requested but CUDA is not available: ", info.reason);
  }
  if (device < 0 || device >= info.count) {
    LAMINA_FAIL(RuntimeError, op, "CUDA device cuda:", device, " requested but ", info.count,
                " device(s) are visible");
  }
}

std::string device_name(int device) {
  check_device(device, "cuda.get_device_name");
  cudaDeviceProp prop{};
  LAMINA_CUDA_CHECK(cudaGetDeviceProperties(&prop, device), "cuda.get_device_name");
  return std::string(prop.name);
}

DataPtr allocate(size_t nbytes, int device) {
  check_device(device, "empty");
  if (nbytes == 0) return DataPtr(nullptr, [](void*) {});
  const std::shared_ptr<CachingAllocator>& alloc = allocator();
  const size_t size = round_size(nbytes);
  void* p = alloc->take_cached(device, size);
  if (p == nullptr) {
    DeviceGuard guard(device);
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      (void)alloc->release_cached(device);
      e = cudaMalloc(&p, size);
    }
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      (void)cudaGetLastError();
      LAMINA_FAIL(RuntimeError, "empty", "CUDA out of memory: tried to allocate ", nbytes,
                  " bytes on cuda:", device, "; free ", free_bytes, " bytes of ", total_bytes,
                  " total");
    }
    LAMINA_CUDA_CHECK(e, "empty");
    alloc->note_new_block(device, size);
  }
  return DataPtr(p, BlockDeleter{alloc, device, size});
}

MemoryStats memory_stats(int device) {
  if (device_count() == 0) return MemoryStats{};
  check_device(device, "cuda.memory_stats");
  DeviceCache& c = allocator()->cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  MemoryStats s;
  s.allocated = c.allocated;
  s.max_allocated = c.max_allocated;
  s.reserved = c.reserved;
  return s;
}

void reset_peak_memory_stats(int device) {
  if (device_count() == 0) return;
  check_device(device, "cuda.reset_peak_memory_stats");
  DeviceCache& c = allocator()->cache(device);
  std::lock_guard<std::mutex> lock(c.mu);
  c.max_allocated = c.allocated;
}

void empty_cache() {
  const int n = device_count();
  cudaError_t first = cudaSuccess;
  for (int d = 0; d < n; ++d) {
    const cudaError_t e = allocator()->release_cached(d);
    if (e != cudaSuccess && first == cudaSuccess) first = e;
  }
  LAMINA_CUDA_CHECK(first, "cuda.empty_cache");
}

void copy_host_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  check_device(device, "to");
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  LAMINA_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyHostToDevice, stream), "to");
  LAMINA_CUDA_CHECK(cudaStreamSynchronize(stream), "to");
}

void copy_device_to_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  check_device(device, "to");
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  LAMINA_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, stream), "to");
  LAMINA_CUDA_CHECK(cudaStreamSynchronize(stream), "to");
}

// Same device: ordered on the stream of `device`, no wait. When the other end lives on another
// device (a cross-device .to), that device's queued work is finished first and the copy is waited
// for, since the two devices' streams are not ordered with each other.
void copy_device_to_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  check_device(device, "to");
  int other = device;
  for (const void* p : {static_cast<const void*>(dst), src}) {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, p) == cudaSuccess && attr.type == cudaMemoryTypeDevice &&
        attr.device != device) {
      other = attr.device;
    }
    (void)cudaGetLastError();
  }
  if (other != device) {
    DeviceGuard guard(other);
    LAMINA_CUDA_CHECK(cudaDeviceSynchronize(), "to");
  }
  DeviceGuard guard(device);
  const cudaStream_t stream = current_stream(device);
  LAMINA_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, stream), "to");
  if (other != device) LAMINA_CUDA_CHECK(cudaStreamSynchronize(stream), "to");
}

void synchronize(int device) {
  if (device_count() == 0) return;  // nothing can be pending (as in the CPU-only build)
  check_device(device, "cuda.synchronize");
  DeviceGuard guard(device);
  LAMINA_CUDA_CHECK(cudaDeviceSynchronize(), "cuda.synchronize");
}

}  // namespace lamina::cuda
