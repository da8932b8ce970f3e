"""One training epoch of an MLP 784-512-512-10 and of LeNet-5 on 60,000 28x28 samples, batch
128, SGD with momentum: Lamina against PyTorch (CPU) in the same run, alternating runs, medians.

    python benchmarks/bench_train.py [--samples 60000] [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import lamina
from harness import Report


def mlp(lib):
    n = lib.nn
    return n.Sequential(n.Flatten(), n.Linear(784, 512), n.ReLU(), n.Linear(512, 512), n.ReLU(), n.Linear(512, 10))


def lenet5(lib):
    n = lib.nn
    return n.Sequential(
        n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(6, 16, 5), n.ReLU(), n.MaxPool2d(2),
        n.Flatten(), n.Linear(400, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(), n.Linear(84, 10))


def epoch(lib, model, opt, loss_fn, xs, ys, batch):
    t0 = time.perf_counter()
    n = xs.shape[0]
    for i in range(0, n - batch + 1, batch):
        x = lib.from_numpy(xs[i:i + batch])
        y = lib.from_numpy(ys[i:i + batch])
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    loss.item()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    lamina.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((args.samples, 1, 28, 28)).astype(np.float32)
    ys = rng.integers(0, 10, args.samples).astype(np.int64)
    rep = Report("training epoch (cpu)", "torch")
    for name, build in [("MLP 784-512-512-10", mlp), ("LeNet-5", lenet5)]:
        times = {"lamina": [], "torch": []}
        for _ in range(args.repeats):
            for lib_name, lib, loss_fn in [("lamina", lamina, lamina.nn.functional.cross_entropy),
                                           ("torch", torch, torch.nn.functional.cross_entropy)]:
                lib.manual_seed(0)
                model = build(lib)
                opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
                times[lib_name].append(epoch(lib, model, opt, loss_fn, xs, ys, args.batch))
        rep.add(f"{name} epoch ({args.samples} samples, batch {args.batch})",
                statistics.median(times["lamina"]), statistics.median(times["torch"]),
                samples=args.samples, batch=args.batch, lamina_runs=times["lamina"], torch_runs=times["torch"])
    rep.save(args.json)


if __name__ == "__main__":
    main()
