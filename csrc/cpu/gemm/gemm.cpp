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

#include "core/allocator.h"
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "cpu/gemm/gemm_kernels.h"

namespace lamina::cpu {
namespace {

using gemm::KernelFamily;

// Cache blocks per family, for 32-48 KiB L1d, 512 KiB-2 MiB L2 per core and a shared L3:
// a KC x NR sliver of B (24 KiB for avx2 float) stays in L1 beside the A panels streaming through,
// the MC x KC block of A (216 KiB) in L2, the KC x NC panel of B in L3. The avx2 numbers were
// tuned on an AMD EPYC (Zen 3, 32 KiB L1d, 512 KiB L2 per core): KC 384 rather than 256 reads and
// writes each tile of C a third fewer times and runs 2048^2 products and the LSTM's backward
// about 1% faster (paired A/B runs); 448 and 512 were no better.
// Largest register tile of any family (avx512 float: 14 x 32), for macro_kernel's scratch tile.
constexpr int kMaxTile = 16 * 32;

struct Blocks {
  int64_t mc, kc, nc;
};
constexpr Blocks kAvx512Float{168, 384, 4096}, kAvx512Double{112, 256, 2048};
constexpr Blocks kAvx2Float{144, 384, 4096}, kAvx2Double{72, 256, 2048};
constexpr Blocks kPortableFloat{128, 256, 2048}, kPortableDouble{64, 256, 2048};

template <typename T>
struct FamilyTable {
  // Families this CPU can run: the detected one first (widest), then narrower ones, then any
  // test-only layouts; sgemm uses families[0] unless a test forces another.
  std::vector<KernelFamily<T>> families;
};

template <typename T>
KernelFamily<T> make_family(const char* name, int mr, int nr, Blocks b, gemm::KernelFn<T> k,
                            gemm::ShortKernelFn<T> km, gemm::PackFn<T> pa, gemm::PackFn<T> pb,
                            gemm::SmallNtFn<T> small_nt) {
  if (mr * nr > kMaxTile) std::abort();  // a family's tile must fit macro_kernel's scratch tile
  // MC a multiple of MR and NC of NR, so blocks split into whole panels.
  const int64_t mc = std::max<int64_t>(mr, b.mc / mr * mr);
  const int64_t nc = std::max<int64_t>(nr, b.nc / nr * nr);
  return KernelFamily<T>{name, mr, nr, mc, b.kc, nc, k, km, pa, pb, small_nt};
}

#define LAMINA_GEMM_ADD_FAMILY(NAME, NS, BF, BD)                                                               \
  do {                                                                                                         \
    if constexpr (std::is_same_v<T, float>)                                                                    \
      t.families.push_back(make_family<T>(NAME, gemm::NS::kMrF, gemm::NS::kNrF, BF, gemm::NS::skernel,          \
                                          gemm::NS::skernel_m, gemm::NS::spack_a, gemm::NS::spack_b, gemm::NS::ssmall_nt));                              \
    else                                                                                                       \
      t.families.push_back(make_family<T>(NAME, gemm::NS::kMrD, gemm::NS::kNrD, BD, gemm::NS::dkernel,          \
                                          gemm::NS::dkernel_m, gemm::NS::dpack_a, gemm::NS::dpack_b, gemm::NS::dsmall_nt));                              \
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

// C[0:mc, 0:nc] (+)= alpha * packed A block * packed B panel, tile by tile: each sliver of B with
// every full panel of A, while it sits in L1. A short last panel of A (mc % MR rows) of 2 or 3 rows
// is multiplied with several slivers at a time, once they have all been used (kShortPanelGroup).
template <typename T>
void macro_kernel(const KernelFamily<T>& f, int64_t mc, int64_t nc, int64_t kc, const T* ap, const T* bp, T* c,
                  int64_t ldc, T alpha, T beta) {
  const int mr = f.mr, nr = f.nr;
  const int64_t mfull = mc - mc % mr, nfull = nc - nc % nr;
  const int m_short = static_cast<int>(mc - mfull);
  const bool multi = m_short >= gemm::kShortMultiMinRows && m_short <= gemm::kShortMultiMaxRows;
  const int64_t group = multi ? gemm::kShortPanelGroup : 1;
  alignas(64) T tile[kMaxTile];
  int64_t pending = 0;  // full slivers before jr not yet multiplied with the short panel
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t n = std::min<int64_t>(nr, nc - jr);
    const T* b = bp + jr * kc;
    if (n == nr) {
      for (int64_t ir = 0; ir < mfull; ir += mr) f.kernel(kc, ap + ir * kc, b, c + ir * ldc + jr, ldc, alpha, beta);
      ++pending;
      if (m_short > 0 && (pending == group || jr + nr == nfull)) {
        const int64_t j0 = jr + nr - pending * nr;
        f.kernel_m(m_short, pending, kc, ap + mfull * kc, bp + j0 * kc, c + mfull * ldc + j0, ldc, alpha, beta);
        pending = 0;
      }
      continue;
    }
    for (int64_t ir = 0; ir < mc; ir += mr) {  // the last, narrow sliver: through the scratch tile
      const int64_t m = std::min<int64_t>(mr, mc - ir);
      const T* a = ap + ir * kc;
      T* cij = c + ir * ldc + jr;
      if (m == mr)
        f.kernel(kc, a, b, tile, nr, T(1), T(0));
      else
        f.kernel_m(static_cast<int>(m), 1, kc, a, b, tile, nr, T(1), T(0));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          T& out = cij[i * ldc + j];
          out = beta == T(0) ? alpha * tile[i * nr + j] : alpha * tile[i * nr + j] + beta * out;
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

// ---------------------------------------------------------------- few rows (gemm.h s/dgemm_small_nt)
// The threads split the rows of B (columns of C) into runs of whole register tiles.
template <typename T>
void small_nt_run(const KernelFamily<T>& f, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                  const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(Problem<T>{false, true, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc});
    return;
  }
  constexpr int64_t unit = 3;  // rows of B per register tile (small_nt's NJ)
  const int64_t units = ceil_div(N, unit);
  const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  const int64_t per_unit = static_cast<int64_t>(std::max(1.0, std::ceil(kMinWorkPerThread * units / work)));
  parallel_for(0, units, per_unit, [&](int64_t u0, int64_t u1) {
    const int64_t j0 = u0 * unit, j1 = std::min(N, u1 * unit);
    f.small_nt(M, j1 - j0, K, alpha, A, lda, B + j0 * ldb, ldb, beta, C + j0, ldc);
  });
}

// ---------------------------------------------------------------- prepacked B (gemm.h PackedB)
// Layout: the blocks (jc, pc) of op(B), NC_b columns by KC_b rows, one after another (jc outer),
// each as gemm_rows packs a panel: ceil(nc / NR) slivers of kc x NR. A product packs all of A
// (at most a few blocks: the callers' M is a batch) with the threads sharing the blocks, meets at
// one barrier, then the threads take runs of NR-wide column slivers as they ask (Guided) and, for
// each, loop over A's blocks in order (pc inner), so every element of C is summed in one order.

template <typename T>
PackedB pack_b_impl(const KernelFamily<T>& f, bool tb, int64_t K, int64_t N, const T* B, int64_t ldb) {
  PackedB pb;
  pb.family = &f;
  pb.K = K;
  pb.N = N;
  pb.is_double = std::is_same_v<T, double>;
  if (K > 0) pb.kc = balanced_block(K, f.kc, 1);  // set even for N == 0: it fixes a PackedA's layout
  if (K <= 0 || N <= 0) return pb;
  pb.nc = balanced_block(N, f.nc, f.nr);
  const int64_t nkb = ceil_div(K, pb.kc), njb = ceil_div(N, pb.nc);
  const int64_t block = round_up(pb.nc, f.nr) * pb.kc;
  const size_t bytes = sizeof(T) * static_cast<size_t>(njb * nkb * block + gemm::kPackPad);
  // From the tensor allocator, which keeps freed large blocks for reuse: packs are made per call
  // (an RBM step, an LSTM sequence), and fresh megabytes would be faulted in and zeroed each time.
  pb.data = allocate(bytes, Device());
  T* base = static_cast<T*>(pb.data.get());
  const Problem<T> p{false, tb, 0, N, K, T(1), nullptr, 0, B, ldb, T(0), nullptr, 0};
  parallel_for(0, njb * nkb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t jb = b / nkb, kb = b % nkb;
      const int64_t jc = jb * pb.nc, pc = kb * pb.kc;
      f.pack_b(tb, p.b_at(pc, jc), ldb, std::min(pb.nc, N - jc), std::min(pb.kc, K - pc), base + b * block);
    }
  });
  return pb;
}

thread_local Workspace t_packed_a;  // the packed A of gemm_packed_b (per calling thread)

// C[:, :] (+)= alpha * packed A * packed B over the NR-wide column slivers handed out by `sched`
// (every thread of the region calls it); A is nib x nkb blocks of a_block elements.
template <typename T>
void packed_columns(const KernelFamily<T>& f, int64_t M, int64_t mc_b, const T* abuf, int64_t a_block,
                    const PackedB& pb, T alpha, T beta, T* C, int64_t ldc, int nth, Guided* sched) {
  const int64_t K = pb.K, N = pb.N, kc_b = pb.kc, nc_b = pb.nc;
  const int64_t nkb = ceil_div(K, kc_b), nib = ceil_div(M, mc_b);
  const int64_t b_block = round_up(nc_b, f.nr) * kc_b;
  const T* bbase = static_cast<const T*>(pb.data.get());
  const int64_t npan = ceil_div(N, f.nr);     // NR-wide slivers of C's columns
  const int64_t pan_per_block = nc_b / f.nr;  // nc_b is a multiple of NR
  int64_t q0, q1;
  // One thread takes every sliver in one run (so that a short panel of A meets several slivers at
  // once, see macro_kernel); several take quarters of their share at a time.
  const int64_t chunk = nth == 1 ? npan : std::max<int64_t>(1, ceil_div(npan, 4 * static_cast<int64_t>(nth)));
  while (sched->grab(npan, nth, chunk, &q0, &q1)) {
    for (int64_t q = q0; q < q1;) {  // split the run at column-block boundaries
      const int64_t jb = q / pan_per_block;
      const int64_t qe = std::min(q1, (jb + 1) * pan_per_block);
      const int64_t j0 = q * f.nr;
      const int64_t nc = std::min(N, qe * f.nr) - j0;
      for (int64_t ib = 0; ib < nib; ++ib) {
        const int64_t ic = ib * mc_b, mc = std::min(mc_b, M - ic);
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const int64_t kc = std::min(kc_b, K - kb * kc_b);
          const T* bp = bbase + (jb * nkb + kb) * b_block + (q - jb * pan_per_block) * f.nr * kc;
          macro_kernel(f, mc, nc, kc, abuf + (ib * nkb + kb) * a_block, bp, C + ic * ldc + j0, ldc, alpha,
                       kb == 0 ? beta : T(1));
        }
      }
      q = qe;
    }
  }
}

// Threads for a product with a packed B: as gemm_run decides, at most one per column sliver.
inline int packed_threads(int64_t M, int64_t N, int64_t K, int64_t nr) {
  int nt = omp_in_parallel() ? 1 : get_num_threads();
  const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  nt = static_cast<int>(std::max(1.0, std::min<double>(nt, std::floor(work / kMinWorkPerThread))));
  return static_cast<int>(std::min<int64_t>(nt, ceil_div(N, nr)));
}

// Packs op(A)[0:M, k0:k1] into the blocks of `abuf` (layout of packed_columns), panel by panel.
template <typename T>
void pack_a_cols(const KernelFamily<T>& f, bool ta, const T* A, int64_t lda, int64_t M, int64_t K, int64_t mc_b,
                 int64_t kc_b, int64_t k0, int64_t k1, T* abuf) {
  const int64_t nkb = ceil_div(K, kc_b), nib = ceil_div(M, mc_b);
  const int64_t a_block = round_up(mc_b, f.mr) * kc_b;
  for (int64_t kb = k0 / kc_b; kb < nkb && kb * kc_b < k1; ++kb) {
    const int64_t pc = kb * kc_b, kc = std::min(kc_b, K - pc);
    const int64_t l0 = std::max(k0, pc), l1 = std::min(k1, pc + kc);
    for (int64_t ib = 0; ib < nib; ++ib) {
      const int64_t ic = ib * mc_b, mc = std::min(mc_b, M - ic);
      T* blk = abuf + (ib * nkb + kb) * a_block;
      for (int64_t r = 0; r < mc; r += f.mr) {
        const int64_t i = ic + r;
        const T* src = ta ? A + l0 * lda + i : A + i * lda + l0;
        f.pack_a(ta, src, lda, std::min<int64_t>(f.mr, mc - r), l1 - l0, blk + r * kc + (l0 - pc) * f.mr);
      }
    }
  }
}

template <typename T>
void packed_b_run(bool ta, int64_t M, T alpha, const T* A, int64_t lda, const PackedB& pb, T beta, T* C,
                  int64_t ldc) {
  const int64_t K = pb.K, N = pb.N;
  const Problem<T> p{ta, false, M, N, K, alpha, A, lda, nullptr, 0, beta, C, ldc};
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(p);
    return;
  }
  const auto& f = *static_cast<const KernelFamily<T>*>(pb.family);
  const int64_t kc_b = pb.kc, nkb = ceil_div(K, kc_b);
  const int64_t mc_b = balanced_block(M, f.mc, f.mr), nib = ceil_div(M, mc_b);
  const int64_t a_block = round_up(mc_b, f.mr) * kc_b;
  T* abuf = static_cast<T*>(t_packed_a.get(sizeof(T) * static_cast<size_t>(nib * nkb * a_block + gemm::kPackPad)));
  const int nt = packed_threads(M, N, K, f.nr);
  Guided pack_sched, sched;
  YieldingBarrier barrier;
  auto body = [&](int nth) {
    int64_t b0, b1;
    while (pack_sched.grab(nib * nkb, nth, 1, &b0, &b1))
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t ib = b / nkb, kb = b % nkb;
        const int64_t ic = ib * mc_b, pc = kb * kc_b;
        f.pack_a(ta, p.a_at(ic, pc), lda, std::min(mc_b, M - ic), std::min(kc_b, K - pc), abuf + b * a_block);
      }
    if (nth > 1) barrier.wait(nth);
    packed_columns(f, M, mc_b, abuf, a_block, pb, alpha, beta, C, ldc, nth, &sched);
  };
  if (nt == 1) {
    body(1);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int nth = omp_get_num_threads();
    body(nth);
    if (nth > 1) barrier.wait(nth);
  }
}

template <typename T>
void packed_ab_run(T alpha, const PackedA& pa, const PackedB& pb, T beta, T* C, int64_t ldc) {
  const int64_t M = pa.M, N = pb.N, K = pb.K;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(Problem<T>{false, false, M, N, K, alpha, nullptr, 0, nullptr, 0, beta, C, ldc});
    return;
  }
  const auto& f = *static_cast<const KernelFamily<T>*>(pb.family);
  const T* abuf = static_cast<const T*>(pa.data);
  const int64_t a_block = round_up(pa.mc, f.mr) * pb.kc;
  const int nt = packed_threads(M, N, K, f.nr);
  Guided sched;
  if (nt == 1) {
    packed_columns(f, M, pa.mc, abuf, a_block, pb, alpha, beta, C, ldc, 1, &sched);
    return;
  }
  YieldingBarrier barrier;
#pragma omp parallel num_threads(nt)
  {
    const int nth = omp_get_num_threads();
    packed_columns(f, M, pa.mc, abuf, a_block, pb, alpha, beta, C, ldc, nth, &sched);
    if (nth > 1) barrier.wait(nth);
  }
}

template <typename T>
size_t packed_a_bytes_impl(const KernelFamily<T>& f, int64_t max_m, const PackedB& pb) {
  if (max_m <= 0 || pb.K <= 0) return 64;
  const int64_t nkb = ceil_div(pb.K, pb.kc), nib = ceil_div(max_m, f.mc) + 1;
  // nib blocks of round_up(balanced mc, MR) rows never exceed max_m + nib * (MR + 1) rows.
  const int64_t rows = max_m + nib * (f.mr + 1) + f.mr;
  return sizeof(T) * static_cast<size_t>(rows * pb.kc * nkb + gemm::kPackPad);
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

void sgemm_small_nt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float beta, float* C, int64_t ldc) {
  small_nt_run(pick(float_families()), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void dgemm_small_nt(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda, const double* B,
                    int64_t ldb, double beta, double* C, int64_t ldc) {
  small_nt_run(pick(double_families()), M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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

PackedB sgemm_pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb) {
  return pack_b_impl(pick(float_families()), trans_b, K, N, B, ldb);
}

PackedB dgemm_pack_b(bool trans_b, int64_t K, int64_t N, const double* B, int64_t ldb) {
  return pack_b_impl(pick(double_families()), trans_b, K, N, B, ldb);
}

void sgemm_packed_b(bool trans_a, int64_t M, float alpha, const float* A, int64_t lda, const PackedB& B, float beta,
                    float* C, int64_t ldc) {
  if (B.is_double || (B.K > 0 && B.N > 0 && !B.data)) std::abort();  // a caller's bug, never user input
  packed_b_run(trans_a, M, alpha, A, lda, B, beta, C, ldc);
}

void dgemm_packed_b(bool trans_a, int64_t M, double alpha, const double* A, int64_t lda, const PackedB& B,
                    double beta, double* C, int64_t ldc) {
  if (!B.is_double || (B.K > 0 && B.N > 0 && !B.data)) std::abort();  // a caller's bug, never user input
  packed_b_run(trans_a, M, alpha, A, lda, B, beta, C, ldc);
}

size_t gemm_packed_a_bytes(int64_t max_m, const PackedB& B) {
  return B.is_double ? packed_a_bytes_impl(*static_cast<const KernelFamily<double>*>(B.family), max_m, B)
                     : packed_a_bytes_impl(*static_cast<const KernelFamily<float>*>(B.family), max_m, B);
}

PackedA gemm_packed_a(void* buffer, int64_t M, const PackedB& B) {
  PackedA pa;
  pa.data = buffer;
  pa.family = B.family;
  pa.M = M;
  pa.K = B.K;
  pa.kc = B.kc;
  const int64_t mc = B.is_double ? static_cast<const KernelFamily<double>*>(B.family)->mc
                                 : static_cast<const KernelFamily<float>*>(B.family)->mc;
  const int64_t mr = B.is_double ? static_cast<const KernelFamily<double>*>(B.family)->mr
                                 : static_cast<const KernelFamily<float>*>(B.family)->mr;
  pa.mc = M > 0 ? balanced_block(M, mc, mr) : mr;
  return pa;
}

void gemm_pack_a_cols(bool trans_a, const float* A, int64_t lda, int64_t k0, int64_t k1, const PackedA& pa) {
  if (pa.M <= 0 || k1 <= k0) return;
  pack_a_cols(*static_cast<const KernelFamily<float>*>(pa.family), trans_a, A, lda, pa.M, pa.K, pa.mc, pa.kc, k0, k1,
              static_cast<float*>(pa.data));
}

void gemm_pack_a_cols(bool trans_a, const double* A, int64_t lda, int64_t k0, int64_t k1, const PackedA& pa) {
  if (pa.M <= 0 || k1 <= k0) return;
  pack_a_cols(*static_cast<const KernelFamily<double>*>(pa.family), trans_a, A, lda, pa.M, pa.K, pa.mc, pa.kc, k0, k1,
              static_cast<double*>(pa.data));
}

void sgemm_packed_ab(float alpha, const PackedA& A, const PackedB& B, float beta, float* C, int64_t ldc) {
  if (B.is_double || A.family != B.family || A.K != B.K) std::abort();  // a caller's bug, never user input
  packed_ab_run(alpha, A, B, beta, C, ldc);
}

void dgemm_packed_ab(double alpha, const PackedA& A, const PackedB& B, double beta, double* C, int64_t ldc) {
  if (!B.is_double || A.family != B.family || A.K != B.K) std::abort();  // a caller's bug, never user input
  packed_ab_run(alpha, A, B, beta, C, ldc);
}

}  // namespace lamina::cpu
