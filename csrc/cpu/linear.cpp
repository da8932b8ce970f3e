// CPU kernels for ops/linear.h. Both passes are GEMM calls (the packed GEMM reads transposed
// operands in place); the bias is written into the output first and the GEMM accumulates onto
// it (beta = 1), so forward makes one extra pass over y and no temporary.
//
// Shapes: M rows (the flattened leading dims of x), K in_features, N out_features.
//   forward:   y[M, N]  = b + x[M, K] W[N, K]^T
//   backward:  dx[M, K] = dy[M, N] W[N, K]
//              dW[N, K] = dy[M, N]^T x[M, K]
//              db[N]    = sum over the M rows of dy
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/linear.h"

namespace lamina::cpu {
namespace {

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// Batches up to this many rows multiply x W^T straight from W (gemm.h s/dgemm_small_nt) instead of
// transposing all of W into packed panels for a few rows. On a Zen 3 core pair, a forward call
// (from Python) of Linear(784, 512) at batch 1 drops from 70 to 52 us (W is read once, at memory
// speed), Linear(256, 1024) from 47 to 24 us; by batch 16 the packed product is as fast.
constexpr int64_t kSmallBatch = 8;

// out[j] = sum_i g(i, j), accumulated in double; threads split the columns.
template <typename T>
void column_sums(const MatrixArg& g, int64_t M, int64_t N, T* out) {
  const T* p = g.t.data<T>();
  const int64_t ld = g.ld;
  parallel_for(0, N, std::max<int64_t>(16, 65536 / std::max<int64_t>(M, 1)), [&](int64_t b, int64_t e) {
    if (g.trans) {  // (i, j) at j * ld + i: each column is contiguous
      for (int64_t j = b; j < e; ++j) {
        const T* col = p + j * ld;
        double acc = 0.0;
        for (int64_t i = 0; i < M; ++i) acc += static_cast<double>(col[i]);
        out[j] = static_cast<T>(acc);
      }
      return;
    }
    std::vector<double> acc(static_cast<size_t>(e - b), 0.0);
    for (int64_t i = 0; i < M; ++i) {
      const T* row = p + i * ld + b;
      for (int64_t j = 0; j < e - b; ++j) acc[j] += static_cast<double>(row[j]);
    }
    for (int64_t j = b; j < e; ++j) out[j] = static_cast<T>(acc[j - b]);
  });
}

}  // namespace

void linear_forward(const Tensor& out, const MatrixArg& x, const MatrixArg& w, const Tensor& bias,
                    int64_t M, int64_t N, int64_t K) {
  LAMINA_DISPATCH_FLOAT(out.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    T beta = T(0);
    if (bias.defined()) {
      const T* b = bias.data<T>();
      const int64_t bs = bias.stride(0);
      parallel_for(0, M, std::max<int64_t>(1, 32768 / std::max<int64_t>(N, 1)), [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
          T* row = y + i * N;
          if (bs == 1) {
            std::copy(b, b + N, row);
          } else {
            for (int64_t j = 0; j < N; ++j) row[j] = b[j * bs];
          }
        }
      });
      beta = T(1);
    }
    // op(A) = x [M, K]; op(B) = W^T [K, N]: W stored row-major [N, K] is read transposed.
    if (M <= kSmallBatch && !x.trans && !w.trans)
      gemm_small_nt(M, N, K, T(1), x.t.data<T>(), x.ld, w.t.data<T>(), w.ld, beta, y, N);
    else
      gemm(x.trans, !w.trans, M, N, K, x.t.data<T>(), x.ld, w.t.data<T>(), w.ld, beta, y, N);
  });
}

void linear_backward(const Tensor& grad_input, const Tensor& grad_weight, const Tensor& grad_bias,
                     const MatrixArg& g, const MatrixArg& x, const MatrixArg& w, int64_t M, int64_t N,
                     int64_t K) {
  const DType dt = grad_input.defined() ? grad_input.dtype()
                   : grad_weight.defined() ? grad_weight.dtype()
                                           : grad_bias.defined() ? grad_bias.dtype() : DType::Float32;
  LAMINA_DISPATCH_FLOAT(dt, "linear", [&](auto tag) {
    using T = decltype(tag);
    const T* pg = g.t.data<T>();
    if (grad_input.defined()) {  // dx [M, K] = dy [M, N] W [N, K]
      gemm(g.trans, w.trans, M, K, N, pg, g.ld, w.t.data<T>(), w.ld, T(0), grad_input.data<T>(), K);
    }
    if (grad_weight.defined()) {  // dW [N, K] = dy^T [N, M] x [M, K]
      gemm(!g.trans, x.trans, N, K, M, pg, g.ld, x.t.data<T>(), x.ld, T(0), grad_weight.data<T>(), K);
    }
    if (grad_bias.defined()) column_sums<T>(g, M, N, grad_bias.data<T>());
  });
}

}  // namespace lamina::cpu
