"""``lamina study``: the depth and scale studies run end to end in --quick mode on the digits,
write results.json with the expected rows, and bad options fail with one clean line."""

import importlib
import json
import os
import sys

import pytest

from lamina import cli
from lamina.studies import StudyError, format_table, load_dataset
from lamina.studies import depth as depth_study
from lamina.studies import scale as scale_study


def _results(out):
    with open(os.path.join(out, "results.json")) as f:
        return json.load(f)


def test_depth_quick_digits(tmp_path, capsys):
    out = str(tmp_path / "depth")
    assert cli.main(["study", "depth", "--dataset", "digits", "--quick", "--out", out]) == 0
    printed = capsys.readouterr().out
    res = _results(out)
    assert res["study"] == "depth" and res["dataset"] == "digits" and res["quick"] is True
    rows = {r["key"]: r for r in res["rows"]}
    assert list(rows) == list(depth_study.MODELS)
    for r in res["rows"]:
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert len(r["history"]["val_accuracy"]) == res["config"]["epochs"]
        assert len(r["gradient_flow"]["grad_norm"]) == res["config"]["epochs"]
        assert r["label"] in printed and r["optimizer"] in printed
    # the shallow net has one hidden layer; the deep ones have 8 (+ the output layer)
    assert len(rows["shallow"]["gradient_flow"]["layers"]) == 2
    assert len(rows["sigmoid_small"]["gradient_flow"]["layers"]) == 9
    # the 1980s net: the gradient vanishes on its way to the first layer; the shallow net's does not
    assert rows["sigmoid_small"]["grad_ratio_first_epoch"] < 1e-6
    assert rows["shallow"]["grad_ratio_first_epoch"] > 1e-2
    assert [r["key"] for r in res["small_data_rows"]] == list(depth_study.SMALL_DATA_MODELS)
    assert all(r["train_images"] == 1437 // 10 for r in res["small_data_rows"])
    assert any("too slow computers" in n for n in res["notes"])
    assert any("too little data" in n for n in res["notes"])
    assert os.path.exists(os.path.join(out, f"filters-{res['best']}.png"))
    for f in res["files"]:
        assert os.path.getsize(f) > 0


def test_depth_subset_of_models(tmp_path):
    out = str(tmp_path / "d")
    assert cli.main(["study", "depth", "--dataset", "digits", "--quick", "--models", "shallow,relu_bn",
                     "--epochs", "1", "--no-small-data", "--out", out]) == 0
    res = _results(out)
    assert [r["key"] for r in res["rows"]] == ["shallow", "relu_bn"]
    assert res["small_data_rows"] == []


def test_scale_quick_digits(tmp_path, capsys):
    out = str(tmp_path / "scale")
    assert cli.main(["study", "scale", "--dataset", "digits", "--quick", "--out", out]) == 0
    printed = capsys.readouterr().out
    res = _results(out)
    assert res["study"] == "scale"
    # 1k, 10k and 60k of MNIST's 60,000, as fractions of the digits' 1,437 training images
    assert res["sizes"] == [24, 240, 1437]
    assert [r["key"] for r in res["rows"]] == list(scale_study.MODELS)
    for r in res["rows"]:
        assert len(r["test_accuracy"]) == 3
        assert all(0.0 <= a <= 1.0 for a in r["test_accuracy"])
        assert r["label"] in printed
    cnn = next(r for r in res["rows"] if r["key"] == "cnn")
    assert cnn["test_accuracy"][-1] > cnn["test_accuracy"][0]  # more data helps the deep net


@pytest.mark.parametrize("study", ["depth", "scale"])
def test_bad_dataset_is_a_clean_error(study, tmp_path, capsys):
    assert cli.main(["study", study, "--dataset", "cifar-1000", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"lamina study {study}: error: unknown dataset 'cifar-1000'" in err
    assert "Traceback" not in err
    assert not os.path.exists(tmp_path / "results.json")


@pytest.mark.parametrize("study", ["depth", "scale"])
def test_bad_models_is_a_clean_error(study, tmp_path, capsys):
    assert cli.main(["study", study, "--quick", "--models", "shallow,transformer", "--out", str(tmp_path)]) == 2
    assert "unknown model(s) transformer" in capsys.readouterr().err


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["study", "width"])
    assert e.value.code == 2
    assert "invalid choice: 'width'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["study", "depth", "--epochs", "0"])
    assert e.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["study"])
    assert e.value.code == 0
    assert "depth" in capsys.readouterr().out


def test_missing_study_module_fails_cleanly(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lamina.studies.dbn", None)  # as if the module were not installed
    assert cli.main(["study", "dbn", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "lamina study dbn: error: the dbn study is not part of this installation" in err


def test_a_broken_study_module_fails_cleanly(monkeypatch, capsys):
    real = importlib.import_module

    def broken(name, *a, **kw):
        if name == "lamina.studies.autoencoder":
            raise ImportError("cannot import name 'Missing' from 'lamina.pretrain'")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib, "import_module", broken)
    assert cli.main(["study", "autoencoder"]) == 2
    assert "the autoencoder study cannot be loaded (ImportError: cannot import name 'Missing'" in \
        capsys.readouterr().err


@pytest.mark.parametrize("name", ["dbn", "autoencoder"])
def test_other_studies_follow_the_contract(name, capsys):
    try:
        mod = importlib.import_module(f"lamina.studies.{name}")
    except ImportError:
        pytest.skip(f"lamina.studies.{name} is not there yet")
    assert callable(mod.add_arguments) and callable(mod.run)
    with pytest.raises(SystemExit) as e:
        cli.main(["study", name, "--help"])
    assert e.value.code == 0
    usage = capsys.readouterr().out
    assert f"lamina study {name}" in usage
    for flag in ("--dataset", "--quick", "--out"):
        assert flag in usage


def test_helpers():
    with pytest.raises(StudyError, match="unknown dataset 'svhn' for the depth study"):
        load_dataset("svhn", study="depth")
    (x, y), (xt, yt) = load_dataset("digits")
    assert x.shape == (1437, 1, 8, 8) and xt.shape == (360, 1, 8, 8) and str(x.dtype) == "float32"
    assert format_table(["a", "bb"], [["xyz", 1]]).splitlines() == ["a    bb", "---  --", "xyz  1"]
    with pytest.raises(ValueError, match="unknown model 'x'"):
        depth_study.build_model("x", 4, 2, 3, 2)
