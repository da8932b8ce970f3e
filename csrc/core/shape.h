// Shape arithmetic shared by every op: contiguous strides, broadcasting, dimension wrapping.
#pragma once
#include <cstdint>
#include <vector>

#include "core/errors.h"

namespace lamina {

using Shape = std::vector<int64_t>;

// Row-major strides (in elements) for `sizes`.
Shape contiguous_strides(const Shape& sizes);

// Product of sizes; throws ValueError on negative sizes or when the product overflows int64.
int64_t checked_numel(const Shape& sizes, const char* op);

// NumPy/PyTorch broadcasting of two shapes; throws ValueError naming `op` when they don't match.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Strides of `sizes`/`strides` broadcast (expanded) to `target`: broadcast dimensions get stride 0.
Shape broadcast_strides(const Shape& sizes, const Shape& strides, const Shape& target, const char* op);

// Wraps a possibly negative dimension into [0, ndim); IndexError naming `op` when out of range.
// A 0-d tensor accepts dims -1 and 0 (as PyTorch does).
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace lamina
