"""``embedding``: a lookup of rows of a weight matrix, as ``torch.nn.functional.embedding``.
Forward is a gather, backward a deterministic scatter-add into a zeroed weight gradient
(csrc/ops/embedding.h); the ``padding_idx`` row gets no gradient."""

from __future__ import annotations

import numbers

import numpy as np

from ... import _C
from ...autograd.function import Function
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["embedding"]


class _Embedding(Function):
    @staticmethod
    def forward(ctx, input, weight, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(input)
        ctx.num_weights = weight.shape[0]
        ctx.padding_idx = padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return _C.embedding_forward(weight, input)

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        gw = _C.embedding_backward(grad, input, ctx.num_weights, ctx.padding_idx, ctx.scale_grad_by_freq)
        return None, gw, None, None


def _normalise_padding_idx(padding_idx, num_embeddings: int, op: str) -> int:
    """PyTorch's rule: padding_idx in [-num_embeddings, num_embeddings), negatives count from the
    end; -1 here means none."""
    if padding_idx is None:
        return -1
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"lamina.{op}: argument 'padding_idx' must be an int or None, got "
                        f"{type(padding_idx).__name__}")
    p = int(padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError(f"lamina.{op}: padding_idx {p} must be within num_embeddings "
                         f"({num_embeddings}): in [{-num_embeddings}, {num_embeddings - 1}]")
    return p + num_embeddings if p < 0 else p


def _renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescales, in place and without autograd, the rows of ``weight`` that ``input`` refers
    to whose ``norm_type``-norm exceeds ``max_norm`` (as torch.embedding_renorm_)."""
    if weight.device.type != "cpu":
        raise RuntimeError("lamina.embedding: max_norm is implemented for CPU tensors only")
    idx = np.unique(input.detach().numpy().reshape(-1))
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        bad = idx[(idx < 0) | (idx >= weight.shape[0])][0]
        raise IndexError(f"lamina.embedding: index {int(bad)} is out of range for num_embeddings "
                         f"{weight.shape[0]}")
    with no_grad():
        w = weight.detach().numpy()
        rows = w[idx]
        norms = np.linalg.norm(rows.astype(np.float64), ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[idx] = (rows * scale[:, None]).astype(w.dtype)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight (num_embeddings, embedding_dim)`` picked by the int64 indices ``input``
    (any shape): returns ``(*input.shape, embedding_dim)``, as
    ``torch.nn.functional.embedding``. The ``padding_idx`` row receives no gradient;
    ``max_norm`` renormalises the looked-up rows of ``weight`` in place first;
    ``scale_grad_by_freq`` divides each row's gradient by its index's count in ``input``.

    >>> import lamina
    >>> import lamina.nn.functional as F
    >>> w = lamina.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> F.embedding(lamina.tensor([[1, 2], [2, 0]]), w).tolist()
    [[[1.0, 2.0], [3.0, 4.0]], [[3.0, 4.0], [0.0, 0.0]]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"lamina.embedding: argument 'input' must be a Tensor, got {type(input).__name__}")
    if not isinstance(weight, Tensor):
        raise TypeError(f"lamina.embedding: argument 'weight' must be a Tensor, got {type(weight).__name__}")
    if sparse:
        raise NotImplementedError("lamina.embedding: sparse=True (sparse gradients) is not implemented; "
                                  "use sparse=False")
    if weight.dim() != 2:
        raise ValueError(f"lamina.embedding: argument 'weight' must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {list(weight.shape)}")
    if input.dtype.name != "int64":
        raise TypeError(f"lamina.embedding: argument 'input' (the indices) must be int64, got {input.dtype}")
    p = _normalise_padding_idx(padding_idx, weight.shape[0], "embedding")
    if max_norm is not None:
        _renorm_(weight, input, float(max_norm), float(norm_type))
    return _Embedding.apply(input, weight, p, bool(scale_grad_by_freq))
