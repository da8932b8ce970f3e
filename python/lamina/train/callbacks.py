"""Callbacks: code the Trainer calls at fixed points of a run.

Each hook receives the trainer and a dict of logs: ``on_train_begin``, ``on_epoch_begin``
(``{"epoch": e}``), ``on_batch_end`` (``{"epoch", "step", "loss", "size"}``), ``on_epoch_end``
(the epoch's record: ``loss``, metrics, ``val_*``, ``lr``, ``time``, ``samples_per_s``) and
``on_train_end``. Setting ``trainer.stop_training = True`` ends the run after the epoch.

>>> from lamina.train import CSVLogger, EarlyStopping, ModelCheckpoint
>>> cbs = [EarlyStopping(monitor="val_loss", patience=3), ModelCheckpoint("runs/a"), CSVLogger("runs/a/log.csv")]
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from typing import Any

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "LearningRateMonitor", "ModelCheckpoint"]


class Callback:
    """Base class; every hook does nothing. ``state_dict``/``load_state_dict`` carry what a
    callback needs to continue after ``fit(..., resume=...)``."""

    def on_train_begin(self, trainer, logs: dict[str, Any]) -> None: pass
    def on_epoch_begin(self, trainer, logs: dict[str, Any]) -> None: pass
    def on_batch_end(self, trainer, logs: dict[str, Any]) -> None: pass
    def on_epoch_end(self, trainer, logs: dict[str, Any]) -> None: pass
    def on_train_end(self, trainer, logs: dict[str, Any]) -> None: pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _mode(monitor: str, mode: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"lamina.train.{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.startswith(("top", "val_top"))) else "min"
    return mode


def _lookup(logs: dict, monitor: str, who: str, warned: list) -> tuple[str, float]:
    """The monitored value; ``val_X`` falls back to ``X`` (with one warning) when there is no
    validation loader."""
    if monitor in logs:
        return monitor, float(logs[monitor])
    if monitor.startswith("val_") and monitor[4:] in logs:
        if not warned:
            warnings.warn(f"lamina.train.{who}: {monitor!r} is not available (no val_loader); monitoring "
                          f"{monitor[4:]!r} instead", stacklevel=3)
            warned.append(True)
        return monitor[4:], float(logs[monitor[4:]])
    keys = ", ".join(k for k in logs if k != "epoch")
    raise KeyError(f"lamina.train.{who}: monitor {monitor!r} is not in the epoch's logs (available: {keys})")


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs in a row (the run ends after epoch ``best_epoch + patience``).
    ``restore_best_weights`` loads the best epoch's weights back at the end of the run."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False, verbose: int = 0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"lamina.train.EarlyStopping: patience must be a non-negative integer, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"lamina.train.EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = _mode(monitor, mode, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.verbose = verbose
        self._warned: list = []
        self.best_weights = None
        self.reset()

    def reset(self) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.stopped_epoch = 0

    def on_train_begin(self, trainer, logs) -> None:
        if trainer.resumed_from is None:
            self.reset()
            self.best_weights = None

    def _improved(self, v: float) -> bool:
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_epoch_end(self, trainer, logs) -> None:
        _, v = _lookup(logs, self.monitor, "EarlyStopping", self._warned)
        if self._improved(v):
            self.best, self.best_epoch, self.wait = v, int(logs["epoch"]), 0
            if self.restore_best_weights:
                self.best_weights = {k: t.detach().clone() for k, t in trainer.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = int(logs["epoch"])
            trainer.stop_training = True
            if self.verbose:
                print(f"early stopping after epoch {self.stopped_epoch}: {self.monitor} has not improved for "
                      f"{self.wait} epochs (best {self.best:.4f} at epoch {self.best_epoch})")

    def on_train_end(self, trainer, logs) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait = int(state["wait"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.stopped_epoch = int(state["stopped_epoch"])


class ModelCheckpoint(Callback):
    """Writes checkpoints through ``lamina.io.save_checkpoint`` (atomic: a crash midway leaves
    the previous checkpoint loadable), each one enough to resume the run (``fit(..., resume=path)``).

    With ``dirpath``: ``dirpath/best.ckpt`` when ``monitor`` improves (every epoch if
    ``save_best_only=False``) and ``dirpath/last.ckpt`` after every epoch
    (``save_last``). ``filepath`` instead names the best/each-epoch file and may hold fields
    of the logs (``"ckpt/e{epoch:02d}-{val_loss:.3f}.ckpt"``). A checkpoint is a JSON file (config,
    optimizer, scheduler, trainer and RNG state) naming the ``.safetensors`` file of its tensors
    next to it."""

    def __init__(self, dirpath: str | None = None, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = True, save_last: bool = True, filepath: str | None = None,
                 verbose: int = 0) -> None:
        if dirpath is None and filepath is None:
            raise ValueError("lamina.train.ModelCheckpoint: give dirpath (a directory) or filepath")
        self.dirpath = os.fspath(dirpath) if dirpath is not None else os.path.dirname(os.fspath(filepath)) or "."
        self.filepath = os.fspath(filepath) if filepath is not None else os.path.join(self.dirpath,
                                                                                      "best.ckpt")
        self.monitor = monitor
        self.mode = _mode(monitor, mode, "ModelCheckpoint")
        self.save_best_only = save_best_only
        self.save_last = save_last
        self.verbose = verbose
        self._warned: list = []
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_model_path: str | None = None
        self.last_model_path: str | None = None
        self.last_good_path: str | None = None

    @property
    def last_path(self) -> str:
        return os.path.join(self.dirpath, "last.ckpt")

    def on_train_begin(self, trainer, logs) -> None:
        os.makedirs(self.dirpath, exist_ok=True)
        if trainer.resumed_from is None:
            self.best = math.inf if self.mode == "min" else -math.inf
        elif self.last_good_path is None:
            self.last_good_path = trainer.resumed_from

    def on_epoch_end(self, trainer, logs) -> None:
        _, v = _lookup(logs, self.monitor, "ModelCheckpoint", self._warned)
        improved = v < self.best if self.mode == "min" else v > self.best
        if improved:
            self.best = v
        if improved or not self.save_best_only:
            path = self.filepath.format(**logs)
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            trainer.save_checkpoint(path)
            if improved:
                self.best_model_path = path
            self.last_good_path = path
            if self.verbose:
                print(f"saved {path} ({self.monitor} {v:.4f})")
        if self.save_last:
            trainer.save_checkpoint(self.last_path)
            self.last_model_path = self.last_path
            self.last_good_path = self.last_path

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_model_path": self.best_model_path}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_model_path = state.get("best_model_path")


class CSVLogger(Callback):
    """One CSV row per epoch (``epoch, loss, accuracy, val_loss, ..., lr, time, samples_per_s``),
    flushed after each epoch. ``append=None`` appends when the run resumes (rewriting the rows of
    the restored history first, so the file matches it) and starts a new file otherwise."""

    def __init__(self, path: str, separator: str = ",", append: bool | None = None) -> None:
        self.path = os.fspath(path)
        self.separator = separator
        self.append = append
        self.columns: list[str] | None = None

    def on_train_begin(self, trainer, logs) -> None:
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        resumed = trainer.resumed_from is not None
        append = resumed if self.append is None else self.append
        if append and resumed and trainer.history.epochs:
            self.columns = list(trainer.history.keys())
            with open(self.path, "w", newline="") as f:
                w = csv.writer(f, delimiter=self.separator)
                w.writerow(self.columns)
                for i in range(trainer.history.epochs):
                    w.writerow([trainer.history[c][i] for c in self.columns])
        elif append and os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as f:
                self.columns = next(csv.reader(f, delimiter=self.separator), None)
        else:
            self.columns = None
            open(self.path, "w").close()

    def on_epoch_end(self, trainer, logs) -> None:
        if self.columns is None:
            self.columns = list(logs.keys())
            with open(self.path, "w", newline="") as f:
                csv.writer(f, delimiter=self.separator).writerow(self.columns)
        with open(self.path, "a", newline="") as f:
            csv.writer(f, delimiter=self.separator).writerow([logs.get(c, "") for c in self.columns])


class LearningRateMonitor(Callback):
    """Records the learning rate of every param group, per epoch (``logging_interval="epoch"``)
    or per optimizer step (``"step"``), in ``self.lrs`` (a list of ``(step or epoch, [lr, ...])``)."""

    def __init__(self, logging_interval: str = "epoch") -> None:
        if logging_interval not in ("epoch", "step"):
            raise ValueError("lamina.train.LearningRateMonitor: logging_interval must be 'epoch' or 'step', got "
                             f"{logging_interval!r}")
        self.logging_interval = logging_interval
        self.lrs: list[tuple[int, list[float]]] = []

    @staticmethod
    def _rates(trainer) -> list[float]:
        out = []
        for g in trainer.optimizer.param_groups:
            lr = g["lr"]
            out.append(float(lr.item() if hasattr(lr, "item") else lr))
        return out

    def on_train_begin(self, trainer, logs) -> None:
        if trainer.resumed_from is None:
            self.lrs = []

    def on_epoch_begin(self, trainer, logs) -> None:
        if self.logging_interval == "epoch":
            self.lrs.append((int(logs["epoch"]), self._rates(trainer)))

    def on_batch_end(self, trainer, logs) -> None:
        if self.logging_interval == "step":
            self.lrs.append((trainer.global_step, self._rates(trainer)))
