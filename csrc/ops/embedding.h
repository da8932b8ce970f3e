// Embedding lookup: torch.nn.functional.embedding, out[..., :] = weight[indices[...], :].
// https://pytorch.org/docs/stable/generated/torch.nn.functional.embedding.html
//
// Shapes: weight [N, D] (num_embeddings x embedding_dim), indices any shape of int64 with values in
// [0, N), out [*indices.shape, D]. Backward is a scatter-add of grad_output's rows into a zeroed
// [N, D] gradient, in index order (deterministic, no atomics); the padding_idx row gets none.
#pragma once
#include "core/tensor.h"

namespace lamina {

// Raises IndexError naming the first index outside [0, N).
Tensor embedding_forward(const Tensor& weight, const Tensor& indices);

// grad_weight [num_weights, D]. padding_idx < 0 means none (callers normalise negative indices);
// scale_grad_by_freq divides each row's gradient by how often its index occurs in `indices`.
Tensor embedding_backward(const Tensor& grad_output, const Tensor& indices, int64_t num_weights,
                          int64_t padding_idx, bool scale_grad_by_freq);

namespace cpu {
// weight [N, D] contiguous, indices contiguous int64 already bounds-checked, out [n, D].
void embedding_forward(const Tensor& out, const Tensor& weight, const Tensor& indices);
// grad_output [n, D] contiguous, grad_weight [N, D] written (=).
void embedding_backward(const Tensor& grad_weight, const Tensor& grad_output, const Tensor& indices,
                        int64_t padding_idx, bool scale_grad_by_freq);
}  // namespace cpu

}  // namespace lamina
