// Argument checks and dispatch for ops/loss.h. Every check runs before any memory is touched;
// labels are checked against the class count before a kernel reads the input at them.
#include "ops/loss.h"

#include <cmath>
#include <limits>

#include "ops/copy.h"
#include "ops/dispatch.h"
#include "ops/reduce.h"

namespace lamina {

LossReduction parse_reduction(const std::string& reduction, const char* op) {
  if (reduction == "none") return LossReduction::None;
  if (reduction == "mean") return LossReduction::Mean;
  if (reduction == "sum") return LossReduction::Sum;
  LAMINA_FAIL(ValueError, op, "'", reduction, "' is not a valid value for reduction; expected 'none', 'mean' or 'sum'");
}

const char* pointwise_loss_name(PointwiseLoss kind) {
  static const char* names[] = {"mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"};
  return names[static_cast<int>(kind)];
}

namespace {

void check_cpu(const Tensor& t, const char* op, const char* name) {
  LAMINA_CHECK(t.device().is_cpu(), RuntimeError, op, "CUDA kernels for ", op,
               " are not implemented yet; move the tensor to the CPU with .cpu() (argument '", name, "' is on ",
               t.device().str(), ")");
}

void check_float(const Tensor& t, const char* op, const char* name) {
  check_defined(t, op, name);
  LAMINA_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "argument '", name,
               "' must be a float32 or float64 tensor, got ", t.describe());
  check_cpu(t, op, name);
}

void check_same_dtype(const Tensor& t, const Tensor& input, const char* op, const char* name) {
  LAMINA_CHECK(t.dtype() == input.dtype(), TypeError, op, "expected '", name, "' of the input's dtype ",
               dtype_name(input.dtype()), ", got ", t.describe());
}

Tensor scalar_tensor(double v, DType dtype) {
  Tensor t = Tensor::empty({}, dtype, Device());
  LAMINA_DISPATCH_FLOAT(dtype, "loss", [&](auto tag) {
    using T = decltype(tag);
    *t.data<T>() = static_cast<T>(v);
  });
  return t;
}

// ---- class losses ----

struct ClassSetup {
  ClassLossGeometry g;
  Shape out_shape;  // the shape of reduction='none'
};

ClassSetup class_setup(const Tensor& input, const Tensor& target, const Tensor& weight, const ClassLossOptions& opt,
                       const char* op, bool allow_prob) {
  check_float(input, op, "input");
  check_defined(target, op, "target");
  check_cpu(target, op, "target");
  LAMINA_CHECK(input.dim() >= 1, ValueError, op,
               "expected 'input' of shape (C), (N, C) or (N, C, d1, ...), got a 0-d tensor");
  const bool unbatched = input.dim() == 1;
  ClassSetup r;
  r.g.C = unbatched ? input.size(0) : input.size(1);
  r.g.N = unbatched ? 1 : input.size(0);
  r.g.S = 1;
  if (!unbatched) r.out_shape.push_back(r.g.N);
  for (int64_t d = 2; d < input.dim(); ++d) {
    r.g.S *= input.size(d);
    r.out_shape.push_back(input.size(d));
  }
  r.g.prob = allow_prob && target.sizes() == input.sizes();
  if (r.g.prob) {
    LAMINA_CHECK(is_floating(target.dtype()), TypeError, op,
                 "a 'target' with the input's shape holds class probabilities and must be floating point, got ",
                 target.describe(), " (class indices have shape ", r.out_shape, ")");
    check_same_dtype(target, input, op, "target");
    LAMINA_CHECK(opt.ignore_index < 0, ValueError, op,
                 "ignore_index is not supported for class-probability targets, got ignore_index=", opt.ignore_index);
  } else {
    if (allow_prob) {
      LAMINA_CHECK(target.dtype() == DType::Int64, TypeError, op,
                   "expected 'target' of dtype int64 holding class indices (shape ", r.out_shape,
                   ") or a float tensor of class probabilities with the input's shape ", input.sizes(), ", got ",
                   target.describe());
    } else {
      LAMINA_CHECK(target.dtype() == DType::Int64, TypeError, op,
                   "expected 'target' of dtype int64 holding class indices (shape ", r.out_shape, "), got ",
                   target.describe());
    }
    if (unbatched) {
      LAMINA_CHECK(target.dim() == 0, ValueError, op, "for an unbatched 'input' of shape ", input.sizes(),
                   " 'target' must be a 0-d class index, got shape ", target.sizes());
    } else {
      LAMINA_CHECK(target.dim() >= 1 && target.size(0) == r.g.N, ValueError, op, "expected input batch_size (",
                   r.g.N, ") to match target batch_size (", target.dim() >= 1 ? target.size(0) : 0,
                   "): 'input' has shape ", input.sizes(), ", 'target' has shape ", target.sizes());
      LAMINA_CHECK(target.sizes() == r.out_shape, ValueError, op, "expected 'target' of shape ", r.out_shape,
                   " for 'input' of shape ", input.sizes(), ", got ", target.sizes());
    }
  }
  if (weight.defined()) {
    check_float(weight, op, "weight");
    check_same_dtype(weight, input, op, "weight");
    LAMINA_CHECK(weight.dim() == 1 && weight.size(0) == r.g.C, ValueError, op,
                 "'weight' must hold one value per class: expected shape [", r.g.C, "], got ", weight.sizes());
  }
  return r;
}

void check_labels(const Tensor& target, int64_t C, int64_t ignore_index, const char* op) {
  int64_t value = 0, position = 0;
  const bool bad = cpu::find_bad_label(target, C, ignore_index, &value, &position);
  LAMINA_CHECK(!bad, IndexError, op, "target label ", value, " is out of range for ", C, " classes (labels must lie in [0, ",
               C - 1, "] or equal ignore_index=", ignore_index, "); found at flat position ", position, " of 'target'");
}

void check_grad(const Tensor& grad, const Tensor& input, const Shape& shape, const char* op) {
  check_float(grad, op, "grad_output");
  check_same_dtype(grad, input, op, "grad_output");
  LAMINA_CHECK(grad.sizes() == shape, ValueError, op, "expected 'grad_output' of shape ", shape, ", got ",
               grad.sizes());
}

Tensor optional_contiguous(const Tensor& t) {
  return t.defined() ? contiguous(t) : Tensor();
}

}  // namespace

ClassLossForward cross_entropy_forward(const Tensor& input, const Tensor& target, const Tensor& weight,
                                       const ClassLossOptions& opt) {
  const char* op = "cross_entropy";
  const double eps = opt.label_smoothing;
  LAMINA_CHECK(eps >= 0.0 && eps <= 1.0, ValueError, op, "label_smoothing must be between 0.0 and 1.0, got ", eps);
  const ClassSetup s = class_setup(input, target, weight, opt, op, /*allow_prob=*/true);
  const Tensor x = contiguous(input), t = contiguous(target), w = optional_contiguous(weight);
  if (!s.g.prob) check_labels(t, s.g.C, opt.ignore_index, op);
  const int64_t P = s.g.N * s.g.S;
  ClassLossForward r;
  r.lse = Tensor::empty({P, 2}, x.dtype(), Device());
  const Tensor loss_pos = opt.reduction == LossReduction::None ? Tensor::empty(s.out_shape, x.dtype(), Device()) : Tensor();
  const ClassLossSums sums = cpu::cross_entropy_forward(loss_pos, r.lse, x, t, w, s.g, opt.ignore_index, eps);
  r.total_weight = sums.weight;
  switch (opt.reduction) {
    case LossReduction::None: r.loss = loss_pos; break;
    case LossReduction::Sum: r.loss = scalar_tensor(sums.loss, x.dtype()); break;
    case LossReduction::Mean: {
      // Index targets: divided by the summed weights of the non-ignored targets (NaN when none
      // is left); probability targets: by the number of positions (NaN for an empty input).
      const double v = s.g.prob ? (x.numel() == 0 ? std::numeric_limits<double>::quiet_NaN() : sums.loss / static_cast<double>(P))
                                : sums.loss / sums.weight;
      r.loss = scalar_tensor(v, x.dtype());
      break;
    }
  }
  return r;
}

ClassLossGrads cross_entropy_backward(const Tensor& grad, const Tensor& input, const Tensor& target,
                                      const Tensor& weight, const Tensor& lse, double total_weight,
                                      const ClassLossOptions& opt, const bool need[3]) {
  const char* op = "cross_entropy_backward";
  const double eps = opt.label_smoothing;
  LAMINA_CHECK(eps >= 0.0 && eps <= 1.0, ValueError, op, "label_smoothing must be between 0.0 and 1.0, got ", eps);
  const ClassSetup s = class_setup(input, target, weight, opt, op, /*allow_prob=*/true);
  const int64_t P = s.g.N * s.g.S;
  check_grad(grad, input, opt.reduction == LossReduction::None ? s.out_shape : Shape{}, op);
  check_float(lse, op, "lse");
  check_same_dtype(lse, input, op, "lse");
  LAMINA_CHECK(lse.sizes() == (Shape{P, 2}), ValueError, op, "expected 'lse' of shape [", P, ", 2], got ",
               lse.sizes());
  const Tensor x = contiguous(input), t = contiguous(target), w = optional_contiguous(weight);
  if (!s.g.prob) check_labels(t, s.g.C, opt.ignore_index, op);
  double scale = 1.0;
  if (opt.reduction == LossReduction::Mean) scale = s.g.prob ? 1.0 / static_cast<double>(P) : 1.0 / total_weight;
  ClassLossGrads r;
  if (need[0]) r.input = Tensor::empty(input.sizes(), x.dtype(), Device());
  if (need[1] && s.g.prob) r.target = Tensor::empty(target.sizes(), x.dtype(), Device());
  if (need[2] && s.g.prob && w.defined()) r.weight = Tensor::empty({s.g.C}, x.dtype(), Device());
  if (!r.input.defined() && !r.target.defined() && !r.weight.defined()) return r;
  if (P == 0 || s.g.C == 0) {
    for (const Tensor* g : {&r.input, &r.target, &r.weight})
      if (g->defined() && g->numel() > 0) fill_(*g, Scalar::from_double(0.0));
    return r;
  }
  cpu::cross_entropy_backward(r.input, r.target, r.weight, contiguous(grad), opt.reduction == LossReduction::None,
                              scale, x, t, w, contiguous(lse), s.g, opt.ignore_index, eps);
  return r;
}

ClassLossForward nll_loss_forward(const Tensor& input, const Tensor& target, const Tensor& weight,
                                  const ClassLossOptions& opt) {
  const char* op = "nll_loss";
  const ClassSetup s = class_setup(input, target, weight, opt, op, /*allow_prob=*/false);
  const Tensor x = contiguous(input), t = contiguous(target), w = optional_contiguous(weight);
  check_labels(t, s.g.C, opt.ignore_index, op);
  const Tensor loss_pos = opt.reduction == LossReduction::None ? Tensor::empty(s.out_shape, x.dtype(), Device()) : Tensor();
  const ClassLossSums sums = cpu::nll_loss_forward(loss_pos, x, t, w, s.g, opt.ignore_index);
  ClassLossForward r;
  r.total_weight = sums.weight;
  switch (opt.reduction) {
    case LossReduction::None: r.loss = loss_pos; break;
    case LossReduction::Sum: r.loss = scalar_tensor(sums.loss, x.dtype()); break;
    case LossReduction::Mean: r.loss = scalar_tensor(sums.loss / sums.weight, x.dtype()); break;
  }
  return r;
}

Tensor nll_loss_backward(const Tensor& grad, const Tensor& input, const Tensor& target, const Tensor& weight,
                         double total_weight, const ClassLossOptions& opt) {
  const char* op = "nll_loss_backward";
  const ClassSetup s = class_setup(input, target, weight, opt, op, /*allow_prob=*/false);
  check_grad(grad, input, opt.reduction == LossReduction::None ? s.out_shape : Shape{}, op);
  const Tensor t = contiguous(target), w = optional_contiguous(weight);
  check_labels(t, s.g.C, opt.ignore_index, op);
  Tensor dx = Tensor::empty(input.sizes(), input.dtype(), Device());
  if (dx.numel() == 0) return dx;
  const double scale = opt.reduction == LossReduction::Mean ? 1.0 / total_weight : 1.0;
  cpu::nll_loss_backward(dx, contiguous(grad), opt.reduction == LossReduction::None, scale, t, w, s.g,
                         opt.ignore_index);
  return dx;
}

// ---- pointwise losses ----

namespace {

struct PointwiseSetup {
  Shape shape;               // the broadcast shape of the unreduced loss
  Tensor x, t, w, pw;        // expanded to shape; absent weights as expanded ones
};

PointwiseSetup pointwise_setup(PointwiseLoss kind, const Tensor& input, const Tensor& target, const Tensor& weight,
                               const Tensor& pos_weight) {
  const char* op = pointwise_loss_name(kind);
  check_float(input, op, "input");
  check_float(target, op, "target");
  check_same_dtype(target, input, op, "target");
  if (weight.defined()) {
    check_float(weight, op, "weight");
    check_same_dtype(weight, input, op, "weight");
  }
  if (pos_weight.defined()) {
    LAMINA_CHECK(kind == PointwiseLoss::BCEWithLogits, ValueError, op, "argument 'pos_weight' is not supported");
    check_float(pos_weight, op, "pos_weight");
    check_same_dtype(pos_weight, input, op, "pos_weight");
  }
  PointwiseSetup s;
  switch (kind) {
    case PointwiseLoss::MSE:
    case PointwiseLoss::L1:
      s.shape = broadcast_shapes(input.sizes(), target.sizes(), op);
      if (weight.defined()) {
        LAMINA_CHECK(weight.sizes() == input.sizes(), ValueError, op,
                     "'weight' and 'input' must have the same size, got 'weight' of shape ", weight.sizes(),
                     " and 'input' of shape ", input.sizes());
        s.shape = broadcast_shapes(s.shape, weight.sizes(), op);
      }
      break;
    case PointwiseLoss::BCE:
      LAMINA_CHECK(target.sizes() == input.sizes(), ValueError, op, "'target' must have the size of 'input': got 'target' of shape ",
                   target.sizes(), " and 'input' of shape ", input.sizes());
      s.shape = input.sizes();
      break;
    case PointwiseLoss::BCEWithLogits:
      LAMINA_CHECK(target.sizes() == input.sizes(), ValueError, op, "target size ", target.sizes(),
                   " must be the same as input size ", input.sizes());
      s.shape = input.sizes();
      break;
  }
  if (kind == PointwiseLoss::BCE || kind == PointwiseLoss::BCEWithLogits) {
    // weight and pos_weight broadcast to the input's shape, never beyond it (torch applies them in place).
    for (const auto& [t, name] : {std::pair<const Tensor*, const char*>{&weight, "weight"}, {&pos_weight, "pos_weight"}}) {
      if (!t->defined()) continue;
      bool ok = t->dim() <= input.dim();
      for (int64_t d = 0; ok && d < t->dim(); ++d) {
        const int64_t ws = t->size(t->dim() - 1 - d), xs = input.size(input.dim() - 1 - d);
        ok = ws == xs || ws == 1;
      }
      LAMINA_CHECK(ok, ValueError, op, "'", name, "' of shape ", t->sizes(), " does not broadcast to the input's shape ",
                   input.sizes());
    }
  }
  checked_numel(s.shape, op);
  const Tensor one = scalar_tensor(1.0, input.dtype());
  s.x = input.expand(s.shape);
  s.t = target.expand(s.shape);
  s.w = (weight.defined() ? weight : one).expand(s.shape);
  s.pw = (pos_weight.defined() ? pos_weight : one).expand(s.shape);
  if (kind == PointwiseLoss::BCE) {
    LAMINA_CHECK(cpu::all_in_unit_interval(input), RuntimeError, op, "all elements of input should be between 0 and 1");
    LAMINA_CHECK(cpu::all_in_unit_interval(target), RuntimeError, op, "all elements of target should be between 0 and 1");
  }
  return s;
}

bool has_weight_grad(PointwiseLoss kind) {
  return kind == PointwiseLoss::MSE || kind == PointwiseLoss::L1;
}

}  // namespace

PointwiseLossForward pointwise_loss_forward(PointwiseLoss kind, const Tensor& input, const Tensor& target,
                                            const Tensor& weight, const Tensor& pos_weight,
                                            LossReduction reduction) {
  const char* op = pointwise_loss_name(kind);
  const PointwiseSetup s = pointwise_setup(kind, input, target, weight, pos_weight);
  const DType dtype = input.dtype();
  PointwiseLossForward r;
  const Tensor out = reduction == LossReduction::None ? Tensor::empty(s.shape, dtype, Device()) : Tensor();
  const double sum = cpu::pointwise_loss_forward(kind, out, s.x, s.t, s.w, s.pw);
  if (reduction == LossReduction::Mean) {
    if (weight.defined() && has_weight_grad(kind)) {
      // torch's weighted mse/l1: sum(w * e) / sum(w), the weight summed over its own shape.
      const Tensor ws = reduce(ReduceOp::Sum, to_dtype(weight, DType::Float64), {}, false);
      r.norm = *ws.data<double>();
    } else {
      r.norm = static_cast<double>(checked_numel(s.shape, op));
    }
  }
  switch (reduction) {
    case LossReduction::None: r.loss = out; break;
    case LossReduction::Sum: r.value = sum; r.loss = scalar_tensor(sum, dtype); break;
    case LossReduction::Mean: r.value = sum / r.norm; r.loss = scalar_tensor(r.value, dtype); break;
  }
  return r;
}

ClassLossGrads pointwise_loss_backward(PointwiseLoss kind, const Tensor& grad, const Tensor& input,
                                       const Tensor& target, const Tensor& weight, const Tensor& pos_weight,
                                       LossReduction reduction, double norm, double value, const bool need[3]) {
  const char* op = pointwise_loss_name(kind);
  const PointwiseSetup s = pointwise_setup(kind, input, target, weight, pos_weight);
  check_grad(grad, input, reduction == LossReduction::None ? s.shape : Shape{}, op);
  const DType dtype = input.dtype();
  const int64_t numel = checked_numel(s.shape, op);
  double scale = 1.0, shift = 0.0;
  if (reduction == LossReduction::Mean) {
    scale = 1.0 / norm;
    // d/dw_j of sum(w e) / sum(w) is (sum of e over the positions w_j reaches - L) / sum(w);
    // each w_j reaches numel / weight.numel() positions.
    if (weight.defined() && has_weight_grad(kind) && numel > 0)
      shift = value * static_cast<double>(weight.numel()) / static_cast<double>(numel);
  }
  Tensor dx, dt, dw;
  if (need[0]) dx = Tensor::empty(s.shape, dtype, Device());
  if (need[1]) dt = Tensor::empty(s.shape, dtype, Device());
  if (need[2] && weight.defined() && has_weight_grad(kind)) dw = Tensor::empty(s.shape, dtype, Device());
  ClassLossGrads r;
  if (!dx.defined() && !dt.defined() && !dw.defined()) return r;
  if (numel > 0)
    cpu::pointwise_loss_backward(kind, dx, dt, dw, grad.expand(s.shape), scale, shift, s.x, s.t, s.w, s.pw);
  if (dx.defined()) r.input = numel > 0 ? sum_to_size(dx, input.sizes()) : full(input.sizes(), Scalar::from_double(0.0), dtype, Device());
  if (dt.defined()) r.target = numel > 0 ? sum_to_size(dt, target.sizes()) : full(target.sizes(), Scalar::from_double(0.0), dtype, Device());
  if (dw.defined()) r.weight = numel > 0 ? sum_to_size(dw, weight.sizes()) : full(weight.sizes(), Scalar::from_double(0.0), dtype, Device());
  return r;
}

}  // namespace lamina
