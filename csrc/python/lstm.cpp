// Bindings of ops/lstm.h (kernels run with the GIL released).
#include "ops/lstm.h"
#include "python/bindings.h"

namespace lamina::python {
namespace {

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }

py::object opt_out(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

py::tuple forward_tuple(const LstmForward& r) {
  return py::make_tuple(r.output, r.h_n, r.c_n, r.gates, r.cells);
}

py::tuple grads_tuple(const LstmGrads& g) {
  return py::make_tuple(opt_out(g.grad_input), opt_out(g.grad_hx), opt_out(g.grad_cx), opt_out(g.grad_w_ih),
                        opt_out(g.grad_w_hh), opt_out(g.grad_bias));
}

LstmNeeds needs_of(const std::vector<bool>& v) {
  LAMINA_CHECK(v.size() == 6, ValueError, "lstm_backward",
               "needs must hold 6 flags (input, hx, cx, w_ih, w_hh, bias), got ", v.size());
  return LstmNeeds{v[0], v[1], v[2], v[3], v[4], v[5]};
}

}  // namespace

LAMINA_BINDINGS(lstm) {
  // -> (output [T, B, H], h_n, c_n, gates [T, B, 4H], cells [T, B, H])
  m.def("lstm_forward", [](const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                           const Tensor& w_hh, std::optional<Tensor> b_ih, std::optional<Tensor> b_hh,
                           std::optional<std::vector<int64_t>> batch_sizes, bool reverse) {
    LstmForward r;
    {
      py::gil_scoped_release nogil;
      r = lstm_forward(input, hx, cx, w_ih, w_hh, opt(b_ih), opt(b_hh), batch_sizes.value_or(std::vector<int64_t>{}),
                       reverse);
    }
    return forward_tuple(r);
  }, py::arg("input"), py::arg("hx"), py::arg("cx"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih") = py::none(),
     py::arg("b_hh") = py::none(), py::arg("batch_sizes") = py::none(), py::arg("reverse") = false);
  // -> (grad_input, grad_hx, grad_cx, grad_w_ih, grad_w_hh, grad_bias), None where not needed
  m.def("lstm_backward", [](std::optional<Tensor> grad_output, std::optional<Tensor> grad_h_n,
                            std::optional<Tensor> grad_c_n, const Tensor& input, const Tensor& hx, const Tensor& cx,
                            const Tensor& w_ih, const Tensor& w_hh, const Tensor& output, const Tensor& gates,
                            const Tensor& cells, std::optional<std::vector<int64_t>> batch_sizes, bool reverse,
                            const std::vector<bool>& needs, bool gates_scratch) {
    const LstmNeeds n = needs_of(needs);
    LstmGrads g;
    {
      py::gil_scoped_release nogil;
      g = lstm_backward(opt(grad_output), opt(grad_h_n), opt(grad_c_n), input, hx, cx, w_ih, w_hh, output, gates,
                        cells, batch_sizes.value_or(std::vector<int64_t>{}), reverse, n, gates_scratch);
    }
    return grads_tuple(g);
  }, py::arg("grad_output"), py::arg("grad_h_n"), py::arg("grad_c_n"), py::arg("input"), py::arg("hx"), py::arg("cx"),
     py::arg("w_ih"), py::arg("w_hh"), py::arg("output"), py::arg("gates"), py::arg("cells"), py::arg("batch_sizes"),
     py::arg("reverse"), py::arg("needs"), py::arg("gates_scratch") = false);
  // -> (output [1, B, H], h', c', gates [1, B, 4H], cells [1, B, H])
  m.def("lstm_cell_forward", [](const Tensor& input, const Tensor& hx, const Tensor& cx, const Tensor& w_ih,
                                const Tensor& w_hh, std::optional<Tensor> b_ih, std::optional<Tensor> b_hh) {
    LstmForward r;
    {
      py::gil_scoped_release nogil;
      r = lstm_cell_forward(input, hx, cx, w_ih, w_hh, opt(b_ih), opt(b_hh));
    }
    return forward_tuple(r);
  }, py::arg("input"), py::arg("hx"), py::arg("cx"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih") = py::none(),
     py::arg("b_hh") = py::none());
  m.def("lstm_cell_backward", [](std::optional<Tensor> grad_hy, std::optional<Tensor> grad_cy, const Tensor& input,
                                 const Tensor& hx, const Tensor& cx, const Tensor& w_ih, const Tensor& w_hh,
                                 const Tensor& gates, const Tensor& cells, const std::vector<bool>& needs) {
    const LstmNeeds n = needs_of(needs);
    LstmGrads g;
    {
      py::gil_scoped_release nogil;
      g = lstm_cell_backward(opt(grad_hy), opt(grad_cy), input, hx, cx, w_ih, w_hh, gates, cells, n);
    }
    return grads_tuple(g);
  });
  m.def("rnn_pack", [](const Tensor& padded, const std::vector<int64_t>& batch_sizes,
                       std::optional<std::vector<int64_t>> index) {
    py::gil_scoped_release nogil;
    return rnn_pack(padded, batch_sizes, index.value_or(std::vector<int64_t>{}));
  }, py::arg("padded"), py::arg("batch_sizes"), py::arg("index") = py::none());
  m.def("rnn_unpack", [](const Tensor& packed, const std::vector<int64_t>& batch_sizes,
                         std::optional<std::vector<int64_t>> index, int64_t batch, int64_t total_length,
                         double padding_value) {
    py::gil_scoped_release nogil;
    return rnn_unpack(packed, batch_sizes, index.value_or(std::vector<int64_t>{}), batch, total_length,
                      padding_value);
  }, py::arg("packed"), py::arg("batch_sizes"), py::arg("index"), py::arg("batch"), py::arg("total_length"),
     py::arg("padding_value") = 0.0);
}

}  // namespace lamina::python
