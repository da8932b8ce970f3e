"""``lamina.nn.init``: PyTorch's initialisations, in place, without recording gradients, from
Lamina's seeded generator (``lamina.manual_seed``).

The formulas are ``torch.nn.init``'s (https://pytorch.org/docs/stable/nn.init.html):
``xavier_uniform_`` draws from U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)),
``kaiming_uniform_`` from U(-b, b) with b = gain * sqrt(3 / fan), and the normal variants use
the matching standard deviations.

>>> import lamina
>>> from lamina import nn
>>> w = lamina.empty(64, 32)
>>> _ = nn.init.kaiming_uniform_(w, a=5 ** 0.5)   # nn.Linear's default
>>> bool(w.abs().max() <= 1 / 32 ** 0.5)
True
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import _C
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "trunc_normal_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


def _check(tensor: object, fn: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"lamina.nn.init.{fn}: argument 'tensor' must be a Tensor, got "
                        f"{type(tensor).__name__}")


def _check_float(tensor: Tensor, fn: str) -> None:
    _check(tensor, fn)
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"lamina.nn.init.{fn}: expected a floating-point tensor, got {tensor.dtype}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``).

    >>> from lamina.nn import init
    >>> round(init.calculate_gain("relu"), 4), round(init.calculate_gain("tanh"), 4)
    (1.4142, 1.6667)
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (numbers.Integral, numbers.Real)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (PyTorch's
    convention for Linear ``(out, in)`` and Conv ``(out, in/groups, kh, kw)`` weights)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    shape = tensor.shape
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fills ``tensor`` from U(a, b)."""
    _check_float(tensor, "uniform_")
    with no_grad():
        _C.uniform_(tensor._t, float(a), float(b))
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fills ``tensor`` from N(mean, std^2)."""
    _check_float(tensor, "normal_")
    with no_grad():
        _C.normal_(tensor._t, float(mean), float(std))
    return tensor


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Fills ``tensor`` from N(mean, std^2) truncated to [a, b] (by redrawing values outside)."""
    _check_float(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"lamina.nn.init.trunc_normal_: expected a < b, got a={a}, b={b}")
    n = tensor.numel()
    if n == 0:
        return tensor
    out = np.empty(n, dtype=np.float64)
    filled = 0
    while filled < n:
        draw = _C.empty([max(2 * (n - filled), 16)], "float64", "cpu")
        _C.normal_(draw, float(mean), float(std))
        v = np.asarray(draw)
        v = v[(v >= a) & (v <= b)][: n - filled]
        out[filled:filled + v.size] = v
        filled += v.size
    with no_grad():
        _fill_from_numpy(tensor, out.reshape(tuple(tensor.shape)))
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fills ``tensor`` with ``val``."""
    _check(tensor, "constant_")
    with no_grad():
        _C.fill_(tensor._t, val)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0 if tensor.dtype.is_floating_point else 1)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0 if tensor.dtype.is_floating_point else 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fills a 2-D ``tensor`` with the identity matrix."""
    _check(tensor, "eye_")
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with no_grad():
        _fill_from_numpy(tensor, np.eye(*tuple(tensor.shape)))
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    _check_float(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check_float(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, fn: str) -> float | None:
    _check_float(tensor, fn)
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-b, b), b = gain * sqrt(3 / fan). ``nn.Linear`` and ``nn.Conv2d`` use
    ``a=sqrt(5)``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, as PyTorch."""
    _check_float(tensor, "orthogonal_")
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    draw = _C.empty([rows, cols], "float64", "cpu")
    _C.normal_(draw, 0.0, 1.0)
    flat = np.array(draw)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with no_grad():
        _fill_from_numpy(tensor, (gain * q).reshape(tuple(tensor.shape)))
    return tensor


def _fill_from_numpy(tensor: Tensor, arr: np.ndarray) -> None:
    src = _C.from_numpy(np.ascontiguousarray(arr, dtype=tensor.dtype._np))
    if tensor.device.type != "cpu":
        src = _C.to_device(src, tensor.device._c)
    _C.copy_(tensor._t, src)
