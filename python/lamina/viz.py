"""Pictures for studies and models: image grids as PNG (no dependencies) and line plots
(matplotlib, when installed).

>>> from lamina.viz import save_image_grid
>>> save_image_grid("filters.png", model[0].weight.numpy().reshape(-1, 28, 28), normalize="each")

Both write to a temporary file and rename it into place, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["image_grid", "plot_lines", "save_image_grid", "write_png"]


def _atomic_write(path: str, data: bytes) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _png_bytes(pixels: np.ndarray) -> bytes:
    """PNG of uint8 pixels shaped (H, W) (grey) or (H, W, 3) (RGB)."""
    if pixels.ndim == 2:
        colour, channels = 0, 1
    else:
        colour, channels = 2, 3
    h, w = pixels.shape[:2]
    rows = pixels.reshape(h, w * channels)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_png(path: str, pixels) -> None:
    """Write ``pixels`` (uint8, or floats in [0, 1]; shaped (H, W) or (H, W, 3)) as a PNG."""
    a = np.asarray(pixels)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or a.size == 0:
        raise ValueError(f"lamina.viz.write_png: pixels must be (H, W) or (H, W, 3) and non-empty, got shape "
                         f"{tuple(a.shape)}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number):
            raise TypeError(f"lamina.viz.write_png: pixels must be numbers, got dtype {a.dtype}")
        a = np.clip(np.nan_to_num(a.astype(np.float64), nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    _atomic_write(path, _png_bytes(np.ascontiguousarray(a)))


def _as_images(images) -> np.ndarray:
    if hasattr(images, "numpy") and not isinstance(images, np.ndarray):
        images = images.detach().numpy() if hasattr(images, "detach") else images.numpy()
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    elif a.ndim == 4 and a.shape[1] == 3:
        a = a.transpose(0, 2, 3, 1)
    elif a.ndim != 3:
        raise ValueError("lamina.viz.save_image_grid: images must be (N, H, W), (N, 1, H, W) or (N, 3, H, W), "
                         f"got shape {tuple(a.shape)}")
    if a.shape[0] == 0:
        raise ValueError("lamina.viz.save_image_grid: images is empty")
    return a


def _normalize(a: np.ndarray, normalize) -> np.ndarray:
    if normalize is None:
        return np.clip(a, 0.0, 1.0)
    if normalize == "all":
        lo, hi = np.nanmin(a), np.nanmax(a)
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if normalize == "each":
        axes = tuple(range(1, a.ndim))
        lo = np.nanmin(a, axis=axes, keepdims=True)
        hi = np.nanmax(a, axis=axes, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return np.where(hi > lo, (a - lo) / span, 0.0)
    raise ValueError(f"lamina.viz.save_image_grid: normalize must be 'each', 'all' or None, got {normalize!r}")


def image_grid(images, nrow: int | None = None, padding: int = 1, normalize: str | None = "each",
               scale: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile images into one array (float in [0, 1]): ``nrow`` images per row (default about
    sqrt(N)), ``padding`` pixels between them, each pixel repeated ``scale`` times."""
    a = _normalize(_as_images(images), normalize)
    n = a.shape[0]
    for name, v, least in (("padding", padding, 0), ("scale", scale, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < least:
            raise ValueError(f"lamina.viz.save_image_grid: {name} must be an integer >= {least}, got {v!r}")
    if nrow is None:
        nrow = int(np.ceil(np.sqrt(n)))
    if not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"lamina.viz.save_image_grid: nrow must be a positive integer, got {nrow!r}")
    if scale > 1:
        a = a.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = a.shape[1], a.shape[2]
    cols = min(nrow, n)
    rows = (n + cols - 1) // cols
    shape = (rows * (h + padding) + padding, cols * (w + padding) + padding) + a.shape[3:]
    grid = np.full(shape, pad_value, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y:y + h, x:x + w] = a[i]
    return grid


def save_image_grid(path: str, images, nrow: int | None = None, padding: int = 1,
                    normalize: str | None = "each", scale: int = 1, pad_value: float = 1.0) -> str:
    """Write ``images`` ((N, H, W), (N, 1, H, W) or (N, 3, H, W); numpy or Tensor) as one PNG
    grid. ``normalize``: "each" stretches every image to [0, 1] on its own (filters, weights),
    "all" uses one range for all, None clips to [0, 1] (pixels). Returns ``path``."""
    write_png(path, image_grid(images, nrow, padding, normalize, scale, pad_value))
    return path


def plot_lines(path: str, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str = "",
               xlabel: str = "", ylabel: str = "", logy: bool = False, logx: bool = False) -> bool:
    """Draw one line per entry of ``series`` (label -> (xs, ys)) into a PNG at ``path``.
    Returns False, with a one-line note, when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print(f"note: {os.path.basename(path)} skipped: matplotlib is not installed "
              "(pip install 'lamina[plot]')")
        return False
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for label, (xs, ys) in series.items():
        ax.plot(list(xs), list(ys), marker="o", markersize=3, label=str(label))
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}.png"
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return True
