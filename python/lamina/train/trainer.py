"""``lamina.train.Trainer``: the training loop, written once.

``fit`` runs epochs of forward, loss, backward, (clip), step, (schedule) over a loader, tracks
the loss and metrics, validates, calls callbacks, guards against a non-finite loss, and returns
the per-epoch ``History``. ``evaluate`` and ``predict`` run a model over a loader without
gradients. A run checkpointed by ``ModelCheckpoint`` resumes with ``fit(..., resume=path)``:
model, optimizer, scheduler, epoch, history, callbacks, Lamina's RNG and the loader's shuffle
state come back, so on the CPU the resumed losses are bit-identical to an uninterrupted run.

>>> import numpy as np, lamina
>>> from lamina import nn
>>> from lamina.train import Trainer
>>> rng = np.random.default_rng(0)
>>> x = rng.standard_normal((256, 2)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(np.int64)
>>> batches = [(lamina.from_numpy(x[i:i + 32]), lamina.from_numpy(y[i:i + 32])) for i in range(0, 256, 32)]
>>> lamina.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
>>> opt = lamina.optim.SGD(model.parameters(), lr=0.5)
>>> hist = Trainer(progress=False, verbose=0).fit(model, batches, epochs=5, optimizer=opt)
>>> hist["accuracy"][-1] > 0.9
True
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..autograd.grad_mode import no_grad
from ..nn import functional as F
from ..nn.modules.module import Module
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor, cat
from .callbacks import Callback, ModelCheckpoint
from .metrics import Loss, Metric, get_metric

__all__ = ["History", "NonFiniteLossError", "Trainer"]


class NonFiniteLossError(RuntimeError):
    """The loss (or, after an epoch, a parameter) became NaN or infinite. ``epoch`` and ``step``
    are 1-based; ``checkpoint`` is the last good checkpoint written, or None."""

    def __init__(self, message: str, epoch: int, step: int, checkpoint: str | None = None) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.checkpoint = checkpoint


class History(dict):
    """Per-epoch records: a dict from a name (``epoch``, ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``lr``, ``time``, ``samples_per_s``, ...) to a list with one value per
    epoch. Plain JSON-able data."""

    @property
    def epochs(self) -> int:
        return len(self.get("epoch", []))

    def append(self, logs: dict[str, Any]) -> None:
        n = self.epochs
        for k, v in logs.items():
            if k not in self:
                self[k] = [float("nan")] * n
            self[k].append(v)
        for col in self.values():
            if len(col) < n + 1:
                col.append(float("nan"))

    def last(self) -> dict[str, Any]:
        """The last epoch's record."""
        return {k: v[-1] for k, v in self.items() if v}

    def plot(self, path: str) -> bool:
        """Writes the training curves (loss, the metrics, the learning rate; train and
        validation) to ``path`` (PNG). Returns False, with a one-line note, when matplotlib is
        not installed (``pip install 'lamina[plot]'``)."""
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            print(f"note: {os.path.basename(path)} skipped: matplotlib is not installed "
                  "(pip install 'lamina[plot]')")
            return False
        skip = {"epoch", "lr", "time", "samples_per_s"}
        base = [k for k in self if k not in skip and not k.startswith("val_")]
        panels = base + (["lr"] if "lr" in self else [])
        if not panels:
            return False
        fig = Figure(figsize=(4.2 * len(panels), 3.4))
        FigureCanvasAgg(fig)
        ep = self.get("epoch", list(range(1, self.epochs + 1)))
        for i, key in enumerate(panels):
            ax = fig.add_subplot(1, len(panels), i + 1)
            ax.plot(ep, self[key], marker="o", ms=3, label="train" if key != "lr" else "lr")
            if "val_" + key in self:
                ax.plot(ep, self["val_" + key], marker="o", ms=3, label="validation")
            if key == "lr":
                ax.set_yscale("log")
            ax.set_title(key)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        tmp = f"{path}.tmp{os.getpid()}"
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
        return True


def _loss_fn(loss) -> Callable:
    if loss is None:
        return F.cross_entropy
    if isinstance(loss, str):
        table = {"cross_entropy": F.cross_entropy, "mse": F.mse_loss, "mse_loss": F.mse_loss,
                 "l1": F.l1_loss, "l1_loss": F.l1_loss, "nll": F.nll_loss, "nll_loss": F.nll_loss,
                 "bce_with_logits": F.binary_cross_entropy_with_logits}
        if loss not in table:
            raise ValueError(f"lamina.train.Trainer: unknown loss {loss!r}; use one of {', '.join(table)} or a "
                             "callable (output, target) -> scalar Tensor")
        return table[loss]
    if not callable(loss):
        raise TypeError(f"lamina.train.Trainer: loss must be a callable or a name, got {type(loss).__name__}")
    return loss


def _metrics(specs) -> list[Metric]:
    if specs is None:
        return []
    if isinstance(specs, (str, Metric)):
        specs = (specs,)
    out = []
    for s in specs:
        m = get_metric(s)
        if m is not None:
            out.append(m)
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"lamina.train.Trainer: metrics given twice: {names}")
    return out


def _split(batch) -> tuple[Any, Any]:
    """(input, target) from a loader's batch: a tuple/list (extra items ignored) or a lone input."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        return batch[0], batch[1]
    return batch, None


def _is_tty() -> bool:
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _short(name: str) -> str:
    """Metric names as the progress bar shows them (``val_accuracy`` -> ``val_acc``)."""
    return name.replace("accuracy", "acc")


def _fmt(k: str, v: Any) -> str:
    if isinstance(v, float):
        if k == "lr":
            return f"{k} {v:.3g}"
        if k == "time":
            return f"{v:.1f}s"
        if k == "samples_per_s":
            return f"{v:,.0f} samples/s"
        return f"{k} {v:.4f}"
    return f"{k} {v}"


class Trainer:
    """Runs training, evaluation and prediction loops.

    ``device``: where the model and batches go (``"cpu"`` or ``"cuda"``). ``grad_clip``: clip the
    global gradient norm to this value (``lamina.nn.utils.clip_grad_norm_``). ``progress``: a tqdm
    bar per epoch (None: only when stdout is a terminal and ``CI`` is not set). ``log_every``: steps
    between bar postfix updates. ``verbose``: 0 silent; 1 one line per epoch when there is no bar.
    ``scheduler_interval``: ``"epoch"``, ``"step"`` or ``"auto"`` (OneCycleLR steps per batch,
    others per epoch; ReduceLROnPlateau gets the monitored value). ``config``: a JSON-able dict
    saved with every checkpoint (the CLI records the model and data there).
    """

    def __init__(self, device: str = "cpu", grad_clip: float | None = None, progress: bool | None = None,
                 log_every: int = 10, verbose: int = 1, scheduler_interval: str = "auto",
                 config: dict | None = None) -> None:
        if grad_clip is not None and not (grad_clip > 0):
            raise ValueError(f"lamina.train.Trainer: grad_clip must be positive or None, got {grad_clip!r}")
        if scheduler_interval not in ("auto", "epoch", "step"):
            raise ValueError("lamina.train.Trainer: scheduler_interval must be 'auto', 'epoch' or 'step', got "
                             f"{scheduler_interval!r}")
        if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
            raise ValueError(f"lamina.train.Trainer: log_every must be a positive integer, got {log_every!r}")
        self.device = str(device)
        self.grad_clip = grad_clip
        self.progress = progress
        self.log_every = log_every
        self.verbose = verbose
        self.scheduler_interval = scheduler_interval
        self.config = dict(config) if config else {}
        self.model: Module | None = None
        self.optimizer = None
        self.scheduler = None
        self.loss_fn: Callable = F.cross_entropy
        self.metric_specs: Sequence | None = ("accuracy",)
        self.train_loader = None
        self.callbacks: list[Callback] = []
        self.history = History()
        self.epoch = 0            # epochs completed
        self.epochs = 0
        self.global_step = 0
        self.stop_training = False
        self.resumed_from: str | None = None
        self._bar = None

    # ------------------------------------------------------------------ helpers
    def _show_bar(self) -> bool:
        if self.progress is not None:
            return bool(self.progress)
        return self.verbose > 0 and _is_tty() and not os.environ.get("CI")

    def _to_device(self, x):
        if self.device == "cpu" or x is None or not isinstance(x, Tensor):
            return x
        return x.to(self.device)

    def _step_per_batch(self) -> bool:
        if self.scheduler is None:
            return False
        if self.scheduler_interval != "auto":
            return self.scheduler_interval == "step"
        return type(self.scheduler).__name__ == "OneCycleLR"

    def _lr(self) -> float:
        if self.optimizer is None:
            return float("nan")
        lr = self.optimizer.param_groups[0]["lr"]
        return float(lr.item() if isinstance(lr, Tensor) else lr)

    def _checkpoint_path(self) -> str | None:
        for cb in self.callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.last_good_path:
                return cb.last_good_path
        return None

    def _non_finite(self, what: str, epoch: int, step: int) -> NonFiniteLossError:
        ck = self._checkpoint_path()
        where = f"epoch {epoch}, step {step} (global step {self.global_step + 1})"
        tail = (f"the last good checkpoint is kept at {ck}" if ck else
                "no checkpoint was written (add lamina.train.ModelCheckpoint to keep one)")
        msg = (f"lamina.train.Trainer: {what} at {where}; training stopped before this step's update; {tail}. "
               "Try a lower learning rate or grad_clip.")
        return NonFiniteLossError(msg, epoch, step, ck)

    # ------------------------------------------------------------------ checkpoints
    def state_extra(self) -> dict[str, Any]:
        """The trainer's own state for a checkpoint: epoch, step, history, callbacks, loader."""
        extra: dict[str, Any] = {"epoch": self.epoch, "global_step": self.global_step,
                                 "history": {k: list(v) for k, v in self.history.items()},
                                 "callbacks": [cb.state_dict() for cb in self.callbacks]}
        loader = self.train_loader
        if hasattr(loader, "state_dict"):
            extra["loader"] = loader.state_dict()
        collate = getattr(loader, "collate_fn", None)
        if collate is not None and hasattr(collate, "state_dict"):
            extra["collate"] = collate.state_dict()
        return extra

    def save_checkpoint(self, path: str) -> None:
        """Saves model, optimizer, scheduler, Lamina's RNG and the trainer's state (atomic)."""
        from .. import io

        io.save_checkpoint(path, self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                           extra={"trainer": self.state_extra()}, config=self.config or None)

    def _resume(self, path: str) -> None:
        from .. import io

        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"lamina.train.Trainer.fit: resume must be a checkpoint path, got {type(path).__name__}")
        extra = io.read_checkpoint(path).get("extra")
        st = extra.get("trainer") if isinstance(extra, dict) else None
        if st is None:
            raise ValueError(f"lamina.train.Trainer.fit: {path} holds no trainer state (it was not written by "
                             "lamina.train.ModelCheckpoint / Trainer.save_checkpoint); load its weights with "
                             "lamina.io.load_checkpoint instead")
        io.load_checkpoint(path, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                           restore_rng=True)
        self.epoch = int(st["epoch"])
        self.global_step = int(st["global_step"])
        self.history = History({k: list(v) for k, v in st["history"].items()})
        if "loader" in st and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(st["loader"])
        collate = getattr(self.train_loader, "collate_fn", None)
        if "collate" in st and hasattr(collate, "load_state_dict"):
            collate.load_state_dict(st["collate"])
        saved = st.get("callbacks", [])
        if len(saved) == len(self.callbacks):
            for cb, s in zip(self.callbacks, saved):
                cb.load_state_dict(s)
        self.resumed_from = str(path)

    # ------------------------------------------------------------------ fit
    def fit(self, model: Module, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 1,
            optimizer=None, loss=None, metrics: Sequence | None = ("accuracy",), scheduler=None,
            callbacks: Sequence[Callback] = (), resume: str | None = None) -> History:
        """Trains ``model`` for ``epochs`` epochs (in total: a resumed run continues up to it).

        ``optimizer`` defaults to Adam(lr=1e-3); ``loss`` to cross entropy (a callable
        ``(output, target) -> scalar`` or a name); ``metrics`` are names (``"accuracy"``,
        ``"top5"``) or Metric objects. Returns the History (also ``trainer.history``)."""
        if not isinstance(model, Module):
            raise TypeError(f"lamina.train.Trainer.fit: model must be a lamina.nn.Module, got {type(model).__name__}")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"lamina.train.Trainer.fit: epochs must be a non-negative integer, got {epochs!r}")
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"lamina.train.Trainer.fit: callbacks must be lamina.train.Callback objects, got "
                                f"{type(cb).__name__}")
        if self.device != "cpu":
            model.to(self.device)
        if optimizer is None:
            from ..optim import Adam

            optimizer = Adam(model.parameters(), lr=1e-3)
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.loss_fn = _loss_fn(loss)
        self.metric_specs = metrics
        self.train_loader = train_loader
        self.callbacks = list(callbacks)
        self.history = History()
        self.epoch = 0
        self.epochs = epochs
        self.global_step = 0
        self.stop_training = False
        self.resumed_from = None
        if resume is not None:
            self._resume(resume)
        train_metrics = _metrics(metrics)
        per_batch = self._step_per_batch()
        plateau = type(scheduler).__name__ == "ReduceLROnPlateau"
        batch_cbs = [cb for cb in self.callbacks if type(cb).on_batch_end is not Callback.on_batch_end]
        # Checkpoints run after the other callbacks so what they save includes their state.
        end_order = ([cb for cb in self.callbacks if not isinstance(cb, ModelCheckpoint)]
                     + [cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)])
        bar = self._show_bar()
        if bar:
            try:
                import tqdm  # noqa: F401
            except ImportError:  # a dependency, but keep training without it
                bar = False
        for cb in self.callbacks:
            cb.on_train_begin(self, {})
        try:
            self._run_epochs(epochs, val_loader, metrics, train_metrics, per_batch, plateau, batch_cbs, end_order,
                             bar)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        for cb in self.callbacks:
            cb.on_train_end(self, self.history.last())
        return self.history

    def _run_epochs(self, epochs, val_loader, metrics, train_metrics, per_batch, plateau, batch_cbs, end_order,
                    bar) -> None:
        model = self.model
        while self.epoch < epochs and not self.stop_training:
            e = self.epoch + 1
            for cb in self.callbacks:
                cb.on_epoch_begin(self, {"epoch": e})
            lr = self._lr()
            logs = self._train_epoch(e, train_metrics, per_batch, batch_cbs, bar)
            if val_loader is not None:
                val = self.evaluate(model, val_loader, loss=self.loss_fn, metrics=metrics)
                logs.update({"val_" + k: v for k, v in val.items()})
            sps = logs.pop("samples_per_s")
            logs["lr"] = lr
            logs["time"] = time.perf_counter() - logs.pop("_t0")
            logs["samples_per_s"] = sps
            self._check_finite(logs, e)
            if self.scheduler is not None and not per_batch:
                if plateau:
                    key = "val_loss" if "val_loss" in logs else "loss"
                    self.scheduler.step(logs[key])
                else:
                    self.scheduler.step()
            self.epoch = e
            self.history.append(logs)
            for cb in end_order:
                cb.on_epoch_end(self, logs)
            if self.verbose > 0:
                line = f"epoch {e}/{epochs}: " + " - ".join(_fmt(k, v) for k, v in logs.items() if k != "epoch")
                if bar and self._bar is not None:
                    self._bar.set_postfix_str(", ".join(_fmt(_short(k), v) for k, v in logs.items()
                                                        if k not in ("epoch", "time", "lr")), refresh=True)
                else:
                    print(line, flush=True)
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def _train_epoch(self, e: int, metrics: list[Metric], per_batch: bool, batch_cbs: list, bar: bool) -> dict:
        model, opt, loss_fn, sched = self.model, self.optimizer, self.loss_fn, self.scheduler
        clip = self.grad_clip
        params = [p for g in opt.param_groups for p in g["params"]] if clip else None
        for m in metrics:
            m.reset()
        model.train()
        total = None
        if hasattr(self.train_loader, "__len__"):
            total = len(self.train_loader)
        pbar = None
        if bar:
            from tqdm.auto import tqdm

            pbar = tqdm(total=total, desc=f"epoch {e}/{self.epochs}", unit="batch", dynamic_ncols=True,
                        leave=True, file=sys.stdout)
            self._bar = pbar
        t0 = time.perf_counter()
        loss_sum, seen, step = 0.0, 0, 0
        log_every = self.log_every
        for batch in self.train_loader:
            x, y = _split(batch)
            x, y = self._to_device(x), self._to_device(y)
            out = model(x)
            loss = loss_fn(out, y) if y is not None else loss_fn(out)
            lv = loss.item()
            step += 1
            if not math.isfinite(lv):
                raise self._non_finite(f"the loss is {lv}", e, step)
            opt.zero_grad()
            loss.backward()
            if clip:
                norm = clip_grad_norm_(params, clip)
                nv = float(norm.item() if isinstance(norm, Tensor) else norm)
                if not math.isfinite(nv):
                    raise self._non_finite(f"the gradient norm is {nv}", e, step)
            opt.step()
            if per_batch:
                sched.step()
            self.global_step += 1
            if metrics and y is not None:
                o = out.numpy(force=True)  # a view on the CPU: no copy
                yt = y.numpy(force=True) if isinstance(y, Tensor) else y
                for m in metrics:
                    m.update(o, yt)
                n = len(o) if o.ndim else 1
            else:
                n = out.shape[0] if out.dim() > 0 else 1
            loss_sum += lv * n
            seen += n
            if batch_cbs:
                blogs = {"epoch": e, "step": step, "loss": lv, "size": n}
                for cb in batch_cbs:
                    cb.on_batch_end(self, blogs)
            if pbar is not None:
                if step % log_every == 0 or step == 1:
                    el = time.perf_counter() - t0
                    post = f"loss {loss_sum / seen:.4f}"
                    for m in metrics:
                        post += f", {_short(m.name)} {m.compute():.4f}"
                    pbar.set_postfix_str(post + f", {seen / max(el, 1e-9):,.0f} samples/s", refresh=False)
                pbar.update(1)
        el = time.perf_counter() - t0
        if seen == 0:
            raise ValueError(f"lamina.train.Trainer.fit: the training loader yielded no batches in epoch {e}")
        logs: dict[str, Any] = {"epoch": e, "loss": loss_sum / seen}
        for m in metrics:
            logs[m.name] = m.compute()
        logs["samples_per_s"] = seen / el if el > 0 else float("inf")
        logs["_t0"] = t0
        return logs

    def _check_finite(self, logs: dict, e: int) -> None:
        """After an epoch (before any checkpoint): the parameters and the validation loss must be
        finite, so a checkpoint never holds a diverged model."""
        for p in self.model.parameters():
            t = p.detach()
            if t.is_cuda:
                t = t.cpu()
            if not np.isfinite(t.numpy()).all():
                raise self._non_finite("a parameter became non-finite", e, self.global_step)
        v = logs.get("val_loss")
        if v is not None and not math.isfinite(v):
            raise self._non_finite(f"the validation loss is {v}", e, self.global_step)

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(self, model: Module, loader: Iterable, loss=None, metrics: Sequence | None | str = "fit"
                 ) -> dict[str, float]:
        """The mean loss and the metrics of ``model`` over ``loader`` (evaluation mode, no
        gradients): ``{"loss": ..., "accuracy": ...}``. ``loss`` and ``metrics`` default to those
        of the last ``fit`` (cross entropy and accuracy before any)."""
        if loss is None:
            loss = self.loss_fn
        if isinstance(metrics, str) and metrics == "fit":
            metrics = self.metric_specs
        loss_fn = _loss_fn(loss)
        ms = _metrics(metrics)
        total = Loss()
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                for batch in loader:
                    x, y = _split(batch)
                    x, y = self._to_device(x), self._to_device(y)
                    out = model(x)
                    n = out.shape[0] if out.dim() > 0 else 1
                    if y is not None:
                        total.update((loss_fn(out, y)).item(), n)
                        if ms:
                            o = out.numpy(force=True)
                            yt = y.numpy(force=True) if isinstance(y, Tensor) else y
                            for m in ms:
                                m.update(o, yt)
        finally:
            model.train(was_training)
        res = {"loss": total.compute()}
        for m in ms:
            res[m.name] = m.compute()
        return res

    def predict(self, model: Module, loader: Iterable) -> Tensor:
        """The model's outputs over ``loader`` (inputs are each batch's first item), concatenated
        along the batch dimension, on the CPU."""
        outs = []
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                for batch in loader:
                    x, _ = _split(batch)
                    out = model(self._to_device(x))
                    outs.append(out.cpu() if out.is_cuda else out)
        finally:
            model.train(was_training)
        if not outs:
            raise ValueError("lamina.train.Trainer.predict: the loader yielded no batches")
        return cat(outs, 0)

