"""F.dropout and nn.Dropout: statistics of the mask, reproducibility under lamina.manual_seed
(whatever the thread count), gradient = mask / (1 - p), the p = 0 / p = 1 / eval cases as in
torch, gradcheck with a fixed mask, bad input."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 1 / 3])
def test_dropout_statistics_and_scaling(p):
    n = 200_003
    x = lamina.tensor(np.random.default_rng(1).uniform(0.5, 2.0, n).astype(np.float32))
    y = F.dropout(x, p).numpy()
    kept = y != 0
    # the dropped fraction is p within 5 standard deviations
    assert abs((1 - kept.mean()) - p) < 5 * np.sqrt(p * (1 - p) / n)
    # kept values are x / (1 - p) (one float32 rounding), dropped ones exactly 0
    scale = np.float32(1.0 / (1.0 - p))
    np.testing.assert_array_equal(y[kept], x.numpy()[kept] * scale)
    # no long runs: neighbouring elements are independent
    both = np.mean(kept[1:] & kept[:-1])
    assert abs(both - (1 - p) ** 2) < 5 * np.sqrt((1 - p) ** 2 / n) + 0.005


def test_dropout_reproducible_under_manual_seed_and_thread_count():
    x = lamina.randn(1001, 37)
    saved = lamina.get_num_threads()
    masks = []
    for nt in (1, 2, 3):
        lamina.set_num_threads(nt)
        lamina.manual_seed(1234)
        a = F.dropout(x, 0.3).numpy()
        b = F.dropout(x, 0.3).numpy()  # the next draw differs
        masks.append((a != 0, b != 0))
    lamina.set_num_threads(saved)
    for a, b in masks[1:]:
        np.testing.assert_array_equal(a, masks[0][0])
        np.testing.assert_array_equal(b, masks[0][1])
    assert (masks[0][0] != masks[0][1]).any()
    lamina.manual_seed(4321)
    assert (F.dropout(x, 0.3).numpy() != 0).tolist() != masks[0][0].tolist()


def test_dropout_gradient_is_mask_over_keep_probability():
    for dtype in (lamina.float32, lamina.float64):
        x = lamina.randn(33, 65, dtype=dtype, requires_grad=True)
        y = F.dropout(x, 0.4)
        g = lamina.randn(33, 65, dtype=dtype)
        y.backward(g)
        mask = (y.detach().numpy() != 0)
        want = g.numpy() * mask * np.asarray(1 / 0.6, dtype=g.numpy().dtype)
        np.testing.assert_array_equal(x.grad.numpy(), want)
        assert y.dtype == dtype


def test_dropout_gradcheck_with_a_fixed_mask():
    def fn(x):
        lamina.manual_seed(7)  # the same mask on every call
        return F.dropout(x, 0.35)

    x = lamina.randn(4, 5, 3, dtype=lamina.float64, requires_grad=True)
    assert lamina.autograd.gradcheck(fn, [x], eps=1e-6, atol=1e-6, rtol=1e-5)


def test_dropout_eval_p0_p1_and_empty_as_torch():
    x = lamina.randn(5, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x  # identity, no copy
    assert F.dropout(x, 0.0) is x
    e = lamina.zeros(0, 3)
    assert F.dropout(e, 0.5) is e
    y = F.dropout(x, 1.0)
    assert y is not x
    np.testing.assert_array_equal(y.detach().numpy(), 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    # p = 1 keeps NaN (x * 0), as torch's input * zeros does
    assert np.isnan(F.dropout(lamina.tensor([float("nan")]), 1.0).numpy()).all()


@needs_torch
def test_dropout_semantics_match_torch():
    a = np.random.default_rng(0).standard_normal((40, 50)).astype(np.float32)
    for p in (0.0, 1.0):
        t = torch.tensor(a, requires_grad=True)
        x = lamina.tensor(a, requires_grad=True)
        ty, y = torch.nn.functional.dropout(t, p), F.dropout(x, p)
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        ty.sum().backward()
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    # 0 < p < 1: torch multiplies by mask / (1 - p); apply lamina's mask the torch way
    y = F.dropout(lamina.tensor(a), 0.25).numpy()
    mask = torch.tensor(y != 0, dtype=torch.float32)
    np.testing.assert_allclose(y, (torch.tensor(a) * mask.div_(1 - 0.25)).numpy(), rtol=1e-7, atol=0)


def test_dropout_inplace():
    x = lamina.ones(1000)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(x.numpy()).tolist()) == {0.0, 2.0}
    # autograd records through input: a new tensor, input unchanged (no in-place autograd)
    w = lamina.ones(100, requires_grad=True)
    h = w * 1.0
    y = F.dropout(h, 0.5, inplace=True)
    assert y is not h and (h.detach().numpy() == 1).all()
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), (y.detach().numpy() != 0) * 2.0)


def test_dropout_module():
    d = nn.Dropout(0.25)
    assert repr(d) == "Dropout(p=0.25, inplace=False)"
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.Dropout(0.1, inplace=True)) == "Dropout(p=0.1, inplace=True)"
    assert list(d.state_dict()) == []
    x = lamina.ones(4000)
    y = d(x).numpy()
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    d.eval()
    assert d(x) is x
    lamina.manual_seed(3)
    a = nn.Dropout(0.5)(x).numpy()
    lamina.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)


def test_dropout_bad_input():
    x = lamina.randn(3)
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"lamina\.dropout: dropout probability has to be between 0 and 1, but"):
            F.dropout(x, p)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(p)
    with pytest.raises(TypeError, match=r"argument 'p' must be a number, got str"):
        F.dropout(x, "0.5")
    with pytest.raises(TypeError, match=r"argument 'p' must be a number"):
        nn.Dropout(None)
    with pytest.raises(TypeError, match=r"lamina\.dropout: argument 'input' must be a Tensor"):
        F.dropout([1.0, 2.0])
    with pytest.raises(TypeError, match=r"lamina\.dropout: argument 'input' must be a float32 or float64 tensor"):
        F.dropout(lamina.tensor([1, 2, 3]), 0.5)
    from lamina import _C

    with pytest.raises(ValueError,
                       match=r"dropout_backward: argument 'mask' has shape \[2\] but 'grad_output' has shape \[3\]"):
        _C.dropout_backward(x._t, (lamina.ones(2) > 0)._t, 0.5)
    with pytest.raises(TypeError, match=r"argument 'mask' must be a bool tensor"):
        _C.dropout_backward(x._t, x._t, 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        _C.dropout_forward(x._t, 2.0)
