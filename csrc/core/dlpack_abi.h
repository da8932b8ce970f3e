// The DLPack C ABI (https://dmlc.github.io/dlpack/latest/c_api.html), declared from its
// specification: the unversioned DLManagedTensor exchanged in a PyCapsule named "dltensor"
// (https://dmlc.github.io/dlpack/latest/python_spec.html). Only the parts Lamina uses.
#pragma once
#include <cstdint>

namespace lamina::dlpack {

enum DeviceType : int32_t { kCPU = 1, kCUDA = 2, kCUDAHost = 3, kCUDAManaged = 13 };
enum TypeCode : uint8_t { kInt = 0, kUInt = 1, kFloat = 2, kBfloat = 4, kBool = 6 };

struct Device {
  int32_t device_type;
  int32_t device_id;
};
struct DataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  Device device;
  int32_t ndim;
  DataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; NULL means compact row-major
  uint64_t byte_offset;
};
struct ManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(ManagedTensor* self);
};

}  // namespace lamina::dlpack
