"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm`` and
``clip_grads_with_norm_``, as ``torch.nn.utils``.

The total norm is computed in C++ over all gradients in one call (``lamina._C.multi_tensor_norm``:
each gradient's norm accumulated in double, then the norm of those norms, as torch stacks the
per-tensor norms) and the gradients are scaled in one call (``multi_tensor_scale_``).
"""

from __future__ import annotations

import types
import warnings
from typing import Iterable, Union

from ... import _C
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]

_TensorOrTensors = Union[Tensor, Iterable[Tensor]]


def _as_list(tensors: _TensorOrTensors, op: str) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    out = list(tensors)
    for t in out:
        if not isinstance(t, Tensor):
            raise TypeError(f"lamina.nn.utils.{op}: expected Tensors, got {type(t).__name__}")
    return out


@no_grad()
def get_total_norm(tensors: _TensorOrTensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as if concatenated into one vector),
    as a 0-d tensor (float64 if any tensor is float64, else float32).

    >>> import lamina
    >>> float(lamina.nn.utils.get_total_norm([lamina.tensor([3.0]), lamina.tensor([4.0])]))
    5.0
    """
    tensors = _as_list(tensors, "get_total_norm")
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return Tensor._wrap(_C.full([], 0.0, "float32", "cpu"))
    dtype = "float64" if any(t._t.dtype == "float64" for t in tensors) else "float32"
    total = _C.multi_tensor_norm([t._t for t in tensors], norm_type)
    total_norm = Tensor._wrap(_C.full([], total, dtype, tensors[0]._t.device))
    if error_if_nonfinite and (total != total or total in (float("inf"), float("-inf"))):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total_norm


@no_grad()
def clip_grads_with_norm_(parameters: _TensorOrTensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scales the gradients by ``min(max_norm / (total_norm + 1e-6), 1)`` in place."""
    parameters = _as_list(parameters, "clip_grads_with_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if len(grads) == 0:
        return
    if not isinstance(total_norm, Tensor):
        raise TypeError("lamina.nn.utils.clip_grads_with_norm_: argument 'total_norm' must be a "
                        f"Tensor, got {type(total_norm).__name__}")
    # In total_norm's dtype, as torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1.
    coef = float((max_norm / (total_norm + 1e-6)).clamp(max=1.0))
    contiguous = [g._t for g in grads if g._t.is_contiguous]
    _C.multi_tensor_scale_(contiguous, coef)
    for g in grads:
        if not g._t.is_contiguous:
            g.mul_(coef)


def clip_grad_norm_(parameters: _TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Clips the gradients of ``parameters`` in place so that their total ``norm_type``-norm is
    at most ``max_norm``; returns the total norm before clipping (``torch.nn.utils.clip_grad_norm_``).

    >>> import lamina
    >>> w = lamina.zeros(2, requires_grad=True)
    >>> w.grad = lamina.tensor([3.0, 4.0])
    >>> float(lamina.nn.utils.clip_grad_norm_([w], max_norm=1.0))
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    parameters = _as_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters: _TensorOrTensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    warnings.warn("`lamina.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`lamina.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters: _TensorOrTensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamps every gradient to ``[-clip_value, clip_value]`` in place.

    >>> import lamina
    >>> w = lamina.zeros(3, requires_grad=True)
    >>> w.grad = lamina.tensor([-2.0, 0.5, 3.0])
    >>> lamina.nn.utils.clip_grad_value_([w], 1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    parameters = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
