// Argument checks and dispatch for ops/embedding.h.
#include "ops/embedding.h"

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

constexpr const char* kOp = "embedding";

void check_cpu(const Tensor& t) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, kOp,
               "CUDA kernels for embedding are not implemented yet; move the tensor to the CPU with .cpu()");
}

void check_indices(const Tensor& indices) {
  check_defined(indices, kOp, "input");
  LAMINA_CHECK(indices.dtype() == DType::Int64, TypeError, kOp,
               "argument 'input' (the indices) must be int64, got ", dtype_name(indices.dtype()));
  check_cpu(indices);
}

// Throws IndexError naming the first index outside [0, n).
void check_bounds(const Tensor& idx, int64_t n) {
  const int64_t* p = idx.data<int64_t>();
  for (int64_t i = 0; i < idx.numel(); ++i) {
    LAMINA_CHECK(p[i] >= 0 && p[i] < n, IndexError, kOp, "index ", p[i], " at position ", i,
                 " of 'input' is out of range for num_embeddings ", n, " (valid indices are 0 to ",
                 n - 1, ")");
  }
}

Shape out_shape(const Tensor& indices, int64_t D) {
  Shape s = indices.sizes();
  s.push_back(D);
  return s;
}

}  // namespace

Tensor embedding_forward(const Tensor& weight, const Tensor& indices) {
  check_defined(weight, kOp, "weight");
  LAMINA_CHECK(weight.dtype() == DType::Float32 || weight.dtype() == DType::Float64, TypeError, kOp,
               "argument 'weight' must be float32 or float64, got ", dtype_name(weight.dtype()));
  check_indices(indices);
  check_cpu(weight);
  LAMINA_CHECK(weight.dim() == 2, ValueError, kOp,
               "argument 'weight' must be 2-D (num_embeddings, embedding_dim), got shape ", weight.sizes());
  const Tensor idx = contiguous(indices);
  check_bounds(idx, weight.size(0));
  Tensor out = Tensor::empty(out_shape(indices, weight.size(1)), weight.dtype());
  if (out.numel() == 0) return out;
  cpu::embedding_forward(out, contiguous(weight), idx);
  return out;
}

Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights,
                          int64_t padding_idx, bool scale_grad_by_freq) {
  check_defined(grad_output, kOp, "grad_output");
  LAMINA_CHECK(grad_output.dtype() == DType::Float32 || grad_output.dtype() == DType::Float64, TypeError,
               kOp, "argument 'grad_output' must be float32 or float64, got ", dtype_name(grad_output.dtype()));
  check_cpu(grad_output);
  check_indices(indices);
  LAMINA_CHECK(num_weights >= 0, ValueError, kOp, "num_weights must be non-negative, got ", num_weights);
  LAMINA_CHECK(grad_output.dim() == indices.dim() + 1, ValueError, kOp, "grad_output shape ",
               grad_output.sizes(), " does not match indices shape ", indices.sizes());
  const int64_t D = grad_output.size(-1);
  LAMINA_CHECK(grad_output.sizes() == out_shape(indices, D), ValueError, kOp, "grad_output shape ",
               grad_output.sizes(), " does not match indices shape ", indices.sizes());
  const Tensor idx = contiguous(indices);
  check_bounds(idx, num_weights);
  Tensor gw = Tensor::empty({num_weights, D}, grad_output.dtype());
  cpu::embedding_backward(gw, contiguous(grad_output), idx, padding_idx, scale_grad_by_freq);
  return gw;
}

}  // namespace lamina
