"""LSTM: gradient checks of the cell and of whole sequences in float64, parity with torch.nn.LSTM
and torch.nn.LSTMCell (outputs, final states, every gradient) over layers x directions x
batch_first x initial state x bias, packed / variable-length batches, state_dict interchange,
packing utilities, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                 pad_sequence)

torch = pytest.importorskip("torch")

RTOL, ATOL = 1e-5, 1e-6          # float32 outputs
G_RTOL, G_ATOL = 1e-4, 1e-5      # float32 gradients (sums over T * B rows)

_rng = np.random.default_rng(4)


def rand(*shape, dtype=np.float32, scale=1.0):
    a = _rng.uniform(-scale, scale, size=shape)
    a[np.abs(a) < 1e-3] = 0.1
    return a.astype(dtype)


def lt(a, requires_grad=False):
    return lamina.tensor(a, requires_grad=requires_grad)


def tt(a, requires_grad=False):
    return torch.tensor(a, requires_grad=requires_grad)


def npy(t):
    if isinstance(t, lamina.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


def close(a, b, rtol=RTOL, atol=ATOL, what=""):
    a, b = npy(a), npy(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != torch {b.shape}"
    assert not np.isnan(a).any(), f"{what}: NaN"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def torch_to_lamina(tm, lm):
    lm.load_state_dict({k: lamina.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


# ---------------------------------------------------------------- gradient checks (float64)


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_cell(bias):
    B, Din, H = 2, 3, 2
    args = [rand(B, Din), rand(B, H), rand(B, H), rand(4 * H, Din), rand(4 * H, H)]
    if bias:
        args += [rand(4 * H), rand(4 * H)]
    xs = [lamina.tensor(a.astype(np.float64), requires_grad=True) for a in args]

    def fn(x, h, c, wi, wh, *b):
        return F.lstm_cell(x, (h, c), wi, wh, *b)

    assert lamina.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("reverse,packed", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("T", [3, 2])  # 9 rows in all, and 6: the few-rows path (csrc/cpu/lstm.cpp forward_small)
def test_gradcheck_sequence(reverse, packed, T):
    B, Din, H = 3, 2, 2
    bs = ([3, 2, 1] if T == 3 else [3, 1]) if packed else None
    args = [rand(T, B, Din), rand(B, H), rand(B, H), rand(4 * H, Din), rand(4 * H, H), rand(4 * H), rand(4 * H)]
    xs = [lamina.tensor(a.astype(np.float64), requires_grad=True) for a in args]

    def fn(x, h, c, wi, wh, bi, bh):
        return F.lstm_sequence(x, h, c, wi, wh, bi, bh, batch_sizes=bs, reverse=reverse)

    assert lamina.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradcheck_multilayer_bidirectional_module():
    m = nn.LSTM(2, 2, num_layers=2, bidirectional=True).double()
    x = lamina.tensor(rand(3, 2, 2, dtype=np.float64), requires_grad=True)
    h0 = lamina.tensor(rand(4, 2, 2, dtype=np.float64), requires_grad=True)
    c0 = lamina.tensor(rand(4, 2, 2, dtype=np.float64), requires_grad=True)

    def fn(x, h0, c0):
        y, (h, c) = m(x, (h0, c0))
        return y, h, c

    assert lamina.autograd.gradcheck(fn, [x, h0, c0], eps=1e-6, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- parity with torch.nn.LSTM

_SIZES = [(1, 3, 5, 1), (4, 2, 3, 7), (7, 5, 1, 3), (5, 1, 6, 2), (3, 4, 2, 5), (6, 3, 4, 1), (2, 7, 3, 4),
          (9, 2, 5, 3)]
_CASES = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [True, False]))


def run_pair(tm, lm, x, state, batch_first, grads_of=True):
    """Forward both modules on x (numpy), backward random cotangents; returns both results."""
    tx, lx = tt(x, True), lt(x, True)
    if state is not None:
        th, tc = (tt(s, True) for s in state)
        lh, lc = (lt(s, True) for s in state)
        ty, (thn, tcn) = tm(tx, (th, tc))
        ly, (lhn, lcn) = lm(lx, (lh, lc))
    else:
        ty, (thn, tcn) = tm(tx)
        ly, (lhn, lcn) = lm(lx)
    close(ly, ty, what="output")
    close(lhn, thn, what="h_n")
    close(lcn, tcn, what="c_n")
    gy, gh, gc = rand(*ty.shape), rand(*thn.shape), rand(*tcn.shape)
    torch.autograd.backward([ty, thn, tcn], [tt(gy), tt(gh), tt(gc)])
    ((ly * lt(gy)).sum() + (lhn * lt(gh)).sum() + (lcn * lt(gc)).sum()).backward()
    close(lx.grad, tx.grad, G_RTOL, G_ATOL, "grad input")
    if state is not None:
        close(lh.grad, th.grad, G_RTOL, G_ATOL, "grad h0")
        close(lc.grad, tc.grad, G_RTOL, G_ATOL, "grad c0")
    tp = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        close(p.grad, tp[name].grad, G_RTOL, G_ATOL, f"grad {name}")


@pytest.mark.parametrize("layers,bidir,batch_first,init_state,bias", _CASES)
def test_lstm_parity(layers, bidir, batch_first, init_state, bias):
    k = _CASES.index((layers, bidir, batch_first, init_state, bias))
    T, B, Din, H = _SIZES[k % len(_SIZES)]
    torch.manual_seed(k)
    tm = torch.nn.LSTM(Din, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
    lm = nn.LSTM(Din, H, num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
    torch_to_lamina(tm, lm)
    D = 2 if bidir else 1
    x = rand(B, T, Din) if batch_first else rand(T, B, Din)
    state = (rand(layers * D, B, H), rand(layers * D, B, H)) if init_state else None
    run_pair(tm, lm, x, state, batch_first)


@pytest.mark.parametrize("bidir", [False, True])
def test_lstm_unbatched_parity(bidir):
    torch.manual_seed(3)
    tm = torch.nn.LSTM(4, 3, num_layers=2, bidirectional=bidir)
    lm = nn.LSTM(4, 3, num_layers=2, bidirectional=bidir)
    torch_to_lamina(tm, lm)
    D = 2 if bidir else 1
    x, h, c = rand(5, 4), rand(2 * D, 3), rand(2 * D, 3)
    ty, (th, tc) = tm(tt(x), (tt(h), tt(c)))
    ly, (lh, lc) = lm(lt(x), (lt(h), lt(c)))
    assert tuple(ly.shape) == (5, 3 * D) and tuple(lh.shape) == (2 * D, 3)
    close(ly, ty, what="output")
    close(lh, th, what="h_n")
    close(lc, tc, what="c_n")


def test_lstm_float64_parity_larger():
    torch.manual_seed(5)
    tm = torch.nn.LSTM(33, 65, num_layers=2, bidirectional=True).double()
    lm = nn.LSTM(33, 65, num_layers=2, bidirectional=True).double()
    torch_to_lamina(tm, lm)
    x = rand(11, 9, 33, dtype=np.float64)
    ty, (th, tc) = tm(tt(x))
    ly, (lh, lc) = lm(lt(x))
    close(ly, ty, 1e-12, 1e-12, "output")
    close(lh, th, 1e-12, 1e-12, "h_n")
    close(lc, tc, 1e-12, 1e-12, "c_n")


def test_lstm_float32_parity_benchmark_sized():
    # Big enough that every GEMM runs threaded, packed, with several cache blocks.
    torch.manual_seed(6)
    tm = torch.nn.LSTM(37, 131)
    lm = nn.LSTM(37, 131)
    torch_to_lamina(tm, lm)
    run_pair(tm, lm, rand(13, 21, 37), (rand(1, 21, 131), rand(1, 21, 131)), False)


@pytest.mark.parametrize("threads", [1, 2])
def test_lstm_wide_hidden_parity(threads):
    # H = 300: ten 32-unit gate blocks, more than the backward pass's bias-sum buffer holds at once
    # (csrc/cpu/lstm.cpp, kBlocks = 8) when one thread owns them all.
    torch.manual_seed(8)
    tm = torch.nn.LSTM(4, 300)
    lm = nn.LSTM(4, 300)
    torch_to_lamina(tm, lm)
    old = lamina.get_num_threads()
    lamina.set_num_threads(threads)
    try:
        run_pair(tm, lm, rand(3, 5, 4), (rand(1, 5, 300), rand(1, 5, 300)), False)
    finally:
        lamina.set_num_threads(old)


def test_lstm_large_batch_parity():
    # More rows than one cache block of the GEMM (144 on AVX2), bidirectional, packed rows.
    torch.manual_seed(7)
    tm = torch.nn.LSTM(5, 40, bidirectional=True)
    lm = nn.LSTM(5, 40, bidirectional=True)
    torch_to_lamina(tm, lm)
    run_pair(tm, lm, rand(4, 301, 5), (rand(2, 301, 40), rand(2, 301, 40)), False)


def test_state_dict_lamina_to_torch():
    lm = nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    tm = torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True)
    sd = lm.state_dict()
    assert list(sd.keys()) == list(tm.state_dict().keys())
    for k, v in tm.state_dict().items():
        assert tuple(sd[k].shape) == tuple(v.shape), k
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sd.items()})
    x = rand(3, 6, 5)
    close(lm(lt(x))[0], tm(tt(x))[0], what="output after loading lamina weights into torch")


def test_init_and_parameters():
    lamina.manual_seed(0)
    m = nn.LSTM(7, 16, num_layers=2, bias=True)
    bound = 1 / 4
    for name, p in m.named_parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 4, name
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in torch.nn.LSTM(7, 16, 2).named_parameters()]
    assert repr(nn.LSTM(3, 4, 2, batch_first=True, bidirectional=True)) == \
        "LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)"
    assert not any("bias" in n for n, _ in nn.LSTM(3, 4, bias=False).named_parameters())


def test_dropout_between_layers():
    m = nn.LSTM(3, 5, num_layers=3, dropout=0.5)
    x = lt(rand(4, 2, 3))
    lamina.manual_seed(1)
    a = npy(m(x)[0])
    lamina.manual_seed(1)
    b = npy(m(x)[0])
    c = npy(m(x)[0])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    m.eval()
    np.testing.assert_array_equal(npy(m(x)[0]), npy(m(x)[0]))
    tm = torch.nn.LSTM(3, 5, num_layers=3, dropout=0.5).eval()
    torch_to_lamina(tm, m)
    close(m(x)[0], tm(tt(npy(x)))[0], what="eval output with dropout set")
    with pytest.warns(UserWarning):
        nn.LSTM(3, 5, num_layers=1, dropout=0.5)


# ---------------------------------------------------------------- packed / variable length


@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [6, 4, 4, 1]), (False, [2, 6, 1, 5]),
                                                    (False, [3, 3, 1]), (True, [1])])
@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_parity(enforce_sorted, lengths, layers, bidir, batch_first):
    torch.manual_seed(len(lengths) + layers)
    B, T, Din, H = len(lengths), max(lengths) + 1, 3, 4
    D = 2 if bidir else 1
    tm = torch.nn.LSTM(Din, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    lm = nn.LSTM(Din, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    torch_to_lamina(tm, lm)
    x = rand(B, T, Din) if batch_first else rand(T, B, Din)
    h0, c0 = rand(layers * D, B, H), rand(layers * D, B, H)
    tx, lx = tt(x, True), lt(x, True)
    th, tc, lh, lc = tt(h0, True), tt(c0, True), lt(h0, True), lt(c0, True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce_sorted)
    lp = pack_padded_sequence(lx, lengths, batch_first, enforce_sorted)
    close(lp.data, tp.data, what="packed data")
    assert lp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    ty, (thn, tcn) = tm(tp, (th, tc))
    ly, (lhn, lcn) = lm(lp, (lh, lc))
    assert isinstance(ly, PackedSequence)
    close(ly.data, ty.data, what="packed output")
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(ty, batch_first, total_length=T)
    lpad, llen = pad_packed_sequence(ly, batch_first, total_length=T)
    assert llen.tolist() == tlen.tolist()
    close(lpad, tpad, what="padded output")
    close(lhn, thn, what="h_n")
    close(lcn, tcn, what="c_n")
    gy, gh, gc = rand(*tpad.shape), rand(*thn.shape), rand(*tcn.shape)
    torch.autograd.backward([tpad, thn, tcn], [tt(gy), tt(gh), tt(gc)])
    ((lpad * lt(gy)).sum() + (lhn * lt(gh)).sum() + (lcn * lt(gc)).sum()).backward()
    close(lx.grad, tx.grad, G_RTOL, G_ATOL, "grad input")
    close(lh.grad, th.grad, G_RTOL, G_ATOL, "grad h0")
    close(lc.grad, tc.grad, G_RTOL, G_ATOL, "grad c0")
    tparams = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        close(p.grad, tparams[name].grad, G_RTOL, G_ATOL, f"grad {name}")


@pytest.mark.parametrize("frozen", ["weight_ih", "weight_hh", "both"])
def test_frozen_weights_parity(frozen):
    # The weight gradients come from one GEMM over [X | H_prev] columns: with either weight frozen
    # only the other's columns are built, and no gradient is produced for the frozen one.
    torch.manual_seed(11)
    lengths = [7, 5, 5, 2]
    tm = torch.nn.LSTM(3, 5, bidirectional=True)
    lm = nn.LSTM(3, 5, bidirectional=True)
    torch_to_lamina(tm, lm)
    names = ["weight_ih", "weight_hh"] if frozen == "both" else [frozen]
    for m in (tm, lm):
        for name, p in m.named_parameters():
            if any(name.startswith(f) for f in names):
                p.requires_grad_(False)
    x = rand(7, 4, 3)
    tx, lx = tt(x, True), lt(x, True)
    ty, _ = tm(torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths)))
    ly, _ = lm(pack_padded_sequence(lx, lengths))
    gy = rand(*ty.data.shape)
    ty.data.backward(tt(gy))
    (ly.data * lt(gy)).sum().backward()
    close(lx.grad, tx.grad, G_RTOL, G_ATOL, "grad input")
    tparams = dict(tm.named_parameters())
    for name, p in lm.named_parameters():
        if any(name.startswith(f) for f in names):
            assert p.grad is None, name
        else:
            close(p.grad, tparams[name].grad, G_RTOL, G_ATOL, f"grad {name}")


def test_packing_utilities_match_torch():
    seqs = [rand(n, 3) for n in (2, 5, 1, 5)]
    tp = torch.nn.utils.rnn.pack_sequence([tt(s) for s in seqs], enforce_sorted=False)
    lp = pack_sequence([lt(s) for s in seqs], enforce_sorted=False)
    close(lp.data, tp.data, what="pack_sequence data")
    assert lp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    # ties may be ordered either way; the sorted lengths must agree
    lens = [len(s) for s in seqs]
    assert [lens[i] for i in lp.sorted_indices.tolist()] == [lens[i] for i in tp.sorted_indices.tolist()]
    assert lp.unsorted_indices.tolist() == np.argsort(lp.sorted_indices.tolist()).tolist()
    for bf in (False, True):
        for side in ("right", "left"):
            close(pad_sequence([lt(s) for s in seqs], bf, -1.5, side),
                  torch.nn.utils.rnn.pad_sequence([tt(s) for s in seqs], bf, -1.5, side), what="pad_sequence")
    lpad, llen = pad_packed_sequence(lp, batch_first=True, padding_value=2.0)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first=True, padding_value=2.0)
    close(lpad, tpad, what="pad_packed_sequence")
    assert llen.tolist() == tlen.tolist() == lens
    sorted_pack = pack_sequence([lt(s) for s in sorted(seqs, key=len, reverse=True)])
    assert sorted_pack.sorted_indices is None and sorted_pack.batch_sizes.tolist() == [4, 3, 2, 2, 2]


def test_pack_gradients():
    x = lt(rand(4, 3, 2), True)
    p = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    g = rand(*p.data.shape)
    (p.data * lt(g)).sum().backward()
    tx = tt(npy(x), True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, [2, 4, 1], enforce_sorted=False)
    (tp.data * tt(g)).sum().backward()
    close(x.grad, tx.grad, what="pack gradient")


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_lstm_cell_parity(bias, batched, with_state):
    torch.manual_seed(int(bias) + 2 * int(batched))
    Din, H, B = 5, 3, 4
    tc_ = torch.nn.LSTMCell(Din, H, bias=bias)
    lc_ = nn.LSTMCell(Din, H, bias=bias)
    torch_to_lamina(tc_, lc_)
    shape = (B,) if batched else ()
    x, h, c = rand(*shape, Din), rand(*shape, H), rand(*shape, H)
    tx, lx = tt(x, True), lt(x, True)
    th, tcc, lh, lcc = tt(h, True), tt(c, True), lt(h, True), lt(c, True)
    if with_state:
        ty = tc_(tx, (th, tcc))
        ly = lc_(lx, (lh, lcc))
    else:
        ty = tc_(tx)
        ly = lc_(lx)
    close(ly[0], ty[0], what="h'")
    close(ly[1], ty[1], what="c'")
    gh, gc = rand(*ty[0].shape), rand(*ty[1].shape)
    torch.autograd.backward(list(ty), [tt(gh), tt(gc)])
    ((ly[0] * lt(gh)).sum() + (ly[1] * lt(gc)).sum()).backward()
    close(lx.grad, tx.grad, G_RTOL, G_ATOL, "grad input")
    if with_state:
        close(lh.grad, th.grad, G_RTOL, G_ATOL, "grad h")
        close(lcc.grad, tcc.grad, G_RTOL, G_ATOL, "grad c")
    tparams = dict(tc_.named_parameters())
    for name, p in lc_.named_parameters():
        close(p.grad, tparams[name].grad, G_RTOL, G_ATOL, f"grad {name}")


def test_lstm_cell_only_h_used():
    cell = nn.LSTMCell(2, 3)
    x = lt(rand(2, 2), True)
    h, _ = cell(x)
    h.sum().backward()
    assert x.grad is not None and np.abs(x.grad.numpy()).sum() > 0


@pytest.mark.parametrize("packed", [False, True])
def test_backward_overwrites_saved_gates_only_when_the_graph_is_freed(packed):
    # A backward without retain_graph writes the gate gradients over the saved gates
    # (csrc/ops/lstm.h, gates_scratch); one with it must leave them intact for the next.
    lm = nn.LSTM(7, 45, num_layers=2, bidirectional=True)
    xs = rand(6, 5, 7)
    lengths = [6, 6, 4, 3, 1]
    cot = rand(6, 5, 90)

    def forward():
        x = lt(xs, True)
        if packed:
            out, _ = lm(pack_padded_sequence(x, lengths))
            out = pad_packed_sequence(out, total_length=6)[0]
        else:
            out, _ = lm(x)
        return x, out

    def grads(x):
        got = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in lm.parameters()]
        lm.zero_grad()
        x.grad = None
        return got

    x, out = forward()
    out.backward(lt(cot), retain_graph=True)
    first = grads(x)
    out.backward(lt(cot))              # the retained graph: its gates must be unchanged
    second = grads(x)
    with pytest.raises(RuntimeError, match="second time"):
        out.backward(lt(cot))
    x, out = forward()
    out.backward(lt(cot))              # a fresh graph freed at once
    third = grads(x)
    for a, b, c in zip(first, second, third):
        assert np.abs(a).sum() > 0
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------- bad input


def test_bad_input_module():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size. Expected 3, got 5"):
        m(lamina.randn(2, 1, 5))
    with pytest.raises(ValueError, match="2D or 3D"):
        m(lamina.randn(2, 1, 3, 1))
    with pytest.raises(ValueError, match=r"Expected hidden\[0\] size \(2, 1, 4\), got \[1, 1, 4\]"):
        m(lamina.randn(2, 1, 3), (lamina.zeros(1, 1, 4), lamina.zeros(2, 1, 4)))
    with pytest.raises(ValueError, match=r"Expected hidden\[1\] size"):
        m(lamina.randn(2, 1, 3), (lamina.zeros(2, 1, 4), lamina.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        m(lamina.randn(2, 1, 3), lamina.zeros(2, 1, 4))
    with pytest.raises(TypeError, match="float64"):
        m(lamina.randn(2, 1, 3, dtype=lamina.float64))
    with pytest.raises(ValueError, match="2-D"):
        m(lamina.randn(2, 3), (lamina.zeros(2, 1, 4), lamina.zeros(2, 1, 4)))
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="1D or 2D"):
        nn.LSTMCell(3, 4)(lamina.randn(1, 2, 3))
    with pytest.raises(ValueError, match="input_size"):
        nn.LSTMCell(3, 4)(lamina.randn(2, 5))
    with pytest.raises(ValueError, match="inconsistent shape"):
        nn.LSTMCell(3, 4)(lamina.randn(2, 3), (lamina.zeros(3, 4), lamina.zeros(2, 4)))


def test_bad_input_functional():
    T, B, Din, H = 3, 2, 4, 5
    x, h, c = lamina.randn(T, B, Din), lamina.zeros(B, H), lamina.zeros(B, H)
    wi, wh = lamina.randn(4 * H, Din), lamina.randn(4 * H, H)
    with pytest.raises(ValueError, match=r"lstm: argument 'w_ih' must have shape \[20, 4\].*got \[20, 3\]"):
        F.lstm_sequence(x, h, c, lamina.randn(4 * H, 3), wh, None, None)
    with pytest.raises(ValueError, match=r"argument 'w_hh' must have shape \[20, 5\]"):
        F.lstm_sequence(x, h, c, wi, lamina.randn(4 * H, 4), None, None)
    with pytest.raises(ValueError, match=r"argument 'cx' must have shape \[2, 5\]"):
        F.lstm_sequence(x, h, lamina.zeros(B, H + 1), wi, wh, None, None)
    with pytest.raises(ValueError, match=r"argument 'hx' must have shape \[2, hidden_size\]"):
        F.lstm_sequence(x, lamina.zeros(B + 1, H), c, wi, wh, None, None)
    with pytest.raises(ValueError, match="3-D"):
        F.lstm_sequence(lamina.randn(B, Din), h, c, wi, wh, None, None)
    with pytest.raises(ValueError, match=r"argument 'b_ih' must have shape \[20\]"):
        F.lstm_sequence(x, h, c, wi, wh, lamina.zeros(7), None)
    with pytest.raises(ValueError, match="non-increasing"):
        F.lstm_sequence(x, h, c, wi, wh, None, None, batch_sizes=[1, 2, 2])
    with pytest.raises(ValueError, match="batch_sizes has 2 entries but input has 3 steps"):
        F.lstm_sequence(x, h, c, wi, wh, None, None, batch_sizes=[2, 2])
    with pytest.raises(ValueError, match="outside"):
        F.lstm_sequence(x, h, c, wi, wh, None, None, batch_sizes=[3, 2, 1])
    with pytest.raises(TypeError, match="same dtype"):
        F.lstm_sequence(x, h, c, wi.double(), wh, None, None)
    with pytest.raises(TypeError, match="float32 or float64"):
        F.lstm_sequence(lamina.zeros(T, B, Din, dtype=lamina.int64), h, c, wi, wh, None, None)
    with pytest.raises(TypeError, match="pair"):
        F.lstm_cell(lamina.randn(B, Din), h, wi, wh)
    with pytest.raises(ValueError, match="lstm: argument 'input' must be 3-D|lstm_cell"):
        F.lstm_cell(lamina.randn(Din), (h, c), wi, wh)


def test_bad_input_packing():
    x = lamina.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(RuntimeError, match="batch_size"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(RuntimeError, match="exceeds"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="total_length"):
        pad_packed_sequence(pack_padded_sequence(x, [4, 2, 1]), total_length=2)
    with pytest.raises(TypeError, match="PackedSequence"):
        pad_packed_sequence(x)
    with pytest.raises(ValueError, match="trailing shape"):
        pad_sequence([lamina.zeros(2, 3), lamina.zeros(2, 4)])
