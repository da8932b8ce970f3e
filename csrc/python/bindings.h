// The pybind11 module lamina._C: bindings only, no logic. Each bind_* lives in its own file.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "core/scalar.h"
#include "core/tensor.h"

namespace lamina::python {

namespace py = pybind11;

DType parse_dtype(const std::string& name);
Scalar to_scalar(py::handle obj, const char* op, const char* arg);

void bind_tensor(py::module_& m);
void bind_ops(py::module_& m);
void bind_dlpack(py::module_& m);
void bind_runtime(py::module_& m);

// Op families register their bindings from their own file, so adding a family touches no
// shared file:
//   LAMINA_BINDINGS(conv) { m.def("conv2d_forward", ...); }
// Registered functions run after the core bindings, in name order.
using BindFn = void (*)(py::module_&);
int register_bindings(const char* name, BindFn fn);
void run_registered_bindings(py::module_& m);

}  // namespace lamina::python

#define LAMINA_BINDINGS(name)                                                              \
  static void lamina_bind_##name(::lamina::python::py::module_& m);                        \
  [[maybe_unused]] static const int lamina_bind_reg_##name =                               \
      ::lamina::python::register_bindings(#name, &lamina_bind_##name);                     \
  static void lamina_bind_##name(::lamina::python::py::module_& m)
