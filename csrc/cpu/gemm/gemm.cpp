// The packed, cache-blocked GEMM driver (the loop nest of Goto & van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication", as BLIS and OpenBLAS run it):
//
//   for jc in N by NC:                      B panel  KC x NC   (packed, lives in L3)
//     for pc in K by KC:
//       pack op(B)[pc:pc+KC, jc:jc+NC]
//       for ic in M by MC:                  A block  MC x KC   (packed, lives in L2)
//         pack op(A)[ic:ic+MC, pc:pc+KC]
//         for jr in NC by NR:               B sliver KC x NR   (stays in L1)
//           for ir in MC by MR:  micro-kernel: C[MR x NR] (+)= A panel * B sliver
//
// Transposed operands are handled by the packers, which read them in place. The micro-kernel
// family (AVX-512, AVX2+FMA or portable, gemm_kernels.h) is picked at run time from
// cpu_features(). Threads (OpenMP, lamina::get_num_threads()): all threads pack each B panel
// together into one shared buffer (double-buffered, one barrier per panel), then take blocks of
// A's rows, each packing its own A block into its own L2 (gemm_rows). When A is short (at most
// two MC blocks, as for a batch of 128) and B wider, the roles swap: the threads pack each A block
// together and take blocks of B's columns (gemm_cols). Blocks are handed out as threads ask
// (large first, small at the end), not fixed per thread: the machine this runs on is often shared,
// and a thread that loses its core for a moment should leave little work behind.
// Each element of C is summed in the same order whatever the thread count or schedule.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_kernels.h"

namespace lamina::cpu {
namespace {

using gemm::KernelFamily;

// Cache blocks per family, for 32-48 KiB L1d, 512 KiB-2 MiB L2 per core and a shared L3:
// a KC x NR sliver of B (16 KiB for avx2 float) stays in L1 beside the A panels streaming through,
// the MC x KC block of A (144 KiB) in L2, the KC x NC panel of B in L3. The avx2 numbers were
// tuned on an AMD EPYC (Zen 3, 32 KiB L1d, 512 KiB L2 per core).
// Largest register tile of any family (avx512 float: 14 x 32), for macro_kernel's scratch tile.
constexpr int kMaxTile = 16 * 32;

struct Blocks {
  int64_t mc, kc, nc;
};
constexpr Blocks kAvx512Float{168, 384, 4096}, kAvx512Double{112, 256, 2048};
constexpr Blocks kAvx2Float{144, 256, 4096}, kAvx2Double{72, 256, 2048};
constexpr Blocks kPortableFloat{128, 256, 2048}, kPortableDouble{64, 256, 2048};

template <typename T>
struct FamilyTable {
  // Families this CPU can run: the detected one first (widest), then narrower ones, then any
  // test-only layouts; sgemm uses families[0] unless a test forces another.
  std::vector<KernelFamily<T>> families;
};

template <typename T>
KernelFamily<T> make_family(const char* name, int mr, int nr, Blocks b, gemm::KernelFn<T> k,
                            gemm::ShortKernelFn<T> km, gemm::PackFn<T> pa, gemm::PackFn<T> pb) {
  if (mr * nr > kMaxTile) std::abort();  // a family's tile must fit macro_kernel's scratch tile
  // MC a multiple of MR and NC of NR, so blocks split into whole panels.
  const int64_t mc = std::max<int64_t>(mr, b.mc / mr * mr);
  const int64_t nc = std::max<int64_t>(nr, b.nc / nr * nr);
  return KernelFamily<T>{name, mr, nr, mc, b.kc, nc, k, km, pa, pb};
}

#define LAMINA_GEMM_ADD_FAMILY(NAME, NS, BF, BD)                                                               \
  do {                                                                                                         \
    if constexpr (std::is_same_v<T, float>)                                                                    \
      t.families.push_back(make_family<T>(NAME, gemm::NS::kMrF, gemm::NS::kNrF, BF, gemm::NS::skernel,          \
                                          gemm::NS::skernel_m, gemm::NS::spack_a, gemm::NS::spack_b));                              \
    else                                                                                                       \
      t.families.push_back(make_family<T>(NAME, gemm::NS::kMrD, gemm::NS::kNrD, BD, gemm::NS::dkernel,          \
                                          gemm::NS::dkernel_m, gemm::NS::dpack_a, gemm::NS::dpack_b));                              \
  } while (0)

template <typename T>
FamilyTable<T> build_families() {
  FamilyTable<T> t;
  const CpuFeatures& cpu = cpu_features();
  const bool avx2 = cpu.avx2 && cpu.fma;
  (void)avx2;
#if defined(LAMINA_GEMM_HAVE_AVX512)
  if (avx2 && cpu.avx512f) LAMINA_GEMM_ADD_FAMILY("avx512", avx512, kAvx512Float, kAvx512Double);
#endif
#if defined(LAMINA_GEMM_HAVE_AVX2)
  if (avx2) LAMINA_GEMM_ADD_FAMILY("avx2+fma", avx2, kAvx2Float, kAvx2Double);
#endif
  LAMINA_GEMM_ADD_FAMILY("portable", portable, kPortableFloat, kPortableDouble);
#if defined(LAMINA_GEMM_HAVE_AVX2)
  // Tests only: the avx512 tiles, packers and blocks with AVX2 registers (see gemm_avx2.cpp).
  if (avx2) LAMINA_GEMM_ADD_FAMILY("avx512-layout-on-avx2", avx2_wide, kAvx512Float, kAvx512Double);
#endif
  return t;
}
#undef LAMINA_GEMM_ADD_FAMILY

const FamilyTable<float>& float_families() {
  static const FamilyTable<float> t = build_families<float>();
  return t;
}

const FamilyTable<double>& double_families() {
  static const FamilyTable<double> t = build_families<double>();
  return t;
}

// Index into the family tables of the forced family; -1: the detected (widest) one.
std::atomic<int> g_forced{-1};

template <typename T>
const KernelFamily<T>& pick(const FamilyTable<T>& t) {
  const int f = g_forced.load(std::memory_order_relaxed);
  // Both tables list the same families in the same order (they are built under the same tests).
  if (f >= 0 && static_cast<size_t>(f) < t.families.size()) return t.families[static_cast<size_t>(f)];
  return t.families.front();
}

// Per calling thread: one 64-byte aligned block, grown on demand and kept for the next call, so a
// training loop does not map and fault fresh pages for every product.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  ~Workspace() { std::free(ptr); }
  void* get(size_t need) {
    if (need > bytes) {
      std::free(ptr);
      ptr = nullptr;
      bytes = 0;
      const size_t size = (need + 4095) / 4096 * 4096;
      ptr = std::aligned_alloc(64, size);
      if (!ptr) throw std::bad_alloc();
      bytes = size;
    }
    return ptr;
  }
};
thread_local Workspace t_workspace;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
// Splits `len` into the fewest blocks of at most `cap` (a multiple of `unit`) of near-equal size,
// rounded up to `unit`: 784 with cap 256 gives 196, not 256 + 256 + 256 + 16.
inline int64_t balanced_block(int64_t len, int64_t cap, int64_t unit) {
  const int64_t nb = ceil_div(len, cap);
  return std::min(cap, round_up(ceil_div(len, nb), unit));
}
inline int64_t aligned_elems(int64_t n) { return round_up(n + gemm::kPackPad, 16); }

template <typename T>
struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
  const T* a_at(int64_t i, int64_t l) const { return ta ? A + l * lda + i : A + i * lda + l; }
  const T* b_at(int64_t l, int64_t j) const { return tb ? B + j * ldb + l : B + l * ldb + j; }
};

// C[0:mc, 0:nc] (+)= alpha * packed A block * packed B panel, tile by tile.
template <typename T>
void macro_kernel(const KernelFamily<T>& f, int64_t mc, int64_t nc, int64_t kc, const T* ap, const T* bp, T* c,
                  int64_t ldc, T alpha, T beta) {
  const int mr = f.mr, nr = f.nr;
  alignas(64) T tile[kMaxTile];
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t n = std::min<int64_t>(nr, nc - jr);
    const T* b = bp + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int64_t m = std::min<int64_t>(mr, mc - ir);
      const T* a = ap + ir * kc;
      T* cij = c + ir * ldc + jr;
      if (n == nr) {
        if (m == mr)
          f.kernel(kc, a, b, cij, ldc, alpha, beta);
        else
          f.kernel_m(static_cast<int>(m), kc, a, b, cij, ldc, alpha, beta);
      } else {
        if (m == mr)
          f.kernel(kc, a, b, tile, nr, T(1), T(0));
        else
          f.kernel_m(static_cast<int>(m), kc, a, b, tile, nr, T(1), T(0));
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            T& out = cij[i * ldc + j];
            out = beta == T(0) ? alpha * tile[i * nr + j] : alpha * tile[i * nr + j] + beta * out;
          }
      }
    }
  }
}

// Hands out ranges of `total` units to threads as they ask, each 1/nthreads of what is left (at
// most max_chunk): large ranges first, smaller ones towards the end (OpenMP's "guided" schedule),
// so that on a busy machine a thread that lost its core for a while leaves little work behind
// for the others to wait on, while on a quiet one each thread still gets long runs of panels
// (packing narrow slivers of B costs more per element than packing wide ones).
class Guided {
 public:
  bool grab(int64_t total, int64_t nthreads, int64_t max_chunk, int64_t* begin, int64_t* end) {
    int64_t cur = next_.load(std::memory_order_relaxed);
    while (cur < total) {
      const int64_t take = std::min(total - cur, std::min(max_chunk, ceil_div(total - cur, nthreads)));
      if (next_.compare_exchange_weak(cur, cur + take, std::memory_order_relaxed)) {
        *begin = cur;
        *end = cur + take;
        return true;
      }
    }
    return false;
  }

 private:
  std::atomic<int64_t> next_{0};
};

// A barrier for the threads of one parallel region: it spins for up to ~200 us (the thread being
// waited for is normally a few microseconds behind) and then yields its core between checks. The
// machine this runs on is often shared: when the thread being waited for has lost its core, a
// waiter that keeps spinning (libgomp's barrier spins for milliseconds) keeps it off, and one
// that yields at once hands its core to other programs for a whole time slice. Every thread
// passes the same `nthreads`.
class YieldingBarrier {
 public:
  void wait(int nthreads) {
    const int gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == nthreads - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    bool spin = true;
    for (unsigned n = 1; gen_.load(std::memory_order_acquire) == gen; ++n) {
      if (!spin) {
        std::this_thread::yield();
        continue;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if (n % 64 == 0) spin = std::chrono::steady_clock::now() - start < std::chrono::microseconds(200);
    }
  }

 private:
  std::atomic<int> count_{0};
  std::atomic<int> gen_{0};
};

// All threads together, rows split: for each B panel (jc, pc) the threads pack it into the shared
// buffer bbuf[i % 2] (grabbing NR-wide slivers), meet at a barrier, then grab blocks of MR-row
// panels of A, pack each into their own abuf and multiply it with the shared panel. Double
// buffering needs one barrier per panel: a thread that passed barrier i knows that every thread
// has finished multiplying with panel i - 1, whose buffer panel i + 1 reuses. `sched` holds two
// Guided counters per panel.
template <typename T>
void gemm_rows(const Problem<T>& p, const KernelFamily<T>& f, T* const bbuf[2], T* abuf, int nth, Guided* sched,
               YieldingBarrier* barrier) {
  const int64_t kc_b = balanced_block(p.K, f.kc, 1);
  const int64_t nc_b = balanced_block(p.N, f.nc, f.nr);
  const int64_t mpan = ceil_div(p.M, f.mr);
  int64_t iter = 0;
  for (int64_t jc = 0; jc < p.N; jc += nc_b) {
    const int64_t nc = std::min(nc_b, p.N - jc);
    const int64_t npan = ceil_div(nc, f.nr);
    for (int64_t pc = 0; pc < p.K; pc += kc_b, ++iter) {
      const int64_t kc = std::min(kc_b, p.K - pc);
      T* bp = bbuf[iter & 1];
      int64_t q0, q1;
      while (sched[2 * iter].grab(npan, nth, 8, &q0, &q1))
        f.pack_b(p.tb, p.b_at(pc, jc + q0 * f.nr), p.ldb, std::min(nc, q1 * f.nr) - q0 * f.nr, kc, bp + q0 * f.nr * kc);
      if (nth > 1) barrier->wait(nth);
      const T beta = pc == 0 ? p.beta : T(1);
      int64_t r0, r1;
      while (sched[2 * iter + 1].grab(mpan, nth, f.mc / f.mr, &r0, &r1)) {
        const int64_t i0 = r0 * f.mr, mc = std::min(p.M, r1 * f.mr) - i0;
        f.pack_a(p.ta, p.a_at(i0, pc), p.lda, mc, kc, abuf);
        macro_kernel(f, mc, nc, kc, abuf, bp, p.C + i0 * p.ldc + jc, p.ldc, p.alpha, beta);
      }
    }
  }
}

// All threads together, columns split (the mirror of gemm_rows, for short and wide products):
// for each block of A (ic, pc) the threads pack it into the shared buffer abuf[i % 2], meet at a
// barrier, then grab blocks of NR-wide column panels, pack that part of B into their own bbuf
// and multiply.
template <typename T>
void gemm_cols(const Problem<T>& p, const KernelFamily<T>& f, T* const abuf[2], T* bbuf, int nth, Guided* sched,
               YieldingBarrier* barrier) {
  const int64_t kc_b = balanced_block(p.K, f.kc, 1);
  const int64_t mc_b = balanced_block(p.M, f.mc, f.mr);
  const int64_t npan = ceil_div(p.N, f.nr);
  int64_t iter = 0;
  for (int64_t ic = 0; ic < p.M; ic += mc_b) {
    const int64_t mc = std::min(mc_b, p.M - ic);
    const int64_t mpan = ceil_div(mc, f.mr);
    for (int64_t pc = 0; pc < p.K; pc += kc_b, ++iter) {
      const int64_t kc = std::min(kc_b, p.K - pc);
      T* ap = abuf[iter & 1];
      int64_t r0, r1;
      while (sched[2 * iter].grab(mpan, nth, 8, &r0, &r1))
        f.pack_a(p.ta, p.a_at(ic + r0 * f.mr, pc), p.lda, std::min(mc, r1 * f.mr) - r0 * f.mr, kc,
                 ap + r0 * f.mr * kc);
      if (nth > 1) barrier->wait(nth);
      const T beta = pc == 0 ? p.beta : T(1);
      int64_t q0, q1;
      while (sched[2 * iter + 1].grab(npan, nth, f.nc / f.nr, &q0, &q1)) {
        const int64_t j0 = q0 * f.nr, nc = std::min(p.N, q1 * f.nr) - j0;
        f.pack_b(p.tb, p.b_at(pc, j0), p.ldb, nc, kc, bbuf);
        macro_kernel(f, mc, nc, kc, ap, bbuf, p.C + ic * p.ldc + j0, p.ldc, p.alpha, beta);
      }
    }
  }
}

template <typename T>
void scale_c(const Problem<T>& p) {
  parallel_for(0, p.M, std::max<int64_t>(1, 16384 / p.N), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T* c = p.C + i * p.ldc;
      if (p.beta == T(0))
        std::fill(c, c + p.N, T(0));
      else
        for (int64_t j = 0; j < p.N; ++j) c[j] *= p.beta;
    }
  });
}

// Below this many multiply-adds per thread, starting another thread costs more than it saves.
constexpr double kMinWorkPerThread = 131072.0;

template <typename T>
void gemm_run(const KernelFamily<T>& f, const Problem<T>& p) {
  if (p.M <= 0 || p.N <= 0) return;
  if (p.K <= 0 || p.alpha == T(0)) {  // BLAS: A and B are not read, C = beta * C
    scale_c(p);
    return;
  }
  int nt = omp_in_parallel() ? 1 : get_num_threads();
  const double work = static_cast<double>(p.M) * static_cast<double>(p.N) * static_cast<double>(p.K);
  nt = static_cast<int>(std::max(1.0, std::min<double>(nt, std::floor(work / kMinWorkPerThread))));
  const int64_t mpan = ceil_div(p.M, f.mr), npan = ceil_div(p.N, f.nr);
  // Threads split the rows and share each B panel, unless A is short (one or two blocks of MC
  // rows) and B is wider: then they split the columns and share each block of A.
  const bool by_cols = nt > 1 && p.M <= 2 * f.mc && npan > mpan;
  nt = static_cast<int>(std::min<int64_t>(nt, by_cols ? npan : mpan));

  const int64_t kc = std::min(f.kc, p.K);
  const int64_t a_elems = aligned_elems(std::min(f.mc, round_up(p.M, f.mr)) * kc);
  const int64_t b_elems = aligned_elems(std::min(f.nc, round_up(p.N, f.nr)) * kc);
  // Workspace: two shared buffers for the shared operand, then one buffer per thread for the other.
  const int64_t shared = by_cols ? a_elems : b_elems, own = by_cols ? b_elems : a_elems;
  T* base = static_cast<T*>(t_workspace.get(sizeof(T) * static_cast<size_t>(2 * shared + nt * own)));
  T* const two[2] = {base, base + shared};
  auto mine = [&](int t) { return base + 2 * shared + t * own; };
  // Two guided counters (packing, multiplying) per block of the shared operand.
  const int64_t blocks = by_cols ? ceil_div(p.M, balanced_block(p.M, f.mc, f.mr)) * ceil_div(p.K, balanced_block(p.K, f.kc, 1))
                                 : ceil_div(p.N, balanced_block(p.N, f.nc, f.nr)) * ceil_div(p.K, balanced_block(p.K, f.kc, 1));
  const auto sched = std::make_unique<Guided[]>(static_cast<size_t>(2 * blocks));
  YieldingBarrier barrier;
  if (nt == 1) {
    gemm_rows(p, f, two, mine(0), 1, sched.get(), &barrier);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    T* own_buf = mine(omp_get_thread_num());
    const int nth = omp_get_num_threads();
    if (by_cols)
      gemm_cols(p, f, two, own_buf, nth, sched.get(), &barrier);
    else
      gemm_rows(p, f, two, own_buf, nth, sched.get(), &barrier);
    // Wait here, yielding, rather than in the region's closing barrier, which spins.
    if (nth > 1) barrier.wait(nth);
  }
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_run(pick(float_families()), Problem<float>{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
           const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_run(pick(double_families()), Problem<double>{ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
}

const char* sgemm_kernel_name() { return pick(float_families()).name; }

std::vector<std::string> gemm_kernel_families() {
  std::vector<std::string> names;
  for (const auto& f : float_families().families) names.emplace_back(f.name);
  return names;
}

bool gemm_force_kernel_family(const std::string& name) {
  if (name.empty()) {
    g_forced.store(-1);
    return true;
  }
  const auto names = gemm_kernel_families();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) {
      g_forced.store(static_cast<int>(i));
      return true;
    }
  return false;
}

}  // namespace lamina::cpu
