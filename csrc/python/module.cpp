#include "python/bindings.h"

#include <map>
#include <string>

#include "core/errors.h"

namespace lamina::python {

namespace {
std::map<std::string, BindFn>& registry() {
  static std::map<std::string, BindFn> r;
  return r;
}
}  // namespace

int register_bindings(const char* name, BindFn fn) {
  registry()[name] = fn;
  return 0;
}

void run_registered_bindings(py::module_& m) {
  for (const auto& [name, fn] : registry()) fn(m);
}

DType parse_dtype(const std::string& name) {
  if (name == "float32") return DType::Float32;
  if (name == "float64") return DType::Float64;
  if (name == "int64") return DType::Int64;
  if (name == "bool") return DType::Bool;
  if (name == "float16") return DType::Float16;
  if (name == "bfloat16") return DType::BFloat16;
  LAMINA_FAIL(TypeError, "dtype", "unknown dtype '", name, "' (expected float32, float64, int64, bool, float16 or bfloat16)");
}

Scalar to_scalar(py::handle obj, const char* op, const char* arg) {
  if (py::isinstance<py::bool_>(obj)) return Scalar::from_int(obj.cast<bool>() ? 1 : 0);
  if (py::isinstance<py::int_>(obj)) {
    try {
      return Scalar::from_int(obj.cast<int64_t>());
    } catch (const py::cast_error&) {
      LAMINA_FAIL(ValueError, op, "argument '", arg, "' is an integer too large for int64: ", py::str(obj).cast<std::string>());
    }
  }
  if (py::isinstance<py::float_>(obj)) return Scalar::from_double(obj.cast<double>());
  // numpy scalars and anything else with __float__/__index__
  if (py::hasattr(obj, "__index__")) return Scalar::from_int(obj.attr("__index__")().cast<int64_t>());
  if (py::hasattr(obj, "__float__")) return Scalar::from_double(obj.attr("__float__")().cast<double>());
  LAMINA_FAIL(TypeError, op, "argument '", arg, "' must be a number, got ",
              py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
}

}  // namespace lamina::python

PYBIND11_MODULE(_C, m) {
  using namespace lamina::python;
  m.doc() = "Lamina's compiled core: tensors, kernels and the CUDA runtime";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lamina::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const lamina::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const lamina::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const lamina::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "lamina: out of memory (std::bad_alloc)");
    }
  });
  bind_tensor(m);
  bind_ops(m);
  bind_dlpack(m);
  bind_runtime(m);
  run_registered_bindings(m);
}
