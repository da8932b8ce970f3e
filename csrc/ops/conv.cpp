#include "ops/conv.h"

#include "ops/copy.h"
#include "ops/dispatch.h"

namespace lamina {
namespace {

constexpr const char* kOp = "conv2d";

// (h, w) from 1 or 2 values.
std::array<int64_t, 2> pair_arg(const Shape& v, const char* arg) {
  LAMINA_CHECK(v.size() == 1 || v.size() == 2, ValueError, kOp, "argument '", arg,
               "' must have 1 or 2 values, got ", v);
  return {v[0], v.size() == 2 ? v[1] : v[0]};
}

// The checks shared by forward and backward; `input` is 3-D or 4-D, the result describes it as 4-D.
Conv2dGeometry make_geometry(const Tensor& input, const Tensor& weight, const Shape& stride, const Shape& padding,
                             const Shape& dilation, int64_t groups) {
  check_defined(input, kOp, "input");
  check_defined(weight, kOp, "weight");
  LAMINA_CHECK(input.dtype() == DType::Float32 || input.dtype() == DType::Float64, TypeError, kOp,
               "expected a float32 or float64 'input', got dtype ", dtype_name(input.dtype()));
  LAMINA_CHECK(weight.dtype() == input.dtype(), TypeError, kOp, "expected 'input' and 'weight' of the same dtype, got ",
               dtype_name(input.dtype()), " and ", dtype_name(weight.dtype()));
  check_same_device(input, weight, kOp, "input", "weight");
  LAMINA_CHECK(input.device().is_cpu(), RuntimeError, kOp,
               "CUDA kernels for conv2d are not implemented yet; move the tensors to the CPU with .cpu()");
  LAMINA_CHECK(input.dim() == 3 || input.dim() == 4, ValueError, kOp,
               "expected a 3-D (unbatched) or 4-D (batched) 'input' of shape [N, C, H, W], got shape ", input.sizes());
  LAMINA_CHECK(weight.dim() == 4, ValueError, kOp,
               "expected a 4-D 'weight' of shape [out_channels, in_channels / groups, kH, kW], got shape ",
               weight.sizes());
  const auto s = pair_arg(stride, "stride");
  const auto d = pair_arg(dilation, "dilation");
  LAMINA_CHECK(padding.size() == 1 || padding.size() == 2 || padding.size() == 4, ValueError, kOp,
               "argument 'padding' must have 1, 2 or 4 (top, bottom, left, right) values, got ", padding);
  std::array<int64_t, 4> p;  // top, bottom, left, right
  if (padding.size() == 4) {
    p = {padding[0], padding[1], padding[2], padding[3]};
  } else {
    const auto hw = pair_arg(padding, "padding");
    p = {hw[0], hw[0], hw[1], hw[1]};
  }
  LAMINA_CHECK(s[0] > 0 && s[1] > 0, ValueError, kOp, "'stride' must be positive, got ", Shape{s[0], s[1]});
  LAMINA_CHECK(d[0] > 0 && d[1] > 0, ValueError, kOp, "'dilation' must be positive, got ", Shape{d[0], d[1]});
  LAMINA_CHECK(p[0] >= 0 && p[1] >= 0 && p[2] >= 0 && p[3] >= 0, ValueError, kOp,
               "'padding' must be non-negative, got ", padding);
  LAMINA_CHECK(groups > 0, ValueError, kOp, "'groups' must be positive, got ", groups);

  const bool batched = input.dim() == 4;
  Conv2dGeometry g{};
  g.N = batched ? input.size(0) : 1;
  g.C = input.size(-3);
  g.H = input.size(-2);
  g.W = input.size(-1);
  g.O = weight.size(0);
  g.KH = weight.size(2);
  g.KW = weight.size(3);
  g.G = groups;
  g.stride_h = s[0];
  g.stride_w = s[1];
  g.dilation_h = d[0];
  g.dilation_w = d[1];
  g.pad_top = p[0];
  g.pad_bottom = p[1];
  g.pad_left = p[2];
  g.pad_right = p[3];
  LAMINA_CHECK(g.KH > 0 && g.KW > 0 && g.O > 0, ValueError, kOp, "'weight' of shape ", weight.sizes(),
               " has an empty dimension");
  LAMINA_CHECK(g.O % groups == 0, ValueError, kOp, "out_channels (", g.O, ", weight shape ", weight.sizes(),
               ") must be divisible by groups (", groups, ")");
  LAMINA_CHECK(g.C % groups == 0, ValueError, kOp, "in_channels (", g.C, ", 'input' shape ", input.sizes(),
               ") must be divisible by groups (", groups, ")");
  LAMINA_CHECK(g.C == weight.size(1) * groups, ValueError, kOp, "'input' of shape ", input.sizes(), " has ", g.C,
               " channels, but 'weight' of shape ", weight.sizes(), " with groups=", groups, " expects ",
               weight.size(1) * groups, " (weight.size(1) * groups)");
  const int64_t hp = g.H + g.pad_top + g.pad_bottom, wp = g.W + g.pad_left + g.pad_right;
  const int64_t kh_eff = g.dilation_h * (g.KH - 1) + 1, kw_eff = g.dilation_w * (g.KW - 1) + 1;
  LAMINA_CHECK(hp >= kh_eff && wp >= kw_eff, ValueError, kOp, "the padded input of 'input' shape ", input.sizes(),
               " is ", hp, " x ", wp, " per channel, smaller than the (dilated) kernel ", kh_eff, " x ", kw_eff,
               " of 'weight' shape ", weight.sizes(), ": the kernel can't be larger than the padded input");
  g.OH = (hp - kh_eff) / g.stride_h + 1;
  g.OW = (wp - kw_eff) / g.stride_w + 1;
  return g;
}

Shape out_shape(const Conv2dGeometry& g, bool batched) {
  if (batched) return {g.N, g.O, g.OH, g.OW};
  return {g.O, g.OH, g.OW};
}

Tensor as4d(const Tensor& t) { return t.dim() == 4 ? t : t.unsqueeze(0); }

}  // namespace

Tensor conv2d_forward(const Tensor& input, const Tensor& weight, const Tensor& bias, const Shape& stride,
                      const Shape& padding, const Shape& dilation, int64_t groups) {
  const Conv2dGeometry g = make_geometry(input, weight, stride, padding, dilation, groups);
  if (bias.defined()) {
    LAMINA_CHECK(bias.dtype() == input.dtype(), TypeError, kOp, "expected 'bias' of dtype ",
                 dtype_name(input.dtype()), " like 'input', got ", dtype_name(bias.dtype()));
    check_same_device(input, bias, kOp, "input", "bias");
    LAMINA_CHECK(bias.dim() == 1 && bias.size(0) == g.O, ValueError, kOp, "expected 'bias' of shape [", g.O,
                 "] (out_channels of 'weight' shape ", weight.sizes(), "), got shape ", bias.sizes());
  }
  const bool batched = input.dim() == 4;
  Tensor out = Tensor::empty(out_shape(g, batched), input.dtype(), input.device());
  if (out.numel() == 0) return out;
  const Tensor x = contiguous(as4d(input)), w = contiguous(weight);
  const Tensor b = bias.defined() ? contiguous(bias) : Tensor();
  cpu::conv2d_forward(as4d(out), x, w, b, g);
  return out;
}

std::array<Tensor, 3> conv2d_backward(const Tensor& grad_output, const Tensor& input, const Tensor& weight,
                                      const Shape& stride, const Shape& padding, const Shape& dilation,
                                      int64_t groups, std::array<bool, 3> output_mask) {
  const Conv2dGeometry g = make_geometry(input, weight, stride, padding, dilation, groups);
  check_defined(grad_output, kOp, "grad_output");
  LAMINA_CHECK(grad_output.dtype() == input.dtype(), TypeError, kOp, "expected 'grad_output' of dtype ",
               dtype_name(input.dtype()), ", got ", dtype_name(grad_output.dtype()));
  check_same_device(input, grad_output, kOp, "input", "grad_output");
  const bool batched = input.dim() == 4;
  const Shape os = out_shape(g, batched);
  LAMINA_CHECK(grad_output.sizes() == os, ValueError, kOp, "expected 'grad_output' of shape ", os,
               " (the output for 'input' ", input.sizes(), " and 'weight' ", weight.sizes(), "), got ",
               grad_output.sizes());
  std::array<Tensor, 3> grads;
  if (output_mask[0]) grads[0] = Tensor::empty(input.sizes(), input.dtype(), input.device());
  if (output_mask[1]) grads[1] = Tensor::empty(weight.sizes(), weight.dtype(), weight.device());
  if (output_mask[2]) grads[2] = Tensor::empty({g.O}, weight.dtype(), weight.device());
  if (!output_mask[0] && !output_mask[1] && !output_mask[2]) return grads;
  const Tensor x = contiguous(as4d(input)), w = contiguous(weight), dy = contiguous(as4d(grad_output));
  cpu::conv2d_backward(grads[0].defined() ? as4d(grads[0]) : Tensor(), grads[1], grads[2], dy, x, w, g);
  return grads;
}

const char* conv2d_kernel_path(const Tensor& input, const Tensor& weight, const Shape& stride, const Shape& padding,
                               const Shape& dilation, int64_t groups) {
  return cpu::conv2d_path(make_geometry(input, weight, stride, padding, dilation, groups), input.dtype());
}

}  // namespace lamina
