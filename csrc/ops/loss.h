// Losses, forward and backward: cross_entropy (log_softmax and the negative log-likelihood fused in
// one pass, class indices or class probabilities, per-class weight, ignore_index, label smoothing),
// nll_loss, mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits.
// Semantics: torch.nn.functional.* (https://pytorch.org/docs/stable/nn.functional.html#loss-functions).
//
// Shape letters for the class losses: an input of shape (N, C, d1, d2, ...) is walked as (N, C, S)
// with S = d1 * d2 * ... ; an unbatched input (C,) is N = 1, S = 1. A "position" is one (n, s)
// pair: one target, one loss value before reduction.
//
// Backward contract: every gradient returned is a fresh tensor with the shape of its operand
// (written, not accumulated); a gradient not asked for comes back undefined.
#pragma once
#include <string>
#include <utility>

#include "core/tensor.h"

namespace lamina {

// The order of at::Reduction (torch's reduction enum).
enum class LossReduction : int { None = 0, Mean = 1, Sum = 2 };

// "none" | "mean" | "sum"; anything else is a ValueError naming `op`.
LossReduction parse_reduction(const std::string& reduction, const char* op);

// ---- cross_entropy / nll_loss ----

struct ClassLossOptions {
  int64_t ignore_index = -100;
  LossReduction reduction = LossReduction::Mean;
  double label_smoothing = 0.0;  // cross_entropy only
};

struct ClassLossForward {
  Tensor loss;               // 0-d for mean/sum; the target's batch shape for none
  Tensor lse;                // cross_entropy: (N*S, 2), per position the row maximum and
                             // log(sum exp(x - max)), saved for backward
  double total_weight = 0;   // sum of w[target] over non-ignored positions (index targets)
};

// input (N, C, d...) or (C,); target int64 (N, d...) / 0-d, or class probabilities with input's
// shape and dtype; weight (C,) or undefined.
ClassLossForward cross_entropy_forward(const Tensor& input, const Tensor& target, const Tensor& weight,
                                       const ClassLossOptions& opt);
struct ClassLossGrads {
  Tensor input, target, weight;
};
// grad: 0-d (mean/sum) or the loss's shape (none). need: input, target, weight. The target and
// the weight have gradients only with probability targets (as torch).
ClassLossGrads cross_entropy_backward(const Tensor& grad, const Tensor& input, const Tensor& target,
                                      const Tensor& weight, const Tensor& lse, double total_weight,
                                      const ClassLossOptions& opt, const bool need[3]);

// input holds log-probabilities with the shapes of cross_entropy; target int64 class indices.
ClassLossForward nll_loss_forward(const Tensor& input, const Tensor& target, const Tensor& weight,
                                  const ClassLossOptions& opt);
Tensor nll_loss_backward(const Tensor& grad, const Tensor& input, const Tensor& target, const Tensor& weight,
                         double total_weight, const ClassLossOptions& opt);

// ---- pointwise losses: mse_loss, l1_loss, binary_cross_entropy, binary_cross_entropy_with_logits ----

enum class PointwiseLoss : int { MSE = 0, L1 = 1, BCE = 2, BCEWithLogits = 3 };
const char* pointwise_loss_name(PointwiseLoss kind);

struct PointwiseLossForward {
  Tensor loss;
  double norm = 1;   // the divisor of mean (numel, or the weight sum of weighted mse/l1); 1 otherwise
  double value = 0;  // the reduced loss in double (mean/sum), for the weight gradient of weighted mse/l1
};

// Elementwise loss of input against target, times weight (optional), with pos_weight (optional,
// BCEWithLogits only). Broadcasting as torch: mse/l1 broadcast input with target (weight must
// have input's shape); bce needs target.shape == input.shape and weight broadcast to it;
// bce_with_logits broadcasts weight and pos_weight against input.
PointwiseLossForward pointwise_loss_forward(PointwiseLoss kind, const Tensor& input, const Tensor& target,
                                            const Tensor& weight, const Tensor& pos_weight,
                                            LossReduction reduction);

// need: which gradients to compute: input, target, weight. Only weighted mse/l1 have a weight
// gradient (torch's bce and bce_with_logits are not differentiable in weight or pos_weight).
ClassLossGrads pointwise_loss_backward(PointwiseLoss kind, const Tensor& grad, const Tensor& input,
                                       const Tensor& target, const Tensor& weight, const Tensor& pos_weight,
                                       LossReduction reduction, double norm, double value, const bool need[3]);

// ---- kernels ----
// Class losses: x (N, C, S) contiguous; target int64 (N*S) or T (N, C, S) contiguous; weight (C)
// contiguous or undefined; labels already checked. Forward writes per-position losses to
// loss_pos (N*S, when defined) and the log-sum-exp to lse (N*S, 2) (cross_entropy) and returns the sums
// over positions of the losses and of the weights of the targets (double, in a fixed order).
struct ClassLossGeometry {
  int64_t N = 1, C = 1, S = 1;
  bool prob = false;  // class-probability targets
};
struct ClassLossSums {
  double loss = 0, weight = 0;
};

// Pointwise losses: every operand already expanded to one shape (stride-0 dims allowed); absent
// weight / pos_weight come as expanded ones. out (contiguous) may be undefined (mean/sum).
// Backward: grad is expanded too and scaled by `scale`; d* outputs contiguous or undefined;
// the weight gradient is grad * scale * (elementwise loss without weight - shift).
namespace cpu {
ClassLossSums cross_entropy_forward(const Tensor& loss_pos, const Tensor& lse, const Tensor& x,
                                    const Tensor& target, const Tensor& weight, const ClassLossGeometry& g,
                                    int64_t ignore_index, double label_smoothing);
// dweight (C), probability targets only, is a sum over positions.
void cross_entropy_backward(const Tensor& dx, const Tensor& dtarget, const Tensor& dweight, const Tensor& grad,
                            bool grad_per_position, double scale, const Tensor& x, const Tensor& target,
                            const Tensor& weight, const Tensor& lse, const ClassLossGeometry& g,
                            int64_t ignore_index, double label_smoothing);
ClassLossSums nll_loss_forward(const Tensor& loss_pos, const Tensor& x, const Tensor& target,
                               const Tensor& weight, const ClassLossGeometry& g, int64_t ignore_index);
void nll_loss_backward(const Tensor& dx, const Tensor& grad, bool grad_per_position, double scale,
                       const Tensor& target, const Tensor& weight, const ClassLossGeometry& g,
                       int64_t ignore_index);
// The first target (in order) that is neither in [0, C) nor ignore_index: returns true and its
// value and position, or false when every label is fine.
bool find_bad_label(const Tensor& target, int64_t C, int64_t ignore_index, int64_t* value, int64_t* position);
// True when every element of x lies in [0, 1] (NaN does not).
bool all_in_unit_interval(const Tensor& x);

double pointwise_loss_forward(PointwiseLoss kind, const Tensor& out, const Tensor& x, const Tensor& t,
                              const Tensor& w, const Tensor& pw);
void pointwise_loss_backward(PointwiseLoss kind, const Tensor& dx, const Tensor& dt, const Tensor& dw,
                             const Tensor& grad, double scale, double shift, const Tensor& x,
                             const Tensor& t, const Tensor& w, const Tensor& pw);
}  // namespace cpu

}  // namespace lamina
