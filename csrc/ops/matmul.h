// Matrix product with batch broadcasting: torch.matmul for operands of 2 or more dims
// (1-D operands are promoted and squeezed in Python, as torch.matmul documents).
// On the CPU, float32 and float64 run the packed GEMM (cpu/gemm/gemm.h) once per batch entry.
#pragma once
#include "core/tensor.h"

namespace lamina {

// a: [..., M, K], b: [..., K, N] -> [broadcast(...), M, N].
Tensor matmul(const Tensor& a, const Tensor& b);

// Kernel contract: a [B, M, K], b [B, K, N] (any strides, stride 0 allowed), out [B, M, N] contiguous.
namespace cpu {
void bmm(const Tensor& out, const Tensor& a, const Tensor& b);
}
namespace cuda {
void bmm(const Tensor& out, const Tensor& a, const Tensor& b);
}

}  // namespace lamina
