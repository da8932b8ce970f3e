// Elementwise ops with broadcasting: unary, binary, clamp, where.
// Semantics follow torch.add/sub/mul/div/pow/maximum/minimum/eq/..., torch.clamp, torch.where
// (https://pytorch.org/docs/stable/torch.html#pointwise-ops). Type promotion happens in Python;
// here operands must share a dtype (comparisons return bool).
#pragma once
#include <optional>

#include "core/scalar.h"
#include "core/tensor.h"

namespace lamina {

enum class BinaryOp : int {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum, FloorDiv, Remainder,
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
};
enum class UnaryOp : int {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Reciprocal, Sin, Cos, Tanh, Sigmoid,
  Log1p, Expm1, Floor, Ceil, Round, LogicalNot, Relu,
};

const char* binary_op_name(BinaryOp op);
const char* unary_op_name(UnaryOp op);
bool is_comparison(BinaryOp op);

// out = a <op> b, broadcast. A fresh contiguous output.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);
// out <op>= b in place (b broadcast to out's shape): out = out <op> b.
void binary_inplace(BinaryOp op, const Tensor& out, const Tensor& b);
Tensor unary(UnaryOp op, const Tensor& x);
// torch.clamp: NaN propagates; bounds are optional.
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
// torch.where(cond, a, b): cond is bool; a and b share a dtype; all three broadcast.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Kernels. Operands are already broadcast to out's shape (stride 0 where broadcast), checked,
// on out's device, with out's dtype (bool out for comparisons).
namespace cpu {
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
void unary(UnaryOp op, const Tensor& out, const Tensor& x);
void clamp(const Tensor& out, const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
bool any_zero(const Tensor& x);      // for integer division checks
bool any_negative(const Tensor& x);  // for integer pow checks
}  // namespace cpu
namespace cuda {
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
void unary(UnaryOp op, const Tensor& out, const Tensor& x);
void clamp(const Tensor& out, const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
bool any_zero(const Tensor& x);
bool any_negative(const Tensor& x);
}  // namespace cuda

}  // namespace lamina
