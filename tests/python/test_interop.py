"""numpy and DLPack: zero-copy both ways, dtypes, strides, lifetimes."""

import gc

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_from_numpy_shares_memory(dtype):
    a = np.arange(12).reshape(3, 4).astype(dtype)
    t = lamina.from_numpy(a)
    assert t.shape == (3, 4) and t.dtype.name == np.dtype(dtype).name.replace("bool", "bool")
    assert t.data_ptr() == a.ctypes.data
    b = t.numpy()
    assert np.shares_memory(a, b)


def test_writes_are_visible_both_ways():
    a = np.zeros((2, 3), dtype=np.float32)
    t = lamina.from_numpy(a)
    t[0, 1] = 5.0
    assert a[0, 1] == 5.0
    a[1, 2] = 7.0
    assert t[1, 2].item() == 7.0
    t.numpy()[0, 0] = 3.0
    assert a[0, 0] == 3.0


def test_from_numpy_strided_and_lifetime():
    a = np.arange(20, dtype=np.float64).reshape(4, 5)[:, 1::2]
    t = lamina.from_numpy(a)
    assert t.shape == (4, 2) and t.stride() == (5, 2)
    np.testing.assert_array_equal(t.numpy(), a)
    del a
    gc.collect()
    assert t.sum().item() == 76.0  # rows r: 5r+1 and 5r+3; the storage outlives `a`
    np.testing.assert_array_equal(t.numpy()[0], [1.0, 3.0])


def test_numpy_of_noncontiguous_tensor_is_a_view():
    t = lamina.arange(6.0).reshape(2, 3).t()
    a = t.numpy()
    assert a.shape == (3, 2) and not a.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(a, np.arange(6.0).reshape(2, 3).T)


def test_numpy_refuses_requires_grad():
    t = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_from_numpy_bad_inputs():
    with pytest.raises(TypeError, match="int32"):
        lamina.from_numpy(np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError, match="negative strides"):
        lamina.from_numpy(np.arange(5.0)[::-1])
    with pytest.raises(TypeError, match="ndarray"):
        lamina.from_numpy([1, 2, 3])


def test_item_tolist_array():
    t = lamina.tensor([[1.5, 2.5]])
    assert t.tolist() == [[1.5, 2.5]]
    assert lamina.tensor(3).item() == 3 and isinstance(lamina.tensor(3).item(), int)
    assert np.asarray(t).dtype == np.float32
    with pytest.raises(ValueError, match="2 elements"):
        t.item()


def test_dlpack_numpy_roundtrip():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = lamina.from_dlpack(a)
    assert t.data_ptr() == a.ctypes.data
    b = np.from_dlpack(t)
    assert np.shares_memory(a, b)
    t2 = lamina.from_dlpack(lamina.arange(10).reshape(2, 5)[:, 1:4])
    assert t2.tolist() == [[1, 2, 3], [6, 7, 8]]
    assert lamina.ones(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_dlpack_torch_both_ways(dtype):
    if torch is None:
        pytest.skip(TORCH_REASON)
    tt = torch.arange(12).reshape(3, 4).to(getattr(torch, dtype))[:, 1:]
    t = lamina.from_dlpack(tt)
    assert t.data_ptr() == tt.data_ptr()
    np.testing.assert_array_equal(t.numpy(), tt.numpy())
    back = torch.from_dlpack(t)
    assert back.data_ptr() == tt.data_ptr()
    t[0, 0] = 1  # shared memory
    assert tt[0, 0].item() == 1


def test_dlpack_capsule_consumed_once():
    cap = lamina.ones(3).__dlpack__()
    lamina.from_dlpack(cap)
    with pytest.raises(ValueError, match="consumed only once"):
        lamina.from_dlpack(cap)


def test_dlpack_keeps_producer_alive():
    x = lamina.arange(1000.0)
    y = np.from_dlpack(x)
    del x
    gc.collect()
    assert y[999] == 999.0
