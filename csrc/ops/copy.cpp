#include "ops/copy.h"

#include <cmath>

#include "ops/dispatch.h"

namespace lamina {

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined(dst, "copy_", "self");
  check_defined(src, "copy_", "src");
  check_kernels(dst, "copy_", "self");
  check_kernels(src, "copy_", "src");
  const Shape shape = broadcast_shapes(dst.sizes(), src.sizes(), "copy_");
  LAMINA_CHECK(shape == dst.sizes(), ValueError, "copy_", "source shape ", src.sizes(),
               " cannot be broadcast to destination shape ", dst.sizes());
  for (int64_t d = 0; d < dst.dim(); ++d) {
    LAMINA_CHECK(dst.stride(d) != 0 || dst.size(d) <= 1, ValueError, "copy_",
                 "the destination ", dst.describe(), " has broadcast (stride 0) dims; call .contiguous() first");
  }
  if (dst.numel() == 0) return;
  dst.bump_version();
  if (dst.device() == src.device()) {
    LAMINA_DEVICE_CALL(dst.device(), "copy_", copy, dst, src.expand(shape));
    return;
  }
  // Across devices: stage through a contiguous buffer of src's dtype on the destination device.
  const Tensor s = contiguous(src);
  Tensor staged = (dst.is_contiguous() && dst.dtype() == s.dtype() && s.sizes() == dst.sizes())
                      ? dst
                      : Tensor::empty(s.sizes(), s.dtype(), dst.device());
  const size_t nbytes = static_cast<size_t>(s.numel() * s.itemsize());
  if (s.device().is_cpu()) {
    cuda::copy_host_to_device(staged.data_ptr(), s.data_ptr(), nbytes, dst.device().index);
  } else if (dst.device().is_cpu()) {
    cuda::copy_device_to_host(staged.data_ptr(), s.data_ptr(), nbytes, s.device().index);
  } else {
    // Between two GPUs: through the host (peer copies can come later).
    Tensor host = Tensor::empty(s.sizes(), s.dtype(), Device());
    cuda::copy_device_to_host(host.data_ptr(), s.data_ptr(), nbytes, s.device().index);
    cuda::copy_host_to_device(staged.data_ptr(), host.data_ptr(), nbytes, dst.device().index);
  }
  if (!staged.shares_storage(dst)) copy_(dst, staged);
}

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous", "input");
  if (x.is_contiguous()) return x;
  return clone(x);
}

Tensor clone(const Tensor& x) {
  check_defined(x, "clone", "input");
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "to", "input");
  if (x.dtype() == dtype) return x;
  LAMINA_CHECK(has_kernels(dtype), TypeError, "to", "dtype ", dtype_name(dtype), " has no kernels yet");
  Tensor out = Tensor::empty(x.sizes(), dtype, x.device());
  copy_(out, x);
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to", "input");
  if (x.device() == device) return x;
  if (device.is_cuda()) cuda::check_device(device.index, "to");
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), device);
  copy_(out, x);
  return out;
}

Tensor reshape(const Tensor& x, const Shape& sizes) {
  check_defined(x, "reshape", "input");
  Tensor v = x.view_if_possible(sizes, "reshape");
  if (v.defined()) return v;
  return clone(x).view_if_possible(sizes, "reshape");
}

void fill_(const Tensor& x, Scalar value) {
  check_defined(x, "fill_", "self");
  check_kernels(x, "fill_", "self");
  if (x.numel() == 0) return;
  x.bump_version();
  LAMINA_DEVICE_CALL(x.device(), "fill_", fill, x, value);
}

Tensor full(const Shape& sizes, Scalar value, DType dtype, Device device) {
  LAMINA_CHECK(has_kernels(dtype), TypeError, "full", "dtype ", dtype_name(dtype), " has no kernels yet");
  if (device.is_cuda()) cuda::check_device(device.index, "full");
  Tensor out = Tensor::empty(sizes, dtype, device);
  fill_(out, value);
  return out;
}

Tensor arange(Scalar start, Scalar end, Scalar step, DType dtype, Device device) {
  LAMINA_CHECK(dtype == DType::Float32 || dtype == DType::Float64 || dtype == DType::Int64, TypeError,
               "arange", "dtype must be float32, float64 or int64, got ", dtype_name(dtype));
  LAMINA_CHECK(std::isfinite(start.d) && std::isfinite(end.d) && std::isfinite(step.d), ValueError,
               "arange", "start, end and step must be finite, got ", start.d, ", ", end.d, ", ", step.d);
  LAMINA_CHECK(step.d != 0, ValueError, "arange", "argument 'step' must be nonzero");
  LAMINA_CHECK((step.d > 0 && end.d >= start.d) || (step.d < 0 && end.d <= start.d), ValueError,
               "arange", "upper bound and larger bound inconsistent with step sign (start ", start.d,
               ", end ", end.d, ", step ", step.d, ")");
  int64_t n;
  if (start.is_int && end.is_int && step.is_int) {
    const int64_t span = end.i - start.i;
    n = step.i > 0 ? (span + step.i - 1) / step.i : (span + step.i + 1) / step.i;
  } else {
    const double nd = std::ceil((end.d - start.d) / step.d);
    LAMINA_CHECK(nd < 9.0e15, ValueError, "arange", "too many elements (", nd, ")");
    n = static_cast<int64_t>(nd);
  }
  if (device.is_cuda()) cuda::check_device(device.index, "arange");
  Tensor out = Tensor::empty({n}, dtype, device);
  if (n > 0) LAMINA_DEVICE_CALL(device, "arange", arange, out, start, step);
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  LAMINA_CHECK(!tensors.empty(), ValueError, "cat", "expected a non-empty list of tensors");
  // PyTorch skips 1-D empty tensors of shape [0] for backward compatibility; so do we.
  const Tensor* ref = nullptr;
  for (const auto& t : tensors) {
    check_defined(t, "cat", "tensors");
    if (!(t.dim() == 1 && t.numel() == 0) && ref == nullptr) ref = &t;
  }
  if (ref == nullptr) return clone(tensors[0]);
  LAMINA_CHECK(ref->dim() > 0, ValueError, "cat", "zero-dimensional tensor cannot be concatenated");
  const int64_t d = wrap_dim(dim, ref->dim(), "cat");
  Shape out_shape = ref->sizes();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dim() == 1 && t.numel() == 0) continue;
    LAMINA_CHECK(t.dim() == ref->dim(), ValueError, "cat", "tensors must have the same number of dimensions: got ",
                 ref->dim(), " and ", t.dim(), " (tensor ", i, " has shape ", t.sizes(), ")");
    LAMINA_CHECK(t.dtype() == ref->dtype(), TypeError, "cat", "expected all tensors of dtype ",
                 dtype_name(ref->dtype()), ", tensor ", i, " has ", dtype_name(t.dtype()));
    check_same_device(*ref, t, "cat", "tensors[0]", "tensors[i]");
    for (int64_t k = 0; k < t.dim(); ++k) {
      LAMINA_CHECK(k == d || t.size(k) == ref->size(k), ValueError, "cat", "sizes of tensors must match except in dimension ",
                   d, ": expected size ", ref->size(k), " but got size ", t.size(k), " for tensor number ", i,
                   " in the list (shapes ", ref->sizes(), " and ", t.sizes(), ")");
    }
    total += t.size(d);
  }
  out_shape[d] = total;
  Tensor out = Tensor::empty(out_shape, ref->dtype(), ref->device());
  int64_t at = 0;
  for (const auto& t : tensors) {
    if (t.dim() == 1 && t.numel() == 0) continue;
    if (t.size(d) > 0) copy_(out.narrow(d, at, t.size(d)), t);
    at += t.size(d);
  }
  return out;
}

}  // namespace lamina
