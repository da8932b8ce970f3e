"""Batch augmentation for image classifiers: random shifts (pad and crop) and horizontal flips,
applied to each batch a loader yields, from a seeded generator whose state is saved with the
checkpoint (so a resumed run sees the same augmented batches).

>>> import numpy as np
>>> from lamina.data import DataLoader, TensorDataset
>>> from lamina.train.augment import Augmented, RandomCropFlip
>>> ds = TensorDataset(np.zeros((8, 1, 28, 28), np.float32), np.arange(8))
>>> loader = Augmented(DataLoader(ds, batch_size=4), RandomCropFlip(padding=2, flip=True, seed=0))
>>> [tuple(x.shape) for x, y in loader]
[(4, 1, 28, 28), (4, 1, 28, 28)]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, from_numpy

__all__ = ["Augmented", "RandomCropFlip"]


class RandomCropFlip:
    """``(x, y) -> (x', y)`` for image batches ``x`` of shape ``(N, C, H, W)``: each image is
    zero-padded by ``padding`` and cropped back to ``H x W`` at a random offset, and mirrored
    left-right with probability 1/2 when ``flip`` (right for clothes, wrong for digits)."""

    def __init__(self, padding: int = 2, flip: bool = False, seed: int = 0) -> None:
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"lamina.train.RandomCropFlip: padding must be a non-negative integer, got {padding!r}")
        self.padding = padding
        self.flip = flip
        self.generator = np.random.default_rng(seed)

    def __call__(self, x, y):
        a = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        if a.ndim != 4:
            raise ValueError(f"lamina.train.RandomCropFlip: expected images (N, C, H, W), got shape {a.shape}")
        n, _, h, w = a.shape
        p = self.padding
        g = self.generator
        out = np.empty_like(a)
        if p:
            padded = np.pad(a, ((0, 0), (0, 0), (p, p), (p, p)))
            oy = g.integers(0, 2 * p + 1, n)
            ox = g.integers(0, 2 * p + 1, n)
            for i in range(n):
                out[i] = padded[i, :, oy[i]:oy[i] + h, ox[i]:ox[i] + w]
        else:
            out[...] = a
        if self.flip:
            m = g.random(n) < 0.5
            out[m] = out[m, :, :, ::-1]
        return from_numpy(out), y

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.bit_generator.state = state["generator"]


class Augmented:
    """A loader whose batches go through ``transform(x, y) -> (x, y)``; ``len``, ``state_dict``
    and ``load_state_dict`` cover both the loader and the transform."""

    def __init__(self, loader, transform) -> None:
        self.loader = loader
        self.transform = transform

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        t = self.transform
        for batch in self.loader:
            x, y = batch[0], batch[1]
            yield t(x, y)

    def state_dict(self) -> dict[str, Any]:
        s: dict[str, Any] = {}
        if hasattr(self.loader, "state_dict"):
            s["loader"] = self.loader.state_dict()
        if hasattr(self.transform, "state_dict"):
            s["transform"] = self.transform.state_dict()
        return s

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "loader" in state:
            self.loader.load_state_dict(state["loader"])
        if "transform" in state:
            self.transform.load_state_dict(state["transform"])
