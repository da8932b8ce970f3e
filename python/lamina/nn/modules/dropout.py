"""``Dropout``, as ``torch.nn.Dropout``."""

from __future__ import annotations

import numbers

from ...tensor import Tensor
from ..functional._dropout import dropout
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zeroes each element with probability ``p`` in training mode and scales the rest by
    ``1 / (1 - p)``; the identity in evaluation mode (as ``torch.nn.Dropout``). The mask is
    drawn from Lamina's seeded generator (``lamina.manual_seed``).

    >>> import lamina
    >>> from lamina import nn
    >>> drop = nn.Dropout(p=0.2)
    >>> drop
    Dropout(p=0.2, inplace=False)
    >>> drop.eval()(lamina.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    __constants__ = ["p", "inplace"]

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"lamina.nn.Dropout: argument 'p' must be a number, got {type(p).__name__}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"lamina.nn.Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
