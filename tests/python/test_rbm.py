"""RBM: CD-1/PCD updates against hand-computed numpy ones (same random numbers), free energies
against brute-force sums over all states, the fused C++ step against the tensor-op reference,
bad input, reproducibility."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import lamina
from lamina.pretrain.rbm import RBM

_rng = np.random.default_rng(20260611)


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _random_rbm(nv, nh, visible="bernoulli", hidden="bernoulli", dtype="float64", scale=0.5):
    rbm = RBM(nv, nh, visible=visible, hidden=hidden, dtype=dtype)
    rbm.weight.data.copy_(lamina.from_numpy(_rng.normal(0, scale, (nh, nv)).astype(dtype)))
    rbm.h_bias.data.copy_(lamina.from_numpy(_rng.normal(0, scale, nh).astype(dtype)))
    rbm.v_bias.data.copy_(lamina.from_numpy(_rng.normal(0, scale, nv).astype(dtype)))
    return rbm


def _params(rbm):
    return [p.detach().numpy().copy() for p in (rbm.weight, rbm.h_bias, rbm.v_bias)]


def _peek_uniform(*shape, dtype="float64", skip=()):
    """The uniforms the next draws will produce (after draws of shapes `skip`), without
    advancing the generator."""
    state = lamina.get_rng_state()
    for s in skip:
        lamina.rand(*s, dtype=dtype)
    u = lamina.rand(*shape, dtype=dtype).numpy().copy()
    lamina.set_rng_state(state)
    return u


@pytest.mark.parametrize("fused", [False, True])
def test_cd1_update_equals_hand_computed(fused, monkeypatch):
    monkeypatch.setattr(RBM, "use_fused", fused)
    nv, nh, n = 5, 3, 4
    rbm = _random_rbm(nv, nh)
    W, c, b = _params(rbm)
    v0 = (_rng.random((n, nv)) < 0.5).astype(np.float64)
    lr, mom, wd = 0.1, 0.5, 2e-4
    vel = [np.zeros_like(W), np.zeros_like(c), np.zeros_like(b)]
    lamina.manual_seed(7)
    for _step in range(2):  # the second step exercises momentum
        u = _peek_uniform(n, nh)
        h0 = _sig(v0 @ W.T + c)
        hs = (u < h0).astype(np.float64)          # sampled binary hidden states drive ...
        v1 = _sig(hs @ W + b)                     # ... the reconstruction (probabilities)
        h1 = _sig(v1 @ W.T + c)                   # final hidden statistics use probabilities
        err_ref = ((v0 - v1) ** 2).sum() / n
        vel[0] = mom * vel[0] + lr * ((h0.T @ v0 - h1.T @ v1) / n - wd * W)
        vel[1] = mom * vel[1] + lr * (h0.mean(0) - h1.mean(0))
        vel[2] = mom * vel[2] + lr * (v0.mean(0) - v1.mean(0))
        W, c, b = W + vel[0], c + vel[1], b + vel[2]
        err = rbm.cd_step(lamina.from_numpy(v0), lr=lr, momentum=mom, weight_decay=wd)
        assert err == pytest.approx(err_ref, rel=1e-12)
        for got, want in zip(_params(rbm), (W, c, b)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fused", [False, True])
def test_pcd_chain_persists_and_update_equals_hand_computed(fused, monkeypatch):
    monkeypatch.setattr(RBM, "use_fused", fused)
    nv, nh, n = 6, 3, 5
    rbm = _random_rbm(nv, nh)
    W, c, b = _params(rbm)
    batches = [(_rng.random((n, nv)) < 0.5).astype(np.float64) for _ in range(3)]
    lr, mom, wd = 0.05, 0.9, 1e-3
    vel = [np.zeros_like(W), np.zeros_like(c), np.zeros_like(b)]
    chain = batches[0].copy()  # the fantasy particles start at the first batch
    lamina.manual_seed(11)
    for v0 in batches:
        uh = _peek_uniform(n, nh)
        uv = _peek_uniform(n, nv, skip=[(n, nh)])
        h0 = _sig(v0 @ W.T + c)
        hs = (uh < _sig(chain @ W.T + c)).astype(np.float64)
        chain = (uv < _sig(hs @ W + b)).astype(np.float64)  # the chain's visible units are sampled
        hk = _sig(chain @ W.T + c)
        err_ref = ((v0 - _sig(h0 @ W + b)) ** 2).sum() / n
        vel[0] = mom * vel[0] + lr * ((h0.T @ v0 - hk.T @ chain) / n - wd * W)
        vel[1] = mom * vel[1] + lr * (h0.mean(0) - hk.mean(0))
        vel[2] = mom * vel[2] + lr * (v0.mean(0) - chain.mean(0))
        W, c, b = W + vel[0], c + vel[1], b + vel[2]
        err = rbm.cd_step(lamina.from_numpy(v0), lr=lr, momentum=mom, weight_decay=wd, persistent=True)
        assert err == pytest.approx(err_ref, rel=1e-12)
        np.testing.assert_array_equal(rbm._chain.numpy(), chain)
        for got, want in zip(_params(rbm), (W, c, b)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    rbm.reset_chain()
    assert rbm._chain is None


def _all_binary(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def test_free_energy_matches_brute_force_partition_4x3():
    rbm = _random_rbm(4, 3, scale=1.0)
    W, c, b = _params(rbm)
    vs, hs = _all_binary(4), _all_binary(3)
    # joint: exp(-E(v, h)) over all 2^4 * 2^3 states
    neg_e = vs @ b[:, None] + (hs @ c)[None, :] + vs @ W.T @ hs.T   # (16, 8)
    joint = np.exp(neg_e)
    p_v_brute = joint.sum(1) / joint.sum()
    f = rbm.free_energy(lamina.from_numpy(vs)).numpy()
    assert f.shape == (16,)
    p_v = np.exp(-f) / np.exp(-f).sum()
    np.testing.assert_allclose(p_v, p_v_brute, rtol=1e-12)
    # and exactly (no dropped constant for Bernoulli hidden units)
    np.testing.assert_allclose(f, -np.log(joint.sum(1)), rtol=1e-12)


def test_free_energy_gaussian_visible_matches_brute_force_over_hidden():
    rbm = _random_rbm(5, 3, visible="gaussian")
    W, c, b = _params(rbm)
    v = _rng.normal(0, 1.5, (7, 5))
    hs = _all_binary(3)
    # E(v, h) = |v - b|^2 / 2 - c.h - h.W v
    neg_e = -0.5 * ((v - b) ** 2).sum(1)[:, None] + (hs @ c)[None, :] + v @ W.T @ hs.T
    f = rbm.free_energy(lamina.from_numpy(v)).numpy()
    np.testing.assert_allclose(f, -np.log(np.exp(neg_e).sum(1)), rtol=1e-12)


def test_free_energy_gaussian_hidden_matches_quadrature():
    rbm = _random_rbm(4, 2, hidden="gaussian")
    W, c, b = _params(rbm)
    vs = _all_binary(4)
    # E(v, h) = -b.v + |h|^2 / 2 - c.h - h.W v, integrated over h on a grid (2-d quadrature)
    g = np.linspace(-12, 12, 1201)
    dh = g[1] - g[0]
    h1, h2 = np.meshgrid(g, g, indexing="ij")
    hgrid = np.stack([h1.ravel(), h2.ravel()], 1)
    x = vs @ W.T + c                                           # (16, 2)
    neg_e = (vs @ b)[:, None] - 0.5 * (hgrid ** 2).sum(1)[None, :] + x @ hgrid.T
    f_quad = -np.log(np.exp(neg_e).sum(1) * dh * dh)
    f = rbm.free_energy(lamina.from_numpy(vs)).numpy()
    # free_energy drops the constant (n_hidden / 2) log(2 pi)
    np.testing.assert_allclose(f - np.log(2 * np.pi), f_quad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("visible,hidden", [("bernoulli", "bernoulli"), ("gaussian", "bernoulli"),
                                            ("bernoulli", "gaussian")])
def test_conditionals_and_reconstruction_error(visible, hidden):
    rbm = _random_rbm(7, 5, visible=visible, hidden=hidden)
    W, c, b = _params(rbm)
    v = _rng.random((9, 7))
    x = v @ W.T + c
    hm = x if hidden == "gaussian" else _sig(x)
    np.testing.assert_allclose(rbm(lamina.from_numpy(v)).numpy(), hm, rtol=1e-12)
    np.testing.assert_allclose(rbm.hidden_mean(lamina.from_numpy(v)).numpy(), hm, rtol=1e-12)
    y = hm @ W + b
    vm = y if visible == "gaussian" else _sig(y)
    np.testing.assert_allclose(rbm.visible_mean(lamina.from_numpy(hm)).numpy(), vm, rtol=1e-12)
    assert rbm.reconstruction_error(lamina.from_numpy(v)) == pytest.approx(((v - vm) ** 2).sum(1).mean(),
                                                                           rel=1e-12)
    lin = rbm.to_linear()
    assert isinstance(lin, lamina.nn.Linear) and lin.weight.shape == (5, 7)
    np.testing.assert_allclose(lin(lamina.from_numpy(v)).detach().numpy(), x, rtol=1e-12)
    np.testing.assert_allclose(rbm.transform(v, batch_size=4), hm, rtol=1e-12)


def test_sampling_uses_lamina_rng_and_is_bernoulli():
    rbm = _random_rbm(6, 4)
    v = lamina.from_numpy((_rng.random((3, 6)) < 0.5).astype(np.float64))
    lamina.manual_seed(3)
    u = _peek_uniform(3, 4)
    mean, sample = rbm.sample_hidden(v)
    np.testing.assert_array_equal(sample.numpy(), (u < mean.numpy()).astype(np.float64))
    lamina.manual_seed(3)
    a = rbm.gibbs(v, k=3).numpy()
    lamina.manual_seed(3)
    np.testing.assert_array_equal(rbm.gibbs(v, k=3).numpy(), a)
    assert set(np.unique(a)) <= {0.0, 1.0}
    mean, sample = RBM(6, 4, visible="gaussian", dtype="float64").sample_visible(lamina.zeros(2000, 4, dtype="float64"))
    assert abs(float(sample.numpy().std()) - 1.0) < 0.05  # unit-variance Gaussian visible units


# ---- the fused C++ step against the tensor-op reference (same random numbers) ----------------

FUSED_CASES = [  # (dtype, visible, hidden, k, persistent, batch, chain-batch)
    ("float32", "bernoulli", "bernoulli", 1, False, 13, None),
    ("float32", "bernoulli", "bernoulli", 3, False, 7, None),
    ("float32", "bernoulli", "bernoulli", 2, True, 9, None),
    ("float32", "gaussian", "bernoulli", 1, False, 11, None),
    ("float32", "gaussian", "bernoulli", 1, True, 5, None),
    ("float32", "bernoulli", "gaussian", 2, False, 6, None),
    ("float32", "gaussian", "gaussian", 1, True, 3, None),
    ("float64", "bernoulli", "bernoulli", 1, False, 13, None),
    ("float64", "bernoulli", "bernoulli", 2, True, 9, None),
    ("float64", "gaussian", "gaussian", 3, False, 4, None),
    ("float64", "bernoulli", "gaussian", 1, True, 8, None),
    ("float32", "bernoulli", "bernoulli", 1, True, 5, 9),   # chain with more particles than the batch
    # more than 32 rows: W packed once per step instead of read in place (csrc/cpu/rbm.cpp)
    ("float32", "bernoulli", "bernoulli", 1, False, 37, None),
    ("float64", "gaussian", "bernoulli", 2, True, 41, None),
    ("float32", "bernoulli", "bernoulli", 1, True, 5, 40),
]


@pytest.mark.parametrize("dtype,visible,hidden,k,persistent,batch,chain_n", FUSED_CASES)
def test_fused_step_equals_reference(dtype, visible, hidden, k, persistent, batch, chain_n):
    if not hasattr(lamina._C, "rbm_cd_step"):
        pytest.fail("lamina._C.rbm_cd_step is missing")
    nv, nh = 23, 17
    models = [_random_rbm(nv, nh, visible, hidden, dtype, scale=0.2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    data = [(_rng.random((batch, nv)) < 0.4).astype(dtype) if visible == "bernoulli"
            else _rng.normal(0, 1, (batch, nv)).astype(dtype) for _ in range(3)]
    if chain_n is not None:
        first = (_rng.random((chain_n, nv)) < 0.4).astype(dtype)
        for m in models:
            m._chain = lamina.from_numpy(first.copy())
    errs, states = [], []
    for m, fused in zip(models, (False, True)):
        m.use_fused = fused
        lamina.manual_seed(5)
        errs.append([m.cd_step(lamina.from_numpy(v), lr=0.05, momentum=0.7, weight_decay=1e-3, k=k,
                               persistent=persistent) for v in data])
        states.append(lamina.get_rng_state())
    assert states[0] == states[1]  # the fused step advances the generator as the reference does
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(errs[1], errs[0], **tol)
    for a, b in zip(_params(models[0]), _params(models[1])):
        np.testing.assert_allclose(b, a, **tol)
    for a, b in zip(models[0]._vel, models[1]._vel):
        np.testing.assert_allclose(b.numpy(), a.numpy(), **tol)
    if persistent:
        np.testing.assert_allclose(models[1]._chain.numpy(), models[0]._chain.numpy(), **tol)


# ---- training behaviour ----------------------------------------------------------------------

def _digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    return (sklearn.load_digits().data / 16.0).astype(np.float32)


@pytest.mark.parametrize("persistent", [False, True])
def test_fit_lowers_reconstruction_error_on_digits(persistent):
    x = _digits()
    lamina.manual_seed(0)
    rbm = RBM(64, 50)
    before = rbm.reconstruction_error(x)
    hist = rbm.fit(x, epochs=4, batch_size=20, lr=0.05, persistent=persistent, seed=1)
    assert len(hist) == 4 and hist[-1] < hist[0]
    assert rbm.reconstruction_error(x) < 0.5 * before
    # Hinton's visible-bias initialisation: log(p / (1 - p)) of the data's mean ... before training
    lamina.manual_seed(0)
    fresh = RBM(64, 50)
    fresh.fit(x, epochs=0)
    p = np.clip(x.mean(0, dtype=np.float64), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(fresh.v_bias.detach().numpy(), np.log(p / (1 - p)), rtol=1e-5, atol=1e-6)
    w = RBM(300, 200).weight.detach().numpy()
    assert abs(w.std() - 0.01) < 0.0005 and abs(w.mean()) < 0.0005


def test_seeded_fit_is_reproducible():
    x = _digits()[:300]
    runs = []
    for _ in range(2):
        lamina.manual_seed(42)
        rbm = RBM(64, 20)
        h = rbm.fit(x, epochs=2, batch_size=17, lr=0.05, seed=9, persistent=True)
        runs.append((h, _params(rbm)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    lamina.manual_seed(42)
    other = RBM(64, 20)
    assert other.fit(x, epochs=2, batch_size=17, lr=0.05, seed=10, persistent=True) != runs[0][0]


def test_gaussian_visible_fit_on_standardised_data():
    x = _digits()
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    lamina.manual_seed(0)
    rbm = RBM(64, 40, visible="gaussian")
    before = rbm.reconstruction_error(x)
    hist = rbm.fit(x, epochs=3, batch_size=20, lr=0.005, seed=0)
    assert all(np.isfinite(hist)) and rbm.reconstruction_error(x) < before


# ---- bad input -------------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    rbm = RBM(6, 4)
    v = lamina.rand(3, 6)
    cases = [
        (lambda: RBM(0, 4), ValueError, "n_visible"),
        (lambda: RBM(6, 2.5), ValueError, "n_hidden"),
        (lambda: RBM(6, 4, visible="softmax"), ValueError, "visible"),
        (lambda: RBM(6, 4, hidden=3), ValueError, "hidden"),
        (lambda: RBM(6, 4, dtype="int64"), TypeError, "dtype"),
        (lambda: rbm(lamina.rand(3, 5)), ValueError, "n_visible=6"),
        (lambda: rbm(lamina.rand(6)), ValueError, "'v'"),
        (lambda: rbm("x"), TypeError, "'v'"),
        (lambda: rbm.visible_mean(lamina.rand(2, 6)), ValueError, "'h'"),
        (lambda: rbm.cd_step(v, k=0), ValueError, "'k'"),
        (lambda: rbm.cd_step(v, lr=-0.1), ValueError, "'lr'"),
        (lambda: rbm.cd_step(v, lr=float("nan")), ValueError, "'lr'"),
        (lambda: rbm.cd_step(v, momentum=1.0), ValueError, "'momentum'"),
        (lambda: rbm.cd_step(v, weight_decay=-1), ValueError, "'weight_decay'"),
        (lambda: rbm.cd_step(lamina.rand(0, 6)), ValueError, "at least one"),
        (lambda: rbm.cd_step(lamina.rand(3, 7)), ValueError, "n_visible=6"),
        (lambda: rbm.gibbs(v, k=0), ValueError, "'k'"),
        (lambda: rbm.fit(np.zeros((5, 7))), ValueError, "(N, 6)"),
        (lambda: rbm.fit([[0.0] * 6]), TypeError, "'data'"),
        (lambda: rbm.fit(np.full((5, 6), np.nan)), ValueError, "NaN"),
        (lambda: rbm.fit(np.zeros((5, 6)), batch_size=0), ValueError, "'batch_size'"),
        (lambda: rbm.fit(np.zeros((5, 6)), epochs=-1), ValueError, "'epochs'"),
        (lambda: rbm.fit(np.zeros((5, 6)), momentum=(0.5, 0.9, 0.9)), ValueError, "'momentum'"),
        (lambda: rbm.fit(np.zeros((0, 6))), ValueError, "at least one"),
        (lambda: rbm.transform(np.zeros((5, 3))), ValueError, "'data'"),
    ]
    for fn, exc, needle in cases:
        with pytest.raises(exc) as info:
            fn()
        assert "RBM" in str(info.value) and needle in str(info.value), str(info.value)


def test_fused_kernel_rejects_bad_arguments():
    if not hasattr(lamina._C, "rbm_cd_step"):
        pytest.fail("lamina._C.rbm_cd_step is missing")
    f = lamina._C.rbm_cd_step
    w, hb, vb = lamina.zeros(4, 6), lamina.zeros(4), lamina.zeros(6)
    vel = (lamina.zeros(4, 6), lamina.zeros(4), lamina.zeros(6))
    v = lamina.rand(3, 6)

    def call(v=v, chain=None, w=w, hb=hb, vb=vb, vel=vel, k=1):
        return f(v._t, None if chain is None else chain._t, w._t, hb._t, vb._t, vel[0]._t, vel[1]._t,
                 vel[2]._t, 0.1, 0.5, 0.0, k, False, False)

    for kwargs, needle in [
        (dict(v=lamina.rand(3, 5)), "v"),
        (dict(w=lamina.zeros(4, 5)), "weight"),
        (dict(hb=lamina.zeros(5)), "h_bias"),
        (dict(vb=lamina.zeros(5)), "v_bias"),
        (dict(vel=(lamina.zeros(4, 5), lamina.zeros(4), lamina.zeros(6))), "velocity"),
        (dict(v=lamina.rand(3, 6, dtype="float64")), "dtype"),
        (dict(chain=lamina.rand(2, 5)), "chain"),
        (dict(k=0), "k"),
        (dict(v=lamina.rand(6, 3).T), "contiguous"),
    ]:
        with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
            call(**kwargs)
        assert "rbm_cd_step" in str(info.value) and needle in str(info.value), str(info.value)
