"""Activation layers, as in ``torch.nn``: ``ReLU, ReLU6, LeakyReLU, ELU, GELU, Sigmoid, Tanh,
Softplus, Softmax, LogSoftmax``, with PyTorch's constructor arguments and ``repr``. Each is one
call to its ``lamina.nn.functional`` op."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import _activation as F
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softplus", "Softmax",
           "LogSoftmax"]


class ReLU(Module):
    """``max(x, 0)`` (as ``torch.nn.ReLU``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.ReLU()(lamina.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    __constants__ = ["inplace"]

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU6(Module):
    """``min(max(x, 0), 6)`` (as ``torch.nn.ReLU6``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.ReLU6()(lamina.tensor([-1.0, 8.0])).tolist()
    [0.0, 6.0]
    """

    __constants__ = ["inplace"]

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu6(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere (as ``torch.nn.LeakyReLU``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.LeakyReLU(0.1)
    LeakyReLU(negative_slope=0.1)
    """

    __constants__ = ["inplace", "negative_slope"]

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere (as ``torch.nn.ELU``).

    >>> from lamina import nn
    >>> nn.ELU(alpha=0.5)
    ELU(alpha=0.5)
    """

    __constants__ = ["alpha", "inplace"]

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """``x * Phi(x)``, or its tanh approximation (as ``torch.nn.GELU``).

    >>> from lamina import nn
    >>> nn.GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    __constants__ = ["approximate"]

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"lamina.nn.GELU: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` (as ``torch.nn.Sigmoid``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.Sigmoid()(lamina.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent (as ``torch.nn.Tanh``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.Tanh()(lamina.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold`` (as ``torch.nn.Softplus``).

    >>> from lamina import nn
    >>> nn.Softplus()
    Softplus(beta=1.0, threshold=20.0)
    """

    __constants__ = ["beta", "threshold"]

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along ``dim`` (as ``torch.nn.Softmax``).

    >>> import lamina
    >>> from lamina import nn
    >>> nn.Softmax(dim=1)(lamina.tensor([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    __constants__ = ["dim"]

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log-softmax along ``dim`` (as ``torch.nn.LogSoftmax``).

    >>> from lamina import nn
    >>> nn.LogSoftmax(dim=1)
    LogSoftmax(dim=1)
    """

    __constants__ = ["dim"]

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
