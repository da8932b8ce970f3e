"""Bad input gets a clear exception naming the op, the argument and what it got; never a crash."""


import numpy as np
import pytest

import lamina
from lamina import _C


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"lamina\.add: shapes \[2, 3\] and \[4\] cannot be broadcast"):
        lamina.zeros(2, 3) + lamina.zeros(4)
    with pytest.raises(ValueError, match=r"lamina\.mul: shapes \[5\] and \[2, 3\]"):
        lamina.zeros(5) * lamina.zeros(2, 3)
    with pytest.raises(ValueError, match=r"lamina\.where"):
        lamina.where(lamina.ones(3) > 0, lamina.zeros(3), lamina.zeros(4))


def test_wrong_dtypes():
    with pytest.raises(TypeError, match=r"lamina\.add: expected 'input' and 'other' of the same dtype"):
        _C.binary(0, lamina.zeros(2)._t, lamina.zeros(2, dtype=lamina.float64)._t)
    with pytest.raises(TypeError, match=r"lamina\.exp: expected a floating-point tensor, got dtype int64"):
        _C.unary(1, lamina.tensor([1])._t)
    with pytest.raises(TypeError, match=r"where: argument 'condition' must be a bool tensor"):
        lamina.where(lamina.ones(2), lamina.ones(2), lamina.ones(2))
    with pytest.raises(TypeError, match="unknown dtype"):
        lamina.zeros(2, dtype="complex64")
    with pytest.raises(TypeError, match="sizes must be integers"):
        lamina.zeros(2.5)
    with pytest.raises(TypeError, match="unsupported operand"):
        lamina.ones(2) + [1, 2]
    with pytest.raises(ValueError, match="rectangular"):
        lamina.tensor([[1, 2], [3]])


def test_int_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match=r"only tensors of floating point dtype.*int64"):
        lamina.tensor([1, 2, 3], requires_grad=True)


def test_backward_on_non_scalar():
    x = lamina.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar outputs, got a tensor of shape \[3\]"):
        (x * 2).backward()


def test_shape_errors_name_the_op():
    x = lamina.zeros(2, 3)
    with pytest.raises(ValueError, match=r"lamina\.reshape: shape \[4, 2\] is invalid for input of size 6"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"only one dimension can be inferred"):
        x.reshape(-1, -1)
    with pytest.raises(IndexError, match=r"lamina\.transpose: dimension out of range"):
        x.transpose(0, 5)
    with pytest.raises(ValueError, match=r"lamina\.permute"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"lamina\.expand: the expanded size"):
        x.expand(4, 3)
    with pytest.raises(IndexError, match=r"lamina\.sum: dimension out of range"):
        x.sum(2)
    with pytest.raises(ValueError, match="multiple times"):
        x.sum((0, 0))
    with pytest.raises(IndexError, match=r"lamina\.narrow"):
        x.narrow(1, 2, 5)


def test_sizes_negative_and_huge():
    with pytest.raises(ValueError, match=r"lamina\.empty: sizes must be non-negative, got \[-1, 2\]"):
        lamina.empty(-1, 2)
    with pytest.raises(ValueError, match="overflows int64"):
        lamina.empty(2**40, 2**40)
    with pytest.raises(ValueError, match="too large"):
        lamina.empty(2**61)
    with pytest.raises((RuntimeError, MemoryError), match="out of memory"):
        lamina.empty(2**57, dtype=lamina.bool)


def test_as_strided_cannot_escape_storage():
    t = lamina.zeros(10)._t
    with pytest.raises(ValueError, match=r"as_strided: view with sizes \[5\], strides \[3\]"):
        t.as_strided([5], [3], 0)
    with pytest.raises(ValueError, match="negative strides"):
        t.as_strided([2], [-1], 5)
    with pytest.raises(ValueError, match="storage offset"):
        t.as_strided([1], [1], -1)
    with pytest.raises(ValueError, match="same length"):
        t.as_strided([2, 2], [1], 0)
    assert t.as_strided([3, 3], [3, 1], 1).shape == (3, 3)


def test_integer_division_by_zero_and_negative_power():
    with pytest.raises(ValueError, match="integer division by zero"):
        lamina.tensor([1, 2]) // lamina.tensor([1, 0])
    with pytest.raises(ValueError, match="integer division by zero"):
        lamina.tensor([1, 2]) % 0
    with pytest.raises(ValueError, match="negative integer powers"):
        lamina.tensor([2, 3]) ** lamina.tensor([1, -1])
    # floats follow IEEE: no exception
    assert np.isinf((lamina.tensor([1.0]) / 0).item())
    big = lamina.tensor([-(2**63)])
    assert (big // -1).tolist() == [-(2**63)]  # wraps like torch, never traps


def test_nan_and_inf_data_do_not_crash():
    x = lamina.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    for y in [x.exp(), x.log(), x.sqrt(), x.sum(), x.max(0).values, x.argmax(), x.var(), x.long(),
              x.clamp(-1, 1), x.sigmoid(), x.tanh(), x // 2, x % 2]:
        y.numpy()


def test_empty_tensors_through_every_op():
    e = lamina.zeros(0, 3, requires_grad=True)
    outs = [e + 1, e * e, e.exp(), e.sum(1), e.mean(0), e.t(), e.reshape(3, 0), e[0:0], e @ lamina.zeros(3, 2),
            lamina.cat([e, e]), e.clamp(0, 1), e.unsqueeze(0), e.var(1)]
    for o in outs:
        assert o.numel() == 0 or o.shape == (3,)
    (e * 2).sum().backward()
    assert e.grad.shape == (0, 3)


def test_cuda_requests_fail_cleanly_without_gpu():
    if lamina.cuda.is_available():
        pytest.skip("a CUDA device is present: the no-GPU path can't be tested here")
    with pytest.raises(RuntimeError, match="CUDA|cuda"):
        lamina.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA|cuda"):
        lamina.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CUDA|cuda"):
        lamina.cuda.synchronize()
    assert lamina.cuda.device_count() == 0
    assert lamina.cuda.memory_allocated() == 0


def test_bad_device_strings():
    with pytest.raises(ValueError, match="cuda:N"):
        lamina.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="cuda:N"):
        _C.empty([2], "float32", "cuda:x")


def test_invalid_op_codes_and_args_to_C():
    t = lamina.ones(2)._t
    with pytest.raises(ValueError, match="unknown op code"):
        _C.binary(99, t, t)
    with pytest.raises(ValueError, match="unknown op code"):
        _C.unary(-1, t)
    with pytest.raises(ValueError, match="unknown op code"):
        _C.reduce(42, t, [], False, 1)
    with pytest.raises(ValueError, match="correction"):
        _C.reduce(2, t, [], False, -1)
    with pytest.raises(ValueError, match="integer too large"):
        _C.full([1], 2**70, "int64", "cpu")
    with pytest.raises(ValueError, match="step"):
        lamina.arange(0, 10, 0)
    with pytest.raises(ValueError, match="finite"):
        lamina.arange(0, float("inf"))
    with pytest.raises(ValueError, match="inconsistent"):
        lamina.arange(5, 0, 1)
    with pytest.raises(ValueError, match="low"):
        lamina.randint(5, 5, (2,))
    with pytest.raises(ValueError, match="std"):
        lamina.empty(3).normal_(0, -1)


def test_from_dlpack_garbage():
    with pytest.raises(TypeError, match="from_dlpack"):
        lamina.from_dlpack(42)


def test_pickle_refused():
    import pickle

    with pytest.raises(TypeError, match="safetensors"):
        pickle.dumps(lamina.ones(2))


def test_random_calls_never_crash():
    """A small fuzz over the _C entry points with odd shapes and arguments: every failure must be
    one of the documented exception types (a crash would kill the test process)."""
    rng = np.random.default_rng(7)
    shapes = [[], [0], [1], [3], [2, 3], [3, 1], [1, 4, 1], [2, 0, 3]]
    dtypes = ["float32", "float64", "int64", "bool"]
    allowed = (ValueError, TypeError, IndexError, RuntimeError)
    for _ in range(600):
        s1, s2 = shapes[rng.integers(len(shapes))], shapes[rng.integers(len(shapes))]
        d1, d2 = dtypes[rng.integers(4)], dtypes[rng.integers(4)]
        a = _C.full(s1, int(rng.integers(-3, 4)), d1, "cpu")
        b = _C.full(s2, int(rng.integers(-3, 4)), d2, "cpu")
        calls = [
            lambda: _C.binary(int(rng.integers(0, 17)), a, b),
            lambda: _C.unary(int(rng.integers(0, 19)), a),
            lambda: _C.reduce(int(rng.integers(0, 6)), a, [int(rng.integers(-3, 3))], bool(rng.integers(2)), 1),
            lambda: _C.max_dim(a, int(rng.integers(-3, 3)), False, False),
            lambda: _C.argmax(a, None, False, True),
            lambda: _C.matmul(a, b),
            lambda: _C.cat([a, b], int(rng.integers(-2, 2))),
            lambda: _C.copy_(a, b),
            lambda: _C.sum_to_size(a, s2),
            lambda: _C.where(a, b, b),
            lambda: _C.clamp(a, 0, None),
            lambda: _C.to_dtype(a, d2),
            lambda: a.as_strided(s2, [int(x) for x in rng.integers(0, 3, len(s2))], int(rng.integers(0, 3))),
            lambda: a.view(s2),
            lambda: _C.reshape(a, s2),
            lambda: a.expand(s2),
            lambda: a.slice(*[int(v) for v in (rng.integers(-2, 2), rng.integers(-3, 3), rng.integers(-3, 5),
                                               rng.integers(-1, 3))]),
            lambda: _C.binary_(int(rng.integers(0, 9)), a, b),
        ]
        fn = calls[rng.integers(len(calls))]
        try:
            fn()
        except allowed:
            pass


def test_as_strided_and_slicing_overflow_are_caught():
    t = lamina.zeros(15)._t
    with pytest.raises(ValueError, match="overflows int64|reaches element"):
        t.as_strided([2, 2, 2, 2], [2**61] * 4, 0)
    with pytest.raises(ValueError):
        t.as_strided([2], [1], 2**63 - 1)
    x = lamina.arange(10).reshape(5, 2)
    assert x[0:5:2**63 - 1].tolist() == [[0, 1]]
    with pytest.raises(IndexError, match="narrow"):
        x.narrow(0, 1, 2**63 - 1)
