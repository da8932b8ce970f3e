"""Single-precision GEMM (lamina's packed GEMM through ``@``) against PyTorch and numpy/OpenBLAS in
the same run: squares 256-4096 and the products of an MLP's forward and backward at batch 128
(784-512-512), including the transposed operands the backward reads in place.

    python benchmarks/bench_gemm.py [--threads 2] [--rounds 7] [--quick] [--json benchmarks/results/x.json]

The machine is shared and noisy, so every case alternates one timed sample of each library per
round (the order rotating) and reports the median over rounds. Thread pools keep spinning for a
while after a call (numpy's OpenBLAS most of all) and slow down whatever runs next, so every
sample is followed by a 0.15 s pause, and preceded by one untimed call (waking an idle core costs
this VM about a millisecond, which would otherwise land in the first timed call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import lamina
from harness import Report

# (name, M, N, K, trans_a, trans_b): C[M, N] = op(A)[M, K] @ op(B)[K, N]; a transposed operand is
# stored as its transpose (contiguous) and passed as a transposed view, as autograd does.
SQUARES = [256, 512, 1024, 2048, 4096]
MLP = [
    ("mlp fwd   (128x784)@(784x512)", 128, 512, 784, False, False),
    ("mlp fwd   (128x512)@(512x512)", 128, 512, 512, False, False),
    ("linear    (128x784)@(512x784)^T  A B^T", 128, 512, 784, False, True),
    ("dX        (128x512)@(512x784)", 128, 784, 512, False, False),
    ("dW^T      (128x784)^T@(128x512)  A^T B", 784, 512, 128, True, False),
    ("dW        (128x512)^T@(128x784)  A^T B", 512, 784, 128, True, False),
]


def sample(fn, n: int) -> float:
    # One untimed call first, for every library alike: after the pause the second core has been
    # idle, and waking it costs this VM about 1 ms (an empty OpenMP region measured 0.9 ms median,
    # 8.7 ms worst, after 100 ms idle), which is not the product's speed.
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def calls_per_sample(fn, min_time: float) -> int:
    fn()
    fn()
    n = 1
    while True:
        if sample(fn, n) * n >= min_time or n >= 1 << 16:
            return n
        n *= 2


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.05, help="seconds per timed sample")
    p.add_argument("--quick", action="store_true", help="squares up to 1024 only")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    lamina.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    print(f"lamina kernel: {lamina._C.gemm_kernel_name()}, threads {args.threads}; numpy/OpenBLAS threads as "
          f"configured; load average {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    rep = Report(f"sgemm (cpu, {args.threads} threads)", "torch", others=("numpy",))
    rng = np.random.default_rng(0)
    cases = [(f"square {n}", n, n, n, False, False) for n in SQUARES if not (args.quick and n > 1024)] + MLP
    for name, m, n, k, ta, tb in cases:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        la, lb = lamina.tensor(a), lamina.tensor(b)
        tA, tB = torch.tensor(a), torch.tensor(b)
        la, tA, a = (la.t(), tA.t(), a.T) if ta else (la, tA, a)
        lb, tB, b = (lb.t(), tB.t(), b.T) if tb else (lb, tB, b)
        libs = {
            "lamina": lambda la=la, lb=lb: la @ lb,
            "torch": lambda tA=tA, tB=tB: tA @ tB,
            "numpy": lambda a=a, b=b: a @ b,
        }
        ref = a.astype(np.float64) @ b.astype(np.float64)
        got = (la @ lb).numpy()
        err = float(np.max(np.abs(got - ref)) / np.max(np.abs(a).astype(np.float64) @ np.abs(b)))
        reps = {}
        for lib, fn in libs.items():
            reps[lib] = calls_per_sample(fn, args.min_time)
            time.sleep(0.15)
        times: dict[str, list[float]] = {lib: [] for lib in libs}
        order = list(libs)
        for r in range(args.rounds):
            for lib in order[r % 3:] + order[: r % 3]:  # rotate who goes first
                times[lib].append(sample(libs[lib], reps[lib]))
                time.sleep(0.15)
        med = {lib: statistics.median(ts) for lib, ts in times.items()}
        # The same comparison round by round: the machine's slow phases last seconds, so the
        # samples of one round (a second or two apart) share them, and the median of the rounds'
        # own ratios is steadier than the ratio of the medians.
        paired = {lib: statistics.median(t / ours for t, ours in zip(times[lib], times["lamina"]))
                  for lib in ("torch", "numpy")}
        flops = 2.0 * m * n * k
        gf = {lib: flops / t / 1e9 for lib, t in med.items()}
        rep.add(name, med["lamina"], med["torch"], others={"numpy": med["numpy"]}, m=m, n=n, k=k, trans_a=ta,
                trans_b=tb, gflops={lib: round(v, 1) for lib, v in gf.items()}, rel_err=err,
                paired_speed_ratio={lib: round(v, 3) for lib, v in paired.items()},
                load=round(os.getloadavg()[0], 2))
        print(f"{'':44s} GFLOP/s: lamina {gf['lamina']:6.1f}  torch {gf['torch']:6.1f}  numpy {gf['numpy']:6.1f}"
              f"  (max err / sum|a||b| {err:.1e})")
        print(f"{'':44s} median of the rounds' own ratios: torch {paired['torch']:.2f}x  numpy {paired['numpy']:.2f}x")
    load_end = os.getloadavg()
    print(f"load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    rep.save(args.json, meta={"gemm_kernel": lamina._C.gemm_kernel_name(), "load_avg_start": load_start,
                              "load_avg_end": load_end, "rounds": args.rounds, "threads": args.threads,
                              "numpy_blas": np.__version__ + " (OpenBLAS threads as configured)"})


if __name__ == "__main__":
    main()
