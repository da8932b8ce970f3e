"""Random draws against PyTorch in the same run: lamina.rand / randn / randint and F.dropout
(training mode, forward) on tensors of 128x2048 and 1024x1024.

    python benchmarks/bench_random.py [--threads 2] [--json benchmarks/results/random.json]

Lamina draws from a counter-based Philox stream (PyTorch's CPU generator is mt19937): each
128-bit block is computed once, 32 blocks at a time with AVX2 intrinsics (core/rng.cpp), and a
normal is a double-precision Box-Muller on one block, vectorised (cpu/fast_math.h). Runs alternate
between the libraries (rounds of medians) because the machine is shared.
"""

from __future__ import annotations

import argparse

import numpy as np

import lamina
import lamina.nn.functional as F
from harness import Report, alternate

SHAPES = [(128, 2048), (1024, 1024)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import torch

    if args.threads:
        lamina.set_num_threads(args.threads)
    torch.set_num_threads(lamina.get_num_threads())
    rep = Report(f"random draws (cpu, {lamina.get_num_threads()} threads)", "torch")
    for shape in SHAPES:
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        lx, tx = lamina.tensor(x), torch.tensor(x)
        name = "x".join(map(str, shape))
        cases = [
            ("rand float32", lambda: lamina.rand(*shape), lambda: torch.rand(*shape)),
            ("rand float64", lambda: lamina.rand(*shape, dtype="float64"),
             lambda: torch.rand(*shape, dtype=torch.float64)),
            ("randn float32", lambda: lamina.randn(*shape), lambda: torch.randn(*shape)),
            ("randint int64", lambda: lamina.randint(0, 1000, shape), lambda: torch.randint(0, 1000, shape)),
            ("dropout p=0.5 forward", lambda: F.dropout(lx, 0.5, training=True),
             lambda: torch.nn.functional.dropout(tx, 0.5, training=True)),
        ]
        for label, fl, ft in cases:
            ours, theirs = alternate(fl, ft)
            rep.add(f"{label} {name}", ours, theirs, elements=int(np.prod(shape)))
    rep.save(args.json)


if __name__ == "__main__":
    main()
