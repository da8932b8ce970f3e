// Copies with casts, fills and arange on CUDA (torch.Tensor.copy_, fill_, torch.arange).
// Casts are static_cast (bool from a number is x != 0, so NaN gives true). arange computes
// start + i * step in double for floating outputs and in int64 for int64 (as PyTorch does on the
// CPU), then stores.
#include <cstring>

#include "cuda/loops.cuh"
#include "ops/copy.h"

namespace lamina::cuda {
namespace {

template <typename D, typename S>
struct CopyBody {
  D* dst;
  const S* src;
  __device__ void operator()(const int64_t (&off)[2]) const {
    dst[off[0]] = static_cast<D>(src[off[1]]);
  }
};

template <typename T>
struct FillBody {
  T* x;
  T value;
  __device__ void operator()(const int64_t (&off)[1]) const { x[off[0]] = value; }
};

template <typename T>
struct ArangeBody {
  T* out;
  double start_d, step_d;
  int64_t start_i, step_i;
  __device__ void operator()(int64_t i) const {
    if constexpr (std::is_floating_point_v<T>) {
      // Unfused, so it rounds as the CPU does.
      out[i] = static_cast<T>(__dadd_rn(start_d, __dmul_rn(static_cast<double>(i), step_d)));
    } else {  // int64, wrapping like two's complement
      const uint64_t v = static_cast<uint64_t>(start_i) +
                         static_cast<uint64_t>(i) * static_cast<uint64_t>(step_i);
      out[i] = static_cast<T>(static_cast<int64_t>(v));
    }
  }
};

}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  const char* name = "copy_";
  if (dst.numel() == 0) return;
  LAMINA_CHECK(dst.device() == src.device(), RuntimeError, name,
               "CUDA copy kernel expects both tensors on one device, got ", dst.device().str(),
               " and ", src.device().str());
  const int device = dst.device().index;
  DeviceGuard guard(device);
  const Shape& shape = dst.sizes();
  const StridedPlan<2> plan =
      make_plan<2>(shape, {dst.strides(), strides_for(src, shape, name)}, name);
  // Same dtype and both dense in the same order: one memcpy.
  if (dst.dtype() == src.dtype() && plan.ndim == 1 && plan.strides[0][0] == 1 &&
      plan.strides[1][0] == 1) {
    LAMINA_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(),
                                      static_cast<size_t>(plan.numel * dst.itemsize()),
                                      cudaMemcpyDeviceToDevice, current_stream(device)),
                      name);
    return;
  }
  LAMINA_DISPATCH_ALL(dst.dtype(), name, [&](auto dtag) {
    using D = decltype(dtag);
    LAMINA_DISPATCH_ALL(src.dtype(), name, [&](auto stag) {
      using S = decltype(stag);
      launch_plan(plan, CopyBody<D, S>{dst.data<D>(), src.data<S>()}, device, name);
    });
  });
}

void fill(const Tensor& x, Scalar value) {
  const char* name = "fill_";
  if (x.numel() == 0) return;
  const int device = x.device().index;
  DeviceGuard guard(device);
  const StridedPlan<1> plan = make_plan<1>(x.sizes(), {x.strides()}, name);
  LAMINA_DISPATCH_ALL(x.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T v = value.to<T>();
    // Dense and all-zero bytes (zeros(), +0.0, false): a memset.
    const T zero{};
    if (plan.ndim == 1 && plan.strides[0][0] == 1 && std::memcmp(&v, &zero, sizeof(T)) == 0) {
      LAMINA_CUDA_CHECK(cudaMemsetAsync(x.data_ptr(), 0, static_cast<size_t>(plan.numel) * sizeof(T),
                                        current_stream(device)),
                        name);
      return;
    }
    launch_plan(plan, FillBody<T>{x.data<T>(), v}, device, name);
  });
}

void arange(const Tensor& out, Scalar start, Scalar step) {
  const char* name = "arange";
  if (out.numel() == 0) return;
  LAMINA_CHECK(out.is_contiguous(), ValueError, name, "CUDA kernel expects a contiguous output");
  const int device = out.device().index;
  DeviceGuard guard(device);
  LAMINA_DISPATCH_NUMERIC(out.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const ArangeBody<T> body{out.data<T>(), start.to<double>(), step.to<double>(),
                             start.to<int64_t>(), step.to<int64_t>()};
    launch_linear(out.numel(), body, device, name);
  });
}

}  // namespace lamina::cuda
