"""Dataset keys shared by every task: ``ds[i]`` or ``ds[(i, seed)]`` (the trainer passes a per-step seed so that
random augmentation is reproducible and resumable)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["parse_key"]


def parse_key(key, n: int) -> Tuple[int, Optional[int]]:
    """``int`` or ``(index, seed)`` -> ``(index in 0..n-1, seed or None)``; negative indices count from the end."""
    if isinstance(key, tuple):
        if len(key) != 2:
            raise TypeError(f"dataset key must be an int or (index, seed), got a tuple of length {len(key)}")
        idx, seed = key
        seed = int(seed)
    else:
        idx, seed = key, None
    if isinstance(idx, (bool, np.bool_)) or not isinstance(idx, (int, np.integer)):
        raise TypeError(f"dataset index must be an int, got {type(idx).__name__}")
    idx = int(idx)
    if idx < 0:
        idx += n
    if not 0 <= idx < n:
        raise IndexError(f"index {key!r} out of range for a dataset of {n} samples")
    return idx, seed
