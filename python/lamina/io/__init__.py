"""``lamina.io``: files users keep. Weights as safetensors (our own reader and writer of the
documented format), checkpoints as safetensors plus a JSON sidecar; every write is atomic and
nothing is ever unpickled.

>>> import lamina, tempfile, os
>>> from lamina import nn
>>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
>>> lamina.io.save(nn.Linear(3, 2).state_dict(), path)
>>> sorted(lamina.io.load(path))
['bias', 'weight']
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from ._atomic import atomic_write
from .checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from .safetensors import SafetensorsError, load_file, load_numpy, read_header, save_file

__all__ = ["save", "load", "save_file", "load_file", "load_numpy", "read_header", "SafetensorsError",
           "save_checkpoint", "load_checkpoint", "read_checkpoint", "CheckpointError", "atomic_write"]


def save(state_dict: Mapping[str, Any], path: str | os.PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Saves a state dict (name -> tensor, e.g. ``model.state_dict()``) as a safetensors file,
    atomically. Load it with ``lamina.io.load`` or any safetensors reader."""
    if hasattr(state_dict, "state_dict") and not isinstance(state_dict, Mapping):
        raise TypeError("lamina.io.save: pass model.state_dict(), not the module itself")
    save_file(state_dict, path, metadata=metadata)


def load(path: str | os.PathLike, device: str = "cpu") -> dict:
    """``{name: lamina.Tensor}`` from a safetensors file (feed it to ``model.load_state_dict``)."""
    return load_file(path, device=device)
