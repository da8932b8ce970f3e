"""Activations (relu, relu6, leaky_relu, elu, gelu, sigmoid, tanh, softplus), softmax and
log_softmax: float64 gradcheck, float32 forward/backward parity with torch, stability at logits
of +-1e4, modules, bad input."""

import warnings

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)
TF = torch.nn.functional if torch is not None else None

SHAPES = [(7,), (3, 5), (2, 3, 4, 5), (1, 1), (13, 17)]

# name -> (lamina fn, torch fn, check_op keywords)
CASES = {
    "relu": (F.relu, lambda x: TF.relu(x), {"away_from": 0.0}),
    "relu6": (F.relu6, lambda x: TF.relu6(x), {"low": -3.0, "high": 9.0, "away_from": 6.0}),
    "leaky_relu": (F.leaky_relu, lambda x: TF.leaky_relu(x), {"away_from": 0.0}),
    "leaky_relu_0.2": (lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), {"away_from": 0.0}),
    "leaky_relu_neg": (lambda x: F.leaky_relu(x, negative_slope=-0.5),
                       lambda x: TF.leaky_relu(x, negative_slope=-0.5), {"away_from": 0.0}),
    "elu": (F.elu, lambda x: TF.elu(x), {"away_from": 0.0}),
    "elu_0.5": (lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5), {"away_from": 0.0}),
    "elu_2": (lambda x: F.elu(x, alpha=2.0), lambda x: TF.elu(x, alpha=2.0), {"away_from": 0.0}),
    "gelu": (F.gelu, lambda x: TF.gelu(x), {"low": -5.0, "high": 5.0}),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"),
                  {"low": -5.0, "high": 5.0}),
    "sigmoid": (F.sigmoid, torch.sigmoid if torch else None, {"low": -8.0, "high": 8.0}),
    "tanh": (F.tanh, torch.tanh if torch else None, {"low": -4.0, "high": 4.0}),
    "softplus": (F.softplus, lambda x: TF.softplus(x), {"low": -5.0, "high": 5.0}),
    "softplus_b2_t1": (lambda x: F.softplus(x, 2.0, 1.0), lambda x: TF.softplus(x, 2.0, 1.0),
                       {"away_from": 0.5}),
    "softplus_b0.5_t3": (lambda x: F.softplus(x, beta=0.5, threshold=0.3),
                         lambda x: TF.softplus(x, beta=0.5, threshold=0.3), {"away_from": 0.6}),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(CASES))
def test_activation_parity_and_gradcheck(name, shape):
    fn, tfn, kw = CASES[name]
    check_op([shape], fn, tfn, atol=1e-6, **kw)


@pytest.fixture(params=[False, True], ids=["simd", "portable"])
def kernels(request):
    """Both kernel families: the AVX2+FMA loops (where the CPU has them) and the portable ones."""
    from lamina import _C

    _C._activation_force_portable(request.param)
    yield request.param
    _C._activation_force_portable(False)


@needs_torch
@pytest.mark.parametrize("name", list(CASES))
def test_activation_large_input_threads(name, kernels):
    # 100k elements: several tasks on the thread pool, and the vector loops' tails (odd length).
    fn, tfn, kw = CASES[name]
    check_op([(99, 1011)], fn, tfn, atol=1e-6, gradcheck=False, **kw)


@needs_torch
@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "gelu", "gelu_tanh", "sigmoid", "tanh",
                                  "softplus"])
def test_activation_extreme_inputs(name):
    fn, tfn, _ = CASES[name]
    vals = np.array([-1e4, -100.0, -88.5, -87.0, -30.0, -20.5, -1e-3, 0.0, 1e-3, 6.0, 19.5, 20.5, 30.0, 88.5,
                     100.0, 1e4], np.float32)
    x, t = lamina.tensor(vals, requires_grad=True), torch.tensor(vals, requires_grad=True)
    y, ty = fn(x), tfn(t)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
    nan = lamina.tensor([float("nan"), 1.0])
    assert np.isnan(fn(nan).numpy()[0]) == np.isnan(tfn(torch.tensor([float("nan"), 1.0])).numpy()[0])


def _erfc(x):
    import math

    return np.vectorize(math.erfc)(x)


# float32 results against float64 references written without cancellation: (function, reference,
# largest relative error allowed where |reference| > 1e-30).
_ACCURACY = {
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), 3e-7),
    "tanh": (F.tanh, np.tanh, 3e-7),
    "elu": (F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))), 3e-7),
    "softplus": (F.softplus, lambda x: np.where(x > 20, x, np.logaddexp(0, x)), 3e-7),
    # beta * x is rounded to float32 first, by definition of the op (as in torch)
    "softplus_b3": (lambda t: F.softplus(t, 3.0, 40.0),
                    lambda x: np.where(3 * x > 40, x, np.logaddexp(0, (3 * x).astype(np.float32)) / 3), 3e-7),
    "gelu": (F.gelu, lambda x: x * 0.5 * _erfc(-x / np.sqrt(2)), 1e-6),
}


@pytest.mark.parametrize("name", list(_ACCURACY))
def test_activation_float32_accuracy_against_float64(name, kernels):
    # The float32 kernels use their own vectorisable exp, log, tanh and erfc: check them over the
    # whole range, where the float32 result is a normal number.
    fn, ref_fn, rtol = _ACCURACY[name]
    x = np.concatenate([np.linspace(-30, 30, 120001), np.linspace(-1, 1, 40001)]).astype(np.float32)
    y = fn(lamina.tensor(x)).numpy().astype(np.float64)
    ref = ref_fn(x.astype(np.float64))
    ok = np.abs(ref) > 1e-30
    rel = np.abs(y - ref)[ok] / np.abs(ref[ok])
    assert rel.max() < rtol, (rel.max(), x[ok][np.argmax(rel)])


def test_gelu_float32_gradient_accuracy(kernels):
    x = np.linspace(-12, 12, 100001).astype(np.float32)
    xl = lamina.tensor(x, requires_grad=True)
    F.gelu(xl).sum().backward()
    x64 = x.astype(np.float64)
    ref = 0.5 * _erfc(-x64 / np.sqrt(2)) + x64 * np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(xl.grad.numpy(), ref, rtol=2e-6, atol=2e-7)


@needs_torch
def test_relu_of_integers_and_out_of_place_results():
    x = lamina.tensor([-2, 0, 3])
    assert F.relu(x).tolist() == [0, 0, 3] and F.relu(x).dtype == lamina.int64
    x = lamina.tensor([-1.0, 2.0])
    y = F.relu(x)
    assert x.tolist() == [-1.0, 2.0] and y.tolist() == [0.0, 2.0]


def test_inplace_writes_input_when_no_grad_is_recorded():
    cases = [(lambda t: F.relu(t, inplace=True), [0.0, 2.0, 7.0]),
             (lambda t: F.relu6(t, inplace=True), [0.0, 2.0, 6.0]),
             (lambda t: F.leaky_relu(t, 0.5, inplace=True), [-0.5, 2.0, 7.0]),
             (lambda t: F.elu(t, inplace=True), [float(np.float32(np.expm1(-1.0))), 2.0, 7.0])]
    for fn, want in cases:
        x = lamina.tensor([-1.0, 2.0, 7.0])
        y = fn(x)
        assert y is x
        np.testing.assert_allclose(x.numpy(), want, rtol=1e-6)
    # with autograd recording through input: a new tensor, input untouched, gradient right
    x = lamina.tensor([-1.0, 2.0, 7.0], requires_grad=True)
    h = x * 1.0
    y = F.relu(h, inplace=True)
    assert y is not h and h.tolist() == [-1.0, 2.0, 7.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]
    with lamina.no_grad():
        h = x * 1.0
        assert F.relu(h, inplace=True) is h and h.tolist() == [0.0, 2.0, 7.0]


# ------------------------------------------------------------------ softmax

SOFTMAX_CASES = [((7,), 0), ((7,), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), -2), ((2, 3, 4), 0), ((2, 3, 4), 1),
                 ((2, 3, 4), 2), ((2, 1, 3, 5), 1), ((2, 1, 3, 5), 3), ((1, 1), 0), ((4, 1), 1)]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES, ids=str)
def test_softmax_parity_and_gradcheck(shape, dim, log):
    fn, tfn = (F.log_softmax, TF.log_softmax if TF else None) if log else (F.softmax, TF.softmax if TF else None)
    check_op([shape], lambda x: fn(x, dim), lambda x: tfn(x, dim), low=-4.0, high=4.0, atol=1e-6)


# Long rows (more than one 1024-element block of lanes), many columns (several column chunks),
# many rows (thread pool).
BIG_SOFTMAX = [((3, 2500), 1), ((2500, 3), 0), ((2, 5, 600), 1), ((64, 1000), 1), ((5, 7, 9, 11), 2), ((7, 4099), 0)]


@needs_torch
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", BIG_SOFTMAX, ids=str)
def test_softmax_large_parity(shape, dim, log, kernels):
    fn, tfn = (F.log_softmax, TF.log_softmax) if log else (F.softmax, TF.softmax)
    check_op([shape], lambda x: fn(x, dim), lambda x: tfn(x, dim), low=-10.0, high=10.0, atol=1e-6,
             gradcheck=False, grad_rtol=1e-4, grad_atol=1e-6)


@needs_torch
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_exact_at_logits_of_1e4(dim, kernels):
    a = np.array([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4 - 1, 3.0, -5.0]], np.float32)
    if dim == 0:
        a = np.ascontiguousarray(a.T)
    for fn, tfn in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        x, t = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, ty = fn(x, dim), tfn(t, dim)
        assert np.isfinite(y.detach().numpy()).all()
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=0)
        g = np.arange(a.size, dtype=np.float32).reshape(a.shape) / 7
        y.backward(lamina.tensor(g))
        ty.backward(torch.tensor(g))
        assert np.isfinite(x.grad.numpy()).all()
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
    # exact values
    s = F.softmax(lamina.tensor([[1e4, 1e4, -1e4]]), 1).numpy()
    assert s.tolist() == [[0.5, 0.5, 0.0]]
    ls = F.log_softmax(lamina.tensor([[1e4, -1e4]]), 1).numpy()
    assert ls.tolist() == [[0.0, -2e4]]


def test_softmax_float32_accuracy_against_float64(kernels):
    # z = x - max is rounded to float32 by any float32 softmax; from there on (the polynomial exp,
    # the sum, the normalisation) the result must stay within a few ulp of float64.
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((50, 301)) * 30).astype(np.float32)
    z = (x - x.max(1, keepdims=True)).astype(np.float64)
    ref = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    y = F.softmax(lamina.tensor(x), 1).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-30)
    ly = F.log_softmax(lamina.tensor(x), 1).numpy()
    np.testing.assert_allclose(ly, z - np.log(np.exp(z).sum(1, keepdims=True)), rtol=1e-6, atol=1e-6)


@needs_torch
def test_softmax_nan_and_inf_follow_torch():
    a = np.array([[np.nan, 1.0, 2.0], [np.inf, 1.0, 2.0], [-np.inf, 1.0, 2.0], [-np.inf, -np.inf, 0.0]], np.float32)
    for fn, tfn in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        np.testing.assert_array_equal(np.isnan(fn(lamina.tensor(a), 1).numpy()),
                                      np.isnan(tfn(torch.tensor(a), 1).numpy()))


@needs_torch
def test_softmax_dtype_argument_and_implicit_dim():
    x = lamina.randn(3, 4)
    y = F.softmax(x, 1, dtype=lamina.float64)
    assert y.dtype == lamina.float64
    np.testing.assert_allclose(y.numpy(), TF.softmax(torch.tensor(x.numpy()), 1, dtype=torch.float64).numpy(),
                               rtol=1e-12)
    with pytest.warns(UserWarning, match="implicit dimension"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy().sum(1), 1, rtol=1e-6)  # dim 1 for 2-D input, as torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert F.log_softmax(lamina.randn(3, 4, 5)).shape == (3, 4, 5)
        np.testing.assert_allclose(F.softmax(lamina.randn(3, 4, 5)).numpy().sum(0), 1, rtol=1e-6)  # dim 0 for 3-D
    s = F.softmax(lamina.tensor(2.0), 0)  # 0-d
    assert s.ndim == 0 and s.item() == 1.0


# ------------------------------------------------------------------ modules


@needs_torch
@pytest.mark.parametrize("make", [
    lambda m: m.ReLU(), lambda m: m.ReLU(inplace=True), lambda m: m.ReLU6(), lambda m: m.LeakyReLU(),
    lambda m: m.LeakyReLU(0.2, True), lambda m: m.ELU(), lambda m: m.ELU(alpha=2.0, inplace=True),
    lambda m: m.GELU(), lambda m: m.GELU(approximate="tanh"), lambda m: m.Sigmoid(), lambda m: m.Tanh(),
    lambda m: m.Softplus(), lambda m: m.Softplus(beta=2, threshold=5), lambda m: m.Softmax(dim=1),
    lambda m: m.Softmax(-1), lambda m: m.LogSoftmax(dim=0), lambda m: m.LogSoftmax(1)])
def test_activation_modules_match_torch(make):
    mod, tmod = make(nn), make(torch.nn)
    assert repr(mod) == repr(tmod)
    assert list(mod.state_dict()) == [] and list(mod.parameters()) == []
    a = np.random.default_rng(0).standard_normal((4, 5, 3)).astype(np.float32)
    x, t = lamina.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = mod(x * 1.0), tmod(t * 1.0)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_sequential_with_inplace_relu_trains():
    if not hasattr(nn, "Sequential") or not hasattr(nn, "Linear"):
        pytest.skip("nn.Sequential / nn.Linear not available")
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True), nn.Linear(8, 2), nn.Softmax(dim=1))
    model(lamina.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


# ------------------------------------------------------------------ bad input


def test_activation_bad_input():
    with pytest.raises(TypeError, match=r"lamina\.sigmoid: argument 'input' must be a Tensor, got list"):
        F.sigmoid([1.0, 2.0])
    with pytest.raises(TypeError, match=r"lamina\.elu: argument 'input' must be a float32 or float64 tensor, got i"):
        F.elu(lamina.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"lamina\.softmax: argument 'input' must be a float32 or float64 tensor"):
        F.softmax(lamina.tensor([1, 2]), 0)
    with pytest.raises(ValueError, match=r"lamina\.gelu: argument 'approximate' must be 'none' or 'tanh', got 'fast'"):
        F.gelu(lamina.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")
    with pytest.raises(IndexError, match=r"lamina\.softmax: dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        F.softmax(lamina.randn(3, 4), 2)
    with pytest.raises(IndexError, match=r"lamina\.log_softmax: dimension out of range"):
        F.log_softmax(lamina.randn(3), -2)
    with pytest.raises(TypeError, match=r"lamina\.softmax: argument 'dim' must be an int, got float"):
        F.softmax(lamina.randn(3), 0.0)
    with pytest.raises(TypeError, match=r"lamina\.leaky_relu: argument 'negative_slope' must be a number"):
        F.leaky_relu(lamina.randn(3), "0.1")
    with pytest.raises(ValueError, match=r"lamina\.softplus: argument 'beta' must be finite and non-zero, got 0"):
        F.softplus(lamina.randn(3), beta=0)
    with pytest.raises(ValueError, match=r"lamina\.elu: argument 'alpha' must be finite"):
        F.elu(lamina.randn(3), alpha=float("inf"))
    from lamina import _C

    with pytest.raises(ValueError, match=r"activation: unknown activation code 42"):
        _C.activation_forward(42, lamina.randn(2)._t)
    with pytest.raises(ValueError, match=r"tanh_backward: 'grad_output' has shape \[3\] but 'output' has shape \[2\]"):
        _C.activation_backward(7, lamina.randn(3)._t, lamina.randn(2)._t)
    with pytest.raises(TypeError, match=r"softmax_backward: 'grad_output' and 'output' must share a dtype"):
        _C.softmax_backward(lamina.randn(3)._t, lamina.randn(3).double()._t, 0, False)


def test_activation_empty_input():
    for fn in (F.relu, F.gelu, F.sigmoid, lambda t: F.softmax(t, 1), lambda t: F.log_softmax(t, 0)):
        x = lamina.zeros(0, 3, requires_grad=True)
        y = fn(x)
        assert tuple(y.shape) == (0, 3)
        y.sum().backward()
        assert tuple(x.grad.shape) == (0, 3)
