#include "core/parallel.h"

#include <atomic>

#include "core/errors.h"

namespace lamina {
namespace {
std::atomic<int> g_threads{0};  // 0: not set yet, use OpenMP's default
}

int get_num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : omp_get_max_threads();
}

void set_num_threads(int n) {
  LAMINA_CHECK(n >= 1, ValueError, "set_num_threads", "argument 'num_threads' must be >= 1, got ", n);
  g_threads.store(n);
  omp_set_num_threads(n);
}

}  // namespace lamina
