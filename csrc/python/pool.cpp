// Bindings of ops/pool.h (kernels run with the GIL released).
#include "ops/pool.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(pool) {
  using nogil = py::call_guard<py::gil_scoped_release>;
  m.def("max_pool2d_forward", &max_pool2d_forward, nogil(), py::arg("input"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"));
  m.def("max_pool2d_backward", &max_pool2d_backward, nogil(), py::arg("grad_output"), py::arg("indices"),
        py::arg("input_sizes"));
  m.def("avg_pool2d_forward", &avg_pool2d_forward, nogil(), py::arg("input"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"));
  m.def("avg_pool2d_backward", &avg_pool2d_backward, nogil(), py::arg("grad_output"), py::arg("input_sizes"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
        py::arg("count_include_pad"), py::arg("divisor_override"));
  m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward, nogil(), py::arg("input"),
        py::arg("output_size"));
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, nogil(), py::arg("grad_output"),
        py::arg("input_sizes"));
}

}  // namespace lamina::python
