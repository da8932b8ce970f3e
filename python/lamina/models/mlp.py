"""A multilayer perceptron: ``Flatten -> [Linear -> ReLU (-> Dropout)] * len(hidden) -> Linear``.

>>> import lamina
>>> from lamina.models import mlp
>>> m = mlp(784, hidden=(512, 512), num_classes=10)
>>> m(lamina.randn(2, 1, 28, 28)).shape
lamina.Size([2, 10])
"""

from __future__ import annotations

from .. import nn

__all__ = ["mlp"]


def mlp(in_features: int = 784, hidden=(512, 512), num_classes: int = 10, dropout: float = 0.0) -> nn.Sequential:
    """The classic fully connected classifier. The input is flattened first, so images
    ``(N, C, H, W)`` go in as they are (``in_features = C * H * W``). Keys, as in the same
    ``torch.nn.Sequential``: ``1.weight``, ``1.bias``, ``3.weight``, ... (``Flatten`` is index 0)."""
    if isinstance(hidden, int):
        hidden = (hidden,)
    for name, v in (("in_features", in_features), ("num_classes", num_classes)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"lamina.models.mlp: argument '{name}' must be a positive integer, got {v!r}")
    if any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hidden):
        raise ValueError(f"lamina.models.mlp: argument 'hidden' must be positive integers, got {tuple(hidden)!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"lamina.models.mlp: argument 'dropout' must be in [0, 1), got {dropout!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)
