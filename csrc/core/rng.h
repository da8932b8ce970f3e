// A counter-based RNG (Philox-4x32 with 10 rounds, Salmon et al., SC'11): the value drawn for
// element i depends only on (seed, offset, i), so CPU and CUDA produce the same stream whatever
// the thread or block layout. The generator's state is (seed, offset); each draw of n elements
// advances the offset by the number of 128-bit blocks it used.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define LAMINA_HD __host__ __device__ __forceinline__
#else
#define LAMINA_HD inline
#endif

namespace lamina {

struct Philox4 {
  uint32_t v[4];
};

LAMINA_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// One 128-bit block for counter `ctr` under key `seed`.
LAMINA_HD Philox4 philox4x32(uint64_t ctr, uint64_t seed) {
  uint32_t c0 = static_cast<uint32_t>(ctr), c1 = static_cast<uint32_t>(ctr >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
LAMINA_HD float uniform_float(uint32_t x) { return (x >> 8) * (1.0f / 16777216.0f); }
LAMINA_HD double uniform_double(uint32_t a, uint32_t b) {
  const uint64_t m = (static_cast<uint64_t>(a) << 21) ^ (b >> 11);
  return (m & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Element i of a uniform draw: block offset + i / 4, lane i % 4 (float), or block offset + i / 2,
// lanes 2(i%2), 2(i%2)+1 (double).
LAMINA_HD float uniform_at_f32(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32(offset + i / 4, seed);
  return uniform_float(r.v[i % 4]);
}
LAMINA_HD double uniform_at_f64(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32(offset + i / 2, seed);
  const int l = static_cast<int>(i % 2) * 2;
  return uniform_double(r.v[l], r.v[l + 1]);
}
// A standard normal from one block's four lanes: Box-Muller on its two 64-bit halves.
LAMINA_HD double box_muller(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  const double u1 = 1.0 - uniform_double(a, b);  // (0, 1]
  const double u2 = uniform_double(c, d);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
// Element i of a standard normal draw: box_muller of block offset + i.
LAMINA_HD double normal_at(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4 r = philox4x32(offset + i, seed);
  return box_muller(r.v[0], r.v[1], r.v[2], r.v[3]);
}

#if !defined(__CUDACC__)
// The 32-bit lanes of blocks [ctr, ctr + n) in order: out[4 b + l] = philox4x32(ctr + b, seed).v[l]
// (for a float draw at offset `ctr`, the bits of its elements 0 .. 4n - 1). The same numbers as
// philox4x32, written as one loop over blocks that the compiler vectorises; CPU kernels call it
// from bodies compiled for AVX2 (cpu/isa.h) for eight blocks per instruction. Callers take up to
// kPhiloxChunk blocks at a time into a stack buffer.
constexpr int64_t kPhiloxChunk = 64;

[[gnu::always_inline]] inline void philox_fill(uint64_t seed, uint64_t ctr, int64_t n, uint32_t* __restrict out) {
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int64_t b = 0; b < n; ++b) {
    const uint64_t c = ctr + static_cast<uint64_t>(b);
    uint32_t c0 = static_cast<uint32_t>(c), c1 = static_cast<uint32_t>(c >> 32), c2 = 0, c3 = 0;
    uint32_t q0 = k0, q1 = k1;
#pragma GCC unroll 10
    for (int round = 0; round < 10; ++round) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0, p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ q0, n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ q1;
      c1 = static_cast<uint32_t>(p1);
      c3 = static_cast<uint32_t>(p0);
      c0 = n0;
      c2 = n2;
      q0 += 0x9E3779B9u;
      q1 += 0xBB67AE85u;
    }
    out[4 * b] = c0;
    out[4 * b + 1] = c1;
    out[4 * b + 2] = c2;
    out[4 * b + 3] = c3;
  }
}

// philox_fill on this CPU's fastest path (core/rng.cpp): AVX2 intrinsics, 32 blocks at a time,
// when the CPU has AVX2 (about 3.5x the compiler's vectorisation of philox_fill), otherwise
// philox_fill itself. The same numbers either way.
void philox_fill_cpu(uint64_t seed, uint64_t ctr, int64_t n, uint32_t* out);

// Calls f(i, lanes) for the elements i in [i0, i1) of a draw at `offset` in which every element
// takes L consecutive 32-bit lanes of the block stream, a chunk of blocks at a time: L = 1 for
// float uniforms (element i is lane i % 4 of block offset + i / 4), L = 2 for double uniforms
// (lanes 2(i % 2) and 2(i % 2) + 1 of block offset + i / 2), L = 4 for normals (block offset + i).
template <int L, typename F>
[[gnu::always_inline]] inline void for_each_draw(uint64_t seed, uint64_t offset, uint64_t i0, uint64_t i1, F&& f) {
  static_assert(L == 1 || L == 2 || L == 4, "an element takes 1, 2 or 4 lanes");
  constexpr uint64_t per = 4 / L;  // elements per block
  alignas(64) uint32_t bits[4 * kPhiloxChunk];
  for (uint64_t b0 = i0 / per; b0 * per < i1; b0 += kPhiloxChunk) {
    const uint64_t left = (i1 + per - 1) / per - b0;
    const uint64_t nb = left < static_cast<uint64_t>(kPhiloxChunk) ? left : kPhiloxChunk;
    philox_fill_cpu(seed, offset + b0, static_cast<int64_t>(nb), bits);
    const uint64_t e0 = i0 > b0 * per ? i0 : b0 * per, e1 = i1 < (b0 + nb) * per ? i1 : (b0 + nb) * per;
    const uint32_t* u = bits + L * (e0 - b0 * per);
    const int64_t len = static_cast<int64_t>(e1 - e0);
    for (int64_t j = 0; j < len; ++j) f(static_cast<int64_t>(e0) + j, u + L * j);
  }
}
#endif

// Blocks consumed by a draw of n elements.
inline uint64_t uniform_blocks_f32(uint64_t n) { return (n + 3) / 4; }
inline uint64_t uniform_blocks_f64(uint64_t n) { return (n + 1) / 2; }
inline uint64_t normal_blocks(uint64_t n) { return n; }

// The default generator: seeded by lamina.manual_seed.
struct GeneratorState {
  uint64_t seed;
  uint64_t offset;
};
GeneratorState& default_generator();
void manual_seed(uint64_t seed);
// Reserves `blocks` blocks of the default stream and returns the offset to draw from.
uint64_t reserve_blocks(uint64_t blocks);

}  // namespace lamina
