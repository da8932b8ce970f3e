"""Metrics the Trainer accumulates over an epoch: accuracy, top-k accuracy, and the loss.

A metric is an object with ``name``, ``reset()``, ``update(output, target)`` and ``compute()``.
Updates work on numpy views of the batch (free for CPU tensors), so a step costs microseconds.

>>> import numpy as np
>>> from lamina.train.metrics import Accuracy, TopK
>>> out = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]], dtype=np.float32)
>>> y = np.array([1, 1, 2])
>>> acc = Accuracy(); acc.update(out, y); round(acc.compute(), 4)
0.6667
>>> top2 = TopK(2); top2.update(out, y); top2.compute()
1.0
"""

from __future__ import annotations

import re

import numpy as np

from ..tensor import Tensor

__all__ = ["Accuracy", "Loss", "Metric", "TopK", "get_metric"]


def _np(x) -> np.ndarray:
    """A numpy view of a lamina tensor (copied to the host if on CUDA), or the array itself."""
    if isinstance(x, Tensor):
        return x.numpy(force=True)
    return np.asarray(x)


def _labels(target: np.ndarray, n: int) -> np.ndarray:
    """Class indices from index targets ``(N,)`` or probability/one-hot targets ``(N, K)``."""
    if target.ndim == 2 and target.dtype.kind == "f":
        return target.argmax(axis=1)
    return target.reshape(n)


class Metric:
    """Base class: accumulate over batches with ``update``, read with ``compute``."""

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output, target) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Fraction of samples whose highest score is the target class (ties: the first index, as
    ``argmax``). Outputs ``(N, K)`` with ``K > 1`` are class scores; outputs ``(N,)`` or ``(N, 1)``
    are binary logits (positive means class 1)."""

    name = "accuracy"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, output, target) -> None:
        o, t = _np(output), _np(target)
        n = o.shape[0]
        if o.ndim == 2 and o.shape[1] > 1 and t.ndim == 1:  # the common case: logits and class indices
            self.correct += int(np.count_nonzero(o.argmax(axis=1) == t))
            self.total += n
            return
        if o.ndim == 1 or (o.ndim == 2 and o.shape[1] == 1):
            pred = (o.reshape(n) > 0).astype(np.int64)
            labels = (t.reshape(n) > 0.5).astype(np.int64)
        else:
            pred = o.reshape(n, -1).argmax(axis=1) if o.ndim > 2 else o.argmax(axis=1)
            labels = _labels(t, n)
        self.correct += int(np.count_nonzero(pred == labels))
        self.total += n

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class TopK(Metric):
    """Fraction of samples whose target class is among the ``k`` highest scores (a sample counts
    when fewer than ``k`` classes score strictly higher than the target)."""

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"lamina.train.TopK: k must be a positive integer, got {k!r}")
        self.k = k
        self.name = f"top{k}_accuracy"
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, output, target) -> None:
        o, t = _np(output), _np(target)
        n = o.shape[0]
        o = o.reshape(n, -1)
        labels = _labels(t, n)
        score = o[np.arange(n), labels]
        higher = (o > score[:, None]).sum(axis=1)
        self.correct += int(np.count_nonzero(higher < self.k))
        self.total += n

    def compute(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class Loss(Metric):
    """The sample-weighted mean of per-batch mean losses (``update(loss_value, batch_size)``)."""

    name = "loss"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sum = 0.0
        self.total = 0

    def update(self, value: float, n: int) -> None:  # type: ignore[override]
        self.sum += float(value) * n
        self.total += n

    def compute(self) -> float:
        return self.sum / self.total if self.total else float("nan")


_TOPK = re.compile(r"^top[-_]?(\d+)(?:_accuracy)?$")


def get_metric(spec) -> Metric | None:
    """A Metric from a name (``"accuracy"``/``"acc"``, ``"top5"``/``"top5_accuracy"``), a Metric
    instance, or ``"loss"`` (None: the loss is always tracked)."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, type) and issubclass(spec, Metric):
        return spec()
    if isinstance(spec, str):
        s = spec.lower()
        if s in ("accuracy", "acc"):
            return Accuracy()
        if s == "loss":
            return None
        m = _TOPK.match(s)
        if m:
            return TopK(int(m.group(1)))
    raise ValueError(f"lamina.train: unknown metric {spec!r}; use 'accuracy', 'topK' (e.g. 'top5'), 'loss' "
                     "or a lamina.train.metrics.Metric")
