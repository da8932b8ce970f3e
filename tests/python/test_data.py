"""lamina.data: TensorDataset, Subset, random_split, default_collate and the DataLoader (batch
counts, determinism of shuffling and its state_dict, the background thread's errors and exits)."""

import collections
import json
import threading
import time

import numpy as np
import pytest

import lamina
from lamina.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split


def _ds(n=23, feat=3, seed=0):
    rng = np.random.default_rng(seed)
    return TensorDataset(rng.standard_normal((n, feat)).astype(np.float32), rng.integers(0, 5, n))


class _Plain(Dataset):
    """The same rows through the generic (per-sample collate) path."""

    def __init__(self, ds):
        self.ds = ds

    def __getitem__(self, i):
        return self.ds[i]

    def __len__(self):
        return len(self.ds)


def _collect(loader):
    return [tuple(t.numpy().copy() for t in b) for b in loader]


def _threads():
    return [t for t in threading.enumerate() if t.name == "lamina-dataloader"]


def _wait_no_threads(timeout=5.0):
    end = time.time() + timeout
    while _threads() and time.time() < end:
        time.sleep(0.01)
    return _threads()


# ---------------------------------------------------------------------- datasets
def test_tensor_dataset_rows_and_dtypes():
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    y = np.array([3, 1, 2, 0], dtype=np.uint8)
    h = np.ones((4, 2), dtype=np.float16)
    ds = TensorDataset(x, y, h)
    assert len(ds) == 4
    a, b, c = ds[2]
    assert a.dtype == lamina.float64 and a.tolist() == [6.0, 7.0, 8.0]
    assert b.dtype == lamina.int64 and b.item() == 2
    assert c.dtype == lamina.float32
    assert ds[-1][1].item() == 0
    assert [t.dtype for t in ds.tensors] == [lamina.float64, lamina.int64, lamina.float32]


def test_tensor_dataset_shares_memory_with_lamina_tensors():
    t = lamina.zeros(5, 2)
    ds = TensorDataset(t, lamina.arange(5))
    t[1] = 7.0
    assert ds[1][0].tolist() == [7.0, 7.0]


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"same first dimension.*\(4, 3\), \(5,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float32(1.0))
    with pytest.raises(TypeError, match="argument 1 must be a lamina.Tensor or a numpy array"):
        TensorDataset(np.zeros(3), [1, 2, 3])
    with pytest.raises(TypeError, match="dtype <U1"):
        TensorDataset(np.array(["a", "b"]))
    ds = _ds(5)
    with pytest.raises(IndexError, match="index 5 is out of range for a dataset of 5 rows"):
        ds[5]
    with pytest.raises(TypeError, match="index must be an integer"):
        ds[1.5]


def test_subset_and_random_split():
    ds = _ds(10)
    sub = Subset(ds, [7, 2, -1])
    assert len(sub) == 3
    assert sub[0][1].item() == ds[7][1].item() and sub[2][1].item() == ds[9][1].item()
    with pytest.raises(IndexError, match=r"\[-10, 10\)"):
        Subset(ds, [10])
    a, b, c = random_split(ds, [5, 3, 2], seed=3)
    assert (len(a), len(b), len(c)) == (5, 3, 2)
    allidx = np.concatenate([a.indices, b.indices, c.indices])
    assert sorted(allidx.tolist()) == list(range(10))
    a2, _, _ = random_split(ds, [5, 3, 2], seed=3)
    a3, _, _ = random_split(ds, [5, 3, 2], seed=4)
    assert a.indices.tolist() == a2.indices.tolist() and a.indices.tolist() != a3.indices.tolist()
    f = random_split(_ds(11), [0.5, 0.3, 0.2])
    assert [len(s) for s in f] == [6, 3, 2]  # floor 5,3,2 then the remainder round-robin, as torch
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal the length of the input"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="non-negative integers"):
        random_split(ds, [12, -2])


# ---------------------------------------------------------------------- collate
def test_default_collate_structures_and_dtypes():
    Point = collections.namedtuple("Point", "x y")
    batch = [{"img": np.full((2, 2), i, np.uint8), "f": float(i), "n": i, "b": bool(i % 2), "s": f"s{i}",
              "t": lamina.tensor([i, i + 1.0]), "p": Point(np.float64(i), [i, -i])} for i in range(3)]
    out = default_collate(batch)
    assert out["img"].dtype == lamina.int64 and tuple(out["img"].shape) == (3, 2, 2)
    assert out["f"].dtype == lamina.float64 and out["f"].tolist() == [0.0, 1.0, 2.0]
    assert out["n"].dtype == lamina.int64 and out["n"].tolist() == [0, 1, 2]
    assert out["b"].dtype == lamina.bool and out["b"].tolist() == [False, True, False]
    assert out["s"] == ["s0", "s1", "s2"]
    assert out["t"].dtype == lamina.float32 and out["t"].tolist() == [[0, 1], [1, 2], [2, 3]]
    assert isinstance(out["p"], Point) and out["p"].x.dtype == lamina.float64
    assert isinstance(out["p"].y, list) and out["p"].y[1].tolist() == [0, -1, -2]
    xs = default_collate([(np.ones(3, np.float32), 1), (np.zeros(3, np.float32), 0)])
    assert isinstance(xs, tuple) and xs[0].dtype == lamina.float32 and xs[1].tolist() == [1, 0]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, got shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([lamina.zeros(2), lamina.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


# ---------------------------------------------------------------------- loader basics
@pytest.mark.parametrize("n,bs,drop_last", [(23, 5, False), (23, 5, True), (20, 5, False), (20, 5, True),
                                            (3, 7, False), (3, 7, True), (1, 1, False), (0, 4, False)])
def test_loader_len_and_batches(n, bs, drop_last):
    ds = _ds(max(n, 1))
    if n == 0:
        ds = TensorDataset(np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
    loader = DataLoader(ds, batch_size=bs, drop_last=drop_last)
    batches = _collect(loader)
    assert len(batches) == len(loader)
    expect = n // bs if drop_last else -(-n // bs)
    assert len(loader) == expect
    sizes = [len(b[1]) for b in batches]
    if batches:
        assert all(s == bs for s in sizes[:-1]) and (sizes[-1] == bs or not drop_last)
    if n:
        got = np.concatenate([b[0] for b in batches]) if batches else np.zeros((0, 3))
        np.testing.assert_array_equal(got, ds.arrays[0][:len(got)])


def test_loader_yields_lamina_tensors_with_dataset_structure():
    ds = _ds(9)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(x, lamina.Tensor) and x.dtype == lamina.float32 and tuple(x.shape) == (4, 3)
    assert isinstance(y, lamina.Tensor) and y.dtype == lamina.int64
    x64 = TensorDataset(np.ones((3, 2)), np.arange(3))
    assert next(iter(DataLoader(x64, batch_size=2)))[0].dtype == lamina.float64
    b = next(iter(DataLoader(_ds(9), batch_size=2, collate_fn=lambda s: len(s))))
    assert b == 2


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("prefetch", [0, 2])
def test_fast_path_matches_generic_collate(shuffle, prefetch):
    ds = _ds(31)
    fast = _collect(DataLoader(ds, batch_size=4, shuffle=shuffle, seed=5, prefetch=prefetch))
    slow = _collect(DataLoader(_Plain(ds), batch_size=4, shuffle=shuffle, seed=5, prefetch=prefetch))
    assert len(fast) == len(slow)
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_fast_path_through_subsets():
    ds = _ds(40)
    tr, _ = random_split(ds, [30, 10], seed=1)
    sub = Subset(tr, list(range(29, -1, -2)))
    fast = _collect(DataLoader(sub, batch_size=4, shuffle=True, seed=2))
    slow = _collect(DataLoader(_Plain(sub), batch_size=4, shuffle=True, seed=2))
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_batches_are_copies_not_views_of_the_dataset():
    ds = _ds(8)
    before = ds.arrays[0].copy()
    for shuffle in (False, True):
        for x, _ in DataLoader(ds, batch_size=3, shuffle=shuffle, seed=0):
            x.fill_(123.0)
    np.testing.assert_array_equal(ds.arrays[0], before)


# ---------------------------------------------------------------------- determinism
def test_shuffle_each_epoch_is_a_new_permutation_of_all_rows():
    ds = TensorDataset(np.arange(50, dtype=np.float32)[:, None], np.arange(50))
    loader = DataLoader(ds, batch_size=7, shuffle=True, seed=0)
    e1 = np.concatenate([y.numpy() for _, y in loader])
    e2 = np.concatenate([y.numpy() for _, y in loader])
    assert sorted(e1.tolist()) == list(range(50)) and sorted(e2.tolist()) == list(range(50))
    assert e1.tolist() != e2.tolist() and e1.tolist() != list(range(50))


def test_same_seed_same_batches_different_seed_different():
    ds = _ds(40)
    a = [_collect(loader) for loader in [DataLoader(ds, batch_size=6, shuffle=True, seed=11)] for _ in range(1)][0]
    b = _collect(DataLoader(ds, batch_size=6, shuffle=True, seed=11))
    c = _collect(DataLoader(ds, batch_size=6, shuffle=True, seed=12))
    assert all(np.array_equal(p[1], q[1]) for p, q in zip(a, b))
    assert not all(np.array_equal(p[1], q[1]) for p, q in zip(a, c))


def test_seed_none_follows_lamina_manual_seed():
    ds = _ds(40)
    lamina.manual_seed(7)
    a = _collect(DataLoader(ds, batch_size=40, shuffle=True))
    lamina.manual_seed(7)
    b = _collect(DataLoader(ds, batch_size=40, shuffle=True))
    lamina.manual_seed(8)
    c = _collect(DataLoader(ds, batch_size=40, shuffle=True))
    assert np.array_equal(a[0][1], b[0][1]) and not np.array_equal(a[0][1], c[0][1])


def test_state_dict_restores_the_next_epochs_order():
    ds = _ds(33)
    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=3)
    _collect(loader)  # epoch 1
    state = json.loads(json.dumps(loader.state_dict()))  # must survive JSON (the checkpoint sidecar)
    e2, e3 = _collect(loader), _collect(loader)
    resumed = DataLoader(ds, batch_size=5, shuffle=True, seed=999)
    resumed.load_state_dict(state)
    r2, r3 = _collect(resumed), _collect(resumed)
    for ours, theirs in ((e2, r2), (e3, r3)):
        assert all(np.array_equal(p[1], q[1]) and np.array_equal(p[0], q[0]) for p, q in zip(ours, theirs))
    with pytest.raises(ValueError, match="'generator' entry"):
        resumed.load_state_dict({"nope": 1})


# ---------------------------------------------------------------------- the background thread
class _Failing(Dataset):
    def __init__(self, n, bad):
        self.n, self.bad = n, bad

    def __getitem__(self, i):
        if i == self.bad:
            raise KeyError(f"sample {i} is broken")
        return np.float32(i), i

    def __len__(self):
        return self.n


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_worker_exception_is_raised_in_the_consumer(prefetch):
    loader = DataLoader(_Failing(20, bad=9), batch_size=4, prefetch=prefetch)
    it = iter(loader)
    got = [next(it)[1].tolist() for _ in range(2)]
    assert got == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(KeyError, match="sample 9 is broken"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)
    assert not _wait_no_threads()


def test_collate_exception_is_raised_in_the_consumer():
    def collate(samples):
        raise ValueError("my collate failed")

    with pytest.raises(ValueError, match="my collate failed"):
        for _ in DataLoader(_ds(8), batch_size=2, collate_fn=collate):
            pass
    assert not _wait_no_threads()


class _Slow(Dataset):
    def __getitem__(self, i):
        time.sleep(0.001)
        return np.zeros(4, np.float32), i

    def __len__(self):
        return 10_000


def test_early_break_does_not_hang_or_leak_threads():
    loader = DataLoader(_Slow(), batch_size=8, prefetch=2)
    start = time.time()
    for _ in range(10):
        for i, _ in enumerate(loader):
            if i == 1:
                break
    it = iter(loader)
    next(it)
    it.close()
    del it
    assert not _wait_no_threads(), "a dataloader thread outlived its iterator"
    assert time.time() - start < 10


def test_exhausted_iterator_stays_exhausted_and_thread_ends():
    it = iter(DataLoader(_ds(5), batch_size=2))
    assert len(it) == 3
    assert len(list(it)) == 3
    with pytest.raises(StopIteration):
        next(it)
    assert not _wait_no_threads()


def test_bad_arguments():
    ds = _ds(4)
    for bs in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size should be a positive integer"):
            DataLoader(ds, batch_size=bs)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, seed=-3)
    with pytest.raises(TypeError, match="__getitem__ and __len__"):
        DataLoader(5)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ds, collate_fn=3)
