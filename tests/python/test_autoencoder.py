"""lamina.pretrain.autoencoder: stacked (denoising) autoencoders, the deep autoencoder (from
random init and unrolled from a DBN), PCA error, anomaly scores and ROC-AUC."""

import numpy as np
import pytest
from helpers import TORCH_REASON, torch

import lamina
from lamina.pretrain.autoencoder import (DeepAutoencoder, StackedAutoencoder, anomaly_scores,
                                         pca_reconstruction_error, roc_auc)
from lamina.pretrain.dbn import DBN
from lamina.pretrain.rbm import RBM


@pytest.fixture(scope="module")
def digits():
    (xtr, ytr), (xte, yte) = lamina.datasets.digits()
    return xtr.reshape(len(xtr), -1), ytr, xte.reshape(len(xte), -1), yte


def _sum_sq(a, b):
    return ((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).sum(axis=1).mean()


# ---------------------------------------------------------------- masking noise


@pytest.mark.parametrize("noise", [0.1, 0.25, 0.5, 0.75])
def test_masking_noise_zeroes_the_requested_fraction(noise):
    sae = StackedAutoencoder([301, 7], noise=noise)
    x = lamina.from_numpy(np.random.default_rng(0).uniform(0.5, 1.5, (211, 301)).astype(np.float32))
    y = sae.corrupt(x).numpy()
    zero = y == 0
    n = zero.size
    frac = zero.mean()
    assert abs(frac - noise) < 5 * np.sqrt(noise * (1 - noise) / n), (frac, noise)
    np.testing.assert_array_equal(y[~zero], x.numpy()[~zero])   # the rest is untouched
    # seeded: the same seed gives the same mask, another seed another one
    lamina.manual_seed(3)
    a = sae.corrupt(x).numpy()
    lamina.manual_seed(3)
    b = sae.corrupt(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != y).any()


def test_no_noise_is_the_identity():
    sae = StackedAutoencoder([5, 3], noise=0.0)
    x = lamina.rand(4, 5)
    np.testing.assert_array_equal(sae.corrupt(x).numpy(), x.numpy())
    assert (sae.corrupt(x, noise=0.5).numpy() == 0).any()


# ---------------------------------------------------------------- stacked autoencoders


@pytest.mark.parametrize("activation,noise,tied", [("sigmoid", 0.0, True), ("sigmoid", 0.3, True),
                                                   ("sigmoid", 0.2, False), ("relu", 0.0, True),
                                                   ("relu", 0.25, False)])
def test_layerwise_pretraining_lowers_reconstruction_error(digits, activation, noise, tied):
    xtr, _, xte, _ = digits
    lamina.manual_seed(1)
    sae = StackedAutoencoder([64, 41, 23], activation=activation, noise=noise, tied=tied)
    # untrained, layer 0 alone and the whole stack
    before0 = sae.reconstruction_error(xte, layer=0)
    hist = sae.pretrain(xtr, epochs=4, batch_size=32, lr=3e-3, seed=0)
    assert len(hist) == 2 and all(len(h) == 4 for h in hist)
    for h in hist:
        assert np.all(np.isfinite(h)) and h[-1] < 0.8 * h[0], hist
    after0 = sae.reconstruction_error(xte, layer=0)
    assert after0 < 0.6 * before0, (before0, after0)
    # layer 1 on the codes of layer 0: better than a fresh, untrained layer 1
    codes = StackedAutoencoder.transform(_first(sae), xte)
    fresh = StackedAutoencoder([64, 41, 23], activation=activation, tied=tied)
    fresh.layers[1].output = sae.layers[1].output
    assert sae.reconstruction_error(codes, layer=1) < 0.6 * fresh.reconstruction_error(codes, layer=1)
    # the held-out error of the whole stack matches a hand-written up-down pass
    x = lamina.from_numpy(xte)
    with lamina.no_grad():
        h = x
        for layer in sae.layers:
            h = layer.encode(h)
        for layer in reversed(sae.layers):
            h = layer.decode(h)
    np.testing.assert_allclose(sae.reconstruction_error(xte), _sum_sq(h.numpy(), xte), rtol=1e-6)


def _first(sae):
    """A view of ``sae`` holding only its first layer (for its codes)."""
    one = StackedAutoencoder(sae.sizes[:2], activation=sae.activation, tied=sae.tied)
    one.layers = sae.layers[:1]
    return one


def test_first_layer_loss_follows_the_data_range(digits):
    xtr = digits[0][:200]
    sae = StackedAutoencoder([64, 9, 5])
    sae.pretrain(xtr, epochs=1)
    assert (sae.layers[0].output, sae.layers[0].loss) == ("sigmoid", "bce")
    assert sae.layers[1].loss == "mse"
    sae.pretrain(xtr * 3 - 1, epochs=1)   # outside [0, 1]: linear decoder, squared error
    assert (sae.layers[0].output, sae.layers[0].loss) == ("linear", "mse")


def test_tied_weights_are_shared_and_untied_are_not():
    tied = StackedAutoencoder([7, 5, 3])
    untied = StackedAutoencoder([7, 5, 3], tied=False)
    assert [n for n, _ in tied.layers[0].named_parameters()] == ["weight", "bias", "v_bias"]
    assert [n for n, _ in untied.layers[0].named_parameters()] == ["weight", "bias", "v_bias",
                                                                    "decoder_weight"]
    h = lamina.rand(4, 5)
    ly = tied.layers[0]
    with lamina.no_grad():
        expect = (h.numpy() @ ly.weight.detach().numpy() + ly.v_bias.detach().numpy())
    np.testing.assert_allclose(ly.decode_logits(h).detach().numpy(), expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_encoder_and_to_mlp_carry_copies_of_the_weights(digits, activation):
    xte = digits[2]
    sae = StackedAutoencoder([64, 17, 9], activation=activation)
    sae.pretrain(digits[0][:300], epochs=1, batch_size=50)
    enc = sae.encoder()
    with lamina.no_grad():
        out = enc(lamina.from_numpy(xte)).numpy()
    np.testing.assert_allclose(out, sae.transform(xte), rtol=1e-5, atol=1e-6)
    mlp = sae.to_mlp(num_classes=10)
    assert len(mlp) == 5 and (mlp[-1].in_features, mlp[-1].out_features) == (9, 10)
    assert mlp(lamina.from_numpy(xte[:3])).shape == (3, 10)
    with lamina.no_grad():
        mlp[0].weight.fill_(0.0)   # a copy: the stack is untouched
    assert np.abs(sae.layers[0].weight.detach().numpy()).max() > 0
    assert len(sae.to_mlp()) == 4


# ---------------------------------------------------------------- deep autoencoder


def test_deep_autoencoder_architecture():
    ae = DeepAutoencoder.from_sizes([37, 23, 11, 5])
    names = [type(m).__name__ for m in ae.encoder]
    assert names == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear"]   # linear code
    names = [type(m).__name__ for m in ae.decoder]
    assert names == ["Linear", "Sigmoid", "Linear", "Sigmoid", "Linear", "Sigmoid"]
    assert [(m.in_features, m.out_features) for m in ae.decoder if isinstance(m, lamina.nn.Linear)] == \
        [(5, 11), (11, 23), (23, 37)]
    x = lamina.rand(3, 37)
    assert ae(x).shape == (3, 37) and ae.encode(x).shape == (3, 5)
    assert ae(lamina.rand(3, 1, 37)).shape == (3, 37)   # (N, C, ...) is flattened
    out = ae(x).detach().numpy()
    assert out.min() > 0 and out.max() < 1
    np.testing.assert_allclose(ae.decode(ae.encode(x)).detach().numpy(), out, rtol=1e-6)
    lin = DeepAutoencoder([9, 4], output="linear", linear_code=False, activation="relu")
    assert [type(m).__name__ for m in lin.encoder] == ["Linear", "ReLU"]
    assert [type(m).__name__ for m in lin.decoder] == ["Linear"]


@pytest.mark.parametrize("top", ["gaussian", "bernoulli"])
def test_from_dbn_unrolls_the_dbn(digits, top):
    xtr, _, xte, _ = digits
    lamina.manual_seed(2)
    dbn = DBN([64, 31, 17, 7], top_hidden=top)
    dbn.pretrain(xtr[:500], epochs=1, batch_size=25, layer_kwargs=[{}, {}, {"lr": 0.01}])
    ae = DeepAutoencoder.from_dbn(dbn)
    assert ae.sizes == [64, 31, 17, 7] and ae.linear_code == (top == "gaussian")
    # the encoder reproduces the DBN's up-pass
    np.testing.assert_allclose(ae.transform(xte), dbn.transform(xte), rtol=1e-5, atol=1e-6)
    # the decoder starts as the transposes, with the visible biases
    dec = [m for m in ae.decoder if isinstance(m, lamina.nn.Linear)]
    for lin, rbm in zip(dec, reversed(dbn.rbms)):
        np.testing.assert_array_equal(lin.weight.detach().numpy(), rbm.weight.detach().numpy().T)
        np.testing.assert_array_equal(lin.bias.detach().numpy(), rbm.v_bias.detach().numpy())
    # ... so decoding is the DBN's down-pass with means
    code = lamina.from_numpy(dbn.transform(xte[:20]))
    with lamina.no_grad():
        x = code
        for rbm in reversed(dbn.rbms):
            x = rbm.visible_mean(x)
        np.testing.assert_allclose(ae.decode(code).numpy(), x.numpy(), rtol=1e-5, atol=1e-6)
    # the copies are independent of the DBN
    with lamina.no_grad():
        dec[0].weight.fill_(0.0)
    assert np.abs(dbn.rbms[-1].weight.detach().numpy()).max() > 0


def test_from_dbn_rejects_what_cannot_be_unrolled():
    with pytest.raises(TypeError, match="DeepAutoencoder.from_dbn.*'dbn'"):
        DeepAutoencoder.from_dbn(RBM(5, 3))

    class Fake:
        rbms = [RBM(6, 4, hidden="gaussian"), RBM(4, 2)]

    with pytest.raises(ValueError, match="RBM 0 has hidden='gaussian'"):
        DeepAutoencoder.from_dbn(Fake())

    class Mismatch:
        rbms = [RBM(6, 4), RBM(5, 2)]

    with pytest.raises(ValueError, match="RBM 0 has 4 hidden units but RBM 1 has 5 visible"):
        DeepAutoencoder.from_dbn(Mismatch())


@pytest.mark.parametrize("optimizer,lr,loss", [("adam", 3e-3, None), ("adam", 3e-3, "mse"),
                                               ("sgd", 0.01, None)])
def test_fit_lowers_the_error(digits, optimizer, lr, loss):
    xtr, _, xte, _ = digits
    lamina.manual_seed(4)
    ae = DeepAutoencoder.from_sizes([64, 33, 12])
    before = ae.reconstruction_error(xte)
    hist = ae.fit(xtr, epochs=5, batch_size=32, lr=lr, optimizer=optimizer, loss=loss, seed=0, eval_data=xte)
    assert len(hist) == 5 and len(ae.eval_history) == 5 and np.all(np.isfinite(hist))
    after = ae.reconstruction_error(xte)
    assert after < 0.75 * before and hist[-1] < hist[0], (before, after, hist)
    assert ae.eval_history[-1] == pytest.approx(after, rel=1e-9)
    np.testing.assert_allclose(after, _sum_sq(ae.reconstruct(xte), xte), rtol=1e-9)
    assert not ae.training


def test_fit_is_reproducible(digits):
    xtr = digits[0][:300]
    errs = []
    for _ in range(2):
        lamina.manual_seed(5)
        ae = DeepAutoencoder.from_sizes([64, 13, 6])
        errs.append(ae.fit(xtr, epochs=2, batch_size=50, seed=1))
    assert errs[0] == errs[1]


def test_state_dict_round_trips(tmp_path):
    ae = DeepAutoencoder.from_sizes([29, 13, 7, 3])
    sd = ae.state_dict()
    assert list(sd) == ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
                        "encoder.4.weight", "encoder.4.bias", "decoder.0.weight", "decoder.0.bias",
                        "decoder.2.weight", "decoder.2.bias", "decoder.4.weight", "decoder.4.bias"]
    other = DeepAutoencoder.from_sizes([29, 13, 7, 3])
    other.load_state_dict({k: v.detach().numpy().copy() for k, v in sd.items()})
    x = lamina.rand(5, 29)
    np.testing.assert_array_equal(other(x).detach().numpy(), ae(x).detach().numpy())
    with pytest.raises((KeyError, RuntimeError, ValueError)):
        DeepAutoencoder.from_sizes([29, 13, 7, 4]).load_state_dict(sd)


def test_state_dict_loads_into_torch():
    if torch is None:
        pytest.skip(TORCH_REASON)
    ae = DeepAutoencoder.from_sizes([29, 13, 7, 3])
    tn = torch.nn
    enc = tn.Sequential(tn.Linear(29, 13), tn.Sigmoid(), tn.Linear(13, 7), tn.Sigmoid(), tn.Linear(7, 3))
    dec = tn.Sequential(tn.Linear(3, 7), tn.Sigmoid(), tn.Linear(7, 13), tn.Sigmoid(), tn.Linear(13, 29),
                        tn.Sigmoid())
    tm = tn.Module()
    tm.encoder, tm.decoder = enc, dec
    tm.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in ae.state_dict().items()})
    x = np.random.default_rng(0).random((4, 29)).astype(np.float32)
    np.testing.assert_allclose(ae(lamina.from_numpy(x)).detach().numpy(),
                               dec(enc(torch.from_numpy(x))).detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- PCA, anomaly scores, ROC-AUC


@pytest.mark.parametrize("k", [1, 7, 30, 64])
def test_pca_error_matches_sklearn_and_numpy(digits, k):
    xtr, _, xte, _ = digits
    got = pca_reconstruction_error(xtr, xte, k)
    # direct numpy: eigenvectors of the training covariance
    a = xtr.astype(np.float64)
    mean = a.mean(0)
    vals, vecs = np.linalg.eigh(np.cov(a - mean, rowvar=False))
    v = vecs[:, np.argsort(vals)[::-1][:k]]
    rec = (xte - mean) @ v @ v.T + mean
    np.testing.assert_allclose(got, _sum_sq(rec, xte), rtol=1e-6, atol=1e-10)
    pytest.importorskip("sklearn")
    from sklearn.decomposition import PCA

    p = PCA(n_components=k, svd_solver="full").fit(a)
    ref = _sum_sq(p.inverse_transform(p.transform(xte.astype(np.float64))), xte)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-10)
    if k == 64:
        assert got < 1e-20


def test_pca_error_is_the_autoencoder_measure_and_checks_its_arguments(digits):
    xtr, _, xte, _ = digits
    assert pca_reconstruction_error(xtr, xte, 5) > pca_reconstruction_error(xtr, xte, 20) > 0
    with pytest.raises(ValueError, match="n_components"):
        pca_reconstruction_error(xtr, xte, 0)
    with pytest.raises(ValueError, match="n_components"):
        pca_reconstruction_error(xtr[:10], xte, 11)
    with pytest.raises(ValueError, match="'test' has 63 features"):
        pca_reconstruction_error(xtr, xte[:, :63], 5)


@pytest.mark.parametrize("n,ties,seed", [(7, False, 0), (101, False, 1), (250, True, 2), (999, True, 3)])
def test_roc_auc_matches_sklearn(n, ties, seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    labels[:2] = [True, False]
    scores = rng.integers(0, 5, n).astype(np.float64) if ties else rng.standard_normal(n) + labels
    assert roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores), abs=1e-12)
    assert roc_auc(scores, labels.astype(np.int64)) == pytest.approx(roc_auc(scores, labels), abs=1e-15)


def test_roc_auc_extremes_and_bad_input():
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert roc_auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1, 2, 3], [1, 1, 1])
    with pytest.raises(ValueError, match="binary"):
        roc_auc([1, 2, 3], [0, 1, 2])
    with pytest.raises(ValueError, match="same length"):
        roc_auc([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([1, np.nan, 3], [0, 1, 1])


def test_anomaly_scores_are_per_sample_reconstruction_errors(digits):
    xtr, _, xte, _ = digits
    ae = DeepAutoencoder.from_sizes([64, 11, 5])
    s = anomaly_scores(ae, xte)
    assert s.shape == (len(xte),)
    np.testing.assert_allclose(s, ((ae.reconstruct(xte).astype(np.float64) - xte) ** 2).sum(1), rtol=1e-9)
    sae = StackedAutoencoder([64, 9])
    np.testing.assert_allclose(anomaly_scores(sae, xte), ((sae.reconstruct(xte) - xte) ** 2).sum(1), rtol=1e-6)
    rbm = RBM(64, 10)
    rbm.fit(xtr[:200], epochs=1, batch_size=20)
    with lamina.no_grad():
        rec = rbm.visible_mean(rbm.hidden_mean(lamina.from_numpy(xte))).numpy()
    np.testing.assert_allclose(anomaly_scores(rbm, xte), ((rec - xte) ** 2).sum(1), rtol=1e-5)
    # a plain module returning reconstructions
    np.testing.assert_allclose(anomaly_scores(ae.eval(), xte[:9], batch_size=4), s[:9], rtol=1e-6)
    with pytest.raises(TypeError, match="anomaly_scores: argument 'model'"):
        anomaly_scores(object(), xte)


def test_anomaly_protocol_scores_an_unseen_class_higher(digits):
    """Train on every digit but one; the held-out class scores higher than the seen ones."""
    xtr, ytr, xte, yte = digits
    lamina.manual_seed(6)
    ae = DeepAutoencoder.from_sizes([64, 32, 8])
    ae.fit(xtr[ytr != 0], epochs=30, batch_size=32, lr=3e-3, seed=0)
    auc = roc_auc(anomaly_scores(ae, xte), yte == 0)
    assert auc > 0.75, auc


# ---------------------------------------------------------------- bad input


def test_bad_input_raises_clear_exceptions(digits):
    xtr = digits[0][:50]
    for cls in (StackedAutoencoder, DeepAutoencoder):
        name = cls.__name__
        with pytest.raises(ValueError, match=f"{name}: argument 'sizes' must name at least 2"):
            cls([784])
        with pytest.raises(ValueError, match=f"{name}: argument 'sizes' must hold positive"):
            cls([784, 0])
        with pytest.raises(TypeError, match=f"{name}: argument 'sizes'"):
            cls(784)
        with pytest.raises(ValueError, match=f"{name}: argument 'activation'"):
            cls([4, 2], activation="softplus")
        with pytest.raises(TypeError, match=f"{name}: argument 'dtype'"):
            cls([4, 2], dtype=lamina.int64)
    for noise in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="StackedAutoencoder: argument 'noise'"):
            StackedAutoencoder([64, 8], noise=noise)
    sae = StackedAutoencoder([63, 8])
    with pytest.raises(ValueError, match="StackedAutoencoder.pretrain: argument 'data' has 64 features"):
        sae.pretrain(xtr, epochs=1)
    with pytest.raises(ValueError, match="StackedAutoencoder.pretrain: argument 'epochs'"):
        StackedAutoencoder([64, 8]).pretrain(xtr, epochs=-1)
    with pytest.raises(ValueError, match="argument 'batch_size'"):
        StackedAutoencoder([64, 8]).pretrain(xtr, batch_size=0)
    with pytest.raises(ValueError, match="argument 'optimizer'"):
        StackedAutoencoder([64, 8]).pretrain(xtr, optimizer="lbfgs")
    with pytest.raises(IndexError, match="argument 'layer'"):
        StackedAutoencoder([64, 8]).reconstruction_error(xtr, layer=1)
    bad = xtr.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        StackedAutoencoder([64, 8]).pretrain(bad)
    ae = DeepAutoencoder([65, 8])
    with pytest.raises(ValueError, match="DeepAutoencoder.fit: argument 'data' has 64 features"):
        ae.fit(xtr)
    with pytest.raises(ValueError, match=r"DeepAutoencoder: argument 'input' must have shape \(N, 65\)"):
        ae(lamina.rand(3, 64))
    with pytest.raises(TypeError, match="DeepAutoencoder: argument 'input' must be a Tensor"):
        ae.encode(xtr)
    with pytest.raises(ValueError, match="DeepAutoencoder.decode: argument 'code'"):
        ae.decode(lamina.rand(3, 7))
    with pytest.raises(ValueError, match="DeepAutoencoder.fit: argument 'data' must have shape"):
        DeepAutoencoder([64, 8]).fit(np.zeros((0, 64), np.float32))
    with pytest.raises(ValueError, match="loss='bce' needs"):
        DeepAutoencoder([64, 8]).fit(xtr * 2, loss="bce")
    with pytest.raises(ValueError, match="argument 'loss'"):
        DeepAutoencoder([64, 8]).fit(xtr, loss="l1")
    with pytest.raises(ValueError, match="argument 'lr'"):
        DeepAutoencoder([64, 8]).fit(xtr, lr=0.0)
    with pytest.raises(TypeError, match="argument 'data' must"):
        DeepAutoencoder([64, 8]).fit("pixels")


def test_float64_and_tensor_data(digits):
    xtr = digits[0][:100]
    ae = DeepAutoencoder.from_sizes([64, 9, 4], dtype=lamina.float64)
    hist = ae.fit(lamina.from_numpy(xtr.astype(np.float64)), epochs=2, batch_size=20)
    assert np.all(np.isfinite(hist)) and ae.transform(xtr).dtype == np.float64
    sae = StackedAutoencoder([64, 9], dtype="float64", noise=0.1)
    sae.pretrain(lamina.from_numpy(xtr), epochs=1)
    assert sae.transform(xtr).dtype == np.float64


# ---------------------------------------------------------------- the study


def test_study_runs_end_to_end_on_digits(tmp_path, capsys):
    import argparse
    import json

    from lamina.studies import StudyError
    from lamina.studies import autoencoder as study

    p = argparse.ArgumentParser()
    study.add_arguments(p)
    args = p.parse_args(["--dataset", "digits", "--quick", "--epochs", "3", "--pretrain-epochs", "1",
                         "--anomaly-epochs", "2", "--sample-steps", "5", "--out", str(tmp_path)])
    assert study.run(args) == 0
    out = capsys.readouterr().out
    assert "test squared error" in out and "PCA (8 components)" in out
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["sizes"] == [64, 128, 64, 32, 8]
    assert len(res["autoencoder"]["test_history"]) == 3
    (xtr, _), (xte, _) = lamina.datasets.digits()
    assert res["pca"]["test_error"] == pytest.approx(
        pca_reconstruction_error(xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1), 8), rel=1e-9)
    assert 0.0 <= res["anomaly"]["roc_auc"] <= 1.0 and res["anomaly"]["held_out_class"] == 0
    for name in ("reconstructions.png", "filters.png", "samples.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(StudyError, match="--hidden"):
        study.run(p.parse_args(["--dataset", "digits", "--hidden", "64,x", "--out", str(tmp_path)]))
    with pytest.raises(StudyError, match="--anomaly-class"):
        study.run(p.parse_args(["--dataset", "digits", "--quick", "--anomaly-class", "12", "--out", str(tmp_path)]))
    # the saved weights load into a DeepAutoencoder of the same sizes
    ae = DeepAutoencoder(res["sizes"])
    ae.load_state_dict(lamina.io.load(str(tmp_path / "autoencoder.safetensors")))
    assert ae.reconstruction_error(xte.reshape(len(xte), -1)) == pytest.approx(res["autoencoder"]["test_error"],
                                                                               rel=1e-6)
