"""matmul with batch broadcasting and 1-D promotion, against torch.matmul."""

import numpy as np
import pytest
from helpers import TORCH_REASON, check_op, torch

import lamina

CASES = [
    [(3, 5), (5, 4)],
    [(1, 1), (1, 1)],
    [(7, 1), (1, 3)],
    [(5,), (5,)],
    [(5,), (5, 3)],
    [(3, 5), (5,)],
    [(2, 3, 5), (5, 4)],
    [(2, 3, 5), (2, 5, 4)],
    [(2, 1, 3, 5), (4, 5, 2)],
    [(5,), (2, 5, 3)],
    [(2, 3, 5), (5,)],
]


@pytest.mark.parametrize("shapes", CASES, ids=[str(c) for c in CASES])
def test_matmul(shapes):
    check_op(shapes, lambda a, b: a @ b, rtol=1e-5, atol=1e-5)


def test_matmul_transposed_operands():
    check_op([(5, 3), (4, 5)], lambda a, b: a.t() @ b.t(), atol=1e-5)
    check_op([(2, 5, 3), (2, 4, 5)], lambda a, b: a.mT @ b.mT, atol=1e-5)


def test_mm_bmm():
    check_op([(3, 5), (5, 4)], lambda a, b: a.mm(b), atol=1e-5)
    check_op([(2, 3, 5), (2, 5, 4)], lambda a, b: a.bmm(b), atol=1e-5)


def test_matmul_int64():
    a = np.random.default_rng(0).integers(-5, 5, (3, 4))
    b = np.random.default_rng(1).integers(-5, 5, (4, 2))
    np.testing.assert_array_equal((lamina.tensor(a) @ lamina.tensor(b)).numpy(), a @ b)


def test_matmul_larger_float32():
    if torch is None:
        pytest.skip(TORCH_REASON)
    a = np.random.default_rng(2).standard_normal((64, 300)).astype(np.float32)
    b = np.random.default_rng(3).standard_normal((300, 70)).astype(np.float32)
    np.testing.assert_allclose((lamina.tensor(a) @ lamina.tensor(b)).numpy(),
                               (torch.tensor(a) @ torch.tensor(b)).numpy(), rtol=1e-4, atol=1e-4)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"cannot be multiplied \(3x4 and 5x2\)"):
        lamina.zeros(3, 4) @ lamina.zeros(5, 2)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        lamina.zeros(2, 3, 4) @ lamina.zeros(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        lamina.tensor(1.0) @ lamina.zeros(3)
    with pytest.raises(TypeError, match="same dtype"):
        lamina.zeros(3, 4) @ lamina.zeros(4, 2, dtype=lamina.float64)
