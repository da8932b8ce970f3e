// Copies, casts, fills and device moves: torch.Tensor.copy_, .contiguous(), .to(dtype/device),
// fill_, arange, cat.
#pragma once
#include <vector>

#include "core/scalar.h"
#include "core/tensor.h"

namespace lamina {

// dst[...] = src[...] with src broadcast to dst's shape; casts between dtypes; any devices.
void copy_(const Tensor& dst, const Tensor& src);
Tensor contiguous(const Tensor& x);          // x itself when already contiguous
Tensor clone(const Tensor& x);               // always a fresh contiguous copy
Tensor to_dtype(const Tensor& x, DType dtype);  // x itself when dtype matches
Tensor to_device(const Tensor& x, Device device);  // x itself when already there
Tensor reshape(const Tensor& x, const Shape& sizes);  // a view when possible, else a copy
void fill_(const Tensor& x, Scalar value);
Tensor full(const Shape& sizes, Scalar value, DType dtype, Device device);
// torch.arange(start, end, step): ceil((end - start) / step) elements.
Tensor arange(Scalar start, Scalar end, Scalar step, DType dtype, Device device);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);

namespace cpu {
void copy(const Tensor& dst, const Tensor& src);  // same device, src broadcast, any dtypes
void fill(const Tensor& x, Scalar value);
void arange(const Tensor& out, Scalar start, Scalar step);
}  // namespace cpu
namespace cuda {
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& x, Scalar value);
void arange(const Tensor& out, Scalar start, Scalar step);
}  // namespace cuda

}  // namespace lamina
