"""``DataLoader``: batches from a dataset, shuffled by its own seeded generator and prepared in a
background thread, with ``torch.utils.data.DataLoader``'s semantics for ``batch_size``,
``shuffle``, ``drop_last`` and ``collate_fn``.

>>> import numpy as np
>>> from lamina.data import DataLoader, TensorDataset
>>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
>>> loader = DataLoader(ds, batch_size=2, shuffle=True, seed=0)
>>> len(loader)
3
>>> x, y = next(iter(loader))
>>> x.shape, y.dtype
(lamina.Size([2, 2]), lamina.int64)

Determinism: the order of every epoch comes from ``numpy.random.default_rng(seed)``; each
``iter(loader)`` draws a new permutation from it, in the calling thread, before the background
thread starts. ``state_dict()`` is that generator's state, so a run restored with
``load_state_dict()`` sees the same batch order in the epochs that follow. With ``seed=None`` the
generator is seeded from lamina's default generator (``lamina.manual_seed``), without advancing it.

The background thread: up to ``prefetch`` batches wait in a bounded queue; an exception raised
while preparing a batch (in the dataset, the collate function) is raised again in the consumer
by ``next()``; an iterator dropped midway (``break``) stops its thread, which never blocks more
than 50 ms on the queue. ``prefetch=0`` prepares batches in the calling thread.
"""

from __future__ import annotations

import collections.abc
import numbers
import queue
import threading
from typing import Any, Callable

import numpy as np

from ..tensor import Tensor, from_numpy
from .dataset import Subset, TensorDataset, to_supported_array

__all__ = ["DataLoader", "default_collate"]


def _from_array(a: np.ndarray) -> Tensor:
    return from_numpy(to_supported_array(a, "batch"))


def default_collate(batch: list) -> Any:
    """Stacks a list of samples into a batch, as PyTorch's ``default_collate``: tensors and arrays
    are stacked along a new first dimension (floats to float32 unless float64, integers to int64);
    Python ints become an int64 tensor, floats a float64 tensor, bools a bool tensor; strings stay
    a list; tuples, lists and dicts are collated field by field."""
    if len(batch) == 0:
        raise ValueError("lamina.data.default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        if all(isinstance(b, Tensor) and b.device.type == "cpu" for b in batch):
            shapes = {tuple(b.shape) for b in batch}
            if len(shapes) != 1:
                raise RuntimeError(f"lamina.data.default_collate: stack expects each tensor to be equal "
                                   f"size, got shapes {sorted(shapes)}")
            return _from_array(np.stack([b.detach().numpy() for b in batch]))
        from ..tensor import stack

        return stack([b.detach() for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(f"lamina.data.default_collate: can't batch numpy arrays of dtype {elem.dtype}")
        shapes = {np.shape(b) for b in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"lamina.data.default_collate: stack expects each array to be equal size, "
                               f"got shapes {sorted(shapes)}")
        return _from_array(np.stack(batch))
    if isinstance(elem, np.generic) and elem.dtype.kind in "biuf":
        return _from_array(np.asarray(batch))
    if isinstance(elem, bool):
        return from_numpy(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return from_numpy(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return from_numpy(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        if any(len(b) != n for b in batch):
            raise RuntimeError("lamina.data.default_collate: each element in a batch should be of equal size")
        cols = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(cols) if isinstance(elem, tuple) else cols
    raise TypeError(f"lamina.data.default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


def _fast_source(dataset) -> tuple[tuple[np.ndarray, ...], np.ndarray | None] | None:
    """(arrays, row map) when ``dataset`` is a TensorDataset or a chain of Subsets of one."""
    rows = None
    while isinstance(dataset, Subset):
        rows = dataset.indices if rows is None else dataset.indices[rows]
        dataset = dataset.dataset
    if type(dataset) is TensorDataset:
        return dataset.arrays, rows
    return None


_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _worker(make_batch: Callable[[np.ndarray], Any], batches: list, out: queue.Queue,
            stop: threading.Event) -> None:
    """Prepares every batch and puts it on ``out``; gives up as soon as ``stop`` is set. It holds
    no reference to the iterator, so dropping the iterator runs its ``__del__``, which sets ``stop``."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for idx in batches:
            if stop.is_set():
                return
            if not put(make_batch(idx)):
                return
    except BaseException as e:  # noqa: BLE001  (handed to the consumer, raised there)
        put(_Failure(e))
        return
    put(_DONE)


class _LoaderIter:
    """One epoch of a DataLoader."""

    def __init__(self, make_batch: Callable[[np.ndarray], Any], batches: list, prefetch: int) -> None:
        self._make_batch = make_batch
        self._batches = batches
        self._pos = 0
        self._n = len(batches)
        self._thread = None
        self._finished = False
        if prefetch > 0 and self._n > 0:
            self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
            self._stop = threading.Event()
            self._thread = threading.Thread(target=_worker, args=(make_batch, batches, self._queue, self._stop),
                                            name="lamina-dataloader", daemon=True)
            self._thread.start()

    def __iter__(self) -> "_LoaderIter":
        return self

    def __len__(self) -> int:
        return self._n

    def __next__(self):
        if self._finished:
            raise StopIteration
        if self._thread is None:
            if self._pos >= self._n:
                self._finished = True
                raise StopIteration
            idx = self._batches[self._pos]
            self._pos += 1
            try:
                return self._make_batch(idx)
            except BaseException:
                self._finished = True
                raise
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._finished = True
                    raise RuntimeError("lamina.data.DataLoader: the background thread preparing batches "
                                       "stopped without a result") from None
        if item is _DONE:
            self._finished = True
            self._thread.join()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            self._thread.join()
            raise item.exc
        self._pos += 1
        return item

    def close(self, timeout: float = 1.0) -> None:
        """Stops the background thread: it finishes at most the batch it is preparing, then
        exits. Waits up to ``timeout`` seconds for it (0 when the iterator is dropped)."""
        self._finished = True
        if self._thread is not None:
            self._stop.set()
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            if timeout > 0 and self._thread is not threading.current_thread():
                self._thread.join(timeout=timeout)

    def __del__(self) -> None:
        try:
            self.close(timeout=0.0)
        except Exception:  # noqa: BLE001  (interpreter shutdown)
            pass


class DataLoader:
    """Iterates over ``dataset`` in batches of lamina tensors.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch.
        shuffle: a new random order every epoch (from this loader's own generator).
        drop_last: drop the last, incomplete batch.
        collate_fn: turns a list of samples into a batch (default: ``default_collate``). Not used
            for a ``TensorDataset`` (or a ``Subset`` of one) without ``collate_fn``: each column of
            the batch is gathered with one numpy fancy index.
        seed: seeds ``numpy.random.default_rng``; ``None`` derives it from lamina's generator.
        prefetch: batches prepared ahead in a background thread (0: no thread).

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 collate_fn: Callable[[list], Any] | None = None, seed: int | None = None,
                 prefetch: int = 2) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"lamina.data.DataLoader: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, numbers.Integral) or prefetch < 0:
            raise ValueError(f"lamina.data.DataLoader: prefetch should be a non-negative integer, got {prefetch!r}")
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"lamina.data.DataLoader: dataset must define __getitem__ and __len__, got "
                            f"{type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"lamina.data.DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.prefetch = int(prefetch)
        if seed is None:
            from .. import get_rng_state

            s, off = get_rng_state()
            seed_seq = np.random.SeedSequence([int(s) & (2**64 - 1), int(off) & (2**64 - 1)])
            self.seed = None
            self.generator = np.random.default_rng(seed_seq)
        else:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"lamina.data.DataLoader: seed must be a non-negative integer or None, got {seed!r}")
            self.seed = int(seed)
            self.generator = np.random.default_rng(self.seed)
        self._fast = _fast_source(dataset) if collate_fn is None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The shuffling generator's state (JSON-serializable): restore it with
        ``load_state_dict`` and the next epochs come in the same order."""
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or "generator" not in state:
            raise ValueError("lamina.data.DataLoader.load_state_dict: expected a dict from state_dict() "
                             f"with a 'generator' entry, got {state!r:.200}")
        g = state["generator"]
        name = g.get("bit_generator") if isinstance(g, dict) else None
        if name != type(self.generator.bit_generator).__name__:
            bitgen = getattr(np.random, str(name), None)
            if bitgen is None:
                raise ValueError(f"lamina.data.DataLoader.load_state_dict: unknown bit generator {name!r}")
            self.generator = np.random.Generator(bitgen())
        self.generator.bit_generator.state = g

    # ------------------------------------------------------------------ iteration
    def _batches(self) -> list:
        n = len(self.dataset)
        order = self.generator.permutation(n) if self.shuffle else None
        out = []
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            out.append(order[start:end] if order is not None else slice(start, end))
        return out

    def _make_batch(self, idx):
        if self._fast is not None:
            arrays, rows = self._fast
            if rows is not None:
                idx = rows[idx]
            if isinstance(idx, slice):
                cols = [a[idx].copy() for a in arrays]
            else:
                cols = [np.take(a, idx, axis=0) for a in arrays]
            return tuple(from_numpy(c) for c in cols)
        if isinstance(idx, slice):
            idx = range(idx.start, idx.stop)
        samples = [self.dataset[int(i)] for i in idx]
        collate = self.collate_fn if self.collate_fn is not None else default_collate
        return collate(samples)

    def __iter__(self) -> _LoaderIter:
        return _LoaderIter(self._make_batch, self._batches(), self.prefetch)

    def __repr__(self) -> str:
        return (f"DataLoader(batches={len(self)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, prefetch={self.prefetch})")
