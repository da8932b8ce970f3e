"""conv2d forward and forward+backward speed against torch.nn.functional.conv2d (oneDNN) in the
same run, on the layers the CPU issue names. Our runs alternate with torch's (the machine is
shared and noisy); each time is the median over rounds of per-round medians.

    python benchmarks/bench_conv.py [--threads 2] [--rounds 5] [--json [PATH]]
    python benchmarks/bench_conv.py --threads 1 --clock cpu      # on a busy machine

``--json`` with no path writes benchmarks/results/conv2d_cpu_<cpu>.json (with the clock and
threads in the file name when they are not the default wall clock, 2 threads). The load average
is printed and stored with every row: on a shared machine, numbers taken under load are slower
for both libraries, and their ratio is what to read.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import time

import numpy as np

import lamina
import lamina.nn.functional as LF
from harness import Report, median_time

# (name, N, C_in, C_out, H=W, kernel, padding)
LAYERS = [
    ("N32 3->64 32x32 k3p1", 32, 3, 64, 32, 3, 1),
    ("N32 64->64 32x32 k3p1", 32, 64, 64, 32, 3, 1),
    ("N32 128->128 16x16 k3p1", 32, 128, 128, 16, 3, 1),
    ("N32 256->256 8x8 k3p1", 32, 256, 256, 8, 3, 1),
    ("N64 1->6 28x28 k5 (LeNet)", 64, 1, 6, 28, 5, 0),
    ("N32 256->64 16x16 k1", 32, 256, 64, 16, 1, 0),
]


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def cpu_median_time(fn, *, repeats: int = 5, min_time: float = 0.05, warmup: int = 1) -> float:
    """harness.median_time on the process's CPU clock: time the process was preempted by other
    work on a busy machine does not count (meaningful with one thread only)."""
    for _ in range(warmup):
        fn()
    n = 1
    while True:
        t0 = time.process_time()
        for _ in range(n):
            fn()
        if time.process_time() - t0 >= min_time or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        samples.append((time.process_time() - t0) / n)
    return statistics.median(samples)


def alternate(ours, theirs, rounds: int, clock: str) -> tuple[float, float]:
    """Median seconds of each, measured in alternating rounds (order flipped every round)."""
    timer = cpu_median_time if clock == "cpu" else median_time
    a, b = [], []
    for r in range(rounds):
        pair = [(ours, a), (theirs, b)]
        for fn, acc in (pair if r % 2 == 0 else pair[::-1]):
            acc.append(timer(fn, repeats=5, min_time=0.05, warmup=1))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", nargs="?", const="auto", default=None)
    p.add_argument("--only", default=None, help="run the layers whose name contains this")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: process CPU time, robust to a busy machine (use with --threads 1)")
    args = p.parse_args()
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu needs --threads 1 (with more threads CPU time counts spinning workers)")
    import torch
    import torch.nn.functional as TF

    lamina.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}, {args.clock} clock, load average at start {loadavg()}, "
          f"torch {torch.__version__}")
    rep = Report(f"conv2d (cpu, {args.threads} threads, {args.clock} clock)", "torch")
    rng = np.random.default_rng(0)
    ratios = {"forward": [], "forward+backward": []}
    lenet = {}
    for name, n, cin, cout, hw, k, pad in LAYERS:
        if args.only and args.only not in name:
            continue
        xa = rng.standard_normal((n, cin, hw, hw)).astype(np.float32)
        wa = (rng.standard_normal((cout, cin, k, k)) / math.sqrt(cin * k * k)).astype(np.float32)
        ba = rng.standard_normal(cout).astype(np.float32)
        ho = hw + 2 * pad - k + 1
        ga = rng.standard_normal((n, cout, ho, ho)).astype(np.float32)
        x, w, b, g = (lamina.tensor(a) for a in (xa, wa, ba, ga))
        tx, tw, tb, tg = (torch.tensor(a) for a in (xa, wa, ba, ga))
        flops = 2.0 * n * cout * cin * k * k * ho * ho

        def fwd_l():
            with lamina.no_grad():
                LF.conv2d(x, w, b, padding=pad)

        def fwd_t():
            with torch.no_grad():
                TF.conv2d(tx, tw, tb, padding=pad)

        xl, wl, bl = (lamina.tensor(a, requires_grad=True) for a in (xa, wa, ba))
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (xa, wa, ba))

        def fb_l():
            xl.grad = wl.grad = bl.grad = None
            LF.conv2d(xl, wl, bl, padding=pad).backward(g)

        def fb_t():
            xt.grad = wt.grad = bt.grad = None
            TF.conv2d(xt, wt, bt, padding=pad).backward(tg)

        for kind, fl, ft, fl_flops in [("forward", fwd_l, fwd_t, flops), ("forward+backward", fb_l, fb_t, 3 * flops)]:
            ours, theirs = alternate(fl, ft, args.rounds, args.clock)
            path = LF._conv._kernel_path(x, w, padding=pad)
            rep.add(f"{name} {kind}", ours, theirs, layer=name, kind=kind, kernel=path, clock=args.clock,
                    gflops=fl_flops / ours / 1e9, torch_gflops=fl_flops / theirs / 1e9, loadavg=loadavg())
            ratios[kind].append(theirs / ours)
            if "LeNet" in name:
                lenet[kind] = theirs / ours
    summary = {}
    for kind, rs in ratios.items():
        if rs:
            gm = math.exp(sum(math.log(r) for r in rs) / len(rs))
            summary[kind] = gm
            print(f"geometric mean speed ratio, {kind}: {gm:.2f}x over {len(rs)} layers")
    print(f"load average at end {loadavg()}")
    if args.json:
        path = args.json
        if path == "auto":
            cpu = re.sub(r"[^A-Za-z0-9]+", "_", lamina.info()["cpu"]).strip("_").lower()
            suffix = "" if (args.clock, args.threads) == ("wall", 2) else f"_{args.threads}t_{args.clock}"
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                f"conv2d_cpu_{cpu}{suffix}.json")
        rep.rows.append({"case": "summary", "geomean_speed_ratio": summary, "lenet_speed_ratio": lenet,
                         "loadavg_end": loadavg()})
        rep.save(path)


if __name__ == "__main__":
    main()
