// Argument checks and dispatch for ops/linear.h. The leading dims of x are flattened into M rows
// without a copy when its strides allow; GEMM operands that are not plain (or transposed)
// matrices in memory are made contiguous first.
#include "ops/linear.h"

#include <algorithm>

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

constexpr const char* kOp = "linear";

void check_cpu(const Tensor& t) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, kOp,
               "CUDA kernels for linear are not implemented yet; move the tensor to the CPU with .cpu()");
}

void check_float(const Tensor& t, const char* name) {
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, kOp, "argument '",
               name, "' must be float32 or float64, got ", dtype_name(t.dtype()));
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* an, const char* bn) {
  LAMINA_CHECK(a.dtype() == b.dtype(), TypeError, kOp, "expected '", an, "' and '", bn,
               "' of the same dtype, got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
}

// t viewed as a rows x cols matrix the GEMM can read in place, or a contiguous copy.
cpu::MatrixArg as_matrix(const Tensor& t, int64_t rows, int64_t cols) {
  const Tensor v = t.view_if_possible({rows, cols}, kOp);
  if (v.defined()) {
    const int64_t s0 = v.stride(0), s1 = v.stride(1);
    if (cols == 1 || s1 == 1) {  // row-major: (i, j) at i * ld + j
      const int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : s0;
      if (ld >= std::max<int64_t>(cols, 1)) return {v, false, ld};
    }
    if (rows == 1 || s0 == 1) {  // column-major (a transposed view): (i, j) at j * ld + i
      const int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : s1;
      if (ld >= std::max<int64_t>(rows, 1)) return {v, true, ld};
    }
  }
  const Tensor c = contiguous(t).view_if_possible({rows, cols}, kOp);
  return {c, false, std::max<int64_t>(cols, 1)};
}

Shape out_shape_of(const Shape& in, int64_t n) {
  Shape s(in.begin(), in.end() - 1);
  s.push_back(n);
  return s;
}

int64_t rows_of(const Shape& in) {
  int64_t m = 1;
  for (size_t i = 0; i + 1 < in.size(); ++i) m *= in[i];
  return m;
}

}  // namespace

Tensor linear_forward(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  check_defined(input, kOp, "input");
  check_defined(weight, kOp, "weight");
  check_float(input, "input");
  check_same_dtype(input, weight, "input", "weight");
  check_same_device(input, weight, kOp, "input", "weight");
  if (bias.defined()) {
    check_same_dtype(input, bias, "input", "bias");
    check_same_device(input, bias, kOp, "input", "bias");
  }
  check_cpu(input);
  LAMINA_CHECK(input.dim() >= 1, ValueError, kOp,
               "argument 'input' must have at least 1 dimension (*, in_features), got a 0-d tensor");
  LAMINA_CHECK(weight.dim() == 2, ValueError, kOp,
               "argument 'weight' must be 2-D (out_features, in_features), got shape ", weight.sizes());
  const int64_t K = input.size(-1), N = weight.size(0);
  LAMINA_CHECK(weight.size(1) == K, ValueError, kOp, "input's last dimension (", K,
               ") must equal weight's in_features (", weight.size(1), "): input shape ", input.sizes(),
               ", weight shape ", weight.sizes());
  if (bias.defined()) {
    LAMINA_CHECK(bias.dim() == 1 && bias.size(0) == N, ValueError, kOp,
                 "argument 'bias' must have shape [", N, "] (out_features), got ", bias.sizes(),
                 " with weight shape ", weight.sizes());
  }
  const int64_t M = rows_of(input.sizes());
  Tensor out = Tensor::empty(out_shape_of(input.sizes(), N), input.dtype(), input.device());
  if (out.numel() == 0) return out;
  if (K == 0) {  // an empty sum: y = b (or 0)
    if (bias.defined()) {
      copy_(out, bias);
    } else {
      fill_(out, Scalar::from_double(0.0));
    }
    return out;
  }
  cpu::linear_forward(out, as_matrix(input, M, K), as_matrix(weight, N, K), bias, M, N, K);
  return out;
}

LinearGrads linear_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                            const Shape& input_shape, bool need_input, bool need_weight, bool need_bias) {
  check_defined(grad_output, kOp, "grad_output");
  check_float(grad_output, "grad_output");
  check_cpu(grad_output);
  LAMINA_CHECK(!input_shape.empty(), ValueError, kOp, "input_shape must have at least 1 dimension");
  const int64_t K = input_shape.back(), M = rows_of(input_shape);
  LAMINA_CHECK(grad_output.dim() == static_cast<int64_t>(input_shape.size()), ValueError, kOp,
               "grad_output shape ", grad_output.sizes(), " does not match input shape ", input_shape);
  const int64_t N = grad_output.size(-1);
  LAMINA_CHECK(grad_output.sizes() == out_shape_of(input_shape, N), ValueError, kOp, "grad_output shape ",
               grad_output.sizes(), " does not match input shape ", input_shape);
  if (need_input) {
    check_defined(weight, kOp, "weight");
    check_same_dtype(grad_output, weight, "grad_output", "weight");
    check_same_device(grad_output, weight, kOp, "grad_output", "weight");
    LAMINA_CHECK(weight.dim() == 2 && weight.size(0) == N && weight.size(1) == K, ValueError, kOp,
                 "weight shape ", weight.sizes(), " does not match grad_output shape ", grad_output.sizes(),
                 " and input shape ", input_shape);
  }
  if (need_weight) {
    check_defined(input, kOp, "input");
    check_same_dtype(grad_output, input, "grad_output", "input");
    check_same_device(grad_output, input, kOp, "grad_output", "input");
    LAMINA_CHECK(input.sizes() == input_shape, ValueError, kOp, "input shape ", input.sizes(),
                 " does not match input_shape ", input_shape);
  }
  const DType dt = grad_output.dtype();
  const Device dev = grad_output.device();
  LinearGrads r;
  if (need_input) r.grad_input = Tensor::empty(input_shape, dt, dev);
  if (need_weight) r.grad_weight = Tensor::empty({N, K}, dt, dev);
  if (need_bias) r.grad_bias = Tensor::empty({N}, dt, dev);
  if (M == 0 || N == 0 || K == 0) {  // empty sums are zero
    for (const Tensor* t : {&r.grad_input, &r.grad_weight, &r.grad_bias})
      if (t->defined() && t->numel() > 0) fill_(*t, Scalar::from_double(0.0));
    return r;
  }
  const cpu::MatrixArg g = as_matrix(grad_output, M, N);
  const cpu::MatrixArg x = need_weight ? as_matrix(input, M, K) : cpu::MatrixArg{};
  const cpu::MatrixArg w = need_input ? as_matrix(weight, N, K) : cpu::MatrixArg{};
  cpu::linear_backward(r.grad_input, r.grad_weight, r.grad_bias, g, x, w, M, N, K);
  return r;
}

}  // namespace lamina
