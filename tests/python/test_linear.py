"""F.linear (forward and backward through the GEMM), nn.Linear and lamina.nn.init, against torch."""

import math

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)

# (input shape, out_features)
SHAPES = [((7, 5), 3), ((2, 3, 5), 4), ((5,), 3), ((1, 1), 1), ((3, 1, 2, 9), 6), ((13, 17), 11)]


def _tlinear(*args):
    return torch.nn.functional.linear(*args)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("shape,out", SHAPES, ids=[str(s) for s in SHAPES])
def test_linear_parity_and_gradcheck(shape, out, bias):
    k = shape[-1]
    shapes = [shape, (out, k)] + ([(out,)] if bias else [])
    check_op(shapes, F.linear, _tlinear, atol=1e-5)


def test_linear_transposed_and_strided_operands():
    # weight given as a transposed view, input as a transposed / sliced view: read in place.
    check_op([(5, 7), (5, 3), (3,)], lambda x, w, b: F.linear(x.t(), w.t(), b),
             lambda x, w, b: torch.nn.functional.linear(x.t(), w.t(), b), atol=1e-5)
    check_op([(7, 10), (3, 5)], lambda x, w: F.linear(x[:, ::2], w),
             lambda x, w: torch.nn.functional.linear(x[:, ::2], w), atol=1e-5)
    check_op([(4, 5)], lambda w: F.linear(lamina.ones(6, 5, dtype=w.dtype), w),
             lambda w: torch.nn.functional.linear(torch.ones(6, 5, dtype=w.dtype), w), atol=1e-5)


@needs_torch
def test_linear_expanded_grad_output():
    # sum() backward hands linear a stride-0 gradient.
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(9, 5), (4, 5), (4,)])
    lx, lw, lb = (lamina.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    F.linear(lx, lw, lb).sum().backward()
    torch.nn.functional.linear(tx, tw, tb).sum().backward()
    for a, t in ((lx, tx), (lw, tw), (lb, tb)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_needs_only_some_grads():
    x = lamina.randn(6, 5)
    w = lamina.randn(3, 5, requires_grad=True)
    b = lamina.randn(3)
    F.linear(x, w, b).sum().backward()
    assert w.grad is not None and x.grad is None and b.grad is None
    expected = np.ones((6, 3), np.float32).T @ x.numpy()
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-5, atol=1e-5)
    x2 = lamina.randn(6, 5, requires_grad=True)
    F.linear(x2, w.detach()).sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), np.ones((6, 3), np.float32) @ w.detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_linear_empty_sizes():
    x = lamina.randn(0, 5, requires_grad=True)
    w = lamina.randn(3, 5, requires_grad=True)
    b = lamina.randn(3, requires_grad=True)
    y = F.linear(x, w, b)
    assert tuple(y.shape) == (0, 3)
    y.sum().backward()
    assert np.all(w.grad.numpy() == 0) and np.all(b.grad.numpy() == 0)
    # in_features == 0: an empty sum, y = b
    x0, w0 = lamina.randn(4, 0), lamina.randn(3, 0)
    np.testing.assert_array_equal(F.linear(x0, w0, b.detach()).numpy(), np.tile(b.detach().numpy(), (4, 1)))
    np.testing.assert_array_equal(F.linear(x0, w0).numpy(), np.zeros((4, 3), np.float32))


def test_linear_float64_matches_numpy():
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((33, 65)), rng.standard_normal((17, 65)), rng.standard_normal(17)
    y = F.linear(lamina.tensor(x), lamina.tensor(w), lamina.tensor(b))
    assert y.dtype is lamina.float64
    np.testing.assert_allclose(y.numpy(), x @ w.T + b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- bad input

def test_linear_in_features_mismatch():
    with pytest.raises(ValueError, match=r"linear.*\[7, 5\].*\[3, 4\]"):
        F.linear(lamina.randn(7, 5), lamina.randn(3, 4))
    with pytest.raises(ValueError, match="linear"):
        nn.Linear(4, 3)(lamina.randn(2, 5))


def test_linear_bad_arguments():
    with pytest.raises(TypeError, match="linear.*int64"):
        F.linear(lamina.ones(2, 3, dtype=lamina.int64), lamina.ones(4, 3, dtype=lamina.int64))
    with pytest.raises(TypeError, match="linear.*float32 and float64"):
        F.linear(lamina.randn(2, 3), lamina.randn(4, 3, dtype=lamina.float64))
    with pytest.raises(TypeError, match="linear.*bias"):
        F.linear(lamina.randn(2, 3), lamina.randn(4, 3), lamina.randn(4, dtype=lamina.float64))
    with pytest.raises(ValueError, match="linear.*bias.*\\[4\\]"):
        F.linear(lamina.randn(2, 3), lamina.randn(4, 3), lamina.randn(5))
    with pytest.raises(ValueError, match="linear.*weight.*2-D"):
        F.linear(lamina.randn(2, 3), lamina.randn(3))
    with pytest.raises(ValueError, match="linear.*0-d"):
        F.linear(lamina.tensor(1.0), lamina.randn(4, 1))
    with pytest.raises(TypeError, match="linear.*'input'.*ndarray"):
        F.linear(np.ones((2, 3), np.float32), lamina.randn(4, 3))
    with pytest.raises(ValueError, match="Linear.*in_features"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="Linear.*out_features"):
        nn.Linear(3, 2.5)


# ---------------------------------------------------------------- nn.Linear

def test_linear_module_attributes_and_repr():
    fc = nn.Linear(20, 30)
    assert tuple(fc.weight.shape) == (30, 20) and tuple(fc.bias.shape) == (30,)
    assert isinstance(fc.weight, nn.Parameter) and fc.weight.requires_grad
    assert repr(fc) == "Linear(in_features=20, out_features=30, bias=True)"
    nb = nn.Linear(3, 2, bias=False)
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]
    assert repr(nb) == "Linear(in_features=3, out_features=2, bias=False)"
    d = nn.Linear(3, 2, dtype=lamina.float64)
    assert d.weight.dtype is lamina.float64 and d.bias.dtype is lamina.float64
    x = lamina.randn(4, 3, dtype=lamina.float64)
    assert d(x).dtype is lamina.float64


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_parity_with_torch(bias):
    tfc = torch.nn.Linear(9, 5, bias=bias)
    fc = nn.Linear(9, 5, bias=bias)
    fc.load_state_dict(tfc.state_dict())  # torch tensors are accepted
    assert repr(fc) == repr(tfc)
    assert list(fc.state_dict()) == list(tfc.state_dict())
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 2, 9)).astype(np.float32)
    g = rng.standard_normal((3, 2, 5)).astype(np.float32)
    lx, tx = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = fc(lx), tfc(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.backward(lamina.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(lx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    for (name, p), (tname, tp) in zip(fc.named_parameters(), tfc.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-5)
    # and back: lamina's weights load into torch and agree
    tfc2 = torch.nn.Linear(9, 5, bias=bias)
    tfc2.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in fc.state_dict().items()})
    np.testing.assert_allclose(tfc2(tx).detach().numpy(), y.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_linear_load_wrong_shape():
    fc = nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight.*\[4, 3\].*\[3, 4\]"):
        fc.load_state_dict({"weight": np.zeros((4, 3), np.float32), "bias": np.zeros(3, np.float32)})


def test_linear_default_init_bounds():
    fc = nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w, b = fc.weight.detach().numpy(), fc.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.98 * bound  # fills the range
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)


def test_linear_init_is_seeded():
    lamina.manual_seed(5)
    a = nn.Linear(6, 4).weight.detach().numpy().copy()
    lamina.manual_seed(5)
    b = nn.Linear(6, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- nn.init

def test_init_gain():
    assert nn.init.calculate_gain("linear") == 1 and nn.init.calculate_gain("sigmoid") == 1
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert nn.init.calculate_gain("selu") == pytest.approx(0.75)
    if torch is not None:
        for nl, p in [("leaky_relu", None), ("leaky_relu", math.sqrt(5)), ("conv2d", None)]:
            assert nn.init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        nn.init.calculate_gain("leaky_relu", "x")


def test_init_fans():
    assert nn.init._calculate_fan_in_and_fan_out(lamina.empty(30, 20)) == (20, 30)
    assert nn.init._calculate_fan_in_and_fan_out(lamina.empty(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(lamina.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(lamina.empty(3, 3), mode="fan_avg")


def test_init_kaiming_uniform_bounds():
    w = lamina.empty(256, 16, 3, 3)  # fan_in 144, fan_out 2304
    nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 144)
    a = w.numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    np.testing.assert_allclose(a.mean(), 0, atol=0.01 * bound)
    np.testing.assert_allclose(a.std(), bound / math.sqrt(3), rtol=0.01)
    nn.init.kaiming_uniform_(w, a=0.1, mode="fan_out")
    bound = math.sqrt(2 / 1.01) * math.sqrt(3 / 2304)
    assert np.abs(w.numpy()).max() <= bound


def test_init_kaiming_normal_and_xavier_std():
    w = lamina.empty(300, 200)
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    np.testing.assert_allclose(w.numpy().std(), math.sqrt(2 / 300), rtol=0.01)
    nn.init.xavier_normal_(w, gain=2.0)
    np.testing.assert_allclose(w.numpy().std(), 2.0 * math.sqrt(2 / 500), rtol=0.01)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= a
    np.testing.assert_allclose(w.numpy().std(), a / math.sqrt(3), rtol=0.01)


def test_init_simple_fills():
    w = lamina.empty(7, 5, dtype=lamina.float64)
    assert nn.init.zeros_(w) is w and np.all(w.numpy() == 0)
    nn.init.ones_(w)
    assert np.all(w.numpy() == 1)
    nn.init.constant_(w, 0.25)
    assert np.all(w.numpy() == 0.25)
    nn.init.eye_(w)
    np.testing.assert_array_equal(w.numpy(), np.eye(7, 5))
    nn.init.uniform_(w, -3.0, -2.0)
    assert w.numpy().min() >= -3 and w.numpy().max() <= -2
    nn.init.normal_(w, 10.0, 0.001)
    assert abs(w.numpy().mean() - 10) < 0.01
    nn.init.trunc_normal_(w, 0.0, 1.0, -0.5, 0.5)
    assert np.abs(w.numpy()).max() <= 0.5 and w.numpy().std() > 0.1
    q = lamina.empty(6, 4)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-5)


def test_init_on_parameters_records_no_graph():
    p = nn.Parameter(lamina.empty(4, 3))
    out = nn.init.kaiming_uniform_(p, a=math.sqrt(5))
    assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(lamina.empty(0, 3))
    with pytest.raises(TypeError, match="init.uniform_.*floating"):
        nn.init.uniform_(lamina.zeros(3, dtype=lamina.int64))
