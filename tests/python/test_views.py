"""Views, copies and indexing: values, sharing, gradients."""

import numpy as np
import pytest
from helpers import check_op, torch

import lamina


def test_reshape_view_flatten():
    check_op([(2, 3, 4)], lambda x: x.reshape(4, 6))
    check_op([(2, 3, 4)], lambda x: x.reshape(-1, 3))
    check_op([(2, 3, 4)], lambda x: x.view(6, 4))
    check_op([(2, 3, 4)], lambda x: x.flatten())
    check_op([(2, 3, 4, 5)], lambda x: x.flatten(1, 2))
    check_op([(2, 3, 4)], lambda x: x.transpose(0, 2).reshape(-1))  # needs a copy


def test_permute_transpose():
    check_op([(2, 3, 4)], lambda x: x.permute(2, 0, 1))
    check_op([(2, 3, 4)], lambda x: x.transpose(0, 1) * 2)
    check_op([(3, 5)], lambda x: x.t() @ x)
    check_op([(2, 3, 4)], lambda x: x.mT)


def test_squeeze_unsqueeze_expand():
    check_op([(3, 1, 4)], lambda x: x.squeeze(1))
    check_op([(3, 1, 4, 1)], lambda x: x.squeeze())
    check_op([(3, 4)], lambda x: x.unsqueeze(1) * 3)
    check_op([(3, 4)], lambda x: x.unsqueeze(-1))
    # a non-contiguous input and a chain of shape-only steps (backward reshapes the gradient)
    check_op([(3, 5)], lambda x: x.t().unsqueeze(1).unsqueeze(0).squeeze(0) * 2)
    check_op([(3, 1)], lambda x: x.expand(3, 5))
    check_op([(4,)], lambda x: x.expand(2, 3, 4))
    check_op([(3, 1)], lambda x: x.expand(-1, 4))


def test_indexing():
    check_op([(5, 6)], lambda x: x[1])
    check_op([(5, 6)], lambda x: x[1:4])
    check_op([(5, 6)], lambda x: x[:, 2])
    check_op([(5, 6)], lambda x: x[::2, 1::3])
    check_op([(5, 6)], lambda x: x[-1, -2])
    check_op([(5, 6, 7)], lambda x: x[..., 3])
    check_op([(5, 6, 7)], lambda x: x[1, ..., 2:5])
    check_op([(5, 6)], lambda x: x[None, :, None, 2])
    check_op([(5, 6)], lambda x: x[2:100])


def test_narrow_select_chunk_split_unbind():
    check_op([(5, 6)], lambda x: x.narrow(1, 2, 3))
    check_op([(5, 6)], lambda x: x.select(0, 3))
    check_op([(7, 6)], lambda x: x.chunk(3)[1] * x.chunk(3)[2][:2])
    check_op([(7, 6)], lambda x: x.split([2, 5])[1])
    check_op([(3, 4)], lambda x: x.unbind(1)[2])


def test_cat_stack():
    check_op([(2, 3), (4, 3)], lambda x, y: lamina.cat([x, y]), lambda x, y: torch.cat([x, y]))
    check_op([(2, 3), (2, 5)], lambda x, y: lamina.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1))
    check_op([(2, 3), (2, 3), (2, 3)], lambda x, y, z: lamina.stack([x, y, z], 1),
             lambda x, y, z: torch.stack([x, y, z], 1))
    check_op([(2, 3), (2, 3)], lambda x, y: lamina.stack([x, y], -1),
             lambda x, y: torch.stack([x, y], -1))


def test_contiguous_clone_to():
    check_op([(3, 4)], lambda x: x.t().contiguous())
    check_op([(3, 4)], lambda x: x.clone() * 2)
    # a float32 round trip is too coarse for finite differences: parity only
    check_op([(3, 4)], lambda x: x.double().float(), gradcheck=False)


def test_views_share_storage():
    x = lamina.arange(12.0).reshape(3, 4)
    v = x[1]
    v[0] = 100.0
    assert x[1, 0].item() == 100.0
    t = x.t()
    assert t.shape == (4, 3) and not t.is_contiguous()
    assert t.contiguous().is_contiguous()
    assert x.reshape(12).data_ptr() == x.data_ptr()  # a view, not a copy
    e = lamina.tensor([1.0, 2.0]).expand(3, 2)
    assert e.stride() == (0, 1)


def test_setitem():
    x = lamina.zeros(3, 4)
    x[1] = 2.0
    x[:, 3] = lamina.tensor([7.0, 8.0, 9.0])
    x[0, 0:2] = lamina.tensor([1.0, 1.0])
    np.testing.assert_array_equal(x.numpy(), [[1, 1, 0, 7], [2, 2, 2, 8], [0, 0, 0, 9]])


def test_index_errors():
    x = lamina.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(ValueError, match="step"):
        x[::-1]
    with pytest.raises(IndexError, match="basic indexing"):
        x[lamina.tensor([0, 1])]


def test_view_incompatible_raises():
    x = lamina.zeros(3, 4).t()
    with pytest.raises(RuntimeError, match=r"view size \[12\] is not compatible"):
        x.view(12)
    assert x.reshape(12).shape == (12,)


def test_stack_cat_errors():
    with pytest.raises(ValueError, match="sizes of tensors must match"):
        lamina.cat([lamina.zeros(2, 3), lamina.zeros(2, 4)])
    with pytest.raises(ValueError, match="equal size"):
        lamina.stack([lamina.zeros(2, 3), lamina.zeros(3, 2)])
    with pytest.raises(ValueError, match="non-empty"):
        lamina.cat([])
