// Internal hooks of the CPU GEMM for tests and benchmarks (not part of the op interface).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lamina::cpu {

// The plain i-k-j loops (double accumulation for float) that the packed GEMM is validated against.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void dgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                     int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// Micro-kernel families this build has and this CPU can run: the one sgemm picks first, then the
// narrower ones, then test-only layouts (e.g. {"avx2+fma", "portable", "avx512-layout-on-avx2"},
// the last being the avx512 family's tiles and packers run with AVX2 registers).
std::vector<std::string> gemm_kernel_families();

// Makes sgemm/dgemm use the named family instead of the detected one ("" restores detection).
// Returns false, changing nothing, when the family is not in gemm_kernel_families(). Process-wide:
// for tests, not for concurrent callers.
bool gemm_force_kernel_family(const std::string& name);

}  // namespace lamina::cpu
