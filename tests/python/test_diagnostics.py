"""lamina.train.GradientFlow: per-layer gradient and activation norms, checked against a
hand-written numpy forward/backward; the vanishing-gradient ratio; resume; bad input."""

import json
import math
import os

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.data import DataLoader, TensorDataset
from lamina.train import GradientFlow, ModelCheckpoint, Trainer


def _quiet(**kw):
    return Trainer(progress=False, verbose=0, **kw)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _numpy_run(w1, b1, w2, b2, batches, lr, epochs):
    """Linear -> Sigmoid -> Linear, mean cross entropy, plain SGD, float64: the per-epoch means
    GradientFlow must report."""
    w1, b1, w2, b2 = (a.astype(np.float64) for a in (w1, b1, w2, b2))
    out = {"grad_norm": [], "act_norm": [], "act_std": []}
    for _ in range(epochs):
        g_acc, an_acc, as_acc = np.zeros(2), np.zeros(2), np.zeros(2)
        for x, y in batches:
            x = x.astype(np.float64)
            z1 = x @ w1.T + b1
            h = _sigmoid(z1)
            z2 = h @ w2.T + b2
            p = np.exp(z2 - z2.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            n = len(x)
            dz2 = p.copy()
            dz2[np.arange(n), y] -= 1.0
            dz2 /= n
            dw2, db2 = dz2.T @ h, dz2.sum(0)
            dz1 = (dz2 @ w2) * h * (1 - h)
            dw1, db1 = dz1.T @ x, dz1.sum(0)
            g_acc += [np.linalg.norm(dw1), np.linalg.norm(dw2)]
            an_acc += [np.linalg.norm(z1, axis=1).mean(), np.linalg.norm(z2, axis=1).mean()]
            as_acc += [z1.std(), z2.std()]
            w1, b1, w2, b2 = w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2
        k = len(batches)
        out["grad_norm"].append(list(g_acc / k))
        out["act_norm"].append(list(an_acc / k))
        out["act_std"].append(list(as_acc / k))
    return out


def test_norms_equal_a_hand_computed_run():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((23, 5)).astype(np.float32)
    y = rng.integers(0, 3, 23).astype(np.int64)
    batches = [(x[i:i + 7], y[i:i + 7]) for i in range(0, 23, 7)]  # 7, 7, 7, 2: uneven batches
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 3))
    sd = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    expected = _numpy_run(sd["0.weight"], sd["0.bias"], sd["2.weight"], sd["2.bias"], batches, lr=0.3, epochs=3)

    loader = [(lamina.from_numpy(a), lamina.from_numpy(b)) for a, b in batches]
    val = [(lamina.from_numpy(x[:9] * 5.0), lamina.from_numpy(y[:9]))]  # evaluation passes must not count
    flow = GradientFlow()
    _quiet().fit(model, loader, val, epochs=3, optimizer=lamina.optim.SGD(model.parameters(), lr=0.3),
                 callbacks=[flow])
    h = flow.history
    assert h["layers"] == ["0", "2"]
    assert h["epoch"] == [1, 2, 3]
    for key in ("grad_norm", "act_norm", "act_std"):
        np.testing.assert_allclose(h[key], expected[key], rtol=1e-5, err_msg=key)
    assert flow.first_last_ratio() == pytest.approx(expected["grad_norm"][-1][0] / expected["grad_norm"][-1][1],
                                                    rel=1e-5)
    assert flow.first_last_ratio(0) == pytest.approx(expected["grad_norm"][0][0] / expected["grad_norm"][0][1],
                                                     rel=1e-5)
    json.dumps(flow.state_dict())  # goes into checkpoints as JSON
    assert not model[0]._forward_hooks  # hooks are removed at the end of fit


def _deep_sigmoid(depth, width, std, seed=0):
    lamina.manual_seed(seed)
    layers, d = [], 20
    for _ in range(depth):
        lin = nn.Linear(d, width)
        nn.init.normal_(lin.weight, 0.0, std) if std else nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Sigmoid()]
        d = width
    out = nn.Linear(d, 4)
    nn.init.normal_(out.weight, 0.0, std) if std else nn.init.xavier_uniform_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


def _task(n=96, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = (x[:, :4].argmax(1)).astype(np.int64)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=seed)


def test_deep_small_init_sigmoid_gradient_vanishes_shallow_does_not():
    deep, shallow = GradientFlow(), GradientFlow()
    m = _deep_sigmoid(8, 24, 0.01)
    _quiet().fit(m, _task(), epochs=1, optimizer=lamina.optim.SGD(m.parameters(), lr=0.1), callbacks=[deep])
    m = _deep_sigmoid(1, 24, None)
    _quiet().fit(m, _task(), epochs=1, optimizer=lamina.optim.SGD(m.parameters(), lr=0.1), callbacks=[shallow])
    assert len(deep.history["layers"]) == 9 and len(shallow.history["layers"]) == 2
    assert deep.first_last_ratio() < 1e-6
    assert shallow.first_last_ratio() > 0.05
    g = deep.history["grad_norm"][0]
    assert all(a < b for a, b in zip(g[:-2], g[1:-1]))  # shrinks layer by layer on the way down


def test_resume_continues_the_history(tmp_path):
    def setup():
        m = _deep_sigmoid(3, 8, None, seed=2)
        return m, _task(seed=4), lamina.optim.SGD(m.parameters(), lr=0.2, momentum=0.9)

    m, loader, opt = setup()
    full = GradientFlow()
    _quiet().fit(m, loader, epochs=4, optimizer=opt, callbacks=[full])

    m, loader, opt = setup()
    first = GradientFlow()
    _quiet().fit(m, loader, epochs=2, optimizer=opt, callbacks=[first, ModelCheckpoint(tmp_path, monitor="loss")])
    assert first.history["epoch"] == [1, 2]
    m, loader, opt = setup()
    again = GradientFlow()
    _quiet().fit(m, loader, epochs=4, optimizer=opt, callbacks=[again, ModelCheckpoint(tmp_path, monitor="loss")],
                 resume=str(tmp_path / "last.ckpt"))
    assert again.history["epoch"] == [1, 2, 3, 4]
    assert again.history == full.history  # bit-identical on the CPU


def test_plot_and_conv_layers(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((10, 1, 6, 6), dtype=np.float32)
    y = rng.integers(0, 2, 10).astype(np.int64)
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2))
    flow = GradientFlow()
    _quiet().fit(model, DataLoader(TensorDataset(x, y), batch_size=5), epochs=2, callbacks=[flow])
    assert flow.history["layers"] == ["0", "3"]
    assert all(v > 0 and math.isfinite(v) for row in flow.history["grad_norm"] for v in row)
    path = str(tmp_path / "flow.png")
    if flow.plot(path):
        assert os.path.getsize(path) > 0


def test_bad_input():
    with pytest.raises(TypeError, match="GradientFlow: layer_types"):
        GradientFlow(layer_types=(int,))
    flow = GradientFlow()
    with pytest.raises(ValueError, match="GradientFlow.first_last_ratio: no epoch"):
        flow.first_last_ratio()
    with pytest.raises(ValueError, match="GradientFlow.plot: no epoch"):
        flow.plot("x.png")
    with pytest.raises(ValueError, match="no Linear, Conv2d layer"):
        flow.attach(nn.Sequential(nn.ReLU(), nn.Flatten()))
    with pytest.raises(TypeError, match="GradientFlow: model must be"):
        flow.attach("not a model")
    m = _deep_sigmoid(1, 4, None)
    flow = GradientFlow()
    _quiet().fit(m, _task(n=32), epochs=1, callbacks=[flow])
    with pytest.raises(IndexError, match="epoch index 5 is out of range for 1"):
        flow.first_last_ratio(5)
    with pytest.raises(ValueError, match="recorded history is for layers"):
        flow.attach(_deep_sigmoid(2, 4, None))
