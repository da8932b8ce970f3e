"""lamina.optim (SGD, Adam, AdamW, RMSprop) and lamina.nn.utils.clip_grad_*: trajectories against
torch.optim over 50 steps for every option combination, state_dict round trips, the in-place
contract (same objects, bumped versions), clip_grad_norm_ against torch, and bad input.

Tolerance of the trajectory checks (written down as asked): after every step, for every
parameter, max|lamina - torch| <= RTOL * max(1, max|torch|), with RTOL = 1e-5 in float32 and
1e-12 in float64. The kernels follow torch's formula order; what remains is torch's use of FMA
in its vectorised CPU loops, a rounding difference of one unit per operation.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import lamina
from lamina import optim

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0): parity test skipped")

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
SHAPES = [(7, 5), (13,), (3, 4, 3), (1,)]
STEPS = 50

LAMINA = {"SGD": optim.SGD, "Adam": optim.Adam, "AdamW": optim.AdamW, "RMSprop": optim.RMSprop}
TORCH = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
         "RMSprop": torch.optim.RMSprop}


def _data(seed: int, dtype, steps: int = STEPS, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    return init, grads


def _check_close(lp, tp, dtype, where: str) -> None:
    for i, (a, b) in enumerate(zip(lp, tp)):
        got = a.detach().numpy()
        want = b.detach().numpy()
        assert got.dtype == want.dtype
        assert np.all(np.isfinite(got)), where
        scale = max(1.0, float(np.abs(want).max()))
        err = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max())
        assert err <= RTOL[dtype] * scale, f"{where}: param {i} differs by {err:.3e} (scale {scale:.3g})"


def _make_params(init):
    lp = [lamina.tensor(a, requires_grad=True) for a in init]
    tp = [torch.tensor(a, requires_grad=True) for a in init]
    return lp, tp


def _groups(params, group_opts):
    """Splits params into len(group_opts) groups (round robin) with per-group options."""
    if group_opts is None:
        return params
    n = len(group_opts)
    return [dict(params=params[k::n], **opts) for k, opts in enumerate(group_opts)]


def _trajectory(name, kwargs, dtype, *, seed=0, group_opts=None, skip=None, steps=STEPS):
    """Runs lamina and torch side by side, feeding the same gradients through .grad, and
    compares the parameters after every step. skip(step, i) -> True leaves param i's grad None."""
    init, grads = _data(seed, dtype, steps)
    lp, tp = _make_params(init)
    lopt = LAMINA[name](_groups(lp, group_opts), **kwargs)
    topt = TORCH[name](_groups(tp, group_opts), **kwargs)
    objects = [id(p) for p in lp]
    for step in range(steps):
        for i in range(len(lp)):
            if skip is not None and skip(step, i):
                lp[i].grad, tp[i].grad = None, None
            else:
                lp[i].grad = lamina.tensor(grads[step][i])
                tp[i].grad = torch.tensor(grads[step][i])
        lopt.step()
        topt.step()
        _check_close(lp, tp, dtype, f"{name}{kwargs} step {step}")
    assert [id(p) for p in lp] == objects
    return lopt, topt, lp, tp


DTYPES = [np.float32, np.float64]


def _sgd_cases():
    for momentum, nesterov, dampening, wd, maximize in itertools.product(
            [0.0, 0.9], [False, True], [0.0, 0.5], [0.0, 0.1], [False, True]):
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        yield dict(lr=0.05, momentum=momentum, nesterov=nesterov, dampening=dampening,
                   weight_decay=wd, maximize=maximize)


def _adam_cases():
    for name, amsgrad, wd, maximize in itertools.product(["Adam", "AdamW"], [False, True],
                                                         [0.0, 0.1], [False, True]):
        yield name, dict(lr=0.01, betas=(0.9, 0.99), amsgrad=amsgrad, weight_decay=wd,
                         maximize=maximize)


def _rmsprop_cases():
    for centered, momentum, wd, maximize in itertools.product([False, True], [0.0, 0.9],
                                                              [0.0, 0.1], [False, True]):
        yield dict(lr=0.01, alpha=0.9, centered=centered, momentum=momentum, weight_decay=wd,
                   maximize=maximize)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kwargs", list(_sgd_cases()), ids=str)
def test_sgd_trajectory(kwargs, dtype):
    _trajectory("SGD", kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", list(_adam_cases()), ids=str)
def test_adam_trajectory(name, kwargs, dtype):
    _trajectory(name, kwargs, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("kwargs", list(_rmsprop_cases()), ids=str)
def test_rmsprop_trajectory(kwargs, dtype):
    _trajectory("RMSprop", kwargs, dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_defaults_trajectory(name):
    # torch's defaults (lr, betas, eps, alpha, AdamW's weight_decay=1e-2) with no arguments but lr
    _trajectory(name, {}, np.float32)


CASES = [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
         ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
         ("AdamW", dict(lr=0.01, weight_decay=0.1)),
         ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01))]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_param_groups_trajectory(name, kwargs, dtype):
    group_opts = [dict(lr=0.02), dict(lr=0.005, weight_decay=0.2), dict()]
    lopt, _, _, _ = _trajectory(name, kwargs, dtype, group_opts=group_opts)
    assert [g["lr"] for g in lopt.param_groups] == [0.02, 0.005, kwargs["lr"]]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_grad_none_skipped(name, kwargs):
    # param 1 never has a gradient, param 2 only on odd steps: their state (and Adam's per-
    # parameter step count) must advance only when they have one, as in torch.
    lopt, topt, lp, _ = _trajectory(name, kwargs, np.float32,
                                    skip=lambda s, i: i == 1 or (i == 2 and s % 2 == 0))
    assert lp[1] not in lopt.state or len(lopt.state[lp[1]]) == 0
    sd, tsd = lopt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    if "step" in sd["state"][2]:
        assert float(sd["state"][2]["step"]) == float(tsd["state"][2]["step"]) == STEPS // 2


def test_mixed_dtypes_in_one_group():
    init32, grads32 = _data(3, np.float32, 20)
    init64 = [a.astype(np.float64) for a in init32]
    for name, kwargs in CASES:
        lp = [lamina.tensor(init32[0], requires_grad=True), lamina.tensor(init64[1], requires_grad=True)]
        tp = [torch.tensor(init32[0], requires_grad=True), torch.tensor(init64[1], requires_grad=True)]
        lopt, topt = LAMINA[name](lp, **kwargs), TORCH[name](tp, **kwargs)
        for step in range(20):
            for i, dt in enumerate([np.float32, np.float64]):
                lp[i].grad = lamina.tensor(grads32[step][i].astype(dt))
                tp[i].grad = torch.tensor(grads32[step][i].astype(dt))
            lopt.step()
            topt.step()
        _check_close(lp[:1], tp[:1], np.float32, name)
        _check_close(lp[1:], tp[1:], np.float64, name)


def test_large_params_multithreaded():
    # Parameters bigger than a chunk (16K elements) so the kernel's parallel region splits tensors.
    shapes = [(301, 203), (40001,), (17,)]
    init, grads = _data(5, np.float32, 5, shapes)
    for name, kwargs in CASES:
        lp, tp = _make_params(init)
        lopt, topt = LAMINA[name](lp, **kwargs), TORCH[name](tp, **kwargs)
        for step in range(5):
            for i in range(len(lp)):
                lp[i].grad = lamina.tensor(grads[step][i])
                tp[i].grad = torch.tensor(grads[step][i])
            lopt.step()
            topt.step()
        _check_close(lp, tp, np.float32, name)


def test_thread_count_does_not_change_results():
    shapes = [(301, 203), (40001,)]
    init, grads = _data(6, np.float32, 3, shapes)
    saved = lamina.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            lamina.set_num_threads(threads)
            lp = [lamina.tensor(a, requires_grad=True) for a in init]
            opt = optim.Adam(lp, lr=0.01, amsgrad=True)
            for step in range(3):
                for i in range(len(lp)):
                    lp[i].grad = lamina.tensor(grads[step][i])
                opt.step()
            results.append([p.detach().numpy().copy() for p in lp])
    finally:
        lamina.set_num_threads(saved)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_param_and_grad():
    base_l = lamina.tensor(np.arange(35, dtype=np.float32).reshape(5, 7) / 10, requires_grad=True)
    base_t = torch.tensor(np.arange(35, dtype=np.float32).reshape(5, 7) / 10, requires_grad=True)
    lview = base_l.detach().T.requires_grad_(True)  # a non-contiguous leaf view
    tview = base_t.detach().T.requires_grad_(True)
    lopt = optim.Adam([lview], lr=0.1)
    topt = torch.optim.Adam([tview], lr=0.1)
    rng = np.random.default_rng(7)
    for _ in range(5):
        g = rng.standard_normal((7, 5)).astype(np.float32)
        lview.grad = lamina.tensor(g.T.copy()).T  # a transposed (non-contiguous) grad
        tview.grad = torch.tensor(g)
        assert not lview.grad.is_contiguous()
        lopt.step()
        topt.step()
    _check_close([lview], [tview], np.float32, "non-contiguous")
    # the update went into the base tensor's storage
    np.testing.assert_allclose(base_l.detach().numpy(), base_t.detach().numpy(), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- in-place contract

@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_updates_in_place_and_bumps_version(name, kwargs):
    p = lamina.nn.Parameter(lamina.randn(4, 3))
    alias = p.detach()  # shares storage
    ptr, v0 = p.data_ptr(), p._t.version
    opt = LAMINA[name]([p], **kwargs)
    p.grad = lamina.randn(4, 3)
    before = p.detach().numpy().copy()
    opt.step()
    assert p.data_ptr() == ptr and isinstance(p, lamina.nn.Parameter)
    assert p._t.version > v0
    assert not np.array_equal(before, p.detach().numpy())
    np.testing.assert_array_equal(alias.numpy(), p.detach().numpy())
    for v in opt.state[p].values():
        if isinstance(v, lamina.Tensor):
            assert not v.requires_grad


def test_stale_saved_tensor_detected():
    p = lamina.nn.Parameter(lamina.randn(5))
    y = (p * p).sum()  # saves p for backward
    opt = optim.SGD([p], lr=0.1)
    p.grad = lamina.ones(5)
    opt.step()
    with pytest.raises(RuntimeError, match="version"):
        y.backward()


def test_step_runs_closure_with_grad_enabled():
    w = lamina.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(lamina.is_grad_enabled())
        return loss

    with lamina.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and float(loss) == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6], rtol=1e-6)


def test_zero_grad():
    w = lamina.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None


def test_add_param_group_and_errors():
    a = lamina.zeros(2, requires_grad=True)
    b = lamina.zeros(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {lamina.zeros(1, requires_grad=True)}})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([b])
    # named parameters, as torch 2.x
    named = optim.Adam([("w", lamina.zeros(2, requires_grad=True))])
    assert named.param_groups[0]["param_names"] == ["w"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w"]


# ----------------------------------------------------------------------------- state_dict

def _run(opt, params, grads, steps):
    for s in steps:
        for i, p in enumerate(params):
            p.grad = None if (i == 1 and s % 3 == 0) else lamina.tensor(grads[s][i])
        opt.step()


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_state_dict_round_trip(name, kwargs):
    init, grads = _data(11, np.float32, 30)
    group_opts = [dict(lr=0.02), dict()]
    # uninterrupted
    ref = [lamina.tensor(a, requires_grad=True) for a in init]
    ref_opt = LAMINA[name](_groups(ref, group_opts), **kwargs)
    _run(ref_opt, ref, grads, range(30))
    # interrupted after 10 steps: a fresh optimizer loads the state and continues
    lp = [lamina.tensor(a, requires_grad=True) for a in init]
    opt = LAMINA[name](_groups(lp, group_opts), **kwargs)
    _run(opt, lp, grads, range(10))
    sd = opt.state_dict()
    lp2 = [lamina.tensor(p.detach().numpy().copy(), requires_grad=True) for p in lp]
    opt2 = LAMINA[name](_groups(lp2, [dict(lr=9.0), dict(lr=9.0)]), **kwargs)
    opt2.load_state_dict(sd)
    assert [g["lr"] for g in opt2.param_groups] == [0.02, kwargs["lr"]]
    _run(opt2, lp2, grads, range(10, 30))
    # the loaded state is a copy: the first optimizer continuing must not change it
    _run(opt, lp, grads, range(10, 12))
    for a, b in zip(lp2, ref):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,kwargs", CASES + [("SGD", dict(lr=0.1))], ids=str)
def test_state_dict_structure_matches_torch(name, kwargs):
    init, grads = _data(12, np.float32, 3)
    lp, tp = _make_params(init)
    group_opts = [dict(lr=0.02), dict()]
    lopt = LAMINA[name](_groups(lp, group_opts), **kwargs)
    topt = TORCH[name](_groups(tp, group_opts), **kwargs)
    for s in range(3):
        for i in range(len(lp)):
            lp[i].grad = None if i == 3 else lamina.tensor(grads[s][i])
            tp[i].grad = None if i == 3 else torch.tensor(grads[s][i])
        lopt.step()
        topt.step()
    sd, tsd = lopt.state_dict(), topt.state_dict()
    assert list(sd) == list(tsd) == ["state", "param_groups"]
    assert list(sd["state"]) == list(tsd["state"])
    for k in tsd["state"]:
        assert list(sd["state"][k]) == list(tsd["state"][k])
        for key, tv in tsd["state"][k].items():
            lv = sd["state"][k][key]
            assert isinstance(lv, lamina.Tensor)
            assert tuple(lv.shape) == tuple(tv.shape) and str(lv.dtype) == str(tv.dtype).replace("torch", "lamina")
            np.testing.assert_allclose(lv.numpy(), tv.numpy(), rtol=1e-5, atol=1e-7)
    assert len(sd["param_groups"]) == len(tsd["param_groups"])
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert list(g) == list(tg)
        assert g == tg


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_load_torch_state_dict(name, kwargs):
    # torch trains 10 steps; lamina loads torch's state_dict (torch tensors) and both continue.
    init, grads = _data(13, np.float32, 20)
    _, tp = _make_params(init)
    topt = TORCH[name](tp, **kwargs)
    for s in range(10):
        for i in range(len(tp)):
            tp[i].grad = torch.tensor(grads[s][i])
        topt.step()
    lp = [lamina.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tp]
    lopt = LAMINA[name](lp, **kwargs)
    lopt.load_state_dict(topt.state_dict())
    for s in range(10, 20):
        for i in range(len(tp)):
            lp[i].grad = lamina.tensor(grads[s][i])
            tp[i].grad = torch.tensor(grads[s][i])
        lopt.step()
        topt.step()
    _check_close(lp, tp, np.float32, f"{name} after loading torch's state")


def test_load_state_dict_errors_and_casts():
    a, b = lamina.zeros(2, requires_grad=True), lamina.zeros(3, requires_grad=True)
    opt = optim.Adam([a, b])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [dict(opt.defaults, params=[0])]})
    # float64 state is cast to the float32 parameter; a numeric step becomes a float32 tensor
    sd = {"state": {0: {"step": 3, "exp_avg": np.ones(2), "exp_avg_sq": np.ones(2)}},
          "param_groups": [dict(opt.defaults, params=[0, 1])]}
    opt.load_state_dict(sd)
    st = opt.state[a]
    assert st["exp_avg"].dtype == lamina.float32 and st["step"].dtype == lamina.float32
    assert float(st["step"]) == 3.0


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1e-3), "Invalid weight_decay value"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.Adam(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.Adam(p, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: optim.Adam(p, weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (lambda p: optim.AdamW(p, betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    (lambda p: optim.RMSprop(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), "Invalid alpha value: -0.1"),
    (lambda p: optim.RMSprop(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.RMSprop(p, momentum=-1.0), "Invalid momentum value: -1.0"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
])
def test_invalid_arguments(make, match):
    p = [lamina.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        make(p)
    # torch raises the same error with the same message
    tp = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match=match):
        _torchify(make)(tp)


def _torchify(make):
    """Runs `make` with torch.optim in place of lamina.optim."""
    import types

    g = dict(make.__globals__)
    g["optim"] = torch.optim
    return types.FunctionType(make.__code__, g)


def test_bad_params():
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(lamina.zeros(2, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)
    x = lamina.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([x], differentiable=True)
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        optim.Adam([x], fused=True, foreach=True)


@pytest.mark.parametrize("name,kwargs", CASES, ids=[c[0] for c in CASES])
def test_bad_grads_raise_before_writing(name, kwargs):
    a, b = lamina.ones(3, requires_grad=True), lamina.ones(4, requires_grad=True)
    opt = LAMINA[name]([a, b], **kwargs)
    a.grad = lamina.ones(3)
    b.grad = lamina.ones(5)  # wrong shape
    with pytest.raises(ValueError, match=r"grads\[1\].*shape"):
        opt.step()
    assert a.tolist() == [1.0, 1.0, 1.0]  # nothing written: checks come first
    b.grad = lamina.ones(4, dtype=lamina.float64)
    with pytest.raises(TypeError, match=r"grads\[1\].*dtype"):
        opt.step()
    assert a.tolist() == [1.0, 1.0, 1.0]


def test_kernel_entry_checks():
    from lamina import _C

    p = lamina.ones(3)._t
    g = lamina.ones(3)._t
    with pytest.raises(ValueError, match="one tensor per parameter"):
        _C.adam_step([p], [g], [], [], [], [], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8,
                     weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False)
    step = lamina.zeros(2)._t
    with pytest.raises(ValueError, match=r"steps\[0\].*one element"):
        _C.adam_step([p], [g], [lamina.zeros(3)._t], [lamina.zeros(3)._t], [], [step], lr=0.1,
                     beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, amsgrad=False,
                     maximize=False, decoupled_weight_decay=False)
    with pytest.raises(ValueError, match="must be empty unless amsgrad"):
        _C.adam_step([p], [g], [lamina.zeros(3)._t], [lamina.zeros(3)._t], [lamina.zeros(3)._t],
                     [lamina.zeros(1)._t], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8,
                     weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.sgd_step([lamina.ones(3, dtype=lamina.int64)._t], [g], [], lr=0.1, momentum=0.0,
                    dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)
    with pytest.raises(ValueError, match="Nesterov"):
        _C.sgd_step([p], [g], [], lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0,
                    nesterov=True, maximize=False)
    with pytest.raises(ValueError, match="contiguous"):
        _C.sgd_step([lamina.ones(3, 4)._t.transpose(0, 1)], [lamina.ones(4, 3)._t], [], lr=0.1,
                    momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)
    with pytest.raises(ValueError, match="must be empty unless centered"):
        _C.rmsprop_step([p], [g], [lamina.zeros(3)._t], [lamina.zeros(3)._t], [], [lamina.zeros(1)._t],
                        lr=0.1, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0,
                        centered=False, maximize=False)


@pytest.mark.cuda
def test_cuda_params_raise_clearly():
    p = lamina.ones(3, device="cuda", requires_grad=True)
    p.grad = lamina.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA kernels for sgd are not implemented"):
        optim.SGD([p], lr=0.1).step()


# ----------------------------------------------------------------------------- clip_grad

def _grad_pairs(seed, shapes=((7, 5), (13,), (3, 4, 3)), scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    gs = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    lp = [lamina.zeros(*s, dtype=lamina.float64 if dtype == np.float64 else lamina.float32,
                       requires_grad=True) for s in shapes]
    tp = [torch.zeros(s, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                      requires_grad=True) for s in shapes]
    for p, q, g in zip(lp, tp, gs):
        p.grad = lamina.tensor(g)
        q.grad = torch.tensor(g)
    return lp, tp


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, float("inf"), 3.0, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clips / leaves alone
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    lp, tp = _grad_pairs(21, dtype=dtype)
    total = lamina.nn.utils.clip_grad_norm_(lp, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert isinstance(total, lamina.Tensor) and total.shape == ()
    assert str(total.dtype) == str(ttotal.dtype).replace("torch", "lamina")
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(float(total), float(ttotal), rtol=rtol)
    for p, q in zip(lp, tp):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_single_tensor_none_grads_and_large():
    lp, tp = _grad_pairs(22, shapes=((301, 203), (40001,)))
    lp.append(lamina.zeros(3, requires_grad=True))  # no grad: ignored
    tp.append(torch.zeros(3, requires_grad=True))
    total = lamina.nn.utils.clip_grad_norm_(lp, 10.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tp, 10.0)
    np.testing.assert_allclose(float(total), float(ttotal), rtol=1e-5)
    for p, q in zip(lp[:2], tp[:2]):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-8)
    assert lp[2].grad is None
    # a single tensor, not a list
    w = lamina.zeros(2, requires_grad=True)
    w.grad = lamina.tensor([3.0, 4.0])
    assert float(lamina.nn.utils.clip_grad_norm_(w, 1.0)) == 5.0
    # nothing to clip
    assert float(lamina.nn.utils.clip_grad_norm_([lamina.zeros(2, requires_grad=True)], 1.0)) == 0.0


def test_clip_grad_norm_nonfinite():
    lp, tp = _grad_pairs(23)
    with lamina.no_grad():
        lp[1].grad.fill_(float("inf"))
    tp[1].grad.fill_(float("inf"))
    with pytest.raises(RuntimeError, match="non-finite"):
        lamina.nn.utils.clip_grad_norm_(lp, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True)
    for norm_type in (2.0, float("inf")):
        lp, tp = _grad_pairs(24)
        with lamina.no_grad():
            lp[0].grad[1, 2] = float("nan")
        tp[0].grad[1, 2] = float("nan")
        with pytest.raises(RuntimeError, match="non-finite"):
            lamina.nn.utils.clip_grad_norm_(lp, 1.0, norm_type=norm_type, error_if_nonfinite=True)
        total = lamina.nn.utils.clip_grad_norm_(lp, 1.0, norm_type=norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tp, 1.0, norm_type=norm_type)
        assert np.isnan(float(total)) and np.isnan(float(ttotal))


def test_clip_grad_value_matches_torch():
    lp, tp = _grad_pairs(25)
    lamina.nn.utils.clip_grad_value_(lp, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for p, q in zip(lp, tp):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_get_total_norm_and_deprecated_alias():
    lp, tp = _grad_pairs(26)
    n = lamina.nn.utils.get_total_norm([p.grad for p in lp], 2.0)
    tn = torch.nn.utils.get_total_norm([p.grad for p in tp], 2.0)
    np.testing.assert_allclose(float(n), float(tn), rtol=1e-5)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        lamina.nn.utils.clip_grad_norm(lp, 1.0)
    assert any(issubclass(x.category, FutureWarning) for x in w)
