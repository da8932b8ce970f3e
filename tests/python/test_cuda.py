"""The CUDA path: the same ops on cuda:0 compared with the CPU path (and PyTorch CUDA where
present). Every test here is marked `cuda` and skipped, with the reason, when no GPU is seen."""

import numpy as np
import pytest

import lamina

pytestmark = pytest.mark.cuda

SHAPES = [[(7,), (7,)], [(3, 5), (5,)], [(3, 1), (1, 5)], [(2, 3, 5), (3, 1)], [(1,), (4, 3)],
          [(257, 129), (129,)]]


def _pair(shape, dtype=np.float32, seed=0, positive=False):
    a = np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)
    if positive:
        a = np.abs(a) + 0.1
    return lamina.tensor(a), lamina.tensor(a, device="cuda")


def _close(gpu, cpu, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(gpu.cpu().detach().numpy(), cpu.detach().numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "lt", "eq"])
def test_binary_matches_cpu(shapes, op):
    a, ag = _pair(shapes[0], seed=1, positive=op in ("div", "pow"))
    b, bg = _pair(shapes[1], seed=2, positive=op in ("div", "pow"))
    _close(getattr(ag, op)(bg), getattr(a, op)(b))


@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "rsqrt", "abs", "sign", "reciprocal", "sin", "cos",
                                "tanh", "sigmoid", "relu", "log1p", "expm1", "floor", "ceil", "round", "neg"])
def test_unary_matches_cpu(op):
    a, ag = _pair((33, 65), seed=3, positive=op in ("log", "sqrt", "rsqrt", "log1p", "reciprocal"))
    _close(getattr(ag, op)(), getattr(a, op)())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_int_and_double_paths(dtype):
    a = (np.random.default_rng(4).integers(-9, 9, (5, 6))).astype(dtype)
    b = (np.random.default_rng(5).integers(1, 5, (6,))).astype(dtype)
    x, y = lamina.tensor(a), lamina.tensor(b)
    xg, yg = x.cuda(), y.cuda()
    for f in [lambda p, q: p + q, lambda p, q: p * q, lambda p, q: p // q, lambda p, q: p % q,
              lambda p, q: p.maximum(q), lambda p, q: (p > q)]:
        np.testing.assert_array_equal(f(xg, yg).cpu().numpy(), f(x, y).numpy())


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "amax", "amin"])
def test_reductions_match_cpu(dim, op):
    a, ag = _pair((17, 33, 9), seed=6)
    _close(getattr(ag, op)(dim) if dim is not None else getattr(ag, op)(),
           getattr(a, op)(dim) if dim is not None else getattr(a, op)(), rtol=1e-5, atol=1e-5)


def test_large_reduction():
    a, ag = _pair((3_000_001,), seed=7)
    np.testing.assert_allclose(ag.sum().item(), a.sum().item(), rtol=1e-5)
    assert ag.argmax().item() == a.argmax().item()


def test_max_dim_and_argmax_match_cpu():
    a, ag = _pair((31, 47), seed=8)
    for dim in (0, 1):
        v, i = a.max(dim)
        vg, ig = ag.max(dim)
        _close(vg, v)
        np.testing.assert_array_equal(ig.cpu().numpy(), i.numpy())
        np.testing.assert_array_equal(ag.argmin(dim).cpu().numpy(), a.argmin(dim).numpy())


def test_copies_and_casts():
    a, ag = _pair((6, 7), seed=9)
    _close(ag.t().contiguous(), a.t().contiguous())
    _close(ag.double(), a.double())
    np.testing.assert_array_equal(ag.long().cpu().numpy(), a.long().numpy())
    _close(ag[1:5:2, ::3], a[1:5:2, ::3])
    _close(lamina.cat([ag, ag], 1), lamina.cat([a, a], 1))
    z = lamina.zeros(3, 4, device="cuda")
    z[1] = 5.0
    assert z.sum().item() == 20.0
    _close(lamina.arange(0, 5, 0.5, device="cuda"), lamina.arange(0, 5, 0.5))


def test_matmul_matches_cpu():
    a, ag = _pair((2, 33, 65), seed=10)
    b, bg = _pair((65, 17), seed=11)
    _close(ag @ bg, a @ b, rtol=1e-4, atol=1e-4)


def test_autograd_on_cuda_matches_cpu():
    a, ag = _pair((5, 7), seed=12)
    for t in (a, ag):
        t.requires_grad_()
        ((t.exp() * t).sum(1) ** 2).mean().backward()
    _close(ag.grad, a.grad, rtol=1e-5, atol=1e-5)


def test_rng_same_stream_as_cpu():
    for dt in (lamina.float32, lamina.float64):
        lamina.manual_seed(11)
        c = lamina.rand(10_001, dtype=dt)
        n = lamina.randn(999, dtype=dt)
        lamina.manual_seed(11)
        g = lamina.rand(10_001, dtype=dt, device="cuda")
        ng = lamina.randn(999, dtype=dt, device="cuda")
        np.testing.assert_array_equal(g.cpu().numpy(), c.numpy())
        np.testing.assert_allclose(ng.cpu().numpy(), n.numpy(), rtol=1e-12 if dt is lamina.float64 else 1e-6)


def test_memory_stats_and_cache():
    lamina.cuda.synchronize()
    before = lamina.cuda.memory_allocated()
    x = lamina.empty(1024, 1024, device="cuda")
    assert lamina.cuda.memory_allocated() >= before + 4 * 1024 * 1024
    assert lamina.cuda.max_memory_allocated() >= lamina.cuda.memory_allocated()
    del x
    assert lamina.cuda.memory_allocated() == before
    lamina.cuda.empty_cache()
    assert lamina.cuda.get_device_name(0)


def test_out_of_memory_message():
    with pytest.raises(RuntimeError, match="out of memory"):
        lamina.empty(2**45, device="cuda")


def test_bad_device_index():
    with pytest.raises(RuntimeError, match="cuda:99"):
        lamina.zeros(2, device="cuda:99")


def test_dlpack_with_torch_cuda():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch build has no CUDA")
    tt = torch.arange(12, device="cuda", dtype=torch.float32).reshape(3, 4)
    t = lamina.from_dlpack(tt)
    assert t.device == lamina.device("cuda:0") and t.data_ptr() == tt.data_ptr()
    back = torch.from_dlpack(t)
    assert back.data_ptr() == tt.data_ptr()
    np.testing.assert_array_equal(t.cpu().numpy(), tt.cpu().numpy())


def test_parity_with_torch_cuda():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch build has no CUDA")
    a = np.random.default_rng(13).standard_normal((64, 129)).astype(np.float32)
    x, t = lamina.tensor(a, device="cuda"), torch.tensor(a, device="cuda")
    for f in [lambda v: v.exp().sum(1), lambda v: v.var(0), lambda v: v.amax(1), lambda v: (v * v).mean()]:
        np.testing.assert_allclose(f(x).cpu().numpy(), f(t).cpu().numpy(), rtol=1e-5, atol=1e-5)
