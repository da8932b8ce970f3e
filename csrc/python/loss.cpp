// Bindings of ops/loss.h. Kernels run with the GIL released.
#include <optional>

#include "ops/loss.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

Tensor or_undefined(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

py::object or_none(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

PointwiseLoss pointwise_kind(const std::string& name) {
  if (name == "mse_loss") return PointwiseLoss::MSE;
  if (name == "l1_loss") return PointwiseLoss::L1;
  if (name == "binary_cross_entropy") return PointwiseLoss::BCE;
  if (name == "binary_cross_entropy_with_logits") return PointwiseLoss::BCEWithLogits;
  LAMINA_FAIL(ValueError, "pointwise_loss", "unknown loss '", name, "'");
}

}  // namespace
}  // namespace lamina::python

LAMINA_BINDINGS(loss) {
  using namespace lamina;
  using namespace lamina::python;
  using OptT = std::optional<Tensor>;

  // cross_entropy_forward(...) -> (loss, lse, total_weight)
  m.def("cross_entropy_forward", [](const Tensor& input, const Tensor& target, const OptT& weight, int64_t ignore_index,
                                    const std::string& reduction, double label_smoothing) {
    const ClassLossOptions opt{ignore_index, parse_reduction(reduction, "cross_entropy"), label_smoothing};
    ClassLossForward r;
    {
      py::gil_scoped_release nogil;
      r = cross_entropy_forward(input, target, or_undefined(weight), opt);
    }
    return py::make_tuple(r.loss, r.lse, r.total_weight);
  }, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("reduction"),
     py::arg("label_smoothing"));

  // cross_entropy_backward(...) -> (grad_input, grad_target, grad_weight), None where not asked
  m.def("cross_entropy_backward", [](const Tensor& grad, const Tensor& input, const Tensor& target, const OptT& weight,
                                     const Tensor& lse, double total_weight, int64_t ignore_index,
                                     const std::string& reduction, double label_smoothing, bool need_input,
                                     bool need_target, bool need_weight) {
    const ClassLossOptions opt{ignore_index, parse_reduction(reduction, "cross_entropy_backward"), label_smoothing};
    const bool need[3] = {need_input, need_target, need_weight};
    ClassLossGrads r;
    {
      py::gil_scoped_release nogil;
      r = cross_entropy_backward(grad, input, target, or_undefined(weight), lse, total_weight, opt, need);
    }
    return py::make_tuple(or_none(r.input), or_none(r.target), or_none(r.weight));
  });

  // nll_loss_forward(...) -> (loss, total_weight)
  m.def("nll_loss_forward", [](const Tensor& input, const Tensor& target, const OptT& weight, int64_t ignore_index,
                               const std::string& reduction) {
    const ClassLossOptions opt{ignore_index, parse_reduction(reduction, "nll_loss"), 0.0};
    ClassLossForward r;
    {
      py::gil_scoped_release nogil;
      r = nll_loss_forward(input, target, or_undefined(weight), opt);
    }
    return py::make_tuple(r.loss, r.total_weight);
  });

  m.def("nll_loss_backward", [](const Tensor& grad, const Tensor& input, const Tensor& target, const OptT& weight,
                                double total_weight, int64_t ignore_index, const std::string& reduction) {
    const ClassLossOptions opt{ignore_index, parse_reduction(reduction, "nll_loss_backward"), 0.0};
    py::gil_scoped_release nogil;
    return nll_loss_backward(grad, input, target, or_undefined(weight), total_weight, opt);
  });

  // pointwise_loss_forward(name, ...) -> (loss, norm, value); name is one of mse_loss, l1_loss,
  // binary_cross_entropy, binary_cross_entropy_with_logits.
  m.def("pointwise_loss_forward", [](const std::string& name, const Tensor& input, const Tensor& target,
                                     const OptT& weight, const OptT& pos_weight, const std::string& reduction) {
    const PointwiseLoss kind = pointwise_kind(name);
    const LossReduction red = parse_reduction(reduction, pointwise_loss_name(kind));
    PointwiseLossForward r;
    {
      py::gil_scoped_release nogil;
      r = pointwise_loss_forward(kind, input, target, or_undefined(weight), or_undefined(pos_weight), red);
    }
    return py::make_tuple(r.loss, r.norm, r.value);
  });

  // pointwise_loss_backward(...) -> (grad_input, grad_target, grad_weight), None where not asked
  m.def("pointwise_loss_backward", [](const std::string& name, const Tensor& grad, const Tensor& input,
                                      const Tensor& target, const OptT& weight, const OptT& pos_weight,
                                      const std::string& reduction, double norm, double value, bool need_input,
                                      bool need_target, bool need_weight) {
    const PointwiseLoss kind = pointwise_kind(name);
    const LossReduction red = parse_reduction(reduction, pointwise_loss_name(kind));
    const bool need[3] = {need_input, need_target, need_weight};
    ClassLossGrads r;
    {
      py::gil_scoped_release nogil;
      r = pointwise_loss_backward(kind, grad, input, target, or_undefined(weight), or_undefined(pos_weight), red,
                                  norm, value, need);
    }
    return py::make_tuple(or_none(r.input), or_none(r.target), or_none(r.weight));
  });
}
