"""The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS").

A file is: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions (one byte), each dimension as a big-endian
uint32, then the values, big-endian, in C order. Files may be gzipped (detected by the gzip magic,
not by the name); gzip's CRC catches corrupt payloads, and the reader checks that the payload has
exactly the size the header announces.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte.gz")
>>> write_idx(path, np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
>>> read_idx(path).shape
(2, 3, 4)
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "IDX_DTYPES"]

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(v).newbyteorder("=") if v.itemsize > 1 else v: k for k, v in IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"lamina.datasets.read_idx: no such file: {path}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"lamina.datasets.read_idx: {path} is a truncated or corrupt gzip file ({e}); "
                             "delete it and fetch it again") from None
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (gzipped or not) into a native-endian numpy array.

    Raises ``ValueError`` naming the file when the magic, type code or dimensions are invalid or
    the payload is shorter or longer than the header announces (a truncated or corrupt file)."""
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"lamina.datasets.read_idx: {path} is too short to be an IDX file "
                         f"({len(raw)} bytes; the header alone is at least 4)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"lamina.datasets.read_idx: {path} is not an IDX file (magic starts with "
                         f"{raw[:2].hex()}, expected 0000)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"lamina.datasets.read_idx: {path} has unknown IDX type code 0x{code:02x} "
                         f"(known: {', '.join(f'0x{c:02x}' for c in IDX_DTYPES)})")
    if ndim == 0:
        raise ValueError(f"lamina.datasets.read_idx: {path} declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"lamina.datasets.read_idx: {path} is truncated inside its header "
                         f"({len(raw)} bytes, the header of {ndim} dimensions needs {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dt = IDX_DTYPES[code]
    expected = dt.itemsize
    for d in shape:  # Python ints: no overflow on a corrupt header
        expected *= d
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says (corrupt)"
        raise ValueError(f"lamina.datasets.read_idx: {path} is {what}: shape {shape} of {dt.name} needs "
                         f"{expected} bytes of data, the file holds {got}")
    arr = np.frombuffer(raw, dtype=dt, offset=header).reshape(shape)
    return arr.astype(dt.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes ``array`` (uint8, int8, int16, int32, float32 or float64) as an IDX file, gzipped
    when ``path`` ends in ``.gz``. The file appears atomically (temporary file, then rename)."""
    from ..io._atomic import atomic_write

    path = os.fspath(path)
    a = np.asarray(array)
    key = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
    if key not in _CODES:
        raise TypeError(f"lamina.datasets.write_idx: dtype {a.dtype} has no IDX type code "
                        "(uint8, int8, int16, int32, float32, float64)")
    if a.ndim == 0 or a.ndim > 255:
        raise ValueError(f"lamina.datasets.write_idx: IDX holds 1 to 255 dimensions, got {a.ndim}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"lamina.datasets.write_idx: dimensions must fit in uint32, got {a.shape}")
    code = _CODES[key]
    body = (bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
            + np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes())
    if path.endswith(".gz"):
        body = gzip.compress(body, mtime=0)
    with atomic_write(path) as f:
        f.write(body)
