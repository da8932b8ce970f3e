"""F.batch_norm (forward, fused backward, running-stat updates) and nn.BatchNorm1d/2d/3d against
torch, a float64 gradient check, float64 references for hard inputs, and bad input."""

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)

# Shapes cover both kernels: columnar (S = prod(spatial) < 16: (N, C), small L) and planar
# (S >= 16), run tails (S not a multiple of 8 or 16), and N = 1 with S > 1.
SHAPES = [(7, 3), (5, 4, 6), (3, 2, 5, 7), (2, 3, 16), (2, 3, 15), (1, 3, 17), (4, 1, 3), (2, 3, 4, 5)]


def _running(C, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(C).astype(np.float32), rng.uniform(0.5, 2.0, C).astype(np.float32))


def _bn_fns(C, training, affine, momentum=0.1, eps=1e-5):
    """(lamina fn, torch fn) over (x, weight, bias) or (x,); fresh running stats per call."""
    rm, rv = _running(C)

    def lam(x, *wb):
        m, v = (lamina.tensor(a.astype(x.dtype.name)) for a in (rm, rv))
        return F.batch_norm(x, m, v, *wb, training=training, momentum=momentum, eps=eps)

    def tor(x, *wb):
        m, v = (torch.tensor(a, dtype=x.dtype) for a in (rm, rv))
        return torch.nn.functional.batch_norm(x, m, v, *wb, training=training, momentum=momentum, eps=eps)

    return lam, tor


@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_batch_norm_parity_and_gradcheck(shape, training, affine):
    C = shape[1]
    lam, tor = _bn_fns(C, training, affine)
    shapes = [shape] + ([(C,), (C,)] if affine else [])
    check_op(shapes, lam, tor, atol=1e-5)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_weight_only_and_no_running_stats(training):
    lam, tor = _bn_fns(3, training, True)
    check_op([(6, 3, 4), (3,)], lam, tor, atol=1e-5)  # weight, no bias
    check_op([(6, 3, 4)], lambda x: F.batch_norm(x, None, None, training=True),
             lambda x: torch.nn.functional.batch_norm(x, None, None, training=True), atol=1e-5)
    check_op([(5, 2), (2,), (2,)], lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
             lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, True), atol=1e-5)


# Larger shapes (float32 parity only): several threads, several column blocks in the columnar
# walk (C * S > 512), long planar runs, the benchmark's shapes in miniature.
BIG = [(8, 70, 9, 9), (64, 1030), (6, 300, 3), (4, 8, 40, 40), (3, 16, 8, 8), (33, 5, 1)]


@pytest.fixture(params=[False, True], ids=["simd", "portable"])
def kernels(request):
    """Both kernel families: the AVX2+FMA loops (where the CPU has them) and the portable ones."""
    from lamina import _C

    _C._batch_norm_force_portable(request.param)
    yield request.param
    _C._batch_norm_force_portable(False)


@needs_torch
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("shape", BIG, ids=[str(s) for s in BIG])
def test_batch_norm_large_parity(shape, training, affine, kernels):
    C = shape[1]
    lam, tor = _bn_fns(C, training, affine)
    shapes = [shape] + ([(C,), (C,)] if affine else [])
    check_op(shapes, lam, tor, atol=1e-5, gradcheck=False, grad_rtol=1e-4, grad_atol=1e-4)


@needs_torch
@pytest.mark.parametrize("momentum", [0.1, 0.5, 0.0, 1.0])
@pytest.mark.parametrize("shape", [(7, 3), (5, 4, 6), (3, 4, 5, 7), (4, 6, 20)], ids=str)
def test_running_stats_follow_torch_over_steps(shape, momentum):
    rng = np.random.default_rng(7)
    C = shape[1]
    rm, rv = _running(C, 3)
    lm, lv = lamina.tensor(rm), lamina.tensor(rv)
    tm, tv = torch.tensor(rm), torch.tensor(rv)
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        y = F.batch_norm(lamina.tensor(x), lm, lv, training=True, momentum=momentum)
        ty = torch.nn.functional.batch_norm(torch.tensor(x), tm, tv, training=True, momentum=momentum)
        np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(lm.numpy(), tm.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lv.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6)
    # eval mode reads them and leaves them alone
    x = rng.standard_normal(shape).astype(np.float32)
    before = lm.numpy().copy()
    y = F.batch_norm(lamina.tensor(x), lm, lv, training=False)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), tm, tv, training=False)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(lm.numpy(), before)


def test_running_var_is_unbiased_and_update_in_double():
    x = np.array([[1.0, 10.0], [2.0, 30.0], [6.0, 20.0]], np.float64)
    rm, rv = lamina.zeros(2, dtype=lamina.float64), lamina.ones(2, dtype=lamina.float64)
    F.batch_norm(lamina.tensor(x), rm, rv, training=True, momentum=0.25)
    np.testing.assert_allclose(rm.numpy(), 0.25 * x.mean(0), rtol=1e-15)
    np.testing.assert_allclose(rv.numpy(), 0.75 + 0.25 * x.var(0, ddof=1), rtol=1e-15)


def test_batch_norm_accurate_for_large_means():
    # one pass over shifted sums: no cancellation when the mean dwarfs the spread.
    rng = np.random.default_rng(1)
    x = (1e4 + rng.standard_normal((16, 3, 9, 9))).astype(np.float32)
    x64 = x.astype(np.float64)
    mean, var = x64.mean((0, 2, 3)), x64.var((0, 2, 3))
    ref = (x64 - mean[None, :, None, None]) / np.sqrt(var + 1e-5)[None, :, None, None]
    rm, rv = lamina.zeros(3), lamina.ones(3)
    xl = lamina.tensor(x, requires_grad=True)
    y = F.batch_norm(xl, rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rm.numpy(), mean, rtol=1e-7)
    np.testing.assert_allclose(rv.numpy(), x64.var((0, 2, 3), ddof=1), rtol=1e-5)
    # backward: dx = (g - mean(g) - xhat * mean(g * xhat)) * invstd
    g = rng.standard_normal(x.shape)
    y.backward(lamina.tensor(g.astype(np.float32)))
    gm = g.mean((0, 2, 3), keepdims=True)
    gx = (g * ref).mean((0, 2, 3), keepdims=True)
    dref = (g - gm - ref * gx) / np.sqrt(var + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(xl.grad.numpy(), dref, rtol=1e-3, atol=1e-4)


@needs_torch
def test_batch_norm_strided_input_and_running_stats():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4, 6, 3)).astype(np.float32)
    buf_m = lamina.tensor(np.arange(6, dtype=np.float32))
    buf_v = lamina.tensor(np.arange(1, 7, dtype=np.float32))
    lm, lv = buf_m[::2], buf_v[1::2]  # strided views, updated in place through the view
    tm, tv = torch.tensor(buf_m.numpy()[::2].copy()), torch.tensor(buf_v.numpy()[1::2].copy())
    xl = lamina.tensor(x).permute(0, 3, 1, 2)  # (5, 3, 4, 6) viewed; channel dim 1 = 3
    xt = torch.tensor(x).permute(0, 3, 1, 2)
    y = F.batch_norm(xl, lm, lv, training=True)
    ty = torch.nn.functional.batch_norm(xt, tm, tv, training=True)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(buf_m.numpy()[::2], tm.numpy(), rtol=1e-6)
    np.testing.assert_allclose(buf_v.numpy()[1::2], tv.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(buf_m.numpy()[1::2], [1, 3, 5])  # untouched


def test_batch_norm_same_result_for_any_thread_count():
    rng = np.random.default_rng(4)
    saved = lamina.get_num_threads()
    outs = []
    for shape in [(8, 70, 9, 9), (64, 1030), (6, 300, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        res = []
        for nt in (1, 2, 3):
            lamina.set_num_threads(nt)
            xl = lamina.tensor(x, requires_grad=True)
            w = lamina.ones(shape[1], requires_grad=True)
            rm, rv = lamina.zeros(shape[1]), lamina.ones(shape[1])
            y = F.batch_norm(xl, rm, rv, w, None, True)
            y.backward(lamina.tensor(g))
            res.append([y.detach().numpy(), xl.grad.numpy(), w.grad.numpy(), rm.numpy(), rv.numpy()])
        outs.append(res)
    lamina.set_num_threads(saved)
    for res in outs:
        for other in res[1:]:
            for a, b in zip(res[0], other):
                np.testing.assert_array_equal(a, b)


def test_batch_norm_only_requested_gradients():
    x = lamina.randn(6, 3, 4)
    w = lamina.randn(3, requires_grad=True)
    b = lamina.randn(3)
    F.batch_norm(x, None, None, w, b, training=True).sum().backward()
    assert x.grad is None and b.grad is None and w.grad is not None
    x = lamina.randn(6, 3, 4, requires_grad=True)
    F.batch_norm(x, None, None, w.detach(), b, training=True).sum().backward()
    # sum of a batch-normalised output does not depend on x
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=1e-5)


def test_batch_norm_empty_batch():
    x = lamina.zeros(0, 3, requires_grad=True)
    w = lamina.ones(3, requires_grad=True)
    rm, rv = lamina.zeros(3), lamina.ones(3)
    y = F.batch_norm(x, rm, rv, w, None, training=True)
    assert tuple(y.shape) == (0, 3)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3)
    np.testing.assert_array_equal(w.grad.numpy(), 0)
    np.testing.assert_array_equal(rm.numpy(), 0)
    np.testing.assert_array_equal(rv.numpy(), 1)


def test_batch_norm_docstring_example_values():
    x = lamina.tensor([[1.0, 10.0], [3.0, 30.0]])
    y = F.batch_norm(x, None, None, training=True, eps=0.0)
    np.testing.assert_allclose(y.numpy(), [[-1, -1], [1, 1]], rtol=1e-6)


# ------------------------------------------------------------------ modules


def _copy_into_torch(mod, tmod):
    tmod.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mod.state_dict().items()})


@needs_torch
@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"momentum": None}, {"track_running_stats": False},
                                {"bias": False}, {"eps": 1e-3, "momentum": 0.3}], ids=str)
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 7)),
                                       ("BatchNorm2d", (3, 4, 5, 6)), ("BatchNorm3d", (2, 4, 3, 2, 5))], ids=str)
def test_batchnorm_modules_match_torch(cls, shape, kw):
    rng = np.random.default_rng(5)
    mod, tmod = getattr(nn, cls)(4, **kw), getattr(torch.nn, cls)(4, **kw)
    assert repr(mod) == repr(tmod)
    assert list(mod.state_dict()) == list(tmod.state_dict())
    if mod.weight is not None:  # non-trivial affine parameters
        with lamina.no_grad():
            mod.weight.copy_(lamina.tensor(rng.uniform(0.5, 1.5, 4).astype(np.float32)))
            if mod.bias is not None:
                mod.bias.copy_(lamina.tensor(rng.standard_normal(4).astype(np.float32)))
    _copy_into_torch(mod, tmod)
    for step in range(3):  # training steps: outputs, gradients, buffers
        x = (rng.standard_normal(shape) * 2 + step).astype(np.float32)
        xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = mod(xl), tmod(xt)
        g = rng.standard_normal(shape).astype(np.float32)
        y.backward(lamina.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(xl.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        for (k, v), (tk, tv) in zip(mod.state_dict().items(), tmod.state_dict().items()):
            assert k == tk
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
        if mod.weight is not None:
            np.testing.assert_allclose(mod.weight.grad.numpy(), tmod.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    mod.eval()
    tmod.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(mod(lamina.tensor(x)).detach().numpy(), tmod(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    # and back: torch's state_dict loads into a fresh lamina module with the same outputs
    back = getattr(nn, cls)(4, **kw)
    back.load_state_dict(tmod.state_dict())
    back.eval()
    np.testing.assert_allclose(back(lamina.tensor(x)).detach().numpy(), tmod(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_batchnorm_module_buffers_and_defaults():
    bn = nn.BatchNorm2d(3)
    assert bn.num_batches_tracked.dtype == lamina.int64 and bn.num_batches_tracked.ndim == 0
    np.testing.assert_array_equal(bn.running_mean.numpy(), 0)
    np.testing.assert_array_equal(bn.running_var.numpy(), 1)
    np.testing.assert_array_equal(bn.weight.detach().numpy(), 1)
    np.testing.assert_array_equal(bn.bias.detach().numpy(), 0)
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    bn(lamina.randn(2, 3, 4, 4))
    bn(lamina.randn(2, 3, 4, 4))
    assert int(bn.num_batches_tracked) == 2
    bn.eval()
    bn(lamina.randn(2, 3, 4, 4))
    assert int(bn.num_batches_tracked) == 2
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0
    none = nn.BatchNorm1d(3, track_running_stats=False)
    assert none.running_mean is None and list(none.state_dict()) == ["weight", "bias"]
    none.eval()  # no running stats: batch statistics in eval mode too
    out = none(lamina.tensor([[1.0, 2.0, 3.0], [3.0, 4.0, 9.0]])).detach().numpy()
    np.testing.assert_allclose(out, [[-1, -1, -1], [1, 1, 1]], atol=1e-4)
    d = nn.BatchNorm1d(3, dtype=lamina.float64)
    assert d.weight.dtype == lamina.float64 and d.running_var.dtype == lamina.float64


def test_batchnorm_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    xs = [np.random.default_rng(i).standard_normal((5, 2)).astype(np.float32) + i for i in range(4)]
    for x in xs:
        bn(lamina.tensor(x))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in xs], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([x.var(0, ddof=1) for x in xs], 0), rtol=1e-5)


def test_batchnorm_loads_checkpoint_without_num_batches_tracked():
    src = nn.BatchNorm1d(3)
    sd = {k: v for k, v in src.state_dict().items() if k != "num_batches_tracked"}
    from collections import OrderedDict
    sd = OrderedDict(sd)
    sd._metadata = {"": {"version": 1}}
    dst = nn.BatchNorm1d(3)
    assert dst.load_state_dict(sd).missing_keys == []
    assert int(dst.num_batches_tracked) == 0
    sd._metadata = {"": {"version": 2}}  # a current checkpoint must have it
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        nn.BatchNorm1d(3).load_state_dict(sd)


def test_batchnorm_module_input_dims():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(lamina.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(lamina.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 5D input"):
        nn.BatchNorm3d(3)(lamina.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(-1)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(lamina.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(lamina.zeros(1, 3))  # fine in eval mode


# ------------------------------------------------------------------ bad input


def test_batch_norm_bad_input():
    x = lamina.randn(4, 3, 5)
    rm, rv = lamina.zeros(3), lamina.ones(3)
    with pytest.raises(ValueError,
                       match=r"lamina\.batch_norm: argument 'running_mean' should have shape \[3\].*got shape \[4\]"):
        F.batch_norm(x, lamina.zeros(4), rv, training=True)
    with pytest.raises(ValueError, match=r"argument 'running_var' should have shape \[3\]"):
        F.batch_norm(x, rm, lamina.ones(3, 1), training=False)
    with pytest.raises(ValueError, match=r"argument 'weight' should have shape \[3\].*got shape \[5\]"):
        F.batch_norm(x, rm, rv, lamina.ones(5), training=True)
    with pytest.raises(ValueError, match=r"argument 'bias' should have shape \[3\]"):
        F.batch_norm(x, rm, rv, None, lamina.ones(2), training=True)
    with pytest.raises(ValueError,
                       match=r"Expected more than 1 value per channel when training, got input size \[1, 3\]"):
        F.batch_norm(lamina.randn(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        F.batch_norm(lamina.randn(1, 3, 1, 1), None, None, training=True)
    with pytest.raises(TypeError, match=r"argument 'input' must be float32 or float64, got int64"):
        F.batch_norm(lamina.tensor([[1, 2], [3, 4]]), None, None, training=True)
    with pytest.raises(TypeError, match=r"argument 'running_mean' must have the input's dtype float64, got float32"):
        F.batch_norm(x.double(), rm, rv, training=True)
    with pytest.raises(TypeError, match=r"argument 'weight' must have the input's dtype float32, got float64"):
        F.batch_norm(x, rm, rv, lamina.ones(3, dtype=lamina.float64))
    with pytest.raises(ValueError, match=r"must be tensors in evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"must both be tensors or both be None"):
        F.batch_norm(x, rm, None, training=True)
    with pytest.raises(ValueError, match=r"shape \(N, C\) or \(N, C, \*\), got shape \[4\]"):
        F.batch_norm(lamina.randn(4), None, None, training=True)
    with pytest.raises(ValueError, match="'eps' must be finite and >= 0"):
        F.batch_norm(x, rm, rv, training=True, eps=-1.0)
    with pytest.raises(TypeError, match="'momentum' must be a float.*momentum=None is a module option"):
        F.batch_norm(x, rm, rv, training=True, momentum=None)
    with pytest.raises(TypeError, match="'input' must be a Tensor"):
        F.batch_norm(np.zeros((2, 3)), rm, rv)
    with pytest.raises(TypeError, match="'weight' must be a Tensor or None"):
        F.batch_norm(x, rm, rv, weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="must not be the same tensor"):
        F.batch_norm(x, rm, rm, training=True)
    # nothing was modified by the failed calls
    np.testing.assert_array_equal(rm.numpy(), 0)
    np.testing.assert_array_equal(rv.numpy(), 1)


def test_batch_norm_backward_bad_input():
    from lamina import _C

    x, g = lamina.randn(4, 3)._t, lamina.randn(4, 2)._t
    m, s = lamina.zeros(3)._t, lamina.ones(3)._t
    with pytest.raises(ValueError, match=r"batch_norm_backward: argument 'grad_output' must have the input's shape"):
        _C.batch_norm_backward(g, x, None, m, s, True, [True, True, True])
    with pytest.raises(ValueError, match=r"argument 'save_mean' should have shape \[3\]"):
        _C.batch_norm_backward(x, x, None, lamina.zeros(2)._t, s, True, [True, True, True])
    with pytest.raises(TypeError, match="'grad_output' must have the input's dtype"):
        _C.batch_norm_backward(lamina.randn(4, 3).double()._t, x, None, m, s, True, [True, True, True])
