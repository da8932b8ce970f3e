"""Batch norm 2-D training speed, forward and forward+backward, against torch.nn.BatchNorm2d in
the same run, on the shapes the CPU issue names. Both sides run the layer as a training step does
(module call in train mode: batch statistics, running-stat update, autograd graph; then backward
through it). Our runs alternate with torch's (the machine is shared and noisy); each time is the
median over rounds of per-round medians.

Effective bandwidth counts the minimal bytes: forward reads x and writes y (2 tensors), backward
reads dy and x and writes dx (3 more); per-channel vectors are ignored. Each row also reports the
fastest single call of either side, which a busy machine disturbs least.

    python benchmarks/bench_batchnorm.py [--threads 2] [--rounds 7] [--json [PATH]]

``--json`` with no path writes benchmarks/results/batchnorm_cpu_<cpu>.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

import numpy as np

import lamina
from harness import Report, median_time
from lamina import nn

SHAPES = [(32, 64, 32, 32), (32, 256, 8, 8)]


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def best_time(fn, calls: int = 20) -> float:
    """The fastest single call among `calls` (what the code can do when the machine leaves it alone)."""
    best = float("inf")
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def alternate(ours, theirs, rounds: int) -> tuple[float, float, float, float]:
    """Median seconds of each over alternating rounds (order flipped every round) of per-round
    medians, and the fastest single call of each seen in those rounds."""
    a, b, amin, bmin = [], [], [], []
    for r in range(rounds):
        pair = [(ours, a, amin), (theirs, b, bmin)]
        for fn, acc, mins in (pair if r % 2 == 0 else pair[::-1]):
            acc.append(median_time(fn, repeats=7, min_time=0.05, warmup=2))
            mins.append(best_time(fn))
    return statistics.median(a), statistics.median(b), min(amin), min(bmin)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", nargs="?", const="auto", default=None)
    args = p.parse_args()
    import torch

    lamina.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    start_load = loadavg()
    print(f"threads {args.threads}, load average at start {start_load}, torch {torch.__version__}, "
          f"cpu isa {lamina.info()['cpu_isa']}")
    rep = Report(f"batch_norm 2-D training (cpu, {args.threads} threads)", "torch")
    rng = np.random.default_rng(0)
    ratios = {}
    for shape in SHAPES:
        n, c, h, w = shape
        xa = rng.standard_normal(shape).astype(np.float32) * 2 + 0.5
        ga = rng.standard_normal(shape).astype(np.float32)
        tensor_bytes = xa.nbytes
        bn, tbn = nn.BatchNorm2d(c), torch.nn.BatchNorm2d(c)
        bn.train()
        tbn.train()
        x, g = lamina.tensor(xa), lamina.tensor(ga)
        tx, tg = torch.tensor(xa), torch.tensor(ga)
        xg = lamina.tensor(xa, requires_grad=True)
        txg = torch.tensor(xa, requires_grad=True)

        def fwd_l():
            bn(x)

        def fwd_t():
            tbn(tx)

        def fb_l():
            xg.grad = bn.weight.grad = bn.bias.grad = None
            bn(xg).backward(g)

        def fb_t():
            txg.grad = tbn.weight.grad = tbn.bias.grad = None
            tbn(txg).backward(tg)

        name = "x".join(map(str, shape))
        for kind, fl, ft, tensors in [("forward", fwd_l, fwd_t, 2), ("forward+backward", fb_l, fb_t, 5)]:
            ours, theirs, ours_min, theirs_min = alternate(fl, ft, args.rounds)
            nbytes = tensors * tensor_bytes
            rep.add(f"{name} {kind}", ours, theirs, shape=list(shape), kind=kind, bytes=nbytes,
                    gbps=nbytes / ours / 1e9, torch_gbps=nbytes / theirs / 1e9, lamina_min_s=ours_min,
                    torch_min_s=theirs_min, speed_ratio_min=theirs_min / ours_min, loadavg=loadavg())
            ratios[f"{name} {kind}"] = theirs / ours
            print(f"{'':44s} effective {nbytes / ours / 1e9:6.1f} GB/s  torch {nbytes / theirs / 1e9:6.1f} GB/s"
                  f"  | fastest call {ours_min * 1e6:.0f}us vs {theirs_min * 1e6:.0f}us: "
                  f"{theirs_min / ours_min:.2f}x")
    end_load = loadavg()
    print(f"load average at end {end_load}")
    if args.json:
        path = args.json
        if path == "auto":
            cpu = re.sub(r"[^A-Za-z0-9]+", "_", lamina.info()["cpu"]).strip("_").lower()
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"batchnorm_cpu_{cpu}.json")
        rep.save(path, meta={"loadavg_start": start_load, "loadavg_end": end_load,
                             "bytes_note": "minimal bytes: forward 2 tensors (x, y), backward 3 (dy, x, dx)"})


if __name__ == "__main__":
    main()
