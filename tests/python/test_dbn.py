"""DBN: greedy layer-wise pretraining lowers reconstruction error, to_mlp preserves the up-pass,
sampling, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina.pretrain.dbn import DBN


def _digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    d = sklearn.load_digits()
    return (d.data / 16.0).astype(np.float32), d.target


def test_layerwise_pretraining_lowers_reconstruction_error():
    x, _ = _digits()
    lamina.manual_seed(0)
    dbn = DBN([64, 48, 32])
    inputs = [x, None]
    before = [dbn.rbms[0].reconstruction_error(x)]
    hist = dbn.pretrain(x, epochs=3, batch_size=20, lr=0.1, seed=0)
    assert len(hist) == 2 and all(len(h) == 3 for h in hist)
    inputs[1] = dbn.rbms[0].transform(x)
    for h in hist:
        assert h[-1] < h[0]
    assert dbn.rbms[0].reconstruction_error(x) < 0.5 * before[0]
    # the second RBM was trained on the first one's hidden means: it reconstructs them better than
    # an untrained RBM of the same shape does
    # (both with the visible biases set from the data, as fit does before its first update)
    lamina.manual_seed(0)
    fresh = DBN([64, 48, 32]).rbms[1]
    fresh.fit(inputs[1], epochs=0)
    assert dbn.rbms[1].reconstruction_error(inputs[1]) < 0.5 * fresh.reconstruction_error(inputs[1])


@pytest.mark.parametrize("top_hidden", ["bernoulli", "gaussian"])
def test_to_mlp_preserves_the_up_pass(top_hidden):
    x, _ = _digits()
    x = x[:101]
    lamina.manual_seed(1)
    dbn = DBN([64, 33, 21, 9], top_hidden=top_hidden)
    dbn.pretrain(x, epochs=1, batch_size=25, lr=0.05,
                 layer_kwargs=[{}, {}, {"lr": 0.005 if top_hidden == "gaussian" else 0.05}])
    mlp = dbn.to_mlp()
    kinds = [type(m).__name__ for m in mlp]
    want = ["Linear", "Sigmoid"] * 3
    if top_hidden == "gaussian":
        want = want[:-1]  # the linear code layer
    assert kinds == want
    up = dbn.transform(x)
    assert up.shape == (101, 9)
    np.testing.assert_allclose(mlp(lamina.from_numpy(x)).detach().numpy(), up, rtol=1e-5, atol=1e-6)
    clf = dbn.to_mlp(num_classes=10)
    assert type(clf[-1]).__name__ == "Linear" and clf[-1].weight.shape == (10, 9)
    out = clf(lamina.from_numpy(x))
    assert out.shape == (101, 10)
    # the MLP holds copies: fine-tuning it leaves the DBN alone
    clf[0].weight.data.fill_(0.0)
    assert np.abs(dbn.rbms[0].weight.detach().numpy()).sum() > 0


def test_fine_tuned_mlp_learns_digits():
    x, y = _digits()
    lamina.manual_seed(0)
    dbn = DBN([64, 64, 64])
    dbn.pretrain(x[:1200], epochs=3, batch_size=20, lr=0.1, seed=0)
    mlp = dbn.to_mlp(num_classes=10)
    opt = lamina.optim.SGD(mlp.parameters(), lr=0.3, momentum=0.9)
    for _ in range(15):
        for s in range(0, 1200, 50):
            xt = lamina.from_numpy(x[s:s + 50])
            yt = lamina.from_numpy(y[s:s + 50].astype(np.int64))
            opt.zero_grad()
            lamina.nn.functional.cross_entropy(mlp(xt), yt).backward()
            opt.step()
    pred = mlp(lamina.from_numpy(x[1200:])).detach().numpy().argmax(1)
    assert (pred == y[1200:]).mean() > 0.85


def test_sample_shapes_range_and_seed():
    x, _ = _digits()
    lamina.manual_seed(0)
    dbn = DBN([64, 30, 20])
    dbn.pretrain(x[:300], epochs=1, batch_size=30, lr=0.05)
    a = dbn.sample(5, gibbs_steps=20, seed=3)
    b = dbn.sample(5, gibbs_steps=20, seed=3)
    assert a.shape == (5, 64) and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, dbn.sample(5, gibbs_steps=20, seed=4))


def test_sample_started_at_data_is_a_down_pass_of_a_sampled_up_pass():
    x, _ = _digits()
    lamina.manual_seed(0)
    dbn = DBN([64, 30, 20])
    dbn.pretrain(x[:300], epochs=1, batch_size=30, lr=0.05)
    start = x[300:305]
    got = dbn.sample(5, gibbs_steps=0, seed=7, start=start)
    lamina.manual_seed(7)
    u = lamina.rand(5, 30).numpy()
    v = (u < dbn.rbms[0].transform(start)).astype(np.float64)
    w0, vb0 = dbn.rbms[0].weight.detach().numpy(), dbn.rbms[0].v_bias.detach().numpy()
    want = 1 / (1 + np.exp(-(v @ w0 + vb0)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    longer = dbn.sample(5, gibbs_steps=30, seed=7, start=start)
    assert longer.shape == (5, 64) and not np.allclose(longer, got)


def test_dbn_bad_input():
    cases = [
        (lambda: DBN([64]), ValueError, "sizes"),
        (lambda: DBN("64-32"), ValueError, "sizes"),
        (lambda: DBN([64, 0]), ValueError, "sizes"),
        (lambda: DBN([64, 32], visible="poisson"), ValueError, "visible"),
        (lambda: DBN([64, 32], top_hidden="relu"), ValueError, "top_hidden"),
        (lambda: DBN([64, 32]).pretrain(np.zeros((4, 10))), ValueError, "(N, 64)"),
        (lambda: DBN([64, 32]).pretrain(np.zeros((4, 64)), layer_kwargs=[{}, {}]), ValueError,
         "layer_kwargs"),
        (lambda: DBN([64, 32]).to_mlp(activation="softmax"), ValueError, "activation"),
        (lambda: DBN([64, 32]).to_mlp(num_classes=0), ValueError, "num_classes"),
        (lambda: DBN([64, 32]).sample(0), ValueError, "'n'"),
        (lambda: DBN([64, 32]).sample(2, gibbs_steps=-1), ValueError, "gibbs_steps"),
        (lambda: DBN([64, 32]).sample(2, start=np.zeros((3, 64))), ValueError, "'start' must have n=2 rows"),
        (lambda: DBN([64, 32]).sample(2, start=np.zeros((2, 10))), ValueError, "(N, 64)"),
    ]
    for fn, exc, needle in cases:
        with pytest.raises(exc) as info:
            fn()
        msg = str(info.value)
        assert ("DBN" in msg or "RBM" in msg) and needle in msg, msg


def test_dbn_study_runs_end_to_end_quick(tmp_path, capsys):
    pytest.importorskip("sklearn.datasets")
    import json

    from lamina import cli

    out, saved = tmp_path / "study", str(tmp_path / "dbn.npz")
    assert cli.main(["study", "dbn", "--dataset", "digits", "--quick", "--threads", "1", "--out", str(out),
                     "--save-dbn", saved]) == 0
    text = capsys.readouterr().out
    assert "final test error" in text
    res = json.loads((out / "results.json").read_text())
    assert len(res["dbn"]["test_error"]) == res["config"]["epochs"]
    assert res["dbn"]["final_test_error"] < 0.2  # 10 classes: chance is 0.9
    assert all(h[-1] < h[0] for h in res["pretraining_reconstruction_error"])
    for name in ("rbm1_weights.png", "dbn_samples.png", "dbn_samples_from_data.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # fine-tuning again from the saved pretrained RBMs, with input dropout
    first = res["pretraining_reconstruction_error"]
    assert cli.main(["study", "dbn", "--dataset", "digits", "--quick", "--threads", "1", "--out", str(out),
                     "--load-dbn", saved, "--input-dropout", "0.1", "--epochs", "2", "--samples", "0"]) == 0
    res2 = json.loads((out / "results.json").read_text())
    assert res2["pretraining_reconstruction_error"] == first and len(res2["dbn"]["test_error"]) == 2
    assert "loaded the pretrained RBMs" in capsys.readouterr().out
    assert cli.main(["study", "dbn", "--dataset", "digits", "--quick", "--sizes", "64-7", "--load-dbn", saved,
                     "--out", str(out)]) == 2
    assert "does not match the DBN 64-7" in capsys.readouterr().err
    assert cli.main(["study", "dbn", "--dataset", "digits", "--quick", "--sizes", "10-5",
                     "--out", str(out)]) == 2
    assert "--sizes must start with the image size 64" in capsys.readouterr().err
