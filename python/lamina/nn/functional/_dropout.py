"""``dropout``, as ``torch.nn.functional.dropout``. The mask comes from Lamina's seeded
counter-based generator, so a run is reproducible under ``lamina.manual_seed`` whatever the
thread count; the forward and the backward (through the saved mask) are one C++ call each
(csrc/ops/dropout.h)."""

from __future__ import annotations

import numbers

from ... import _C
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...tensor import Tensor

__all__ = ["dropout"]


class _Dropout(Function):
    @staticmethod
    def forward(ctx, x, p):
        out, mask = _C.dropout_forward(x, p)
        ctx.save_for_backward(mask)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return _C.dropout_backward(grad, mask, ctx.p), None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``
    when ``training`` (as ``torch.nn.functional.dropout``); returns ``input`` itself when not
    training or when ``p == 0``.

    ``inplace=True`` writes into ``input`` when autograd does not record the op; when a gradient
    flows through ``input`` (Lamina has no in-place autograd) a new tensor is returned instead.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> _ = lamina.manual_seed(0)
    >>> y = F.dropout(lamina.ones(1000), p=0.25)
    >>> sorted(set(round(v, 4) for v in y.tolist()))
    [0.0, 1.3333]
    >>> F.dropout(lamina.ones(3), p=0.25, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"lamina.dropout: argument 'input' must be a Tensor, got {type(input).__name__}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"lamina.dropout: argument 'p' must be a number, got {type(p).__name__}")
    p = float(p)
    if not 0.0 <= p <= 1.0:  # NaN fails too
        raise ValueError(f"lamina.dropout: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0 or input.numel() == 0:
        return input
    out = _Dropout.apply(input, p)
    if inplace and not (is_grad_enabled() and input.requires_grad):
        _C.copy_(input._t, out._t)
        return input
    return out
