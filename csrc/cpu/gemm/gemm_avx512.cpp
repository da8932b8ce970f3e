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
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static T hsum(V v) {  // through memory: GCC 12's intrinsics for the halves warn -Wuninitialized
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    const __m256 y = _mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8));
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
  }
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
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static T hsum(V v) {
    alignas(64) double t[8];
    _mm512_store_pd(t, v);
    const __m256d y = _mm256_add_pd(_mm256_load_pd(t), _mm256_load_pd(t + 4));
    const __m128d x = _mm_add_pd(_mm256_castpd256_pd128(y), _mm256_extractf128_pd(y, 1));
    return _mm_cvtsd_f64(_mm_add_sd(x, _mm_unpackhi_pd(x, x)));
  }
};

inline void pack_a_14(bool t, const float* x, int64_t ld, int64_t m, int64_t k, float* o) { pack_a_avx<14>(t, x, ld, m, k, o); }
inline void pack_b_32(bool t, const float* x, int64_t ld, int64_t n, int64_t k, float* o) { pack_b_avx<32>(t, x, ld, n, k, o); }

}  // namespace
}  // namespace lamina::cpu::gemm

LAMINA_GEMM_DEFINE_FAMILY(avx512, Avx512Float, 14, 2, pack_a_14, pack_b_32, Avx512Double, 14, 2)
#endif
