"""``linear``: y = x W^T + b, as ``torch.nn.functional.linear``. Forward and backward are one
C++ call each (csrc/ops/linear.h), both through the packed GEMM."""

from __future__ import annotations

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["linear"]


class _Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        need_x, need_w, need_b = ctx.needs_input_grad
        # backward needs W for dx and x for dW only.
        ctx.save_for_backward(x if need_w else None, weight if need_x else None)
        ctx.input_shape = x.shape
        return _C.linear_forward(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        return _C.linear_backward(grad, x, weight, list(ctx.input_shape), need_x, need_w, need_b)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y = input @ weight.T + bias`` for ``input`` of shape ``(*, in_features)``, ``weight``
    ``(out_features, in_features)`` and ``bias`` ``(out_features,)`` (as
    ``torch.nn.functional.linear``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> x, w, b = lamina.ones(2, 3), lamina.ones(4, 3), lamina.zeros(4)
    >>> F.linear(x, w, b).tolist()
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
    """
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"lamina.linear: argument '{name}' must be a Tensor, got {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"lamina.linear: argument 'bias' must be a Tensor or None, got {type(bias).__name__}")
    return _Linear.apply(input, weight, bias)
