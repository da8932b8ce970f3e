// Run-time instruction-set selection for CPU kernels, never -march: a kernel body is compiled
// twice, plain and with the AVX2+FMA target attribute, and the build to run is picked per call
// from the CPU's features (core/cpu_features.h).
#pragma once
#include "core/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LAMINA_CPU_X86 1
#define LAMINA_AVX2_FMA __attribute__((target("avx2,fma")))
#else
#define LAMINA_CPU_X86 0
#define LAMINA_AVX2_FMA
#endif

namespace lamina::cpu {

// Whether this CPU runs AVX2 and FMA.
inline bool cpu_has_avx2_fma() {
#if LAMINA_CPU_X86
  static const bool ok = cpu_features().avx2 && cpu_features().fma;
  return ok;
#else
  return false;
#endif
}

}  // namespace lamina::cpu

// From a function template `name##_body<T>`, defines `name<T>(params)`, which runs the AVX2+FMA
// build of the body when `use_avx2()` (a predicate of the including file, so each op family keeps
// its own test switch) is true, and the plain build otherwise.
#if LAMINA_CPU_X86
#define LAMINA_COMPILE_TWICE(name, params, args)                          \
  template <typename T>                                                   \
  void name##_ref params { name##_body<T> args; }                         \
  template <typename T>                                                   \
  LAMINA_AVX2_FMA void name##_avx2 params { name##_body<T> args; }        \
  template <typename T>                                                   \
  void name params {                                                      \
    if (use_avx2()) name##_avx2<T> args;                                  \
    else name##_ref<T> args;                                              \
  }
#else
#define LAMINA_COMPILE_TWICE(name, params, args) \
  template <typename T>                          \
  void name params { name##_body<T> args; }
#endif
