// The AVX2+FMA micro-kernels (this file alone is compiled with -mavx2 -mfma; see CMakeLists.txt).
// float: 6 x 16 tile, 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers; per
// step 2 loads of B, 6 broadcasts of A and 12 FMAs, which keeps both FMA pipes of a Haswell or
// Zen core busy (FMA latency 4-5 cycles x 2 pipes < 12 independent chains).
// double: 6 x 8 tile, the same shape in 4-lane registers.
#include "cpu/gemm/gemm_kernel_impl.h"

#if defined(__AVX2__) && defined(__FMA__)
namespace lamina::cpu::gemm {
namespace {
inline void pack_a_6(bool t, const float* x, int64_t ld, int64_t m, int64_t k, float* o) { pack_a_avx<6>(t, x, ld, m, k, o); }
inline void pack_b_16(bool t, const float* x, int64_t ld, int64_t n, int64_t k, float* o) { pack_b_avx<16>(t, x, ld, n, k, o); }
inline void pack_a_14(bool t, const float* x, int64_t ld, int64_t m, int64_t k, float* o) { pack_a_avx<14>(t, x, ld, m, k, o); }
inline void pack_b_32(bool t, const float* x, int64_t ld, int64_t n, int64_t k, float* o) { pack_b_avx<32>(t, x, ld, n, k, o); }
}  // namespace
}  // namespace lamina::cpu::gemm

LAMINA_GEMM_DEFINE_FAMILY(avx2, Avx2Float, 6, 2, pack_a_6, pack_b_16, Avx2Double, 6, 2)

// For tests only: the AVX-512 family's tiles (14 x 32 float, 14 x 16 double) and packers run with
// AVX2 registers (the accumulators spill, so it is slow), so that CPUs without AVX-512 check the
// tiling and packing that gemm_avx512.cpp uses. Never picked by detection.
LAMINA_GEMM_DEFINE_FAMILY(avx2_wide, Avx2Float, 14, 4, pack_a_14, pack_b_32, Avx2Double, 14, 4)
#endif
