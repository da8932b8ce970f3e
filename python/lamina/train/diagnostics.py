"""Training diagnostics: ``GradientFlow``, the callback that shows vanishing gradients.

For every ``Linear`` and ``Conv2d`` layer of the model (in the order ``model.named_modules()``
lists them, named by their module path), ``GradientFlow`` records per epoch:

- ``grad_norm``: the mean, over the epoch's training batches, of the L2 (Frobenius) norm of the
  layer's weight gradient, read after the batch's backward pass (in ``on_batch_end``: the Trainer
  zeroes gradients only before the next backward, so ``.grad`` still holds this batch's gradient,
  after ``grad_clip`` when the Trainer clips);
- ``act_norm``: the mean, over training batches, of the mean per-sample L2 norm of the layer's
  output (a forward hook; evaluation passes, which run without gradients, are not counted);
- ``act_std``: the mean, over training batches, of the standard deviation of all the output's
  elements.

In a deep sigmoid net with a small initialisation the first layers' gradients are orders of
magnitude smaller than the last layer's (``first_last_ratio() << 1``): the vanishing gradient
that kept backpropagation from training deep nets before 2006. ``plot(path)`` draws it.

>>> import numpy as np, lamina
>>> from lamina import nn
>>> from lamina.train import GradientFlow, Trainer
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((64, 4)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(np.int64)
>>> batches = [(lamina.from_numpy(x[i:i + 16]), lamina.from_numpy(y[i:i + 16])) for i in range(0, 64, 16)]
>>> lamina.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 2))
>>> flow = GradientFlow()
>>> _ = Trainer(progress=False, verbose=0).fit(model, batches, epochs=2, callbacks=[flow])
>>> flow.history["layers"], len(flow.history["grad_norm"])
(['0', '2'], 2)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..autograd.grad_mode import is_grad_enabled
from ..nn.modules.conv import Conv2d
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from .callbacks import Callback

__all__ = ["GradientFlow"]

_KEYS = ("grad_norm", "act_norm", "act_std")


def _host(t) -> np.ndarray:
    return t.detach().numpy(force=True)


class GradientFlow(Callback):
    """Per-layer gradient and activation norms, per epoch (see the module's docstring).

    ``layer_types``: the module classes watched (default ``(Linear, Conv2d)``).
    ``activations``: also record the outputs' norms and spreads (forward hooks; a little slower).

    ``history`` is a JSON-able dict: ``layers`` (module paths), ``epoch`` (1-based epoch numbers)
    and ``grad_norm``, ``act_norm``, ``act_std``: one list per epoch with one value per layer.
    It goes into the Trainer's checkpoints (``state_dict``), so a resumed run continues it.
    """

    def __init__(self, layer_types: Sequence[type] | None = None, activations: bool = True) -> None:
        types = tuple(layer_types) if layer_types is not None else (Linear, Conv2d)
        if not types or not all(isinstance(t, type) and issubclass(t, Module) for t in types):
            raise TypeError(f"lamina.train.GradientFlow: layer_types must be lamina.nn.Module subclasses, got "
                            f"{layer_types!r}")
        self.layer_types = types
        self.activations = bool(activations)
        self.history: dict[str, list] = {}
        self._layers: list[tuple[str, Module]] = []
        self._handles: list = []
        self.reset()

    # ------------------------------------------------------------------ bookkeeping
    def reset(self) -> None:
        """Forgets every recorded epoch."""
        self.history = {"layers": [], "epoch": [], "grad_norm": [], "act_norm": [], "act_std": []}
        self._clear_epoch()

    def _clear_epoch(self) -> None:
        n = len(self._layers)
        self._grad_sum = [0.0] * n
        self._grad_count = [0] * n
        self._act_norm_sum = [0.0] * n
        self._act_std_sum = [0.0] * n
        self._act_count = [0] * n

    def attach(self, model: Module) -> None:
        """Finds the watched layers of ``model`` and installs the forward hooks (the Trainer calls
        this at the start of ``fit``; call it yourself to use the callback in your own loop, with
        ``on_epoch_begin``/``on_batch_end``/``on_epoch_end``)."""
        if not isinstance(model, Module):
            raise TypeError(f"lamina.train.GradientFlow: model must be a lamina.nn.Module, got {type(model).__name__}")
        self.detach()
        self._layers = [(name or type(m).__name__, m) for name, m in model.named_modules()
                        if isinstance(m, self.layer_types)]
        if not self._layers:
            names = ", ".join(t.__name__ for t in self.layer_types)
            raise ValueError(f"lamina.train.GradientFlow: the model has no {names} layer to watch")
        names = [n for n, _ in self._layers]
        if self.history["layers"] and self.history["layers"] != names:
            raise ValueError(f"lamina.train.GradientFlow: the recorded history is for layers {self.history['layers']}, "
                             f"but the model has {names}")
        self.history["layers"] = names
        if self.activations:
            for i, (_, m) in enumerate(self._layers):
                self._handles.append(m.register_forward_hook(self._make_hook(i)))
        self._clear_epoch()

    def detach(self) -> None:
        """Removes the forward hooks."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def _make_hook(self, i: int):
        def hook(module, args, output) -> None:
            if not is_grad_enabled() or not module.training:
                return  # evaluation passes are not counted
            a = _host(output)
            n = a.shape[0] if a.ndim > 1 else 1
            flat = a.reshape(n, -1).astype(np.float64)
            self._act_norm_sum[i] += float(np.sqrt((flat * flat).sum(axis=1)).mean())
            self._act_std_sum[i] += float(flat.std())
            self._act_count[i] += 1
        return hook

    # ------------------------------------------------------------------ Trainer hooks
    def on_train_begin(self, trainer, logs: dict[str, Any]) -> None:
        if trainer.resumed_from is None:
            self.reset()
        self.attach(trainer.model)

    def on_epoch_begin(self, trainer, logs: dict[str, Any]) -> None:
        self._clear_epoch()

    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None:
        for i, (_, m) in enumerate(self._layers):
            g = m.weight.grad
            if g is None:
                continue
            a = _host(g).astype(np.float64)
            self._grad_sum[i] += float(np.sqrt((a * a).sum()))
            self._grad_count[i] += 1

    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None:
        def mean(s, c):
            return [x / k if k else float("nan") for x, k in zip(s, c)]

        self.history["epoch"].append(int(logs.get("epoch", len(self.history["epoch"]) + 1)))
        self.history["grad_norm"].append(mean(self._grad_sum, self._grad_count))
        self.history["act_norm"].append(mean(self._act_norm_sum, self._act_count))
        self.history["act_std"].append(mean(self._act_std_sum, self._act_count))
        self._clear_epoch()

    def on_train_end(self, trainer, logs: dict[str, Any]) -> None:
        self.detach()

    # ------------------------------------------------------------------ results
    def first_last_ratio(self, epoch: int = -1) -> float:
        """First-layer / last-layer mean gradient norm in ``epoch`` (an index into the recorded
        epochs; default the last). Far below 1: the gradient vanishes on its way down."""
        g = self.history["grad_norm"]
        if not g:
            raise ValueError("lamina.train.GradientFlow.first_last_ratio: no epoch has been recorded yet")
        try:
            row = g[epoch]
        except (IndexError, TypeError):
            raise IndexError(f"lamina.train.GradientFlow.first_last_ratio: epoch index {epoch!r} is out of range "
                             f"for {len(g)} recorded epochs") from None
        first, last = row[0], row[-1]
        if not (math.isfinite(first) and math.isfinite(last)) or last == 0:
            return float("nan")
        return first / last

    def plot(self, path: str, title: str | None = None) -> bool:
        """Writes gradient norm against layer depth, one line per epoch, log y, to ``path`` (PNG)
        with ``lamina.viz.plot_lines``. Returns False (with a note) without matplotlib."""
        from .. import viz

        g = self.history["grad_norm"]
        if not g:
            raise ValueError("lamina.train.GradientFlow.plot: no epoch has been recorded yet")
        depth = list(range(1, len(self.history["layers"]) + 1))
        series = {f"epoch {e}": (depth, row) for e, row in zip(self.history["epoch"], g)}
        return viz.plot_lines(path, series, title=title or "gradient norm per layer",
                              xlabel="layer (1 = input side)", ylabel="mean weight-gradient norm", logy=True)

    def state_dict(self) -> dict[str, Any]:
        return {k: [list(r) if isinstance(r, list) else r for r in v] for k, v in self.history.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        h = {"layers": [], "epoch": [], "grad_norm": [], "act_norm": [], "act_std": []}
        for k in h:
            h[k] = [list(r) if isinstance(r, list) else r for r in state.get(k, [])]
        h["epoch"] = [int(e) for e in h["epoch"]]
        self.history = h
