"""nn.LSTM forward and forward+backward against torch.nn.LSTM in the same run: 1 layer, input 128,
hidden 256 and 512, 64 steps, batch 32 and 64 (the shapes of issue 4). `--cell gru` runs nn.GRU
against torch.nn.GRU on the same shapes instead.

    python benchmarks/bench_lstm.py [--threads 2] [--rounds 3] [--clock wall|cpu] [--cell lstm|gru]
                                    [--json benchmarks/results/lstm.json]

Lamina and PyTorch alternate (rounds of medians) because the machine is shared; the load average
goes into the JSON. `--clock cpu` times with the process's CPU time instead of the wall clock: with
one thread on a busy machine it measures the work each library does, whatever the other programs
take. GFLOP/s count the GEMMs only: forward 2*T*B*(I+H)*4H (3H for the GRU), forward+backward three
times that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import lamina
from harness import Report, median_time

T, IN = 64, 128
CASES = [(256, 32), (256, 64), (512, 32), (512, 64)]  # (hidden, batch)


def median_cpu_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        samples.append(time.process_time() - t0)
    return statistics.median(samples)


def alternate(fl, ft, rounds: int, clock: str = "wall") -> tuple[float, float, float]:
    """Medians of lamina's and torch's times over the rounds, and the median of each round's own
    ratio (torch / lamina), which the machine's slow phases (seconds long, shared by the two
    samples of a round) disturb less."""
    timer = median_cpu_time if clock == "cpu" else (lambda f: median_time(f, repeats=5, min_time=0.0, warmup=1))
    ls, ts = [], []
    for _ in range(rounds):
        ls.append(timer(fl))
        ts.append(timer(ft))
    return statistics.median(ls), statistics.median(ts), statistics.median(t / v for t, v in zip(ts, ls))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=None)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--only", default=None, help="run one case, e.g. 512x64 (hidden x batch)")
    p.add_argument("--cell", choices=("lstm", "gru"), default="lstm")
    args = p.parse_args()
    import torch

    if args.threads:
        lamina.set_num_threads(args.threads)
    torch.set_num_threads(lamina.get_num_threads())
    load_before = os.getloadavg()
    rep = Report(f"{args.cell} (cpu)", "torch")
    gates = 4 if args.cell == "lstm" else 3
    rng = np.random.default_rng(0)
    for H, B in CASES:
        if args.only and args.only != f"{H}x{B}":
            continue
        torch.manual_seed(0)
        tm = (torch.nn.LSTM if args.cell == "lstm" else torch.nn.GRU)(IN, H)
        lm = (lamina.nn.LSTM if args.cell == "lstm" else lamina.nn.GRU)(IN, H)
        lm.load_state_dict({k: lamina.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
        x = rng.standard_normal((T, B, IN)).astype(np.float32)
        g = rng.standard_normal((T, B, H)).astype(np.float32)
        lx, lg = lamina.tensor(x), lamina.tensor(g)
        tx, tg = torch.tensor(x), torch.tensor(g)
        flops = 2 * T * B * (IN + H) * gates * H

        def fwd_l():
            with lamina.no_grad():
                lm(lx)

        def fwd_t():
            with torch.no_grad():
                tm(tx)

        ours, theirs, paired = alternate(fwd_l, fwd_t, args.rounds, args.clock)
        rep.add(f"forward T={T} B={B} I={IN} H={H}", ours, theirs, gflops=flops / ours / 1e9,
                torch_gflops=flops / theirs / 1e9, paired_speed_ratio=round(paired, 3))
        lx.requires_grad_(True)
        tx.requires_grad_(True)

        def step_l():
            lm.zero_grad()
            lx.grad = None
            lm(lx)[0].backward(lg)

        def step_t():
            tm.zero_grad()
            tx.grad = None
            tm(tx)[0].backward(tg)

        ours, theirs, paired2 = alternate(step_l, step_t, args.rounds, args.clock)
        rep.add(f"forward+backward T={T} B={B} I={IN} H={H}", ours, theirs, gflops=3 * flops / ours / 1e9,
                torch_gflops=3 * flops / theirs / 1e9, paired_speed_ratio=round(paired2, 3))
        print(f"{'':44s} median of the rounds' own ratios: forward {paired:.2f}x, forward+backward {paired2:.2f}x")
        lx.requires_grad_(False)
    rep.save(args.json, {"clock": args.clock, "load_average_before": load_before,
                         "load_average_after": os.getloadavg()})


if __name__ == "__main__":
    main()
