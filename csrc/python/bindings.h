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

}  // namespace lamina::python
