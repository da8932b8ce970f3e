// Bindings of ops/activation.h (kernels run with the GIL released). Activations are passed by
// their code in the Activation enum (python/lamina/nn/functional/_activation.py mirrors it).
#include "ops/activation.h"
#include "python/bindings.h"

namespace lamina::python {

namespace {
Activation activation_from_int(int code) {
  LAMINA_CHECK(code >= 0 && code < kActivationCount, ValueError, "activation", "unknown activation code ", code);
  return static_cast<Activation>(code);
}
}  // namespace

LAMINA_BINDINGS(activation) {
  m.def("activation_forward", [](int op, const Tensor& input, double alpha, double beta) {
    const Activation a = activation_from_int(op);
    py::gil_scoped_release nogil;
    return activation_forward(a, input, alpha, beta);
  }, py::arg("op"), py::arg("input"), py::arg("alpha") = 0.0, py::arg("beta") = 0.0);
  m.def("activation_backward", [](int op, const Tensor& grad_output, const Tensor& saved, double alpha, double beta) {
    const Activation a = activation_from_int(op);
    py::gil_scoped_release nogil;
    return activation_backward(a, grad_output, saved, alpha, beta);
  }, py::arg("op"), py::arg("grad_output"), py::arg("saved"), py::arg("alpha") = 0.0, py::arg("beta") = 0.0);
  m.def("activation_backward_uses_output", [](int op) {
    return activation_backward_uses_output(activation_from_int(op));
  }, py::arg("op"));
  m.def("softmax_forward", &softmax_forward, py::call_guard<py::gil_scoped_release>(), py::arg("input"),
        py::arg("dim"), py::arg("log"));
  m.def("softmax_backward", &softmax_backward, py::call_guard<py::gil_scoped_release>(), py::arg("grad_output"),
        py::arg("output"), py::arg("dim"), py::arg("log"));
  // Tests only: run the portable loops where the AVX2+FMA ones would be picked.
  m.def("_activation_force_portable", &cpu::activation_force_portable, py::arg("on"));
}

}  // namespace lamina::python
