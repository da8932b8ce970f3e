// Random fills from the default counter-based generator (core/rng.h): the same seed gives the
// same numbers on CPU and CUDA.
#pragma once
#include "core/tensor.h"

namespace lamina {

void uniform_(const Tensor& x, double low, double high);  // floating x
void normal_(const Tensor& x, double mean, double std);   // floating x
void randint_(const Tensor& x, int64_t low, int64_t high);  // [low, high)

// Kernel contract: x contiguous; element i uses the stream at (seed, offset, i).
namespace cpu {
void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high);
void normal(const Tensor& x, uint64_t seed, uint64_t offset, double mean, double std);
void randint(const Tensor& x, uint64_t seed, uint64_t offset, int64_t low, int64_t high);
}  // namespace cpu
namespace cuda {
void uniform(const Tensor& x, uint64_t seed, uint64_t offset, double low, double high);
void normal(const Tensor& x, uint64_t seed, uint64_t offset, double mean, double std);
void randint(const Tensor& x, uint64_t seed, uint64_t offset, int64_t low, int64_t high);
}  // namespace cuda

}  // namespace lamina
