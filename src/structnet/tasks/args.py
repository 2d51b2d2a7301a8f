"""Argument types for the generated CLI: a bad number is refused by argparse with one line naming the flag
(e.g. ``argument --max-side: must be a positive integer, got -5``), before any work starts."""
from __future__ import annotations

import argparse
import math
from typing import Callable, Optional, Tuple

__all__ = ["positive_int", "nonneg_int", "positive_float", "fraction", "tolerance", "floats"]


def _number(text: str, kind=float):
    try:
        v = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") \
            from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def positive_int(text: str) -> int:
    v = _number(text, int)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def nonneg_int(text: str) -> int:
    v = _number(text, int)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return v


def positive_float(text: str) -> float:
    v = _number(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def fraction(text: str) -> float:
    """A number in [0, 1] (thresholds on maps and scores)."""
    v = _number(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return v


def tolerance(text: str) -> float:
    """A matching tolerance as a fraction of the image diagonal: in (0, 1]."""
    v = _number(text)
    if not 0.0 < v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (a fraction of the image diagonal), got {text}")
    return v


def floats(n: Optional[int] = None, check: Optional[Callable[[float], bool]] = None, what: str = "") \
        -> Callable[[str], Tuple[float, ...]]:
    """Comma-separated numbers: exactly ``n`` of them when given; each must pass ``check`` (``what`` says how)."""

    def parse(text: str) -> Tuple[float, ...]:
        parts = [t for t in text.split(",") if t.strip()]
        vals = tuple(_number(t.strip()) for t in parts)
        if not vals or (n is not None and len(vals) != n):
            raise argparse.ArgumentTypeError(f"expected {n or 'one or more'} comma-separated numbers, got {text!r}")
        if check is not None and not all(check(v) for v in vals):
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
        return vals

    return parse
