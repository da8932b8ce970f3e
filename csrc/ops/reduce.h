// Reductions over any set of dims: sum, mean, var/std (with correction), max/min (values and
// indices), argmax/argmin, and sum_to_size (the backward of broadcasting).
// Semantics: torch.sum/mean/var/std/amax/amin/max/min/argmax/argmin.
#pragma once
#include <utility>

#include "core/tensor.h"

namespace lamina {

enum class ReduceOp : int { Sum, Mean, Var, Std, AMax, AMin };

// dims empty = all dims. correction is used by Var/Std only.
Tensor reduce(ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim, int64_t correction = 1);
// torch.max(x, dim, keepdim) / torch.min: (values, int64 indices of the first extreme; NaN wins).
std::pair<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_min);
// torch.argmax(x, dim=None): over the flattened tensor when dim is absent (all_dims = true).
Tensor argmax(const Tensor& x, int64_t dim, bool all_dims, bool keepdim, bool is_min);
// Sums `x` down to `shape`, reversing a broadcast of shape -> x.sizes().
Tensor sum_to_size(const Tensor& x, const Shape& shape);

// Kernel contract: `x` is viewed so its reduced dims are the trailing `nreduce` dims; out has
// numel == prod of the kept dims and is contiguous. indices may be undefined.
namespace cpu {
void reduce(ReduceOp op, const Tensor& out, const Tensor& x, int64_t nreduce, int64_t correction);
void arg_reduce(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t nreduce, bool is_min);
}  // namespace cpu
namespace cuda {
void reduce(ReduceOp op, const Tensor& out, const Tensor& x, int64_t nreduce, int64_t correction);
void arg_reduce(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t nreduce, bool is_min);
}  // namespace cuda

}  // namespace lamina
