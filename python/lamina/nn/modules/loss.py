"""Loss modules, as in ``torch.nn``: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss``, ``L1Loss``,
``BCELoss``, ``BCEWithLogitsLoss``. Each holds its options (``weight`` and ``pos_weight`` as
buffers, saved in ``state_dict`` as torch saves them) and calls its functional op."""

from __future__ import annotations

from ...tensor import Tensor
from ..functional import _loss as F
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]


class _Loss(Module):
    reduction: str

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            self.reduction = F._legacy_reduction(size_average, reduce)
        else:
            self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Cross entropy between logits and class indices or class probabilities, as
    ``torch.nn.CrossEntropyLoss`` (see :func:`lamina.nn.functional.cross_entropy`).

    >>> import lamina
    >>> from lamina import nn
    >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> x = lamina.randn(8, 10, requires_grad=True)
    >>> loss(x, lamina.randint(0, 10, (8,))).backward()
    >>> x.grad.shape
    lamina.Size([8, 10])
    """

    __constants__ = ["ignore_index", "reduction", "label_smoothing"]

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities, as ``torch.nn.NLLLoss``.

    >>> import lamina
    >>> from lamina import nn
    >>> nn.NLLLoss()(lamina.tensor([[-0.5, -1.0]]), lamina.tensor([1])).item()
    1.0
    """

    __constants__ = ["ignore_index", "reduction"]

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error, as ``torch.nn.MSELoss``.

    >>> import lamina
    >>> from lamina import nn
    >>> nn.MSELoss()(lamina.tensor([1.0, 3.0]), lamina.tensor([0.0, 0.0])).item()
    5.0
    """

    __constants__ = ["reduction"]

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, as ``torch.nn.L1Loss``.

    >>> import lamina
    >>> from lamina import nn
    >>> nn.L1Loss(reduction="sum")(lamina.tensor([1.0, -3.0]), lamina.tensor([0.0, 0.0])).item()
    4.0
    """

    __constants__ = ["reduction"]

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross entropy of probabilities, as ``torch.nn.BCELoss``.

    >>> import lamina
    >>> from lamina import nn
    >>> round(nn.BCELoss()(lamina.tensor([0.5]), lamina.tensor([0.0])).item(), 4)
    0.6931
    """

    __constants__ = ["reduction"]

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross entropy of logits, stable at any magnitude, as
    ``torch.nn.BCEWithLogitsLoss``; ``weight`` and ``pos_weight`` are buffers.

    >>> import lamina
    >>> from lamina import nn
    >>> loss = nn.BCEWithLogitsLoss(pos_weight=lamina.tensor([3.0, 1.0]))
    >>> round(loss(lamina.zeros(1, 2), lamina.tensor([[1.0, 0.0]])).item(), 4)
    1.3863
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)
