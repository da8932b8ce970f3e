"""Elementwise, reduction and naive-matmul speed of the tensor core against PyTorch (CPU or
CUDA) in the same run.

    python benchmarks/bench_elementwise.py [--device cuda] [--json benchmarks/results/x.json]
"""

from __future__ import annotations

import argparse

import numpy as np

import lamina
from harness import Report, median_time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        lamina.set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    else:
        torch.set_num_threads(lamina.get_num_threads())
    dev = args.device
    sync = (lambda: (lamina.cuda.synchronize(), torch.cuda.synchronize())) if dev != "cpu" else (lambda: None)
    rep = Report(f"elementwise ({dev})", "torch")
    rng = np.random.default_rng(0)
    for n in [1 << 12, 1 << 20, 1 << 24]:
        a = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        x, y = lamina.tensor(a, device=dev), lamina.tensor(b, device=dev)
        tx, ty = torch.tensor(a, device=dev), torch.tensor(b, device=dev)
        for name, fl, ft in [
            ("add", lambda: x + y, lambda: tx + ty),
            ("mul", lambda: x * y, lambda: tx * ty),
            ("exp", lambda: x.exp(), lambda: tx.exp()),
            ("sum", lambda: x.sum(), lambda: tx.sum()),
            ("max", lambda: x.max(), lambda: tx.max()),
        ]:
            def run_l(fl=fl):
                fl()
                sync()

            def run_t(ft=ft):
                ft()
                sync()

            rep.add(f"{name} n={n}", median_time(run_l), median_time(run_t), n=n)
    # broadcast add and a row reduction on a matrix
    a = rng.standard_normal((2048, 1024)).astype(np.float32)
    r = rng.standard_normal(1024).astype(np.float32)
    x, y = lamina.tensor(a, device=dev), lamina.tensor(r, device=dev)
    tx, ty = torch.tensor(a, device=dev), torch.tensor(r, device=dev)
    rep.add("broadcast add (2048x1024)+(1024)", median_time(lambda: (x + y, sync())),
            median_time(lambda: (tx + ty, sync())))
    rep.add("sum dim=1 (2048x1024)", median_time(lambda: (x.sum(1), sync())), median_time(lambda: (tx.sum(1), sync())))
    rep.add("sum dim=0 (2048x1024)", median_time(lambda: (x.sum(0), sync())), median_time(lambda: (tx.sum(0), sync())))
    rep.add("transpose contiguous (2048x1024)", median_time(lambda: (x.t().contiguous(), sync())),
            median_time(lambda: (tx.t().contiguous(), sync())))
    # matmul through the packed GEMM
    m = rng.standard_normal((256, 256)).astype(np.float32)
    xm, tm = lamina.tensor(m, device=dev), torch.tensor(m, device=dev)
    rep.add("matmul 256x256", median_time(lambda: (xm @ xm, sync()), repeats=5),
            median_time(lambda: (tm @ tm, sync()), repeats=5))
    rep.save(args.json)


if __name__ == "__main__":
    main()
