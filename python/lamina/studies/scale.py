"""``lamina study scale``: test accuracy against the size of the training set.

"Performance keeps growing with data while older methods plateau": for training sets of 1k, 2k,
5k, 10k, 20k and 60k MNIST images (on the 8x8 digits, the same fractions of its 1,437 training
images), it trains

- ``logreg``: logistic regression, one ``nn.Linear`` on the pixels trained with softmax cross entropy;
- ``shallow``: a shallow net, one hidden layer of ReLUs;
- ``cnn``: a deep convolutional net (LeNet-5 on MNIST, ``lamina.models.small_cnn`` on digits),

each for the same number of optimizer steps (Adam, lr 1e-3, batch 128 on MNIST, 32 on digits; a
smaller set is seen more often, none is seen for less than the steps allow), with nested subsets
(each smaller set is part of every larger one), and prints the test accuracy per size. Writes
``results.json`` and ``accuracy_vs_size.png``.

    lamina study scale --dataset digits --quick      # seconds
    lamina study scale --dataset mnist --threads 1   # about 3 minutes on one core
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from .._argtypes import int_list
from . import StudyError, format_table, load_dataset, write_json
from . import positive_int as _pos_int

__all__ = ["MODELS", "add_arguments", "build_model", "run"]

MODELS = {"logreg": "logistic regression", "shallow": "shallow net (1 hidden ReLU layer)",
          "cnn": "deep CNN"}
MNIST_SIZES = (1000, 2000, 5000, 10000, 20000, 60000)
LR = 1e-3

# (dataset, quick) -> steps per point, batch size, hidden units of the shallow net, sizes (None: the
# MNIST sizes, scaled to the dataset's training set)
_CONFIG: dict[tuple[str, bool], dict[str, Any]] = {
    ("digits", False): {"steps": 400, "batch_size": 32, "hidden": 128, "sizes": None},
    ("digits", True): {"steps": 60, "batch_size": 32, "hidden": 64, "sizes": (1000, 10000, 60000)},
    ("mnist", False): {"steps": 1000, "batch_size": 128, "hidden": 512, "sizes": None},
    ("mnist", True): {"steps": 100, "batch_size": 128, "hidden": 256, "sizes": (1000, 5000, 20000)},
}


def _sizes(s: str) -> tuple[int, ...]:
    return tuple(int_list(s))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default; seconds) or mnist")
    p.add_argument("--quick", action="store_true", help="three sizes and few steps")
    p.add_argument("--sizes", type=_sizes, default=None,
                   help="training-set sizes, comma-separated, on MNIST's scale of 60,000 (digits: the same "
                        "fractions of its 1,437 images); default 1000,2000,5000,10000,20000,60000")
    p.add_argument("--steps", type=_pos_int, default=None, help="optimizer steps per point (default: 1000 on "
                                                                 "mnist, 400 on digits)")
    p.add_argument("--batch-size", type=_pos_int, default=None, help="default: 128 on mnist, 32 on digits")
    p.add_argument("--models", default=None, help="comma-separated subset of: " + ", ".join(MODELS))
    p.add_argument("--out", default=None, help="output directory (default runs/study-scale)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subsets, weights and shuffling")
    p.add_argument("--threads", type=_pos_int, default=None, help="CPU threads (default: 1 on digits, else all)")
    p.add_argument("--data-root", default=None, help="where to look for dataset files (also $LAMINA_DATA)")


def build_model(key: str, input_shape: tuple[int, int, int], num_classes: int, hidden: int):
    """The study's model ``key`` for images ``input_shape`` (C, H, W)."""
    from .. import models, nn

    c, h, w = input_shape
    if key == "logreg":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, num_classes))
    if key == "shallow":
        return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
    if key == "cnn":
        if h >= 28:
            return models.lenet5(in_channels=c, num_classes=num_classes, input_size=h)
        return models.small_cnn(in_channels=c, num_classes=num_classes, input_size=h)
    raise ValueError(f"lamina.studies.scale: unknown model {key!r}")


def _cnn_name(shape) -> str:
    return "LeNet-5" if shape[1] >= 28 else "small_cnn"


def _train_steps(model, x, y, steps: int, batch_size: int, seed: int) -> None:
    """``steps`` Adam steps over shuffled mini-batches of (x, y), reshuffled every pass (numpy
    slicing: with 1,000 images a pass is 8 batches, and a loader per pass would cost more than the
    steps)."""
    from .. import from_numpy
    from ..nn import functional as F
    from ..optim import Adam

    rng = np.random.default_rng(seed)
    bs = min(batch_size, len(x))
    opt = Adam(model.parameters(), lr=LR)
    model.train()
    step = 0
    while step < steps:
        order = rng.permutation(len(x))
        for s in range(0, len(x), bs):
            idx = order[s:s + bs]
            loss = F.cross_entropy(model(from_numpy(x[idx])), from_numpy(y[idx]))
            if not np.isfinite(loss.item()):
                raise StudyError(f"the loss became {loss.item()} at step {step + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                return


def _accuracy(model, x, y) -> float:
    from .. import from_numpy
    from ..autograd.grad_mode import no_grad

    model.eval()
    correct = 0
    with no_grad():
        for s in range(0, len(x), 1000):
            out = model(from_numpy(np.ascontiguousarray(x[s:s + 1000])))
            correct += int((out.numpy().argmax(1) == y[s:s + 1000]).sum())
    return correct / len(x)


def run(args) -> int:
    import lamina

    from .. import viz

    ds = str(args.dataset).strip().lower()
    (x_tr, y_tr), (x_te, y_te) = load_dataset(ds, getattr(args, "data_root", None), study="scale")
    cfg = dict(_CONFIG[(ds, bool(args.quick))])
    for k in ("steps", "batch_size", "sizes"):
        v = getattr(args, k, None)
        if v is not None:
            cfg[k] = v
    keys = list(MODELS)
    if args.models:
        keys = [k.strip() for k in str(args.models).split(",") if k.strip()]
        bad = [k for k in keys if k not in MODELS]
        if bad or not keys:
            raise StudyError(f"unknown model(s) {', '.join(bad) or repr(args.models)}; choose from "
                             f"{', '.join(MODELS)}")
    nominal = tuple(sorted(set(cfg["sizes"] or MNIST_SIZES)))
    if ds == "mnist":
        sizes = [min(s, len(x_tr)) for s in nominal]
    else:  # the same fractions of this dataset's training set
        sizes = [max(10, int(round(len(x_tr) * min(s, 60000) / 60000))) for s in nominal]
    threads = args.threads or (1 if ds == "digits" else None)
    if threads:
        lamina.set_num_threads(threads)
    out = args.out or os.path.join("runs", "study-scale")
    os.makedirs(out, exist_ok=True)
    shape = tuple(x_tr.shape[1:])
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    labels = dict(MODELS)
    labels["cnn"] = f"deep CNN ({_cnn_name(shape)})"
    print(f"lamina study scale: {ds}{' (quick)' if args.quick else ''}, training sets of {', '.join(map(str, sizes))} "
          f"images, {len(x_te)} test images; {cfg['steps']} Adam steps (lr {LR:g}, batch {cfg['batch_size']}) per "
          f"point; {lamina.get_num_threads()} thread(s); output {out}", flush=True)

    order = np.random.default_rng(args.seed).permutation(len(x_tr))  # nested subsets: prefixes of one order
    rows = []
    for k in keys:
        accs, secs = [], []
        for n in sizes:
            idx = np.sort(order[:n])
            lamina.manual_seed(args.seed)
            model = build_model(k, shape, n_classes, cfg["hidden"])
            t0 = time.perf_counter()
            _train_steps(model, x_tr[idx], y_tr[idx], cfg["steps"], cfg["batch_size"], args.seed)
            secs.append(time.perf_counter() - t0)
            accs.append(_accuracy(model, x_te, y_te))
            print(f"  {labels[k]}, {n} images: test accuracy {100 * accs[-1]:.2f}% ({secs[-1]:.1f} s)", flush=True)
        rows.append({"key": k, "label": labels[k], "test_accuracy": accs, "train_s": secs,
                     "parameters": sum(p.numel() for p in model.parameters())})

    header = ["model"] + [f"{n:,}" for n in sizes]
    print()
    print(format_table(header, [[r["label"]] + [f"{100 * a:.2f}%" for a in r["test_accuracy"]] for r in rows]))
    gains = []
    for r in rows:
        a = r["test_accuracy"]
        if len(a) >= 2:
            gains.append(f"{r['label']} {100 * (a[-1] - a[-2]):+.2f} points")
    note = (f"test accuracy after {cfg['steps']} steps at every size; from {sizes[-2]:,} to {sizes[-1]:,} images: "
            + ", ".join(gains)) if gains else f"test accuracy after {cfg['steps']} steps"
    print("note: " + note)

    files = []
    path = os.path.join(out, "accuracy_vs_size.png")
    if viz.plot_lines(path, {r["label"]: (sizes, r["test_accuracy"]) for r in rows},
                      title=f"scale study ({ds}): test accuracy against training-set size",
                      xlabel="training images", ylabel="test accuracy", logx=True):
        files.append(path)
    results = {"study": "scale", "dataset": ds, "quick": bool(args.quick), "seed": args.seed, "sizes": sizes,
               "config": {**cfg, "optimizer": "adam", "lr": LR, "threads": lamina.get_num_threads()},
               "rows": rows, "notes": [note], "files": files}
    write_json(os.path.join(out, "results.json"), results)
    print(f"wrote {os.path.join(out, 'results.json')} and {len(files)} picture(s) to {out}")
    return 0
