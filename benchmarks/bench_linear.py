"""F.linear forward and forward+backward (and nn.Linear's call overhead) against PyTorch in the
same run, on the MLP layers of the training benchmark (batch 128, 784-512-512-10).

    python benchmarks/bench_linear.py [--threads 2] [--json benchmarks/results/linear.json]

Runs alternate between Lamina and PyTorch (rounds of medians) because the machine is shared.
"""

from __future__ import annotations

import argparse

import numpy as np

import lamina
import lamina.nn.functional as F
from harness import Report, alternate

# Batch 128 (the MLP), small and large layers, and batches of 1 and 8 (inference one sample at a
# time; up to 8 rows multiply straight from W, csrc/cpu/linear.cpp).
CASES = [(128, 784, 512), (128, 512, 512), (128, 512, 10), (32, 64, 64), (1024, 256, 256), (1, 784, 512),
         (8, 784, 512), (1, 256, 1024)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        lamina.set_num_threads(args.threads)
    torch.set_num_threads(lamina.get_num_threads())
    rep = Report("linear (cpu)", "torch")
    rng = np.random.default_rng(0)
    for m, k, n in CASES:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = (rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        g = rng.standard_normal((m, n)).astype(np.float32)
        lx, lw, lb, lg = (lamina.tensor(a) for a in (x, w, b, g))
        tx, tw, tb, tg = (torch.tensor(a) for a in (x, w, b, g))
        flops = 2 * m * n * k
        ours, theirs = alternate(lambda: F.linear(lx, lw, lb), lambda: torch.nn.functional.linear(tx, tw, tb))
        rep.add(f"forward {m}x{k} -> {n}", ours, theirs, gflops=flops / ours / 1e9)
        lx.requires_grad_(True)
        lw.requires_grad_(True)
        lb.requires_grad_(True)
        for t in (tx, tw, tb):
            t.requires_grad_(True)

        def step_l():
            lx.grad = lw.grad = lb.grad = None
            F.linear(lx, lw, lb).backward(lg)

        def step_t():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.linear(tx, tw, tb).backward(tg)

        ours, theirs = alternate(step_l, step_t)
        rep.add(f"forward+backward {m}x{k} -> {n}", ours, theirs, gflops=3 * flops / ours / 1e9)
    # module call overhead on a tiny layer
    lm, tm = lamina.nn.Linear(16, 16), torch.nn.Linear(16, 16)
    lx, tx = lamina.randn(4, 16), torch.randn(4, 16)
    with lamina.no_grad(), torch.no_grad():
        ours, theirs = alternate(lambda: lm(lx), lambda: tm(tx))
    rep.add("nn.Linear(16, 16) call, 4x16 (overhead)", ours, theirs)
    rep.save(args.json)


if __name__ == "__main__":
    main()
