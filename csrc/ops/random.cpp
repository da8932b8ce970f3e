#include "ops/random.h"

#include <cmath>

#include "core/rng.h"
#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

// Draws into a contiguous buffer and copies back when x is a strided view.
template <typename F>
void fill_random(const Tensor& x, const char* op, uint64_t blocks, const F& draw) {
  check_defined(x, op, "self");
  if (x.numel() == 0) return;
  x.bump_version();
  const Tensor c = x.is_contiguous() ? x : Tensor::empty(x.sizes(), x.dtype(), x.device());
  const GeneratorState g = default_generator();
  const uint64_t offset = reserve_blocks(blocks);
  draw(c, g.seed, offset);
  if (!c.shares_storage(x)) copy_(x, c);
}

void check_float(const Tensor& x, const char* op) {
  check_defined(x, op, "self");
  LAMINA_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, TypeError, op,
               "expected a float32 or float64 tensor, got ", dtype_name(x.dtype()));
}

}  // namespace

void uniform_(const Tensor& x, double low, double high) {
  check_float(x, "uniform_");
  LAMINA_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high, ValueError, "uniform_",
               "expected finite 'from' <= 'to', got from=", low, " to=", high);
  const uint64_t n = static_cast<uint64_t>(x.numel());
  const uint64_t blocks = x.dtype() == DType::Float32 ? uniform_blocks_f32(n) : uniform_blocks_f64(n);
  fill_random(x, "uniform_", blocks, [&](const Tensor& c, uint64_t seed, uint64_t off) {
    LAMINA_DEVICE_CALL(c.device(), "uniform_", uniform, c, seed, off, low, high);
  });
}

void normal_(const Tensor& x, double mean, double std) {
  check_float(x, "normal_");
  LAMINA_CHECK(std::isfinite(mean) && std::isfinite(std) && std >= 0, ValueError, "normal_",
               "expected finite mean and std >= 0, got mean=", mean, " std=", std);
  fill_random(x, "normal_", normal_blocks(static_cast<uint64_t>(x.numel())),
              [&](const Tensor& c, uint64_t seed, uint64_t off) {
                LAMINA_DEVICE_CALL(c.device(), "normal_", normal, c, seed, off, mean, std);
              });
}

void randint_(const Tensor& x, int64_t low, int64_t high) {
  check_defined(x, "randint", "self");
  LAMINA_CHECK(x.dtype() == DType::Int64 || is_floating(x.dtype()), TypeError, "randint",
               "expected an int64 or floating tensor, got ", dtype_name(x.dtype()));
  LAMINA_CHECK(low < high, ValueError, "randint", "expected 'low' < 'high', got low=", low, " high=", high);
  fill_random(x, "randint", uniform_blocks_f64(static_cast<uint64_t>(x.numel())),
              [&](const Tensor& c, uint64_t seed, uint64_t off) {
                LAMINA_DEVICE_CALL(c.device(), "randint", randint, c, seed, off, low, high);
              });
}

}  // namespace lamina
