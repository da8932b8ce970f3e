"""End to end: a small MLP and a small CNN trained side by side with PyTorch from the same
weights on the same batches end with the same weights (float32; tolerance below)."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
import lamina.nn.functional as F

# 20 steps of float32 training: each step's parity is ~1e-6 relative; allow the drift of 20 steps.
RTOL, ATOL = 2e-4, 2e-5


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(20, 32), lib.nn.ReLU(), lib.nn.Linear(32, 16), lib.nn.Tanh(),
                             lib.nn.Linear(16, 5))


def _cnn(lib):
    m = lib.nn
    return m.Sequential(
        m.Conv2d(1, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(4, 6, 3, stride=2, padding=1), m.ReLU(), m.AdaptiveAvgPool2d((2, 2)),
        m.Flatten(), m.Dropout(0.0), m.Linear(24, 10))


def _train(model, opt, batches, lib, loss_fn):
    losses = []
    for x, y in batches:
        opt.zero_grad()
        out = model(lib.tensor(x))
        loss = loss_fn(out, lib.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _compare(ours, theirs, lo, lt):
    np.testing.assert_allclose(lo, lt, rtol=RTOL, atol=ATOL)
    sd_t = theirs.state_dict()
    sd_o = ours.state_dict()
    assert list(sd_o.keys()) == list(sd_t.keys())
    for k in sd_t:
        np.testing.assert_allclose(sd_o[k].detach().numpy(), sd_t[k].detach().numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=k)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_mlp_matches_torch_after_20_steps(opt_name):
    if torch is None:
        pytest.skip(TORCH_REASON)
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((16, 20)).astype(np.float32), rng.integers(0, 5, 16)) for _ in range(20)]
    torch.manual_seed(0)
    tm = _mlp(torch)
    om = _mlp(lamina)
    _copy_weights(om, tm)
    kw = {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4} if opt_name == "SGD" else {"lr": 1e-2}
    to = getattr(torch.optim, opt_name)(tm.parameters(), **kw)
    oo = getattr(lamina.optim, opt_name)(om.parameters(), **kw)
    lt = _train(tm, to, batches, torch, torch.nn.functional.cross_entropy)
    lo = _train(om, oo, batches, lamina, F.cross_entropy)
    _compare(om, tm, lo, lt)


def test_cnn_matches_torch_after_20_steps():
    if torch is None:
        pytest.skip(TORCH_REASON)
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((8, 1, 12, 12)).astype(np.float32), rng.integers(0, 10, 8)) for _ in range(20)]
    torch.manual_seed(0)
    tm = _cnn(torch)
    om = _cnn(lamina)
    _copy_weights(om, tm)
    to = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    oo = lamina.optim.SGD(om.parameters(), lr=0.05, momentum=0.9)
    lt = _train(tm, to, batches, torch, torch.nn.functional.cross_entropy)
    lo = _train(om, oo, batches, lamina, F.cross_entropy)
    _compare(om, tm, lo, lt)
    tm.eval()
    om.eval()
    x = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(om(lamina.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=RTOL, atol=ATOL)


def test_state_dict_moves_to_torch_and_back():
    if torch is None:
        pytest.skip(TORCH_REASON)
    om = _cnn(lamina)
    tm = _cnn(torch)
    tm.load_state_dict({k: torch.from_numpy(np.array(v.detach().numpy())) for k, v in om.state_dict().items()})
    om.eval()
    tm.eval()
    x = np.random.default_rng(2).standard_normal((2, 1, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(om(lamina.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
