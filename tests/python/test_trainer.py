"""lamina.train: Trainer.fit / evaluate / predict, metrics, callbacks, the NaN guard, resume."""

import csv
import math
import os
import sys

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.data import DataLoader, TensorDataset
from lamina.train import (Accuracy, Callback, CSVLogger, EarlyStopping, History, LearningRateMonitor, Loss,
                          ModelCheckpoint, NonFiniteLossError, TopK, Trainer)
from lamina.train.augment import Augmented, RandomCropFlip


def _blobs(n=240, seed=0):
    """Three well separated Gaussian blobs in 2-D (a linearly separable problem)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[3.0, 0.0], [-3.0, 3.0], [-3.0, -3.0]], np.float32)
    y = rng.integers(0, 3, n).astype(np.int64)
    x = (centers[y] + 0.6 * rng.standard_normal((n, 2))).astype(np.float32)
    return x, y


def _loaders(n=240, batch=16, seed=0, shuffle=True):
    x, y = _blobs(n, seed)
    tr = DataLoader(TensorDataset(x[: n * 3 // 4], y[: n * 3 // 4]), batch_size=batch, shuffle=shuffle, seed=seed)
    va = DataLoader(TensorDataset(x[n * 3 // 4:], y[n * 3 // 4:]), batch_size=batch)
    return tr, va


def _mlp(dropout=0.0):
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def _quiet(**kw):
    return Trainer(progress=False, verbose=0, **kw)


# ---------------------------------------------------------------------------- fit / evaluate / predict
def test_fit_evaluate_predict_on_separable_problem():
    tr, va = _loaders()
    model = _mlp()
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    t = _quiet()
    hist = t.fit(model, tr, va, epochs=4, optimizer=opt)
    assert isinstance(hist, History) and hist is t.history
    assert hist["epoch"] == [1, 2, 3, 4]
    for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "samples_per_s"):
        assert len(hist[k]) == 4, k
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_accuracy"][-1] >= 0.95
    ev = t.evaluate(model, va)
    assert ev["loss"] == pytest.approx(hist["val_loss"][-1], rel=1e-6)
    assert ev["accuracy"] == hist["val_accuracy"][-1]
    pred = t.predict(model, va)
    _, y = _blobs()
    assert tuple(pred.shape) == (60, 3)
    assert np.mean(pred.numpy().argmax(1) == y[180:]) == ev["accuracy"]
    assert model.training  # evaluate/predict leave the mode as they found it


def test_default_optimizer_and_loss_name_and_plain_list_of_batches():
    x, y = _blobs(128)
    batches = [(lamina.from_numpy(x[i:i + 32]), lamina.from_numpy(y[i:i + 32])) for i in range(0, 128, 32)]
    model = _mlp()
    hist = _quiet().fit(model, batches, epochs=6, loss="cross_entropy")  # Adam(lr=1e-3) by default
    assert hist["loss"][-1] < hist["loss"][0]


def test_evaluate_matches_a_hand_computation():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 5)).astype(np.float32)
    y = rng.integers(0, 5, 37).astype(np.int64)
    model = nn.Linear(5, 5)
    res = _quiet().evaluate(model, DataLoader(TensorDataset(x, y), batch_size=8), metrics=("accuracy", "top2"))
    w, b = model.weight.detach().numpy().astype(np.float64), model.bias.detach().numpy().astype(np.float64)
    logits = x.astype(np.float64) @ w.T + b
    m = logits.max(1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    ce = -logp[np.arange(37), y].mean()
    acc = np.mean(logits.argmax(1) == y)
    top2 = np.mean([y[i] in np.argsort(-logits[i])[:2] for i in range(37)])
    assert res["loss"] == pytest.approx(ce, rel=1e-5)
    assert res["accuracy"] == pytest.approx(acc)
    assert res["top2_accuracy"] == pytest.approx(top2)


# ---------------------------------------------------------------------------- metrics
def test_metrics_against_hand_values():
    out = np.array([[0.1, 0.9, 0.0, 0.3],   # argmax 1; target 1: top1 yes
                    [0.8, 0.1, 0.5, 0.2],   # argmax 0; target 2: 2nd -> top2 yes
                    [0.2, 0.3, 0.5, 0.4],   # argmax 2; target 0: 4th -> top3 no
                    [0.4, 0.3, 0.2, 0.1],   # argmax 0; target 3: 4th
                    [0.1, 0.7, 0.6, 0.0]], np.float32)  # argmax 1; target 2: 2nd
    y = np.array([1, 2, 0, 3, 2])
    acc, top2, top3 = Accuracy(), TopK(2), TopK(3)
    for m in (acc, top2, top3):
        m.update(out[:2], y[:2])
        m.update(lamina.from_numpy(out[2:]), lamina.from_numpy(y[2:]))
    assert acc.compute() == pytest.approx(1 / 5)
    assert top2.compute() == pytest.approx(3 / 5)
    assert top3.compute() == pytest.approx(3 / 5)
    assert TopK(4).name == "top4_accuracy"
    onehot = np.eye(4, dtype=np.float32)[y]  # probability targets
    a2 = Accuracy()
    a2.update(out, onehot)
    assert a2.compute() == pytest.approx(1 / 5)
    binary = Accuracy()
    binary.update(np.array([[2.0], [-1.0], [0.5]], np.float32), np.array([[1.0], [1.0], [0.0]], np.float32))
    assert binary.compute() == pytest.approx(1 / 3)
    loss = Loss()
    loss.update(2.0, 3)
    loss.update(1.0, 1)
    assert loss.compute() == pytest.approx(7 / 4)
    with pytest.raises(ValueError, match="unknown metric"):
        _quiet().fit(_mlp(), _loaders()[0], metrics=("f1",))
    with pytest.raises(ValueError, match="k must be"):
        TopK(0)


# ---------------------------------------------------------------------------- callbacks
def test_early_stopping_stops_at_the_right_epoch():
    # lr = 0: the validation loss never changes, so it stops `patience` epochs after the first
    tr, va = _loaders()
    model = _mlp()
    es = EarlyStopping(monitor="val_loss", patience=2)
    hist = _quiet().fit(model, tr, va, epochs=10, optimizer=lamina.optim.SGD(model.parameters(), lr=0.0),
                        callbacks=[es])
    assert hist.epochs == 3 and es.stopped_epoch == 3 and es.best_epoch == 1


class _Scripted(Callback):
    """Feeds a scripted monitored value into the epoch's logs (runs before the other callbacks)."""

    def __init__(self, values):
        self.values = values

    def on_epoch_end(self, trainer, logs):
        logs["score"] = self.values[logs["epoch"] - 1]


@pytest.mark.parametrize("values,kw,stop,best", [
    ([1.0, 0.9, 0.95, 0.91, 0.92, 0.5], {"patience": 2}, 4, 2),
    ([1.0, 0.9, 0.89, 0.88, 0.5, 0.4], {"patience": 2, "min_delta": 0.05}, 4, 2),
    ([0.1, 0.2, 0.3, 0.25, 0.3, 0.2], {"patience": 1, "mode": "max"}, 4, 3),
    ([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], {"patience": 0}, None, 6),
])
def test_early_stopping_patience_min_delta_mode(values, kw, stop, best):
    tr, va = _loaders(n=64)
    es = EarlyStopping(monitor="score", **kw)
    hist = _quiet().fit(_mlp(), tr, epochs=6, callbacks=[_Scripted(values), es])
    assert hist.epochs == (stop or 6)
    assert es.stopped_epoch == (stop or 0)
    assert es.best_epoch == best


def test_early_stopping_restores_best_weights():
    tr, _ = _loaders(n=64)
    model = _mlp()
    seen = {}

    class Snap(Callback):
        def on_epoch_end(self, trainer, logs):
            seen[logs["epoch"]] = {k: v.detach().numpy().copy() for k, v in trainer.model.state_dict().items()}

    es = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    _quiet().fit(model, tr, epochs=6, optimizer=lamina.optim.SGD(model.parameters(), lr=0.1),
                 callbacks=[_Scripted([3.0, 1.0, 2.0, 2.0, 2.0, 2.0]), Snap(), es])
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), seen[2][k])
    with pytest.raises(KeyError, match="monitor 'nope' is not in the epoch's logs"):
        _quiet().fit(_mlp(), tr, epochs=1, callbacks=[EarlyStopping(monitor="nope")])


def test_model_checkpoint_and_csv_logger(tmp_path):
    tr, va = _loaders()
    model = _mlp()
    ck = ModelCheckpoint(tmp_path / "run", monitor="score", mode="min")
    log = tmp_path / "run" / "log.csv"
    hist = _quiet().fit(model, tr, va, epochs=4, optimizer=lamina.optim.SGD(model.parameters(), lr=0.05),
                        callbacks=[_Scripted([2.0, 1.0, 1.5, 3.0]), ck, CSVLogger(log)])
    assert ck.best_model_path == str(tmp_path / "run" / "best.ckpt") and ck.best == 1.0
    best = lamina.io.load_checkpoint(ck.best_model_path, restore_rng=False)
    last = lamina.io.load_checkpoint(ck.last_model_path, restore_rng=False)
    assert best["extra"]["trainer"]["epoch"] == 2 and last["extra"]["trainer"]["epoch"] == 4
    fresh = _mlp()
    lamina.io.load_checkpoint(ck.last_model_path, model=fresh, restore_rng=False)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].numpy(), v.numpy())
    with open(log) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "time", "samples_per_s",
                       "score"]
    assert len(rows) == 5
    for i, r in enumerate(rows[1:]):
        assert int(r[0]) == i + 1
        assert float(r[1]) == hist["loss"][i] and float(r[4]) == hist["val_accuracy"][i]


def test_model_checkpoint_every_epoch_with_a_filepath_pattern(tmp_path):
    tr, va = _loaders(n=64)
    ck = ModelCheckpoint(filepath=str(tmp_path / "e{epoch:02d}-{val_loss:.3f}.ckpt"), save_best_only=False,
                         save_last=False)
    hist = _quiet().fit(_mlp(), tr, va, epochs=2, callbacks=[ck])
    names = sorted(f for f in os.listdir(tmp_path) if f.endswith(".ckpt"))
    assert names == [f"e{e:02d}-{v:.3f}.ckpt" for e, v in zip((1, 2), hist["val_loss"])]


def test_learning_rate_monitor():
    tr, _ = _loaders(n=64, batch=16)  # 3 steps per epoch
    model = _mlp()
    opt = lamina.optim.SGD(model.parameters(), lr=1.0)
    sched = lamina.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    per_epoch = LearningRateMonitor()
    per_step = LearningRateMonitor("step")
    hist = _quiet().fit(model, tr, epochs=3, optimizer=opt, scheduler=sched, callbacks=[per_epoch, per_step])
    assert per_epoch.lrs == [(1, [1.0]), (2, [0.5]), (3, [0.25])]
    assert hist["lr"] == [1.0, 0.5, 0.25]
    assert [s for s, _ in per_step.lrs] == list(range(1, 10))


def test_one_cycle_steps_per_batch():
    tr, _ = _loaders(n=64, batch=16)
    model = _mlp()
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lamina.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=len(tr))
    _quiet().fit(model, tr, epochs=2, optimizer=opt, scheduler=sched)
    assert sched.last_epoch == 2 * len(tr)


def test_gradient_clipping_bounds_the_update():
    tr, _ = _loaders(n=64, batch=48)
    model = _mlp()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    clip = 1e-3
    it = iter(tr)
    one = [next(it)]
    _quiet(grad_clip=clip).fit(model, one, epochs=1, optimizer=lamina.optim.SGD(model.parameters(), lr=1.0))
    step = math.sqrt(sum(float(((p.detach().numpy() - b) ** 2).sum()) for p, b in zip(model.parameters(), before)))
    assert 0 < step <= clip * (1 + 1e-4)


# ---------------------------------------------------------------------------- NaN guard
class _NaNAfter(nn.Module):
    """A linear model whose output turns NaN from the `k`-th training forward on."""

    def __init__(self, k):
        super().__init__()
        self.lin = nn.Linear(2, 3)
        self.k = k
        self.calls = 0

    def forward(self, x):
        out = self.lin(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.k:
                out = out * float("nan")
        return out


def test_nan_guard_names_epoch_and_step_and_keeps_the_last_good_checkpoint(tmp_path):
    tr, va = _loaders(n=64, batch=16)  # 3 batches per epoch: the 6th forward is epoch 2, step 3
    model = _NaNAfter(6)
    ck = ModelCheckpoint(tmp_path, monitor="val_loss")
    with pytest.raises(NonFiniteLossError, match=r"the loss is nan at epoch 2, step 3 .*last good checkpoint is "
                                                 r"kept at .*last\.ckpt") as ei:
        _quiet().fit(model, tr, va, epochs=5, optimizer=lamina.optim.SGD(model.parameters(), lr=0.1),
                     callbacks=[ck])
    assert (ei.value.epoch, ei.value.step) == (2, 3)
    good = lamina.io.load_checkpoint(tmp_path / "last.ckpt", model=_NaNAfter(100), restore_rng=False)
    assert good["extra"]["trainer"]["epoch"] == 1
    assert all(np.isfinite(v.numpy()).all() for v in good["model"].values())
    # weights are those before the bad step (the guard runs before backward/step)
    assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())


def test_nan_guard_with_a_huge_learning_rate():
    tr, _ = _loaders(n=240, batch=16)
    model = _mlp()
    with pytest.raises(NonFiniteLossError, match=r"at epoch \d+, step \d+ \(global step \d+\).*no checkpoint"):
        _quiet().fit(model, tr, epochs=20, optimizer=lamina.optim.SGD(model.parameters(), lr=1e12))


# ---------------------------------------------------------------------------- resume
def _resume_setup(seed_model=0):
    """Images with augmentation, dropout (Lamina's RNG), a shuffling loader, Adam + OneCycle."""
    rng = np.random.default_rng(5)
    x = rng.random((72, 1, 6, 6), dtype=np.float32)
    y = (x[:, 0, :3].mean((1, 2)) > x[:, 0, 3:].mean((1, 2))).astype(np.int64)
    lamina.manual_seed(seed_model)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),
                          nn.Flatten(), nn.Linear(144, 2))
    loader = Augmented(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=1),
                       RandomCropFlip(padding=1, flip=True, seed=2))
    val = DataLoader(TensorDataset(x[:24], y[:24]), batch_size=16)
    opt = lamina.optim.Adam(model.parameters(), lr=1e-2)
    sched = lamina.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, epochs=4, steps_per_epoch=len(loader))
    return model, loader, val, opt, sched


def test_resume_is_bit_identical(tmp_path):
    model, loader, val, opt, sched = _resume_setup()
    full = _quiet().fit(model, loader, val, epochs=4, optimizer=opt, scheduler=sched)

    model, loader, val, opt, sched = _resume_setup()
    ck = ModelCheckpoint(tmp_path, monitor="val_loss")
    _quiet().fit(model, loader, val, epochs=2, optimizer=opt, scheduler=sched, callbacks=[ck])
    lamina.manual_seed(123)  # anything in between must not matter
    model2, loader2, val2, opt2, sched2 = _resume_setup(seed_model=7)
    ck2 = ModelCheckpoint(tmp_path, monitor="val_loss")
    log = tmp_path / "log.csv"
    resumed = _quiet().fit(model2, loader2, val2, epochs=4, optimizer=opt2, scheduler=sched2,
                           callbacks=[ck2, CSVLogger(log)], resume=str(tmp_path / "last.ckpt"))
    assert resumed["epoch"] == [1, 2, 3, 4]
    assert resumed["loss"] == full["loss"]          # bit-identical, not approximately equal
    assert resumed["val_loss"] == full["val_loss"]
    assert resumed["lr"] == full["lr"]
    with open(log) as f:
        assert len(list(csv.reader(f))) == 5  # the restored history is rewritten, then epochs 3-4


def test_resume_final_weights_identical(tmp_path):
    model_a, loader, val, opt, sched = _resume_setup()
    _quiet().fit(model_a, loader, val, epochs=3, optimizer=opt, scheduler=sched)
    model_b, loader, val, opt, sched = _resume_setup()
    _quiet().fit(model_b, loader, val, epochs=1, optimizer=opt, scheduler=sched,
                 callbacks=[ModelCheckpoint(tmp_path, monitor="val_loss")])
    model_c, loader, val, opt, sched = _resume_setup(seed_model=9)
    _quiet().fit(model_c, loader, val, epochs=3, optimizer=opt, scheduler=sched, resume=str(tmp_path / "last.ckpt"))
    for k, v in model_a.state_dict().items():
        np.testing.assert_array_equal(model_c.state_dict()[k].numpy(), v.numpy(), err_msg=k)


def test_resume_rejects_a_checkpoint_without_trainer_state(tmp_path):
    model = _mlp()
    lamina.io.save_checkpoint(tmp_path / "w.ckpt", model)
    with pytest.raises(ValueError, match="holds no trainer state"):
        _quiet().fit(model, _loaders()[0], epochs=1, resume=str(tmp_path / "w.ckpt"))


# ---------------------------------------------------------------------------- output
def test_quiet_mode_prints_one_line_per_epoch(capsys):
    tr, va = _loaders(n=64)
    Trainer(progress=False).fit(_mlp(), tr, va, epochs=2)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2: loss ") and "val_accuracy" in lines[1] and "samples/s" in lines[1]
    Trainer(progress=False, verbose=0).fit(_mlp(), tr, epochs=1)
    assert capsys.readouterr().out == ""


def test_progress_bar_shows_loss_accuracy_and_throughput(capsys):
    tr, _ = _loaders(n=240, batch=8)
    Trainer(progress=True, log_every=2).fit(_mlp(), tr, epochs=1)
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and "loss" in out and "acc " in out and "samples/s" in out


def test_progress_is_quiet_under_ci_or_without_a_terminal(monkeypatch):
    monkeypatch.setenv("CI", "1")
    assert not Trainer()._show_bar()
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert not Trainer()._show_bar()
    assert Trainer(progress=True)._show_bar()


def _history():
    h = History()
    for e in range(3):
        h.append({"epoch": e + 1, "loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1), "accuracy": 0.5 + e / 10,
                  "lr": 0.1})
    return h


def test_history_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    h = _history()
    assert h.epochs == 3 and h.last()["loss"] == pytest.approx(1 / 3)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    monkeypatch.setitem(sys.modules, "matplotlib.ticker", None)
    assert h.plot(str(tmp_path / "history.png")) is False
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not os.path.exists(tmp_path / "history.png")


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    h = _history()
    assert h.plot(str(tmp_path / "history.png")) is True
    with open(tmp_path / "history.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_history_fills_missing_keys_with_nan():
    h = History()
    h.append({"epoch": 1, "loss": 1.0})
    h.append({"epoch": 2, "loss": 0.5, "val_loss": 0.7})
    h.append({"epoch": 3, "val_loss": 0.6})
    assert math.isnan(h["val_loss"][0]) and math.isnan(h["loss"][2]) and h["val_loss"][1:] == [0.7, 0.6]


# ---------------------------------------------------------------------------- bad input
def test_bad_arguments():
    tr, _ = _loaders(n=64)
    with pytest.raises(TypeError, match="model must be a lamina.nn.Module"):
        _quiet().fit(lambda x: x, tr)
    with pytest.raises(ValueError, match="epochs must be a non-negative integer"):
        _quiet().fit(_mlp(), tr, epochs=-1)
    with pytest.raises(TypeError, match="callbacks must be"):
        _quiet().fit(_mlp(), tr, callbacks=[object()])
    with pytest.raises(ValueError, match="unknown loss"):
        _quiet().fit(_mlp(), tr, loss="hinge")
    with pytest.raises(ValueError, match="grad_clip"):
        Trainer(grad_clip=-1.0)
    with pytest.raises(ValueError, match="yielded no batches"):
        _quiet().fit(_mlp(), [], epochs=1)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="dirpath"):
        ModelCheckpoint()
    with pytest.raises(ValueError, match="loader yielded no batches"):
        _quiet().predict(_mlp(), [])


def test_mse_loss_without_metrics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32)).astype(np.float32)
    model = nn.Linear(3, 1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    hist = _quiet().fit(model, loader, epochs=30, optimizer=lamina.optim.SGD(model.parameters(), lr=0.1),
                        loss=F.mse_loss, metrics=None)
    assert set(hist) == {"epoch", "loss", "lr", "time", "samples_per_s"}
    assert hist["loss"][-1] < 1e-3


# ---------------------------------------------------------------------------- augmentation
def test_random_crop_flip():
    rng = np.random.default_rng(0)
    x = rng.random((64, 2, 5, 6), dtype=np.float32) + 1.0  # no zeros: padding is visible
    y = np.arange(64)
    out, yo = RandomCropFlip(padding=0, flip=True, seed=0)(lamina.from_numpy(x), y)
    out = out.numpy()
    flipped = np.array([np.array_equal(o, a[:, :, ::-1]) for o, a in zip(out, x)])
    same = np.array([np.array_equal(o, a) for o, a in zip(out, x)])
    assert (flipped | same).all() and 16 < flipped.sum() < 48 and yo is y
    out = RandomCropFlip(padding=1, flip=False, seed=1)(x, y)[0].numpy()
    shifts = set()
    for o, a in zip(out, x):
        padded = np.pad(a, ((0, 0), (1, 1), (1, 1)))
        hits = [(dy, dx) for dy in range(3) for dx in range(3) if np.array_equal(o, padded[:, dy:dy + 5, dx:dx + 6])]
        assert len(hits) == 1
        shifts.add(hits[0])
    assert len(shifts) == 9
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\)"):
        RandomCropFlip()(np.zeros((3, 4), np.float32), y)


def test_augmented_loader_state_round_trip():
    x = np.random.default_rng(0).random((20, 1, 4, 4), dtype=np.float32)
    make = lambda: Augmented(DataLoader(TensorDataset(x, np.arange(20)), batch_size=8, shuffle=True, seed=0),
                             RandomCropFlip(padding=1, flip=True, seed=0))
    a = make()
    list(a)
    state = a.state_dict()
    want = [(bx.numpy().copy(), by.numpy().copy()) for bx, by in a]
    b = make()
    b.load_state_dict(state)
    got = [(bx.numpy(), by.numpy()) for bx, by in b]
    assert len(a) == 3 and len(got) == 3
    for (wx, wy), (gx, gy) in zip(want, got):
        np.testing.assert_array_equal(wx, gx)
        np.testing.assert_array_equal(wy, gy)
