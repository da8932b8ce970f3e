// CPU kernel for ops/rbm.h: one CD-k / PCD-k update in a single call. Four (CD-1) GEMMs carry the
// work: the up pass, the down pass, the second up pass, and one weight-gradient GEMM over the
// stacked batch ([h0 / N; -hk / M]^T [v0; vk], K = N + M) accumulated into the velocity (W is
// packed once per step for the down passes and, for large batches, once for the up passes, which
// small batches read from W in place). The
// bias add, the sigmoid and the Bernoulli/Gaussian sampling run as one pass over each GEMM's
// output. Element i of a draw is element i of lamina.rand / lamina.randn at the draw's offset
// (core/rng.h), so the result does not depend on the thread count.
#include "cpu/fast_math.h"  // first: see its note on -fno-trapping-math

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/gemm/gemm.h"
#include "cpu/isa.h"
#include "ops/rbm.h"

namespace lamina::cpu {
namespace {

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

PackedB pack_b(bool tb, int64_t K, int64_t N, const float* B, int64_t ldb) { return sgemm_pack_b(tb, K, N, B, ldb); }
PackedB pack_b(bool tb, int64_t K, int64_t N, const double* B, int64_t ldb) { return dgemm_pack_b(tb, K, N, B, ldb); }
// C (M x ?) = A (M x K) * packed B, overwriting C.
void packed_gemm(int64_t M, const float* A, int64_t lda, const PackedB& B, float* C, int64_t ldc) {
  sgemm_packed_b(false, M, 1.0f, A, lda, B, 0.0f, C, ldc);
}
void packed_gemm(int64_t M, const double* A, int64_t lda, const PackedB& B, double* C, int64_t ldc) {
  dgemm_packed_b(false, M, 1.0, A, lda, B, 0.0, C, ldc);
}

// Up to this many rows per up pass, A W^T reads W unpacked (gemm.h s/dgemm_small_nt). Measured on
// a Zen 3 core with 784 x 500 weights: unpacked wins up to about 40 rows (at 10 rows an up pass
// takes 117 us against 163 us packed), packing once for both up passes wins from about 50.
constexpr int64_t kSmallRows = 32;

// The up pass (C = A W^T) and the down pass (C = A W) of `rows` rows. W is packed once per step
// for the down passes (a copy row by row) and, for many rows, for the up passes (a transpose);
// few rows read W^T in place, where packing it would cost as much as the products.
template <typename T>
struct Passes {
  const T* W;
  int64_t H, V;
  bool small;
  PackedB up, down;
  Passes(const T* w, int64_t h, int64_t v, int64_t max_rows) : W(w), H(h), V(v), small(max_rows <= kSmallRows) {
    if (!small) up = pack_b(true, V, H, W, V);
    down = pack_b(false, H, V, W, V);
  }
  void up_pass(int64_t rows, const T* A, T* C) const {
    if (small) gemm_small_nt(rows, H, V, T(1), A, V, W, V, T(0), C, H);
    else packed_gemm(rows, A, V, up, C, H);
  }
  void down_pass(int64_t rows, const T* A, T* C) const { packed_gemm(rows, A, H, down, C, V); }
};

// Rows per thread worth a fork: about 16k elements of a plain pass, 2k of a sigmoid and a draw
// (a Philox block per four elements costs some 5 ns per element).
int64_t row_grain(int64_t cols, int64_t elems = 16384) { return std::max<int64_t>(1, elems / std::max<int64_t>(cols, 1)); }

// Row r of a draw (cols elements starting at flat index r * cols): Bernoulli samples u < mean,
// or mean + N(0, 1) for Gaussian units. `out` may alias `mean`. Draws generate their Philox
// blocks a chunk at a time (core/rng.h for_each_draw), which vectorises in the AVX2 build
// of activate_rows.
template <typename T>
[[gnu::always_inline]] inline void sample_row(const T* mean, T* out, int64_t r, int64_t cols, bool gaussian,
                                              uint64_t seed, uint64_t off) {
  const uint64_t i0 = static_cast<uint64_t>(r) * static_cast<uint64_t>(cols);
  const uint64_t i1 = i0 + static_cast<uint64_t>(cols);
  if (gaussian) {
    for_each_draw<4>(seed, off, i0, i1, [&](int64_t i, const uint32_t* u) {
      const int64_t c = i - static_cast<int64_t>(i0);
      out[c] = mean[c] + static_cast<T>(box_muller_f64(u[0], u[1], u[2], u[3]));
    });
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    for_each_draw<1>(seed, off, i0, i1, [&](int64_t i, const uint32_t* u) {
      const int64_t c = i - static_cast<int64_t>(i0);
      out[c] = uniform_float(u[0]) < mean[c] ? 1.0f : 0.0f;
    });
  } else {
    for_each_draw<2>(seed, off, i0, i1, [&](int64_t i, const uint32_t* u) {
      const int64_t c = i - static_cast<int64_t>(i0);
      out[c] = uniform_double(u[0], u[1]) < mean[c] ? 1.0 : 0.0;
    });
  }
}

// Rows [r0, r1) of activate below; compiled plain and for AVX2+FMA (cpu/isa.h).
template <typename T>
[[gnu::always_inline]] inline void activate_rows_body(T* x, int64_t r0, int64_t r1, int64_t cols, const T* bias,
                                                      bool gaussian, T* sample, uint64_t seed, uint64_t off) {
  for (int64_t r = r0; r < r1; ++r) {
    T* row = x + r * cols;
    if (gaussian) {
      for (int64_t j = 0; j < cols; ++j) row[j] += bias[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] = vsigmoid<T>(row[j] + bias[j]);
    }
    if (sample) sample_row<T>(row, sample + r * cols, r, cols, gaussian, seed, off);
  }
}

std::atomic<bool> g_force_portable{false};
bool use_avx2() { return cpu_has_avx2_fma() && !g_force_portable.load(std::memory_order_relaxed); }

LAMINA_COMPILE_TWICE(activate_rows,
                     (T * x, int64_t r0, int64_t r1, int64_t cols, const T* bias, bool gaussian, T* sample,
                      uint64_t seed, uint64_t off),
                     (x, r0, r1, cols, bias, gaussian, sample, seed, off))

// x (rows, cols) = act(x + bias) in place; with `sample`, also a draw from the units' distribution
// (sample may alias x). One pass over the GEMM output.
template <typename T>
void activate(T* x, int64_t rows, int64_t cols, const T* bias, bool gaussian, T* sample, uint64_t seed,
              uint64_t off) {
  parallel_for(0, rows, row_grain(cols, sample ? 2048 : 4096), [&](int64_t r0, int64_t r1) {
    activate_rows<T>(x, r0, r1, cols, bias, gaussian, sample, seed, off);
  });
}

// sum((a - b)^2) over rows x cols, summed per row in double, rows added in order (deterministic).
template <typename T>
double squared_error(const T* a, const T* b, int64_t rows, int64_t cols) {
  std::vector<double> per_row(static_cast<size_t>(rows));
  parallel_for(0, rows, row_grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) {
        const double d = static_cast<double>(a[r * cols + j]) - static_cast<double>(b[r * cols + j]);
        s += d * d;
      }
      per_row[static_cast<size_t>(r)] = s;
    }
  });
  double s = 0;
  for (double x : per_row) s += x;
  return s;
}

// vel = momentum * vel + lr * (mean of x rows [0, n) - mean of x rows [n, n + m)); param += vel.
template <typename T>
void bias_update(const T* x, int64_t n, int64_t m, int64_t cols, T* vel, T* param, double lr, double momentum) {
  parallel_for(0, cols, 256, [&](int64_t c0, int64_t c1) {
    std::vector<double> pos(static_cast<size_t>(c1 - c0), 0.0), neg(static_cast<size_t>(c1 - c0), 0.0);
    for (int64_t r = 0; r < n + m; ++r) {
      const T* row = x + r * cols;
      double* acc = (r < n ? pos : neg).data();
      for (int64_t j = c0; j < c1; ++j) acc[j - c0] += static_cast<double>(row[j]);
    }
    for (int64_t j = c0; j < c1; ++j) {
      const T g = static_cast<T>(pos[j - c0] / static_cast<double>(n)) - static_cast<T>(neg[j - c0] / static_cast<double>(m));
      vel[j] = vel[j] * static_cast<T>(momentum) + g * static_cast<T>(lr);
      param[j] += vel[j];
    }
  });
}

template <typename T>
double cd_step(const Tensor& v, const Tensor& chain, const Tensor& weight, const Tensor& h_bias, const Tensor& v_bias,
               const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb, const RbmStep& p, uint64_t seed,
               const std::vector<uint64_t>& offsets) {
  const bool persistent = chain.defined();
  const int64_t N = v.sizes()[0], V = weight.sizes()[1], H = weight.sizes()[0];
  const int64_t M = persistent ? chain.sizes()[0] : N, R = N + M;
  const T* W = weight.data<T>();
  const T* hb = h_bias.data<T>();
  const T* vb = v_bias.data<T>();
  const T* v0 = v.data<T>();
  const Device cpu_device;
  Tensor a_buf = Tensor::empty({R, H}, weight.dtype(), cpu_device);  // [h0; hk]
  Tensor b_buf = Tensor::empty({R, V}, weight.dtype(), cpu_device);  // [v0; vk]
  Tensor s_buf = Tensor::empty({M, H}, weight.dtype(), cpu_device);  // sampled hidden states
  T* A = a_buf.data<T>();
  T* B = b_buf.data<T>();
  T* S = s_buf.data<T>();
  T* hk = A + N * H;
  T* vk = B + N * V;
  std::memcpy(B, v0, sizeof(T) * static_cast<size_t>(N * V));
  size_t draw = 0;

  // For many rows W is packed twice per step, once as W^T for every up pass and once as W for every
  // down pass (the same micro-kernels and summation order as sgemm, without packing it per product).
  const Passes<T> w(W, H, V, std::max(N, M));

  // Positive phase h0 = E[h | v0]; CD samples the chain's first hidden states from it.
  w.up_pass(N, v0, A);
  activate<T>(A, N, H, hb, p.gaussian_hidden, persistent ? nullptr : S, seed, persistent ? 0 : offsets[draw]);
  if (persistent) {
    w.up_pass(M, chain.data<T>(), hk);
    activate<T>(hk, M, H, hb, p.gaussian_hidden, S, seed, offsets[draw]);
  }
  ++draw;
  double err = 0;
  for (int64_t s = 0; s < p.k; ++s) {
    w.down_pass(M, S, vk);
    if (persistent) activate<T>(vk, M, V, vb, p.gaussian_visible, vk, seed, offsets[draw++]);
    else activate<T>(vk, M, V, vb, p.gaussian_visible, nullptr, seed, 0);
    if (!persistent && s == 0) err = squared_error<T>(v0, vk, N, V) / static_cast<double>(N);
    w.up_pass(M, vk, hk);
    const bool last = s + 1 == p.k;
    activate<T>(hk, M, H, hb, p.gaussian_hidden, last ? nullptr : S, seed, last ? 0 : offsets[draw]);
    if (!last) ++draw;
  }
  if (persistent) {
    Tensor recon = Tensor::empty({N, V}, weight.dtype(), cpu_device);  // E[v | h0]
    T* rv = recon.data<T>();
    w.down_pass(N, A, rv);
    activate<T>(rv, N, V, vb, p.gaussian_visible, nullptr, seed, 0);
    err = squared_error<T>(v0, rv, N, V) / static_cast<double>(N);
    std::memcpy(chain.data<T>(), vk, sizeof(T) * static_cast<size_t>(M * V));
  }

  bias_update<T>(A, N, M, H, vel_hb.data<T>(), h_bias.data<T>(), p.lr, p.momentum);
  bias_update<T>(B, N, M, V, vel_vb.data<T>(), v_bias.data<T>(), p.lr, p.momentum);

  // Weight: vel = momentum * vel + lr * [h0 / N; -hk / M]^T [v0; vk] (one GEMM, beta = momentum),
  // then vel -= lr * wd * W and W += vel in one pass.
  const T inv_n = T(1) / static_cast<T>(N), neg_inv_m = T(-1) / static_cast<T>(M);
  parallel_for(0, R, row_grain(H), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T sc = r < N ? inv_n : neg_inv_m;
      for (int64_t j = 0; j < H; ++j) A[r * H + j] *= sc;
    }
  });
  T* vw = vel_w.data<T>();
  T* Wm = weight.data<T>();
  gemm<T>(true, false, H, V, R, static_cast<T>(p.lr), A, H, B, V, static_cast<T>(p.momentum), vw, V);
  const T decay = static_cast<T>(p.lr * p.weight_decay);
  parallel_for(0, H * V, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T u = vw[i] - decay * Wm[i];
      vw[i] = u;
      Wm[i] += u;
    }
  });
  return err;
}

}  // namespace

void rbm_force_portable(bool on) { g_force_portable.store(on); }

double rbm_cd_step(const Tensor& v, const Tensor& chain, const Tensor& weight, const Tensor& h_bias,
                   const Tensor& v_bias, const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb,
                   const RbmStep& p, uint64_t seed, const std::vector<uint64_t>& offsets) {
  return LAMINA_DISPATCH_FLOAT(weight.dtype(), "rbm_cd_step", [&](auto tag) {
    using T = decltype(tag);
    return cd_step<T>(v, chain, weight, h_bias, v_bias, vel_w, vel_hb, vel_vb, p, seed, offsets);
  });
}

}  // namespace lamina::cpu
