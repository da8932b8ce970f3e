#include "ops/matmul.h"

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {

Tensor matmul(const Tensor& a, const Tensor& b) {
  const char* op = "matmul";
  check_defined(a, op, "input");
  check_defined(b, op, "other");
  LAMINA_CHECK(a.dim() >= 2 && b.dim() >= 2, ValueError, op, "both arguments need at least 2 dims here, got shapes ",
               a.sizes(), " and ", b.sizes());
  LAMINA_CHECK(a.dtype() == b.dtype(), TypeError, op, "expected 'input' and 'other' of the same dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  LAMINA_CHECK(a.dtype() == DType::Float32 || a.dtype() == DType::Float64 || a.dtype() == DType::Int64, TypeError,
               op, "expected float32, float64 or int64 operands, got ", dtype_name(a.dtype()));
  check_same_device(a, b, op, "input", "other");
  const int64_t M = a.size(-2), K = a.size(-1), K2 = b.size(-2), N = b.size(-1);
  LAMINA_CHECK(K == K2, ValueError, op, "shapes ", a.sizes(), " and ", b.sizes(),
               " cannot be multiplied (", M, "x", K, " and ", K2, "x", N, ")");
  const Shape abatch(a.sizes().begin(), a.sizes().end() - 2);
  const Shape bbatch(b.sizes().begin(), b.sizes().end() - 2);
  const Shape batch = broadcast_shapes(abatch, bbatch, op);
  const int64_t B = checked_numel(batch, op);
  Shape ashape = batch, bshape = batch, out_shape = batch;
  ashape.insert(ashape.end(), {M, K});
  bshape.insert(bshape.end(), {K, N});
  out_shape.insert(out_shape.end(), {M, N});
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  // Collapse the batch dims into one. Expanded batch dims may not merge into one stride, in
  // which case that operand is materialised first.
  auto as3 = [&](const Tensor& t, const Shape& s, int64_t rows, int64_t cols) {
    const Tensor e = t.expand(s);
    const Tensor v = e.view_if_possible({B, rows, cols}, op);
    return v.defined() ? v : contiguous(e).view_if_possible({B, rows, cols}, op);
  };
  const Tensor a3 = as3(a, ashape, M, K), b3 = as3(b, bshape, K, N);
  const Tensor o3 = out.view_if_possible({B, M, N}, op);
  LAMINA_DEVICE_CALL(out.device(), op, bmm, o3, a3, b3);
  return out;
}

}  // namespace lamina
