"""RBM training speed: one CD-1 epoch over MNIST's 60000x784 training images with 500 hidden units,
``lamina.pretrain.RBM.fit(epochs=1)`` against scikit-learn's ``BernoulliRBM(n_iter=1).fit`` with the
same sizes and batch, in the same run (runs alternate, order flipped every round; each time is
the median over rounds). Process CPU times are reported too: on a shared machine they are
disturbed less than wall times.

Both sides do the same GEMM work per batch (up pass, down pass, second up pass, weight
gradient): sklearn runs persistent CD-1 (its only algorithm), Lamina plain CD-1 with momentum
and weight decay (Hinton's recipe), both without shuffling. sklearn is fed float32 (it keeps
float32 since 1.x: checked below) and, for reference, float64.

    python benchmarks/bench_rbm.py [--threads 2] [--rounds 3] [--batches 10 100] [--synthetic]
                                   [--json [PATH]]

``--synthetic`` uses random binary data of MNIST's shape instead of MNIST. ``--json`` with no
path writes benchmarks/results/rbm_cpu_<cpu>.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time

import numpy as np

import lamina
from harness import Report
from lamina.pretrain.rbm import RBM


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def load_data(synthetic: bool) -> tuple[np.ndarray, str]:
    if not synthetic:
        try:
            (x, _), _ = lamina.datasets.mnist()
            return np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32), "mnist"
        except Exception as e:  # noqa: BLE001  (offline without the cache: fall back)
            print(f"MNIST unavailable ({e}); using random binary data")
    rng = np.random.default_rng(0)
    return (rng.random((60000, 784)) < 0.13).astype(np.float32), "synthetic"


def timed(fn, cpu: list | None = None) -> float:
    """Wall seconds of one call; appends the process CPU seconds it used to `cpu`."""
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    t = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batches", type=int, nargs="+", default=[10, 100])
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--synthetic", action="store_true")
    p.add_argument("--no-float64", action="store_true", help="skip sklearn's float64 timing")
    p.add_argument("--json", nargs="?", const="auto", default=None)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from sklearn import __version__ as skv
    from sklearn.neural_network import BernoulliRBM
    from threadpoolctl import threadpool_limits

    lamina.set_num_threads(args.threads)
    x, source = load_data(args.synthetic)
    x64 = x.astype(np.float64)
    start_load = loadavg()
    print(f"threads {args.threads}, load average at start {start_load}, sklearn {skv}, data {source} "
          f"{x.shape}, hidden {args.hidden}, cpu isa {lamina.info()['cpu_isa']}")
    probe = BernoulliRBM(n_components=8, n_iter=1, batch_size=100, random_state=0).fit(x[:200])
    sk_keeps_f32 = probe.components_.dtype == np.float32
    print(f"sklearn keeps float32: {sk_keeps_f32} (components_ dtype {probe.components_.dtype})")
    rep = Report(f"RBM CD-1 epoch, {source} {x.shape[0]}x{x.shape[1]}, {args.hidden} hidden "
                 f"(cpu, {args.threads} threads)", "sklearn_f32", others=("sklearn_f64",))
    with threadpool_limits(limits=args.threads):
        for batch in args.batches:
            def ours():
                lamina.manual_seed(0)
                RBM(x.shape[1], args.hidden).fit(x, epochs=1, batch_size=batch, lr=0.1, momentum=0.5,
                                                 shuffle=False)

            def theirs(data=x):
                BernoulliRBM(n_components=args.hidden, batch_size=batch, n_iter=1, learning_rate=0.1,
                             random_state=0).fit(data)

            a, b, c, a_cpu, b_cpu = [], [], [], [], []
            for r in range(args.rounds):
                pair = [(ours, a, a_cpu), (theirs, b, b_cpu)]
                for fn, acc, cpu in (pair if r % 2 == 0 else pair[::-1]):
                    acc.append(timed(fn, cpu))
                if not args.no_float64 and r == 0:
                    c.append(timed(lambda: theirs(x64)))
            t_ours, t_sk = statistics.median(a), statistics.median(b)
            t_64 = statistics.median(c) if c else None
            # Multiply-adds of one epoch, the same on both sides: three products of batch x 784 x
            # hidden (up, down, up) and the weight gradient, which sums over twice the batch.
            gflop = 2.0 * 5 * x.shape[0] * x.shape[1] * args.hidden / 1e9
            print(f"{'':44s} {gflop:.0f} GFLOP per epoch: lamina {gflop / t_ours:.0f} GFLOP/s, sklearn "
                  f"{gflop / t_sk:.0f} GFLOP/s; 3x sklearn would take {3 * gflop / t_sk:.0f} GFLOP/s")
            rep.add(f"batch {batch}", t_ours, t_sk, others={"sklearn_f64": t_64}, batch=batch,
                    lamina_all_s=a, sklearn_f32_all_s=b, sklearn_f64_all_s=c, lamina_cpu_s=a_cpu,
                    sklearn_f32_cpu_s=b_cpu, cpu_time_ratio=statistics.median(b_cpu) / statistics.median(a_cpu),
                    gflop_per_epoch=gflop, lamina_gflops=gflop / t_ours, sklearn_f32_gflops=gflop / t_sk,
                    gflops_for_3x=3 * gflop / t_sk, loadavg=loadavg())
            print(f"{'':44s} process CPU time: lamina {statistics.median(a_cpu):.2f}s, sklearn "
                  f"{statistics.median(b_cpu):.2f}s, ratio {statistics.median(b_cpu) / statistics.median(a_cpu):.2f}x")
    end_load = loadavg()
    print(f"load average at end {end_load}")
    if args.json:
        path = args.json
        if path == "auto":
            cpu = re.sub(r"[^A-Za-z0-9]+", "_", lamina.info()["cpu"]).strip("_").lower()
            path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", f"rbm_cpu_{cpu}.json")
        rep.save(path, meta={"loadavg_start": start_load, "loadavg_end": end_load, "data": source,
                             "sklearn_version": skv, "sklearn_keeps_float32": bool(sk_keeps_f32),
                             "hidden": args.hidden,
                             "note_algorithms": "lamina: CD-1 with momentum 0.5 and weight decay 2e-4; "
                                                "sklearn: persistent CD-1 (its only algorithm); no shuffling"})


if __name__ == "__main__":
    main()
