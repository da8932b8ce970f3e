#include "core/cpu_features.h"

#include <fstream>

namespace lamina {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.avx512f = __builtin_cpu_supports("avx512f");
#endif
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) == 0) {
        const auto p = line.find(':');
        if (p != std::string::npos) c.model = line.substr(p + 2);
        break;
      }
    }
    return c;
  }();
  return f;
}

std::string cpu_isa() {
  const auto& f = cpu_features();
  if (f.avx512f && f.fma) return "avx512";
  if (f.avx2 && f.fma) return "avx2+fma";
  return "portable";
}

}  // namespace lamina
