"""``Embedding``, as ``torch.nn.Embedding``."""

from __future__ import annotations

import numbers

from ... import creation
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from .. import init
from ..functional._embedding import _normalise_padding_idx, embedding
from ..parameter import Parameter
from .module import Module

__all__ = ["Embedding"]


def _check_size(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"lamina.nn.Embedding: argument '{name}' must be a non-negative integer, got {value!r}")
    return int(value)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim`` (as
    ``torch.nn.Embedding``): int64 indices of any shape ``(*)`` give ``(*, embedding_dim)``.

    ``weight`` is initialised from N(0, 1); the ``padding_idx`` row (if any) is zeroed and gets
    no gradient, so it stays as it is during training.

    >>> import lamina
    >>> from lamina import nn
    >>> emb = nn.Embedding(10, 3, padding_idx=0)
    >>> emb
    Embedding(10, 3, padding_idx=0)
    >>> emb(lamina.tensor([[0, 2, 4], [4, 3, 9]])).shape
    lamina.Size([2, 3, 3])
    >>> emb.weight[0].tolist()
    [0.0, 0.0, 0.0]
    """

    __constants__ = ["num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                     "scale_grad_by_freq", "sparse"]

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_embeddings = _check_size(num_embeddings, "num_embeddings")
        self.embedding_dim = _check_size(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            padding_idx = _normalise_padding_idx(padding_idx, self.num_embeddings, "nn.Embedding")
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if sparse:
            raise NotImplementedError("lamina.nn.Embedding: sparse=True (sparse gradients) is not "
                                      "implemented; use sparse=False")
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(creation.empty(self.num_embeddings, self.embedding_dim, device=device,
                                                   dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [self.num_embeddings, self.embedding_dim]:
                raise ValueError(f"lamina.nn.Embedding: _weight has shape {list(_weight.shape)}, expected "
                                 f"[{self.num_embeddings}, {self.embedding_dim}]")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """N(0, 1), with the padding_idx row zeroed (PyTorch's default)."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> "Embedding":
        """An Embedding holding ``embeddings (num_embeddings, embedding_dim)`` as its weight
        (not trained when ``freeze``), as ``torch.nn.Embedding.from_pretrained``.

        >>> import lamina
        >>> from lamina import nn
        >>> emb = nn.Embedding.from_pretrained(lamina.tensor([[1.0, 2.0], [3.0, 4.0]]))
        >>> emb(lamina.tensor([1])).tolist()
        [[3.0, 4.0]]
        """
        if not isinstance(embeddings, Tensor) or embeddings.dim() != 2:
            shape = list(embeddings.shape) if isinstance(embeddings, Tensor) else type(embeddings).__name__
            raise ValueError(f"lamina.nn.Embedding.from_pretrained: 'embeddings' must be a 2-D Tensor, got {shape}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings, _freeze=freeze)
