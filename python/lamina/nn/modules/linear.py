"""``Linear``, ``Identity``, ``Flatten``, ``Unflatten``, as in ``torch.nn``."""

from __future__ import annotations

import math
import numbers

from ... import creation
from ...tensor import Tensor
from .. import init
from ..functional._linear import linear
from ..parameter import Parameter
from .module import Module

__all__ = ["Linear", "Identity", "Flatten", "Unflatten"]


def _check_features(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"lamina.nn.{layer}: argument '{name}' must be a non-negative integer, "
                         f"got {value!r}")
    return int(value)


class Linear(Module):
    """``y = x W^T + b`` over the last dimension (as ``torch.nn.Linear``).

    ``weight`` is ``(out_features, in_features)``, initialised from U(-1/sqrt(in), 1/sqrt(in))
    (kaiming_uniform_ with a=sqrt(5)), and ``bias`` ``(out_features,)`` from the same range.

    >>> import lamina
    >>> from lamina import nn
    >>> fc = nn.Linear(20, 30)
    >>> fc
    Linear(in_features=20, out_features=30, bias=True)
    >>> fc(lamina.randn(128, 20)).shape
    lamina.Size([128, 30])
    """

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.in_features = _check_features(in_features, "in_features", "Linear")
        self.out_features = _check_features(out_features, "out_features", "Linear")
        self.weight = Parameter(creation.empty(self.out_features, self.in_features, device=device,
                                               dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(self.out_features, device=device, dtype=dtype))
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

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged; any constructor arguments are ignored (as torch's)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Flattens dims ``start_dim..end_dim`` into one (as ``torch.nn.Flatten``; the batch dim
    is kept by default).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.Flatten()(lamina.zeros(32, 1, 5, 5)).shape
    lamina.Size([32, 25])
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"lamina.nn.Flatten: expected a Tensor, got {type(input).__name__}")
        n = max(input.dim(), 1)
        for name, d in (("start_dim", self.start_dim), ("end_dim", self.end_dim)):
            if not -n <= d < n:
                raise IndexError(f"lamina.flatten: {name} {d} is out of range for a tensor of "
                                 f"shape {list(input.shape)} (expected in [{-n}, {n - 1}])")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into ``unflattened_size`` (as ``torch.nn.Unflatten``)."""

    __constants__ = ["dim", "unflattened_size"]

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in unflattened_size):
            raise TypeError("unflattened_size must be a tuple of ints, but found "
                            f"{unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        n = input.dim()
        if not -n <= self.dim < n:
            raise IndexError(f"lamina.unflatten: dim {self.dim} is out of range for a tensor of "
                             f"shape {list(input.shape)}")
        shape = list(input.shape)
        d = self.dim % n
        return input.reshape(shape[:d] + list(self.unflattened_size) + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
