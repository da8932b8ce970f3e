"""LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, "Gradient-based learning applied to document
recognition"), with ReLU and max pooling in place of the scaled tanh and trainable subsampling:

    conv 5x5, 6 maps -> pool 2 -> conv 5x5, 16 maps -> pool 2 -> 120 -> 84 -> classes

The paper feeds 32x32 images (MNIST's 28x28 digits padded by 2); here the first convolution pads
by ``(32 - input_size) / 2`` so 28x28 images go in as they are and the shapes after it are the
paper's (28x28x6, 14x14x6, 10x10x16, 5x5x16).

>>> import lamina
>>> from lamina.models import lenet5
>>> lenet5()(lamina.randn(2, 1, 28, 28)).shape
lamina.Size([2, 10])
"""

from __future__ import annotations

from .. import nn

__all__ = ["lenet5"]


def lenet5(in_channels: int = 1, num_classes: int = 10, input_size: int = 28) -> nn.Sequential:
    """LeNet-5 as one ``nn.Sequential`` (``torch.nn.Sequential`` with the same layers has the same
    ``state_dict`` keys: ``0.weight`` (6, C, 5, 5), ``3.weight`` (16, 6, 5, 5), ``7.weight``
    (120, 400), ``9.weight`` (84, 120), ``11.weight`` (classes, 84))."""
    for name, v in (("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"lamina.models.lenet5: argument '{name}' must be a positive integer, got {v!r}")
    pad = max(0, (32 - input_size) // 2)
    s = (input_size + 2 * pad - 4) // 2
    s = (s - 4) // 2  # >= 5: inputs smaller than 32x32 are padded up to it
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=pad), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * s * s, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))
