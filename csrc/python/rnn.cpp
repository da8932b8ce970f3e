// Bindings of ops/rnn.h (kernels run with the GIL released). `mode` is "gru", "rnn_tanh" or
// "rnn_relu"; `batch_sizes` is a list of ints (empty: every row active at every step).
#include "ops/rnn.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

RnnMode parse_mode(const std::string& mode) {
  if (mode == "gru") return RnnMode::Gru;
  if (mode == "rnn_tanh") return RnnMode::Tanh;
  if (mode == "rnn_relu") return RnnMode::Relu;
  LAMINA_FAIL(ValueError, "rnn", "unknown mode '", mode, "': expected 'gru', 'rnn_tanh' or 'rnn_relu'");
}

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

py::object out(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

}  // namespace

LAMINA_BINDINGS(rnn) {
  m.def("rnn_forward", [](const std::string& mode, const Tensor& input, const Tensor& hx, const Tensor& w_ih,
                          const Tensor& w_hh, std::optional<Tensor> b_ih, std::optional<Tensor> b_hh,
                          const std::vector<int64_t>& batch_sizes, bool reverse) {
    const RnnMode md = parse_mode(mode);
    RnnForwardResult r;
    {
      py::gil_scoped_release nogil;
      r = rnn_forward(md, input, hx, w_ih, w_hh, opt(b_ih), opt(b_hh), batch_sizes, reverse);
    }
    return py::make_tuple(r.output, r.h_n, out(r.workspace));
  }, py::arg("mode"), py::arg("input"), py::arg("hx"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"),
     py::arg("b_hh"), py::arg("batch_sizes"), py::arg("reverse"));
  m.def("rnn_backward", [](const std::string& mode, std::optional<Tensor> grad_output,
                           std::optional<Tensor> grad_h_n, const Tensor& input, const Tensor& hx,
                           const Tensor& w_ih, const Tensor& w_hh, const Tensor& output,
                           std::optional<Tensor> workspace, const std::vector<int64_t>& batch_sizes,
                           bool reverse, bool has_bias, bool need_input, bool need_hx, bool need_weights) {
    const RnnMode md = parse_mode(mode);
    RnnGrads g;
    {
      py::gil_scoped_release nogil;
      g = rnn_backward(md, opt(grad_output), opt(grad_h_n), input, hx, w_ih, w_hh, output, opt(workspace),
                       batch_sizes, reverse, has_bias, need_input, need_hx, need_weights);
    }
    return py::make_tuple(out(g.grad_input), out(g.grad_hx), out(g.grad_w_ih), out(g.grad_w_hh),
                          out(g.grad_b_ih), out(g.grad_b_hh));
  }, py::arg("mode"), py::arg("grad_output"), py::arg("grad_h_n"), py::arg("input"), py::arg("hx"),
     py::arg("w_ih"), py::arg("w_hh"), py::arg("output"), py::arg("workspace"), py::arg("batch_sizes"),
     py::arg("reverse"), py::arg("has_bias"), py::arg("need_input"), py::arg("need_hx"),
     py::arg("need_weights"));
}

}  // namespace lamina::python
