"""GRU and Elman RNN (tanh / relu) over a whole sequence and as single cells: one C++ call per
layer and direction forward, one for backward through time (csrc/ops/rnn.h), wrapped in one
autograd Function. The layers ``nn.GRU``/``nn.RNN``/``nn.GRUCell``/``nn.RNNCell`` are built on
these; they follow ``torch.nn.GRU``/``torch.nn.RNN`` (gates r, z, n in PyTorch's order, weights
``(3H, I)``/``(3H, H)`` for the GRU and ``(H, I)``/``(H, H)`` for the RNN).

Conventions shared with ``lstm_sequence``: ``input`` is time-major ``(T, B, I)``, ``hx`` is
``(B, H)`` (never None), the biases may be None, and ``batch_sizes`` (None or T non-increasing
counts, PyTorch's packed layout with rows sorted by length, longest first) marks the first
``batch_sizes[t]`` rows active at step t; inactive rows output 0 and keep their state. With
``reverse=True`` time runs T-1..0 and each row starts from ``hx`` at its own last valid step.
"""

from __future__ import annotations

from typing import Sequence

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["gru_sequence", "rnn_sequence", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"]


class _RnnSequence(Function):
    """Forward/backward of one layer and direction. ``cell`` marks a single step called with
    ``input (B, I)`` and returning only the new state ``(B, H)``."""

    @staticmethod
    def forward(ctx, mode, cell, input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse):
        x = input.unsqueeze(0) if cell else input
        output, h_n, ws = _C.rnn_forward(mode, x, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)
        ctx.save_for_backward(x, hx, w_ih, w_hh, output, ws)
        ctx.mode, ctx.cell, ctx.batch_sizes, ctx.reverse = mode, cell, batch_sizes, reverse
        ctx.has_bias = b_ih is not None
        if cell:
            return h_n
        return output, h_n

    @staticmethod
    def backward(ctx, *grads):
        x, hx, w_ih, w_hh, output, ws = ctx.saved_tensors
        if ctx.cell:
            grad_output, grad_h_n = None, grads[0]
        else:
            grad_output, grad_h_n = grads
        needs = ctx.needs_input_grad
        need_x, need_h, need_w = needs[2], needs[3], any(needs[4:8])
        gx, gh, gwih, gwhh, gbih, gbhh = _C.rnn_backward(
            ctx.mode, grad_output, grad_h_n, x, hx, w_ih, w_hh, output, ws, ctx.batch_sizes,
            ctx.reverse, ctx.has_bias, need_x, need_h, need_w)
        if ctx.cell and gx is not None:
            gx = gx.squeeze(0)
        return None, None, gx, gh, gwih, gwhh, gbih, gbhh, None, None


def _check_tensor(op: str, name: str, t, optional: bool = False) -> None:
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        kind = "a Tensor or None" if optional else "a Tensor"
        raise TypeError(f"lamina.{op}: argument '{name}' must be {kind}, got {type(t).__name__}")


def _batch_sizes_list(op: str, batch_sizes) -> list:
    if batch_sizes is None:
        return []
    if isinstance(batch_sizes, Tensor):
        if batch_sizes.dtype.name != "int64" or batch_sizes.dim() != 1:
            raise TypeError(f"lamina.{op}: argument 'batch_sizes' must be a 1-D int64 tensor, got "
                            f"{batch_sizes.dtype} of shape {list(batch_sizes.shape)}")
        return [int(v) for v in batch_sizes.tolist()]
    try:
        out = [int(v) for v in batch_sizes]
    except (TypeError, ValueError):
        raise TypeError(f"lamina.{op}: argument 'batch_sizes' must be None or a sequence of ints, "
                        f"got {type(batch_sizes).__name__}") from None
    return out


def _sequence(op, mode, input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse):
    for name, t in (("input", input), ("hx", hx), ("w_ih", w_ih), ("w_hh", w_hh)):
        _check_tensor(op, name, t)
    _check_tensor(op, "b_ih", b_ih, optional=True)
    _check_tensor(op, "b_hh", b_hh, optional=True)
    bs = _batch_sizes_list(op, batch_sizes)
    return _RnnSequence.apply(mode, False, input, hx, w_ih, w_hh, b_ih, b_hh, bs, bool(reverse))


def gru_sequence(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, batch_sizes: Sequence[int] | Tensor | None = None,
                 reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One GRU layer in one direction over a time-major sequence ``input (T, B, I)`` from
    ``hx (B, H)``: returns ``(output (T, B, H), h_n (B, H))``, as a single-layer
    ``torch.nn.GRU`` with ``weight_ih_l0 = w_ih (3H, I)``, ``weight_hh_l0 = w_hh (3H, H)``.

    >>> import lamina
    >>> from lamina.nn.functional import gru_sequence
    >>> x, h0 = lamina.randn(5, 2, 3), lamina.zeros(2, 4)
    >>> w_ih, w_hh = lamina.randn(12, 3), lamina.randn(12, 4)
    >>> out, h_n = gru_sequence(x, h0, w_ih, w_hh, None, None)
    >>> out.shape, h_n.shape
    (lamina.Size([5, 2, 4]), lamina.Size([2, 4]))
    """
    return _sequence("gru", "gru", input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)


def rnn_sequence(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
                 b_hh: Tensor | None, nonlinearity: str = "tanh",
                 batch_sizes: Sequence[int] | Tensor | None = None,
                 reverse: bool = False) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer (``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act ``"tanh"`` or
    ``"relu"``) in one direction over ``input (T, B, I)`` from ``hx (B, H)``: returns
    ``(output (T, B, H), h_n (B, H))``, as a single-layer ``torch.nn.RNN``.

    >>> import lamina
    >>> from lamina.nn.functional import rnn_sequence
    >>> x, h0 = lamina.randn(5, 2, 3), lamina.zeros(2, 4)
    >>> out, h_n = rnn_sequence(x, h0, lamina.randn(4, 3), lamina.randn(4, 4), None, None, "relu")
    >>> bool((out >= 0).all())
    True
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"lamina.rnn: argument 'nonlinearity' must be 'tanh' or 'relu', got {nonlinearity!r}")
    mode = "rnn_" + nonlinearity
    return _sequence(mode, mode, input, hx, w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)


def _cell(op, mode, input, hx, w_ih, w_hh, b_ih, b_hh) -> Tensor:
    _check_tensor(op, "input", input)
    _check_tensor(op, "hx", hx, optional=True)
    for name, t in (("w_ih", w_ih), ("w_hh", w_hh)):
        _check_tensor(op, name, t)
    _check_tensor(op, "b_ih", b_ih, optional=True)
    _check_tensor(op, "b_hh", b_hh, optional=True)
    if input.dim() not in (1, 2):
        raise ValueError(f"lamina.{op}: argument 'input' must be 1-D (input_size) or 2-D "
                         f"(batch, input_size), got shape {list(input.shape)}")
    unbatched = input.dim() == 1
    if unbatched:
        input = input.unsqueeze(0)
    if w_hh.dim() != 2:
        raise ValueError(f"lamina.{op}: argument 'w_hh' must be 2-D, got shape {list(w_hh.shape)}")
    if hx is None:
        from ...creation import zeros
        hx = zeros(input.shape[0], w_hh.shape[1], dtype=input.dtype, device=input.device)
    elif unbatched:
        if hx.dim() != 1:
            raise ValueError(f"lamina.{op}: for 1-D (unbatched) input, 'hx' must be 1-D, got shape "
                             f"{list(hx.shape)}")
        hx = hx.unsqueeze(0)
    h = _RnnSequence.apply(mode, True, input, hx, w_ih, w_hh, b_ih, b_hh, [], False)
    return h.squeeze(0) if unbatched else h


def gru_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step: ``input (B, I)`` (or ``(I,)``), ``hx (B, H)`` (None: zeros) -> ``h' (B, H)``,
    as ``torch.nn.GRUCell``.

    >>> import lamina
    >>> from lamina.nn.functional import gru_cell
    >>> gru_cell(lamina.randn(2, 3), lamina.zeros(2, 4), lamina.randn(12, 3), lamina.randn(12, 4)).shape
    lamina.Size([2, 4])
    """
    return _cell("gru_cell", "gru", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``, as ``torch.nn.RNNCell``.

    >>> import lamina
    >>> from lamina.nn.functional import rnn_tanh_cell
    >>> rnn_tanh_cell(lamina.randn(2, 3), lamina.zeros(2, 4), lamina.randn(4, 3), lamina.randn(4, 4)).shape
    lamina.Size([2, 4])
    """
    return _cell("rnn_tanh_cell", "rnn_tanh", input, hx, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input: Tensor, hx: Tensor | None, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman step ``h' = relu(W_ih x + b_ih + W_hh h + b_hh)``, as
    ``torch.nn.RNNCell(nonlinearity="relu")``.

    >>> import lamina
    >>> from lamina.nn.functional import rnn_relu_cell
    >>> rnn_relu_cell(lamina.randn(2, 3), lamina.zeros(2, 4), lamina.randn(4, 3), lamina.randn(4, 4)).shape
    lamina.Size([2, 4])
    """
    return _cell("rnn_relu_cell", "rnn_relu", input, hx, w_ih, w_hh, b_ih, b_hh)
