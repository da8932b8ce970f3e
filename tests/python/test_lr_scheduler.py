"""lamina.optim.lr_scheduler against torch.optim.lr_scheduler: the learning rates (and, for
OneCycleLR, the momenta / Adam beta1) of every param group after each of 100 steps, for every
scheduler and option combination; resuming, state_dict round trips, warnings and bad input.

The schedules are Python float arithmetic with torch's formulas in torch's order, so the
sequences are compared for exact equality.
"""

from __future__ import annotations

import itertools
import math
import warnings

import pytest

import lamina
from lamina import optim
from lamina.optim import lr_scheduler

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0): parity test skipped")

STEPS = 100
LOPT = {"SGD": optim.SGD, "Adam": optim.Adam, "AdamW": optim.AdamW, "RMSprop": optim.RMSprop}
TOPT = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
        "RMSprop": torch.optim.RMSprop}


def _optimizers(opt="SGD", opt_kwargs=None, group_lrs=(0.1, 0.03)):
    opt_kwargs = {"momentum": 0.9} if opt_kwargs is None and opt == "SGD" else (opt_kwargs or {})
    lgroups = [{"params": [lamina.zeros(3, requires_grad=True)], "lr": lr} for lr in group_lrs]
    tgroups = [{"params": [torch.zeros(3, requires_grad=True)], "lr": lr} for lr in group_lrs]
    return LOPT[opt](lgroups, **opt_kwargs), TOPT[opt](tgroups, **opt_kwargs)


def _snapshot(opt):
    out = []
    for g in opt.param_groups:
        out.append((g["lr"], g.get("momentum"), tuple(g["betas"]) if "betas" in g else None))
    return out


def _compare(lopt, topt, lsched, tsched, where):
    assert lsched.get_last_lr() == tsched.get_last_lr(), where
    assert _snapshot(lopt) == _snapshot(topt), where
    assert lsched.last_epoch == tsched.last_epoch, where


def _run(name, kwargs, *, opt="SGD", opt_kwargs=None, steps=STEPS, metrics=None, group_lrs=(0.1, 0.03)):
    lopt, topt = _optimizers(opt, opt_kwargs, group_lrs)
    lsched = getattr(lr_scheduler, name)(lopt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    _compare(lopt, topt, lsched, tsched, f"{name}{kwargs} init")
    history = []
    for s in range(steps):
        lopt.step()
        topt.step()
        args = () if metrics is None else (metrics[s],)
        lsched.step(*args)
        tsched.step(*args)
        _compare(lopt, topt, lsched, tsched, f"{name}{kwargs} step {s}")
        history.append(lsched.get_last_lr())
    return lopt, topt, lsched, tsched, history


@pytest.mark.parametrize("step_size,gamma", [(1, 0.9), (7, 0.5), (30, 0.1)])
def test_step_lr(step_size, gamma):
    *_, history = _run("StepLR", dict(step_size=step_size, gamma=gamma))
    assert len({h[0] for h in history}) > 1  # the rate did change


@pytest.mark.parametrize("milestones,gamma", [([10, 30, 80], 0.1), ([5, 30, 30, 64], 0.5), ([200], 0.1)])
def test_multistep_lr(milestones, gamma):
    _run("MultiStepLR", dict(milestones=milestones, gamma=gamma))


@pytest.mark.parametrize("gamma", [0.97, 0.5, 1.0])
def test_exponential_lr(gamma):
    _run("ExponentialLR", dict(gamma=gamma))


@pytest.mark.parametrize("T_max,eta_min", [(100, 0.0), (30, 0.0), (17, 1e-3), (7, 0.01)])
def test_cosine_annealing_lr(T_max, eta_min):
    # T_max < steps runs through the minimum and back up (torch's recursive form, restarts path)
    *_, history = _run("CosineAnnealingLR", dict(T_max=T_max, eta_min=eta_min))
    if T_max == 100:  # the recursion stays close to the closed form
        for t, h in enumerate(history, 1):
            want = eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2
            assert abs(h[0] - want) <= 1e-12


def _one_cycle_cases():
    for strategy, three_phase, cycle in itertools.product(["cos", "linear"], [False, True], [True, False]):
        yield dict(max_lr=[0.5, 0.2], total_steps=STEPS, anneal_strategy=strategy,
                   three_phase=three_phase, cycle_momentum=cycle)
    yield dict(max_lr=0.3, epochs=10, steps_per_epoch=10, pct_start=0.25, div_factor=10.0,
               final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.99)


@pytest.mark.parametrize("opt,opt_kwargs", [("SGD", {"momentum": 0.9}), ("Adam", {}), ("AdamW", {})],
                         ids=["SGD", "Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", list(_one_cycle_cases()), ids=str)
def test_one_cycle_lr(kwargs, opt, opt_kwargs):
    lopt, topt, lsched, tsched, history = _run("OneCycleLR", kwargs, opt=opt, opt_kwargs=opt_kwargs)
    assert max(h[0] for h in history) > history[-1][0]
    # past the end, both refuse
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        lsched.step()
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        tsched.step()


def test_one_cycle_lr_trains_with_adam():
    # beta1 written by the scheduler is the one the fused kernel uses: the trajectories agree.
    import numpy as np

    rng = np.random.default_rng(0)
    init = rng.standard_normal(11).astype(np.float32)
    lp = lamina.tensor(init, requires_grad=True)
    tp = torch.tensor(init, requires_grad=True)
    lopt, topt = optim.Adam([lp]), torch.optim.Adam([tp])
    ls = lr_scheduler.OneCycleLR(lopt, max_lr=0.1, total_steps=30)
    ts = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.1, total_steps=30)
    for _ in range(30):
        g = rng.standard_normal(11).astype(np.float32)
        lp.grad, tp.grad = lamina.tensor(g), torch.tensor(g)
        lopt.step()
        topt.step()
        ls.step()
        ts.step()
    np.testing.assert_allclose(lp.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)


METRICS = ([10.0, 9.0, 8.5, 8.5, 8.49995, 8.6, 8.7, 8.0, 8.0, 8.0, 8.0, 8.0, 7.0, 7.0, 7.2]
           + [7.0 - 0.001 * (i % 3) for i in range(40)] + [6.0 + 0.5 * math.sin(i) for i in range(45)])


def _plateau_cases():
    for mode, threshold_mode, patience, cooldown in itertools.product(
            ["min", "max"], ["rel", "abs"], [0, 3], [0, 2]):
        yield dict(mode=mode, threshold_mode=threshold_mode, patience=patience, cooldown=cooldown,
                   factor=0.5, threshold=1e-3)
    yield dict(min_lr=[0.01, 0.02], factor=0.3, patience=1)
    yield dict(min_lr=0.05, patience=2, eps=1e-2)
    yield dict()


@pytest.mark.parametrize("kwargs", list(_plateau_cases()), ids=str)
def test_reduce_lr_on_plateau(kwargs):
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    *_, history = _run("ReduceLROnPlateau", kwargs, metrics=metrics)
    if kwargs.get("patience", 10) == 0:
        assert history[-1][0] < 0.1


def test_reduce_lr_on_plateau_accepts_tensor_metric_and_state_dict():
    lopt, topt = _optimizers()
    ls = lr_scheduler.ReduceLROnPlateau(lopt, patience=1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1)
    for m in METRICS[:20]:
        ls.step(lamina.tensor(m))
        ts.step(torch.tensor(m))
    assert ls.get_last_lr() == ts.get_last_lr()
    assert set(ls.state_dict()) == set(ts.state_dict())
    lopt2, _ = _optimizers()
    ls2 = lr_scheduler.ReduceLROnPlateau(lopt2, patience=7, mode="max")
    ls2.load_state_dict(ls.state_dict())
    assert ls2.patience == 1 and ls2.mode == "min" and ls2.best == ls.best


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[10, 30, 45], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=20, eta_min=1e-3)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS)),
])
def test_state_dict_round_trip_and_keys(name, kwargs):
    lopt, topt, lsched, tsched, _ = _run(name, kwargs, steps=30)
    sd = lsched.state_dict()
    assert set(sd) == set(tsched.state_dict())
    # reference: keep going
    ref = []
    for _ in range(30):
        lopt.step()
        lsched.step()
        ref.append(lsched.get_last_lr())
    # restore into a new optimizer + scheduler after 30 steps
    lopt2, _ = _optimizers()
    osd = lopt.state_dict()
    sched2 = getattr(lr_scheduler, name)(lopt2, **kwargs)
    lsched.load_state_dict(sd)  # no-op on the original, just exercised
    sched2.load_state_dict(sd)
    for g, saved in zip(lopt2.param_groups, osd["param_groups"]):
        g.update({k: v for k, v in saved.items() if k != "params"})
    # rewind the optimizer's lrs to where the schedule was after 30 steps
    for g, lr in zip(lopt2.param_groups, sd["_last_lr"]):
        g["lr"] = lr
    got = []
    for _ in range(30):
        lopt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == ref


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=5, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 12], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=1e-3)),
])
def test_resume_with_last_epoch_and_closed_form(name, kwargs):
    lopt, topt = _optimizers()
    for o in (lopt, topt):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
    lsched = getattr(lr_scheduler, name)(lopt, last_epoch=7, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, last_epoch=7, **kwargs)
    _compare(lopt, topt, lsched, tsched, "resume")
    for s in range(20):
        lopt.step()
        topt.step()
        lsched.step()
        tsched.step()
        _compare(lopt, topt, lsched, tsched, f"resume step {s}")
    # step(epoch) uses the closed form (with torch's deprecation warning)
    with pytest.warns(UserWarning, match="epoch parameter"):
        lsched.step(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tsched.step(4)
    _compare(lopt, topt, lsched, tsched, "closed form")


def test_resume_without_initial_lr_raises():
    lopt, _ = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(lopt, step_size=3, last_epoch=5)


def test_warns_when_scheduler_steps_before_optimizer():
    lopt, _ = _optimizers()
    sched = lr_scheduler.StepLR(lopt, step_size=3)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    lopt2, _ = _optimizers()
    sched2 = lr_scheduler.ExponentialLR(lopt2, gamma=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lopt2.step()
        sched2.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched2.get_lr()


def test_bad_arguments():
    lopt, _ = _optimizers()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.OneCycleLR(object(), max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="You must define either total_steps"):
        lr_scheduler.OneCycleLR(lopt, max_lr=0.1)
    with pytest.raises(ValueError, match="Expected positive integer total_steps"):
        lr_scheduler.OneCycleLR(lopt, max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="Expected positive integer epochs"):
        lr_scheduler.OneCycleLR(lopt, max_lr=0.1, epochs=0, steps_per_epoch=3)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(lopt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(lopt, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(lopt, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(lopt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        lr_scheduler.ReduceLROnPlateau(lopt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown"):
        lr_scheduler.ReduceLROnPlateau(lopt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(lopt, min_lr=[0.1, 0.1, 0.1])

    class NoMomentum(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(NoMomentum([lamina.zeros(1, requires_grad=True)]), max_lr=0.1,
                                total_steps=10)
