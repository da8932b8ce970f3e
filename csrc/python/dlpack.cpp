// DLPack exchange: Tensor.__dlpack__/__dlpack_device__ (producer) and from_dlpack (consumer),
// both zero-copy. Capsules follow the Python specification: named "dltensor", renamed
// "used_dltensor" by the consumer, which then owns the deleter.
#include <vector>

#include "core/cuda_hooks.h"
#include "core/dlpack_abi.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

struct ExportCtx {
  Tensor tensor;
  std::vector<int64_t> shape, strides;
  dlpack::ManagedTensor managed;
};

dlpack::DataType to_dl(DType t) {
  switch (t) {
    case DType::Float32: return {dlpack::kFloat, 32, 1};
    case DType::Float64: return {dlpack::kFloat, 64, 1};
    case DType::Int64: return {dlpack::kInt, 64, 1};
    case DType::Bool: return {dlpack::kBool, 8, 1};
    case DType::Float16: return {dlpack::kFloat, 16, 1};
    case DType::BFloat16: return {dlpack::kBfloat, 16, 1};
  }
  return {0, 0, 0};
}

DType from_dl(dlpack::DataType t) {
  LAMINA_CHECK(t.lanes == 1, TypeError, "from_dlpack", "vector dtypes (lanes=", t.lanes, ") are not supported");
  if (t.code == dlpack::kFloat && t.bits == 32) return DType::Float32;
  if (t.code == dlpack::kFloat && t.bits == 64) return DType::Float64;
  if (t.code == dlpack::kInt && t.bits == 64) return DType::Int64;
  if (t.code == dlpack::kBool && t.bits == 8) return DType::Bool;
  if (t.code == dlpack::kFloat && t.bits == 16) return DType::Float16;
  if (t.code == dlpack::kBfloat && t.bits == 16) return DType::BFloat16;
  LAMINA_FAIL(TypeError, "from_dlpack", "unsupported DLPack dtype (code ", int(t.code), ", bits ", int(t.bits),
              "); supported: float32, float64, int64, bool, float16, bfloat16");
}

void capsule_destructor(PyObject* capsule) {
  // Called when the capsule dies unconsumed: we still own the tensor.
  if (PyCapsule_IsValid(capsule, "dltensor")) {
    auto* m = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(capsule, "dltensor"));
    if (m && m->deleter) m->deleter(m);
  }
}

py::capsule to_dlpack(const Tensor& t) {
  auto* ctx = new ExportCtx();
  ctx->tensor = t;
  ctx->shape = t.sizes();
  ctx->strides = t.strides();
  auto& dl = ctx->managed.dl_tensor;
  dl.data = t.numel() == 0 ? t.storage()->data.get() : t.data_ptr();
  dl.device = t.device().is_cpu() ? dlpack::Device{dlpack::kCPU, 0} : dlpack::Device{dlpack::kCUDA, t.device().index};
  dl.ndim = static_cast<int32_t>(t.dim());
  dl.dtype = to_dl(t.dtype());
  dl.shape = ctx->shape.data();
  dl.strides = ctx->strides.data();
  dl.byte_offset = 0;
  ctx->managed.manager_ctx = ctx;
  ctx->managed.deleter = [](dlpack::ManagedTensor* self) { delete static_cast<ExportCtx*>(self->manager_ctx); };
  if (t.device().is_cuda()) cuda::synchronize(t.device().index);  // the default stream is the one we write on
  PyObject* cap = PyCapsule_New(&ctx->managed, "dltensor", capsule_destructor);
  if (!cap) {
    delete ctx;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

Tensor from_capsule(py::capsule cap) {
  LAMINA_CHECK(PyCapsule_IsValid(cap.ptr(), "dltensor"), ValueError, "from_dlpack",
               "expected a PyCapsule named 'dltensor' (a capsule can be consumed only once)");
  auto* m = static_cast<dlpack::ManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  const auto& dl = m->dl_tensor;
  LAMINA_CHECK(dl.ndim >= 0 && dl.ndim <= 64, ValueError, "from_dlpack", "bad ndim ", dl.ndim);
  const DType dtype = from_dl(dl.dtype);
  Device device;
  if (dl.device.device_type == dlpack::kCPU || dl.device.device_type == dlpack::kCUDAHost) {
    device = Device();
  } else if (dl.device.device_type == dlpack::kCUDA || dl.device.device_type == dlpack::kCUDAManaged) {
    device = Device(DeviceType::CUDA, dl.device.device_id);
    cuda::check_device(device.index, "from_dlpack");
  } else {
    LAMINA_FAIL(ValueError, "from_dlpack", "unsupported device type ", dl.device.device_type, " (CPU and CUDA are supported)");
  }
  const int64_t isz = itemsize(dtype);
  Shape sizes(dl.shape, dl.shape + dl.ndim);
  Shape strides = dl.strides ? Shape(dl.strides, dl.strides + dl.ndim) : contiguous_strides(sizes);
  int64_t extent = 0;
  bool empty = false;
  for (int i = 0; i < dl.ndim; ++i) {
    LAMINA_CHECK(sizes[i] >= 0, ValueError, "from_dlpack", "negative size in shape ", sizes);
    LAMINA_CHECK(strides[i] >= 0 || sizes[i] <= 1, ValueError, "from_dlpack", "negative strides are not supported, got ", strides);
    if (sizes[i] <= 1) strides[i] = std::max<int64_t>(strides[i], 0);
    if (sizes[i] == 0) empty = true;
    if (sizes[i] > 0) extent += (sizes[i] - 1) * strides[i];
  }
  char* data = static_cast<char*>(dl.data) + dl.byte_offset;
  // Take ownership: rename the capsule so its producer-side destructor does nothing.
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  PyCapsule_SetDestructor(cap.ptr(), nullptr);
  auto st = std::make_shared<Storage>();
  st->nbytes = empty ? 0 : (extent + 1) * isz;
  st->device = device;
  st->data = DataPtr(data, [m](void*) {
    py::gil_scoped_acquire gil;  // the producer's deleter may touch Python objects
    if (m->deleter) m->deleter(m);
  });
  return Tensor::from_storage(st, sizes, strides, 0, dtype, "from_dlpack");
}

}  // namespace

void bind_dlpack(py::module_& m) {
  m.def("to_dlpack", &to_dlpack, py::arg("tensor"));
  m.def("from_dlpack_capsule", &from_capsule, py::arg("capsule"));
}

}  // namespace lamina::python
