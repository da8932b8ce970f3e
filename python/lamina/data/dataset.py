"""Datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``, as ``torch.utils.data``.

A dataset is anything with ``__getitem__(i)`` and ``__len__()``. ``TensorDataset`` keeps its
columns as numpy arrays (sharing memory with the tensors or arrays it was given) so that
``DataLoader`` can gather a whole batch with one fancy index instead of a per-sample collate.

>>> import numpy as np
>>> from lamina.data import TensorDataset, random_split
>>> ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
>>> len(ds), ds[2][1].item()
(10, 2)
>>> a, b = random_split(ds, [0.8, 0.2], seed=0)
>>> len(a), len(b)
(8, 2)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "to_supported_array"]


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def to_supported_array(a: np.ndarray, what: str = "array") -> np.ndarray:
    """``a`` converted to a dtype a lamina tensor holds: floats to float32 (float64 stays float64),
    integers to int64 (labels), bool stays bool. No copy when the dtype already fits."""
    kind = a.dtype.kind
    if kind == "f":
        dt = np.float64 if a.dtype == np.float64 else np.float32
    elif kind in "iu":
        dt = np.int64
    elif kind == "b":
        dt = np.bool_
    else:
        raise TypeError(f"lamina.data: {what} has dtype {a.dtype}; expected a numeric or bool array")
    return np.asarray(a, dtype=dt, order="C")


def _as_array(t: Any, i: int) -> np.ndarray:
    """A numpy view of a CPU lamina tensor, or a numpy array converted to a supported dtype."""
    if isinstance(t, Tensor):
        if t.device.type != "cpu":
            raise ValueError(f"lamina.data.TensorDataset: tensor {i} is on {t.device}; keep dataset "
                             "tensors on the CPU and move each batch with .to(device)")
        return to_supported_array(t.detach().numpy(), f"TensorDataset tensor {i}")
    if isinstance(t, np.ndarray):
        return to_supported_array(t, f"TensorDataset array {i}")
    if hasattr(t, "__array__") or hasattr(t, "__dlpack__"):  # torch tensors and the like
        return to_supported_array(np.asarray(t.detach() if hasattr(t, "detach") else t),
                                  f"TensorDataset array {i}")
    raise TypeError(f"lamina.data.TensorDataset: argument {i} must be a lamina.Tensor or a numpy "
                    f"array, got {type(t).__name__}")


class TensorDataset(Dataset):
    """Rows of equally long tensors: ``ds[i] == (t0[i], t1[i], ...)``.

    Accepts lamina tensors (CPU) and numpy arrays; numpy arrays are converted once (floats to
    float32 unless float64, integers to int64, as labels). ``tensors`` holds lamina tensors that
    share memory with the arrays the loader gathers from.

    >>> import numpy as np
    >>> ds = TensorDataset(np.ones((4, 2)), np.array([0, 1, 0, 1]))
    >>> [t.shape for t in ds.tensors]
    [lamina.Size([4, 2]), lamina.Size([4])]
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("lamina.data.TensorDataset: expected at least one tensor")
        arrays = [_as_array(t, i) for i, t in enumerate(tensors)]
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"lamina.data.TensorDataset: tensor {i} is 0-dimensional; every "
                                 "tensor needs a first (sample) dimension")
        n = arrays[0].shape[0]
        if any(a.shape[0] != n for a in arrays):
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError("lamina.data.TensorDataset: size mismatch between tensors: every tensor "
                             f"must have the same first dimension, got shapes {shapes}")
        from ..tensor import from_numpy

        self.arrays: tuple[np.ndarray, ...] = tuple(arrays)
        self.tensors: tuple[Tensor, ...] = tuple(from_numpy(a) for a in arrays)

    def __getitem__(self, index):
        from ..tensor import from_numpy

        if isinstance(index, bool) or not isinstance(index, (numbers.Integral, np.integer)):
            raise TypeError(f"lamina.data.TensorDataset: index must be an integer, got {type(index).__name__}")
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"lamina.data.TensorDataset: index {i} is out of range for a dataset of {n} rows")
        return tuple(from_numpy(np.array(a[i])) for a in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])


class Subset(Dataset):
    """The rows ``indices`` of ``dataset`` (in that order)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        idx = np.asarray(indices)
        if idx.size and idx.dtype.kind not in "iu":
            raise TypeError(f"lamina.data.Subset: indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"lamina.data.Subset: indices must lie in [-{n}, {n}) for a dataset of {n} "
                             f"rows, got min {idx.min()} and max {idx.max()}")
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(self.indices[i])] for i in index]
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return int(self.indices.shape[0])


def random_split(dataset: Dataset, lengths: Sequence[float], seed: int = 0) -> list[Subset]:
    """Splits ``dataset`` into non-overlapping ``Subset``\\ s of the given lengths (integers summing
    to ``len(dataset)``, or fractions summing to 1, the remainder spread round-robin as in
    PyTorch). The permutation comes from ``numpy.random.default_rng(seed)``: same seed, same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lamina.data.random_split: lengths must not be empty")
    if all(isinstance(x, numbers.Real) and not isinstance(x, numbers.Integral) for x in lengths) \
            and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 + 1e-9:
        if any(not 0.0 <= f <= 1.0 for f in lengths):
            raise ValueError(f"lamina.data.random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    for x in lengths:
        if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 0:
            raise ValueError(f"lamina.data.random_split: lengths must be non-negative integers summing to "
                             f"the dataset's length or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"lamina.data.random_split: sum of input lengths ({sum(lengths)}) does not equal "
                         f"the length of the input dataset ({n})")
    perm = np.random.default_rng(seed).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + int(length)]))
        start += int(length)
    return out
