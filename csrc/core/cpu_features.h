// Run-time CPU feature detection: kernels pick their SIMD path from this, never from -march.
#pragma once
#include <string>

namespace lamina {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  std::string model;  // e.g. "AMD EPYC 7B13" (from /proc/cpuinfo where available)
};

const CpuFeatures& cpu_features();
// "avx512", "avx2+fma" or "portable": the widest micro-kernel family this CPU can run.
std::string cpu_isa();

}  // namespace lamina
