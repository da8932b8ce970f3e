// Bindings of the fused optimizer updates and the multi-tensor norm/scale (ops/optim.h).
// Lists are converted with the GIL held; the kernels run with it released.
#include <optional>
#include <vector>

#include "ops/optim.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

// None entries become undefined tensors (SGD's first step allocates the momentum buffer).
std::vector<Tensor> optional_list(const std::vector<std::optional<Tensor>>& xs) {
  std::vector<Tensor> out(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i]) out[i] = *xs[i];
  }
  return out;
}

}  // namespace

LAMINA_BINDINGS(optim) {
  m.def("sgd_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       const std::vector<std::optional<Tensor>>& momentum_buffers, double lr, double momentum,
                       double dampening, double weight_decay, bool nesterov, bool maximize) {
    const std::vector<Tensor> bufs = optional_list(momentum_buffers);
    SGDOptions o;
    o.lr = lr;
    o.momentum = momentum;
    o.dampening = dampening;
    o.weight_decay = weight_decay;
    o.nesterov = nesterov;
    o.maximize = maximize;
    py::gil_scoped_release nogil;
    return sgd_step(params, grads, bufs, o);
  }, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::kw_only(), py::arg("lr"),
     py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"));

  m.def("adam_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                        const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                        const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps, double lr,
                        double beta1, double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
                        bool decoupled_weight_decay) {
    AdamOptions o;
    o.lr = lr;
    o.beta1 = beta1;
    o.beta2 = beta2;
    o.eps = eps;
    o.weight_decay = weight_decay;
    o.amsgrad = amsgrad;
    o.maximize = maximize;
    o.decoupled_weight_decay = decoupled_weight_decay;
    py::gil_scoped_release nogil;
    adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, o);
  }, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"),
     py::arg("steps"), py::kw_only(), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
     py::arg("weight_decay"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled_weight_decay"));

  m.def("rmsprop_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                           const std::vector<Tensor>& momentum_buffers, const std::vector<Tensor>& steps, double lr,
                           double alpha, double eps, double weight_decay, double momentum, bool centered,
                           bool maximize) {
    RMSpropOptions o;
    o.lr = lr;
    o.alpha = alpha;
    o.eps = eps;
    o.weight_decay = weight_decay;
    o.momentum = momentum;
    o.centered = centered;
    o.maximize = maximize;
    py::gil_scoped_release nogil;
    rmsprop_step(params, grads, square_avgs, grad_avgs, momentum_buffers, steps, o);
  }, py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("grad_avgs"), py::arg("momentum_buffers"),
     py::arg("steps"), py::kw_only(), py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"),
     py::arg("momentum"), py::arg("centered"), py::arg("maximize"));

  m.def("multi_tensor_norm", &multi_tensor_norm, py::arg("tensors"), py::arg("norm_type"),
        py::call_guard<py::gil_scoped_release>());
  m.def("multi_tensor_scale_", &multi_tensor_scale_, py::arg("tensors"), py::arg("scale"),
        py::call_guard<py::gil_scoped_release>());
}

}  // namespace lamina::python
