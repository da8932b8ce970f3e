#include "core/rng.h"

#include <mutex>

namespace lamina {
namespace {
std::mutex g_rng_mutex;
}

GeneratorState& default_generator() {
  static GeneratorState g{67280421310721ull, 0};
  return g;
}

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  default_generator() = GeneratorState{seed, 0};
}

uint64_t reserve_blocks(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  const uint64_t off = default_generator().offset;
  default_generator().offset += blocks;
  return off;
}

}  // namespace lamina
