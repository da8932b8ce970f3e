// Bindings of ops/rbm.h (the kernel runs with the GIL released).
#include <optional>

#include "ops/rbm.h"
#include "python/bindings.h"

namespace lamina::python {

LAMINA_BINDINGS(rbm) {
  m.def("rbm_cd_step",
        [](const Tensor& v, std::optional<Tensor> chain, const Tensor& weight, const Tensor& h_bias,
           const Tensor& v_bias, const Tensor& vel_w, const Tensor& vel_hb, const Tensor& vel_vb, double lr,
           double momentum, double weight_decay, int64_t k, bool gaussian_visible, bool gaussian_hidden) {
          const RbmStep p{lr, momentum, weight_decay, k, gaussian_visible, gaussian_hidden};
          py::gil_scoped_release nogil;
          return rbm_cd_step(v, chain ? *chain : Tensor(), weight, h_bias, v_bias, vel_w, vel_hb, vel_vb, p);
        },
        py::arg("v"), py::arg("chain"), py::arg("weight"), py::arg("h_bias"), py::arg("v_bias"),
        py::arg("vel_w"), py::arg("vel_hb"), py::arg("vel_vb"), py::arg("lr"), py::arg("momentum"),
        py::arg("weight_decay"), py::arg("k"), py::arg("gaussian_visible"), py::arg("gaussian_hidden"));
}

}  // namespace lamina::python
