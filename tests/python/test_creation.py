"""Factories, dtypes, devices, seeded randomness."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina


def test_factories():
    assert lamina.zeros(2, 3).tolist() == [[0.0] * 3] * 2
    assert lamina.ones((2,)).dtype is lamina.float32
    assert lamina.full((2, 2), 7).dtype is lamina.int64
    assert lamina.full((2,), 1.5).tolist() == [1.5, 1.5]
    assert lamina.full((1,), True).dtype is lamina.bool
    assert lamina.empty(4, 5).shape == (4, 5)
    assert lamina.zeros(3, dtype=lamina.float64).dtype is lamina.float64
    assert lamina.zeros([]).shape == ()
    x = lamina.randn(2, 3, dtype=lamina.float64)
    for f in [lamina.zeros_like, lamina.ones_like, lamina.empty_like, lamina.rand_like, lamina.randn_like]:
        y = f(x)
        assert y.shape == x.shape and y.dtype is lamina.float64
    assert lamina.full_like(x, 2).tolist() == [[2.0] * 3] * 2
    np.testing.assert_array_equal(lamina.eye(3, 4).numpy(), np.eye(3, 4, dtype=np.float32))


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 2, 0.25), (0, 1, 0.3), (10, 0, -3), (-2.5, 2.5, 0.5)])
def test_arange_matches_torch(args):
    if torch is None:
        pytest.skip(TORCH_REASON)
    ours = lamina.arange(*args)
    ref = torch.arange(*args)
    assert ours.dtype.name == str(ref.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


def test_linspace():
    np.testing.assert_allclose(lamina.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=1e-6)


def test_tensor_dtype_inference():
    assert lamina.tensor([1, 2]).dtype is lamina.int64
    assert lamina.tensor([1.0, 2]).dtype is lamina.float32
    assert lamina.tensor(np.zeros(2)).dtype is lamina.float64
    assert lamina.tensor([True]).dtype is lamina.bool
    assert lamina.tensor([[1, 2]], dtype=lamina.float64).dtype is lamina.float64
    t = lamina.tensor([lamina.tensor(1.0), lamina.tensor(2.0)])
    assert t.tolist() == [1.0, 2.0]


def test_tensor_copies_numpy_but_as_tensor_shares():
    a = np.ones(3, dtype=np.float32)
    assert lamina.tensor(a).data_ptr() != a.ctypes.data
    assert lamina.as_tensor(a).data_ptr() == a.ctypes.data


def test_manual_seed_reproducible():
    lamina.manual_seed(42)
    a = lamina.rand(1000)
    b = lamina.randn(7, 3)
    lamina.manual_seed(42)
    assert np.array_equal(lamina.rand(1000).numpy(), a.numpy())
    assert np.array_equal(lamina.randn(7, 3).numpy(), b.numpy())
    assert not np.array_equal(lamina.rand(1000).numpy(), a.numpy())


def test_rng_state_roundtrip():
    state = lamina.get_rng_state()
    a = lamina.randn(5)
    lamina.set_rng_state(state)
    assert np.array_equal(lamina.randn(5).numpy(), a.numpy())


def test_random_distributions():
    lamina.manual_seed(1)
    u = lamina.rand(200_000).numpy().astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    n = lamina.randn(200_000, dtype=lamina.float64).numpy()
    assert abs(n.mean()) < 5 / np.sqrt(n.size)
    assert abs(n.std() - 1) < 0.01
    r = lamina.randint(3, 9, (10_000,)).numpy()
    assert r.min() == 3 and r.max() == 8 and lamina.randint(5, (2,)).dtype is lamina.int64
    x = lamina.empty(1000).uniform_(-2, 3).numpy()
    assert x.min() >= -2 and x.max() < 3
    y = lamina.empty(50_000).normal_(4, 0.5).numpy()
    assert abs(y.mean() - 4) < 0.02 and abs(y.std() - 0.5) < 0.02


def test_random_same_regardless_of_threads():
    n = lamina.get_num_threads()
    try:
        lamina.manual_seed(3)
        lamina.set_num_threads(1)
        a = lamina.randn(100_000).numpy()
        lamina.manual_seed(3)
        lamina.set_num_threads(2)
        b = lamina.randn(100_000).numpy()
    finally:
        lamina.set_num_threads(n)
    assert np.array_equal(a, b)


def test_dtype_and_device_objects():
    assert str(lamina.float32) == "lamina.float32"
    assert lamina.float is lamina.float32 and lamina.long is lamina.int64 and lamina.double is lamina.float64
    d = lamina.device("cuda:1")
    assert d.type == "cuda" and d.index == 1 and str(d) == "cuda:1"
    assert lamina.device("cpu") == "cpu"
    with pytest.raises(ValueError, match="cuda:N"):
        lamina.device("gpu")
    x = lamina.ones(2)
    assert x.device == lamina.device("cpu")
    assert x.to(lamina.float64).dtype is lamina.float64
    assert x.to("cpu", lamina.int64).dtype is lamina.int64
    assert x.to(dtype=lamina.float64, device="cpu").dtype is lamina.float64
    assert x.double().dtype is lamina.float64 and x.long().dtype is lamina.int64
    assert x.cpu() is x


def test_threads_setting():
    n = lamina.get_num_threads()
    lamina.set_num_threads(1)
    assert lamina.get_num_threads() == 1
    lamina.set_num_threads(n)
    with pytest.raises(ValueError, match="num_threads"):
        lamina.set_num_threads(0)


def test_repr():
    assert repr(lamina.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(lamina.ones(2, requires_grad=True))
    assert "grad_fn" in repr(lamina.ones(2, requires_grad=True) * 2)
    assert "dtype=lamina.float64" in repr(lamina.ones(2, dtype=lamina.float64))
    assert repr(lamina.ones(2).shape) == "lamina.Size([2])"
