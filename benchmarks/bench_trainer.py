"""The Trainer's overhead: one epoch of an MLP 784-512-512-10 on 60,000 28x28 samples, batch
128, SGD with momentum, through ``Trainer.fit`` (a shuffling ``DataLoader`` preparing batches in
its background thread, loss and accuracy tracked every step) against a bare loop over batches
made beforehand (forward, loss, backward, step; nothing else). Runs alternate. Both the
medians and the minima are printed: on a shared machine a run that another process disturbs
takes several times longer, so the ratio of the minima (each path at its undisturbed speed) is
the one to read there; on a quiet machine the two agree.
The issue's bar: the Trainer's samples/s within 10% of the bare loop's (ratio >= 0.90).

    python benchmarks/bench_trainer.py [--samples 60000] [--repeats 5] [--threads 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina.data import DataLoader, TensorDataset
from lamina.models import mlp
from lamina.train import Trainer


def bare_epoch(model, opt, batches) -> float:
    t0 = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    loss.item()
    return time.perf_counter() - t0


def trainer_epoch(model, opt, loader) -> float:
    t0 = time.perf_counter()
    Trainer(progress=False, verbose=0).fit(model, loader, epochs=1, optimizer=opt, metrics=("accuracy",))
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    lamina.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    xs = rng.random((args.samples, 1, 28, 28), dtype=np.float32)
    ys = rng.integers(0, 10, args.samples).astype(np.int64)
    batches = [(lamina.from_numpy(xs[i:i + args.batch].copy()), lamina.from_numpy(ys[i:i + args.batch].copy()))
               for i in range(0, args.samples, args.batch)]
    loader = DataLoader(TensorDataset(xs, ys), batch_size=args.batch, shuffle=True, seed=0)
    times: dict[str, list[float]] = {"bare": [], "trainer": []}
    for _ in range(args.repeats):
        for name in ("bare", "trainer"):
            lamina.manual_seed(0)
            model = mlp(784, (512, 512), 10)
            opt = lamina.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            dt = bare_epoch(model, opt, batches) if name == "bare" else trainer_epoch(model, opt, loader)
            times[name].append(dt)
    print(f"MLP 784-512-512-10 epoch, {args.samples} samples, batch {args.batch}, {args.threads} threads, "
          f"{args.repeats} runs each (load average {os.getloadavg()[0]:.2f})")
    out = {}
    for stat, fn in (("median", statistics.median), ("min", min)):
        bare, tr = fn(times["bare"]), fn(times["trainer"])
        ratio = (args.samples / tr) / (args.samples / bare)
        out[stat] = {"bare_s": bare, "trainer_s": tr, "samples_per_s_ratio": ratio}
        print(f"  {stat:6s}  bare loop {bare:6.2f} s ({args.samples / bare:8,.0f} samples/s)   Trainer {tr:6.2f} s "
              f"({args.samples / tr:8,.0f} samples/s)   ratio {ratio:.3f} "
              f"({'within' if ratio >= 0.9 else 'NOT within'} 10%)")
    print(f"  runs: bare {[round(t, 2) for t in times['bare']]}  trainer {[round(t, 2) for t in times['trainer']]}")
    if args.json:
        from harness import machine

        with open(args.json, "w") as f:
            json.dump({"benchmark": "trainer overhead (cpu)", "machine": machine(), "samples": args.samples,
                       "batch": args.batch, **out, "bare_runs": times["bare"], "trainer_runs": times["trainer"],
                       "loadavg": os.getloadavg()[0]}, f, indent=2)


if __name__ == "__main__":
    main()
