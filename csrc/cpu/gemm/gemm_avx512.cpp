// The AVX-512 micro-kernels (this file alone is compiled with -mavx512f; see CMakeLists.txt).
// float: 14 x 32 tile, 28 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers.
// double: 14 x 16. The kernel is the same template as the AVX2 family's (gemm_kernel_impl.h),
// only the register type differs; packing uses the AVX2 packers with the wider tile. CPUs without
// AVX-512 still test these tiles, packers and blocks: gemm_avx2.cpp builds the same family with
// AVX2 registers ("avx512-layout-on-avx2", for tests only), so only the traits below go untested
// there.
#include "cpu/gemm/gemm_kernel_impl.h"

#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
namespace lamina::cpu::gemm {
namespace {

struct Avx512Float {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_load_ps(p); }
  static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};

struct Avx512Double {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_load_pd(p); }
  static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};

inline void pack_a_14(bool t, const float* x, int64_t ld, int64_t m, int64_t k, float* o) { pack_a_avx<14>(t, x, ld, m, k, o); }
inline void pack_b_32(bool t, const float* x, int64_t ld, int64_t n, int64_t k, float* o) { pack_b_avx<32>(t, x, ld, n, k, o); }

}  // namespace
}  // namespace lamina::cpu::gemm

LAMINA_GEMM_DEFINE_FAMILY(avx512, Avx512Float, 14, 2, pack_a_14, pack_b_32, Avx512Double, 14, 2)
#endif
