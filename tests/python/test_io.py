"""lamina.io: our safetensors reader and writer (round trips of every dtype, byte-identical files
and interop with the ``safetensors`` package, validation of damaged files), checkpoints (round
trip into model, optimizer and scheduler; bit-identical resume; a save killed midway leaves the
previous checkpoint loadable)."""

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import io as lio
from lamina import nn
from lamina.data import DataLoader, TensorDataset

try:
    import safetensors.numpy as st_numpy
except ImportError:  # pragma: no cover
    st_numpy = None
ST_REASON = "the safetensors package is not installed (pip install safetensors): interop test skipped"

NUMPY_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32, np.float32,
                np.uint64, np.int64, np.float64]
SHAPES = [(), (0,), (3, 0, 2), (5,), (3, 7), (2, 3, 5)]


def _rand(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if np.dtype(dtype).kind == "f":
        return np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def _write_raw(path, header: dict, data: bytes, pad=True):
    raw = json.dumps(header).encode()
    if pad:
        raw += b" " * (-(len(raw)) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


# ---------------------------------------------------------------------- safetensors
@pytest.mark.parametrize("dtype", [lamina.float32, lamina.float64, lamina.int64, lamina.bool])
def test_round_trip_lamina_dtypes(tmp_path, dtype):
    tensors = {f"t{i}": lamina.from_numpy(_rand(s, dtype._np, i)) for i, s in enumerate(SHAPES)}
    lio.save_file(tensors, tmp_path / "a.safetensors", metadata={"who": "test", "ünï": "cödé"})
    back, meta = lio.load_file(tmp_path / "a.safetensors", with_metadata=True)
    assert meta == {"who": "test", "ünï": "cödé"}
    assert sorted(back) == sorted(tensors)
    for k, t in tensors.items():
        assert isinstance(back[k], lamina.Tensor) and back[k].dtype == dtype and back[k].shape == t.shape
        np.testing.assert_array_equal(back[k].numpy(), t.numpy())


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_round_trip_every_safetensors_dtype_numpy(tmp_path, dtype):
    arrays = {f"a.{i}": _rand(s, dtype, i) for i, s in enumerate(SHAPES)}
    arrays["big_endian"] = _rand((4, 3), dtype, 9).astype(np.dtype(dtype).newbyteorder(">"))
    arrays["strided"] = _rand((6, 4), dtype, 10)[::2, ::-1]
    lio.save_file(arrays, tmp_path / "a.safetensors")
    back = lio.load_numpy(tmp_path / "a.safetensors")
    for k, a in arrays.items():
        assert back[k].dtype == np.dtype(dtype) and back[k].shape == a.shape
        np.testing.assert_array_equal(back[k], a)


def test_layout_is_aligned_and_sorted(tmp_path):
    lio.save_file({"b": np.zeros(3, np.int8), "a": np.ones(2, np.float64), "c": np.ones(1, np.float32)},
                  tmp_path / "x.safetensors")
    raw = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0
    header, _ = lio.read_header(tmp_path / "x.safetensors")
    assert header["a"]["data_offsets"] == [0, 16] and header["c"]["data_offsets"] == [16, 20]
    assert header["b"]["data_offsets"] == [20, 23] and len(raw) == 8 + n + 23


def test_load_file_refuses_dtypes_lamina_cannot_hold(tmp_path):
    lio.save_file({"x": np.zeros(3, np.int32)}, tmp_path / "a.safetensors")
    with pytest.raises(TypeError, match="dtype int32.*load_numpy"):
        lio.load_file(tmp_path / "a.safetensors")


@pytest.mark.skipif(st_numpy is None, reason=ST_REASON)
def test_interop_with_the_safetensors_package(tmp_path):
    arrays = {f"w{i}": _rand(s, dt, i) for i, (s, dt) in enumerate(zip(SHAPES * 2, NUMPY_DTYPES))}
    lio.save_file(arrays, tmp_path / "ours.safetensors", metadata={"format": "np"})
    st_numpy.save_file(arrays, str(tmp_path / "theirs.safetensors"), metadata={"format": "np"})
    assert (tmp_path / "ours.safetensors").read_bytes() == (tmp_path / "theirs.safetensors").read_bytes()
    theirs_reads_ours = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    ours_reads_theirs = lio.load_numpy(tmp_path / "theirs.safetensors")
    for k, a in arrays.items():
        np.testing.assert_array_equal(theirs_reads_ours[k], a)
        np.testing.assert_array_equal(ours_reads_theirs[k], a)
    # A model's state dict goes out through lamina and comes back through the package.
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    lio.save(model.state_dict(), tmp_path / "model.safetensors")
    back = st_numpy.load_file(str(tmp_path / "model.safetensors"))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back[k], v.detach().numpy())


def test_save_errors_write_nothing(tmp_path):
    path = tmp_path / "a.safetensors"
    lio.save_file({"x": np.ones(2, np.float32)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="tensor names must be strings"):
        lio.save_file({1: np.ones(2)}, path)
    with pytest.raises(ValueError, match="'__metadata__' is reserved"):
        lio.save_file({"__metadata__": np.ones(2)}, path)
    with pytest.raises(TypeError, match="value of 'y' must be a lamina.Tensor or numpy array, got list"):
        lio.save_file({"x": np.ones(2), "y": [1, 2]}, path)
    with pytest.raises(TypeError, match="complex128, which safetensors can't hold"):
        lio.save_file({"z": np.ones(2, np.complex128)}, path)
    with pytest.raises(TypeError, match="metadata must be a dict of str -> str"):
        lio.save_file({"x": np.ones(2)}, path, metadata={"a": 1})
    with pytest.raises(TypeError, match="pass model.state_dict"):
        lio.save(nn.Linear(2, 2), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.safetensors"]


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}


@pytest.mark.parametrize("header,data,match", [
    ({**GOOD, "a": {**GOOD["a"], "dtype": "F33"}}, bytes(16), "unknown dtype 'F33'"),
    ({**GOOD, "a": {**GOOD["a"], "shape": [-2]}}, bytes(16), "invalid shape"),
    ({**GOOD, "a": {**GOOD["a"], "shape": [2.0]}}, bytes(16), "invalid shape"),
    ({**GOOD, "a": {**GOOD["a"], "shape": [3]}}, bytes(16), "span 8 bytes, but shape \\[3\\] of F32 needs 12"),
    ({**GOOD, "a": {**GOOD["a"], "data_offsets": [8, 0]}}, bytes(16), "invalid data_offsets"),
    ({**GOOD, "a": {**GOOD["a"], "data_offsets": [0]}}, bytes(16), "invalid data_offsets"),
    ({**GOOD, "b": {**GOOD["b"], "data_offsets": [4, 12]}}, bytes(16), "overlaps the previous tensor"),
    ({**GOOD, "b": {**GOOD["b"], "data_offsets": [12, 20]}}, bytes(20), "leaves a hole at byte 8"),
    ({**GOOD, "b": {**GOOD["b"], "data_offsets": [16, 24]}}, bytes(16), "leaves a hole"),
    (GOOD, bytes(15), "need 16 bytes of data, the file holds 15 \\(truncated\\)"),
    (GOOD, bytes(17), "holds 1 bytes after the last tensor"),
    ({**GOOD, "a": {**GOOD["a"], "extra": 1}}, bytes(16), "exactly dtype, shape and data_offsets"),
    ({**GOOD, "a": [1, 2]}, bytes(16), "exactly dtype, shape and data_offsets"),
    ({**GOOD, "__metadata__": {"k": 3}}, bytes(16), "__metadata__ must be an object of string -> string"),
])
def test_header_validation(tmp_path, header, data, match):
    _write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(lio.SafetensorsError, match=match):
        lio.load_file(tmp_path / "bad.safetensors")


def test_malformed_headers(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x01\x00")
    with pytest.raises(lio.SafetensorsError, match="too short for the 8-byte header length"):
        lio.load_file(p)
    p.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(lio.SafetensorsError, match="runs past the end"):
        lio.load_file(p)
    p.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(lio.SafetensorsError, match="exceeds the 100000000-byte limit"):
        lio.load_file(p)
    for body, match in ((b"[1, 2]  ", "does not start with"), (b'{"a": 1', "not valid JSON"),
                        (b"\xff\xfe{}    ", "not UTF-8"), (b"[]      ", "does not start with"),
                        (b'{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{}}', "duplicate key 'a'")):
        p.write_bytes(struct.pack("<Q", len(body)) + body)
        with pytest.raises(lio.SafetensorsError, match=match):
            lio.load_file(p)
    with pytest.raises(FileNotFoundError, match="no such file"):
        lio.load_file(tmp_path / "absent.safetensors")


def test_every_truncation_is_detected(tmp_path):
    lio.save_file({"a": np.arange(6, dtype=np.float32), "b": np.arange(3)}, tmp_path / "a.safetensors")
    raw = (tmp_path / "a.safetensors").read_bytes()
    for cut in range(len(raw)):
        (tmp_path / "cut.safetensors").write_bytes(raw[:cut])
        with pytest.raises(lio.SafetensorsError):
            lio.load_file(tmp_path / "cut.safetensors")


def test_save_and_load_convenience(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    lio.save(model.state_dict(), tmp_path / "m.safetensors", metadata={"arch": "mlp"})
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(lio.load(tmp_path / "m.safetensors"))
    x = lamina.randn(5, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), other(x).detach().numpy())
    assert lio.read_header(tmp_path / "m.safetensors")[1] == {"arch": "mlp"}


# ---------------------------------------------------------------------- checkpoints
def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _setup(opt_name, seed, loader_seed=0):
    lamina.manual_seed(seed)
    model = _mlp()
    if opt_name == "sgd":
        opt = lamina.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    else:
        opt = lamina.optim.Adam(model.parameters(), lr=3e-3, betas=(0.8, 0.95), amsgrad=True)
    sched = lamina.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    rng = np.random.default_rng(42)
    ds = TensorDataset(rng.standard_normal((37, 6)).astype(np.float32), rng.integers(0, 3, 37))
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=loader_seed)
    return model, opt, sched, loader


def _train(model, opt, sched, loader, epochs):
    losses = []
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    return losses


def _state_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].detach().numpy(), sb[k].detach().numpy(), err_msg=k)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_resume_is_bit_identical(tmp_path, opt_name):
    model, opt, sched, loader = _setup(opt_name, seed=1)
    _train(model, opt, sched, loader, 2)
    path = tmp_path / "last.ckpt"
    lio.save_checkpoint(path, model, opt, sched, extra={"epoch": 2, "loader": loader.state_dict()},
                        config={"opt": opt_name, "layers": (6, 16, 3)})
    expected = _train(model, opt, sched, loader, 2)  # the uninterrupted run continues

    model2, opt2, sched2, loader2 = _setup(opt_name, seed=99, loader_seed=5)  # different init, order
    ck = lio.load_checkpoint(path, model2, opt2, sched2)
    loader2.load_state_dict(ck["extra"]["loader"])
    assert ck["extra"]["epoch"] == 2 and ck["config"] == {"opt": opt_name, "layers": (6, 16, 3)}
    resumed = _train(model2, opt2, sched2, loader2, 2)
    assert resumed == expected  # bit-identical: dropout masks, batch order and optimizer state match
    _state_equal(model, model2)
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_checkpoint_round_trip_of_optimizer_and_scheduler_state(tmp_path):
    model, opt, sched, loader = _setup("adam", seed=3)
    _train(model, opt, sched, loader, 1)
    lio.save_checkpoint(tmp_path / "c.ckpt", model, opt, sched)
    model2, opt2, sched2, _ = _setup("adam", seed=4)
    ck = lio.load_checkpoint(tmp_path / "c.ckpt", model2, opt2, sched2)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert isinstance(s2["param_groups"][0]["betas"], tuple)
    assert sorted(s1["state"]) == sorted(s2["state"])
    for i in s1["state"]:
        assert sorted(s1["state"][i]) == sorted(s2["state"][i]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
        for k, v in s1["state"][i].items():
            np.testing.assert_array_equal(v.numpy(), s2["state"][i][k].numpy())
    assert sched.state_dict() == sched2.state_dict()
    assert sorted(ck["model"]) == sorted(model.state_dict())
    assert ck["tensors"]["file"].startswith("c.ckpt.") and ck["tensors"]["file"].endswith(".safetensors")


def test_extra_values_come_back_as_they_went_in(tmp_path):
    gen = np.random.default_rng(7)
    gen.random(3)
    mt = np.random.RandomState(3)
    extra = {"epoch": 4, "history": {"loss": [1.5, 0.5], "acc": [0.25, float("nan")]},
             "best": float("inf"), "worst": -float("inf"), "pair": (1, "a", None, True),
             "by_int": {0: "zero", 1: (2, 3)}, "__dunder": 1, "arr": np.arange(6, dtype=np.int16).reshape(2, 3),
             "t": lamina.tensor([[1.0, 2.0]]), "np_rng": gen.bit_generator.state, "legacy_rng": mt.get_state(),
             "npscalars": [np.float32(0.5), np.int64(3), np.bool_(True)]}
    lio.save_checkpoint(tmp_path / "c.ckpt", extra=extra)
    back = lio.load_checkpoint(tmp_path / "c.ckpt")["extra"]
    assert back["epoch"] == 4 and back["history"]["loss"] == [1.5, 0.5] and np.isnan(back["history"]["acc"][1])
    assert back["best"] == float("inf") and back["worst"] == -float("inf")
    assert back["pair"] == (1, "a", None, True) and back["by_int"] == {0: "zero", 1: (2, 3)}
    assert back["__dunder"] == 1
    assert back["arr"].dtype == np.int16 and back["arr"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(back["t"], lamina.Tensor) and back["t"].tolist() == [[1.0, 2.0]]
    assert back["npscalars"] == [0.5, 3, True]
    g2 = np.random.default_rng()
    g2.bit_generator.state = back["np_rng"]
    assert g2.random(4).tolist() == gen.random(4).tolist()
    m2 = np.random.RandomState()
    m2.set_state(back["legacy_rng"])
    assert m2.rand(3).tolist() == mt.rand(3).tolist()
    with pytest.raises(TypeError, match=r"can't store 'extra.fn' of type function"):
        lio.save_checkpoint(tmp_path / "d.ckpt", extra={"fn": lambda: 0})
    assert not (tmp_path / "d.ckpt").exists()


_SCHEDULERS = {
    "StepLR": lambda o: lamina.optim.lr_scheduler.StepLR(o, 2, gamma=0.5),
    "MultiStepLR": lambda o: lamina.optim.lr_scheduler.MultiStepLR(o, [1, 1, 3]),
    "ExponentialLR": lambda o: lamina.optim.lr_scheduler.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: lamina.optim.lr_scheduler.CosineAnnealingLR(o, 5),
    "OneCycleLR": lambda o: lamina.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10),
    "ReduceLROnPlateau": lambda o: lamina.optim.lr_scheduler.ReduceLROnPlateau(o, patience=0),
}


@pytest.mark.parametrize("name", sorted(_SCHEDULERS))
def test_every_scheduler_resumes(tmp_path, name):
    def make():
        m = nn.Linear(2, 2)
        o = lamina.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        return m, o, _SCHEDULERS[name](o)

    def steps(m, o, s, n):
        lrs = []
        for i in range(n):
            o.zero_grad()
            m(lamina.ones(3, 2)).sum().backward()
            o.step()
            s.step(1.0 + i % 2) if name == "ReduceLROnPlateau" else s.step()
            lrs.append(o.param_groups[0]["lr"])
        return lrs

    m, o, s = make()
    steps(m, o, s, 2)
    lio.save_checkpoint(tmp_path / "c.ckpt", m, o, s)
    saved = s.state_dict().copy()
    expected = steps(m, o, s, 4)
    m2, o2, s2 = make()
    lio.load_checkpoint(tmp_path / "c.ckpt", m2, o2, s2)
    restored = s2.state_dict()
    assert restored == saved
    for k, v in restored.items():
        assert type(v) is type(saved[k]), k  # e.g. MultiStepLR's milestones stay a Counter
    assert steps(m2, o2, s2, 4) == expected


def test_rng_state_is_restored(tmp_path):
    lamina.manual_seed(5)
    lamina.rand(10)
    lio.save_checkpoint(tmp_path / "c.ckpt")
    expected = lamina.rand(4).tolist()
    lamina.manual_seed(123)
    lio.load_checkpoint(tmp_path / "c.ckpt", restore_rng=False)
    assert lamina.rand(4).tolist() != expected
    lio.load_checkpoint(tmp_path / "c.ckpt")
    assert lamina.rand(4).tolist() == expected


def test_saving_again_replaces_and_cleans_up(tmp_path):
    model = _mlp()
    path = tmp_path / "last.ckpt"
    lio.save_checkpoint(path, model, extra={"v": 1})
    first = lio.read_checkpoint(path)["tensors"]["file"]
    with lamina.no_grad():
        model[0].weight.add_(1.0)
    lio.save_checkpoint(path, model, extra={"v": 2})
    lio.save_checkpoint(tmp_path / "best.ckpt", model, extra={"v": 3})
    second = lio.read_checkpoint(path)["tensors"]["file"]
    assert first != second
    assert sorted(os.listdir(tmp_path)) == sorted(["last.ckpt", second, "best.ckpt",
                                                   lio.read_checkpoint(tmp_path / "best.ckpt")["tensors"]["file"]])
    fresh = _mlp()
    assert lio.load_checkpoint(path, fresh)["extra"] == {"v": 2}
    _state_equal(model, fresh)


def test_damaged_checkpoints_are_refused(tmp_path):
    model = _mlp()
    path = tmp_path / "c.ckpt"
    lio.save_checkpoint(path, model)
    tfile = tmp_path / lio.read_checkpoint(path)["tensors"]["file"]
    raw = bytearray(tfile.read_bytes())
    raw[-3] ^= 1
    tfile.write_bytes(bytes(raw))
    with pytest.raises(lio.CheckpointError, match="does not match.*corrupt or was replaced"):
        lio.load_checkpoint(path, model)
    tfile.unlink()
    with pytest.raises(lio.CheckpointError, match="which is missing"):
        lio.load_checkpoint(path, model)
    path.write_text("{not json")
    with pytest.raises(lio.CheckpointError, match="not a lamina checkpoint"):
        lio.load_checkpoint(path)
    path.write_text(json.dumps({"format": "lamina.checkpoint", "version": 1, "tensors": {"file": "../etc/passwd"}}))
    with pytest.raises(lio.CheckpointError, match="names no valid tensors file"):
        lio.load_checkpoint(path)
    path.write_text(json.dumps({"format": "lamina.checkpoint", "version": 99}))
    with pytest.raises(lio.CheckpointError, match="version 99"):
        lio.load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        lio.load_checkpoint(tmp_path / "absent.ckpt")
    lio.save_checkpoint(path, extra={})
    with pytest.raises(lio.CheckpointError, match="holds no model state"):
        lio.load_checkpoint(path, model)


_KILL_SCRIPT = textwrap.dedent("""
    import os, sys
    import numpy as np
    import lamina
    from lamina import io as lio, nn
    import lamina.io.checkpoint as ck

    path, where = sys.argv[1], sys.argv[2]
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(lamina.randn(4, 6)).sum().backward()
    opt.step()
    lio.save_checkpoint(path, model, opt, extra={"version": 1})
    np.savez(path + ".ref.npz", **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    with lamina.no_grad():
        for p in model.parameters():
            p.add_(1.0)

    def die(*args, **kwargs):
        os._exit(17)

    if where == "tensors":      # killed while writing the tensors: half a temporary file
        def half(f, *a, **k):
            f.write(b"x" * 100)
            f.flush()
            die()
        ck._write_safetensors = half
    elif where == "sidecar":    # killed after the new tensors file is in place, before the JSON
        ck._write_sidecar = die
    elif where == "json-temp":  # killed while the new JSON's temporary file is half written
        import contextlib
        real_aw = ck.atomic_write
        @contextlib.contextmanager
        def aw(p, mode="wb"):
            with real_aw(p, mode) as f:
                class Half:
                    def write(self, b):
                        f.write(b[: len(b) // 2])
                        f.flush()
                        die()
                yield Half()
        ck.atomic_write = aw
    elif where == "cleanup":    # killed after the JSON commit, before the old tensors are removed
        ck._cleanup = die
    lio.save_checkpoint(path, model, opt, extra={"version": 2})
    os._exit(0)
""")


@pytest.mark.parametrize("where,committed", [("tensors", False), ("sidecar", False), ("json-temp", False),
                                             ("cleanup", True)])
def test_a_save_killed_midway_leaves_a_loadable_checkpoint(tmp_path, where, committed):
    path = str(tmp_path / "last.ckpt")
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(lamina.__file__))
    env["PYTHONPATH"] = pkg_root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, path, where], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 17, r.stderr
    files = os.listdir(tmp_path)
    if where == "sidecar":  # the new tensors file exists: the kill came after it was written
        assert len([f for f in files if f.endswith(".safetensors")]) == 2
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = lamina.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ck = lio.load_checkpoint(path, model, opt)
    assert ck["extra"] == {"version": 2 if committed else 1}
    ref = np.load(path + ".ref.npz")
    for k, v in model.state_dict().items():
        shift = 1.0 if committed else 0.0
        np.testing.assert_array_equal(v.numpy(), ref[k] + np.float32(shift), err_msg=k)
    assert set(opt.state_dict()["state"]) == {0, 1, 2, 3}
    # The next successful save removes what the killed one left behind.
    lio.save_checkpoint(path, model, opt, extra={"version": 3})
    left = sorted(os.listdir(tmp_path))
    assert left == sorted(["last.ckpt", "last.ckpt.ref.npz", lio.read_checkpoint(path)["tensors"]["file"]])
