// Threads: OpenMP underneath, one knob (lamina.set_num_threads) on top.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace lamina {

int get_num_threads();
void set_num_threads(int n);  // n >= 1

// Calls f(begin, end) over disjoint chunks of [begin, end) on the thread pool. Runs inline when
// the range is no larger than `grain`, when one thread is set, or inside another parallel region.
// f must not throw: arguments are checked before kernels run.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  const int nt = get_num_threads();
  if (n <= grain || nt <= 1 || omp_in_parallel()) {
    f(begin, end);
    return;
  }
  const int64_t chunks = std::min<int64_t>(nt, (n + grain - 1) / std::max<int64_t>(grain, 1));
#pragma omp parallel num_threads(static_cast<int>(chunks))
  {
    const int64_t tid = omp_get_thread_num();
    const int64_t nth = omp_get_num_threads();
    const int64_t per = (n + nth - 1) / nth;
    const int64_t b = begin + tid * per;
    const int64_t e = std::min(end, b + per);
    if (b < e) f(b, e);
  }
}

}  // namespace lamina
