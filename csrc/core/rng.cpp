#include "core/rng.h"

#include <mutex>

#include "core/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LAMINA_RNG_AVX2 1
#endif

namespace lamina {
namespace {
std::mutex g_rng_mutex;
}

GeneratorState& default_generator() {
  static GeneratorState g{67280421310721ull, 0};
  return g;
}

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  default_generator() = GeneratorState{seed, 0};
}

#if defined(LAMINA_RNG_AVX2)
namespace {

// hi:lo = x * m for the eight 32-bit lanes of x: the even lanes' 64-bit products, then the odd
// lanes' (shifted down into even position), recombined lane by lane.
__attribute__((target("avx2"))) inline void mulhilo8(__m256i x, __m256i m, __m256i* hi, __m256i* lo) {
  const __m256i even = _mm256_mul_epu32(x, m);
  const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
  *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

// Lanes c0..c3 of eight blocks (one block per 32-bit lane) into out[4 b + l], block after block:
// a 4 x 8 transpose.
__attribute__((target("avx2"))) inline void store_blocks8(__m256i c0, __m256i c1, __m256i c2, __m256i c3,
                                                          uint32_t* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);  // blocks 0 4, 1 5
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);  // blocks 2 6, 3 7
  __m256i* o = reinterpret_cast<__m256i*>(out);
  _mm256_storeu_si256(o, _mm256_permute2x128_si256(u0, u1, 0x20));
  _mm256_storeu_si256(o + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
  _mm256_storeu_si256(o + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
  _mm256_storeu_si256(o + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
}

// Blocks [ctr, ctr + 32 * (n / 32)): philox4x32's rounds on four independent groups of eight
// blocks at once (one round of one group is a chain of dependent multiplies, shifts and blends;
// four keep the vector units busy). Returns the number of blocks written.
__attribute__((target("avx2"))) int64_t philox_fill_avx2(uint64_t seed, uint64_t ctr, int64_t n, uint32_t* out) {
  constexpr int G = 4;
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  int64_t b = 0;
  for (; b + 8 * G <= n; b += 8 * G) {
    alignas(32) uint32_t lo32[8 * G], hi32[8 * G];
    for (int j = 0; j < 8 * G; ++j) {
      const uint64_t c = ctr + static_cast<uint64_t>(b + j);
      lo32[j] = static_cast<uint32_t>(c);
      hi32[j] = static_cast<uint32_t>(c >> 32);
    }
    __m256i c0[G], c1[G], c2[G], c3[G];
    for (int g = 0; g < G; ++g) {
      c0[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(lo32 + 8 * g));
      c1[g] = _mm256_load_si256(reinterpret_cast<const __m256i*>(hi32 + 8 * g));
      c2[g] = _mm256_setzero_si256();
      c3[g] = _mm256_setzero_si256();
    }
    uint32_t q0 = static_cast<uint32_t>(seed), q1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      const __m256i k0 = _mm256_set1_epi32(static_cast<int>(q0)), k1 = _mm256_set1_epi32(static_cast<int>(q1));
      for (int g = 0; g < G; ++g) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo8(c0[g], m0, &hi0, &lo0);
        mulhilo8(c2[g], m1, &hi1, &lo1);
        c0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, c1[g]), k0);
        c2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, c3[g]), k1);
        c1[g] = lo1;
        c3[g] = lo0;
      }
      q0 += 0x9E3779B9u;
      q1 += 0xBB67AE85u;
    }
    for (int g = 0; g < G; ++g) store_blocks8(c0[g], c1[g], c2[g], c3[g], out + 4 * (b + 8 * g));
  }
  return b;
}

// The remainder (fewer than 32 blocks) through philox_fill, vectorised by the compiler for AVX2.
__attribute__((target("avx2"))) void philox_fill_tail_avx2(uint64_t seed, uint64_t ctr, int64_t n, uint32_t* out) {
  philox_fill(seed, ctr, n, out);
}

}  // namespace
#endif

void philox_fill_cpu(uint64_t seed, uint64_t ctr, int64_t n, uint32_t* out) {
#if defined(LAMINA_RNG_AVX2)
  static const bool avx2 = cpu_features().avx2;
  if (avx2) {
    const int64_t done = philox_fill_avx2(seed, ctr, n, out);
    if (done < n) philox_fill_tail_avx2(seed, ctr + static_cast<uint64_t>(done), n - done, out + 4 * done);
    return;
  }
#endif
  philox_fill(seed, ctr, n, out);
}

uint64_t reserve_blocks(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(g_rng_mutex);
  const uint64_t off = default_generator().offset;
  default_generator().offset += blocks;
  return off;
}

}  // namespace lamina
