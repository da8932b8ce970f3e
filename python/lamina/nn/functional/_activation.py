"""Activations and softmax, as ``torch.nn.functional``: ``relu, relu6, leaky_relu, elu, gelu,
sigmoid, tanh, softplus, softmax, log_softmax``. Each forward and each backward is one fused C++
call (csrc/ops/activation.h).

``inplace=True`` writes the result into ``input`` when autograd does not record the op (no
gradient flows through ``input``, or under ``lamina.no_grad()``). Lamina has no in-place
autograd, so when a gradient is needed the op returns a new tensor and leaves ``input`` as it
was; code such as ``nn.Sequential(..., nn.ReLU(inplace=True))`` works unchanged.
"""

from __future__ import annotations

import numbers
import warnings

from ... import _C
from ..._dtype import to_dtype
from ...autograd.function import Function
from ...autograd.grad_mode import is_grad_enabled
from ...tensor import Tensor

__all__ = ["relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "softmax",
           "log_softmax"]

# The order of lamina::Activation in csrc/ops/activation.h.
RELU, RELU6, LEAKY_RELU, ELU, GELU, GELU_TANH, SIGMOID, TANH, SOFTPLUS = range(9)
_SAVES_OUTPUT = {RELU, RELU6, SIGMOID, TANH}  # their backward is a function of the output


class _Activation(Function):
    @staticmethod
    def forward(ctx, x, op, alpha, beta):
        y = _C.activation_forward(op, x, alpha, beta)
        ctx.save_for_backward(y if op in _SAVES_OUTPUT else x)
        ctx.params = (op, alpha, beta)
        return y

    @staticmethod
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        op, alpha, beta = ctx.params
        return _C.activation_backward(op, grad, saved, alpha, beta), None, None, None


class _Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        y = _C.softmax_forward(x, dim, log)
        ctx.save_for_backward(y)
        ctx.params = (dim, log)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        dim, log = ctx.params
        return _C.softmax_backward(grad, y, dim, log), None, None


def _check_input(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"lamina.{op}: argument 'input' must be a Tensor, got {type(input).__name__}")


def _real(op: str, name: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"lamina.{op}: argument '{name}' must be a number, got {type(v).__name__}")
    return float(v)


def _apply(name: str, input: Tensor, op: int, alpha: float = 0.0, beta: float = 0.0,
           inplace: bool = False) -> Tensor:
    _check_input(name, input)
    out = _Activation.apply(input, op, alpha, beta)
    if inplace and not (is_grad_enabled() and input.requires_grad):
        _C.copy_(input._t, out._t)
        return input
    return out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise (as ``torch.nn.functional.relu``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.relu(lamina.tensor([-1.0, 0.5])).tolist()
    [0.0, 0.5]
    """
    _check_input("relu", input)
    if not input.is_floating_point():  # integers: the tensor core's relu (no gradient)
        return input.relu()
    return _apply("relu", input, RELU, inplace=inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(input, 0), 6)`` elementwise (as ``torch.nn.functional.relu6``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.relu6(lamina.tensor([-1.0, 3.0, 7.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return _apply("relu6", input, RELU6, inplace=inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``negative_slope * input`` elsewhere (as
    ``torch.nn.functional.leaky_relu``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.leaky_relu(lamina.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    """
    return _apply("leaky_relu", input, LEAKY_RELU, _real("leaky_relu", "negative_slope", negative_slope),
                  inplace=inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``alpha * (exp(input) - 1)`` elsewhere (as
    ``torch.nn.functional.elu``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> [round(v, 4) for v in F.elu(lamina.tensor([-1.0, 2.0])).tolist()]
    [-0.6321, 2.0]
    """
    return _apply("elu", input, ELU, _real("elu", "alpha", alpha), inplace=inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``input * Phi(input)`` with Phi the standard normal CDF; ``approximate='tanh'`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (as ``torch.nn.functional.gelu``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> [round(v, 4) for v in F.gelu(lamina.tensor([-1.0, 1.0])).tolist()]
    [-0.1587, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"lamina.gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    return _apply("gelu", input, GELU if approximate == "none" else GELU_TANH)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-input))`` elementwise (as ``torch.nn.functional.sigmoid``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.sigmoid(lamina.tensor([0.0])).tolist()
    [0.5]
    """
    return _apply("sigmoid", input, SIGMOID)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise (as ``torch.nn.functional.tanh``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.tanh(lamina.tensor([0.0])).tolist()
    [0.0]
    """
    return _apply("tanh", input, TANH)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * input)) / beta``, and ``input`` itself where ``beta * input >
    threshold`` (as ``torch.nn.functional.softplus``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> [round(v, 4) for v in F.softplus(lamina.tensor([0.0, 30.0])).tolist()]
    [0.6931, 30.0]
    """
    return _apply("softplus", input, SOFTPLUS, _real("softplus", "beta", beta),
                  _real("softplus", "threshold", threshold))


def _softmax_dim(op: str, ndim: int, dim, stacklevel: int) -> int:
    if dim is None:
        warnings.warn(f"lamina.{op}: implicit dimension choice has been deprecated; pass dim=",
                      stacklevel=stacklevel)
        return 0 if ndim in (0, 1, 3) else 1
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"lamina.{op}: argument 'dim' must be an int, got {type(dim).__name__}")
    return int(dim)


def _softmax(op: str, input, dim, stacklevel: int, dtype, log: bool) -> Tensor:
    _check_input(op, input)
    d = _softmax_dim(op, input.ndim, dim, stacklevel + 1)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _Softmax.apply(input, d, log)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim``, computed as ``exp(x_i - max)`` over the sum
    of the same, so logits of 1e4 give exact results (as ``torch.nn.functional.softmax``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.softmax(lamina.tensor([[1e4, 1e4, -1e4]]), dim=1).tolist()
    [[0.5, 0.5, 0.0]]
    """
    return _softmax("softmax", input, dim, _stacklevel, dtype, False)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``x_i - log(sum_j exp(x_j))`` along ``dim``, computed stably (as
    ``torch.nn.functional.log_softmax``).

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> F.log_softmax(lamina.tensor([[0.0, -1e4]]), dim=1).tolist()
    [[0.0, -10000.0]]
    """
    return _softmax("log_softmax", input, dim, _stacklevel, dtype, True)
