"""The `lamina` command and lamina.info()."""

import json
import subprocess
import sys

import lamina


def test_info_dict():
    i = lamina.info()
    for key in ["version", "build_type", "cpu_features", "cpu_isa", "num_threads", "cuda_built",
                "cuda_build_reason", "cuda_devices"]:
        assert key in i
    assert i["version"] == lamina.__version__
    assert i["cpu_isa"] in ("avx512", "avx2+fma", "portable")
    assert i["num_threads"] == lamina.get_num_threads()
    assert i["cuda_built"] == lamina.cuda.is_built()
    if not i["cuda_built"]:
        assert i["cuda_build_reason"]  # says why not


def test_lamina_info_command():
    out = subprocess.run([sys.executable, "-m", "lamina.cli", "info"], capture_output=True, text=True, check=True)
    for word in ["lamina", "build", "cpu features", "threads", "cuda built", "cuda devices"]:
        assert word in out.stdout
    js = subprocess.run([sys.executable, "-m", "lamina.cli", "info", "--json"], capture_output=True, text=True,
                        check=True)
    assert json.loads(js.stdout)["version"] == lamina.__version__


def test_cli_without_command_prints_help():
    r = subprocess.run([sys.executable, "-m", "lamina.cli"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stdout


# ---------------------------------------------------------------------------- lamina train / evaluate
import os  # noqa: E402

import pytest  # noqa: E402

from lamina.cli import main  # noqa: E402


def _run(*args):
    env = dict(os.environ, CI="1")
    return subprocess.run([sys.executable, "-m", "lamina.cli", *args], capture_output=True, text=True, env=env)


@pytest.fixture
def _threads():
    n = lamina.get_num_threads()
    yield
    lamina.set_num_threads(n)


def test_train_then_evaluate_on_digits(tmp_path, capsys, _threads):
    pytest.importorskip("sklearn")
    out = tmp_path / "run"
    r = _run("train", "--epochs", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "small_cnn" in r.stdout and "digits" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ")
    files = set(os.listdir(out))
    assert {"best.ckpt", "last.ckpt", "log.csv", "config.json", "results.json"} <= files
    cfg = json.load(open(out / "config.json"))
    assert cfg["model"] == "small_cnn" and cfg["dataset"] == "digits" and cfg["epochs"] == 1
    res = json.load(open(out / "results.json"))
    assert f"{100 * res['test_accuracy']:.2f}%" in last
    assert main(["evaluate", str(out / "last.ckpt")]) == 0
    assert f"accuracy {100 * res['test_accuracy']:.2f}%" in capsys.readouterr().out


def test_train_resume_and_flags_in_process(tmp_path, capsys, _threads):
    pytest.importorskip("sklearn")
    out = tmp_path / "r"
    assert main(["train", "mlp", "--epochs", "2", "--batch-size", "64", "--lr", "0.01", "--optimizer", "sgd",
                 "--out", str(out), "--seed", "3", "--no-progress", "--schedule", "cosine"]) == 0
    cfg = json.load(open(out / "config.json"))
    assert (cfg["model"], cfg["batch_size"], cfg["lr"], cfg["optimizer"], cfg["seed"]) == ("mlp", 64, 0.01, "sgd", 3)
    capsys.readouterr()
    # resume: the model, dataset and settings come from the checkpoint; --epochs extends the run
    assert main(["train", "--resume", str(out / "last.ckpt"), "--epochs", "3", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "mlp" in text and "epoch 3/3" in text and "epoch 1/3" not in text
    with open(out / "log.csv") as f:
        assert len(f.read().strip().splitlines()) == 4  # header + 3 epochs
    # a one-cycle run cannot be stretched: its schedule ends where it was planned to
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "oc"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "oc" / "last.ckpt"), "--epochs", "2"]) == 2
    assert "one-cycle schedule planned for 1 epochs" in capsys.readouterr().err


@pytest.mark.parametrize("args,msg", [
    (["train", "vgg"], "unknown model 'vgg'"),
    (["train", "--dataset", "cifar"], "unknown dataset 'cifar'"),
    (["train", "--epochs", "-1"], "expected an integer >= 0"),
    (["train", "--lr", "zero"], "expected a positive number"),
    (["train", "--optimizer", "lbfgs"], "invalid choice"),
    (["train", "--device", "tpu"], "unknown device 'tpu'"),
    (["train", "--resume", "/nonexistent/last.ckpt"], "does not exist"),
    (["evaluate", "/nonexistent/best.ckpt"], "does not exist"),
])
def test_bad_flags_exit_2_with_one_line(args, msg, capsys, _threads):
    with pytest.raises(SystemExit) as ei:
        rc = main(args)
        raise SystemExit(rc)
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert msg in err[-1] and "Traceback" not in "\n".join(err)


def test_missing_data_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAMINA_DATA", str(tmp_path))
    monkeypatch.setenv("LAMINA_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    import lamina.datasets.images as images

    def not_found(*a, **k):
        raise images.DatasetNotFoundError("lamina.datasets: MNIST not found; put the IDX files in X")

    monkeypatch.setattr(images, "mnist", not_found)
    with pytest.raises(SystemExit) as ei:
        raise SystemExit(main(["train", "lenet5", "--epochs", "1"]))
    assert ei.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["lamina train: error: lamina.datasets: MNIST not found; put the IDX files in X"]


def test_lm_subcommand_forwards_to_the_char_lm_options(capsys):
    import pytest

    from lamina.cli import main

    with pytest.raises(SystemExit) as e:
        main(["lm", "--help"])
    assert e.value.code == 0
    assert "--temperature" in capsys.readouterr().out
