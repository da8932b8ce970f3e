"""Losses: float64 gradient checks and float32 forward/backward parity with PyTorch over every
combination of reduction, weight, ignore_index, label_smoothing, shape and target kind;
stability at logits of +-1e4; the loss modules; bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from helpers import TORCH_REASON, to_numpy

import lamina
import lamina.nn as nn
import lamina.nn.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)

REDUCTIONS = ("none", "mean", "sum")
rng = np.random.default_rng(2024)


def _lamina(a, dtype, requires_grad):
    if a.dtype.kind == "f":
        return lamina.tensor(a.astype(dtype), requires_grad=requires_grad)
    return lamina.tensor(a)


def check_loss(lamina_fn, torch_fn, arrays: dict, grad=("input",), gradcheck=True,
               rtol=1e-5, atol=1e-6, **kwargs):
    """``lamina_fn(**arrays, **kwargs)`` against ``torch_fn`` with the same arguments: a float64
    gradcheck w.r.t. the arrays named in ``grad``, then float32 forward and backward parity
    (upstream gradient random for reduction='none'). Integer arrays stay int64; None passes
    through."""
    arrays = {n: None if a is None else np.asarray(a) for n, a in arrays.items()}
    names = list(arrays)

    def call(fn, values):
        return fn(**dict(zip(names, values)), **kwargs)

    if gradcheck:
        xs = [None if a is None else _lamina(a, np.float64, n in grad) for n, a in arrays.items()]
        assert lamina.autograd.gradcheck(lambda *v: call(lamina_fn, v), xs, eps=1e-6, atol=1e-5,
                                         rtol=1e-4)
    if torch is None:
        pytest.skip(TORCH_REASON)
    xs = [None if a is None else _lamina(a, np.float32, n in grad) for n, a in arrays.items()]
    ts = [None if a is None else
          torch.tensor(a.astype(np.float32) if a.dtype.kind == "f" else a,
                       requires_grad=(n in grad and a.dtype.kind == "f"))
          for n, a in arrays.items()]
    out = call(lamina_fn, xs)
    ref = call(torch_fn, ts)
    assert tuple(out.shape) == tuple(ref.shape), f"shape {tuple(out.shape)} != torch {tuple(ref.shape)}"
    assert out.dtype == lamina.float32
    o, r = to_numpy(out), to_numpy(ref)
    assert np.isnan(o).sum() == np.isnan(r).sum()
    np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)
    g = rng.standard_normal(tuple(ref.shape)).astype(np.float32)
    out.backward(lamina.tensor(g))
    ref.backward(torch.tensor(g))
    scale = max(float(np.abs(r).max()) if r.size else 0.0, 1.0)
    for n, x, t in zip(names, xs, ts):
        if n not in grad:
            continue
        assert x.grad is not None, f"lamina produced no gradient for '{n}' where torch did"
        np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), rtol=10 * rtol,
                                   atol=10 * atol * scale, err_msg=f"gradient of '{n}'")


# ---------------------------------------------------------------- data

SHAPES = {"NC": (5, 7), "NCdd": (3, 5, 3, 2), "unbatched": (7,)}


def logits(shape, scale=2.0):
    return rng.uniform(-scale, scale, size=shape)


def class_indices(shape, ignore):
    """Int64 class indices for an input of `shape`, some of them `ignore` when it is given."""
    C = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    y = rng.integers(0, C, size=tshape).astype(np.int64)
    if ignore is not None and y.size > 1:
        flat = y.reshape(-1)
        flat[::3] = ignore  # a third of the targets ignored, never all of them
        if ignore >= 0:  # an in-range ignore_index: the others avoid that class
            keep = np.arange(flat.size) % 3 != 0
            flat[keep & (flat == ignore)] = (ignore + 1) % C
    return y


def class_weight(shape):
    C = shape[0] if len(shape) == 1 else shape[1]
    return rng.uniform(0.2, 2.0, size=(C,))


# ---------------------------------------------------------------- cross_entropy


CE_GRID = list(itertools.product(REDUCTIONS, (False, True), (None, -100, 3), (0.0, 0.1), SHAPES))


@pytest.mark.parametrize("reduction,weighted,ignore,smoothing,shape", CE_GRID)
def test_cross_entropy_class_indices(reduction, weighted, ignore, smoothing, shape):
    shape = SHAPES[shape]
    x = logits(shape)
    y = class_indices(shape, ignore)
    w = class_weight(shape) if weighted else None
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    check_loss(F.cross_entropy, TF.cross_entropy if TF else None,
               {"input": x, "target": y, "weight": w}, **kwargs)


@pytest.mark.parametrize("reduction,weighted,smoothing,shape",
                         list(itertools.product(REDUCTIONS, (False, True), (0.0, 0.1), SHAPES)))
def test_cross_entropy_class_probabilities(reduction, weighted, smoothing, shape):
    shape = SHAPES[shape]
    x = logits(shape)
    class_dim = 0 if len(shape) == 1 else 1
    p = rng.uniform(0.05, 1.0, size=shape)
    p /= p.sum(axis=class_dim, keepdims=True)
    w = class_weight(shape) if weighted else None
    # torch differentiates the probabilities and (for probability targets) the weight.
    grad = ("input", "target", "weight") if weighted else ("input", "target")
    check_loss(F.cross_entropy, TF.cross_entropy if TF else None,
               {"input": x, "target": p, "weight": w}, grad=grad, reduction=reduction,
               label_smoothing=smoothing)


@needs_torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_all_targets_ignored(reduction):
    # mean over no targets is NaN (as torch); the gradient is zero.
    x = logits((4, 3)).astype(np.float32)
    y = np.full((4,), -100, dtype=np.int64)
    lx = lamina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out = F.cross_entropy(lx, lamina.tensor(y), reduction=reduction, label_smoothing=0.1)
    ref = TF.cross_entropy(tx, torch.tensor(y), reduction=reduction, label_smoothing=0.1)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(ref))
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_array_equal(to_numpy(lx.grad), np.zeros_like(x))
    np.testing.assert_array_equal(to_numpy(tx.grad), np.zeros_like(x))
    # unbatched, its one target ignored
    u = F.cross_entropy(lamina.tensor(x[0]), lamina.tensor(np.int64(1)), ignore_index=1,
                        reduction=reduction)
    r = TF.cross_entropy(torch.tensor(x[0]), torch.tensor(1), ignore_index=1, reduction=reduction)
    np.testing.assert_array_equal(to_numpy(u), to_numpy(r))


@needs_torch
def test_cross_entropy_larger_inputs_match_torch():
    # A long reduction (rtol 1e-4) and a segmentation-like (N, C, H, W) input, threads on.
    for shape in [(513, 37), (4, 11, 17, 19)]:
        x = logits(shape, 8.0)
        y = class_indices(shape, -100)
        for ls in (0.0, 0.2):
            check_loss(F.cross_entropy, TF.cross_entropy, {"input": x, "target": y},
                       gradcheck=False, rtol=1e-4, label_smoothing=ls)


@needs_torch
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_stable_at_huge_logits(target_kind):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype=np.float32)
    if target_kind == "indices":
        y = np.array([1, 0, 2], dtype=np.int64)
    else:
        y = np.array([[0.0, 1.0, 0.0], [0.5, 0.25, 0.25], [0.2, 0.3, 0.5]], dtype=np.float32)
    for reduction in REDUCTIONS:
        for ls in (0.0, 0.1):
            lx = lamina.tensor(x, requires_grad=True)
            tx = torch.tensor(x, requires_grad=True)
            out = F.cross_entropy(lx, lamina.tensor(y), reduction=reduction, label_smoothing=ls)
            ref = TF.cross_entropy(tx, torch.tensor(y), reduction=reduction, label_smoothing=ls)
            assert np.isfinite(to_numpy(out)).all()
            np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-5)
            out.sum().backward()
            ref.sum().backward()
            assert np.isfinite(to_numpy(lx.grad)).all()
            np.testing.assert_allclose(to_numpy(lx.grad), to_numpy(tx.grad), rtol=1e-5, atol=1e-6)


@needs_torch
def test_non_contiguous_inputs():
    # transposed logits and targets, a broadcast (stride-0) target, an expanded upstream gradient
    x = logits((6, 4, 5)).astype(np.float32)
    y = class_indices((4, 5, 6), -100)  # (4, 6), labels < 5
    lx = lamina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out = F.cross_entropy(lx.transpose(1, 2), lamina.tensor(y).transpose(0, 1), reduction="none")
    ref = TF.cross_entropy(tx.transpose(1, 2), torch.tensor(y).transpose(0, 1), reduction="none")
    np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(to_numpy(lx.grad), to_numpy(tx.grad), rtol=1e-5, atol=1e-6)
    a = rng.uniform(-2, 2, (5, 3)).astype(np.float32)
    la, ta = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    lt = lamina.tensor(a[0]).expand(5, 3)
    for fn, tfn in [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss),
                    (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits)]:
        la.grad, ta.grad = None, None
        out = fn(la.T, lt.T * 0.5 + 0.25)
        ref = tfn(ta.T, torch.tensor(a[0]).expand(5, 3).T * 0.5 + 0.25)
        np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
        out.backward()
        ref.backward()
        np.testing.assert_allclose(to_numpy(la.grad), to_numpy(ta.grad), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- nll_loss


@pytest.mark.parametrize("reduction,weighted,ignore,shape",
                         list(itertools.product(REDUCTIONS, (False, True), (None, -100, 3), SHAPES)))
def test_nll_loss(reduction, weighted, ignore, shape):
    shape = SHAPES[shape]
    x = -rng.uniform(0.1, 3.0, size=shape)  # log-probabilities
    y = class_indices(shape, ignore)
    w = class_weight(shape) if weighted else None
    kwargs = {"reduction": reduction}
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    check_loss(F.nll_loss, TF.nll_loss if TF else None, {"input": x, "target": y, "weight": w},
               **kwargs)


@needs_torch
def test_nll_after_log_softmax_equals_cross_entropy():
    x = logits((6, 5))
    y = class_indices((6, 5), None)
    tx = torch.tensor(x)
    logp = lamina.tensor(to_numpy(torch.log_softmax(tx, 1)))
    np.testing.assert_allclose(F.nll_loss(logp, lamina.tensor(y)).item(),
                               F.cross_entropy(lamina.tensor(x), lamina.tensor(y)).item(), rtol=1e-12)


# ---------------------------------------------------------------- mse_loss, l1_loss

POINTWISE_SHAPES = {"same": ((4, 5), (4, 5)), "broadcast": ((3, 1, 5), (4, 5)), "0-d": ((), ())}


def _pair(shapes, l1):
    if l1:  # |x - t| >= 0.2: away from the kink of |.| at 0
        x = rng.choice([-1.0, 1.0], size=shapes[0]) * rng.uniform(0.3, 2.0, size=shapes[0])
        return x, rng.uniform(-0.1, 0.1, size=shapes[1])
    return rng.uniform(-2, 2, size=shapes[0]), rng.uniform(-2, 2, size=shapes[1])


@pytest.mark.parametrize("op,reduction,shapes,weighted",
                         list(itertools.product(("mse_loss", "l1_loss"), REDUCTIONS, POINTWISE_SHAPES,
                                                (False, True))))
def test_mse_l1(op, reduction, shapes, weighted):
    shapes = POINTWISE_SHAPES[shapes]
    x, t = _pair(shapes, op == "l1_loss")
    w = rng.uniform(0.2, 2.0, size=shapes[0]) if weighted else None
    grad = ("input", "target", "weight") if weighted else ("input", "target")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the broadcast case warns, in both libraries
        check_loss(getattr(F, op), getattr(TF, op) if TF else None,
                   {"input": x, "target": t, "weight": w}, grad=grad, reduction=reduction)


def test_mse_broadcast_warns():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(lamina.zeros(3, 4), lamina.zeros(4))


# ---------------------------------------------------------------- binary cross entropy

BCE_WEIGHTS = {"none": None, "full": (4, 5), "per-column": (5,)}


@pytest.mark.parametrize("reduction,weight", list(itertools.product(REDUCTIONS, BCE_WEIGHTS)))
def test_binary_cross_entropy(reduction, weight):
    x = rng.uniform(0.05, 0.95, size=(4, 5))
    t = rng.uniform(0.0, 1.0, size=(4, 5))
    w = None if BCE_WEIGHTS[weight] is None else rng.uniform(0.2, 2.0, size=BCE_WEIGHTS[weight])
    check_loss(F.binary_cross_entropy, TF.binary_cross_entropy if TF else None,
               {"input": x, "target": t, "weight": w}, grad=("input", "target"), reduction=reduction)


@needs_torch
def test_binary_cross_entropy_clamps_log_at_0_and_1():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3], dtype=np.float32)
    lx = lamina.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out = F.binary_cross_entropy(lx, lamina.tensor(t), reduction="none")
    ref = TF.binary_cross_entropy(tx, torch.tensor(t), reduction="none")
    np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-6)
    assert to_numpy(out)[0] == 100.0
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(to_numpy(lx.grad), to_numpy(tx.grad), rtol=1e-6)


@pytest.mark.parametrize("reduction,weighted,pos_weighted",
                         list(itertools.product(REDUCTIONS, (False, True), (False, True))))
def test_binary_cross_entropy_with_logits(reduction, weighted, pos_weighted):
    x = rng.uniform(-3, 3, size=(4, 5))
    t = rng.uniform(0.0, 1.0, size=(4, 5))
    w = rng.uniform(0.2, 2.0, size=(4, 1)) if weighted else None
    pw = rng.uniform(0.5, 3.0, size=(5,)) if pos_weighted else None
    check_loss(F.binary_cross_entropy_with_logits,
               TF.binary_cross_entropy_with_logits if TF else None,
               {"input": x, "target": t, "weight": w, "pos_weight": pw}, grad=("input", "target"),
               reduction=reduction)


def test_binary_cross_entropy_with_logits_broadcasts_pos_weight():
    # weight and pos_weight broadcast to the input's shape, (C,) and (N, 1) against (N, C), but
    # never beyond it (torch refuses that too).
    x, t = rng.uniform(-2, 2, (4, 5)), rng.uniform(0, 1, (4, 5))
    check_loss(F.binary_cross_entropy_with_logits,
               TF.binary_cross_entropy_with_logits if TF else None,
               {"input": x, "target": t, "weight": rng.uniform(0.5, 2, (5,)),
                "pos_weight": rng.uniform(0.5, 2, (4, 1))}, grad=("input", "target"),
               reduction="none")
    with pytest.raises(ValueError, match=r"'pos_weight' of shape \[2, 5\] does not broadcast to the "
                                         r"input's shape \[5\]"):
        F.binary_cross_entropy_with_logits(lamina.zeros(5), lamina.zeros(5),
                                           pos_weight=lamina.ones(2, 5))


@needs_torch
def test_binary_cross_entropy_with_logits_stable_at_huge_logits():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5], dtype=np.float32)
    pw = np.full((5,), 2.0, dtype=np.float32)
    for p in (None, pw):
        lx = lamina.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        out = F.binary_cross_entropy_with_logits(
            lx, lamina.tensor(t), reduction="none", pos_weight=None if p is None else lamina.tensor(p))
        ref = TF.binary_cross_entropy_with_logits(
            tx, torch.tensor(t), reduction="none", pos_weight=None if p is None else torch.tensor(p))
        assert np.isfinite(to_numpy(out)).all()
        np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-6)
        out.sum().backward()
        ref.sum().backward()
        assert np.isfinite(to_numpy(lx.grad)).all()
        np.testing.assert_allclose(to_numpy(lx.grad), to_numpy(tx.grad), rtol=1e-6)


def _bce_logits_truth(x, t, pw):
    """Loss and gradients of binary_cross_entropy_with_logits in float64, without cancellation:
    (1 - t) x - lw log_sigmoid(x) = lin + lw log1p(exp(-|x|)), lin = (1 - t) x (x >= 0) or
    -pw t x (x < 0); torch's float32 forward loses such tails (x - x = 0 where the loss is 1e-30)."""
    x, t, pw = (np.asarray(v, dtype=np.float64) for v in (x, t, pw))
    lw = 1 + (pw - 1) * t
    e = np.exp(-np.abs(x))
    L = np.log1p(e)
    loss = np.where(x >= 0, (1 - t) * x, -pw * t * x) + lw * L
    s = e / (1 + e)
    gx = np.where(x >= 0, (1 - t) - lw * s, lw * s - pw * t)
    gt = np.where(x >= 0, -x, -pw * x) + (pw - 1) * L
    return loss, gx, gt


@needs_torch
def test_bce_losses_elementwise_over_wide_ranges():
    # float32 exp/log/log1p are our own (vectorised): every element, forward and backward, to a
    # relative 1e-5 of a float64 evaluation, from the tails (log1p(e^-69) = 1e-30) to subnormal
    # probabilities; and to torch's float32 within its own rounding.
    x = np.concatenate([np.linspace(-120, 120, 4801), [-1e4, 1e4, 0.0, 1e-7, -1e-7]]).astype(np.float32)
    for t_value in (0.0, 0.3, 1.0):
        t = np.full_like(x, t_value)
        pw = np.full_like(x, 2.5)
        lx, lt = lamina.tensor(x, requires_grad=True), lamina.tensor(t, requires_grad=True)
        tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
        out = F.binary_cross_entropy_with_logits(lx, lt, reduction="none", pos_weight=lamina.tensor(pw))
        ref = TF.binary_cross_entropy_with_logits(tx, tt, reduction="none", pos_weight=torch.tensor(pw))
        out.sum().backward()
        ref.sum().backward()
        loss, gx, gt = _bce_logits_truth(x, t, pw)
        np.testing.assert_allclose(to_numpy(out), loss, rtol=1e-5, atol=1e-38)
        np.testing.assert_allclose(to_numpy(lx.grad), gx, rtol=1e-5, atol=1e-38)
        np.testing.assert_allclose(to_numpy(lt.grad), gt, rtol=1e-5, atol=1e-38)
        for mine, theirs in [(out, ref), (lx.grad, tx.grad), (lt.grad, tt.grad)]:
            np.testing.assert_allclose(to_numpy(mine), to_numpy(theirs), rtol=1e-5,
                                       atol=1e-6 * max(1.0, float(np.abs(to_numpy(theirs)).max())))
    p = np.concatenate([np.geomspace(1e-44, 1.0, 3001), 1.0 - np.geomspace(1e-7, 0.5, 301)])
    p = p.astype(np.float32)
    p64 = p.astype(np.float64)
    for t_value in (0.0, 0.3, 1.0):
        t = np.full_like(p, t_value)
        lp, tp = lamina.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
        out = F.binary_cross_entropy(lp, lamina.tensor(t), reduction="none")
        ref = TF.binary_cross_entropy(tp, torch.tensor(t), reduction="none")
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100
            loss = (t_value - 1) * np.maximum(np.log1p(-p64), -100) - t_value * np.maximum(np.log(p64), -100)
        np.testing.assert_allclose(to_numpy(out), loss, rtol=1e-5, atol=1e-38)
        np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-5, atol=1e-38)
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(to_numpy(lp.grad), to_numpy(tp.grad), rtol=1e-5, atol=1e-38)


# ---------------------------------------------------------------- legacy arguments, grad modes


@needs_torch
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True),
                                                 (False, True)])
def test_legacy_size_average_and_reduce(size_average, reduce):
    x = logits((5, 4)).astype(np.float32)
    y = class_indices((5, 4), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.cross_entropy(lamina.tensor(x), lamina.tensor(y), size_average=size_average,
                              reduce=reduce)
        ref = TF.cross_entropy(torch.tensor(x), torch.tensor(y), size_average=size_average,
                               reduce=reduce)
        np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-6)
        out = nn.MSELoss(size_average, reduce)(lamina.tensor(x), lamina.tensor(x * 0.5))
        ref = torch.nn.MSELoss(size_average, reduce)(torch.tensor(x), torch.tensor(x * 0.5))
        np.testing.assert_allclose(to_numpy(out), to_numpy(ref), rtol=1e-6)


def test_float64_in_float64_out_and_no_grad():
    x = lamina.tensor(logits((3, 4)), dtype=lamina.float64, requires_grad=True)
    y = lamina.tensor(class_indices((3, 4), None))
    with lamina.no_grad():
        out = F.cross_entropy(x, y)
    assert out.dtype == lamina.float64 and out.grad_fn is None
    out = F.cross_entropy(x, y)
    out.backward()
    assert x.grad.dtype == lamina.float64


def test_weight_requiring_grad_is_refused_where_torch_refuses():
    x = lamina.randn(3, 4, requires_grad=True)
    w = lamina.rand(4, requires_grad=True)
    y = lamina.tensor([0, 1, 2])
    for call in [lambda: F.cross_entropy(x, y, weight=w), lambda: F.nll_loss(x, y, weight=w),
                 lambda: F.binary_cross_entropy(x.sigmoid(), x.sigmoid().detach(), weight=w),
                 lambda: F.binary_cross_entropy_with_logits(x, x.detach(), weight=w),
                 lambda: F.binary_cross_entropy_with_logits(x, x.detach(), pos_weight=w)]:
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            call()
    with lamina.no_grad():
        F.nll_loss(x, y, weight=w)


# ---------------------------------------------------------------- modules


MODULE_CASES = [
    ("CrossEntropyLoss", {}, "ce_idx"),
    ("CrossEntropyLoss", {"weight": True, "ignore_index": 1, "reduction": "sum",
                          "label_smoothing": 0.1}, "ce_idx"),
    ("CrossEntropyLoss", {"weight": True, "reduction": "none", "label_smoothing": 0.2}, "ce_prob"),
    ("NLLLoss", {"weight": True, "reduction": "mean", "ignore_index": 2}, "nll"),
    ("MSELoss", {"reduction": "sum"}, "pair"),
    ("L1Loss", {}, "pair"),
    ("BCELoss", {"weight": True}, "bce"),
    ("BCEWithLogitsLoss", {"weight": True, "pos_weight": True, "reduction": "none"}, "pair"),
]


def _module_data(kind):
    if kind == "ce_idx":
        return logits((6, 5, 3)), class_indices((6, 5, 3), None)
    if kind == "ce_prob":
        p = rng.uniform(0.05, 1.0, size=(6, 5, 3))
        return logits((6, 5, 3)), p / p.sum(1, keepdims=True)
    if kind == "nll":
        return -rng.uniform(0.1, 3.0, size=(6, 5)), class_indices((6, 5), None)
    if kind == "bce":
        return rng.uniform(0.05, 0.95, size=(6, 5)), rng.uniform(0, 1, size=(6, 5))
    return rng.uniform(-2, 2, size=(6, 5)), rng.uniform(0, 1, size=(6, 5))


@needs_torch
@pytest.mark.parametrize("name,kwargs,kind", MODULE_CASES)
def test_loss_modules_match_torch(name, kwargs, kind):
    x, t = _module_data(kind)
    C = 5
    lkw, tkw = {}, {}
    for k, v in kwargs.items():
        if v is True:  # a tensor argument
            arr = rng.uniform(0.5, 2.0, size=(C,)).astype(np.float32)
            lkw[k], tkw[k] = lamina.tensor(arr), torch.tensor(arr)
        else:
            lkw[k] = tkw[k] = v
    mod = getattr(nn, name)(**lkw)
    ref = getattr(torch.nn, name)(**tkw)
    assert isinstance(mod, nn.Module)
    assert mod.reduction == ref.reduction
    # weight and pos_weight are buffers (saved with the model, not trained), as in torch
    assert sorted(mod.state_dict()) == sorted(ref.state_dict())
    assert list(mod.parameters()) == []
    for k in mod.state_dict():
        np.testing.assert_array_equal(to_numpy(mod.state_dict()[k]), ref.state_dict()[k].numpy())
    lx = lamina.tensor(x.astype(np.float32), requires_grad=True)
    tx = torch.tensor(x.astype(np.float32), requires_grad=True)
    lt = lamina.tensor(t.astype(np.float32) if t.dtype.kind == "f" else t)
    tt = torch.tensor(t.astype(np.float32) if t.dtype.kind == "f" else t)
    out, r = mod(lx, lt), ref(tx, tt)
    np.testing.assert_allclose(to_numpy(out), to_numpy(r), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    r.sum().backward()
    np.testing.assert_allclose(to_numpy(lx.grad), to_numpy(tx.grad), rtol=1e-4, atol=1e-6)
    assert name in repr(mod)


@needs_torch
def test_loss_module_state_dict_round_trip_and_double():
    w = rng.uniform(0.5, 2.0, size=(4,)).astype(np.float32)
    mod = nn.CrossEntropyLoss(weight=lamina.tensor(w))
    ref = torch.nn.CrossEntropyLoss(weight=torch.zeros(4))
    ref.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in mod.state_dict().items()})
    np.testing.assert_array_equal(ref.weight.numpy(), w)
    back = nn.CrossEntropyLoss(weight=lamina.zeros(4))
    back.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    np.testing.assert_array_equal(to_numpy(back.weight), w)
    mod.double()
    assert mod.weight.dtype == lamina.float64
    x = lamina.tensor(logits((3, 4)), dtype=lamina.float64)
    assert mod(x, lamina.tensor([0, 1, 3])).dtype == lamina.float64
    assert nn.CrossEntropyLoss().weight is None
    assert "weight" not in nn.CrossEntropyLoss().state_dict()


# ---------------------------------------------------------------- bad input


def test_labels_out_of_range():
    x = lamina.randn(4, 10)
    for bad in (10, -1, 57):
        y = lamina.tensor([0, 3, bad, 1])
        for fn in (F.cross_entropy, F.nll_loss):
            name = fn.__name__
            with pytest.raises(IndexError, match=rf"lamina\.{name}: target label {bad} is out of "
                                                 r"range for 10 classes"):
                fn(x, y)
    # -1 is fine when it is the ignore_index
    F.cross_entropy(x, lamina.tensor([0, -1, 2, 3]), ignore_index=-1)
    # (N, C, d) inputs and unbatched inputs are checked too
    with pytest.raises(IndexError, match="target label 3 is out of range for 3 classes"):
        F.cross_entropy(lamina.randn(2, 3, 4), lamina.tensor([[0, 1, 2, 3], [0, 0, 0, 0]]))
    with pytest.raises(IndexError, match="target label 5 is out of range for 5 classes"):
        F.cross_entropy(lamina.randn(5), lamina.tensor(5))


def test_wrong_target_dtype():
    x = lamina.randn(4, 3)
    with pytest.raises(TypeError, match=r"lamina\.cross_entropy: expected 'target' of dtype int64"):
        F.cross_entropy(x, lamina.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match=r"lamina\.nll_loss: expected 'target' of dtype int64"):
        F.nll_loss(x, lamina.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="class probabilities and must be floating point"):
        F.cross_entropy(x, lamina.zeros(4, 3, dtype=lamina.int64))
    with pytest.raises(TypeError, match=r"lamina\.cross_entropy: argument 'input' must be a float32"):
        F.cross_entropy(lamina.tensor([[1, 2]]), lamina.tensor([0]))
    with pytest.raises(TypeError, match=r"lamina\.mse_loss: expected 'target' of the input's dtype"):
        F.mse_loss(x, lamina.zeros(4, 3, dtype=lamina.float64))
    with pytest.raises(TypeError, match=r"lamina\.cross_entropy: expected 'weight' of the input's dtype"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2, 0]), weight=lamina.ones(3, dtype=lamina.float64))
    with pytest.raises(TypeError, match=r"lamina\.cross_entropy: argument 'target' must be a Tensor"):
        F.cross_entropy(x, [0, 1, 2, 0])


def test_shape_mismatches():
    x = lamina.randn(4, 3)
    with pytest.raises(ValueError, match=r"expected input batch_size \(4\) to match target batch_size \(3\)"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"expected 'target' of shape \[2, 4\]"):
        F.cross_entropy(lamina.randn(2, 3, 4), lamina.tensor([[0, 1, 2], [0, 1, 2]]))
    with pytest.raises(ValueError, match="must be a 0-d class index"):
        F.cross_entropy(lamina.randn(3), lamina.tensor([0]))
    with pytest.raises(ValueError, match="got a 0-d tensor"):
        F.cross_entropy(lamina.tensor(1.0), lamina.tensor(0))
    with pytest.raises(ValueError, match=r"'weight' must hold one value per class: expected shape \[3\]"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2, 0]), weight=lamina.ones(4))
    with pytest.raises(ValueError, match=r"lamina\.mse_loss: shapes \[4, 3\] and \[2\] cannot be broadcast"), \
            pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(x, lamina.zeros(2))
    with pytest.raises(ValueError, match="'weight' and 'input' must have the same size"):
        F.l1_loss(x, x, weight=lamina.ones(3))
    with pytest.raises(ValueError, match=r"'target' must have the size of 'input'"):
        F.binary_cross_entropy(x.sigmoid(), lamina.zeros(4, 1))
    with pytest.raises(ValueError, match=r"does not broadcast to the input's shape"):
        F.binary_cross_entropy(x.sigmoid(), x.sigmoid(), weight=lamina.ones(2, 4, 3))
    with pytest.raises(ValueError, match=r"target size \[4\] must be the same as input size \[4, 3\]"):
        F.binary_cross_entropy_with_logits(x, lamina.zeros(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: 'pos_weight' of shape \[2\]"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=lamina.ones(2))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: 'weight' of shape \[4, 1, 1\]"):
        F.binary_cross_entropy_with_logits(x, x, weight=lamina.ones(4, 1, 1))


def test_bad_reduction_and_label_smoothing():
    x, y = lamina.randn(4, 3), lamina.tensor([0, 1, 2, 0])
    for fn, args in [(F.cross_entropy, (x, y)), (F.nll_loss, (x, y)), (F.mse_loss, (x, x)),
                     (F.l1_loss, (x, x)), (F.binary_cross_entropy, (x.sigmoid(), x.sigmoid())),
                     (F.binary_cross_entropy_with_logits, (x, x))]:
        with pytest.raises(ValueError, match=rf"lamina\.{fn.__name__}: 'avg' is not a valid value for reduction"):
            fn(*args, reduction="avg")
        with pytest.raises(TypeError, match="argument 'reduction'"):
            fn(*args, reduction=None)
    for ls in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"lamina\.cross_entropy: label_smoothing must be between 0\.0 and 1\.0"):
            F.cross_entropy(x, y, label_smoothing=ls)
        with pytest.raises(ValueError, match="label_smoothing must be between"):
            F.cross_entropy(x, lamina.ones(4, 3) / 3, label_smoothing=ls)
    F.cross_entropy(x, y, label_smoothing=1.0)
    with pytest.raises(ValueError, match="ignore_index is not supported for class-probability targets"):
        F.cross_entropy(x, x, ignore_index=1)
    with pytest.raises(TypeError, match="argument 'ignore_index' must be an int"):
        F.cross_entropy(x, y, ignore_index=1.5)


def test_bce_values_outside_0_1():
    x = lamina.tensor([0.2, 1.5, 0.3])
    t = lamina.tensor([0.0, 1.0, 1.0])
    with pytest.raises(RuntimeError, match=r"lamina\.binary_cross_entropy: all elements of input "
                                           r"should be between 0 and 1"):
        F.binary_cross_entropy(x, t)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([0.2, -0.01, 0.3]), t)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([0.2, float("nan"), 0.3]), t)
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(t * 0.5, lamina.tensor([0.0, 2.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        nn.BCELoss()(x, t)


def test_backward_entry_points_check_their_arguments():
    # _C is reachable from Python: its backward entry points check labels and shapes too.
    from lamina import _C

    x = lamina.randn(4, 3)._t
    bad = lamina.tensor([0, 1, 7, 0])._t
    g = lamina.tensor(1.0)._t
    lse = lamina.zeros(4, 2)._t
    with pytest.raises(IndexError, match="target label 7"):
        _C.cross_entropy_backward(g, x, bad, None, lse, 4.0, -100, "mean", 0.0, True, False, False)
    with pytest.raises(IndexError, match="target label 7"):
        _C.nll_loss_backward(g, x, bad, None, 4.0, -100, "mean")
    ok = lamina.tensor([0, 1, 2, 0])._t
    with pytest.raises(ValueError, match=r"expected 'lse' of shape \[4, 2\]"):
        _C.cross_entropy_backward(g, x, ok, None, lamina.zeros(3, 2)._t, 4.0, -100, "mean", 0.0, True,
                                  False, False)
    with pytest.raises(ValueError, match=r"expected 'grad_output' of shape \[4\]"):
        _C.cross_entropy_backward(g, x, ok, None, lse, 4.0, -100, "none", 0.0, True, False, False)
    with pytest.raises(ValueError, match=r"expected 'grad_output' of shape \[\]"):
        _C.pointwise_loss_backward("mse_loss", x, x, x, None, None, "sum", 1.0, 0.0, True, True,
                                   False)


def test_empty_batches():
    # mean over nothing is NaN, sum is 0 (as torch); nothing crashes.
    x = lamina.zeros(0, 4, requires_grad=True)
    y = lamina.zeros(0, dtype=lamina.int64)
    assert np.isnan(F.cross_entropy(x, y).item())
    assert F.cross_entropy(x, y, reduction="sum").item() == 0.0
    assert tuple(F.cross_entropy(x, y, reduction="none").shape) == (0,)
    assert np.isnan(F.cross_entropy(x, lamina.zeros(0, 4)).item())
    F.cross_entropy(x, y, reduction="sum").backward()
    assert tuple(x.grad.shape) == (0, 4)
    assert np.isnan(F.mse_loss(lamina.zeros(0), lamina.zeros(0)).item())
    assert np.isnan(F.nll_loss(x, y).item())
