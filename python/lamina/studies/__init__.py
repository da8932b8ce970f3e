"""``lamina.studies``: experiments that answer "what makes deep learning deep", run with
``lamina study NAME``.

Each study is a module ``lamina.studies.<name>`` with ``add_arguments(parser)`` (its options) and
``run(args) -> int`` (prints a table, writes ``results.json`` and PNGs into ``args.out``, by
default ``runs/study-<name>``):

- ``depth``: shallow against deep nets, and the remedies that made depth trainable;
- ``scale``: test accuracy against training-set size for logistic regression, a shallow net and
  a deep CNN;
- ``autoencoder``: deep autoencoders against PCA (compression, anomaly detection);
- ``dbn``: a deep belief net pretrained layer by layer, fine-tuned, and sampled.

This package also holds what the studies share: ``StudyError`` (a user-facing error: the
command prints it as one line and exits with status 2), ``load_dataset``, ``write_json`` and
``format_table``. Importing it imports no study.

>>> from lamina.studies import NAMES, format_table
>>> NAMES
('depth', 'scale', 'autoencoder', 'dbn')
>>> print(format_table(["model", "acc"], [["shallow", "97.1%"]]))
model    acc
-------  -----
shallow  97.1%
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from .._argtypes import positive_int

__all__ = ["NAMES", "StudyError", "format_table", "load_dataset", "positive_int", "write_json"]

NAMES = ("depth", "scale", "autoencoder", "dbn")


class StudyError(Exception):
    """A user-facing error of a study (bad option, missing data): one line, exit status 2."""




def load_dataset(name: str, root: str | None = None, allowed: Sequence[str] = ("digits", "mnist"),
                 study: str = "study"):
    """``((x_train, y_train), (x_test, y_test))`` of dataset ``name`` (images float32
    ``(N, C, H, W)`` in [0, 1], labels int64), through ``lamina.datasets.load``. Raises
    ``StudyError`` for a dataset not in ``allowed`` or data that cannot be found."""
    from .. import datasets

    canonical = str(name).strip().lower().replace("_", "-")
    if canonical not in allowed:
        raise StudyError(f"unknown dataset {name!r} for the {study} study; choose one of {', '.join(allowed)}")
    try:
        (x_tr, y_tr), (x_te, y_te) = datasets.load(canonical, root=root)
    except (OSError, ValueError, ImportError) as e:  # DatasetNotFoundError is a FileNotFoundError
        raise StudyError(" ".join(str(e).split())) from None
    return ((np.ascontiguousarray(x_tr, np.float32), np.asarray(y_tr, np.int64)),
            (np.ascontiguousarray(x_te, np.float32), np.asarray(y_te, np.int64)))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and obj != obj:
        return None  # NaN is not JSON
    return obj


def write_json(path: str, obj: Any) -> None:
    """Writes ``obj`` as indented JSON, atomically (numpy values become numbers, NaN null)."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(_jsonable(obj), f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: columns left-aligned, a dashed rule under the header."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
