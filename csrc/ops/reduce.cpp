#include "ops/reduce.h"

#include <algorithm>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

const char* reduce_name(ReduceOp op) {
  static const char* names[] = {"sum", "mean", "var", "std", "amax", "amin"};
  return names[static_cast<int>(op)];
}

struct ReduceView {
  Tensor xp;          // x permuted: kept dims, then reduced dims
  int64_t nreduce;    // number of trailing reduced dims
  Shape out_shape;    // final output shape (keepdim-aware)
  int64_t reduced_numel;
};

ReduceView plan_reduce(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  const int64_t nd = x.dim();
  std::vector<bool> red(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = wrap_dim(d, nd, op);
    if (nd == 0) continue;
    LAMINA_CHECK(!red[w] || dims.empty(), ValueError, op, "dim ", w, " appears multiple times in the list of dims ", dims);
    red[w] = true;
  }
  Shape perm, out_shape;
  int64_t nreduce = 0, rnumel = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (!red[d]) perm.push_back(d);
  for (int64_t d = 0; d < nd; ++d) {
    if (red[d]) {
      perm.push_back(d);
      ++nreduce;
      rnumel *= x.size(d);
      if (keepdim) out_shape.push_back(1);
    } else {
      out_shape.push_back(x.size(d));
    }
  }
  return ReduceView{x.permute(perm), nreduce, out_shape, rnumel};
}

void check_input(const Tensor& x, const char* op) {
  check_defined(x, op, "input");
  LAMINA_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64 || x.dtype() == DType::Int64,
               TypeError, op, "expected a float or int64 tensor, got dtype ", dtype_name(x.dtype()));
}

}  // namespace

Tensor reduce(ReduceOp op, const Tensor& x, const Shape& dims, bool keepdim, int64_t correction) {
  const char* name = reduce_name(op);
  check_input(x, name);
  if (op == ReduceOp::Mean || op == ReduceOp::Var || op == ReduceOp::Std) {
    LAMINA_CHECK(is_floating(x.dtype()), TypeError, name,
                 "could not infer output dtype: input dtype must be floating point, got ", dtype_name(x.dtype()));
  }
  LAMINA_CHECK(correction >= 0, ValueError, name, "argument 'correction' must be non-negative, got ", correction);
  const ReduceView v = plan_reduce(x, dims, keepdim, name);
  if (op == ReduceOp::AMax || op == ReduceOp::AMin) {
    LAMINA_CHECK(v.reduced_numel > 0 || checked_numel(v.out_shape, name) == 0, IndexError, name,
                 "expected reduction over a non-zero number of elements; input shape ", x.sizes(),
                 ", dims ", dims);
  }
  Tensor out = Tensor::empty(v.out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  LAMINA_DEVICE_CALL(x.device(), name, reduce, op, out, v.xp, v.nreduce, correction);
  return out;
}

std::pair<Tensor, Tensor> max_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_min) {
  const char* name = is_min ? "min" : "max";
  check_input(x, name);
  const ReduceView v = plan_reduce(x, {dim}, keepdim, name);
  LAMINA_CHECK(v.reduced_numel > 0, IndexError, name, "expected reduction dim ", dim,
               " to have non-zero size; input shape ", x.sizes());
  Tensor values = Tensor::empty(v.out_shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(v.out_shape, DType::Int64, x.device());
  if (values.numel() == 0) return {values, indices};
  LAMINA_DEVICE_CALL(x.device(), name, arg_reduce, values, indices, v.xp, v.nreduce, is_min);
  return {values, indices};
}

Tensor argmax(const Tensor& x, int64_t dim, bool all_dims, bool keepdim, bool is_min) {
  const char* name = is_min ? "argmin" : "argmax";
  check_input(x, name);
  ReduceView v = all_dims ? plan_reduce(x, {}, keepdim, name) : plan_reduce(x, {dim}, keepdim, name);
  LAMINA_CHECK(v.reduced_numel > 0, IndexError, name, "expected reduction over a non-empty dimension; input shape ",
               x.sizes());
  Tensor indices = Tensor::empty(v.out_shape, DType::Int64, x.device());
  if (indices.numel() == 0) return indices;
  LAMINA_DEVICE_CALL(x.device(), name, arg_reduce, Tensor(), indices, v.xp, v.nreduce, is_min);
  return indices;
}

Tensor sum_to_size(const Tensor& x, const Shape& shape) {
  check_input(x, "sum_to_size");
  LAMINA_CHECK(shape.size() <= x.sizes().size(), ValueError, "sum_to_size", "size ", shape,
               " is not expandable to size ", x.sizes());
  const size_t lead = x.sizes().size() - shape.size();
  Shape dims;
  for (size_t d = 0; d < lead; ++d) dims.push_back(static_cast<int64_t>(d));
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t xs = x.sizes()[lead + i];
    LAMINA_CHECK(shape[i] == xs || shape[i] == 1, ValueError, "sum_to_size", "size ", shape,
                 " is not expandable to size ", x.sizes());
    if (shape[i] == 1 && xs != 1) dims.push_back(static_cast<int64_t>(lead + i));
  }
  if (dims.empty()) return x;
  Tensor r = reduce(ReduceOp::Sum, x, dims, /*keepdim=*/true);
  return r.view_if_possible(shape, "sum_to_size");
}

}  // namespace lamina
