// Bindings of cpu/gemm: which micro-kernel family the CPU GEMM runs (for benchmarks and build info).
#include "cpu/gemm/gemm.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(gemm) {
  m.def("gemm_kernel_name", [] { return std::string(cpu::sgemm_kernel_name()); },
        "The CPU GEMM's micro-kernel family on this machine: 'avx512', 'avx2+fma' or 'portable'.");
}

}  // namespace lamina::python
