// Build and machine information, threads, the RNG state, and the CUDA runtime.
#include <omp.h>

#include "core/cpu_features.h"
#include "core/cuda_hooks.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "python/bindings.h"

namespace lamina::python {

void bind_runtime(py::module_& m) {
  m.def("build_info", [] {
    py::dict d;
    d["version"] = LAMINA_VERSION;
    d["build_type"] = LAMINA_BUILD_TYPE;
    d["cuda_built"] = cuda::is_built();
    d["cuda_reason"] = LAMINA_CUDA_REASON;
    d["openmp"] = _OPENMP;
    d["compiler"] = __VERSION__;
    return d;
  });
  m.def("cpu_info", [] {
    const auto& f = cpu_features();
    py::dict d;
    d["model"] = f.model;
    d["avx2"] = f.avx2;
    d["fma"] = f.fma;
    d["avx512f"] = f.avx512f;
    d["isa"] = cpu_isa();
    return d;
  });
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads);
  m.def("manual_seed", [](py::int_ seed) {
    // Like torch.manual_seed: any Python int, taken modulo 2**64.
    const uint64_t s = py::reinterpret_steal<py::int_>(PyNumber_And(seed.ptr(), py::int_(~0ull).ptr())).cast<uint64_t>();
    manual_seed(s);
  });
  m.def("get_rng_state", [] {
    const GeneratorState g = default_generator();
    return py::make_tuple(g.seed, g.offset);
  });
  m.def("set_rng_state", [](uint64_t seed, uint64_t offset) { default_generator() = GeneratorState{seed, offset}; });

  py::module_ c = m.def_submodule("cuda", "The CUDA runtime");
  c.def("is_built", &cuda::is_built);
  c.def("device_count", &cuda::device_count);
  c.def("unavailable_reason", &cuda::unavailable_reason);
  c.def("get_device_name", &cuda::device_name);
  c.def("synchronize", [](int device) {
    cuda::check_device(device, "cuda.synchronize");
    py::gil_scoped_release nogil;
    cuda::synchronize(device);
  });
  c.def("memory_stats", [](int device) {
    const MemoryStats s = cuda::memory_stats(device);
    return py::make_tuple(s.allocated, s.max_allocated, s.reserved);
  });
  c.def("reset_peak_memory_stats", &cuda::reset_peak_memory_stats);
  c.def("empty_cache", &cuda::empty_cache);
  m.def("cpu_memory_stats", [] {
    const MemoryStats s = cpu_memory_stats();
    return py::make_tuple(s.allocated, s.max_allocated, s.reserved);
  });
  m.def("empty_cpu_cache", &empty_cpu_cache);
}

}  // namespace lamina::python
