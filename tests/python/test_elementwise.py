"""Elementwise ops with broadcasting: gradcheck + PyTorch parity (one line per case)."""

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina

BROADCAST = [
    [(7,), (7,)],
    [(3, 5), (5,)],
    [(3, 1), (1, 5)],
    [(2, 3, 5), (3, 1)],
    [(1,), (4, 3)],
    [(), (3, 2)],
]


@pytest.mark.parametrize("shapes", BROADCAST)
def test_add(shapes): check_op(shapes, lambda x, y: x + y)


@pytest.mark.parametrize("shapes", BROADCAST)
def test_sub(shapes): check_op(shapes, lambda x, y: x - y)


@pytest.mark.parametrize("shapes", BROADCAST)
def test_mul(shapes): check_op(shapes, lambda x, y: x * y)


@pytest.mark.parametrize("shapes", BROADCAST)
def test_div(shapes): check_op(shapes, lambda x, y: x / y, positive=True)


@pytest.mark.parametrize("shapes", BROADCAST)
def test_pow(shapes): check_op(shapes, lambda x, y: x ** y, positive=True, rtol=2e-5)


@pytest.mark.parametrize("shapes", BROADCAST)
def test_maximum(shapes): check_op(shapes, lambda x, y: x.maximum(y))


@pytest.mark.parametrize("shapes", BROADCAST)
def test_minimum(shapes): check_op(shapes, lambda x, y: x.minimum(y))


def test_scalar_ops():
    check_op([(4, 3)], lambda x: 2.5 * x - 1)
    check_op([(4, 3)], lambda x: 1 / x, positive=True)
    check_op([(4, 3)], lambda x: x ** 2)
    check_op([(4, 3)], lambda x: x ** 3.5, positive=True)
    check_op([(4, 3)], lambda x: 2 ** x)
    check_op([(4, 3)], lambda x: -x)
    check_op([(4, 3)], lambda x: (x - 0.5) / 3)


UNARY = [
    ("exp", {}), ("log", {"positive": True}), ("sqrt", {"positive": True}),
    ("rsqrt", {"positive": True}), ("abs", {"away_from": 0.0}), ("reciprocal", {"positive": True}),
    ("sin", {}), ("cos", {}), ("tanh", {}), ("sigmoid", {}), ("relu", {"away_from": 0.0}),
    ("log1p", {"positive": True}), ("expm1", {}), ("neg", {}),
]


@pytest.mark.parametrize("name,kw", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(5,), (3, 7), (2, 3, 4)])
def test_unary(name, kw, shape):
    check_op([shape], lambda x: getattr(x, name)(), **kw)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_piecewise_constant(name):
    # zero gradient almost everywhere: parity of the forward and of the (zero) backward
    check_op([(3, 5)], lambda x: getattr(x, name)() * x, low=-3, high=3, away_from=0.0)


@pytest.mark.parametrize("lo,hi", [(-0.5, 0.7), (None, 0.3), (-0.2, None)])
def test_clamp(lo, hi):
    check_op([(4, 5)], lambda x: x.clamp(lo, hi),
             lambda x: x.clamp(lo, hi), away_from=lo if lo is not None else hi)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 1), (1, 4)], [(4,), (3, 4)]])
def test_where(shapes):
    mask = np.random.default_rng(0).random((3, 4)) > 0.5
    check_op(shapes, lambda x, y: lamina.where(lamina.tensor(mask), x, y),
             lambda x, y: __import__("torch").where(__import__("torch").tensor(mask), x, y))


def test_chained_expression():
    check_op([(3, 4), (4,), (3, 1)],
             lambda x, y, z: ((x * y).exp() + z.tanh() * x).sigmoid() / (1 + y * y))


def test_comparisons_and_logical():
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(1).integers(-3, 3, (4, 5)).astype(np.float32)
    b = np.random.default_rng(2).integers(-3, 3, (5,)).astype(np.float32)
    x, y = lamina.tensor(a), lamina.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    for op in ["eq", "ne", "lt", "le", "gt", "ge"]:
        out = getattr(x, op)(y)
        assert out.dtype is lamina.bool
        np.testing.assert_array_equal(out.numpy(), getattr(tx, op)(ty).numpy())
    np.testing.assert_array_equal((x > 0).logical_and(y < 1).numpy(), ((tx > 0) & (ty < 1)).numpy())
    np.testing.assert_array_equal(((x > 0) | (y < 1)).numpy(), ((tx > 0) | (ty < 1)).numpy())
    np.testing.assert_array_equal((~(x > 0)).numpy(), (~(tx > 0)).numpy())


@pytest.mark.parametrize("dtype", ["int64", "float32", "float64"])
def test_floor_divide_remainder_python_semantics(dtype):
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.array([7, -7, 7, -7, 0, 5, -9], dtype=dtype)
    b = np.array([2, 2, -2, -2, 3, 5, 4], dtype=dtype)
    x, y = lamina.tensor(a), lamina.tensor(b)
    tx, ty = torch.tensor(a), torch.tensor(b)
    np.testing.assert_array_equal((x // y).numpy(), torch.floor_divide(tx, ty).numpy())
    np.testing.assert_array_equal((x % y).numpy(), torch.remainder(tx, ty).numpy())


def test_integer_arithmetic_and_promotion():
    x = lamina.tensor([1, 2, 3])
    assert (x + 1).dtype is lamina.int64
    assert (x + 1.5).dtype is lamina.float32
    assert (x / 2).dtype is lamina.float32
    assert (x * lamina.tensor([1.0, 2.0, 3.0], dtype=lamina.float64)).dtype is lamina.float64
    # a 0-d float64 tensor does not promote a float32 tensor (same category), as in torch
    assert (lamina.ones(3) * lamina.tensor(2.0, dtype=lamina.float64)).dtype is lamina.float32
    # but a 0-d float tensor does promote an int tensor
    assert (x * lamina.tensor(2.0)).dtype is lamina.float32
    assert (x ** 2).tolist() == [1, 4, 9]
    assert (lamina.tensor([True, False]) + lamina.tensor([True, True])).tolist() == [True, True]
    assert (lamina.tensor([True, False]) * lamina.tensor([True, True])).tolist() == [True, False]
    assert lamina.tensor(2.0).shape == ()
    assert lamina.sign(lamina.tensor([float("nan"), -2.0, 0.0])).tolist() == [0.0, -1.0, 0.0]


def test_nan_propagation():
    nan = float("nan")
    x = lamina.tensor([nan, 1.0, 2.0])
    y = lamina.tensor([0.0, nan, 1.0])
    assert np.isnan(x.maximum(y).numpy()[:2]).all()
    assert np.isnan(x.minimum(y).numpy()[:2]).all()
    assert np.isnan(x.clamp(0, 1).numpy()[0])
    assert np.isnan(x.relu().numpy()[0])
    assert np.isnan(x.max().item())


def test_float64_ops_stay_float64():
    x = lamina.randn(3, 4, dtype=lamina.float64)
    for y in [x + 1, x * x, x.exp(), x.sum(), x.mean(0), x @ x.T]:
        assert y.dtype is lamina.float64
