"""argparse ``type=`` converters shared by the ``lamina`` command and the studies: each returns
the value or raises ``argparse.ArgumentTypeError`` saying what it expected and what it got."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

__all__ = ["fraction", "int_list", "nonneg_float", "nonneg_int", "positive_float", "positive_int"]


def _number(s: str, cast: Callable[[str], float], ok: Callable[[float], bool], what: str):
    try:
        v = cast(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}")
    return v


def positive_int(s: str) -> int:
    return _number(s, int, lambda v: v > 0, "a positive integer")


def nonneg_int(s: str) -> int:
    return _number(s, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(s: str) -> float:
    return _number(s, float, lambda v: v > 0 and math.isfinite(v), "a positive number")


def nonneg_float(s: str) -> float:
    return _number(s, float, lambda v: v >= 0 and math.isfinite(v), "a number >= 0")


def fraction(s: str) -> float:
    return _number(s, float, lambda v: 0.0 <= v < 1.0, "a fraction in [0, 1)")


def int_list(s: str, seps: str = ",", least: int = 1, what: str = "comma-separated positive integers") -> list[int]:
    """Positive integers separated by any character of ``seps``; at least ``least`` of them."""
    try:
        v = [int(t) for t in re.split(f"[{re.escape(seps)}]", s) if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}") from None
    if len(v) < least or any(x <= 0 for x in v):
        raise argparse.ArgumentTypeError(f"expected {what}, got {s!r}")
    return v
