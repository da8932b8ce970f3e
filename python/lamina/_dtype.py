"""Dtypes and devices: ``lamina.float32``, ``lamina.device("cuda:0")``, as in PyTorch."""

from __future__ import annotations

import numpy as np


class dtype:
    """An element type. Compare with ``is`` or ``==``; ``str`` gives ``lamina.float32``."""

    __slots__ = ("name", "itemsize", "is_floating_point", "_np")

    def __init__(self, name: str, itemsize: int, is_floating_point: bool, np_dtype):
        self.name = name
        self.itemsize = itemsize
        self.is_floating_point = is_floating_point
        self._np = np.dtype(np_dtype) if np_dtype is not None else None

    def __repr__(self) -> str:
        return f"lamina.{self.name}"

    def __reduce__(self):
        return (_lookup, (self.name,))


float32 = dtype("float32", 4, True, np.float32)
float64 = dtype("float64", 8, True, np.float64)
int64 = dtype("int64", 8, False, np.int64)
bool_ = dtype("bool", 1, False, np.bool_)
float16 = dtype("float16", 2, True, np.float16)
bfloat16 = dtype("bfloat16", 2, True, None)

float = float32  # noqa: A001  (PyTorch's aliases)
double = float64
long = int64
half = float16

_BY_NAME = {d.name: d for d in (float32, float64, int64, bool_, float16, bfloat16)}
_ALIASES = {"float": float32, "double": float64, "long": int64, "half": float16, "bool": bool_}


def _lookup(name: str) -> dtype:
    return _BY_NAME[name]


def to_dtype(obj, op: str = "dtype") -> dtype:
    """Accepts a lamina dtype, a numpy dtype or type, a torch dtype or a name."""
    if isinstance(obj, dtype):
        return obj
    if obj is None:
        raise TypeError(f"lamina.{op}: dtype must not be None")
    if isinstance(obj, str):
        key = obj.replace("lamina.", "").replace("torch.", "")
        if key in _BY_NAME:
            return _BY_NAME[key]
        if key in _ALIASES:
            return _ALIASES[key]
        raise TypeError(f"lamina.{op}: unknown dtype {obj!r}")
    if obj is builtins_float:
        return float32
    if obj is builtins_int:
        return int64
    if obj is builtins_bool:
        return bool_
    mod = type(obj).__module__
    if mod.startswith("torch"):
        return to_dtype(str(obj), op)
    try:
        npd = np.dtype(obj)
    except TypeError:
        raise TypeError(f"lamina.{op}: cannot interpret {obj!r} as a dtype") from None
    for d in _BY_NAME.values():
        if d._np is not None and d._np == npd:
            return d
    raise TypeError(f"lamina.{op}: numpy dtype {npd} is not supported (float32, float64, int64, bool)")


import builtins as _builtins  # noqa: E402

builtins_float = _builtins.float
builtins_int = _builtins.int
builtins_bool = _builtins.bool


class device:
    """Where a tensor lives: ``device("cpu")``, ``device("cuda")``, ``device("cuda", 1)``."""

    __slots__ = ("type", "index")

    def __init__(self, spec, index: int | None = None):
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            mod = type(spec).__module__
            if mod.startswith("torch"):
                spec = str(spec)
            else:
                raise TypeError(f"lamina.device: expected a string like 'cpu' or 'cuda:0', got {spec!r}")
        if ":" in spec:
            if index is not None:
                raise ValueError(f"lamina.device: index given twice in {spec!r} and index={index}")
            kind, _, idx = spec.partition(":")
            if not idx.isdigit():
                raise ValueError(f"lamina.device: expected 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
            index = _builtins.int(idx)
            spec = kind
        if spec not in ("cpu", "cuda"):
            raise ValueError(f"lamina.device: expected 'cpu', 'cuda' or 'cuda:N', got {spec!r}")
        if spec == "cpu":
            index = None
        elif index is None:
            index = 0
        self.type, self.index = spec, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    @property
    def _c(self) -> str:
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"
