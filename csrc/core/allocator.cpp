// CPU memory: 64-byte aligned blocks. Large blocks (>= kCacheMinBytes) freed by tensors are kept
// in a small cache and handed to the next request of a similar size: a training loop frees and
// asks again for the same few sizes every step (gradients, activations), and giving those pages
// back to the system each time costs a page fault per 4 KiB when they are touched again (about
// 900 faults, a millisecond, per step of a 784-512-512-10 MLP). The cache holds at most
// kCacheMaxBytes; `empty_cpu_cache()` returns it, and LAMINA_CPU_CACHE=0 (or a sanitizer build)
// turns it off. Small blocks go straight to malloc, whose own bins already serve them well.
#include "core/allocator.h"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/cuda_hooks.h"
#include "core/errors.h"

namespace lamina {
namespace {
std::atomic<int64_t> g_cpu_allocated{0};
std::atomic<int64_t> g_cpu_max{0};

constexpr size_t kCacheMinBytes = size_t{64} << 10;   // 64 KiB
constexpr size_t kCacheMaxBytes = size_t{512} << 20;  // 512 MiB cached at most
constexpr size_t kPage = 4096;

class BlockCache {
 public:
  static BlockCache& get() {
    // Leaked on purpose: tensors held by Python may be freed after static destructors ran.
    static BlockCache* cache = new BlockCache();
    return *cache;
  }

  bool enabled() const { return enabled_; }

  // A cached block of at least `bytes` and at most 5/4 of it, or nullptr. *got: its size.
  void* take(size_t bytes, size_t* got) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.lower_bound(bytes);
    if (it == free_.end() || it->first > bytes + bytes / 4) return nullptr;
    *got = it->first;
    void* p = it->second;
    cached_ -= it->first;
    free_.erase(it);
    return p;
  }

  // Keeps the block for reuse unless the cache is full; then frees it.
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + bytes <= kCacheMaxBytes) {
        free_.emplace(bytes, p);
        cached_ += bytes;
        return;
      }
    }
    std::free(p);
  }

  void clear() {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      blocks.swap(free_);
      cached_ = 0;
    }
    for (auto& kv : blocks) std::free(kv.second);
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

 private:
  BlockCache() {
#if defined(LAMINA_NO_CPU_CACHE)
    enabled_ = false;
#else
    const char* env = std::getenv("LAMINA_CPU_CACHE");
    enabled_ = !(env && env[0] == '0');
#endif
  }

  bool enabled_ = true;
  std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

void* system_alloc(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, kCpuAlignment, bytes) != 0) return nullptr;
  return p;
}

void note_allocated(int64_t bytes) {
  const int64_t now = g_cpu_allocated.fetch_add(bytes) + bytes;
  int64_t prev = g_cpu_max.load();
  while (now > prev && !g_cpu_max.compare_exchange_weak(prev, now)) {
  }
}

[[noreturn]] void out_of_memory(size_t nbytes) {
  LAMINA_FAIL(RuntimeError, "empty", "out of memory: could not allocate ", nbytes, " bytes on the CPU");
}

DataPtr cpu_allocate(size_t nbytes) {
  // `rounded` is what the tensor asked for (counted in memory stats); `block` what it holds.
  const size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  BlockCache& cache = BlockCache::get();
  if (rounded < kCacheMinBytes || !cache.enabled()) {
    void* p = nullptr;
    if (rounded > 0 && (p = system_alloc(rounded)) == nullptr) out_of_memory(nbytes);
    note_allocated(static_cast<int64_t>(rounded));
    return DataPtr(p, [rounded](void* q) {
      std::free(q);
      g_cpu_allocated.fetch_sub(static_cast<int64_t>(rounded));
    });
  }
  size_t block = (rounded + kPage - 1) / kPage * kPage;
  void* p = cache.take(block, &block);
  if (p == nullptr) {
    p = system_alloc(block);
    if (p == nullptr) {  // give the cached blocks back and try once more
      cache.clear();
      p = system_alloc(block);
      if (p == nullptr) out_of_memory(nbytes);
    }
  }
  note_allocated(static_cast<int64_t>(rounded));
  return DataPtr(p, [rounded, block](void* q) {
    g_cpu_allocated.fetch_sub(static_cast<int64_t>(rounded));
    BlockCache::get().give(q, block);
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
  s.reserved = s.allocated + static_cast<int64_t>(BlockCache::get().cached());
  return s;
}

void empty_cpu_cache() { BlockCache::get().clear(); }

}  // namespace lamina
