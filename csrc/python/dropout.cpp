// Bindings of ops/dropout.h (kernels run with the GIL released).
#include "ops/dropout.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(dropout) {
  m.def("dropout_forward", [](const Tensor& input, double p) {
    DropoutForward r;
    {
      py::gil_scoped_release nogil;
      r = dropout_forward(input, p);
    }
    return py::make_tuple(r.output, r.mask);
  }, py::arg("input"), py::arg("p"));
  m.def("dropout_backward", &dropout_backward, py::call_guard<py::gil_scoped_release>(), py::arg("grad_output"),
        py::arg("mask"), py::arg("p"));
}

}  // namespace lamina::python
