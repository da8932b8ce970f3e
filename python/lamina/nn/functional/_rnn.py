"""The LSTM: ``lstm_cell`` (as ``torch._VF.lstm_cell``) and ``lstm_sequence``, one layer and one
direction over a whole sequence. Each forward and each backward is one C++ call
(csrc/ops/lstm.h): the sequence runs forward through all steps and backward through time inside
it, with the input projection and the weight gradients as single GEMMs."""

from __future__ import annotations

from collections.abc import Sequence

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["lstm_cell", "lstm_sequence"]


def _batch_sizes_list(batch_sizes, op: str) -> list | None:
    """None, or the per-step active row counts as a list of Python ints."""
    if batch_sizes is None:
        return None
    if isinstance(batch_sizes, Tensor):
        if batch_sizes.dim() != 1 or batch_sizes.dtype.is_floating_point:
            raise TypeError(f"lamina.{op}: batch_sizes must be a 1-D integer tensor, got "
                            f"{batch_sizes.dtype} of shape {list(batch_sizes.shape)}")
        return [int(v) for v in batch_sizes.tolist()]
    if isinstance(batch_sizes, Sequence) and not isinstance(batch_sizes, (str, bytes)):
        out = []
        for v in batch_sizes:
            if isinstance(v, bool) or not hasattr(v, "__index__"):
                raise TypeError(f"lamina.{op}: batch_sizes must hold integers, got {v!r}")
            out.append(int(v))
        return out
    raise TypeError(f"lamina.{op}: batch_sizes must be None, a list of ints or an int64 tensor, "
                    f"got {type(batch_sizes).__name__}")


def _check_tensor(t, name: str, op: str, optional: bool = False) -> None:
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        kind = "a Tensor or None" if optional else "a Tensor"
        raise TypeError(f"lamina.{op}: argument '{name}' must be {kind}, got {type(t).__name__}")


class _LSTMSequence(Function):
    @staticmethod
    def forward(ctx, x, hx, cx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse):
        out, h_n, c_n, gates, cells = _C.lstm_forward(x, hx, cx, w_ih, w_hh, b_ih, b_hh, batch_sizes,
                                                      reverse)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, hx, cx, w_ih, w_hh, out, gates, cells)
        ctx.batch_sizes = batch_sizes
        ctx.reverse = reverse
        ctx.set_materialize_grads(False)  # an unused h_n or c_n: None, which C++ reads as zeros
        return out, h_n, c_n

    @staticmethod
    def backward(ctx, grad_out, grad_h_n, grad_c_n):
        x, hx, cx, w_ih, w_hh, out, gates, cells = ctx.saved_tensors
        n = ctx.needs_input_grad
        needs = [n[0], n[1], n[2], n[3], n[4], n[5] or n[6]]
        # `gates` was made by forward and saved, never returned: once the saved tensors are
        # freed after this call, the gate gradients may overwrite it.
        dx, dhx, dcx, dw_ih, dw_hh, db = _C.lstm_backward(
            grad_out, grad_h_n, grad_c_n, x, hx, cx, w_ih, w_hh, out, gates, cells, ctx.batch_sizes,
            ctx.reverse, needs, ctx.frees_saved)
        return (dx, dhx, dcx, dw_ih, dw_hh, db if n[5] else None, db if n[6] else None, None, None)


class _LSTMCell(Function):
    @staticmethod
    def forward(ctx, x, hx, cx, w_ih, w_hh, b_ih, b_hh):
        _, hy, cy, gates, cells = _C.lstm_cell_forward(x, hx, cx, w_ih, w_hh, b_ih, b_hh)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, hx, cx, w_ih, w_hh, gates, cells)
        return hy, cy

    @staticmethod
    def backward(ctx, grad_hy, grad_cy):
        x, hx, cx, w_ih, w_hh, gates, cells = ctx.saved_tensors
        n = ctx.needs_input_grad
        needs = [n[0], n[1], n[2], n[3], n[4], n[5] or n[6]]
        dx, dhx, dcx, dw_ih, dw_hh, db = _C.lstm_cell_backward(grad_hy, grad_cy, x, hx, cx, w_ih, w_hh,
                                                               gates, cells, needs)
        return dx, dhx, dcx, dw_ih, dw_hh, db if n[5] else None, db if n[6] else None


def lstm_sequence(input: Tensor, hx: Tensor, cx: Tensor, w_ih: Tensor, w_hh: Tensor,
                  b_ih: Tensor | None, b_hh: Tensor | None, batch_sizes=None,
                  reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer in one direction over a whole sequence: ``(output, h_n, c_n)``.

    ``input`` is time-major ``(T, B, I)``, ``hx`` and ``cx`` ``(B, H)``, ``w_ih`` ``(4H, I)``,
    ``w_hh`` ``(4H, H)``, ``b_ih``/``b_hh`` ``(4H,)`` or None, gates in PyTorch's order i, f, g, o.
    ``batch_sizes`` (None or T non-increasing ints) makes only the first ``batch_sizes[t]`` rows
    active at step t (PyTorch's packed layout); inactive rows output 0 and keep their state.
    ``reverse=True`` runs time backwards; each row then starts from ``hx``/``cx`` at its own last
    valid step. ``output`` is ``(T, B, H)``; ``h_n``/``c_n`` hold each row's state after its last
    processed step. Differentiable in every tensor argument; forward and backward are one C++
    call each.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> T, B, I, H = 5, 2, 3, 4
    >>> x, h, c = lamina.randn(T, B, I), lamina.zeros(B, H), lamina.zeros(B, H)
    >>> w_ih, w_hh = lamina.randn(4 * H, I), lamina.randn(4 * H, H)
    >>> out, h_n, c_n = F.lstm_sequence(x, h, c, w_ih, w_hh, None, None)
    >>> out.shape, h_n.shape
    (lamina.Size([5, 2, 4]), lamina.Size([2, 4]))
    """
    op = "lstm_sequence"
    for name, t in (("input", input), ("hx", hx), ("cx", cx), ("w_ih", w_ih), ("w_hh", w_hh)):
        _check_tensor(t, name, op)
    _check_tensor(b_ih, "b_ih", op, optional=True)
    _check_tensor(b_hh, "b_hh", op, optional=True)
    bs = _batch_sizes_list(batch_sizes, op)
    return _LSTMSequence.apply(input, hx, cx, w_ih, w_hh, b_ih, b_hh, bs, bool(reverse))


def lstm_cell(input: Tensor, hx, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step, as ``torch._VF.lstm_cell``: ``hx`` is the pair ``(h, c)``; returns
    ``(h', c')``. ``input`` ``(B, I)``, ``h``/``c`` ``(B, H)``, weights ``(4H, I)``, ``(4H, H)``,
    biases ``(4H,)`` or None. One fused C++ call forward (two GEMMs and one pass over the gates
    i, f, g, o) and one backward.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> x, h, c = lamina.randn(2, 3), lamina.zeros(2, 4), lamina.zeros(2, 4)
    >>> h1, c1 = F.lstm_cell(x, (h, c), lamina.randn(16, 3), lamina.randn(16, 4))
    >>> h1.shape
    lamina.Size([2, 4])
    """
    op = "lstm_cell"
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"lamina.{op}: argument 'hx' must be a pair (h, c) of tensors, got "
                        f"{type(hx).__name__}")
    h, c = hx
    for name, t in (("input", input), ("hx[0]", h), ("hx[1]", c), ("w_ih", w_ih), ("w_hh", w_hh)):
        _check_tensor(t, name, op)
    _check_tensor(b_ih, "b_ih", op, optional=True)
    _check_tensor(b_hh, "b_hh", op, optional=True)
    return _LSTMCell.apply(input, h, c, w_ih, w_hh, b_ih, b_hh)
