"""``batch_norm``, as ``torch.nn.functional.batch_norm``. The forward (statistics, normalisation
and the running-stat update in one pass over the data) and the fused backward are one C++ call
each (csrc/ops/norm.h)."""

from __future__ import annotations

import numbers

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["batch_norm"]


class _BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        out, save_mean, save_invstd = _C.batch_norm_forward(
            x, weight, bias, running_mean, running_var, training, momentum, eps)
        ctx.save_for_backward(x, weight, save_mean, save_invstd)
        ctx.training = training
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, save_mean, save_invstd = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx, gw, gb = _C.batch_norm_backward(grad, x, weight, save_mean, save_invstd, ctx.training,
                                            [need_x, need_w, need_b])
        return gx, gw, gb, None, None, None, None, None


def _check_tensor(name: str, t, optional: bool) -> None:
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        kind = "a Tensor or None" if optional else "a Tensor"
        raise TypeError(f"lamina.batch_norm: argument '{name}' must be {kind}, got {type(t).__name__}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over dim 1 of ``input`` ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``
    (as ``torch.nn.functional.batch_norm``).

    ``training=True`` normalises with the batch's mean and biased variance and, when running
    stats are given, updates them in place: ``running = (1 - momentum) * running + momentum *
    batch`` (``running_var`` takes the unbiased variance). ``training=False`` normalises with
    the running stats. ``weight`` and ``bias`` (``(C,)``) scale and shift the result.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> x = lamina.tensor([[1.0, 10.0], [3.0, 30.0]])
    >>> rm, rv = lamina.zeros(2), lamina.ones(2)
    >>> [[round(v, 3) for v in row] for row in F.batch_norm(x, rm, rv, training=True).tolist()]
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [round(v, 3) for v in rm.tolist()]
    [0.2, 2.0]
    """
    _check_tensor("input", input, False)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_tensor(name, t, True)
    for name, v in (("momentum", momentum), ("eps", eps)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"lamina.batch_norm: argument '{name}' must be a float, got {type(v).__name__}"
                            + (" (momentum=None is a module option: nn.BatchNorm*d(momentum=None))"
                               if v is None and name == "momentum" else ""))
    if not isinstance(training, (bool, int)):
        raise TypeError(f"lamina.batch_norm: argument 'training' must be a bool, got {type(training).__name__}")
    return _BatchNorm.apply(input, weight, bias, running_mean, running_var, bool(training),
                            float(momentum), float(eps))
