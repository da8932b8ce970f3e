"""Shared benchmark harness: medians over repeats, our time next to PyTorch's (or numpy's)
measured in the same run, the ratio, and JSON that names the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone


def machine() -> dict:
    import lamina

    info = lamina.info()
    return {
        "cpu": info["cpu"],
        "cpu_isa": info["cpu_isa"],
        "threads": info["num_threads"],
        "cuda_devices": info["cuda_devices"],
        "python": platform.python_version(),
        "lamina": info["version"],
        "build_type": info["build_type"],
    }


def median_time(fn, *, repeats: int = 15, min_time: float = 0.02, warmup: int = 2) -> float:
    """Median seconds per call; each sample loops until it lasts at least min_time."""
    for _ in range(warmup):
        fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time or n >= 1 << 20:
            break
        n *= 2
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def alternate(ours, theirs, rounds: int = 3, repeats: int = 7) -> tuple[float, float]:
    """Median seconds per call of each, over rounds that alternate the two (order flipped every
    round), each round a median_time of `repeats` samples: a shared machine's slow spells then
    hit both sides."""
    a, b = [], []
    for r in range(rounds):
        pair = [(ours, a), (theirs, b)]
        for fn, acc in (pair if r % 2 == 0 else pair[::-1]):
            acc.append(median_time(fn, repeats=repeats))
    return statistics.median(a), statistics.median(b)


class Report:
    """Rows of our time against a baseline's; `others` names further references measured in the
    same run (e.g. numpy next to torch), each printed with its own ratio."""

    def __init__(self, name: str, baseline: str, others: tuple[str, ...] = ()):
        self.name = name
        self.baseline = baseline
        self.others = tuple(others)
        self.rows: list[dict] = []
        cols = "".join(f" {o:>12s} {'ratio':>8s}" for o in self.others)
        print(f"{'case':44s} {'lamina':>12s} {baseline:>12s} {'ratio':>8s}{cols}")

    def add(self, case: str, ours: float, theirs: float | None, others: dict | None = None, **extra) -> None:
        ratio = theirs / ours if theirs else None
        row = {"case": case, "lamina_s": ours, f"{self.baseline}_s": theirs, "speed_ratio": ratio}
        line = ""
        for o in self.others:
            t_o = (others or {}).get(o)
            r_o = t_o / ours if t_o else None
            row[f"{o}_s"], row[f"{o}_speed_ratio"] = t_o, r_o
            line += (f" {t_o * 1e6:10.1f}us" if t_o else f" {'n/a':>12s}") + (f" {r_o:7.2f}x" if r_o else f" {'':>8s}")
        self.rows.append({**row, **extra})
        t = f"{theirs * 1e6:10.1f}us" if theirs else f"{'n/a':>12s}"
        r = f"{ratio:7.2f}x" if ratio else f"{'':>8s}"
        print(f"{case:44s} {ours * 1e6:10.1f}us {t} {r}{line}")

    def save(self, path: str | None, meta: dict | None = None) -> None:
        """Writes the rows as JSON naming the machine; `meta` adds fields (e.g. the load average)."""
        if not path:
            return
        data = {"benchmark": self.name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine(), "baseline": self.baseline,
                "note": "speed_ratio = baseline time / lamina time (> 1: lamina is faster)",
                "command": " ".join([os.path.basename(sys.executable)] + sys.argv), **(meta or {}),
                "rows": self.rows}
        if self.others:
            data["others"] = list(self.others)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(data, f, indent=2)
        print(f"wrote {path}")
