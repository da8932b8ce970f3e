"""max_pool2d, avg_pool2d, adaptive_avg_pool2d and their modules: float64 gradcheck and float32
forward/backward parity with PyTorch over every parameter combination, indices, NaN, modules'
reprs, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina
import lamina.nn.functional as LF
from lamina import nn

if torch is not None:
    import torch.nn.functional as TF


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """The oracle runs single-threaded: these shapes are tiny, and on a busy machine each of
    torch's parallel regions can cost milliseconds."""
    if torch is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


SHAPE = (2, 3, 7, 5)
KERNELS = [2, 3, (3, 2)]
STRIDES = [None, 1, 2]
PADDINGS = [0, 1]


def _ids(vals):
    return [str(v).replace(" ", "") for v in vals]


@pytest.mark.parametrize("kernel", KERNELS, ids=_ids(KERNELS))
@pytest.mark.parametrize("stride", STRIDES, ids=_ids(STRIDES))
@pytest.mark.parametrize("padding", PADDINGS)
def test_max_pool2d(kernel, stride, padding):
    # every combination of dilation and ceil_mode, gradchecked once per item (rotating)
    sub = list(itertools.product([1, 2], [False, True]))
    pick = (KERNELS.index(kernel) + STRIDES.index(stride) + padding) % len(sub)
    for i, (dilation, ceil_mode) in enumerate(sub):
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
        check_op([SHAPE], lambda x: LF.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw),
                 gradcheck=(i == pick))


@pytest.mark.parametrize("kernel", KERNELS, ids=_ids(KERNELS))
@pytest.mark.parametrize("stride", STRIDES, ids=_ids(STRIDES))
@pytest.mark.parametrize("padding", PADDINGS)
def test_avg_pool2d(kernel, stride, padding):
    sub = list(itertools.product([False, True], [True, False], [None, 5]))
    pick = (KERNELS.index(kernel) + STRIDES.index(stride) + padding) % len(sub)
    for i, (ceil_mode, count_include_pad, divisor_override) in enumerate(sub):
        kw = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, divisor_override=divisor_override)
        check_op([SHAPE], lambda x: LF.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw),
                 gradcheck=(i == pick))


ADAPTIVE = [1, (2, 3), (3, 4), 5, (None, 3), (4, None), (9, 6), (7, 5)]


@pytest.mark.parametrize("output_size", ADAPTIVE, ids=_ids(ADAPTIVE))
def test_adaptive_avg_pool2d(output_size):
    check_op([SHAPE], lambda x: LF.adaptive_avg_pool2d(x, output_size),
             lambda x: TF.adaptive_avg_pool2d(x, output_size))


@pytest.mark.parametrize("op,kw", [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool2d", dict(kernel_size=(3, 2), dilation=2, padding=1)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("adaptive_avg_pool2d", dict(output_size=(2, 3))),
])
def test_pool_unbatched(op, kw):
    check_op([(3, 7, 5)], lambda x: getattr(LF, op)(x, **kw), lambda x: getattr(TF, op)(x, **kw))


def test_pool_larger_and_threads():
    """Enough planes to split across threads; same results on 1 and 2 threads as torch."""
    for threads in (1, 2):
        lamina.set_num_threads(threads)
        try:
            check_op([(8, 16, 28, 28)], lambda x: LF.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2),
                     gradcheck=False)
            check_op([(8, 16, 28, 28)], lambda x: LF.avg_pool2d(x, 3, 2, 1),
                     lambda x: TF.avg_pool2d(x, 3, 2, 1), gradcheck=False)
            check_op([(8, 16, 13, 11)], lambda x: LF.adaptive_avg_pool2d(x, (4, 3)),
                     lambda x: TF.adaptive_avg_pool2d(x, (4, 3)), gradcheck=False)
        finally:
            lamina.set_num_threads(2)


def _parity(op, kw, shape, dtype):
    """Forward (and indices) and backward of one pooling call against torch in `dtype`."""
    a = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    x, tx = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, tout = getattr(LF, op)(x, **kw), getattr(TF, op)(tx, **kw)
    if kw.get("return_indices"):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        out, tout = out[0], tout[0]
    g = np.random.default_rng(8).standard_normal(tuple(tout.shape)).astype(dtype)
    out.backward(lamina.tensor(g))
    tout.backward(torch.tensor(g))
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


POOL_CASES = [("max_pool2d", dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=c, return_indices=True))
              for k, s, p, d, c in itertools.product([2, 3, (3, 2)], [None, 1, 2, 3], [0, 1], [1, 2], [False, True])]
POOL_CASES += [("avg_pool2d", dict(kernel_size=k, stride=s, padding=p, ceil_mode=c, count_include_pad=i))
               for k, s, p, c, i in itertools.product([2, 3, (3, 2)], [None, 1, 2, 3], [0, 1], [False, True],
                                                      [True, False])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pool_wide_rows_and_float64(dtype):
    """Rows of 40 (float32: the AVX2 row kernels with strides 1, 2 and 3; float64: the portable
    ones, whose forward the gradcheck above cannot vouch for) against torch."""
    if torch is None:
        pytest.skip(TORCH_REASON)
    for op, kw in POOL_CASES:
        _parity(op, kw, (2, 3, 9, 40), dtype)
    if dtype == np.float64:
        for op, kw in POOL_CASES[::7]:
            _parity(op, kw, SHAPE, dtype)
        for size in ADAPTIVE:
            _parity("adaptive_avg_pool2d", dict(output_size=size), SHAPE, dtype)


def test_max_pool2d_indices_match_torch():
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    a[0, 0, 1, 1] = a[0, 0, 1, 2] = 5.0  # a tie: the first maximum wins, as in torch
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
               dict(kernel_size=(3, 2), stride=1, padding=1, dilation=2)]:
        out, idx = LF.max_pool2d(lamina.tensor(a), return_indices=True, **kw)
        tout, tidx = TF.max_pool2d(torch.tensor(a), return_indices=True, **kw)
        assert idx.dtype == lamina.int64
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        np.testing.assert_array_equal(out.numpy(), tout.numpy())
    # the indices are not differentiable; the values are
    x = lamina.tensor(a, requires_grad=True)
    out, idx = LF.max_pool2d(x, 2, return_indices=True)
    assert out.requires_grad and not idx.requires_grad
    out.sum().backward()
    assert float(x.grad.sum()) == out.numel()


def test_max_pool2d_nan_and_inf_like_torch():
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32)
    a[0, 0, 2, 2] = np.nan
    a[1, 2, 0, :] = -np.inf
    a[1, 1, :, :] = -np.inf
    wide = np.random.default_rng(2).standard_normal((2, 3, 5, 40)).astype(np.float32)
    wide[0, 0, 2, 17] = wide[1, 2, 3, 30] = np.nan
    wide[1, 1, :, :] = -np.inf
    wide[0, 2, 1, 4:9] = 3.0  # ties along a row
    for arr in (a, wide, a.astype(np.float64)):
        for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                   dict(kernel_size=3, stride=2, padding=1, dilation=2)]:
            out, idx = LF.max_pool2d(lamina.tensor(arr), return_indices=True, **kw)
            tout, tidx = TF.max_pool2d(torch.tensor(arr), return_indices=True, **kw)
            np.testing.assert_array_equal(out.numpy(), tout.numpy())  # NaN == NaN here
            np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_avg_pool2d_values():
    out = LF.avg_pool2d(lamina.ones(1, 1, 4, 4), 2, padding=1)
    assert out.tolist()[0][0] == [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    out = LF.avg_pool2d(lamina.ones(1, 1, 4, 4), 2, padding=1, count_include_pad=False)
    assert np.all(out.numpy() == 1.0)


# ---------------------------------------------------------------------------- modules

MODULES = [
    ("MaxPool2d", dict(kernel_size=2)),
    ("MaxPool2d", dict(kernel_size=(3, 2), stride=1, padding=1, dilation=2, ceil_mode=True)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("AvgPool2d", dict(kernel_size=3)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False,
                       divisor_override=4)),
    ("AdaptiveAvgPool2d", dict(output_size=(None, 3))),
    ("AdaptiveAvgPool2d", dict(output_size=1)),
]


@pytest.mark.parametrize("name,kw", MODULES)
def test_pool_modules_match_torch(name, kw):
    if torch is None:
        pytest.skip(TORCH_REASON)
    ours, ref = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys()) == []
    a = np.random.default_rng(3).standard_normal(SHAPE).astype(np.float32)
    out, tout = ours(lamina.tensor(a)), ref(torch.tensor(a))
    if kw.get("return_indices"):
        np.testing.assert_array_equal(out[1].numpy(), tout[1].numpy())
        out, tout = out[0], tout[0]
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-6, atol=1e-7)


def test_small_cnn_matches_torch():
    """Conv2d -> MaxPool2d -> Conv2d -> AvgPool2d -> AdaptiveAvgPool2d with torch's weights."""
    if torch is None:
        pytest.skip(TORCH_REASON)

    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 5, padding=2), m.MaxPool2d(2), m.Conv2d(4, 6, 3),
                            m.AvgPool2d(2, ceil_mode=True), m.AdaptiveAvgPool2d((2, 1)))

    if not hasattr(nn, "Sequential"):
        pytest.skip("lamina.nn.Sequential is not there yet")
    ours, ref = build(nn), build(torch.nn)
    ours.load_state_dict({k: lamina.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    a = np.random.default_rng(4).standard_normal((3, 1, 15, 13)).astype(np.float32)
    x, tx = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = ours(x), ref(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (k, p), (_, tp) in zip(ours.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=k)


# ---------------------------------------------------------------------------- bad input


def test_pool_bad_input():
    x = lamina.randn(2, 3, 7, 5)
    with pytest.raises(ValueError, match=(
            r"lamina\.max_pool2d: 'padding' should be at most half of "
            r"'kernel_size', got padding \[2, 2\] and kernel_size \[3, 3\]")):
        LF.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"lamina\.avg_pool2d: 'padding' should be at most half"):
        LF.avg_pool2d(x, 2, padding=(0, 2))
    with pytest.raises(ValueError, match=(
            r"lamina\.max_pool2d: 'input' of shape \[2, 3, 7, 5\] gives an output "
            r"of 0 x 0.*too small")):
        LF.max_pool2d(x, 8)
    with pytest.raises(ValueError, match=r"lamina\.avg_pool2d: .*too small"):
        LF.avg_pool2d(x, (3, 6))
    with pytest.raises(ValueError, match=(
            r"lamina\.max_pool2d: expected a 3-D \(unbatched\) or 4-D .*got shape "
            r"\[7, 5\]")):
        LF.max_pool2d(lamina.randn(7, 5), 2)
    with pytest.raises(ValueError, match=r"lamina\.avg_pool2d: .*got shape \[1, 2, 3, 7, 5\]"):
        LF.avg_pool2d(lamina.randn(1, 2, 3, 7, 5), 2)
    with pytest.raises(ValueError, match=r"lamina\.adaptive_avg_pool2d: .*got shape \[5\]"):
        LF.adaptive_avg_pool2d(lamina.randn(5), 2)
    with pytest.raises(ValueError, match=r"lamina\.max_pool2d: expected 'input' with non-empty channel"):
        LF.max_pool2d(lamina.randn(2, 0, 7, 5), 2)
    with pytest.raises(TypeError, match=r"lamina\.max_pool2d: expected a float32 or float64 'input', got dtype int64"):
        LF.max_pool2d(lamina.ones(2, 3, 7, 5, dtype=lamina.int64), 2)
    with pytest.raises(TypeError, match=r"lamina\.adaptive_avg_pool2d: expected a float32 or float64 'input'"):
        LF.adaptive_avg_pool2d(lamina.ones(2, 3, 7, 5, dtype=lamina.bool), 2)
    with pytest.raises(ValueError, match=r"lamina\.max_pool2d: 'stride' must be positive, got \[0, 0\]"):
        LF.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"lamina\.max_pool2d: 'kernel_size' must be positive"):
        LF.max_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"lamina\.max_pool2d: 'dilation' must be positive"):
        LF.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match=r"lamina\.avg_pool2d: 'padding' must be non-negative"):
        LF.avg_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match=r"lamina\.avg_pool2d: 'divisor_override' must not be zero"):
        LF.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"lamina\.adaptive_avg_pool2d: 'output_size' must be non-negative"):
        LF.adaptive_avg_pool2d(x, (-1, 2))
    with pytest.raises(ValueError, match=r"lamina\.adaptive_avg_pool2d: 'output_size' must be an int or a pair"):
        LF.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match=r"lamina\.adaptive_avg_pool2d: 'output_size' must hold ints"):
        LF.adaptive_avg_pool2d(x, 2.5)
    with pytest.raises(ValueError, match=(
            r"lamina\.max_pool2d: argument 'kernel_size' must be an int or a tuple "
            r"of 2 ints")):
        LF.max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match=r"lamina\.max_pool2d: argument 'input' must be a lamina\.Tensor"):
        LF.max_pool2d(np.zeros((2, 3, 7, 5), np.float32), 2)
    with pytest.raises(TypeError, match=r"lamina\.avg_pool2d: argument 'ceil_mode' must be a bool"):
        LF.avg_pool2d(x, 2, ceil_mode="yes")


def test_pool_backward_bad_arguments():
    g = lamina.randn(2, 3, 3, 2)._t
    bad_idx = lamina.full((2, 3, 3, 2), 99, dtype=lamina.int64)._t
    with pytest.raises(IndexError, match=r"lamina\.max_pool2d: 36 of the 'indices' are outside the 7 x 5 planes"):
        lamina._C.max_pool2d_backward(g, bad_idx, [2, 3, 7, 5])
    with pytest.raises(ValueError, match=(
            r"lamina\.max_pool2d: 'grad_output' of shape \[2, 3, 3, 2\] and "
            r"'indices' of shape \[2, 3\]")):
        lamina._C.max_pool2d_backward(g, lamina.zeros(2, 3, dtype=lamina.int64)._t, [2, 3, 7, 5])
    with pytest.raises(ValueError, match=(
            r"lamina\.avg_pool2d: expected 'grad_output' of shape \[2, 3, 3, 2\], "
            r"got \[2, 3, 4, 2\]")):
        lamina._C.avg_pool2d_backward(lamina.randn(2, 3, 4, 2)._t, [2, 3, 7, 5], [2, 2], [], [0, 0], False, True, None)
    with pytest.raises(ValueError, match=(
            r"lamina\.adaptive_avg_pool2d: 'grad_output' of shape \[2, 4, 3, 2\] "
            r"does not match")):
        lamina._C.adaptive_avg_pool2d_backward(lamina.randn(2, 4, 3, 2)._t, [2, 3, 7, 5])
