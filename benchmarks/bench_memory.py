"""Peak resident memory of a LeNet-5 MNIST training run, Lamina against the same model and loop in
PyTorch, each in its own process; and the resident memory after every epoch (it must not grow).

    python benchmarks/bench_memory.py [--epochs 3] [--threads 2] [--json PATH]

Each process loads MNIST (lamina.datasets.mnist, as numpy arrays), builds LeNet-5, and trains
with SGD (momentum 0.9) at batch 128; ru_maxrss is the peak, /proc/self/statm the current RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(lib_name: str, epochs: int, threads: int) -> None:
    import resource

    import numpy as np

    from lamina import datasets

    (xs, ys), _ = datasets.mnist()
    if lib_name == "torch":
        import torch as lib

        F = lib.nn.functional
    else:
        import lamina as lib

        F = lib.nn.functional
    lib.set_num_threads(threads)
    sys.path.insert(0, HERE)
    from bench_train import lenet5

    lib.manual_seed(0)
    model = lenet5(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    after = []
    t0 = time.perf_counter()
    ys = ys.astype(np.int64)
    for _ in range(epochs):
        for i in range(0, xs.shape[0] - 127, 128):
            x = lib.from_numpy(xs[i:i + 128])
            y = lib.from_numpy(ys[i:i + 128])
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        loss.item()
        after.append(round(rss_mb(), 1))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"lib": lib_name, "peak_rss_mb": round(peak, 1), "rss_after_epoch_mb": after,
                      "seconds": round(time.perf_counter() - t0, 1)}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.epochs, args.threads)
        return
    results = {}
    for name in ("lamina", "torch"):
        out = subprocess.run([sys.executable, __file__, "--child", name, "--epochs", str(args.epochs),
                              "--threads", str(args.threads)], check=True, capture_output=True, text=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        r = results[name]
        print(f"{name:7s} peak RSS {r['peak_rss_mb']:8.1f} MiB   RSS after each epoch {r['rss_after_epoch_mb']} MiB"
              f"   {r['seconds']} s")
    ratio = results["lamina"]["peak_rss_mb"] / results["torch"]["peak_rss_mb"]
    print(f"peak RSS lamina / torch: {ratio:.2f}")
    if args.json:
        import platform

        meta = {"machine": platform.processor() or platform.machine(), "threads": args.threads,
                "epochs": args.epochs, "cpu": _cpu_model()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results, "peak_ratio": ratio}, f, indent=2)
        print(f"wrote {args.json}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
