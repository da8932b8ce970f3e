// Bindings of the op families in csrc/ops/. Kernels run with the GIL released.
#include "ops/copy.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/random.h"
#include "ops/reduce.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

using nogil = py::call_guard<py::gil_scoped_release>;

template <typename E>
E op_from_int(int v, int count, const char* what) {
  LAMINA_CHECK(v >= 0 && v < count, ValueError, what, "unknown op code ", v);
  return static_cast<E>(v);
}

std::optional<Scalar> opt_scalar(const py::object& o, const char* op, const char* arg) {
  if (o.is_none()) return std::nullopt;
  return to_scalar(o, op, arg);
}

}  // namespace

void bind_ops(py::module_& m) {
  // elementwise
  m.def("binary", [](int op, const Tensor& a, const Tensor& b) {
    const auto o = op_from_int<BinaryOp>(op, 17, "binary");
    py::gil_scoped_release nogil;
    return binary(o, a, b);
  });
  m.def("binary_", [](int op, const Tensor& out, const Tensor& b) {
    const auto o = op_from_int<BinaryOp>(op, 17, "binary_");
    py::gil_scoped_release nogil;
    binary_inplace(o, out, b);
  });
  m.def("unary", [](int op, const Tensor& x) {
    const auto o = op_from_int<UnaryOp>(op, 19, "unary");
    py::gil_scoped_release nogil;
    return unary(o, x);
  });
  m.def("clamp", [](const Tensor& x, py::object lo, py::object hi) {
    const auto a = opt_scalar(lo, "clamp", "min"), b = opt_scalar(hi, "clamp", "max");
    py::gil_scoped_release nogil;
    return clamp(x, a, b);
  }, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
  m.def("where", &where, nogil());

  // reductions
  m.def("reduce", [](int op, const Tensor& x, const Shape& dims, bool keepdim, int64_t correction) {
    const auto o = op_from_int<ReduceOp>(op, 6, "reduce");
    py::gil_scoped_release nogil;
    return reduce(o, x, dims, keepdim, correction);
  });
  m.def("max_dim", &max_dim, nogil());
  m.def("argmax", [](const Tensor& x, std::optional<int64_t> dim, bool keepdim, bool is_min) {
    py::gil_scoped_release nogil;
    return argmax(x, dim.value_or(0), !dim.has_value(), keepdim, is_min);
  });
  m.def("sum_to_size", &sum_to_size, nogil());

  // copies, casts, fills
  m.def("copy_", &copy_, nogil());
  m.def("contiguous", &contiguous, nogil());
  m.def("clone", &clone, nogil());
  m.def("to_dtype", [](const Tensor& x, const std::string& dtype) {
    const DType d = parse_dtype(dtype);
    py::gil_scoped_release nogil;
    return to_dtype(x, d);
  });
  m.def("to_device", [](const Tensor& x, const std::string& device) {
    const Device d = Device::parse(device);
    py::gil_scoped_release nogil;
    return to_device(x, d);
  });
  m.def("reshape", &reshape, nogil());
  m.def("fill_", [](const Tensor& x, py::object v) {
    const Scalar s = to_scalar(v, "fill_", "value");
    py::gil_scoped_release nogil;
    fill_(x, s);
  });
  m.def("full", [](const Shape& shape, py::object v, const std::string& dtype, const std::string& device) {
    const Scalar s = to_scalar(v, "full", "fill_value");
    const DType d = parse_dtype(dtype);
    const Device dev = Device::parse(device);
    py::gil_scoped_release nogil;
    return full(shape, s, d, dev);
  });
  m.def("arange", [](py::object start, py::object end, py::object step, const std::string& dtype,
                     const std::string& device) {
    const Scalar a = to_scalar(start, "arange", "start"), b = to_scalar(end, "arange", "end"),
                 c = to_scalar(step, "arange", "step");
    const DType d = parse_dtype(dtype);
    const Device dev = Device::parse(device);
    py::gil_scoped_release nogil;
    return arange(a, b, c, d, dev);
  });
  m.def("cat", &cat, nogil());

  // linear algebra
  m.def("matmul", &matmul, nogil());

  // random
  m.def("uniform_", &uniform_, nogil());
  m.def("normal_", &normal_, nogil());
  m.def("randint_", &randint_, nogil());
}

}  // namespace lamina::python
