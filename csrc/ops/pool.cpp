#include "ops/pool.h"

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

std::array<int64_t, 2> pair_arg(const Shape& v, const char* op, const char* arg) {
  LAMINA_CHECK(v.size() == 1 || v.size() == 2, ValueError, op, "argument '", arg,
               "' must have 1 or 2 values, got ", v);
  return {v[0], v.size() == 2 ? v[1] : v[0]};
}

void check_input(const Tensor& input, const char* op, const char* name = "input") {
  check_defined(input, op, name);
  LAMINA_CHECK(input.dtype() == DType::Float32 || input.dtype() == DType::Float64, TypeError, op,
               "expected a float32 or float64 '", name, "', got dtype ", dtype_name(input.dtype()));
  LAMINA_CHECK(input.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu()");
}

// [N, C, H, W] or [C, H, W] with non-empty C, H, W (N may be 0).
void check_sizes(const Shape& s, const char* op, const char* name = "input") {
  LAMINA_CHECK(s.size() == 3 || s.size() == 4, ValueError, op, "expected a 3-D (unbatched) or 4-D (batched) '",
               name, "' of shape [N, C, H, W], got shape ", s);
  const size_t d = s.size();
  LAMINA_CHECK(s[d - 1] > 0 && s[d - 2] > 0 && s[d - 3] > 0, ValueError, op, "expected '", name,
               "' with non-empty channel and spatial dims (only the batch may be 0), got shape ", s);
}

int64_t planes(const Shape& s) { return s.size() == 4 ? s[0] * s[1] : s[0]; }

Shape with_spatial(const Shape& s, int64_t oh, int64_t ow) {
  Shape o = s;
  o[o.size() - 2] = oh;
  o[o.size() - 1] = ow;
  return o;
}

// PyTorch's pooling_output_shape.
int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation, bool ceil_mode) {
  const int64_t num = in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // floor division (num may be negative when the window is larger than the padded input)
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Pool2dGeometry make_geometry(const Shape& in, const Shape& kernel_size, const Shape& stride, const Shape& padding,
                             const Shape& dilation, bool ceil_mode, const char* op) {
  check_sizes(in, op);
  const auto k = pair_arg(kernel_size, op, "kernel_size");
  const auto s = stride.empty() ? k : pair_arg(stride, op, "stride");  // torch: stride=None means kernel_size
  const auto p = pair_arg(padding, op, "padding");
  const auto d = pair_arg(dilation, op, "dilation");
  LAMINA_CHECK(k[0] > 0 && k[1] > 0, ValueError, op, "'kernel_size' must be positive, got ", Shape{k[0], k[1]});
  LAMINA_CHECK(s[0] > 0 && s[1] > 0, ValueError, op, "'stride' must be positive, got ", Shape{s[0], s[1]});
  LAMINA_CHECK(d[0] > 0 && d[1] > 0, ValueError, op, "'dilation' must be positive, got ", Shape{d[0], d[1]});
  LAMINA_CHECK(p[0] >= 0 && p[1] >= 0, ValueError, op, "'padding' must be non-negative, got ", Shape{p[0], p[1]});
  LAMINA_CHECK(p[0] <= k[0] / 2 && p[1] <= k[1] / 2, ValueError, op,
               "'padding' should be at most half of 'kernel_size', got padding ", Shape{p[0], p[1]},
               " and kernel_size ", Shape{k[0], k[1]});
  Pool2dGeometry g{};
  g.NC = planes(in);
  g.H = in[in.size() - 2];
  g.W = in[in.size() - 1];
  g.KH = k[0];
  g.KW = k[1];
  g.stride_h = s[0];
  g.stride_w = s[1];
  g.pad_h = p[0];
  g.pad_w = p[1];
  g.dilation_h = d[0];
  g.dilation_w = d[1];
  g.OH = pooled_size(g.H, g.KH, g.pad_h, g.stride_h, g.dilation_h, ceil_mode);
  g.OW = pooled_size(g.W, g.KW, g.pad_w, g.stride_w, g.dilation_w, ceil_mode);
  LAMINA_CHECK(g.OH >= 1 && g.OW >= 1, ValueError, op, "'input' of shape ", in, " gives an output of ", g.OH,
               " x ", g.OW, " for kernel_size ", Shape{k[0], k[1]}, ", stride ", Shape{s[0], s[1]}, ", padding ",
               Shape{p[0], p[1]}, ", dilation ", Shape{d[0], d[1]},
               ": the output is too small (the window is larger than the padded input)");
  return g;
}

void check_grad_output(const Tensor& grad_output, const Shape& expected, const char* op) {
  check_input(grad_output, op, "grad_output");
  LAMINA_CHECK(grad_output.sizes() == expected, ValueError, op, "expected 'grad_output' of shape ", expected,
               ", got ", grad_output.sizes());
}

int64_t check_divisor(std::optional<int64_t> divisor_override, const char* op) {
  if (!divisor_override) return 0;
  LAMINA_CHECK(*divisor_override != 0, ValueError, op, "'divisor_override' must not be zero");
  return *divisor_override;
}

}  // namespace

std::array<Tensor, 2> max_pool2d_forward(const Tensor& input, const Shape& kernel_size, const Shape& stride,
                                         const Shape& padding, const Shape& dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  check_input(input, op);
  const Pool2dGeometry g = make_geometry(input.sizes(), kernel_size, stride, padding, dilation, ceil_mode, op);
  const Shape os = with_spatial(input.sizes(), g.OH, g.OW);
  Tensor out = Tensor::empty(os, input.dtype(), input.device());
  Tensor idx = Tensor::empty(os, DType::Int64, input.device());
  if (out.numel() > 0) cpu::max_pool2d_forward(out, idx, contiguous(input), g);
  return {out, idx};
}

Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices, const Shape& input_sizes) {
  const char* op = "max_pool2d";
  check_sizes(input_sizes, op, "input_sizes");
  check_defined(indices, op, "indices");
  LAMINA_CHECK(indices.dtype() == DType::Int64, TypeError, op, "expected int64 'indices', got ",
               dtype_name(indices.dtype()));
  check_input(grad_output, op, "grad_output");
  check_same_device(grad_output, indices, op, "grad_output", "indices");
  LAMINA_CHECK(grad_output.sizes() == indices.sizes() && grad_output.dim() == static_cast<int64_t>(input_sizes.size()),
               ValueError, op, "'grad_output' of shape ", grad_output.sizes(), " and 'indices' of shape ",
               indices.sizes(), " do not match the output of an input of shape ", input_sizes);
  for (size_t d = 0; d + 2 < input_sizes.size(); ++d)
    LAMINA_CHECK(grad_output.size(d) == input_sizes[d], ValueError, op, "'grad_output' of shape ",
                 grad_output.sizes(), " does not match the input shape ", input_sizes);
  Pool2dGeometry g{};
  g.NC = planes(input_sizes);
  g.H = input_sizes[input_sizes.size() - 2];
  g.W = input_sizes[input_sizes.size() - 1];
  g.OH = grad_output.size(-2);
  g.OW = grad_output.size(-1);
  Tensor dx = Tensor::empty(input_sizes, grad_output.dtype(), grad_output.device());
  if (dx.numel() > 0) {
    const int64_t bad = cpu::max_pool2d_backward(dx, contiguous(grad_output), contiguous(indices), g);
    LAMINA_CHECK(bad == 0, IndexError, op, bad, " of the 'indices' are outside the ", g.H, " x ", g.W,
                 " planes of the input of shape ", input_sizes);
  }
  return dx;
}

Tensor avg_pool2d_forward(const Tensor& input, const Shape& kernel_size, const Shape& stride, const Shape& padding,
                          bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  check_input(input, op);
  const int64_t div = check_divisor(divisor_override, op);
  const Pool2dGeometry g = make_geometry(input.sizes(), kernel_size, stride, padding, {1}, ceil_mode, op);
  Tensor out = Tensor::empty(with_spatial(input.sizes(), g.OH, g.OW), input.dtype(), input.device());
  if (out.numel() > 0) cpu::avg_pool2d_forward(out, contiguous(input), g, count_include_pad, div);
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_sizes, const Shape& kernel_size,
                           const Shape& stride, const Shape& padding, bool ceil_mode, bool count_include_pad,
                           std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  const int64_t div = check_divisor(divisor_override, op);
  const Pool2dGeometry g = make_geometry(input_sizes, kernel_size, stride, padding, {1}, ceil_mode, op);
  check_grad_output(grad_output, with_spatial(input_sizes, g.OH, g.OW), op);
  Tensor dx = Tensor::empty(input_sizes, grad_output.dtype(), grad_output.device());
  if (dx.numel() > 0) cpu::avg_pool2d_backward(dx, contiguous(grad_output), g, count_include_pad, div);
  return dx;
}

Tensor adaptive_avg_pool2d_forward(const Tensor& input, const Shape& output_size) {
  const char* op = "adaptive_avg_pool2d";
  check_input(input, op);
  check_sizes(input.sizes(), op);
  const auto o = pair_arg(output_size, op, "output_size");
  LAMINA_CHECK(o[0] >= 0 && o[1] >= 0, ValueError, op, "'output_size' must be non-negative, got ",
               Shape{o[0], o[1]});
  Pool2dGeometry g{};
  g.NC = planes(input.sizes());
  g.H = input.size(-2);
  g.W = input.size(-1);
  g.OH = o[0];
  g.OW = o[1];
  Tensor out = Tensor::empty(with_spatial(input.sizes(), g.OH, g.OW), input.dtype(), input.device());
  if (out.numel() > 0) cpu::adaptive_avg_pool2d_forward(out, contiguous(input), g);
  return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_sizes) {
  const char* op = "adaptive_avg_pool2d";
  check_sizes(input_sizes, op, "input_sizes");
  check_input(grad_output, op, "grad_output");
  LAMINA_CHECK(grad_output.dim() == static_cast<int64_t>(input_sizes.size()), ValueError, op,
               "'grad_output' of shape ", grad_output.sizes(), " does not match the input shape ", input_sizes);
  for (size_t d = 0; d + 2 < input_sizes.size(); ++d)
    LAMINA_CHECK(grad_output.size(d) == input_sizes[d], ValueError, op, "'grad_output' of shape ",
                 grad_output.sizes(), " does not match the input shape ", input_sizes);
  Pool2dGeometry g{};
  g.NC = planes(input_sizes);
  g.H = input_sizes[input_sizes.size() - 2];
  g.W = input_sizes[input_sizes.size() - 1];
  g.OH = grad_output.size(-2);
  g.OW = grad_output.size(-1);
  Tensor dx = Tensor::empty(input_sizes, grad_output.dtype(), grad_output.device());
  if (dx.numel() > 0) cpu::adaptive_avg_pool2d_backward(dx, contiguous(grad_output), g);
  return dx;
}

}  // namespace lamina
