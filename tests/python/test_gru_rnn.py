"""GRU and Elman RNN (tanh / relu): float64 gradcheck of the cells and of short sequences; parity of
the functionals (gru_sequence, rnn_sequence, gru_cell, rnn_*_cell) with a single-layer
torch.nn.GRU/RNN holding the same weights, including reverse and variable lengths through torch's
pack_padded_sequence; module-level parity (nn.GRU/RNN/GRUCell/RNNCell, when they exist) over
layers x directions x batch_first x h0 x bias; bad input."""

import itertools

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
import lamina.nn.functional as F
from lamina import nn

needs_torch = pytest.mark.skipif(torch is None, reason=TORCH_REASON)

MODES = ["gru", "tanh", "relu"]


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """The torch oracle on one thread: its thread pool spins badly on a loaded shared machine, and
    these sizes are tiny."""
    if torch is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
GATES = {"gru": 3, "tanh": 1, "relu": 1}


def _rng(seed):
    return np.random.default_rng(seed)


def _weights(mode, In, H, bias, rng, dtype=np.float32):
    G = GATES[mode]
    s = 1.0 / np.sqrt(H)
    ws = [rng.uniform(-s, s, (G * H, In)), rng.uniform(-s, s, (G * H, H))]
    if bias:
        ws += [rng.uniform(-s, s, G * H), rng.uniform(-s, s, G * H)]
    return [w.astype(dtype) for w in ws]


def _seq(mode, x, h, w_ih, w_hh, b_ih=None, b_hh=None, batch_sizes=None, reverse=False):
    if mode == "gru":
        return F.gru_sequence(x, h, w_ih, w_hh, b_ih, b_hh, batch_sizes=batch_sizes, reverse=reverse)
    return F.rnn_sequence(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity=mode, batch_sizes=batch_sizes,
                          reverse=reverse)


def _cell(mode):
    return {"gru": F.gru_cell, "tanh": F.rnn_tanh_cell, "relu": F.rnn_relu_cell}[mode]


def _lam64(arrays):
    return [lamina.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]


# ---------------------------------------------------------------- gradcheck (float64)

@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("mode", MODES)
def test_cell_gradcheck(mode, bias):
    rng = _rng(1)
    B, In, H = 2, 3, 2
    arrays = [rng.standard_normal((B, In)), rng.standard_normal((B, H))] + _weights(mode, In, H, bias, rng)
    xs = _lam64(arrays)
    assert lamina.autograd.gradcheck(lambda *a: _cell(mode)(*a), xs, eps=1e-6, atol=1e-5, rtol=1e-4)


# (T, B, In, H, batch_sizes); T * B <= 8 takes the few-rows path of csrc/cpu/rnn.cpp, packed or not
SEQ_CASES = [(3, 2, 2, 2, None), (1, 1, 1, 1, None), (4, 3, 2, 2, [3, 2, 2, 1]), (3, 2, 2, 2, [2, 1, 1])]


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("case", SEQ_CASES, ids=[str(c[:4]) + ("packed" if c[4] else "") for c in SEQ_CASES])
@pytest.mark.parametrize("mode", MODES)
def test_sequence_gradcheck(mode, case, reverse):
    T, B, In, H, bs = case
    rng = _rng(2)
    arrays = [rng.standard_normal((T, B, In)), rng.standard_normal((B, H))] + _weights(mode, In, H, True, rng)
    xs = _lam64(arrays)

    def fn(x, h, *w):
        out, hn = _seq(mode, x, h, *w, batch_sizes=bs, reverse=reverse)
        return out, hn

    assert lamina.autograd.gradcheck(fn, xs, eps=1e-6, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- functional parity with torch

def _torch_layer(mode, In, H, bias, ws, reverse):
    """A torch layer whose direction under test holds `ws`; reverse uses a bidirectional layer."""
    if mode == "gru":
        m = torch.nn.GRU(In, H, bias=bias, bidirectional=reverse)
    else:
        m = torch.nn.RNN(In, H, nonlinearity=mode, bias=bias, bidirectional=reverse)
    sfx = "_reverse" if reverse else ""
    names = ["weight_ih_l0", "weight_hh_l0"] + (["bias_ih_l0", "bias_hh_l0"] if bias else [])
    with torch.no_grad():
        for n, w in zip(names, ws):
            getattr(m, n + sfx).copy_(torch.tensor(w))
    return m, [getattr(m, n + sfx) for n in names]


def _close(got, want, rtol, atol, what):
    got = got.detach().numpy() if isinstance(got, lamina.Tensor) else got
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=rtol, atol=atol, err_msg=what)


# (T, B, In, H, lengths or None); lengths sorted descending, lengths[0] == T.
PARITY_CASES = [(5, 3, 4, 6, None), (1, 2, 3, 1, None), (7, 4, 5, 3, [7, 5, 5, 2]), (6, 3, 1, 9, [6, 6, 1]),
                (3, 1, 2, 5, None), (4, 5, 3, 4, [4, 3, 2, 1, 1])]


@needs_torch
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("case", PARITY_CASES, ids=[str(c) for c in PARITY_CASES])
@pytest.mark.parametrize("mode", MODES)
def test_sequence_parity_with_torch(mode, case, reverse, bias):
    T, B, In, H, lengths = case
    rng = _rng(3)
    x = rng.standard_normal((T, B, In)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    ws = _weights(mode, In, H, bias, rng)
    go = rng.standard_normal((T, B, H)).astype(np.float32)
    gh = rng.standard_normal((B, H)).astype(np.float32)
    batch_sizes = None
    if lengths is not None:
        batch_sizes = [sum(1 for n in lengths if n > t) for t in range(T)]
        for b, n in enumerate(lengths):  # the padding is never read: make it loud
            x[n:, b] = 1e6

    # torch
    m, tparams = _torch_layer(mode, In, H, bias, ws, reverse)
    tx = torch.tensor(x, requires_grad=True)
    th = torch.tensor(h0, requires_grad=True)
    h_init = torch.stack([torch.zeros(B, H), th]) if reverse else th[None]
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=True)
        tout, thn = m(packed, h_init)
        tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout, total_length=T)
    else:
        tout, thn = m(tx, h_init)
    tout = tout[..., H:] if reverse else tout
    thn = thn[1] if reverse else thn[0]
    (tout * torch.tensor(go)).sum().add((thn * torch.tensor(gh)).sum()).backward()

    # lamina
    lx = lamina.tensor(x, requires_grad=True)
    lh = lamina.tensor(h0, requires_grad=True)
    lw = [lamina.tensor(w, requires_grad=True) for w in ws]
    if not bias:
        lw += [None, None]
    out, hn = _seq(mode, lx, lh, *lw, batch_sizes=batch_sizes, reverse=reverse)
    assert tuple(out.shape) == (T, B, H) and tuple(hn.shape) == (B, H)
    (out * lamina.tensor(go)).sum().add((hn * lamina.tensor(gh)).sum()).backward()

    _close(out, tout, 1e-5, 1e-6, "output")
    _close(hn, thn, 1e-5, 1e-6, "h_n")
    gx = lx.grad.numpy().copy()
    tgx = tx.grad.numpy()
    if lengths is not None:  # torch's packed path leaves the padding without gradient; so do we
        for b, n in enumerate(lengths):
            assert np.all(gx[n:, b] == 0)
    np.testing.assert_allclose(gx, tgx, rtol=1e-4, atol=1e-5, err_msg="grad input")
    _close(lh.grad, th.grad, 1e-4, 1e-5, "grad hx")
    for name, a, b in zip(["w_ih", "w_hh", "b_ih", "b_hh"], lw, tparams):
        _close(a.grad, b.grad, 1e-4, 1e-5, "grad " + name)


@needs_torch
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("mode", MODES)
def test_cell_parity_with_torch(mode, bias, unbatched):
    B, In, H = 3, 5, 4
    rng = _rng(4)
    x = rng.standard_normal((In,) if unbatched else (B, In)).astype(np.float32)
    h = rng.standard_normal((H,) if unbatched else (B, H)).astype(np.float32)
    ws = _weights(mode, In, H, bias, rng)
    if mode == "gru":
        m = torch.nn.GRUCell(In, H, bias=bias)
    else:
        m = torch.nn.RNNCell(In, H, bias=bias, nonlinearity=mode)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    with torch.no_grad():
        for n, w in zip(names, ws):
            getattr(m, n).copy_(torch.tensor(w))
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    tout = m(tx, th)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    tout.backward(torch.tensor(g))

    lx, lh = lamina.tensor(x, requires_grad=True), lamina.tensor(h, requires_grad=True)
    lw = [lamina.tensor(w, requires_grad=True) for w in ws]
    out = _cell(mode)(lx, lh, *lw)
    assert tuple(out.shape) == tuple(tout.shape)
    out.backward(lamina.tensor(g))
    _close(out, tout, 1e-5, 1e-6, "h'")
    _close(lx.grad, tx.grad, 1e-4, 1e-5, "grad input")
    _close(lh.grad, th.grad, 1e-4, 1e-5, "grad hx")
    for n, a in zip(names, lw):
        _close(a.grad, getattr(m, n).grad, 1e-4, 1e-5, "grad " + n)
    # hx=None means zeros
    out0 = _cell(mode)(lamina.tensor(x), None, *[lamina.tensor(w) for w in ws])
    _close(out0, m(torch.tensor(x)), 1e-5, 1e-6, "h' from zeros")


def test_sequence_float64_matches_float32():
    rng = _rng(5)
    x, h = rng.standard_normal((4, 3, 2)), rng.standard_normal((3, 5))
    ws = _weights("gru", 2, 5, True, rng, np.float64)
    o64, h64 = F.gru_sequence(lamina.tensor(x), lamina.tensor(h), *[lamina.tensor(w) for w in ws])
    o32, h32 = F.gru_sequence(lamina.tensor(x.astype(np.float32)), lamina.tensor(h.astype(np.float32)),
                              *[lamina.tensor(w.astype(np.float32)) for w in ws])
    assert o64.dtype == lamina.float64 and o32.dtype == lamina.float32
    np.testing.assert_allclose(o32.numpy(), o64.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h32.numpy(), h64.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_sizes_as_tensor_and_grad_of_output_only():
    rng = _rng(6)
    x = lamina.tensor(rng.standard_normal((3, 2, 2)).astype(np.float32), requires_grad=True)
    h = lamina.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    ws = [lamina.tensor(w) for w in _weights("tanh", 2, 3, True, rng)]
    a, _ = F.rnn_sequence(x, h, *ws, batch_sizes=[2, 2, 1])
    b, _ = F.rnn_sequence(x, h, *ws, batch_sizes=lamina.tensor([2, 2, 1]))
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert np.all(a.detach().numpy()[2, 1] == 0)
    a.sum().backward()  # h_n unused: its gradient is zero
    assert x.grad is not None and np.all(x.grad.numpy()[2, 1] == 0)


# ---------------------------------------------------------------- bad input

def _good(mode="gru", T=3, B=2, In=4, H=5):
    G = GATES[mode]
    return (lamina.randn(T, B, In), lamina.zeros(B, H), lamina.randn(G * H, In), lamina.randn(G * H, H),
            lamina.randn(G * H), lamina.randn(G * H))


@pytest.mark.parametrize("mode", MODES)
def test_bad_input(mode):
    x, h, wih, whh, bih, bhh = _good(mode)
    op = "gru" if mode == "gru" else "rnn_" + mode
    with pytest.raises(ValueError, match=f"lamina.{op}: argument 'w_ih'"):  # wrong input size
        _seq(mode, lamina.randn(3, 2, 7), h, wih, whh, bih, bhh)
    with pytest.raises(ValueError, match="argument 'input' must be 3-D"):
        _seq(mode, lamina.randn(2, 4), h, wih, whh, bih, bhh)
    with pytest.raises(ValueError, match=r"argument 'hx' must have shape \[2, 5\]"):
        _seq(mode, x, lamina.zeros(3, 5), wih, whh, bih, bhh)
    with pytest.raises(ValueError, match="argument 'w_hh'"):
        _seq(mode, x, h, wih, lamina.randn(whh.shape[0], 4), bih, bhh)
    with pytest.raises(ValueError, match="argument 'b_hh'"):
        _seq(mode, x, h, wih, whh, bih, lamina.randn(7))
    with pytest.raises(ValueError, match="both be given or both be None"):
        _seq(mode, x, h, wih, whh, bih, None)
    with pytest.raises(ValueError, match="non-increasing"):
        _seq(mode, x, h, wih, whh, bih, bhh, batch_sizes=[1, 2, 2])
    with pytest.raises(ValueError, match="batch_sizes has 2 entries"):
        _seq(mode, x, h, wih, whh, bih, bhh, batch_sizes=[2, 2])
    with pytest.raises(ValueError, match=r"outside \[0, 2\]"):
        _seq(mode, x, h, wih, whh, bih, bhh, batch_sizes=[3, 2, 2])
    with pytest.raises(TypeError, match="same dtype"):
        _seq(mode, x, h.double(), wih, whh, bih, bhh)
    with pytest.raises(TypeError, match="float32 or float64"):
        _seq(mode, x.long(), h, wih, whh, bih, bhh)
    with pytest.raises(TypeError, match="argument 'hx' must be a Tensor"):
        _seq(mode, x, None, wih, whh, bih, bhh)
    with pytest.raises(TypeError, match="batch_sizes"):
        _seq(mode, x, h, wih, whh, bih, bhh, batch_sizes=3)
    with pytest.raises(ValueError, match="1-D"):
        _cell(mode)(lamina.randn(4), lamina.zeros(2, 5), wih, whh)
    with pytest.raises(ValueError, match="argument 'input' must be 1-D"):
        _cell(mode)(x, h, wih, whh)
    with pytest.raises(ValueError, match="argument 'hx'"):
        _cell(mode)(lamina.randn(2, 4), lamina.zeros(2, 6), wih, whh)


def test_bad_nonlinearity():
    x, h, wih, whh, bih, bhh = _good("tanh")
    with pytest.raises(ValueError, match="nonlinearity"):
        F.rnn_sequence(x, h, wih, whh, bih, bhh, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"lamina\.nn\.RNN: unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"lamina\.nn\.RNNCell: unknown nonlinearity 'bad'"):
        nn.RNNCell(3, 4, nonlinearity="bad")


# ---------------------------------------------------------------- modules (nn.GRU / nn.RNN / cells)

_HAVE_MODULES = all(hasattr(nn, n) for n in ("GRU", "RNN", "GRUCell", "RNNCell"))
needs_modules = pytest.mark.skipif(not _HAVE_MODULES, reason="nn.GRU/RNN/GRUCell/RNNCell not available yet")


def _copy_params(lmod, tmod):
    for name, p in tmod.named_parameters():
        lp = lmod
        for part in name.split("."):
            lp = getattr(lp, part)
        assert tuple(lp.shape) == tuple(p.shape), name
        with lamina.no_grad():
            lp.copy_(lamina.tensor(p.detach().numpy()))


def _check_grads(lmod, tmod, what):
    for name, p in tmod.named_parameters():
        lp = lmod
        for part in name.split("."):
            lp = getattr(lp, part)
        assert lp.grad is not None, f"{what}: no gradient for {name}"
        np.testing.assert_allclose(lp.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=f"{what}: grad {name}")


MODULE_COMBOS = list(itertools.product([1, 2], [False, True], [False, True], [False, True], [True, False]))
# (T, B, In, H)
MODULE_SIZES = [(4, 3, 5, 6), (1, 2, 3, 1)]


@needs_torch
@needs_modules
@pytest.mark.parametrize("size", MODULE_SIZES, ids=[str(s) for s in MODULE_SIZES])
@pytest.mark.parametrize("mode", MODES)
def test_module_parity_with_torch(mode, size):
    T, B, In, H = size
    rng = _rng(7)
    for layers, bidir, batch_first, with_h0, bias in MODULE_COMBOS:
        what = f"{mode} layers={layers} bidir={bidir} batch_first={batch_first} h0={with_h0} bias={bias}"
        kw = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
        if mode == "gru":
            tm, lm = torch.nn.GRU(In, H, **kw), nn.GRU(In, H, **kw)
        else:
            tm = torch.nn.RNN(In, H, nonlinearity=mode, **kw)
            lm = nn.RNN(In, H, nonlinearity=mode, **kw)
        _copy_params(lm, tm)
        D = 2 if bidir else 1
        shape = (B, T, In) if batch_first else (T, B, In)
        x = rng.standard_normal(shape).astype(np.float32)
        h0 = rng.standard_normal((layers * D, B, H)).astype(np.float32)
        tx = torch.tensor(x, requires_grad=True)
        lx = lamina.tensor(x, requires_grad=True)
        th = torch.tensor(h0, requires_grad=True)
        lh = lamina.tensor(h0, requires_grad=True)
        tout, thn = tm(tx, th) if with_h0 else tm(tx)
        lout, lhn = lm(lx, lh) if with_h0 else lm(lx)
        _close(lout, tout, 1e-5, 1e-5, what + " output")
        _close(lhn, thn, 1e-5, 1e-5, what + " h_n")
        go = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
        gh = rng.standard_normal(tuple(thn.shape)).astype(np.float32)
        (tout * torch.tensor(go)).sum().add((thn * torch.tensor(gh)).sum()).backward()
        (lout * lamina.tensor(go)).sum().add((lhn * lamina.tensor(gh)).sum()).backward()
        _close(lx.grad, tx.grad, 1e-4, 1e-5, what + " grad input")
        if with_h0:
            _close(lh.grad, th.grad, 1e-4, 1e-5, what + " grad h0")
        _check_grads(lm, tm, what)


@needs_torch
@needs_modules
@pytest.mark.parametrize("mode", MODES)
def test_cell_module_parity_with_torch(mode):
    rng = _rng(8)
    for (B, In, H), bias, with_h in itertools.product([(3, 5, 4), (1, 2, 1)], [True, False], [True, False]):
        if mode == "gru":
            tm, lm = torch.nn.GRUCell(In, H, bias=bias), nn.GRUCell(In, H, bias=bias)
        else:
            tm = torch.nn.RNNCell(In, H, bias=bias, nonlinearity=mode)
            lm = nn.RNNCell(In, H, bias=bias, nonlinearity=mode)
        _copy_params(lm, tm)
        x = rng.standard_normal((B, In)).astype(np.float32)
        h = rng.standard_normal((B, H)).astype(np.float32)
        tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
        lx, lh = lamina.tensor(x, requires_grad=True), lamina.tensor(h, requires_grad=True)
        tout = tm(tx, th) if with_h else tm(tx)
        lout = lm(lx, lh) if with_h else lm(lx)
        what = f"{mode} {(B, In, H)} bias={bias} h={with_h}"
        _close(lout, tout, 1e-5, 1e-6, what)
        g = rng.standard_normal((B, H)).astype(np.float32)
        tout.backward(torch.tensor(g))
        lout.backward(lamina.tensor(g))
        _close(lx.grad, tx.grad, 1e-4, 1e-5, what + " grad input")
        if with_h:
            _close(lh.grad, th.grad, 1e-4, 1e-5, what + " grad h")
        _check_grads(lm, tm, what)


@needs_torch
@needs_modules
@pytest.mark.parametrize("mode", MODES)
def test_module_packed_parity_with_torch(mode):
    """nn.GRU/RNN over a PackedSequence of unsorted lengths (2 layers, both directions)."""
    from lamina.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    T, B, In, H = 6, 4, 3, 5
    lengths = [3, 6, 1, 4]
    rng = _rng(9)
    kw = dict(num_layers=2, bidirectional=True)
    if mode == "gru":
        tm, lm = torch.nn.GRU(In, H, **kw), nn.GRU(In, H, **kw)
    else:
        tm, lm = torch.nn.RNN(In, H, nonlinearity=mode, **kw), nn.RNN(In, H, nonlinearity=mode, **kw)
    _copy_params(lm, tm)
    x = rng.standard_normal((T, B, In)).astype(np.float32)
    h0 = rng.standard_normal((4, B, H)).astype(np.float32)
    tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    lx, lh = lamina.tensor(x, requires_grad=True), lamina.tensor(h0, requires_grad=True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=False)
    lp = pack_padded_sequence(lx, lamina.tensor(lengths), enforce_sorted=False)
    tout, thn = tm(tp, th)
    lout, lhn = lm(lp, lh)
    tout, _ = torch.nn.utils.rnn.pad_packed_sequence(tout)
    lout, _ = pad_packed_sequence(lout)
    _close(lout, tout, 1e-5, 1e-5, "packed output")
    _close(lhn, thn, 1e-5, 1e-5, "packed h_n")
    go = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    gh = rng.standard_normal(tuple(thn.shape)).astype(np.float32)
    (tout * torch.tensor(go)).sum().add((thn * torch.tensor(gh)).sum()).backward()
    (lout * lamina.tensor(go)).sum().add((lhn * lamina.tensor(gh)).sum()).backward()
    _close(lx.grad, tx.grad, 1e-4, 1e-5, "packed grad input")
    _close(lh.grad, th.grad, 1e-4, 1e-5, "packed grad h0")
    _check_grads(lm, tm, "packed")
