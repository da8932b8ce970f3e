"""``Conv2d``, as in ``torch.nn``."""

from __future__ import annotations

import math
import numbers

from ... import creation
from ...tensor import Tensor, cat
from .. import init
from ..functional._conv import _pair, conv2d
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_channels(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"lamina.nn.Conv2d: argument '{name}' must be a positive integer, got {value!r}")
    return int(value)


def _pad_last(x: Tensor, dim: int, lo: int, hi: int, mode: str) -> Tensor:
    """Pads dimension ``dim`` (negative) by lo/hi with reflect, replicate or circular values."""
    if lo == 0 and hi == 0:
        return x
    n = x.shape[dim]

    def sl(a: int, b: int) -> Tensor:
        idx = [slice(None)] * x.dim()
        idx[dim] = slice(a, b)
        return x[tuple(idx)]

    if mode == "reflect":
        if lo >= n or hi >= n:
            raise ValueError(f"lamina.nn.Conv2d: padding ({lo}, {hi}) must be smaller than the input size {n} "
                             "in padding_mode='reflect'")
        left = [sl(i, i + 1) for i in range(lo, 0, -1)]
        right = [sl(i, i + 1) for i in range(n - 2, n - 2 - hi, -1)]
    elif mode == "replicate":
        left = [sl(0, 1)] * lo
        right = [sl(n - 1, n)] * hi
    else:  # circular
        if lo > n or hi > n:
            raise ValueError(f"lamina.nn.Conv2d: padding ({lo}, {hi}) must be at most the input size {n} "
                             "in padding_mode='circular'")
        left = [sl(n - lo, n)] if lo else []
        right = [sl(0, hi)] if hi else []
    return cat(left + [x] + right, dim=dim)


class Conv2d(Module):
    """2-D convolution over ``(N, C_in, H, W)`` (or unbatched ``(C_in, H, W)``) inputs, as
    ``torch.nn.Conv2d``.

    ``weight`` is ``(out_channels, in_channels / groups, kH, kW)``, initialised with
    kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in =
    in_channels / groups * kH * kW, and ``bias`` ``(out_channels,)`` from the same range.
    ``padding`` is an int, a pair, ``"valid"`` or ``"same"``; ``padding_mode`` is ``"zeros"``,
    ``"reflect"``, ``"replicate"`` or ``"circular"``.

    >>> import lamina
    >>> from lamina import nn
    >>> conv = nn.Conv2d(3, 16, 3, padding=1)
    >>> conv
    Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv(lamina.randn(2, 3, 7, 5)).shape
    lamina.Size([2, 16, 7, 5])
    """

    __constants__ = ["stride", "padding", "dilation", "groups", "padding_mode", "output_padding",
                     "in_channels", "out_channels", "kernel_size"]

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__()
        in_channels = _check_channels(in_channels, "in_channels")
        out_channels = _check_channels(out_channels, "out_channels")
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError(f"lamina.nn.Conv2d: groups must be a positive integer, got {groups!r}")
        if in_channels % groups != 0:
            raise ValueError(f"lamina.nn.Conv2d: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups != 0:
            raise ValueError(f"lamina.nn.Conv2d: out_channels ({out_channels}) must be divisible by groups "
                             f"({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"lamina.nn.Conv2d: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        op = "nn.Conv2d"
        self.kernel_size = _pair(kernel_size, "kernel_size", op)
        self.stride = _pair(stride, "stride", op)
        self.dilation = _pair(dilation, "dilation", op)
        if any(k <= 0 for k in self.kernel_size):
            raise ValueError(f"lamina.nn.Conv2d: kernel_size must be positive, got {kernel_size!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"lamina.nn.Conv2d: invalid padding string {padding!r}, should be one of "
                                 "'same', 'valid'")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("lamina.nn.Conv2d: padding='same' is not supported for strided convolutions, "
                                 f"got stride={self.stride}")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", op)
        # (top, bottom, left, right) for the non-zero padding modes, as torch's
        # _reversed_padding_repeated_twice (the odd one out of "same" goes bottom/right).
        if self.padding == "valid":
            self._pads = (0, 0, 0, 0)
        elif self.padding == "same":
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            self._pads = tuple(pads)
        else:
            self._pads = (self.padding[0], self.padding[0], self.padding[1], self.padding[1])
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.groups = int(groups)
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0)
        self.weight = Parameter(creation.empty(out_channels, in_channels // groups, *self.kernel_size,
                                               device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) for the weight, U(±1/sqrt(fan_in))
        for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.padding_mode != "zeros":
            if not isinstance(input, Tensor):
                raise TypeError(f"lamina.conv2d: argument 'input' must be a lamina.Tensor, got "
                                f"{type(input).__name__}")
            if input.dim() not in (3, 4):
                raise ValueError("lamina.conv2d: expected a 3-D (unbatched) or 4-D (batched) 'input' of shape "
                                 f"[N, C, H, W], got shape {list(input.shape)}")
            t, b, left, r = self._pads
            x = _pad_last(_pad_last(input, -2, t, b, self.padding_mode), -1, left, r, self.padding_mode)
            return conv2d(x, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
