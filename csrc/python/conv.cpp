// Bindings of ops/conv.h (kernels run with the GIL released).
#include "ops/conv.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(conv) {
  m.def(
      "conv2d_forward",
      [](const Tensor& input, const Tensor& weight, const std::optional<Tensor>& bias, const Shape& stride,
         const Shape& padding, const Shape& dilation, int64_t groups) {
        py::gil_scoped_release nogil;
        return conv2d_forward(input, weight, bias.value_or(Tensor()), stride, padding, dilation, groups);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"));
  m.def(
      "conv2d_backward",
      [](const Tensor& grad_output, const Tensor& input, const Tensor& weight, const Shape& stride,
         const Shape& padding, const Shape& dilation, int64_t groups, std::array<bool, 3> output_mask) {
        std::array<Tensor, 3> g;
        {
          py::gil_scoped_release nogil;
          g = conv2d_backward(grad_output, input, weight, stride, padding, dilation, groups, output_mask);
        }
        py::tuple out(3);
        for (size_t i = 0; i < 3; ++i) out[i] = g[i].defined() ? py::cast(g[i]) : py::none();
        return out;
      },
      py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("output_mask"));
  m.def("conv2d_kernel_path", &conv2d_kernel_path, py::arg("input"), py::arg("weight"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"));
}

}  // namespace lamina::python
