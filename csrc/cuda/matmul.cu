// Batched matrix product on CUDA: out[b] = a[b] @ b[b] (ops/matmul.h), a simple tiled kernel.
// Correct for any strides (including 0 for broadcast batches); the fast SGEMM is a later issue.
//
// Shape letters: B batches, M rows of a and out, K the contracted dim, N columns of b and out.
//
// A block of 32 x 8 threads computes a 32 x 32 tile of out: thread (tx, ty) owns column tx and
// rows ty, ty + 8, ty + 16, ty + 24. The K dimension is walked in steps of 32, staging a 32 x 32
// tile of a and of b in shared memory (padded by one column against bank conflicts). Each output
// accumulates in the output type (float, double or int64) in increasing k, so results are
// deterministic.
#include <algorithm>

#include "cuda/loops.cuh"
#include "ops/matmul.h"

namespace lamina::cuda {
namespace {

constexpr int kTile = 32;
constexpr int kRowsPerThread = 4;
constexpr int kBlockY = kTile / kRowsPerThread;  // 8

struct BmmArgs {
  int64_t B, M, N, K;
  int64_t a_b, a_m, a_k;  // strides of a
  int64_t b_b, b_k, b_n;  // strides of b
};

template <typename T>
__global__ void bmm_kernel(T* __restrict__ out, const T* __restrict__ a, const T* __restrict__ b,
                           BmmArgs p) {
  __shared__ T as[kTile][kTile + 1];  // as[m][k]
  __shared__ T bs[kTile][kTile + 1];  // bs[k][n]
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kTile + tx;
  for (int64_t batch = blockIdx.z; batch < p.B; batch += gridDim.z) {
    const T* ab = a + batch * p.a_b;
    const T* bb = b + batch * p.b_b;
    for (int64_t row0 = static_cast<int64_t>(blockIdx.y) * kTile; row0 < p.M;
         row0 += static_cast<int64_t>(gridDim.y) * kTile) {
      T acc[kRowsPerThread];
#pragma unroll
      for (int r = 0; r < kRowsPerThread; ++r) acc[r] = T(0);
      for (int64_t k0 = 0; k0 < p.K; k0 += kTile) {
#pragma unroll
        for (int r = ty; r < kTile; r += kBlockY) {
          const int64_t m = row0 + r, ka = k0 + tx;
          as[r][tx] = (m < p.M && ka < p.K) ? ab[m * p.a_m + ka * p.a_k] : T(0);
          const int64_t kb = k0 + r;
          bs[r][tx] = (kb < p.K && col < p.N) ? bb[kb * p.b_k + col * p.b_n] : T(0);
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < kTile; ++kk) {
          const T bv = bs[kk][tx];
#pragma unroll
          for (int r = 0; r < kRowsPerThread; ++r) acc[r] += as[ty + r * kBlockY][kk] * bv;
        }
        __syncthreads();
      }
      if (col < p.N) {
#pragma unroll
        for (int r = 0; r < kRowsPerThread; ++r) {
          const int64_t m = row0 + ty + r * kBlockY;
          if (m < p.M) out[(batch * p.M + m) * p.N + col] = acc[r];
        }
      }
    }
  }
}

}  // namespace

void bmm(const Tensor& out, const Tensor& a, const Tensor& b) {
  const char* name = "matmul";
  if (out.numel() == 0) return;
  LAMINA_CHECK(out.dim() == 3 && a.dim() == 3 && b.dim() == 3, ValueError, name,
               "CUDA bmm expects 3-d operands, got ", out.sizes(), ", ", a.sizes(), ", ", b.sizes());
  const int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  LAMINA_CHECK(a.size(0) == B && a.size(1) == M && b.size(0) == B && b.size(1) == K &&
                   b.size(2) == N,
               ValueError, name, "CUDA bmm got out ", out.sizes(), ", a ", a.sizes(), ", b ",
               b.sizes());
  LAMINA_CHECK(out.is_contiguous(), ValueError, name, "CUDA bmm expects a contiguous output");
  LAMINA_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), TypeError, name,
               "CUDA bmm expects operands of dtype ", dtype_name(out.dtype()), ", got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  const int device = out.device().index;
  DeviceGuard guard(device);
  const BmmArgs p{B, M, N, K, a.stride(0), a.stride(1), a.stride(2),
                  b.stride(0), b.stride(1), b.stride(2)};
  const int64_t cap = 65535;
  const dim3 grid(static_cast<unsigned int>((N + kTile - 1) / kTile),
                  static_cast<unsigned int>(std::min<int64_t>((M + kTile - 1) / kTile, cap)),
                  static_cast<unsigned int>(std::min<int64_t>(B, cap)));
  LAMINA_CHECK((N + kTile - 1) / kTile <= int64_t(0x7fffffff), ValueError, name,
               "too many columns for the CUDA bmm kernel: ", N);
  const dim3 block(kTile, kBlockY);
  LAMINA_DISPATCH_NUMERIC(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    bmm_kernel<T><<<grid, block, 0, current_stream(device)>>>(out.data<T>(), a.data<T>(),
                                                                b.data<T>(), p);
    LAMINA_CUDA_LAUNCH_CHECK(name);
  });
}

}  // namespace lamina::cuda
