// Bindings of ops/norm.h (kernels run with the GIL released).
#include "ops/norm.h"
#include "python/bindings.h"

namespace lamina::python {

namespace {
Tensor or_undefined(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }
py::object or_none(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }
}  // namespace

LAMINA_BINDINGS(norm) {
  m.def("batch_norm_forward",
        [](const Tensor& input, const std::optional<Tensor>& weight, const std::optional<Tensor>& bias,
           const std::optional<Tensor>& running_mean, const std::optional<Tensor>& running_var, bool training,
           double momentum, double eps) {
          BatchNormForward r;
          {
            py::gil_scoped_release nogil;
            r = batch_norm_forward(input, or_undefined(weight), or_undefined(bias), or_undefined(running_mean),
                                   or_undefined(running_var), training, momentum, eps);
          }
          return py::make_tuple(r.output, r.save_mean, r.save_invstd);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"), py::arg("running_var"),
        py::arg("training"), py::arg("momentum"), py::arg("eps"));
  m.def("batch_norm_backward",
        [](const Tensor& grad_output, const Tensor& input, const std::optional<Tensor>& weight,
           const Tensor& save_mean, const Tensor& save_invstd, bool training, std::array<bool, 3> output_mask) {
          BatchNormBackward r;
          {
            py::gil_scoped_release nogil;
            r = batch_norm_backward(grad_output, input, or_undefined(weight), save_mean, save_invstd, training,
                                    output_mask);
          }
          return py::make_tuple(or_none(r.grad_input), or_none(r.grad_weight), or_none(r.grad_bias));
        },
        py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("save_mean"), py::arg("save_invstd"),
        py::arg("training"), py::arg("output_mask"));
  // Tests only: run the portable loops where the AVX2+FMA ones would be picked.
  m.def("_batch_norm_force_portable", &cpu::batch_norm_force_portable, py::arg("on"));
}

}  // namespace lamina::python
