// CPU kernels for ops/lstm.h: one layer, one direction, the whole sequence per call.
//
// Letters: T steps, B batch rows, I input features, H hidden units; G = 4H gate columns in
// PyTorch's order i, f, g, o. bs[t] = rows active at step t (a prefix of the batch).
//
//   forward:   Gates[T*B, G] = X[T*B, I] W_ih^T                                one GEMM
//              per step t:  Gates[t][:bs] += h[:bs] W_hh^T                      one GEMM (bs x G x H)
//                           i, f, g, o = act(Gates[t] + b_ih + b_hh);  c = f c + i g;
//                           h = o tanh(c)                                       fused pass
//   backward:  per step, newest first:
//                           dGates[t] from dh = dh_state + dY[t], dc_state    fused pass
//                           dh_state[:bs] = dGates[t][:bs] W_hh                one GEMM (bs x H x G)
//              dX = dGates W_ih                                                   one GEMM
//              [dW_ih | dW_hh] = dGates^T [X | H_prev]                              one GEMM
//              (H_prev of step t is Y of the previous step; rows starting at t take hx instead),
//              db = column sums of dGates (accumulated in the pass).
//
// Threads: the time loop runs inside one parallel region. Each thread owns whole blocks of hidden
// units (see GateLayout) and, at every step, computes its units' columns of the recurrent GEMM
// (its slice of W_hh packed once per call, gemm.h PackedB), then their gates; the threads meet at
// one barrier per step (forward: before the next step reads all of h; backward: before dh =
// dGates W_hh reads all gate columns). The bias sums are per column, so they need no reduction.
// Results do not depend on the thread count. The big GEMMs before and after the loop thread
// themselves.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "core/allocator.h"
#include "core/parallel.h"
#include "cpu/fast_math.h"
#include "cpu/gemm/gemm.h"
#include "cpu/isa.h"
#include "ops/dispatch.h"
#include "ops/lstm.h"


namespace lamina::cpu {
namespace {

bool use_avx2() { return cpu_has_avx2_fma(); }

template <typename T>
[[gnu::always_inline]] inline T vtanh(T x) {
  if constexpr (std::is_same_v<T, float>) return tanh_f32_rational(x);
  else return std::tanh(x);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
          int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// The recurrent weights are packed for the GEMM once per call and reused at every step; the
// left-hand operand (h, or dGates) is packed by the threads that produce its columns.
PackedB pack_b(bool tb, int64_t K, int64_t N, const float* B, int64_t ldb) { return sgemm_pack_b(tb, K, N, B, ldb); }
PackedB pack_b(bool tb, int64_t K, int64_t N, const double* B, int64_t ldb) { return dgemm_pack_b(tb, K, N, B, ldb); }

void gemm_packed(const PackedA& A, const PackedB& B, float beta, float* C, int64_t ldc) {
  sgemm_packed_ab(1.0f, A, B, beta, C, ldc);
}

void gemm_packed(const PackedA& A, const PackedB& B, double beta, double* C, int64_t ldc) {
  dgemm_packed_ab(1.0, A, B, beta, C, ldc);
}

// Two buffers for the packed left-hand operand of the recurrent GEMM: the threads pack step s + 1's
// (each its own columns) into one while the others may still multiply with step s's. From the
// tensor allocator (64-byte aligned, large blocks reused call after call): std::vector's zeroed
// fresh pages (2 x 144 KiB for the backward at B 32, H 256) cost a fifth of a millisecond a call.
struct PackedABuffers {
  PackedB layout;  // K, the K blocking and the micro-kernel family (no data)
  size_t bytes;
  CpuScratch<char> mem;
  PackedABuffers(const PackedB& l, int64_t max_m)
      : layout(l), bytes(round_up_64(gemm_packed_a_bytes(max_m, l))), mem(static_cast<int64_t>(2 * bytes)) {}
  PackedA get(int64_t s, int64_t m) { return gemm_packed_a(mem.data() + (s & 1) * bytes, m, layout); }
  static size_t round_up_64(size_t n) { return (n + 63) / 64 * 64; }
};

// ---------------------------------------------------------------- gate layout
// Inside a call the 4H gate columns are reordered into blocks of kUnits hidden units: block b
// holds the i, f, g and o columns of units [b*U, b*U + w) one after another (w = U except in a
// short last block), so a thread that owns whole blocks computes its columns of the recurrent
// GEMM and then the gates of its units without waiting for anyone. Weights are permuted into this
// order on the way in and gradients back on the way out (copies of 4H rows, negligible next to
// the GEMMs); the saved `gates` are in this order.
constexpr int64_t kUnits = 32;

struct GateLayout {
  int64_t H, blocks;
  explicit GateLayout(int64_t h) : H(h), blocks((h + kUnits - 1) / kUnits) {}
  int64_t width(int64_t b) const { return std::min(kUnits, H - b * kUnits); }
  // Column of gate q (0..3: i, f, g, o) of unit j.
  int64_t col(int64_t q, int64_t j) const {
    const int64_t b = j / kUnits;
    return b * 4 * kUnits + q * width(b) + j % kUnits;
  }
};

// dst row col(q, j) = src row q*H + j (to_internal) or the reverse; rows of `cols` elements, the
// source's and destination's rows ld_src and ld_dst apart.
template <typename T>
void permute_rows(const GateLayout& L, const T* src, int64_t ld_src, T* dst, int64_t ld_dst, int64_t cols,
                  bool to_internal) {
  parallel_for(0, 4 * L.H, std::max<int64_t>(1, 32768 / std::max<int64_t>(cols, 1)), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a) {
      const int64_t b = L.col(a / L.H, a % L.H);
      const T* s = src + (to_internal ? a : b) * ld_src;
      std::copy(s, s + cols, dst + (to_internal ? b : a) * ld_dst);
    }
  });
}

template <typename T>
void permute_rows(const GateLayout& L, const T* src, T* dst, int64_t cols, bool to_internal) {
  permute_rows(L, src, cols, dst, cols, cols, to_internal);
}

// A barrier for the threads of the time loop: spins briefly (the other thread is normally a few
// microseconds behind), then yields its core between checks, so that on a shared machine a
// waiter does not keep the thread it waits for off the CPU.
class StepBarrier {
 public:
  void wait(int nthreads) {
    if (nthreads <= 1) return;
    const int gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == nthreads - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (unsigned n = 1; gen_.load(std::memory_order_acquire) == gen; ++n) {
      if (n < 4096) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  std::atomic<int> count_{0};
  std::atomic<int> gen_{0};
};

// The blocks [b0, b1) of thread `tid` of `nth`, split evenly.
void my_blocks(int64_t blocks, int tid, int nth, int64_t* b0, int64_t* b1) {
  *b0 = blocks * tid / nth;
  *b1 = blocks * (tid + 1) / nth;
}

// Threads for the time loop: enough recurrent work per step, at most one per block.
int loop_threads(int64_t B, int64_t H, int64_t blocks) {
  if (omp_in_parallel()) return 1;
  const double work = static_cast<double>(B) * static_cast<double>(H) * static_cast<double>(4 * H);
  const int64_t by_work = static_cast<int64_t>(work / 262144.0);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({get_num_threads(), blocks, by_work})));
}

// Runs body(tid, nth) on nt threads (inline when nt == 1).
template <typename F>
void run_threads(int nt, const F& body) {
  if (nt <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(nt)
  body(omp_get_thread_num(), omp_get_num_threads());
}

// One block's gates of one row: activates the w units' i, f, g, o pre-activations at gi in place
// (adding the bias), updates c in cs, writes c to cr and h to hs and yr. WC > 0: w == WC, a
// compile-time trip count (every block but a short last one), so the loops are unrolled whole
// with no run-time alias or remainder checks around them (a block is only 4-8 vectors a loop).
template <typename T, int64_t WC>
[[gnu::always_inline]] inline void gates_forward_block(int64_t wd, T* gi, const T* __restrict bi, T* __restrict cs,
                                                       T* __restrict hs, T* __restrict yr, T* __restrict cr) {
  const int64_t w = WC > 0 ? WC : wd;
  T* gf = gi + w;  // not restrict: the first loop writes gf through gi
  T* gg = gi + 2 * w;
  T* go = gi + 3 * w;
  const T* __restrict bg = bi + 2 * w;
  const T* __restrict bo = bi + 3 * w;
  // One loop per nonlinearity: each iteration is then one short chain of dependent operations,
  // and the core overlaps many iterations (one loop doing all five functions of a unit is one
  // long chain per iteration, and runs at about half the speed).
#pragma GCC ivdep
  for (int64_t j = 0; j < 2 * w; ++j) gi[j] = vsigmoid<T>(gi[j] + bi[j]);  // i and f, side by side
#pragma GCC ivdep
  for (int64_t j = 0; j < w; ++j) gg[j] = vtanh<T>(gg[j] + bg[j]);
#pragma GCC ivdep
  for (int64_t j = 0; j < w; ++j) go[j] = vsigmoid<T>(go[j] + bo[j]);
#pragma GCC ivdep
  for (int64_t j = 0; j < w; ++j) {
    const T c = gf[j] * cs[j] + gi[j] * gg[j];
    const T h = go[j] * vtanh<T>(c);
    cs[j] = c;
    cr[j] = c;
    hs[j] = h;
    yr[j] = h;
  }
}

// One step's forward gate pass over rows [0, bs) and gate blocks [b0, b1): activates the gate
// pre-activations in place (row stride 4H), updates c_state, writes h into h_out, y and cell.
template <typename T>
[[gnu::always_inline]] inline void gates_forward_body(int64_t bs, int64_t H, int64_t b0, int64_t b1, const T* bias,
                                                      T* g, T* c_state, T* h_out, T* y, T* cell) {
  for (int64_t r = 0; r < bs; ++r)
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t w = std::min(kUnits, H - b * kUnits), u = b * kUnits, o = r * H + u;
      T* gi = g + r * 4 * H + b * 4 * kUnits;
      const T* bi = bias + b * 4 * kUnits;
      if (w == kUnits)
        gates_forward_block<T, kUnits>(w, gi, bi, c_state + o, h_out + o, y + o, cell + o);
      else
        gates_forward_block<T, 0>(w, gi, bi, c_state + o, h_out + o, y + o, cell + o);
    }
}

// Software prefetch of the n elements at p, for reading (RW = 0) or writing (1). The gate passes
// read each row's slice of a few arrays, a few hundred bytes of a different 4 KiB page per row, where
// the hardware prefetchers (which stop at page boundaries) barely start; they prefetch kAhead rows on.
constexpr int64_t kAhead = 2;
template <int RW, typename T>
[[gnu::always_inline]] inline void prefetch_span(const T* p, int64_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t i = 0; i < n * static_cast<int64_t>(sizeof(T)); i += 64) __builtin_prefetch(c + i, RW, 3);
}

// One step's backward gate pass over rows [0, bs) and gate blocks [b0, b1). Reads the saved
// activated gates and cell states, dh = dh_state + dy, dc_state; writes the gate gradients (row
// stride 4H), dc_state = dc * f, and adds the gate gradients into the bias sums db[4H]. tanh(c)
// and dh go through small buffers first, which keeps the main loop's chains short (as in the
// forward pass).
// Rows r < bs_prev continue from cell_prev; the others start here from cx.
template <typename T>
[[gnu::always_inline]] inline void gates_backward_body(int64_t bs, int64_t bs_prev, int64_t H, int64_t b0,
                                                       int64_t b1, const T* g, const T* cell, const T* cell_prev,
                                                       const T* cx, const T* dh_state, const T* dy, T* dc_state,
                                                       T* dg, double* db) {
  // The bias gradients of this step's rows are summed in T first, then added into db once per
  // step (a conversion to double and a double add per element and step, not per row); blocks
  // go kBlocks at a time through the sums' buffer.
  constexpr int64_t kBlocks = 8;
  T dbs[4 * kUnits * kBlocks];
  for (int64_t bb0 = b0; bb0 < b1; bb0 += kBlocks) {
    const int64_t bb1 = std::min(b1, bb0 + kBlocks);
    const int64_t u0 = bb0 * kUnits, nu = std::min(H, bb1 * kUnits) - u0;
    std::fill(dbs, dbs + 4 * kUnits * (bb1 - bb0), T(0));
    for (int64_t r = 0; r < bs; ++r) {
      if (const int64_t a = r + kAhead; a < bs) {
        prefetch_span<0>(g + a * 4 * H + 4 * u0, 4 * nu);
        prefetch_span<1>(dg + a * 4 * H + 4 * u0, 4 * nu);
        prefetch_span<0>(cell + a * H + u0, nu);
        prefetch_span<0>((a < bs_prev ? cell_prev : cx) + a * H + u0, nu);
        if (dy) prefetch_span<0>(dy + a * H + u0, nu);
      }
      for (int64_t b = bb0; b < bb1; ++b) {
        const int64_t w = std::min(kUnits, H - b * kUnits), u = b * kUnits, off = b * 4 * kUnits;
        // Not restrict: dg may be g (gates_scratch), each element read before it is written.
        const T* gi = g + r * 4 * H + off;
        const T* gf = gi + w;
        const T* gg = gi + 2 * w;
        const T* go = gi + 3 * w;
        const T* __restrict c = cell + r * H + u;
        const T* __restrict cp = (r < bs_prev ? cell_prev : cx) + r * H + u;
        const T* __restrict dhs = dh_state + r * H + u;
        const T* __restrict dyr = dy ? dy + r * H + u : nullptr;
        T* __restrict dcs = dc_state + r * H + u;
        T* di = dg + r * 4 * H + off;
        T* df = di + w;
        T* dgg = di + 2 * w;
        T* dgo = di + 3 * w;
        T* __restrict si = dbs + (b - bb0) * 4 * kUnits;
        T* __restrict sf = si + w;
        T* __restrict sg = si + 2 * w;
        T* __restrict so = si + 3 * w;
        T tc[kUnits], dh[kUnits];
#pragma GCC ivdep
        for (int64_t j = 0; j < w; ++j) tc[j] = vtanh<T>(c[j]);
        if (dyr) {
#pragma GCC ivdep
          for (int64_t j = 0; j < w; ++j) dh[j] = dhs[j] + dyr[j];
        } else {
          std::copy(dhs, dhs + w, dh);
        }
#pragma GCC ivdep
        for (int64_t j = 0; j < w; ++j) {
          const T i = gi[j], f = gf[j], gv = gg[j], o = go[j];
          const T dc = dcs[j] + dh[j] * o * (T(1) - tc[j] * tc[j]);
          const T a = dc * gv * i * (T(1) - i), bb = dc * cp[j] * f * (T(1) - f);
          const T d = dc * i * (T(1) - gv * gv), e = dh[j] * tc[j] * o * (T(1) - o);
          di[j] = a;
          df[j] = bb;
          dgg[j] = d;
          dgo[j] = e;
          dcs[j] = dc * f;
          si[j] += a;
          sf[j] += bb;
          sg[j] += d;
          so[j] += e;
        }
      }
    }
    for (int64_t b = bb0; b < bb1; ++b) {
      const int64_t w4 = 4 * std::min(kUnits, H - b * kUnits), off = b * 4 * kUnits;
      const T* s = dbs + (b - bb0) * 4 * kUnits;
      for (int64_t j = 0; j < w4; ++j) db[off + j] += static_cast<double>(s[j]);
    }
  }
}

LAMINA_COMPILE_TWICE(gates_forward, (int64_t bs, int64_t H, int64_t b0, int64_t b1, const T* bias, T* g,
                                     T* c_state, T* h_out, T* y, T* cell),
                     (bs, H, b0, b1, bias, g, c_state, h_out, y, cell))
LAMINA_COMPILE_TWICE(gates_backward, (int64_t bs, int64_t bs_prev, int64_t H, int64_t b0, int64_t b1, const T* g,
                                      const T* cell, const T* cell_prev, const T* cx, const T* dh_state,
                                      const T* dy, T* dc_state, T* dg, double* db),
                     (bs, bs_prev, H, b0, b1, g, cell, cell_prev, cx, dh_state, dy, dc_state, dg, db))

// b_ih + b_hh (either may be undefined) in the internal gate layout.
template <typename T>
std::vector<T> summed_bias(const GateLayout& L, const Tensor& b_ih, const Tensor& b_hh) {
  const int64_t G = 4 * L.H;
  std::vector<T> bsum(static_cast<size_t>(G), T(0)), bias(static_cast<size_t>(G), T(0));
  for (const Tensor* b : {&b_ih, &b_hh})
    if (b->defined())
      for (int64_t k = 0; k < G; ++k) bsum[k] += b->data<T>()[k];
  permute_rows(L, bsum.data(), bias.data(), 1, true);
  return bias;
}

// Up to this many rows in all (T * B), forward_impl takes forward_small.
constexpr int64_t kSmallRows = 8;

// The forward of a call with few rows in all (sampling a language model one character at a time:
// T = B = 1). Permuting and packing the weights, as forward_impl does, would cost far more than
// the products here, so the gate pre-activations come from s/dgemm_small_nt on W_ih and W_hh as
// given (PyTorch's gate order), row by row of the step, and are then moved into the internal
// layout that the gate pass and the backward use. Single-threaded but for the products.
template <typename T>
void forward_small(const LstmForward& out, const Tensor& input, const Tensor& hx, const Tensor& cx,
                   const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                   const std::vector<int64_t>& bs, bool reverse) {
  const int64_t T_ = input.size(0), B = input.size(1), I = input.size(2), H = hx.size(1), G = 4 * H;
  const GateLayout L(H);
  T* gates = out.gates.data<T>();
  T* y = out.output.data<T>();
  T* cells = out.cells.data<T>();
  T* c_state = out.c_n.data<T>();
  std::copy(cx.data<T>(), cx.data<T>() + B * H, c_state);
  std::vector<T> hbuf(static_cast<size_t>(2 * B * H));
  std::copy(hx.data<T>(), hx.data<T>() + B * H, hbuf.begin());
  const std::vector<T> bias = summed_bias<T>(L, b_ih, b_hh);
  const int64_t rows = T_ * B, ldi = std::max<int64_t>(I, 1);
  std::vector<T> pre(static_cast<size_t>(rows * G));  // X W_ih^T, PyTorch's gate order
  gemm_small_nt(rows, G, I, T(1), input.data<T>(), ldi, w_ih.data<T>(), ldi, T(0), pre.data(), G);
  // Row r of src (PyTorch's order) into row r of dst (the internal layout, GateLayout).
  auto to_internal = [&](const T* src, T* dst) {
    for (int64_t b = 0; b < L.blocks; ++b) {
      const int64_t w = L.width(b), u = b * kUnits;
      for (int64_t q = 0; q < 4; ++q) std::copy(src + q * H + u, src + q * H + u + w, dst + b * 4 * kUnits + q * w);
    }
  };
  std::vector<T> step(static_cast<size_t>(B * G));
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    const int64_t n = bs.empty() ? B : bs[t];
    const T* hcur = hbuf.data() + (s & 1) * B * H;
    T* hnext = hbuf.data() + ((s + 1) & 1) * B * H;
    T* gt = gates + t * B * G;
    T* yt = y + t * B * H;
    T* ct = cells + t * B * H;
    const T* pt = pre.data() + t * B * G;
    std::copy(pt, pt + n * G, step.data());
    if (n > 0) gemm_small_nt(n, G, H, T(1), hcur, H, w_hh.data<T>(), H, T(1), step.data(), G);  // += h W_hh^T
    for (int64_t r = 0; r < B; ++r) to_internal(r < n ? step.data() + r * G : pt + r * G, gt + r * G);
    if (n > 0) gates_forward<T>(n, H, 0, L.blocks, bias.data(), gt, c_state, hnext, yt, ct);
    for (int64_t r = n; r < B; ++r) {  // inactive rows keep their state and output 0
      std::copy(hcur + r * H, hcur + (r + 1) * H, hnext + r * H);
      std::fill(yt + r * H, yt + (r + 1) * H, T(0));
      std::fill(ct + r * H, ct + (r + 1) * H, T(0));
    }
  }
  const T* hfin = hbuf.data() + (T_ & 1) * B * H;
  std::copy(hfin, hfin + B * H, out.h_n.data<T>());
}

template <typename T>
void forward_impl(const LstmForward& out, const Tensor& input, const Tensor& hx, const Tensor& cx,
                  const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                  const std::vector<int64_t>& bs, bool reverse) {
  const int64_t T_ = input.size(0), B = input.size(1), I = input.size(2), H = hx.size(1), G = 4 * H;
  if (T_ * B <= kSmallRows) return forward_small<T>(out, input, hx, cx, w_ih, w_hh, b_ih, b_hh, bs, reverse);
  const GateLayout L(H);
  T* gates = out.gates.data<T>();
  T* y = out.output.data<T>();
  T* cells = out.cells.data<T>();
  T* c_state = out.c_n.data<T>();
  std::copy(cx.data<T>(), cx.data<T>() + B * H, c_state);
  // h alternates between two buffers: a step reads all of one while the threads write their
  // units of the other.
  std::vector<T> hbuf(static_cast<size_t>(2 * B * H));
  std::copy(hx.data<T>(), hx.data<T>() + B * H, hbuf.begin());
  CpuScratch<T> wih(G * I), whh(G * H);
  permute_rows(L, w_ih.data<T>(), wih.data(), I, true);
  permute_rows(L, w_hh.data<T>(), whh.data(), H, true);
  const int64_t rows = T_ * B;
  // Gates = X W_ih^T: one GEMM for every step; the summed biases join in the gate pass.
  const std::vector<T> bias = summed_bias<T>(L, b_ih, b_hh);
  const int64_t ldi = std::max<int64_t>(I, 1);
  gemm(false, true, rows, G, I, input.data<T>(), ldi, wih.data(), ldi, T(0), gates, G);
  StepBarrier barrier;
  auto active = [&](int64_t s) { return bs.empty() ? B : bs[reverse ? T_ - 1 - s : s]; };
  PackedABuffers abufs(pack_b(true, H, 0, whh.data(), H), B);
  run_threads(loop_threads(B, H, L.blocks), [&](int tid, int nth) {
    int64_t b0, b1;
    my_blocks(L.blocks, tid, nth, &b0, &b1);
    const int64_t u0 = std::min(H, b0 * kUnits), u1 = std::min(H, b1 * kUnits), c0 = 4 * u0, c1 = 4 * u1;
    // This thread's columns of W_hh^T [H, 4H], packed once for every step.
    const PackedB pw = pack_b(true, H, c1 - c0, whh.data() + c0 * H, H);
    // Each thread packs its units (columns) of the h the next step multiplies.
    gemm_pack_a_cols(false, hbuf.data(), H, u0, u1, abufs.get(0, active(0)));
    barrier.wait(nth);
    for (int64_t s = 0; s < T_; ++s) {
      const int64_t t = reverse ? T_ - 1 - s : s;
      const int64_t n = active(s);
      const T* hcur = hbuf.data() + (s & 1) * B * H;
      T* hnext = hbuf.data() + ((s + 1) & 1) * B * H;
      T* gt = gates + t * B * G;
      T* yt = y + t * B * H;
      T* ct = cells + t * B * H;
      if (n > 0 && c1 > c0) {
        gemm_packed(abufs.get(s, n), pw, T(1), gt + c0, G);
        gates_forward<T>(n, H, b0, b1, bias.data(), gt, c_state, hnext, yt, ct);
      }
      for (int64_t r = n; r < B; ++r) {  // inactive rows keep their state and output 0
        std::copy(hcur + r * H + u0, hcur + r * H + u1, hnext + r * H + u0);
        std::fill(yt + r * H + u0, yt + r * H + u1, T(0));
        std::fill(ct + r * H + u0, ct + r * H + u1, T(0));
      }
      if (s + 1 < T_) gemm_pack_a_cols(false, hnext, H, u0, u1, abufs.get(s + 1, active(s + 1)));
      barrier.wait(nth);
    }
  });
  const T* hfin = hbuf.data() + (T_ & 1) * B * H;
  std::copy(hfin, hfin + B * H, out.h_n.data<T>());
}

template <typename T>
void backward_impl(const LstmGrads& gr, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& grad_c_n,
                   const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih, const Tensor& w_hh,
                   const Tensor& output, const Tensor& gates, const Tensor& cells, const std::vector<int64_t>& bs,
                   bool reverse, bool gates_scratch) {
  const int64_t T_ = input.size(0), B = input.size(1), I = input.size(2), H = hx.size(1), G = 4 * H;
  const GateLayout L(H);
  const int64_t rows = T_ * B;
  const DType dt = input.dtype();
  // dh_state / dc_state end as dhx / dcx: use the outputs' memory when they are asked for.
  Tensor dh_t = gr.grad_hx.defined() ? gr.grad_hx : Tensor::empty({B, H}, dt);
  Tensor dc_t = gr.grad_cx.defined() ? gr.grad_cx : Tensor::empty({B, H}, dt);
  T* dh_state = dh_t.data<T>();
  T* dc_state = dc_t.data<T>();
  if (grad_h_n.defined()) std::copy(grad_h_n.data<T>(), grad_h_n.data<T>() + B * H, dh_state);
  else std::fill(dh_state, dh_state + B * H, T(0));
  if (grad_c_n.defined()) std::copy(grad_c_n.data<T>(), grad_c_n.data<T>() + B * H, dc_state);
  else std::fill(dc_state, dc_state + B * H, T(0));
  CpuScratch<T> wih(G * I), whh(G * H);
  permute_rows(L, w_ih.data<T>(), wih.data(), I, true);
  permute_rows(L, w_hh.data<T>(), whh.data(), H, true);
  // The gate gradients: over the saved gates when the caller allows it (gates_backward reads each
  // element before it writes that element's gradient).
  const Tensor dg_t = gates_scratch ? gates : Tensor::empty({rows, G}, dt);
  T* dg = dg_t.data<T>();
  std::vector<double> db(static_cast<size_t>(G), 0.0);
  const T* g = gates.data<T>();
  const T* c = cells.data<T>();
  const T* dy = grad_output.defined() ? grad_output.data<T>() : nullptr;
  const T* c0 = cx.data<T>();
  const bool need_hx = gr.grad_hx.defined();
  auto active = [&](int64_t t) { return bs.empty() ? B : bs[t]; };
  StepBarrier barrier;
  PackedABuffers abufs(pack_b(false, G, 0, whh.data(), H), B);
  T* dx = gr.grad_input.defined() ? gr.grad_input.data<T>() : nullptr;
  run_threads(loop_threads(B, H, L.blocks), [&](int tid, int nth) {
    int64_t b0, b1;
    my_blocks(L.blocks, tid, nth, &b0, &b1);
    const int64_t u0 = std::min(H, b0 * kUnits), u1 = std::min(H, b1 * kUnits), c0_ = 4 * u0, c1_ = 4 * u1;
    // This thread's units (columns) of W_hh [4H, H], packed once for every step.
    const PackedB pw = pack_b(false, G, u1 - u0, whh.data() + u0, H);
    // dX[t] = dGates[t] W_ih from the same packed dGates[t] as dh, in whole 16-column slivers
    // per thread: dGates is then packed once for both products, while it is in cache.
    const int64_t xper = (I + nth - 1) / nth, xs = (xper + 15) / 16 * 16;
    const int64_t x0 = std::min(I, tid * xs), x1 = std::min(I, x0 + xs);
    const PackedB pwx = dx && x1 > x0 ? pack_b(false, G, x1 - x0, wih.data() + x0, I) : PackedB{};
    for (int64_t s = T_ - 1; s >= 0; --s) {  // s: position in the forward's processing order
      const int64_t t = reverse ? T_ - 1 - s : s;
      const int64_t tp = reverse ? t + 1 : t - 1;  // the step processed before t in the forward
      const int64_t n = active(t), n_prev = s > 0 ? active(tp) : 0;
      const int64_t off = t * B;
      T* dgt = dg + off * G;
      if (n > 0 && u1 > u0)
        gates_backward<T>(n, n_prev, H, b0, b1, g + off * G, c + off * H, s > 0 ? c + tp * B * H : nullptr, c0,
                          dh_state, dy ? dy + off * H : nullptr, dc_state, dgt, db.data());
      for (int64_t r = n; r < B; ++r) std::fill(dgt + r * G + c0_, dgt + r * G + c1_, T(0));
      const bool mult_h = n > 0 && (s > 0 || need_hx), mult = mult_h || (n > 0 && dx);
      if (mult) gemm_pack_a_cols(false, dgt, G, c0_, c1_, abufs.get(s, n));  // this thread's k range
      barrier.wait(nth);  // dGates[t] complete and packed: every thread's dh needs all its columns
      if (mult_h && u1 > u0) gemm_packed(abufs.get(s, n), pw, T(0), dh_state + u0, H);
      if (dx && x1 > x0) {  // dX = dGates W_ih (both in the internal gate order); rows past n are 0
        T* dxt = dx + off * I;
        if (n > 0) gemm_packed(abufs.get(s, n), pwx, T(0), dxt + x0, I);
        for (int64_t r = n; r < B; ++r) std::fill(dxt + r * I + x0, dxt + r * I + x1, T(0));
      }
    }
  });
  // dW_ih = dGates^T X and dW_hh = dGates^T H_prev as one GEMM over the columns [X | H_prev], so
  // that dGates^T, the large operand, is packed once. Row (t, r) of H_prev is the output of the
  // step processed before t, or hx for a row that starts at t (the rows past bs[t] have zero gate
  // gradients, so what they hold does not matter).
  const bool want_ih = gr.grad_w_ih.defined(), want_hh = gr.grad_w_hh.defined();
  if (want_ih || want_hh) {
    const int64_t xi = want_ih ? I : 0, ncols = xi + (want_hh ? H : 0);
    CpuScratch<T> xh(rows * ncols), dw(G * ncols);
    const T* x = input.data<T>();
    const T* yv = output.data<T>();
    const T* h0 = hx.data<T>();
    parallel_for(0, T_, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, B * ncols)), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t s = reverse ? T_ - 1 - t : t;
        const int64_t tp = reverse ? t + 1 : t - 1;
        const int64_t n_prev = s > 0 ? active(tp) : 0;
        for (int64_t r = 0; r < B; ++r) {
          T* o = xh.data() + (t * B + r) * ncols;
          if (want_ih) std::copy(x + (t * B + r) * I, x + (t * B + r + 1) * I, o);
          if (want_hh) {
            const T* h = r < n_prev ? yv + (tp * B + r) * H : h0 + r * H;
            std::copy(h, h + H, o + xi);
          }
        }
      }
    });
    gemm(true, false, G, ncols, rows, dg, G, xh.data(), std::max<int64_t>(ncols, 1), T(0), dw.data(),
         std::max<int64_t>(ncols, 1));
    if (want_ih) permute_rows(L, dw.data(), ncols, gr.grad_w_ih.data<T>(), I, I, false);
    if (want_hh) permute_rows(L, dw.data() + xi, ncols, gr.grad_w_hh.data<T>(), H, H, false);
  }
  if (gr.grad_bias.defined()) {
    std::vector<T> dbt(db.begin(), db.end());
    permute_rows(L, dbt.data(), gr.grad_bias.data<T>(), 1, false);
  }
}

}  // namespace

void lstm_forward(const LstmForward& out, const Tensor& input, const Tensor& hx, const Tensor& cx,
                  const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                  const std::vector<int64_t>& bs, bool reverse) {
  LAMINA_DISPATCH_FLOAT(input.dtype(), "lstm", [&](auto tag) {
    using T = decltype(tag);
    forward_impl<T>(out, input, hx, cx, w_ih, w_hh, b_ih, b_hh, bs, reverse);
  });
}

void lstm_backward(const LstmGrads& g, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& grad_c_n,
                   const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                   const Tensor& w_hh, const Tensor& output, const Tensor& gates, const Tensor& cells,
                   const std::vector<int64_t>& bs, bool reverse, bool gates_scratch) {
  LAMINA_DISPATCH_FLOAT(input.dtype(), "lstm", [&](auto tag) {
    using T = decltype(tag);
    backward_impl<T>(g, grad_output, grad_h_n, grad_c_n, input, hx, cx, w_ih, w_hh, output, gates, cells, bs,
                     reverse, gates_scratch);
  });
}

}  // namespace lamina::cpu
