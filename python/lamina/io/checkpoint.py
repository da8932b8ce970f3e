"""Checkpoints: a model's weights (and the optimizer's tensor state) as safetensors, everything
else (config, optimizer hyper-parameters, scheduler, RNG and trainer state) as a JSON sidecar.

Files, for ``save_checkpoint("out/last.ckpt", ...)``::

    out/last.ckpt                              JSON: the commit point, written last
    out/last.ckpt.<sha256[:16]>.safetensors    the tensors, named by their content's hash

Crash safety: the tensors go to a temporary file that is fsynced and renamed to its
content-named file; then the JSON, which names that file with its size and SHA-256, replaces
the old JSON atomically (temporary file, fsync, rename, fsync of the directory); only then are
the previous tensor files removed. A process killed at any point leaves the previous checkpoint
loadable (its JSON and the tensors file it names are untouched until the new JSON is in place),
and ``load_checkpoint`` verifies size and hash, so a mismatched pair is never silently used.
Nothing is ever unpickled.

JSON holds numbers, strings, lists and string-keyed dicts as themselves; tuples, dicts with
other keys, non-finite floats, lamina tensors and numpy arrays are tagged (``{"__tuple__": [...]}``,
``{"__dict__": [[k, v], ...]}``, ``{"__counter__": [[k, n], ...]}``, ``{"__float__": "nan"}``, ``{"__tensor__": name}``,
``{"__ndarray__": name}``; tensors and arrays live in the safetensors file under ``name``) and
come back as they went in.

>>> import lamina, tempfile, os
>>> from lamina import nn
>>> model = nn.Linear(3, 2)
>>> opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> path = os.path.join(tempfile.mkdtemp(), "last.ckpt")
>>> save_checkpoint(path, model, opt, extra={"epoch": 3}, config={"model": "linear"})
>>> load_checkpoint(path, model, opt)["extra"]["epoch"]
3
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._atomic import _UMASK, atomic_write, fsync_dir
from .safetensors import _write as _write_safetensors
from .safetensors import load_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "lamina.checkpoint"
VERSION = 1
_MARKERS = ("__tuple__", "__dict__", "__counter__", "__float__", "__tensor__", "__ndarray__")


class CheckpointError(ValueError):
    """A checkpoint that can't be used: missing tensors file, size or hash mismatch, bad JSON."""


# ---------------------------------------------------------------------- JSON encoding
class _Encoder:
    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}

    def _put(self, name: str, value) -> str:
        key, n = name, 1
        while key in self.tensors:
            key, n = f"{name}#{n}", n + 1
        self.tensors[key] = value
        return key

    def __call__(self, v, name: str):
        from ..tensor import Tensor

        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, str):
            return str(v)
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            f = float(v)
            return f if math.isfinite(f) else {"__float__": repr(f)}
        if isinstance(v, Tensor):
            return {"__tensor__": self._put(name, v.detach())}
        if isinstance(v, np.ndarray):
            return {"__ndarray__": self._put(name, np.asarray(v, order="C"))}
        if isinstance(v, tuple):
            return {"__tuple__": [self(x, f"{name}.{i}") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self(x, f"{name}.{i}") for i, x in enumerate(v)]
        if isinstance(v, collections.Counter):  # MultiStepLR's milestones
            return {"__counter__": [[self(k, f"{name}.key{i}"), self(x, f"{name}.{k}")]
                                    for i, (k, x) in enumerate(v.items())]}
        if isinstance(v, Mapping):
            if all(isinstance(k, str) and not k.startswith("__") for k in v):
                return {k: self(x, f"{name}.{k}") for k, x in v.items()}
            return {"__dict__": [[self(k, f"{name}.key{i}"), self(x, f"{name}.{k}")]
                                 for i, (k, x) in enumerate(v.items())]}
        raise TypeError(f"lamina.io.save_checkpoint: can't store {name!r} of type {type(v).__name__}; a checkpoint "
                        "holds numbers, strings, lists, tuples, dicts, lamina tensors and numpy arrays")


def _decode(v, arrays: dict, path: str):
    from ..tensor import from_numpy

    if isinstance(v, list):
        return [_decode(x, arrays, path) for x in v]
    if not isinstance(v, dict):
        return v
    if len(v) == 1:
        (k, x), = v.items()
        if k == "__tuple__":
            return tuple(_decode(e, arrays, path) for e in x)
        if k in ("__dict__", "__counter__"):
            d = {_decode(a, arrays, path): _decode(b, arrays, path) for a, b in x}
            return collections.Counter(d) if k == "__counter__" else d
        if k == "__float__":
            return float(x)
        if k in ("__tensor__", "__ndarray__"):
            if x not in arrays:
                raise CheckpointError(f"lamina.io.load_checkpoint: {path} refers to tensor {x!r}, which its "
                                      "tensors file lacks")
            return from_numpy(arrays[x].copy()) if k == "__tensor__" else arrays[x].copy()
    return {k: _decode(x, arrays, path) for k, x in v.items()}


# ---------------------------------------------------------------------- files
def _tensors_name(path: str, digest: str) -> str:
    return f"{os.path.basename(path)}.{digest[:16]}.safetensors"


def _write_tensors(path: str, tensors: dict, metadata: dict) -> dict:
    """Writes the tensors next to ``path`` under their content-named file; returns its entry."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tensors.tmp-", dir=directory)
    try:
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            size, digest = _write_safetensors(f, tensors, metadata)
            f.flush()
            os.fsync(f.fileno())
        name = _tensors_name(path, digest)
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
    return {"file": name, "size": size, "sha256": digest}


def _write_sidecar(path: str, doc: dict) -> None:
    """The commit point: the JSON replaces the previous one atomically."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def _cleanup(path: str, keep: str) -> None:
    """Removes this checkpoint's older tensor files and temporaries of interrupted saves."""
    directory = os.path.dirname(os.path.abspath(path))
    base = re.escape(os.path.basename(path))
    pattern = re.compile(rf"^(?:{base}\.[0-9a-f]{{16}}\.safetensors|\.{base}\.(?:tensors\.)?tmp-.*)$")
    for entry in os.listdir(directory):
        if entry != keep and pattern.match(entry):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, entry))


# ---------------------------------------------------------------------- public API
def save_checkpoint(path: str | os.PathLike, model=None, optimizer=None, scheduler=None,
                    extra: Any = None, config: Any = None) -> None:
    """Saves a checkpoint that ``load_checkpoint`` restores exactly.

    Args:
        path: the checkpoint's JSON file (its tensors go next to it, see the module's doc).
        model: an ``nn.Module`` (or a state dict): its ``state_dict()`` tensors.
        optimizer: its ``state_dict()``: tensor state into the tensors file, hyper-parameters and
            scalar state into the JSON.
        scheduler: its ``state_dict()``.
        extra: anything JSON-like, tensors and arrays included (trainer epoch, step, history,
            ``DataLoader.state_dict()``, numpy ``bit_generator.state`` dicts).
        config: the run's configuration (JSON-like), returned as it went in.

    lamina's RNG state (``lamina.get_rng_state()``) is always recorded.
    """
    from .. import __version__, get_rng_state

    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"lamina.io.save_checkpoint: {path} is a directory; give a file name such as "
                                f"{os.path.join(path, 'last.ckpt')}")
    enc = _Encoder()
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "lamina_version": __version__,
                           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if model is not None:
        sd = model.state_dict() if hasattr(model, "state_dict") else model
        if not isinstance(sd, Mapping):
            raise TypeError(f"lamina.io.save_checkpoint: model must be an nn.Module or a state dict, got "
                            f"{type(model).__name__}")
        keys = []
        for k, v in sd.items():
            keys.append(k)
            enc.tensors["model." + k] = v.detach() if hasattr(v, "detach") else v
        doc["model"] = keys
    if optimizer is not None:
        doc["optimizer"] = enc(optimizer.state_dict(), "optimizer")
    if scheduler is not None:
        doc["scheduler"] = enc(scheduler.state_dict(), "scheduler")
    doc["rng"] = {"lamina": [int(x) for x in get_rng_state()]}
    doc["config"] = enc(config, "config")
    doc["extra"] = enc(extra, "extra")
    doc["tensors"] = _write_tensors(path, enc.tensors, {"format": FORMAT, "checkpoint": os.path.basename(path)})
    _write_sidecar(path, doc)
    _cleanup(path, keep=doc["tensors"]["file"])


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's JSON with its tensors decoded (``model`` becomes the state dict), verified
    against the tensors file's size and SHA-256. Restores nothing."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"lamina.io.load_checkpoint: no such checkpoint: {path}") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"lamina.io.load_checkpoint: {path} is not a lamina checkpoint (its JSON is invalid: "
                              f"{e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"lamina.io.load_checkpoint: {path} is not a lamina checkpoint (format "
                              f"{doc.get('format') if isinstance(doc, dict) else None!r}, expected {FORMAT!r})")
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise CheckpointError(f"lamina.io.load_checkpoint: {path} has format version {doc.get('version')!r}; this "
                              f"lamina reads versions up to {VERSION} (upgrade lamina)")
    entry = doc.get("tensors")
    if (not isinstance(entry, dict) or not isinstance(entry.get("file"), str)
            or os.path.basename(entry["file"]) != entry["file"] or entry["file"] in ("", ".", "..")):
        raise CheckpointError(f"lamina.io.load_checkpoint: {path} names no valid tensors file ({entry!r:.200})")
    tpath = os.path.join(os.path.dirname(os.path.abspath(path)), entry["file"])
    try:
        with open(tpath, "rb") as f:
            data_size = os.fstat(f.fileno()).st_size
            h = hashlib.sha256()
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        raise CheckpointError(f"lamina.io.load_checkpoint: {path} needs its tensors file {tpath}, which is missing "
                              "(keep the .safetensors files next to the checkpoint)") from None
    if data_size != entry.get("size") or h.hexdigest() != entry.get("sha256"):
        raise CheckpointError(f"lamina.io.load_checkpoint: {tpath} does not match {path} (size {data_size} vs "
                              f"{entry.get('size')}, SHA-256 {h.hexdigest()[:16]}... vs "
                              f"{str(entry.get('sha256'))[:16]}...): the file is corrupt or was replaced")
    arrays = load_numpy(tpath)
    out = {k: _decode(v, arrays, path) for k, v in doc.items() if k not in ("model", "tensors")}
    if "model" in doc:
        from ..tensor import from_numpy

        missing = [k for k in doc["model"] if "model." + k not in arrays]
        if missing:
            raise CheckpointError(f"lamina.io.load_checkpoint: {tpath} lacks model tensors {missing[:5]}")
        out["model"] = {k: from_numpy(arrays["model." + k]) for k in doc["model"]}
    out["tensors"] = entry
    return out


def load_checkpoint(path: str | os.PathLike, model=None, optimizer=None, scheduler=None,
                    restore_rng: bool = True, strict: bool = True) -> dict:
    """Loads a checkpoint from ``save_checkpoint`` into the given objects and returns its
    contents: ``{"config", "extra", "model" (state dict), "optimizer", "scheduler", "rng", ...}``.

    ``model.load_state_dict(..., strict=strict)``, ``optimizer.load_state_dict``,
    ``scheduler.load_state_dict`` and, with ``restore_rng``, ``lamina.set_rng_state`` are called
    for what is given. Everything is read and verified before anything is modified.
    """
    from .. import set_rng_state

    ck = read_checkpoint(path)
    for obj, key in ((model, "model"), (optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None and key not in ck:
            raise CheckpointError(f"lamina.io.load_checkpoint: {os.fspath(path)} holds no {key} state")
    if model is not None:
        model.load_state_dict(ck["model"], strict=strict)
    if optimizer is not None:
        optimizer.load_state_dict(ck["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(ck["scheduler"])
    if restore_rng and "rng" in ck:
        set_rng_state(tuple(ck["rng"]["lamina"]))
    return ck
