"""Factory functions: ``zeros``, ``ones``, ``full``, ``empty``, ``arange``, ``rand``, ``randn``,
``randint`` and their ``*_like`` forms, as in PyTorch."""

from __future__ import annotations

import numbers

from . import _C
from ._dtype import bool_, device, dtype, float32, int64, to_dtype
from .tensor import Tensor, _shape_arg


def _finish(t: _C.Tensor, requires_grad: bool) -> Tensor:
    out = Tensor._wrap(t)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _dt(d, default=float32) -> dtype:
    return default if d is None else to_dtype(d)


def _dev(d) -> str:
    return "cpu" if d is None else device(d)._c


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory of the given shape."""
    return _finish(_C.empty(_shape_arg(size, "empty"), _dt(dtype).name, _dev(device)), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.full``: the dtype follows ``fill_value`` when not given (bool, int64 or float32)."""
    if dtype is None:
        dtype = bool_ if isinstance(fill_value, bool) else (
            int64 if isinstance(fill_value, numbers.Integral) else float32)
    return _finish(_C.full(_shape_arg((size,), "full"), fill_value, _dt(dtype).name, _dev(device)),
                   requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(_C.full(_shape_arg(size, "zeros"), 0, _dt(dtype).name, _dev(device)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(_C.full(_shape_arg(size, "ones"), 1, _dt(dtype).name, _dev(device)), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``torch.arange(start, end, step)``: int64 when all arguments are integers, else float32."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is None:
        dtype = int64 if all(isinstance(v, numbers.Integral) for v in vals) else float32
    return _finish(_C.arange(vals[0], vals[1], vals[2], _dt(dtype).name, _dev(device)), requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``torch.linspace``: ``steps`` evenly spaced values from start to end inclusive."""
    if steps < 0:
        raise ValueError(f"lamina.linspace: number of steps must be non-negative, got {steps}")
    dt = _dt(dtype)
    idx = _C.arange(0, steps, 1, "float64", _dev(device))
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    vals = _C.binary(0, _C.binary(2, idx, _C.full([], step, "float64", _dev(device))),
                     _C.full([], start, "float64", _dev(device)))
    return _finish(_C.to_dtype(vals, dt.name), requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    m = n if m is None else m
    rows = _C.arange(0, n, 1, "int64", _dev(device)).view([n, 1])
    cols = _C.arange(0, m, 1, "int64", _dev(device)).view([1, m])
    return _finish(_C.to_dtype(_C.binary(9, rows, cols), _dt(dtype).name), requires_grad)


def rand(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1) from the seeded counter-based generator (same stream on CPU and CUDA)."""
    t = _C.empty(_shape_arg(size, "rand"), _dt(dtype).name, _dev(device))
    _C.uniform_(t, 0.0, 1.0)
    return _finish(t, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the seeded generator."""
    t = _C.empty(_shape_arg(size, "randn"), _dt(dtype).name, _dev(device))
    _C.normal_(t, 0.0, 1.0)
    return _finish(t, requires_grad)


def randint(low: int, high: int | None = None, size=None, *, dtype=None, device=None) -> Tensor:
    """``torch.randint(low=0, high, size)``: integers in [low, high)."""
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("lamina.randint: missing required argument 'size'")
    t = _C.empty(_shape_arg((size,), "randint"), _dt(dtype, int64).name, _dev(device))
    _C.randint_(t, int(low), int(high))
    return Tensor._wrap(t)


def _like(x: Tensor, dtype, device):
    return (x.shape, dtype if dtype is not None else x.dtype, device if device is not None else x.device)


def zeros_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return zeros(s, dtype=d, device=v, requires_grad=requires_grad)


def ones_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return ones(s, dtype=d, device=v, requires_grad=requires_grad)


def full_like(x: Tensor, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return full(s, fill_value, dtype=d, device=v, requires_grad=requires_grad)


def empty_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return empty(s, dtype=d, device=v, requires_grad=requires_grad)


def rand_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return rand(s, dtype=d, device=v, requires_grad=requires_grad)


def randn_like(x: Tensor, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    s, d, v = _like(x, dtype, device)
    return randn(s, dtype=d, device=v, requires_grad=requires_grad)
