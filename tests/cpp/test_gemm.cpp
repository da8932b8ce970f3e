// The packed GEMM (cpu/gemm) against a naive loop that accumulates in double: awkward sizes, all
// four transpose combinations, alpha/beta, leading dimensions wider than a row, 1 and 2 threads,
// and every micro-kernel family this CPU can run (the portable one forced through the test hook, and
// on CPUs without AVX-512 the avx512 family's tiles and packers run with AVX2 registers).
//
// Tolerance: element (i, j) may differ from the double-precision reference by
//   rtol(K) * (|alpha| * sum_k |op(A)[i][k]| |op(B)[k][j]| + |beta| |C0[i][j]|),
//   rtol(K) = 1e-6 * sqrt(max(K, 1)) for float32 and 1e-14 * sqrt(max(K, 1)) for float64:
// rounding errors of a K-term sum grow like sqrt(K) unit roundoffs for random data (float32's
// unit roundoff is 6e-8, so this leaves a margin of ~10x), while one lost or doubled term of
// size ~|a||b| exceeds it for every K used here.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_internal.h"
#include "ops/copy.h"
#include "ops/matmul.h"
#include "test_util.h"

namespace lamina {
namespace {

using test::ThreadGuard;

// Forces one micro-kernel family for a scope.
struct FamilyGuard {
  explicit FamilyGuard(const std::string& name) { ok = cpu::gemm_force_kernel_family(name); }
  ~FamilyGuard() { cpu::gemm_force_kernel_family(""); }
  bool ok = false;
};

// Set by the Small* tests: route gemm_call through s/dgemm_small_nt (A, B^T only).
bool g_small = false;

template <typename T>
void gemm_call(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
               int64_t ldb, T beta, T* C, int64_t ldc) {
  if (g_small) {
    ASSERT_TRUE(!ta && tb);
    if constexpr (std::is_same_v<T, float>)
      cpu::sgemm_small_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
      cpu::dgemm_small_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    cpu::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cpu::dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename T>
double rtol_for(int64_t K) {
  return (std::is_same_v<T, float> ? 1e-6 : 1e-14) * std::sqrt(static_cast<double>(std::max<int64_t>(K, 1)));
}

// One problem size: logical op(A) (M x K) and op(B) (K x N), their exact product and magnitude.
template <typename T>
struct Case {
  int64_t M, N, K;
  std::vector<T> a, b;            // row-major op(A), op(B)
  std::vector<double> ab, mag;    // sum_k a*b and sum_k |a*b|, M x N
  Case(int64_t m, int64_t n, int64_t k, std::mt19937& rng) : M(m), N(n), K(k) {
    a = test::random_vec<T>(M * K, rng, -1.0, 1.0);
    b = test::random_vec<T>(K * N, rng, -1.0, 1.0);
    ab.assign(static_cast<size_t>(M * N), 0.0);
    mag.assign(static_cast<size_t>(M * N), 0.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t l = 0; l < K; ++l) {
        const double x = a[i * K + l];
        for (int64_t j = 0; j < N; ++j) {
          const double p = x * static_cast<double>(b[l * N + j]);
          ab[i * N + j] += p;
          mag[i * N + j] += std::fabs(p);
        }
      }
  }
};

// Stores a logical rows x cols matrix as the GEMM reads it: row-major with leading dimension ld
// (>= cols), or transposed (cols x rows, leading dimension ld >= rows). Padding holds NaN, which
// must never leak into a result.
template <typename T>
std::vector<T> store(const std::vector<T>& m, int64_t rows, int64_t cols, bool trans, int64_t ld) {
  const int64_t outer = trans ? cols : rows;
  std::vector<T> s(static_cast<size_t>(std::max<int64_t>(1, outer * ld)), std::numeric_limits<T>::quiet_NaN());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) (trans ? s[c * ld + r] : s[r * ld + c]) = m[r * cols + c];
  return s;
}

// Runs the GEMM on case `cs` with the given layout and checks every element of C, and that the
// padding of C (columns past N) is untouched.
template <typename T>
void check_case(const Case<T>& cs, bool ta, bool tb, T alpha, T beta, int64_t pad, std::mt19937& rng) {
  const int64_t M = cs.M, N = cs.N, K = cs.K;
  SCOPED_TRACE(::testing::Message() << "M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb
                                    << " alpha=" << alpha << " beta=" << beta << " pad=" << pad
                                    << " threads=" << get_num_threads() << " kernel=" << cpu::sgemm_kernel_name());
  const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  const std::vector<T> A = store(cs.a, M, K, ta, lda), B = store(cs.b, K, N, tb, ldb);
  const T sentinel = T(12345.5);
  std::vector<T> C(static_cast<size_t>(M * ldc), sentinel), C0;
  if (beta == T(0)) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = std::numeric_limits<T>::quiet_NaN();
  } else {
    const std::vector<T> c0 = test::random_vec<T>(M * N, rng, -1.0, 1.0);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = c0[i * N + j];
  }
  C0 = C;
  gemm_call<T>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  const double rtol = rtol_for<T>(K);
  int64_t bad = 0;
  for (int64_t i = 0; i < M && bad < 5; ++i) {
    for (int64_t j = 0; j < ldc && bad < 5; ++j) {
      const T got = C[i * ldc + j];
      if (j >= N) {
        if (got != sentinel) {
          ADD_FAILURE() << "padding of C written at (" << i << ", " << j << "): " << got;
          ++bad;
        }
        continue;
      }
      const double c0 = beta == T(0) ? 0.0 : static_cast<double>(C0[i * ldc + j]);
      const double want = static_cast<double>(alpha) * cs.ab[i * N + j] + static_cast<double>(beta) * c0;
      const double tol = rtol * (std::fabs(double(alpha)) * cs.mag[i * N + j] + std::fabs(double(beta) * c0)) + 1e-30;
      if (!(std::isfinite(static_cast<double>(got)) && std::fabs(got - want) <= tol)) {
        ADD_FAILURE() << "C[" << i << "][" << j << "] = " << got << ", want " << want << " (tol " << tol << ")";
        ++bad;
      }
    }
  }
}

struct Size {
  int64_t M, N, K;
};

// Awkward sizes: 1, 7, 63, 65, 257 in every position, K = 1 and K = 0, tall-skinny shapes, and
// sizes past the cache blocks (K > KC several times: KC = 384 for avx2 float, 256 for the others;
// M > MC = 144, N > NC = 4096); K = 8, 9, 16 and 17 around the packers' blocks of eight rows.
const std::vector<Size> kSizes = {
    {1, 1, 1},     {1, 7, 1},     {7, 1, 7},      {7, 7, 7},      {1, 1, 257},   {1, 257, 63},  {257, 1, 65},
    {63, 65, 7},   {65, 63, 257}, {63, 257, 65},  {257, 65, 63},  {257, 257, 257}, {65, 65, 1},  {257, 7, 1},
    {1000, 3, 5},  {3, 1000, 7},  {7, 9, 0},      {1, 1, 0},      {300, 40, 600}, {2, 4100, 3}, {150, 33, 20},
    {128, 512, 9}, {13, 130, 270}, {29, 35, 8},   {29, 35, 16},  {31, 50, 17},  {65, 63, 769}, {20, 37, 1300},
};

template <typename T>
void gemm_suite(const std::vector<Size>& sizes, const std::vector<std::array<T, 2>>& alpha_beta) {
  std::mt19937 rng(1234);
  for (const Size& s : sizes) {
    const Case<T> cs(s.M, s.N, s.K, rng);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      if (g_small && (ta || !tb)) continue;
      for (size_t ab = 0; ab < alpha_beta.size(); ++ab) {
        // Leading dimensions larger than the row on every other combination.
        const int64_t pad = (t + static_cast<int>(ab)) % 2 ? 3 : 0;
        check_case<T>(cs, ta, tb, alpha_beta[ab][0], alpha_beta[ab][1], pad, rng);
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
}

// Runs `body` once for every family this CPU can run and for 1 and 2 threads.
template <typename F>
void for_each_family_and_threads(const F& body) {
  const std::vector<std::string> families = cpu::gemm_kernel_families();
  ASSERT_FALSE(families.empty());
  EXPECT_NE(std::find(families.begin(), families.end(), "portable"), families.end());
  for (const std::string& fam : families) {
    FamilyGuard guard(fam);
    ASSERT_TRUE(guard.ok) << fam;
    ASSERT_EQ(std::string(cpu::sgemm_kernel_name()), fam);
    for (int threads : {1, 2}) {
      ThreadGuard tg(threads);
      SCOPED_TRACE(::testing::Message() << "family " << fam << ", " << threads << " threads");
      body();
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(Gemm, FloatAllSizesTransposesAlphaBeta) {
  for_each_family_and_threads([] {
    gemm_suite<float>(kSizes, {{{1.0f, 0.0f}}, {{0.5f, 1.0f}}, {{-1.5f, 0.25f}}});
  });
}

TEST(Gemm, DoubleAllSizesTransposesAlphaBeta) {
  for_each_family_and_threads([] {
    gemm_suite<double>(kSizes, {{{1.0, 0.0}}, {{-0.75, 1.0}}});
  });
}

// The unpacked small-M products A B^T: every tile edge of small_nt (4 x 3), K with and without a
// tail past whole vectors, threads splitting the rows of B.
const std::vector<Size> kSmallSizes = {
    {1, 1, 1},   {1, 7, 1},    {7, 1, 7},   {7, 7, 7},   {1, 1, 257}, {1, 257, 63}, {2, 33, 17}, {3, 65, 9},
    {5, 40, 31}, {10, 500, 784}, {10, 1024, 512}, {13, 23, 65}, {6, 16, 16}, {32, 100, 40}, {7, 9, 0},
};

struct SmallGuard {
  SmallGuard() { g_small = true; }
  ~SmallGuard() { g_small = false; }
};

TEST(Gemm, SmallFloatAllSizesAlphaBeta) {
  SmallGuard sg;
  for_each_family_and_threads([] { gemm_suite<float>(kSmallSizes, {{{1.0f, 0.0f}}, {{0.5f, 1.0f}}, {{-1.5f, 0.25f}}}); });
}

TEST(Gemm, SmallDoubleAllSizesAlphaBeta) {
  SmallGuard sg;
  for_each_family_and_threads([] { gemm_suite<double>(kSmallSizes, {{{1.0, 0.0}}, {{-0.75, 1.0}}}); });
}

TEST(Gemm, KernelNameIsTheDetectedFamily) {
  const std::vector<std::string> families = cpu::gemm_kernel_families();
  EXPECT_EQ(std::string(cpu::sgemm_kernel_name()), families.front());
  EXPECT_FALSE(cpu::gemm_force_kernel_family("no-such-family"));
  EXPECT_EQ(std::string(cpu::sgemm_kernel_name()), families.front());
}

// BLAS: alpha == 0 does not read A or B (NaN there stays out), K == 0 gives beta * C.
TEST(Gemm, AlphaZeroAndEmptyKScaleC) {
  for_each_family_and_threads([] {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> A(35, nan), B(35, nan), C(25, 2.0f);
    cpu::sgemm(false, false, 5, 5, 7, 0.0f, A.data(), 7, B.data(), 5, 0.5f, C.data(), 5);
    for (float v : C) EXPECT_EQ(v, 1.0f);
    std::vector<float> Z(25, nan);
    cpu::sgemm(true, true, 5, 5, 0, 1.0f, A.data(), 5, B.data(), 1, 0.0f, Z.data(), 5);
    for (float v : Z) EXPECT_EQ(v, 0.0f);
    cpu::sgemm(false, false, 0, 5, 7, 1.0f, A.data(), 7, B.data(), 5, 0.0f, nullptr, 5);  // nothing to do
  });
}

// Each element is summed in the same order whatever the thread count: results are bitwise equal.
TEST(Gemm, ResultDoesNotDependOnThreadCount) {
  std::mt19937 rng(5);
  for (const Size& s : {Size{300, 200, 700}, Size{9, 3000, 40}, Size{128, 512, 784}}) {
    const std::vector<float> a = test::random_vec<float>(s.M * s.K, rng), b = test::random_vec<float>(s.K * s.N, rng);
    std::vector<float> c1(static_cast<size_t>(s.M * s.N)), c2(c1.size());
    {
      ThreadGuard tg(1);
      cpu::sgemm(false, true, s.M, s.N, s.K, 1.0f, a.data(), s.K, b.data(), s.K, 0.0f, c1.data(), s.N);
    }
    {
      ThreadGuard tg(2);
      cpu::sgemm(false, true, s.M, s.N, s.K, 1.0f, a.data(), s.K, b.data(), s.K, 0.0f, c2.data(), s.N);
    }
    EXPECT_EQ(c1, c2) << s.M << "x" << s.N << "x" << s.K;
  }
}

// The reference loop kept for tests agrees with the packed GEMM on a product with both transposes.
TEST(Gemm, ReferenceLoopAgrees) {
  std::mt19937 rng(6);
  const int64_t M = 37, N = 41, K = 300;
  const std::vector<float> a = test::random_vec<float>(M * K, rng), b = test::random_vec<float>(K * N, rng);
  std::vector<float> c(static_cast<size_t>(M * N)), r(c.size());
  cpu::sgemm(true, true, M, N, K, 1.0f, a.data(), M, b.data(), K, 0.0f, c.data(), N);
  cpu::sgemm_reference(true, true, M, N, K, 1.0f, a.data(), M, b.data(), K, 0.0f, r.data(), N);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_TRUE(test::close(c[i], r[i], 0, 1e-4)) << i;
}

// matmul reads unit-stride operands in place (either orientation) and copies the others first.
TEST(Gemm, MatmulOperandLayouts) {
  std::mt19937 rng(7);
  const int64_t B = 3, M = 19, K = 70, N = 23;
  const Tensor a = test::random_tensor<float>({B, M, K}, rng);
  const Tensor b = test::random_tensor<float>({B, K, N}, rng);
  auto check = [&](const Tensor& x, const Tensor& y) {
    const Tensor out = matmul(x, y);
    ASSERT_EQ(out.sizes(), (Shape{B, M, N}));
    for (int64_t bi = 0; bi < B; ++bi)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double acc = 0, mag = 0;
          for (int64_t k = 0; k < K; ++k) {
            const double p = double(test::at<float>(x, {bi, i, k})) * test::at<float>(y, {bi, k, j});
            acc += p;
            mag += std::fabs(p);
          }
          ASSERT_TRUE(test::close(test::at<float>(out, {bi, i, j}), acc, 0, rtol_for<float>(K) * mag))
              << bi << " " << i << " " << j;
        }
  };
  // Transposed copies with the same values: a as the transpose of a [B, K, M] tensor, and so on.
  const Tensor at_ = contiguous(a.transpose(1, 2)).transpose(1, 2);
  const Tensor bt_ = contiguous(b.transpose(1, 2)).transpose(1, 2);
  check(a, b);
  check(at_, b);
  check(a, bt_);
  check(at_, bt_);
  // Inner strides of 2 in both dims: copied before the GEMM.
  const Tensor a2 = test::random_tensor<float>({B, 2 * M, 2 * K}, rng).slice(1, 0, 2 * M, 2).slice(2, 0, 2 * K, 2);
  const Tensor b2 = test::random_tensor<float>({B, 2 * K, 2 * N}, rng).slice(1, 0, 2 * K, 2).slice(2, 0, 2 * N, 2);
  check(a2, b2);
  // A broadcast batch (stride 0).
  check(test::random_tensor<float>({1, M, K}, rng).expand({B, M, K}), b);
}

}  // namespace
}  // namespace lamina
