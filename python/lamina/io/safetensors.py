"""The safetensors format (https://huggingface.co/docs/safetensors, "Format"), written and read
by our own code: no pickle, no dependency.

A file is: 8 bytes, the header's length N as a little-endian uint64; N bytes of UTF-8 JSON
(``{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}``, padded with spaces); then the byte buffer holding every tensor's
values, little-endian, C order, at ``[begin, end)`` relative to the buffer's start. We write
tensors in the Rust implementation's order (by descending dtype, then name) with the header
padded to 8 bytes: every tensor's data is aligned and our files are byte-identical to the
``safetensors`` package's.

Reading validates everything before trusting it: the header length against the file size, the
JSON (an object, no duplicate keys), each entry's keys, dtype, shape and offsets, that the byte
count matches dtype x shape, that the tensors neither overlap nor leave holes, and that the
buffer ends exactly where the file does (a truncated file fails here).

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
>>> save_file({"w": np.eye(2, dtype=np.float32)}, path, metadata={"format": "pt"})
>>> load_file(path)["w"].tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any, Mapping

import numpy as np

from ._atomic import atomic_write

__all__ = ["save_file", "load_file", "load_numpy", "read_header", "SafetensorsError", "DTYPES"]

# safetensors dtype name -> little-endian numpy dtype (BF16 and the FP8 types have none).
DTYPES = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"), "I16": np.dtype("<i2"), "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"), "I32": np.dtype("<i4"), "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"), "I64": np.dtype("<i8"), "F64": np.dtype("<f8"),
}
_ITEMSIZE = {**{k: v.itemsize for k, v in DTYPES.items()}, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
_BY_NUMPY = {v.newbyteorder("="): k for k, v in DTYPES.items()}
_LAMINA = {"float32": "F32", "float64": "F64", "int64": "I64", "bool": "BOOL", "float16": "F16", "bfloat16": "BF16"}
# The Rust implementation's Dtype enum order; it writes tensors by descending dtype, then by name.
_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
          "I64", "U64"]
_MAX_HEADER = 100_000_000  # bytes, the limit the Rust implementation enforces


class SafetensorsError(ValueError):
    """A file that is not valid safetensors (truncated, corrupt, or not safetensors at all)."""


def _host_array(name: str, value: Any) -> tuple[str, np.ndarray]:
    """(safetensors dtype, C-contiguous native array) of a lamina tensor or numpy array."""
    from ..tensor import Tensor

    if isinstance(value, Tensor):
        t = value.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype.name not in ("float32", "float64", "int64", "bool"):
            raise TypeError(f"lamina.io.save_file: tensor {name!r} has dtype {t.dtype}, which can't be saved "
                            "from the host yet; convert it with .float()")
        a = np.asarray(t.numpy(), order="C")
        return _LAMINA[t.dtype.name], a
    if isinstance(value, np.ndarray) or np.isscalar(value):
        a = np.asarray(value, order="C")
        key = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
        if key not in _BY_NUMPY:
            raise TypeError(f"lamina.io.save_file: array {name!r} has dtype {a.dtype}, which safetensors "
                            f"can't hold (supported: {', '.join(str(d) for d in _BY_NUMPY)})")
        return _BY_NUMPY[key], a
    if hasattr(value, "__dlpack__") or hasattr(value, "__array__"):  # torch tensors and the like
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return _host_array(name, np.asarray(value))
    raise TypeError(f"lamina.io.save_file: value of {name!r} must be a lamina.Tensor or numpy array, "
                    f"got {type(value).__name__}")


def _serialize_header(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None):
    if not isinstance(tensors, Mapping):
        raise TypeError(f"lamina.io.save_file: tensors must be a dict of name -> tensor, got {type(tensors).__name__}")
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"lamina.io.save_file: tensor names must be strings, got {name!r}")
        if name == "__metadata__":
            raise ValueError("lamina.io.save_file: '__metadata__' is reserved and can't name a tensor")
        dt, a = _host_array(name, value)
        entries.append((name, dt, a))
    # Descending dtype (so by descending alignment), then by name: the Rust implementation's
    # order, so our files are byte-identical to the safetensors package's and the data is aligned.
    entries.sort(key=lambda e: (-_ORDER.index(e[1]), e[0]))
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in metadata.items()):
            raise TypeError("lamina.io.save_file: metadata must be a dict of str -> str, got "
                            f"{metadata!r:.200}")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dt, a in entries:
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)
    return struct.pack("<Q", len(raw)) + raw, entries


def _write(f, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None) -> tuple[int, str]:
    """Writes the file to the open binary file ``f``; returns (bytes written, SHA-256 hex)."""
    head, entries = _serialize_header(tensors, metadata)
    h = hashlib.sha256(head)
    f.write(head)
    size = len(head)
    for _, dt, a in entries:
        le = a.astype(DTYPES[dt], copy=False) if dt in DTYPES else a
        if le.nbytes:
            buf = memoryview(np.asarray(le, order="C").reshape(-1)).cast("B")
            h.update(buf)
            f.write(buf)
            size += le.nbytes
    return size, h.hexdigest()


def save_file(tensors: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Writes ``tensors`` (name -> lamina tensor or numpy array) to ``path`` as safetensors,
    atomically (temporary file, fsync, rename, fsync of the directory)."""
    with atomic_write(path) as f:
        _write(f, tensors, metadata)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise SafetensorsError(f"duplicate key {k!r} in the header")
        out[k] = v
    return out


def _parse_header(path: str, f, file_size: int) -> tuple[dict, dict, int]:
    """(entries name -> (dtype, shape, begin, end), metadata, buffer start)."""
    def bad(msg):
        return SafetensorsError(f"lamina.io.load_file: {path}: {msg}")

    first = f.read(8)
    if len(first) < 8:
        raise bad(f"file of {file_size} bytes is too short for the 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", first)
    if n > _MAX_HEADER:
        raise bad(f"header length {n} exceeds the {_MAX_HEADER}-byte limit (not a safetensors file?)")
    if 8 + n > file_size:
        raise bad(f"header length {n} runs past the end of the {file_size}-byte file (truncated?)")
    raw = f.read(n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"header is not UTF-8 ({e})") from None
    if not text.startswith("{"):
        raise bad("header does not start with '{' (not a safetensors file?)")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except SafetensorsError as e:
        raise bad(str(e)) from None
    except json.JSONDecodeError as e:
        raise bad(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ must be an object of string -> string")
    entries = {}
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"entry {name!r} must hold exactly dtype, shape and data_offsets, got {e!r:.200}")
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if dt not in _ITEMSIZE:
            raise bad(f"entry {name!r} has unknown dtype {dt!r}")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            raise bad(f"entry {name!r} has an invalid shape {shape!r} (a list of non-negative integers)")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int for o in offs)
                or not 0 <= offs[0] <= offs[1]):
            raise bad(f"entry {name!r} has invalid data_offsets {offs!r} (expected [begin, end], 0 <= begin <= end)")
        numel = 1
        for s in shape:
            numel *= s
        if offs[1] - offs[0] != numel * _ITEMSIZE[dt]:
            raise bad(f"entry {name!r}: data_offsets {offs} span {offs[1] - offs[0]} bytes, but shape {shape} "
                      f"of {dt} needs {numel * _ITEMSIZE[dt]}")
        entries[name] = (dt, tuple(shape), offs[0], offs[1])
    start = 8 + n
    buffer_size = file_size - start
    pos = 0
    for name, (_, _, b, e) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if b != pos:
            what = "overlaps the previous tensor" if b < pos else f"leaves a hole at byte {pos}"
            raise bad(f"entry {name!r} at data_offsets [{b}, {e}] {what}")
        pos = e
    if pos != buffer_size:
        if pos > buffer_size:
            raise bad(f"the tensors need {pos} bytes of data, the file holds {buffer_size} (truncated)")
        raise bad(f"the file holds {buffer_size - pos} bytes after the last tensor (corrupt)")
    return entries, metadata, start


def read_header(path: str | os.PathLike) -> tuple[dict, dict]:
    """(``{name: {"dtype", "shape", "data_offsets"}}``, metadata) of a validated file."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        entries, metadata, _ = _parse_header(path, f, os.fstat(f.fileno()).st_size)
    return ({k: {"dtype": d, "shape": list(s), "data_offsets": [b, e]} for k, (d, s, b, e) in entries.items()},
            metadata)


def _read(path: str | os.PathLike, with_metadata: bool = False):
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"lamina.io.load_file: no such file: {path}") from None
    with f:
        entries, metadata, start = _parse_header(path, f, os.fstat(f.fileno()).st_size)
        out = {}
        for name, (dt, shape, b, e) in sorted(entries.items(), key=lambda kv: kv[1][2]):
            if dt not in DTYPES:
                raise SafetensorsError(f"lamina.io.load_file: {path}: tensor {name!r} has dtype {dt}, which numpy "
                                       "and lamina's CPU tensors can't hold")
            a = np.empty(shape, dtype=DTYPES[dt])
            f.seek(start + b)
            if e > b and f.readinto(memoryview(a.reshape(-1)).cast("B")) != e - b:
                raise SafetensorsError(f"lamina.io.load_file: {path}: file ended inside tensor {name!r} (truncated)")
            out[name] = a.astype(a.dtype.newbyteorder("="), copy=False)
    return (out, metadata) if with_metadata else out


def load_numpy(path: str | os.PathLike, with_metadata: bool = False):
    """``{name: numpy array}`` of every tensor (all numpy dtypes); ``(dict, metadata)`` with
    ``with_metadata=True``."""
    return _read(path, with_metadata)


def load_file(path: str | os.PathLike, device: str = "cpu", with_metadata: bool = False):
    """``{name: lamina.Tensor}`` in the file's order of data. Lamina holds float32, float64, int64
    and bool; other dtypes raise ``TypeError`` (read those with ``load_numpy``)."""
    from ..tensor import from_numpy

    arrays, metadata = _read(path, with_metadata=True)
    out = {}
    for name, a in arrays.items():
        if a.dtype not in (np.float32, np.float64, np.int64, np.bool_):
            raise TypeError(f"lamina.io.load_file: tensor {name!r} in {os.fspath(path)} has dtype {a.dtype}; "
                            "lamina tensors hold float32, float64, int64 and bool (use lamina.io.load_numpy)")
        t = from_numpy(a)
        out[name] = t if device == "cpu" else t.to(device)
    return (out, metadata) if with_metadata else out
