#include "ops/elementwise.h"

#include "ops/dispatch.h"

namespace lamina {

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "floor_divide", "remainder", "eq", "ne", "lt", "le", "gt", "ge",
                                "logical_and", "logical_or"};
  return names[static_cast<int>(op)];
}

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "reciprocal",
                                "sin", "cos", "tanh", "sigmoid", "log1p", "expm1", "floor", "ceil",
                                "round", "logical_not", "relu"};
  return names[static_cast<int>(op)];
}

bool is_comparison(BinaryOp op) {
  return op >= BinaryOp::Eq;
}

namespace {

void check_binary_operands(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_op_name(op);
  check_defined(a, name, "input");
  check_defined(b, name, "other");
  check_kernels(a, name, "input");
  check_kernels(b, name, "other");
  check_same_device(a, b, name, "input", "other");
  LAMINA_CHECK(a.dtype() == b.dtype(), TypeError, name, "expected 'input' and 'other' of the same dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  const bool logical = op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr;
  if (!is_comparison(op) && !logical) {
    LAMINA_CHECK(a.dtype() != DType::Bool, TypeError, name, "arithmetic on bool tensors is not supported; convert with .long() or .float() first");
  }
  if (op == BinaryOp::Div) {
    LAMINA_CHECK(is_floating(a.dtype()), TypeError, name, "true division needs floating-point operands, got ",
                 dtype_name(a.dtype()), " (use floor_divide for integers)");
  }
}

// Integer division and integer powers have inputs that would trap or be undefined.
void check_integer_domain(BinaryOp op, const Tensor& b) {
  if (b.dtype() != DType::Int64) return;
  const char* name = binary_op_name(op);
  if (op == BinaryOp::FloorDiv || op == BinaryOp::Remainder) {
    const bool zero = LAMINA_DEVICE_CALL(b.device(), name, any_zero, b);
    LAMINA_CHECK(!zero, ValueError, name, "integer division by zero in argument 'other'");
  }
  if (op == BinaryOp::Pow) {
    const bool neg = LAMINA_DEVICE_CALL(b.device(), name, any_negative, b);
    LAMINA_CHECK(!neg, ValueError, name, "integers to negative integer powers are not allowed");
  }
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  check_binary_operands(op, a, b);
  const char* name = binary_op_name(op);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  check_integer_domain(op, b);
  const bool to_bool = is_comparison(op) || op == BinaryOp::LogicalAnd || op == BinaryOp::LogicalOr;
  Tensor out = Tensor::empty(shape, to_bool ? DType::Bool : a.dtype(), a.device());
  if (out.numel() == 0) return out;
  LAMINA_DEVICE_CALL(out.device(), name, binary, op, out, a.expand(shape), b.expand(shape));
  return out;
}

void binary_inplace(BinaryOp op, const Tensor& out, const Tensor& b) {
  check_binary_operands(op, out, b);
  const char* name = binary_op_name(op);
  LAMINA_CHECK(!is_comparison(op) && op != BinaryOp::LogicalAnd && op != BinaryOp::LogicalOr, ValueError,
               name, "in-place comparisons are not supported");
  const Shape shape = broadcast_shapes(out.sizes(), b.sizes(), name);
  LAMINA_CHECK(shape == out.sizes(), ValueError, name, "in-place: shape ", b.sizes(),
               " cannot be broadcast to the output shape ", out.sizes());
  check_integer_domain(op, b);
  for (int64_t d = 0; d < out.dim(); ++d) {
    LAMINA_CHECK(out.stride(d) != 0 || out.size(d) <= 1, ValueError, name,
                 "in-place: the output ", out.describe(), " has broadcast (stride 0) dims; call .contiguous() first");
  }
  if (out.numel() == 0) return;
  out.bump_version();
  LAMINA_DEVICE_CALL(out.device(), name, binary, op, out, out, b.expand(shape));
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_defined(x, name, "input");
  check_kernels(x, name, "input");
  const bool int_ok = op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign ||
                      op == UnaryOp::LogicalNot || op == UnaryOp::Relu || op == UnaryOp::Floor ||
                      op == UnaryOp::Ceil || op == UnaryOp::Round;
  if (!int_ok) {
    LAMINA_CHECK(is_floating(x.dtype()), TypeError, name, "expected a floating-point tensor, got dtype ",
                 dtype_name(x.dtype()));
  }
  if (op != UnaryOp::LogicalNot) {
    LAMINA_CHECK(x.dtype() != DType::Bool, TypeError, name, "not supported for bool tensors");
  }
  Tensor out = Tensor::empty(x.sizes(), op == UnaryOp::LogicalNot ? DType::Bool : x.dtype(), x.device());
  if (out.numel() == 0) return out;
  LAMINA_DEVICE_CALL(out.device(), name, unary, op, out, x);
  return out;
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  check_defined(x, "clamp", "input");
  check_kernels(x, "clamp", "input");
  LAMINA_CHECK(min.has_value() || max.has_value(), ValueError, "clamp", "at least one of 'min' or 'max' must not be None");
  LAMINA_CHECK(x.dtype() != DType::Bool, TypeError, "clamp", "not supported for bool tensors");
  Tensor out = Tensor::empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  LAMINA_DEVICE_CALL(out.device(), "clamp", clamp, out, x, min, max);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "condition");
  check_defined(a, "where", "input");
  check_defined(b, "where", "other");
  check_kernels(a, "where", "input");
  LAMINA_CHECK(cond.dtype() == DType::Bool, TypeError, "where", "argument 'condition' must be a bool tensor, got ",
               dtype_name(cond.dtype()));
  LAMINA_CHECK(a.dtype() == b.dtype(), TypeError, "where", "expected 'input' and 'other' of the same dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  check_same_device(cond, a, "where", "condition", "input");
  check_same_device(a, b, "where", "input", "other");
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.sizes(), a.sizes(), "where"), b.sizes(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  LAMINA_DEVICE_CALL(out.device(), "where", where, out, cond.expand(shape), a.expand(shape), b.expand(shape));
  return out;
}

}  // namespace lamina
