// lamina._C.Tensor: metadata, views, the buffer protocol (zero-copy numpy on the CPU) and
// from_numpy (zero-copy the other way).
#include "core/cuda_hooks.h"
#include "core/errors.h"
#include "ops/copy.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

py::tuple to_tuple(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  return t;
}

std::string buffer_format(DType t) {
  switch (t) {
    case DType::Float32: return py::format_descriptor<float>::format();
    case DType::Float64: return py::format_descriptor<double>::format();
    case DType::Int64: return py::format_descriptor<int64_t>::format();
    case DType::Bool: return py::format_descriptor<bool>::format();
    case DType::Float16: return "e";
    default: break;
  }
  LAMINA_FAIL(TypeError, "numpy", "dtype ", dtype_name(t), " has no numpy equivalent");
}

DType dtype_from_numpy(const py::dtype& dt) {
  if (dt.byteorder() == '>') {
    LAMINA_FAIL(TypeError, "from_numpy", "big-endian arrays are not supported; use arr.astype(arr.dtype.newbyteorder('='))");
  }
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'b' && size == 1) return DType::Bool;
  LAMINA_FAIL(TypeError, "from_numpy", "can't convert a numpy array of dtype ", py::str(dt).cast<std::string>(),
              "; supported dtypes are float32, float64, int64 and bool (convert with arr.astype(...))");
}

// Zero-copy: the tensor's storage keeps the array alive (released under the GIL).
Tensor from_numpy(py::array arr) {
  const DType dtype = dtype_from_numpy(arr.dtype());
  const int64_t isz = itemsize(dtype);
  LAMINA_CHECK(arr.ndim() <= 64, ValueError, "from_numpy", "at most 64 dimensions are supported, got ", arr.ndim());
  Shape sizes(arr.ndim()), strides(arr.ndim());
  int64_t extent = 0;
  bool empty = false;
  for (py::ssize_t d = 0; d < arr.ndim(); ++d) {
    sizes[d] = arr.shape(d);
    const int64_t sb = arr.strides(d);
    LAMINA_CHECK(sb >= 0, ValueError, "from_numpy", "arrays with negative strides are not supported (strides ",
                 Shape(arr.strides(), arr.strides() + arr.ndim()), "); pass arr.copy()");
    LAMINA_CHECK(sb % isz == 0, ValueError, "from_numpy", "array strides must be multiples of the item size ", isz);
    strides[d] = sb / isz;
    if (sizes[d] == 0) empty = true;
    if (sizes[d] > 0) extent += (sizes[d] - 1) * strides[d];
  }
  LAMINA_CHECK(reinterpret_cast<uintptr_t>(arr.data()) % isz == 0, ValueError, "from_numpy",
               "array data is not aligned to its item size; pass arr.copy()");
  auto st = std::make_shared<Storage>();
  st->nbytes = empty ? 0 : (extent + 1) * isz;
  st->device = Device();
  auto* keep = new py::object(arr);
  st->data = DataPtr(const_cast<void*>(arr.data()), [keep](void*) {
    py::gil_scoped_acquire gil;
    delete keep;
  });
  return Tensor::from_storage(st, sizes, strides, 0, dtype, "from_numpy");
}

py::buffer_info buffer(const Tensor& t) {
  LAMINA_CHECK(t.device().is_cpu(), TypeError, "numpy", "can't convert a tensor on ", t.device().str(),
               " to numpy; copy it to the host first with .cpu()");
  std::vector<py::ssize_t> shape(t.sizes().begin(), t.sizes().end());
  std::vector<py::ssize_t> strides(t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) strides[d] = t.stride(d) * t.itemsize();
  return py::buffer_info(t.numel() == 0 ? static_cast<void*>(t.storage()->data.get()) : t.data_ptr(),
                         t.itemsize(), buffer_format(t.dtype()), t.dim(), shape, strides, false);
}

py::object item(const Tensor& t) {
  LAMINA_CHECK(t.numel() == 1, ValueError, "item", "a Tensor with ", t.numel(),
               " elements cannot be converted to a Python scalar (shape ", t.sizes(), ")");
  Tensor h = to_device(t, Device());
  switch (h.dtype()) {
    case DType::Float32: return py::float_(*h.data<float>());
    case DType::Float64: return py::float_(*h.data<double>());
    case DType::Int64: return py::int_(*h.data<int64_t>());
    case DType::Bool: return py::bool_(*h.data<bool>());
    default: break;
  }
  LAMINA_FAIL(TypeError, "item", "dtype ", dtype_name(h.dtype()), " is not supported");
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol())
      .def_buffer(&buffer)
      .def_property_readonly("shape", [](const Tensor& t) { return to_tuple(t.sizes()); })
      .def_property_readonly("strides", [](const Tensor& t) { return to_tuple(t.strides()); })
      .def_property_readonly("offset", &Tensor::offset)
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("numel", &Tensor::numel)
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("itemsize", &Tensor::itemsize)
      .def_property_readonly("is_contiguous", &Tensor::is_contiguous)
      .def_property_readonly("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); })
      .def_property_readonly("version", &Tensor::version)
      .def_property_readonly("storage_nbytes", [](const Tensor& t) { return t.storage()->nbytes; })
      // How many tensors (views included) hold this storage: 1 when this one is its only owner.
      .def_property_readonly("storage_use_count", [](const Tensor& t) { return t.storage().use_count(); })
      .def("shares_storage", &Tensor::shares_storage)
      .def("item", &item)
      .def("__repr__", [](const Tensor& t) { return "<lamina._C.Tensor " + t.describe() + ">"; })
      // views
      .def("as_strided", &Tensor::as_strided)
      .def("permute", &Tensor::permute)
      .def("transpose", &Tensor::transpose)
      .def("expand", &Tensor::expand)
      .def("unsqueeze", &Tensor::unsqueeze)
      .def("squeeze", [](const Tensor& t, std::optional<int64_t> d) { return d ? t.squeeze(*d) : t.squeeze_all(); },
           py::arg("dim") = py::none())
      .def("narrow", &Tensor::narrow)
      .def("select", &Tensor::select)
      .def("slice", &Tensor::slice)
      .def("view", [](const Tensor& t, const Shape& s) {
        Tensor v = t.view_if_possible(s, "view");
        LAMINA_CHECK(v.defined(), RuntimeError, "view",
                     "view size ", s, " is not compatible with input tensor's size ", t.sizes(), " and stride ",
                     t.strides(), " (at least one dimension spans across two contiguous subspaces); use .reshape(...) instead");
        return v;
      });

  m.def("from_numpy", &from_numpy, py::arg("array"));
  m.def("empty", [](const Shape& s, const std::string& dtype, const std::string& device) {
    const Device dev = Device::parse(device);
    if (dev.is_cuda()) cuda::check_device(dev.index, "empty");
    return Tensor::empty(s, parse_dtype(dtype), dev);
  });
}

}  // namespace lamina::python
