// Bindings of ops/embedding.h (kernels run with the GIL released).
#include "ops/embedding.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(embedding) {
  m.def("embedding_forward", [](const Tensor& weight, const Tensor& indices) {
    py::gil_scoped_release nogil;
    return embedding_forward(weight, indices);
  }, py::arg("weight"), py::arg("indices"));
  m.def("embedding_backward", [](const Tensor& grad_output, const Tensor& indices, int64_t num_weights,
                                 int64_t padding_idx, bool scale_grad_by_freq) {
    py::gil_scoped_release nogil;
    return embedding_backward(grad_output, indices, num_weights, padding_idx, scale_grad_by_freq);
  }, py::arg("grad_output"), py::arg("indices"), py::arg("num_weights"), py::arg("padding_idx"),
     py::arg("scale_grad_by_freq"));
}

}  // namespace lamina::python
