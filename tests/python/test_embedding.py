"""F.embedding and nn.Embedding against torch: gather forward, scatter-add backward with repeated
indices, padding_idx (positive and negative), scale_grad_by_freq, max_norm, from_pretrained, the
module's initialisation, a float64 gradcheck, and bad input."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)

# (num_embeddings, dim, index shape)
CASES = [(7, 3, (5,)), (11, 5, (2, 9)), (1, 1, (4,)), (13, 17, (3, 2, 4)), (5, 4, ())]


def _run(N, D, shape, padding_idx, scale, rng):
    w = rng.standard_normal((N, D)).astype(np.float32)
    idx = rng.integers(0, N, size=shape)
    if idx.size > 1:
        idx.reshape(-1)[-1] = idx.reshape(-1)[0]  # at least one repeat
    g = rng.standard_normal(shape + (D,)).astype(np.float32)
    tw = torch.tensor(w, requires_grad=True)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx,
                                         scale_grad_by_freq=scale)
    tout.backward(torch.tensor(g))
    lw = lamina.tensor(w, requires_grad=True)
    out = F.embedding(lamina.tensor(idx), lw, padding_idx=padding_idx, scale_grad_by_freq=scale)
    out.backward(lamina.tensor(g))
    assert tuple(out.shape) == tuple(tout.shape)
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    np.testing.assert_allclose(lw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)


@needs_torch
@pytest.mark.parametrize("scale", [False, True], ids=["plain", "freq"])
@pytest.mark.parametrize("padding_idx", [None, 0, -1, 2], ids=["nopad", "pad0", "pad-1", "pad2"])
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_embedding_parity(case, padding_idx, scale):
    N, D, shape = case
    if padding_idx is not None and not -N <= padding_idx < N:
        pytest.skip("padding_idx out of range for this table")
    _run(N, D, shape, padding_idx, scale, np.random.default_rng(0))


@needs_torch
def test_padding_row_gets_no_gradient_even_when_repeated():
    idx = lamina.tensor([[1, 1, 0], [1, 2, 1]])
    w = lamina.tensor(np.arange(12, dtype=np.float32).reshape(4, 3), requires_grad=True)
    F.embedding(idx, w, padding_idx=1).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]])


def test_embedding_gradcheck():
    idx = lamina.tensor([[0, 2, 2], [3, 0, 1]])
    w = lamina.randn(4, 3, dtype=lamina.float64, requires_grad=True)
    # padding_idx and scale_grad_by_freq change the gradient on purpose (checked against torch
    # above); the plain lookup is checked against finite differences.
    assert lamina.autograd.gradcheck(lambda w: F.embedding(idx, w), (w,))
    assert lamina.autograd.gradcheck(lambda w: F.embedding(idx[:, :2], w, padding_idx=1), (w,))


@needs_torch
def test_max_norm_renormalises_looked_up_rows():
    rng = np.random.default_rng(1)
    w = (3 * rng.standard_normal((6, 4))).astype(np.float32)
    idx = np.array([[0, 2], [2, 5]])
    tw = torch.tensor(w)
    lw = lamina.tensor(w)
    tout = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5)
    out = F.embedding(lamina.tensor(idx), lw, max_norm=1.5)
    np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lw.numpy(), tw.numpy(), rtol=1e-5, atol=1e-6)  # rows 1, 3, 4 untouched


def test_module_init_and_padding_stays_zero_under_training():
    lamina.manual_seed(3)
    emb = nn.Embedding(50, 8, padding_idx=-2)
    assert emb.padding_idx == 48
    w = emb.weight.detach().numpy().copy()
    assert np.all(w[48] == 0)
    rest = np.delete(w, 48, axis=0)
    assert abs(rest.mean()) < 0.15 and 0.85 < rest.std() < 1.15  # N(0, 1)
    assert tuple(emb.state_dict()["weight"].shape) == (50, 8)
    opt = lamina.optim.SGD(emb.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        emb(lamina.tensor([[48, 1, 48], [2, 48, 3]])).pow(2).sum().backward()
        opt.step()
    assert np.all(emb.weight.detach().numpy()[48] == 0)
    assert not np.allclose(emb.weight.detach().numpy()[1], w[1])
    assert repr(emb) == "Embedding(50, 8, padding_idx=48)"


@needs_torch
def test_module_matches_torch_state_dict():
    t = torch.nn.Embedding(9, 4, padding_idx=0)
    m = nn.Embedding(9, 4, padding_idx=0)
    m.load_state_dict({"weight": lamina.tensor(t.weight.detach().numpy())})
    idx = np.array([[0, 3, 8], [8, 8, 1]])
    np.testing.assert_array_equal(m(lamina.tensor(idx)).detach().numpy(), t(torch.tensor(idx)).detach().numpy())


def test_from_pretrained():
    w = lamina.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert emb(lamina.tensor([2, 0])).tolist() == [[5.0, 6.0], [1.0, 2.0]]
    emb2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=1)
    assert emb2.weight.requires_grad and emb2.weight.tolist()[1] == [3.0, 4.0]  # not zeroed (as torch)
    emb2(lamina.tensor([1, 2])).sum().backward()
    assert emb2.weight.grad.tolist() == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    with pytest.raises(ValueError, match="2-D"):
        nn.Embedding.from_pretrained(lamina.zeros(3))


def test_bad_input():
    w = lamina.randn(5, 3)
    with pytest.raises(IndexError, match=r"lamina.embedding: index 5 .* out of range for num_embeddings 5"):
        F.embedding(lamina.tensor([0, 5]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(lamina.tensor([[-1]]), w)
    with pytest.raises(TypeError, match="must be int64"):
        F.embedding(lamina.tensor([0.0, 1.0]), w)
    with pytest.raises(ValueError, match="must be 2-D"):
        F.embedding(lamina.tensor([0]), lamina.randn(5))
    with pytest.raises(ValueError, match="padding_idx 5 must be within num_embeddings"):
        F.embedding(lamina.tensor([0]), w, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx -6"):
        nn.Embedding(5, 3, padding_idx=-6)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(TypeError, match="argument 'input' must be a Tensor"):
        F.embedding([0, 1], w)
    with pytest.raises(IndexError, match="index 7"):
        F.embedding(lamina.tensor([7]), w, max_norm=1.0)
    with pytest.raises(ValueError, match="num_embeddings"):
        nn.Embedding(-1, 3)
