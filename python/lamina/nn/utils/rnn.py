"""Variable-length batches for recurrent layers, as ``torch.nn.utils.rnn``: ``PackedSequence``,
``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence``, ``pad_sequence``.

A packed sequence holds the steps of a batch sorted by length (longest first) one after another:
``data`` ``(sum(lengths), *)``, with ``batch_sizes[t]`` rows at step t. Packing and unpacking are
one C++ copy each (csrc/ops/lstm.h ``rnn_pack``/``rnn_unpack``, adjoint to each other), so they
are differentiable; the recurrent layers run the packed layout directly.
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from ... import _C, creation
from ..._dtype import int64
from ...autograd.function import Function
from ...tensor import Tensor, cat, stack, tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "pad_sequence", "invert_permutation"]


class _Pack(Function):
    """padded (T, B, *) -> packed (N, *); row j of step t from padded[t, index[j]]."""

    @staticmethod
    def forward(ctx, padded, batch_sizes, index):
        ctx.meta = (batch_sizes, index, padded.shape[1], padded.shape[0])
        return _C.rnn_pack(padded, batch_sizes, index)

    @staticmethod
    def backward(ctx, grad):
        bs, index, b, t = ctx.meta
        return _C.rnn_unpack(grad, bs, index, b, t, 0.0), None, None


class _Unpack(Function):
    """packed (N, *) -> padded (total_length, B, *), padding_value elsewhere."""

    @staticmethod
    def forward(ctx, packed, batch_sizes, index, batch, total_length, padding_value):
        ctx.meta = (batch_sizes, index)
        return _C.rnn_unpack(packed, batch_sizes, index, batch, total_length, padding_value)

    @staticmethod
    def backward(ctx, grad):
        bs, index = ctx.meta
        return _C.rnn_pack(grad, bs, index), None, None, None, None, None


def _pack(padded: Tensor, batch_sizes: list, index: list | None) -> Tensor:
    return _Pack.apply(padded, batch_sizes, index)


def _unpack(packed: Tensor, batch_sizes: list, index: list | None, batch: int, total_length: int,
            padding_value: float = 0.0) -> Tensor:
    return _Unpack.apply(packed, batch_sizes, index, batch, total_length, float(padding_value))


def _permute_batch(x: Tensor, index: list) -> Tensor:
    """``x.index_select(1, index)`` for a permutation ``index`` of a (L, B, H) state
    (differentiable)."""
    L, B, H = x.shape
    rows = x.transpose(0, 1).reshape(1, B, L * H)
    return _pack(rows, [B], index).reshape(B, L, H).transpose(0, 1)


def _as_index_list(t) -> list | None:
    if t is None:
        return None
    if isinstance(t, Tensor):
        return [int(v) for v in t.tolist()]
    return [int(v) for v in t]


def invert_permutation(permutation):
    """The inverse of a permutation given as an int64 tensor (None stays None)."""
    if permutation is None:
        return None
    p = np.asarray(_as_index_list(permutation), dtype=np.int64)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=np.int64)
    return _int_tensor(inv)


def _int_tensor(a: np.ndarray) -> Tensor:
    return tensor(np.asarray(a, dtype=np.int64).tolist(), dtype=int64)


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices",
                                                    "unsorted_indices"])):
    """A batch of variable-length sequences in the packed layout (as
    ``torch.nn.utils.rnn.PackedSequence``): ``data`` ``(sum(lengths), *)``, ``batch_sizes`` an
    int64 tensor of the rows per step, ``sorted_indices`` (the original batch index of each
    sorted row) and ``unsorted_indices`` (its inverse), both None when the batch came sorted.

    >>> import lamina
    >>> from lamina.nn.utils.rnn import pack_sequence
    >>> p = pack_sequence([lamina.ones(3, 2), lamina.ones(1, 2)])
    >>> p.batch_sizes.tolist(), p.data.shape
    ([2, 1, 1], lamina.Size([4, 2]))
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            raise ValueError("lamina.nn.utils.rnn.PackedSequence: batch_sizes is required; build "
                             "packed sequences with pack_padded_sequence or pack_sequence")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> "PackedSequence":
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def float(self) -> "PackedSequence":
        return type(self)(self.data.float(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def double(self) -> "PackedSequence":
        return type(self)(self.data.double(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _lengths_array(lengths, op: str) -> np.ndarray:
    if isinstance(lengths, Tensor):
        if lengths.dtype.is_floating_point or lengths.dim() != 1:
            raise TypeError(f"lamina.{op}: 'lengths' must be a 1-D int64 tensor or a list of ints, "
                            f"got {lengths.dtype} of shape {list(lengths.shape)}")
        vals = lengths.tolist()
    elif isinstance(lengths, (list, tuple, np.ndarray)):
        vals = list(np.asarray(lengths).reshape(-1).tolist()) if isinstance(lengths, np.ndarray) else list(lengths)
    else:
        raise TypeError(f"lamina.{op}: 'lengths' must be a 1-D int64 tensor or a list of ints, got "
                        f"{type(lengths).__name__}")
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
            if isinstance(v, float) and float(v).is_integer():
                continue
            raise TypeError(f"lamina.{op}: 'lengths' must hold integers, got {v!r}")
    return np.asarray([int(v) for v in vals], dtype=np.int64)


def _batch_sizes_of(sorted_lengths: np.ndarray) -> list:
    """Rows still running at each step for lengths sorted longest first."""
    max_len = int(sorted_lengths[0]) if sorted_lengths.size else 0
    steps = np.arange(max_len)
    return [int(v) for v in (sorted_lengths[None, :] > steps[:, None]).sum(axis=1)]


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) of sequences with
    the given ``lengths`` (as ``torch.nn.utils.rnn.pack_padded_sequence``). With
    ``enforce_sorted=True`` the lengths must be sorted longest first; otherwise the batch is
    sorted here and ``sorted_indices`` records the order.

    >>> import lamina
    >>> from lamina.nn.utils.rnn import pack_padded_sequence
    >>> p = pack_padded_sequence(lamina.randn(4, 3, 2), [4, 2, 1])
    >>> p.batch_sizes.tolist()
    [3, 2, 1, 1]
    """
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"lamina.{op}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.dim() < 2:
        raise ValueError(f"lamina.{op}: 'input' must have at least 2 dimensions "
                         f"({'B, T' if batch_first else 'T, B'}, *), got shape {list(input.shape)}")
    lens = _lengths_array(lengths, op)
    padded = input.transpose(0, 1) if batch_first else input
    T, B = padded.shape[0], padded.shape[1]
    if lens.size != B:
        raise RuntimeError(f"lamina.{op}: Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={B})")
    if lens.size and lens.min() <= 0:
        raise RuntimeError(f"lamina.{op}: Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if lens.size and lens.max() > T:
        raise RuntimeError(f"lamina.{op}: a length of {int(lens.max())} exceeds the {T} steps of the "
                           f"padded input (shape {list(input.shape)}, batch_first={batch_first})")
    if B == 0:
        raise RuntimeError(f"lamina.{op}: cannot pack an empty batch (input shape {list(input.shape)})")
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError(
                f"lamina.{op}: `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you do not "
                "need ONNX exportability.")
        order = None
        sorted_lens = lens
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_lens = lens[order]
    bs = _batch_sizes_of(sorted_lens)
    index = None if order is None else [int(v) for v in order]
    data = _pack(padded, bs, index)
    sorted_indices = None if order is None else _int_tensor(order)
    return PackedSequence(data, _int_tensor(np.asarray(bs, dtype=np.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Inverse of ``pack_padded_sequence``: ``(padded, lengths)`` with the batch in its original
    order (as ``torch.nn.utils.rnn.pad_packed_sequence``); ``total_length`` pads to that many
    steps.

    >>> import lamina
    >>> from lamina.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> padded, lengths = pad_packed_sequence(pack_sequence([lamina.ones(1), lamina.ones(3)],
    ...                                                     enforce_sorted=False))
    >>> padded.shape, lengths.tolist()
    (lamina.Size([3, 2]), [1, 3])
    """
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"lamina.{op}: expected a PackedSequence, got {type(sequence).__name__}")
    bs = _as_index_list(sequence.batch_sizes)
    max_len = len(bs)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                f"lamina.{op}: Expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence length "
                f"being {max_len}")
    else:
        total_length = max_len
    B = bs[0]
    index = _as_index_list(sequence.sorted_indices)
    padded = _unpack(sequence.data, bs, index, B, int(total_length), padding_value)
    sorted_lens = (np.asarray(bs)[None, :] > np.arange(B)[:, None]).sum(axis=1)
    lens = np.empty(B, dtype=np.int64)
    if index is None:
        lens[:] = sorted_lens
    else:
        lens[np.asarray(index)] = sorted_lens
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _int_tensor(lens)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks sequences of shapes ``(L_i, *)`` into ``(max L, B, *)`` (``(B, max L, *)`` with
    ``batch_first``), padding with ``padding_value`` on ``padding_side`` (as
    ``torch.nn.utils.rnn.pad_sequence``).

    >>> import lamina
    >>> from lamina.nn.utils.rnn import pad_sequence
    >>> pad_sequence([lamina.ones(2), lamina.ones(3)], batch_first=True).tolist()
    [[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    """
    op = "pad_sequence"
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"lamina.{op}: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"lamina.{op}: padding_side must be 'left' or 'right', got {padding_side!r}")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"lamina.{op}: sequence {i} must be a Tensor, got {type(s).__name__}")
        if s.dim() < 1:
            raise ValueError(f"lamina.{op}: sequence {i} must have at least 1 dimension, got a 0-d tensor")
    trailing = list(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if list(s.shape[1:]) != trailing:
            raise ValueError(f"lamina.{op}: every sequence must have trailing shape {trailing}, but "
                             f"sequence {i} has shape {list(s.shape)}")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = max_len - s.shape[0]
        if extra:
            pad = creation.full([extra] + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = cat([s, pad], 0) if padding_side == "right" else cat([pad, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of sequences ``(L_i, *)`` (as ``torch.nn.utils.rnn.pack_sequence``).

    >>> import lamina
    >>> from lamina.nn.utils.rnn import pack_sequence
    >>> pack_sequence([lamina.ones(3), lamina.ones(2)]).batch_sizes.tolist()
    [2, 2, 1]
    """
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.dim() >= 1 else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
