"""Convolution: ``conv2d``, as ``torch.nn.functional.conv2d``. Forward and backward each run one
C++ entry point (``lamina._C.conv2d_forward`` / ``conv2d_backward``, csrc/ops/conv.h)."""

from __future__ import annotations

from ... import _C
from ...autograd.function import Function
from ...tensor import Tensor

__all__ = ["conv2d"]


def _pair(v, name: str, op: str = "conv2d") -> tuple:
    """(h, w) from an int or a sequence of 1 or 2 ints."""
    if isinstance(v, bool):
        raise TypeError(f"lamina.{op}: argument '{name}' must be an int or a tuple of 2 ints, got bool")
    if isinstance(v, int):
        return (v, v)
    try:
        t = tuple(v)
    except TypeError:
        raise TypeError(f"lamina.{op}: argument '{name}' must be an int or a tuple of 2 ints, "
                        f"got {type(v).__name__}") from None
    if len(t) == 1:
        t = (t[0], t[0])
    if len(t) != 2 or not all(isinstance(i, int) and not isinstance(i, bool) for i in t):
        raise ValueError(f"lamina.{op}: argument '{name}' must be an int or a tuple of 2 ints, got {v!r}")
    return t


def _check_tensor(x, name: str, op: str, optional: bool = False) -> None:
    if optional and x is None:
        return
    if not isinstance(x, Tensor):
        raise TypeError(f"lamina.{op}: argument '{name}' must be a lamina.Tensor, got {type(x).__name__}")


def _conv_padding(padding, weight: Tensor, stride: tuple, dilation: tuple) -> tuple:
    """Explicit (top, bottom, left, right) padding for an int, a tuple, "same" or "valid"."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"lamina.conv2d: invalid padding string {padding!r}, should be one of "
                             "'valid', 'same' (or an int or a tuple of 2 ints)")
        if stride != (1, 1):
            raise ValueError(f"lamina.conv2d: padding='same' is not supported for strided convolutions, "
                             f"got stride={stride}")
        if weight.dim() != 4:
            raise ValueError("lamina.conv2d: expected a 4-D 'weight' of shape [out_channels, "
                             f"in_channels / groups, kH, kW], got shape {list(weight.shape)}")
        pads = []
        for d, k in zip(dilation, weight.shape[2:]):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]  # the odd one out goes to the bottom/right, as torch
        return tuple(pads)
    ph, pw = _pair(padding, "padding")
    return (ph, ph, pw, pw)


class _Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.params = (stride, padding, dilation, groups)
        ctx.save_for_backward(x, weight)
        return _C.conv2d_forward(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx, gw, gb = _C.conv2d_backward(grad, x, weight, *ctx.params, [need[0], need[1], need[2]])
        return gx, gw, gb, None, None, None, None


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over an ``(N, C, H, W)`` or unbatched ``(C, H, W)``
    input with a weight of shape ``(out_channels, in_channels / groups, kH, kW)``, as
    ``torch.nn.functional.conv2d``. ``stride``, ``dilation``: int or (h, w); ``padding``: int,
    (h, w), ``"valid"`` (none) or ``"same"`` (output size = input size, stride 1 only; an odd
    total pads one more at the bottom/right).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> x = lamina.randn(2, 3, 7, 5)
    >>> w = lamina.randn(4, 3, 3, 3)
    >>> F.conv2d(x, w, padding=1).shape
    lamina.Size([2, 4, 7, 5])
    """
    _check_tensor(input, "input", "conv2d")
    _check_tensor(weight, "weight", "conv2d")
    _check_tensor(bias, "bias", "conv2d", optional=True)
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"lamina.conv2d: argument 'groups' must be an int, got {type(groups).__name__}")
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    pad = _conv_padding(padding, weight, stride, dilation)
    return _Conv2d.apply(input, weight, bias, list(stride), list(pad), list(dilation), groups)


def _kernel_path(input: Tensor, weight: Tensor, stride=1, padding=0, dilation=1, groups: int = 1) -> str:
    """Which CPU kernel ``conv2d`` runs for these arguments: "direct" (AVX2 direct convolution,
    float32, stride 1), "gemm" (1x1: the input is the GEMM operand) or "im2col" (im2col + GEMM).
    For tests and benchmarks."""
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    pad = _conv_padding(padding, weight, stride, dilation)
    return _C.conv2d_kernel_path(input._t, weight._t, list(stride), list(pad), list(dilation), groups)
