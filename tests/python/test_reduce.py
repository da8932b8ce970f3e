"""Reductions: gradcheck + PyTorch parity over dims, keepdim and corrections."""

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina

DIMS = [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum(dim, keepdim):
    check_op([(3, 4, 5)], lambda x: x.sum(dim, keepdim=keepdim) if dim is not None else x.sum())


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_mean(dim, keepdim):
    check_op([(3, 4, 5)], lambda x: x.mean(dim, keepdim=keepdim) if dim is not None else x.mean())


@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var(dim, correction, keepdim):
    check_op([(3, 4, 5)], lambda x: x.var(dim, correction=correction, keepdim=keepdim))


@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
@pytest.mark.parametrize("unbiased", [True, False])
def test_std(dim, unbiased):
    check_op([(3, 4, 5)], lambda x: x.std(dim, unbiased=unbiased))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("fn", ["max", "min"])
def test_max_min_dim(dim, keepdim, fn):
    check_op([(4, 5, 3)], lambda x: getattr(x, fn)(dim, keepdim=keepdim))


@pytest.mark.parametrize("fn", ["max", "min", "amax", "amin"])
def test_full_max_min(fn):
    check_op([(4, 5)], lambda x: getattr(x, fn)())


@pytest.mark.parametrize("dim", [0, (0, 1), -1])
@pytest.mark.parametrize("fn", ["amax", "amin"])
def test_amax_amin(dim, fn):
    check_op([(4, 5, 3)], lambda x: getattr(x, fn)(dim))


def test_amax_ties_split_gradient_evenly():
    x = lamina.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    if torch is None:
        pytest.skip(TORCH_REASON)
    t = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    t.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_max_dim_first_index_on_ties_and_nan():
    x = lamina.tensor([[1.0, 5.0, 5.0, 0.0], [float("nan"), 2.0, float("nan"), 9.0]])
    v, i = x.max(1)
    assert i.tolist() == [1, 0]
    assert np.isnan(v.numpy()[1])
    assert x.argmax(1).tolist() == [1, 0]
    assert lamina.tensor([3, 7, 7, 1]).argmax().item() == 1
    assert lamina.tensor([[3, 7], [9, 1]]).argmin().item() == 3
    r = x.max(dim=1)
    assert r.values.shape == (2,) and r.indices.dtype is lamina.int64


@pytest.mark.parametrize("dim", [None, 0, 1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin_parity(dim, keepdim):
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)
    for fn in ["argmax", "argmin"]:
        ours = getattr(lamina.tensor(a), fn)(dim, keepdim=keepdim)
        ref = getattr(torch.tensor(a), fn)(dim, keepdim=keepdim)
        assert tuple(ours.shape) == tuple(ref.shape)
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())


def test_long_reduction_float32():
    # 1e6 elements: accumulation in double keeps the sum within 1e-4 of float64's
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(5).standard_normal(1_000_003).astype(np.float32)
    np.testing.assert_allclose(lamina.tensor(a).sum().item(), a.astype(np.float64).sum(), rtol=1e-4)
    np.testing.assert_allclose(lamina.tensor(a).var().item(), torch.tensor(a).var().item(), rtol=1e-4)


def test_noncontiguous_reduce():
    check_op([(5, 6)], lambda x: x.t().sum(0))
    check_op([(5, 6, 3)], lambda x: x.permute(2, 0, 1).mean((1, 2)))


def test_int_and_bool_reductions():
    x = lamina.tensor([[1, 2, 3], [4, 5, 6]])
    assert x.sum().item() == 21 and x.sum().dtype is lamina.int64
    assert x.sum(0).tolist() == [5, 7, 9]
    assert x.max().item() == 6
    b = lamina.tensor([True, False, True])
    assert b.sum().item() == 2
    assert b.any().item() is True and b.all().item() is False
    with pytest.raises(TypeError, match="mean"):
        x.mean()


def test_empty_reductions():
    e = lamina.zeros(0, 3)
    assert e.sum(0).tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(e.mean(0).numpy()).all()
    with pytest.raises(IndexError, match="amax|max"):
        e.max(0)
    with pytest.raises(IndexError):
        e.amax()
    assert lamina.zeros(3, 0).amax(0).shape == (0,)
