"""Tensor methods as functions (``lamina.exp(x)``, ``lamina.sum(x, dim)``), as in torch."""

from __future__ import annotations

from .tensor import Tensor

_METHODS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide", "remainder",
            "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_not",
            "neg", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "reciprocal", "sin", "cos",
            "tanh", "sigmoid", "relu", "log1p", "expm1", "floor", "ceil", "round", "square",
            "sum", "mean", "var", "std", "amax", "amin", "max", "min", "argmax", "argmin", "all",
            "any", "reshape", "permute", "transpose", "flatten", "squeeze", "unsqueeze", "narrow",
            "select", "chunk", "split", "unbind", "t", "clone", "detach", "clip"]

__all__ = list(_METHODS)


def _make(name):
    method = getattr(Tensor, name)

    def fn(input: Tensor, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"lamina.{name}: argument 'input' must be a Tensor, got {type(input).__name__}")
        return method(input, *args, **kwargs)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"``lamina.{name}(input, ...)`` is ``input.{name}(...)``; see torch.{name}."
    return fn


for _n in _METHODS:
    globals()[_n] = _make(_n)
del _n
