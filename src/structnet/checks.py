"""Validators of user-given numbers, shared by every layer: each returns the value in its checked type or raises a
one-line ``ValueError`` naming the argument and the value it got."""
from __future__ import annotations

import math
from typing import Tuple

__all__ = ["MIN_SCALE", "MAX_SCALE", "check_int", "positive_int", "finite_number", "check_scales", "check_window_scales"]


def check_int(name: str, v, low: int) -> int:
    """An ``int`` (not a bool, not a float) ``>= low``."""
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def positive_int(v, name: str) -> int:
    """A value equal to a positive integer (``3`` or ``3.0``) as an ``int``."""
    try:
        i = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {v!r}") from None
    if i < 1 or i != v:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return i


def finite_number(v, name: str, positive: bool = False) -> float:
    """A finite ``float`` (``> 0`` with ``positive``)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(f) or (positive and f <= 0):
        raise ValueError(f"{name} must be a finite{' positive' if positive else ''} number, got {v!r}")
    return f


#: The range of test-time image scales every task accepts (``--scales``).
MIN_SCALE, MAX_SCALE = 0.1, 8.0


def check_scales(scales) -> Tuple[float, ...]:
    """Test-time image scales as a tuple of floats in [MIN_SCALE, MAX_SCALE]."""
    try:
        out = tuple(float(v) for v in scales)
    except (TypeError, ValueError):
        raise ValueError(f"test-time scales must be numbers, got {scales!r}") from None
    if not out or not all(math.isfinite(v) and MIN_SCALE <= v <= MAX_SCALE for v in out):
        raise ValueError(f"test-time scales must be one or more numbers in [{MIN_SCALE:g}, {MAX_SCALE:g}], "
                         f"got {scales!r}")
    return out


def check_window_scales(scales) -> Tuple[float, ...]:
    """Person-window factors (a number or a non-empty sequence) as a tuple of finite positive floats."""
    import numpy as np

    vals = (scales,) if np.isscalar(scales) else tuple(scales) if isinstance(scales, (tuple, list, np.ndarray)) \
        else None
    if not vals:
        raise ValueError(f"scales must be a non-empty sequence of positive window factors, got {scales!r}")
    return tuple(finite_number(s, "scales entry", positive=True) for s in vals)
