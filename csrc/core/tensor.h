// The tensor: shared storage plus a view (sizes, strides and offset in elements), a dtype and a
// device. Views share storage; copies are made by ops (csrc/ops/copy.h), never here.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/allocator.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"

namespace lamina {

struct Storage {
  DataPtr data;
  int64_t nbytes = 0;
  Device device;
  // Bumped by every in-place write (copy_, fill_, in-place arithmetic, random fills); autograd
  // compares it to catch tensors saved for backward and modified afterwards.
  std::atomic<int64_t> version{0};
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor

  // Uninitialised, contiguous.
  static Tensor empty(const Shape& sizes, DType dtype, Device device = Device());
  // Wraps memory owned elsewhere (numpy, DLPack); `storage` must cover every element of the view.
  static Tensor from_storage(std::shared_ptr<Storage> storage, const Shape& sizes,
                             const Shape& strides, int64_t offset, DType dtype, const char* op);

  bool defined() const { return storage_ != nullptr; }
  const Shape& sizes() const { return sizes_; }
  const Shape& strides() const { return strides_; }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t offset() const { return offset_; }
  int64_t dim() const { return static_cast<int64_t>(sizes_.size()); }
  int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device(); }
  int64_t itemsize() const { return lamina::itemsize(dtype_); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  int64_t version() const { return storage_ ? storage_->version.load() : 0; }
  void bump_version() const {
    if (storage_) storage_->version.fetch_add(1);
  }

  void* data_ptr() const {
    return static_cast<char*>(storage_->data.get()) + offset_ * lamina::itemsize(dtype_);
  }
  template <typename T>
  T* data() const { return static_cast<T*>(data_ptr()); }

  std::string describe() const;  // "float32[2, 3] on cpu"

  // ---- views (no copy; checked) ----
  Tensor as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor expand(const Shape& sizes) const;          // -1 keeps a size
  Tensor unsqueeze(int64_t d) const;
  Tensor squeeze(int64_t d) const;                   // no-op when size(d) != 1
  Tensor squeeze_all() const;
  Tensor narrow(int64_t d, int64_t start, int64_t length) const;
  Tensor select(int64_t d, int64_t index) const;
  Tensor slice(int64_t d, int64_t start, int64_t stop, int64_t step) const;  // Python semantics
  // A view with new sizes when the strides allow it; an undefined tensor when they don't
  // (reshape then copies). `sizes` may hold one -1.
  Tensor view_if_possible(const Shape& sizes, const char* op) const;
  Shape infer_size(const Shape& sizes, const char* op) const;

 private:
  std::shared_ptr<Storage> storage_;
  Shape sizes_, strides_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
  DType dtype_ = DType::Float32;
};

}  // namespace lamina
