// CPU kernels for ops/rnn.h (GRU and tanh/relu RNN over a sequence).
//
// Shape letters as in ops/rnn.h: T steps, B batch, I input, H hidden, G gates, GH = G * H.
//
// Forward
//   XW [T*B, GH] = X [T*B, I] W_ih^T + b_ih                  one GEMM for every step
//   per step t (active rows b < bt):
//     RNN: XW[t] += h W_hh^T (GEMM, beta 1); h' = act(XW[t] + b_hh)           fused pass
//     GRU: HW [bt, GH] = h W_hh^T (GEMM); r, z, n, h' from XW[t], HW, b_hh     fused pass
//          saving r, z, n and hn = W_hn h + b_hn in the workspace [T, B, 4H]
// Backward (steps in the opposite order; dh [B, H] starts as grad_h_n)
//   per step: g = dh + dy[t]; the fused pass writes the gate gradients for the input side
//   (DX [T*B, GH]) and the recurrent side (DH [T*B, GH]; the same buffer for the RNN), the
//   state's direct part into dh, and h_prev into HP [T*B, H]; then dh[:bt] += DH[t] W_hh (GEMM).
//   After the sequence: dX = DX W_ih, dW_ih = DX^T X, dW_hh = DH^T HP (one GEMM each), db = column
//   sums. Rows inactive at a step hold zeros in DX, DH and HP, so the GEMMs over all T*B rows are
//   exact.
// W_hh is packed for the GEMM once per call and reused at every step. The gate passes split the
// active rows across threads, use branch-free float32 exp/tanh (so they vectorise) and are
// compiled twice, plain and AVX2+FMA, picked at run time (cpu/isa.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/allocator.h"
#include "core/parallel.h"
#include "cpu/fast_math.h"
#include "cpu/gemm/gemm.h"
#include "cpu/isa.h"
#include "ops/dispatch.h"
#include "ops/rnn.h"


namespace lamina::cpu {
namespace {

bool use_avx2() { return cpu_has_avx2_fma(); }

template <typename T>
[[gnu::always_inline]] inline T vtanh(T x) {
  if constexpr (std::is_same_v<T, float>) return tanh_f32_rational(x);
  else return std::tanh(x);
}

// ---- the fused gate passes over rows [r0, r1) of one step (bias pointers never null) ----

// GRU forward: xg [*, 3H] holds W_i x + b_i, hg [*, 3H] holds W_h h; writes h, y and the
// workspace row (r, z, n, W_hn h + b_hn).
template <typename T>
[[gnu::always_inline]] inline void gru_forward_body(int64_t r0, int64_t r1, int64_t H, const T* xw, const T* hw,
                                                    const T* bhh, T* h, T* y, T* ws) {
  for (int64_t b = r0; b < r1; ++b) {
    const T* __restrict xg = xw + b * 3 * H;
    const T* __restrict hg = hw + b * 3 * H;
    T* __restrict hb = h + b * H;
    T* __restrict yb = y + b * H;
    T* __restrict wb = ws + b * 4 * H;
    // r and z first, then n and h: two loops with short dependency chains, which the core
    // overlaps across iterations (one loop holding sigmoid -> tanh per unit runs slower).
#pragma GCC ivdep
    for (int64_t j = 0; j < 2 * H; ++j) wb[j] = vsigmoid<T>(xg[j] + hg[j] + bhh[j]);  // r, z
#pragma GCC ivdep
    for (int64_t j = 0; j < H; ++j) {
      const T hn = hg[2 * H + j] + bhh[2 * H + j];
      const T r = wb[j], z = wb[H + j];
      const T n = vtanh<T>(xg[2 * H + j] + r * hn);
      const T hnew = (T(1) - z) * n + z * hb[j];
      wb[2 * H + j] = n;
      wb[3 * H + j] = hn;
      hb[j] = hnew;
      yb[j] = hnew;
    }
  }
}
LAMINA_COMPILE_TWICE(gru_forward, (int64_t r0, int64_t r1, int64_t H, const T* xw, const T* hw, const T* bhh, T* h,
                                   T* y, T* ws),
                     (r0, r1, H, xw, hw, bhh, h, y, ws))

// RNN forward: pre [*, H] holds W_i x + b_i + W_h h; writes h and y.
template <typename T>
[[gnu::always_inline]] inline void rnn_forward_pass_body(int64_t r0, int64_t r1, int64_t H, bool relu, const T* pre,
                                                    const T* bhh, T* h, T* y) {
  for (int64_t b = r0; b < r1; ++b) {
    const T* __restrict pb = pre + b * H;
    T* __restrict hb = h + b * H;
    T* __restrict yb = y + b * H;
    if (relu) {
      for (int64_t j = 0; j < H; ++j) {
        const T v = pb[j] + bhh[j];
        const T a = v > T(0) ? v : T(0);
        hb[j] = a;
        yb[j] = a;
      }
    } else {
      for (int64_t j = 0; j < H; ++j) {
        const T a = vtanh<T>(pb[j] + bhh[j]);
        hb[j] = a;
        yb[j] = a;
      }
    }
  }
}
LAMINA_COMPILE_TWICE(rnn_forward_pass, (int64_t r0, int64_t r1, int64_t H, bool relu, const T* pre, const T* bhh,
                                        T* h, T* y),
                     (r0, r1, H, relu, pre, bhh, h, y))

// GRU backward: g = dh + dy; writes the input-side (gx) and recurrent-side (gh) gate gradients
// and dh = g z (the state's direct path); copies h_prev into hp when hp is not null.
template <typename T>
[[gnu::always_inline]] inline void gru_backward_pass_body(int64_t r0, int64_t r1, int64_t H, int64_t bprev,
                                                     const T* yprev, const T* h0, const T* dy, const T* ws,
                                                     T* dh, T* gxw, T* ghw, T* hp) {
  for (int64_t b = r0; b < r1; ++b) {
    const T* __restrict hprev = b < bprev ? yprev + b * H : h0 + b * H;
    const T* __restrict dyb = dy + b * H;
    const T* __restrict wb = ws + b * 4 * H;
    T* __restrict dhb = dh + b * H;
    T* __restrict gx = gxw + b * 3 * H;
    T* __restrict gh = ghw + b * 3 * H;
    if (hp) std::copy(hprev, hprev + H, hp + b * H);
#pragma GCC ivdep
    for (int64_t j = 0; j < H; ++j) {
      const T g = dhb[j] + dyb[j];
      const T r = wb[j], z = wb[H + j], n = wb[2 * H + j], hn = wb[3 * H + j];
      const T dnp = g * (T(1) - z) * (T(1) - n * n);
      const T dzp = g * (hprev[j] - n) * z * (T(1) - z);
      const T drp = dnp * hn * r * (T(1) - r);
      gx[j] = drp;
      gx[H + j] = dzp;
      gx[2 * H + j] = dnp;
      gh[j] = drp;
      gh[H + j] = dzp;
      gh[2 * H + j] = dnp * r;
      dhb[j] = g * z;
    }
  }
}
LAMINA_COMPILE_TWICE(gru_backward_pass, (int64_t r0, int64_t r1, int64_t H, int64_t bprev, const T* yprev,
                                         const T* h0, const T* dy, const T* ws, T* dh, T* gxw, T* ghw, T* hp),
                     (r0, r1, H, bprev, yprev, h0, dy, ws, dh, gxw, ghw, hp))

// RNN backward: the pre-activation gradient g act'(y) into gx, dh = 0 (the recurrent GEMM adds
// the rest); copies h_prev into hp when hp is not null.
template <typename T>
[[gnu::always_inline]] inline void rnn_backward_pass_body(int64_t r0, int64_t r1, int64_t H, bool relu, int64_t bprev,
                                                     const T* yprev, const T* h0, const T* y, const T* dy, T* dh,
                                                     T* gxw, T* hp) {
  for (int64_t b = r0; b < r1; ++b) {
    const T* __restrict hprev = b < bprev ? yprev + b * H : h0 + b * H;
    const T* __restrict yb = y + b * H;
    const T* __restrict dyb = dy + b * H;
    T* __restrict dhb = dh + b * H;
    T* __restrict gx = gxw + b * H;
    if (hp) std::copy(hprev, hprev + H, hp + b * H);
    for (int64_t j = 0; j < H; ++j) {
      const T g = dhb[j] + dyb[j];
      const T a = yb[j];
      gx[j] = relu ? (a > T(0) ? g : T(0)) : g * (T(1) - a * a);
      dhb[j] = T(0);
    }
  }
}
LAMINA_COMPILE_TWICE(rnn_backward_pass, (int64_t r0, int64_t r1, int64_t H, bool relu, int64_t bprev, const T* yprev,
                                         const T* h0, const T* y, const T* dy, T* dh, T* gxw, T* hp),
                     (r0, r1, H, relu, bprev, yprev, h0, y, dy, dh, gxw, hp))

PackedB pack_b(bool tb, int64_t K, int64_t N, const float* B, int64_t ldb) { return sgemm_pack_b(tb, K, N, B, ldb); }
PackedB pack_b(bool tb, int64_t K, int64_t N, const double* B, int64_t ldb) { return dgemm_pack_b(tb, K, N, B, ldb); }
void gemm_packed(int64_t M, const float* A, int64_t lda, const PackedB& B, float beta, float* C, int64_t ldc) {
  if (M > 0) sgemm_packed_b(false, M, 1.0f, A, lda, B, beta, C, ldc);
}
void gemm_packed(int64_t M, const double* A, int64_t lda, const PackedB& B, double beta, double* C, int64_t ldc) {
  if (M > 0) dgemm_packed_b(false, M, 1.0, A, lda, B, beta, C, ldc);
}

// Up to this many rows in all (T * B: sampling one step at a time), the forward multiplies
// straight from W_ih and W_hh (gemm.h s/dgemm_small_nt) instead of packing W_hh, which would cost
// more than the products.
constexpr int64_t kSmallRows = 8;

void gemm_raw(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
void gemm_raw(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
              const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// C = op(A) op(B) + beta C, with empty sizes handled here (an empty sum is zero).
template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == T(0))
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
    return;
  }
  gemm_raw(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

// Rows per parallel chunk for a pass of `width` elements per row.
int64_t row_grain(int64_t width) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)); }

// out[j] = sum_i m[i * n + j] for a rows x n matrix, accumulated in double.
template <typename T>
void column_sums(const T* m, int64_t rows, int64_t n, T* out) {
  parallel_for(0, n, std::max<int64_t>(16, 65536 / std::max<int64_t>(rows, 1)), [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(e - b), 0.0);
    for (int64_t i = 0; i < rows; ++i) {
      const T* row = m + i * n + b;
      for (int64_t j = 0; j < e - b; ++j) acc[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = b; j < e; ++j) out[j] = static_cast<T>(acc[j - b]);
  });
}

template <typename T>
void forward_impl(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                  const Tensor& b_ih, const Tensor& b_hh, const std::vector<int64_t>& bs, bool reverse,
                  const Tensor& output, const Tensor& h_n, const Tensor& workspace) {
  const int64_t T_ = input.size(0), B = input.size(1), I = input.size(2), H = hx.size(1);
  const int64_t G = rnn_gates(mode), GH = G * H;
  const T* x = input.data<T>();
  const T* wih = w_ih.data<T>();
  const T* whh = w_hh.data<T>();
  const T* bih = b_ih.defined() ? b_ih.data<T>() : nullptr;
  const T* bhh = b_hh.defined() ? b_hh.data<T>() : nullptr;
  T* y = output.data<T>();
  T* h = h_n.data<T>();
  std::copy(hx.data<T>(), hx.data<T>() + B * H, h);
  if (T_ == 0 || B == 0) return;

  // XW = X W_ih^T + b_ih over all steps.
  CpuScratch<T> xw(T_ * B * GH);
  if (bih) {
    parallel_for(0, T_ * B, row_grain(GH), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) std::copy(bih, bih + GH, xw.data() + r * GH);
    });
  } else if (I == 0) {
    std::fill(xw.data(), xw.data() + T_ * B * GH, T(0));
  }
  const bool small = T_ * B <= kSmallRows;
  if (small && I > 0)
    gemm_small_nt(T_ * B, GH, I, T(1), x, I, wih, I, bih ? T(1) : T(0), xw.data(), GH);
  else
    gemm<T>(false, true, T_ * B, GH, I, x, I, wih, I, bih ? T(1) : T(0), xw.data(), GH);

  std::vector<T> zeros(bhh ? 0 : static_cast<size_t>(GH), T(0));
  const T* bh = bhh ? bhh : zeros.data();
  // op(B) = W_hh^T [H, GH], packed once (or read in place for few rows)
  const PackedB wp = small ? PackedB{} : pack_b(true, H, GH, whh, H);
  auto recur = [&](int64_t bt, T beta, T* out) {  // out[:bt] = h[:bt] W_hh^T + beta out
    if (small) gemm_small_nt(bt, GH, H, T(1), h, H, whh, H, beta, out, GH);
    else gemm_packed(bt, h, H, wp, beta, out, GH);
  };
  std::vector<T> hw(mode == RnnMode::Gru ? static_cast<size_t>(B * GH) : 0);
  T* ws = workspace.defined() ? workspace.data<T>() : nullptr;
  const bool relu = mode == RnnMode::Relu;
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    const int64_t bt = bs[t];
    T* yt = y + t * B * H;
    if (bt < B) std::fill(yt + bt * H, yt + B * H, T(0));
    if (mode == RnnMode::Gru && bt < B) std::fill(ws + (t * B + bt) * 4 * H, ws + (t + 1) * B * 4 * H, T(0));
    if (bt == 0) continue;
    T* xwt = xw.data() + t * B * GH;
    if (mode != RnnMode::Gru) {
      recur(bt, T(1), xwt);  // XW[t] += h W_hh^T
      parallel_for(0, bt, row_grain(H), [&](int64_t r0, int64_t r1) {
        rnn_forward_pass<T>(r0, r1, H, relu, xwt, bh, h, yt);
      });
      continue;
    }
    recur(bt, T(0), hw.data());  // HW = h W_hh^T
    T* wst = ws + t * B * 4 * H;
    parallel_for(0, bt, row_grain(4 * H), [&](int64_t r0, int64_t r1) {
      gru_forward<T>(r0, r1, H, xwt, hw.data(), bh, h, yt, wst);
    });
  }
}

template <typename T>
void backward_impl(RnnMode mode, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& input,
                   const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                   const Tensor& workspace, const std::vector<int64_t>& bs, bool reverse,
                   const Tensor& grad_input, const Tensor& grad_hx, const Tensor& grad_w_ih,
                   const Tensor& grad_w_hh, const Tensor& grad_b_ih, const Tensor& grad_b_hh) {
  const int64_t T_ = input.size(0), B = input.size(1), I = input.size(2), H = hx.size(1);
  const int64_t G = rnn_gates(mode), GH = G * H;
  const bool gru = mode == RnnMode::Gru;
  const bool need_w = grad_w_ih.defined() || grad_w_hh.defined();
  const T* x = input.data<T>();
  const T* h0 = hx.data<T>();
  const T* y = output.data<T>();
  const T* dy = grad_output.data<T>();
  const T* ws = gru ? workspace.data<T>() : nullptr;

  std::vector<T> dh(grad_h_n.data<T>(), grad_h_n.data<T>() + B * H);
  const size_t n_gates = static_cast<size_t>(T_ * B * GH);
  // Zeroed: rows past a step's batch size are never written and must add nothing.
  CpuScratch<T> dgx(static_cast<int64_t>(n_gates)), dgh_store(gru ? static_cast<int64_t>(n_gates) : 0);
  CpuScratch<T> hp(need_w ? T_ * B * H : 0);
  std::fill(dgx.data(), dgx.data() + n_gates, T(0));
  if (gru) std::fill(dgh_store.data(), dgh_store.data() + n_gates, T(0));
  if (need_w) std::fill(hp.data(), hp.data() + T_ * B * H, T(0));
  T* dgh = gru ? dgh_store.data() : dgx.data();

  const PackedB wp = pack_b(false, GH, H, w_hh.data<T>(), H);  // op(B) = W_hh [GH, H], packed once
  const bool relu = mode == RnnMode::Relu;
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    const int64_t bt = bs[t];
    if (bt == 0) continue;
    // The step processed just before t in forward order, if any: its output is h_prev for the
    // rows active at both steps; other rows start from hx.
    const int64_t tp = s == 0 ? -1 : (reverse ? t + 1 : t - 1);
    const int64_t bprev = tp < 0 ? 0 : bs[tp];
    const T* yprev = tp < 0 ? h0 : y + tp * B * H;
    const T* dyt = dy + t * B * H;
    T* gxt = dgx.data() + t * B * GH;
    T* hpt = need_w ? hp.data() + t * B * H : nullptr;
    parallel_for(0, bt, row_grain(4 * H), [&](int64_t r0, int64_t r1) {
      if (gru) {
        gru_backward_pass<T>(r0, r1, H, bprev, yprev, h0, dyt, ws + t * B * 4 * H, dh.data(), gxt, dgh + t * B * GH,
                             hpt);
      } else {
        rnn_backward_pass<T>(r0, r1, H, relu, bprev, yprev, h0, y + t * B * H, dyt, dh.data(), gxt, hpt);
      }
    });
    gemm_packed(bt, dgh + t * B * GH, GH, wp, T(1), dh.data(), H);  // dh[:bt] += DH[t] W_hh
  }

  if (grad_hx.defined()) std::copy(dh.begin(), dh.end(), grad_hx.data<T>());
  const int64_t R = T_ * B;
  if (grad_input.defined()) gemm<T>(false, false, R, I, GH, dgx.data(), GH, w_ih.data<T>(), I, T(0), grad_input.data<T>(), I);
  if (grad_w_ih.defined()) gemm<T>(true, false, GH, I, R, dgx.data(), GH, x, I, T(0), grad_w_ih.data<T>(), I);
  if (grad_w_hh.defined()) gemm<T>(true, false, GH, H, R, dgh, GH, hp.data(), H, T(0), grad_w_hh.data<T>(), H);
  if (grad_b_ih.defined()) column_sums<T>(dgx.data(), R, GH, grad_b_ih.data<T>());
  if (grad_b_hh.defined()) column_sums<T>(dgh, R, GH, grad_b_hh.data<T>());
}

}  // namespace

void rnn_forward(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                 const Tensor& b_ih, const Tensor& b_hh, const std::vector<int64_t>& batch_sizes,
                 bool reverse, const Tensor& output, const Tensor& h_n, const Tensor& workspace) {
  LAMINA_DISPATCH_FLOAT(input.dtype(), rnn_mode_name(mode), [&](auto tag) {
    using T = decltype(tag);
    forward_impl<T>(mode, input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse, output, h_n, workspace);
  });
}

void rnn_backward(RnnMode mode, const Tensor& grad_output, const Tensor& grad_h_n, const Tensor& input,
                  const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                  const Tensor& workspace, const std::vector<int64_t>& batch_sizes, bool reverse,
                  const Tensor& grad_input, const Tensor& grad_hx, const Tensor& grad_w_ih,
                  const Tensor& grad_w_hh, const Tensor& grad_b_ih, const Tensor& grad_b_hh) {
  LAMINA_DISPATCH_FLOAT(input.dtype(), rnn_mode_name(mode), [&](auto tag) {
    using T = decltype(tag);
    backward_impl<T>(mode, grad_output, grad_h_n, input, hx, w_ih, w_hh, output, workspace, batch_sizes,
                     reverse, grad_input, grad_hx, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh);
  });
}

}  // namespace lamina::cpu
