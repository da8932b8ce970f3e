// The portable micro-kernels: plain C++ for any CPU (compiled without extra -m flags). A 4 x 8
// tile of scalar accumulators, which the compiler may still map onto the baseline vector unit.
#include "cpu/gemm/gemm_kernel_impl.h"

namespace lamina::cpu::gemm {
namespace {
inline void pack_a_4f(bool t, const float* x, int64_t ld, int64_t m, int64_t k, float* o) { pack_a_scalar<float, 4>(t, x, ld, m, k, o); }
inline void pack_b_8f(bool t, const float* x, int64_t ld, int64_t n, int64_t k, float* o) { pack_b_scalar<float, 8>(t, x, ld, n, k, o); }
}  // namespace
}  // namespace lamina::cpu::gemm

LAMINA_GEMM_DEFINE_FAMILY(portable, ScalarTraits<float>, 4, 8, pack_a_4f, pack_b_8f, ScalarTraits<double>, 4, 8)
