// Bindings of ops/linear.h (kernels run with the GIL released).
#include "ops/linear.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(linear) {
  m.def("linear_forward", [](const Tensor& input, const Tensor& weight, std::optional<Tensor> bias) {
    py::gil_scoped_release nogil;
    return linear_forward(input, weight, bias ? *bias : Tensor());
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());
  m.def("linear_backward", [](const Tensor& grad_output, std::optional<Tensor> input,
                              std::optional<Tensor> weight, const Shape& input_shape, bool need_input,
                              bool need_weight, bool need_bias) {
    LinearGrads r;
    {
      py::gil_scoped_release nogil;
      r = linear_backward(grad_output, input ? *input : Tensor(), weight ? *weight : Tensor(),
                          input_shape, need_input, need_weight, need_bias);
    }
    auto opt = [](const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); };
    return py::make_tuple(opt(r.grad_input), opt(r.grad_weight), opt(r.grad_bias));
  }, py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("input_shape"),
     py::arg("need_input"), py::arg("need_weight"), py::arg("need_bias"));
}

}  // namespace lamina::python
