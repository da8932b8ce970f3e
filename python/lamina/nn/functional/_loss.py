"""Losses, as ``torch.nn.functional``: ``cross_entropy`` (log_softmax and the negative
log-likelihood fused in one C++ pass forward and one backward), ``nll_loss``, ``mse_loss``,
``l1_loss``, ``binary_cross_entropy`` and ``binary_cross_entropy_with_logits``. Forward and
backward are one C++ call each (csrc/ops/loss.h); the arguments are checked there.
"""

from __future__ import annotations

import warnings

from ... import _C
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss",
           "mse_loss", "nll_loss"]


# ---------------------------------------------------------------- argument handling


def _legacy_reduction(size_average, reduce) -> str:
    """The reduction named by the deprecated ``size_average``/``reduce`` pair (as torch)."""
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='mean', "
                  "'sum' or 'none' instead.", stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _reduction(op: str, reduction, size_average, reduce) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if not isinstance(reduction, str):
        raise TypeError(f"lamina.{op}: argument 'reduction' must be 'none', 'mean' or 'sum', got "
                        f"{type(reduction).__name__}")
    return reduction


def _check_tensor(op: str, name: str, t, optional: bool = False) -> None:
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        kind = "a Tensor or None" if optional else "a Tensor"
        raise TypeError(f"lamina.{op}: argument '{name}' must be {kind}, got {type(t).__name__}")


def _check_int(op: str, name: str, v) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise TypeError(f"lamina.{op}: argument '{name}' must be an int, got {type(v).__name__}")
    return v.__index__()


def _not_differentiable(op: str, name: str, t) -> None:
    """torch refuses a ``weight`` that requires grad where the op has no derivative for it."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"lamina.{op}: the loss is not differentiable with respect to argument "
                           f"'{name}' (as in torch); this input cannot have requires_grad=True "
                           "(pass weight.detach())")


# ---------------------------------------------------------------- Functions


class _CrossEntropy(Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        loss, lse, total_weight = _C.cross_entropy_forward(input, target, weight, ignore_index,
                                                           reduction, label_smoothing)
        ctx.save_for_backward(input, target, weight, lse)
        ctx.args = (total_weight, ignore_index, reduction, label_smoothing)
        return loss

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, lse = ctx.saved_tensors
        total_weight, ignore_index, reduction, label_smoothing = ctx.args
        need = ctx.needs_input_grad
        gi, gt, gw = _C.cross_entropy_backward(grad, input, target, weight, lse, total_weight,
                                               ignore_index, reduction, label_smoothing,
                                               need[0], need[1], need[2])
        return gi, gt, gw, None, None, None


class _NLLLoss(Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction):
        loss, total_weight = _C.nll_loss_forward(input, target, weight, ignore_index, reduction)
        ctx.save_for_backward(input, target, weight)
        ctx.args = (total_weight, ignore_index, reduction)
        return loss

    @staticmethod
    def backward(ctx, grad):
        input, target, weight = ctx.saved_tensors
        total_weight, ignore_index, reduction = ctx.args
        gi = None
        if ctx.needs_input_grad[0]:
            gi = _C.nll_loss_backward(grad, input, target, weight, total_weight, ignore_index,
                                      reduction)
        return gi, None, None, None, None


class _PointwiseLoss(Function):
    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, name, reduction):
        loss, norm, value = _C.pointwise_loss_forward(name, input, target, weight, pos_weight,
                                                      reduction)
        ctx.save_for_backward(input, target, weight, pos_weight)
        ctx.args = (name, reduction, norm, value)
        return loss

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, pos_weight = ctx.saved_tensors
        name, reduction, norm, value = ctx.args
        need = ctx.needs_input_grad
        gi, gt, gw = _C.pointwise_loss_backward(name, grad, input, target, weight, pos_weight,
                                                reduction, norm, value, need[0], need[1], need[2])
        return gi, gt, gw, None, None, None


# ---------------------------------------------------------------- public functions


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between logits ``input`` and ``target``, as
    ``torch.nn.functional.cross_entropy``.

    ``input`` is ``(N, C)``, ``(N, C, d1, d2, ...)`` or unbatched ``(C,)`` (classes on dim 1,
    or dim 0 when unbatched). ``target`` holds either class indices (int64, shape ``(N,)``,
    ``(N, d1, ...)`` or 0-d) or class probabilities (floating point, ``input``'s shape).
    ``weight`` rescales each class; targets equal to ``ignore_index`` add nothing and are left
    out of the mean (which divides by the summed weights of the other targets); with
    ``label_smoothing`` = ε the target mixes ``1 - ε`` of itself with a uniform ``ε / C``.
    log_softmax and the NLL run fused in one C++ pass; the backward writes
    ``softmax - target`` (scaled) without building a one-hot tensor.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> logits = lamina.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, lamina.tensor([0, 2]))
    >>> round(loss.item(), 4)
    0.6691
    >>> loss.backward()
    >>> [round(v, 4) for v in logits.grad[0].tolist()]
    [-0.1065, 0.0533, 0.0533]
    """
    op = "cross_entropy"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    reduction = _reduction(op, reduction, size_average, reduce)
    ignore_index = _check_int(op, "ignore_index", ignore_index)
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"lamina.{op}: argument 'label_smoothing' must be a float, got "
                        f"{type(label_smoothing).__name__}")
    if tuple(target.shape) != tuple(input.shape):  # class indices: no derivative for weight
        _not_differentiable(op, "weight", weight)
    return _CrossEntropy.apply(input, target, weight, ignore_index, reduction,
                               float(label_smoothing))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``, as
    ``torch.nn.functional.nll_loss``: ``-weight[t] * input[n, t]``, with the shapes,
    ``ignore_index`` and ``reduction`` of :func:`cross_entropy` (class-index targets).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> logp = lamina.tensor([[-0.5, -1.0], [-2.0, -0.25]])
    >>> F.nll_loss(logp, lamina.tensor([0, 1])).item()
    0.375
    """
    op = "nll_loss"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    reduction = _reduction(op, reduction, size_average, reduce)
    ignore_index = _check_int(op, "ignore_index", ignore_index)
    _not_differentiable(op, "weight", weight)
    return _NLLLoss.apply(input, target, weight, ignore_index, reduction)


def _size_warning(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Squared error ``(input - target)^2`` (times ``weight``), as
    ``torch.nn.functional.mse_loss``. ``input`` and ``target`` broadcast; with ``weight`` (of
    ``input``'s shape) the mean is ``sum(weight * error) / sum(weight)``.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.mse_loss(lamina.tensor([1.0, 2.0]), lamina.tensor([0.0, 0.0])).item()
    2.5
    """
    op = "mse_loss"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    _size_warning(input, target)
    reduction = _reduction(op, reduction, size_average, reduce)
    return _PointwiseLoss.apply(input, target, weight, None, op, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Absolute error ``|input - target|`` (times ``weight``), as
    ``torch.nn.functional.l1_loss``; broadcasting and ``weight`` as :func:`mse_loss`.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.l1_loss(lamina.tensor([1.0, -3.0]), lamina.tensor([0.0, 0.0])).item()
    2.0
    """
    op = "l1_loss"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    _size_warning(input, target)
    reduction = _reduction(op, reduction, size_average, reduce)
    return _PointwiseLoss.apply(input, target, weight, None, op, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross entropy of probabilities ``input`` against ``target`` (same shape, values
    in [0, 1]), as ``torch.nn.functional.binary_cross_entropy``:
    ``-weight * (t log x + (1 - t) log(1 - x))`` with each log clamped to >= -100. Values
    outside [0, 1] raise a RuntimeError, as in torch. ``weight`` broadcasts to the input.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> round(F.binary_cross_entropy(lamina.tensor([0.5]), lamina.tensor([1.0])).item(), 4)
    0.6931
    """
    op = "binary_cross_entropy"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    reduction = _reduction(op, reduction, size_average, reduce)
    _not_differentiable(op, "weight", weight)
    return _PointwiseLoss.apply(input, target, weight, None, op, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross entropy of ``sigmoid(input)`` against ``target``, computed stably from the
    logits, as ``torch.nn.functional.binary_cross_entropy_with_logits``:
    ``weight * ((1 - t) x - (1 + (pos_weight - 1) t) log_sigmoid(x))``. ``weight`` and
    ``pos_weight`` broadcast against the input (``pos_weight`` of shape ``(C,)`` weighs the
    positives of each class of an ``(N, C)`` input).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> x = lamina.tensor([0.0, 1e4, -1e4])
    >>> F.binary_cross_entropy_with_logits(x, lamina.tensor([1.0, 1.0, 0.0]), reduction="none").tolist()
    [0.6931471824645996, 0.0, 0.0]
    """
    op = "binary_cross_entropy_with_logits"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    _check_tensor(op, "weight", weight, optional=True)
    _check_tensor(op, "pos_weight", pos_weight, optional=True)
    reduction = _reduction(op, reduction, size_average, reduce)
    _not_differentiable(op, "weight", weight)
    _not_differentiable(op, "pos_weight", pos_weight)
    return _PointwiseLoss.apply(input, target, weight, pos_weight, op, reduction)
