"""A small convolutional net for tiny images (scikit-learn's 8x8 digits; what bare
``lamina train`` trains):

    conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN -> ReLU -> max pool 2 -> Dropout
    -> Linear -> ReLU -> Dropout -> Linear

>>> import lamina
>>> from lamina.models import small_cnn
>>> small_cnn()(lamina.randn(4, 1, 8, 8)).shape
lamina.Size([4, 10])
"""

from __future__ import annotations

from .. import nn

__all__ = ["small_cnn"]


def small_cnn(in_channels: int = 1, num_classes: int = 10, input_size: int = 8, channels=(32, 64),
              hidden: int = 128, dropout: float = 0.25) -> nn.Sequential:
    """One ``nn.Sequential``; keys ``0.*`` (conv), ``1.*`` (BN), ``3.*``, ``4.*``, ``9.*``, ``12.*``
    (the linears), as the same ``torch.nn.Sequential``."""
    for name, v in (("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size),
                    ("hidden", hidden)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"lamina.models.small_cnn: argument '{name}' must be a positive integer, got {v!r}")
    if input_size < 2:
        raise ValueError(f"lamina.models.small_cnn: input_size must be at least 2, got {input_size}")
    c1, c2 = channels
    s = input_size // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(dropout), nn.Flatten(),
        nn.Linear(c2 * s * s, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))
