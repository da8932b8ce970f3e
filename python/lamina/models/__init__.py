"""``lamina.models``: ready-made networks, and a registry to build them by name.

>>> import lamina
>>> from lamina import models
>>> models.names()
['lenet5', 'mlp', 'resnet', 'small_cnn']
>>> m = models.get("lenet5", num_classes=10)
>>> m = models.for_dataset("small_cnn", {"input_shape": (1, 8, 8), "num_classes": 10})
>>> m(lamina.randn(2, 1, 8, 8)).shape
lamina.Size([2, 10])
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from .lenet import lenet5
from .mlp import mlp
from .resnet import BasicBlock, ResNet, resnet
from .small_cnn import small_cnn

__all__ = ["BasicBlock", "ResNet", "for_dataset", "get", "lenet5", "mlp", "names", "register", "resnet",
           "small_cnn"]

_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str, builder: Callable[..., Any] | None = None):
    """Adds a model builder under ``name`` (usable as a decorator: ``@register("char_lm")``)."""
    def add(fn):
        if not isinstance(name, str) or not name:
            raise ValueError(f"lamina.models.register: name must be a non-empty string, got {name!r}")
        _REGISTRY[name] = fn
        return fn

    return add if builder is None else add(builder)


for _n, _f in (("mlp", mlp), ("lenet5", lenet5), ("resnet", resnet), ("small_cnn", small_cnn)):
    register(_n, _f)


def names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def _builder(name: str) -> Callable[..., Any]:
    if name not in _REGISTRY:
        raise ValueError(f"lamina.models: unknown model {name!r}; choose one of {', '.join(names())}")
    return _REGISTRY[name]


def get(name: str, **kwargs):
    """Builds the model registered as ``name`` with the builder's keyword arguments."""
    return _builder(name)(**kwargs)


def for_dataset(name: str, info: dict, **kwargs):
    """Builds model ``name`` for a dataset described by ``lamina.datasets.info(...)``
    (``{"input_shape": (C, H, W), "num_classes": K}``): the input channels, size (or
    ``in_features`` for the MLP) and the number of classes are filled in from it; ``kwargs``
    override them."""
    fn = _builder(name)
    shape = tuple(info["input_shape"])
    derived: dict[str, Any] = {"num_classes": int(info["num_classes"])}
    if len(shape) == 3:
        c, h, w = shape
        derived.update(in_channels=c, input_size=h, in_features=c * h * w)
        if h != w and name != "mlp":
            raise ValueError(f"lamina.models.for_dataset: model {name!r} expects square images, got {shape}")
    elif len(shape) == 1:
        derived["in_features"] = shape[0]
    params = inspect.signature(fn).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    derived = {k: v for k, v in derived.items() if accepts_any or k in params}
    derived.update(kwargs)
    return fn(**derived)
