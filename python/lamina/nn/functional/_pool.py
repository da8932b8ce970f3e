"""Pooling: ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, as in
``torch.nn.functional``. Forward and backward each run one C++ entry point (csrc/ops/pool.h)."""

from __future__ import annotations

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor
from ._conv import _check_tensor, _pair

__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]


def _stride(stride, kernel_size: tuple, op: str) -> tuple:
    """stride=None (or an empty sequence) means kernel_size, as in torch."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel_size
    return _pair(stride, "stride", op)


class _MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
        out, idx = _C.max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
        ctx.input_sizes = list(x.shape)
        ctx.save_for_backward(idx)
        if return_indices:
            ctx.mark_non_differentiable(idx)
            return out, idx
        return out

    @staticmethod
    def backward(ctx, grad, *_):
        (idx,) = ctx.saved_tensors
        return _C.max_pool2d_backward(grad, idx, ctx.input_sizes), None, None, None, None, None, None


class _AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
        ctx.args = (list(x.shape), kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        return _C.avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                     divisor_override)

    @staticmethod
    def backward(ctx, grad):
        return (_C.avg_pool2d_backward(grad, *ctx.args),) + (None,) * 6


class _AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.input_sizes = list(x.shape)
        return _C.adaptive_avg_pool2d_forward(x, output_size)

    @staticmethod
    def backward(ctx, grad):
        return _C.adaptive_avg_pool2d_backward(grad, ctx.input_sizes), None


def _check_bool(v, name: str, op: str) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"lamina.{op}: argument '{name}' must be a bool, got {type(v).__name__}")
    return v


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input, as
    ``torch.nn.functional.max_pool2d``. ``stride`` defaults to ``kernel_size``; padding (at most
    half the window) counts as -inf. With ``return_indices`` also returns the argmax of each
    window as a flat index ``h * W + w`` into its plane.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.max_pool2d(lamina.randn(2, 3, 7, 5), 2).shape
    lamina.Size([2, 3, 3, 2])
    """
    op = "max_pool2d"
    _check_tensor(input, "input", op)
    k = _pair(kernel_size, "kernel_size", op)
    s = _stride(stride, k, op)
    p = _pair(padding, "padding", op)
    d = _pair(dilation, "dilation", op)
    return _MaxPool2d.apply(input, list(k), list(s), list(p), list(d), _check_bool(ceil_mode, "ceil_mode", op),
                            _check_bool(return_indices, "return_indices", op))


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling over an ``(N, C, H, W)`` or ``(C, H, W)`` input, as
    ``torch.nn.functional.avg_pool2d``. ``count_include_pad`` counts the zero padding in the
    divisor; ``divisor_override`` replaces the divisor.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.avg_pool2d(lamina.ones(1, 1, 4, 4), 2, padding=1).tolist()[0][0][0]
    [0.25, 0.5, 0.25]
    """
    op = "avg_pool2d"
    _check_tensor(input, "input", op)
    k = _pair(kernel_size, "kernel_size", op)
    s = _stride(stride, k, op)
    p = _pair(padding, "padding", op)
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(divisor_override, int)):
        raise TypeError(f"lamina.{op}: argument 'divisor_override' must be an int or None, got "
                        f"{type(divisor_override).__name__}")
    return _AvgPool2d.apply(input, list(k), list(s), list(p), _check_bool(ceil_mode, "ceil_mode", op),
                            _check_bool(count_include_pad, "count_include_pad", op), divisor_override)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """2-D adaptive average pooling to ``output_size`` (an int, or a pair whose ``None`` entries
    keep the input's size), as ``torch.nn.functional.adaptive_avg_pool2d``. Output cell ``i``
    averages input rows ``floor(i * H / OH)`` to ``ceil((i + 1) * H / OH)``.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.adaptive_avg_pool2d(lamina.randn(2, 3, 7, 5), (2, None)).shape
    lamina.Size([2, 3, 2, 5])
    """
    op = "adaptive_avg_pool2d"
    _check_tensor(input, "input", op)
    if input.dim() not in (3, 4):
        raise ValueError(f"lamina.{op}: expected a 3-D (unbatched) or 4-D (batched) 'input' of shape "
                         f"[N, C, H, W], got shape {list(input.shape)}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"lamina.{op}: 'output_size' must be an int or a pair, got {output_size!r}")
        sizes = [input.shape[-2 + i] if v is None else v for i, v in enumerate(output_size)]
    else:
        sizes = [output_size, output_size]
    for v in sizes:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"lamina.{op}: 'output_size' must hold ints (or None), got {output_size!r}")
    return _AdaptiveAvgPool2d.apply(input, sizes)
