#!/usr/bin/env python3
"""Derives the coefficients of ``tanh_f32_rational`` (csrc/cpu/fast_math.h).

tanh(x) = x P(x^2) / Q(x^2) on |x| <= 9, with deg P = 5, deg Q = 3 and Q(0) = 1: the rational
function of t = x^2 closest to tanh(sqrt t) / sqrt t in relative error. Each round solves the
linearised problem P(t) - f(t) Q(t) = 0 by weighted least squares, with the residual divided by
f(t) times the previous round's Q(t) (Loeb's iteration); Lawson's rule then moves weight onto the
points with the largest error, which drives the fit towards the minimax one. The fit is done in a
scaled variable (t / 81 in [0, 1]) to keep the least-squares matrix well conditioned. (The kernel
then clamps x to +-7.9: further out the float32 rounding of x P / Q can exceed 1.)

    python scripts/fit_tanh.py          # prints the fit's error and the coefficients, highest last
    python scripts/fit_tanh.py 6 3      # other degrees
"""
import sys

import numpy as np
from numpy.polynomial import polynomial as npoly


def fit(m: int, n: int, limit: float = 9.0, rounds: int = 300):
    scale = limit * limit
    x = np.unique(np.concatenate([np.linspace(0.0, limit, 40000),
                                  limit * np.sin(np.linspace(0.0, np.pi / 2, 40000)) ** 2]))
    x[x == 0] = 1e-7
    u = x * x / scale
    f = np.tanh(x) / x
    w = np.full_like(u, 1.0 / len(u))
    q_prev = np.ones_like(u)
    best_err, best = np.inf, None
    for _ in range(rounds):
        a = np.hstack([u[:, None] ** np.arange(m + 1), -(f[:, None] * u[:, None] ** np.arange(1, n + 1))])
        s = np.sqrt(w) / (f * np.abs(q_prev))
        sol, *_ = np.linalg.lstsq(a * s[:, None], f * s, rcond=None)
        p, q = sol[: m + 1], np.concatenate([[1.0], sol[m + 1:]])
        qv = npoly.polyval(u, q)
        err = np.abs(npoly.polyval(u, p) / qv / f - 1.0)
        if qv.min() > 0 and err.max() < best_err:  # no pole on the interval
            best_err, best = err.max(), (p.copy(), q.copy())
        q_prev = qv
        w = w * err + 1e-300
        w /= w.sum()
    p, q = best
    return best_err, p / scale ** np.arange(m + 1), q / scale ** np.arange(n + 1)


def float32_error(p, q, limit: float = 9.0):
    """Largest error of the float32 evaluation (Horner, no FMA) against float64 tanh, in ulp."""
    xs = np.concatenate([np.linspace(-limit - 1, limit + 1, 2_000_001),
                         10.0 ** np.linspace(-8, 0, 100_001)]).astype(np.float32)
    xc = np.clip(xs, np.float32(-limit), np.float32(limit))
    t = xc * xc
    pv = np.float32(p[-1])
    for c in p[-2::-1]:
        pv = pv * t + np.float32(c)
    qv = np.float32(q[-1])
    for c in q[-2::-1]:
        qv = qv * t + np.float32(c)
    y = xc * pv / qv
    ref = np.tanh(xs.astype(np.float64))
    return float((np.abs(y - ref) / np.spacing(np.abs(ref).astype(np.float32))).max())


def main() -> None:
    m = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    err, p, q = fit(m, n)
    print(f"degree ({m}, {n}): relative error {err:.3g} in float64, {float32_error(p, q):.2f} ulp in float32")
    print("P:", ", ".join(f"{c:.9e}" for c in p))
    print("Q:", ", ".join(f"{c:.9e}" for c in q))


if __name__ == "__main__":
    main()
