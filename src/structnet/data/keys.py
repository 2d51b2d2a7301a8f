"""Dataset keys shared by every task: ``ds[i]`` or ``ds[(i, seed)]`` (the trainer passes a per-step seed so that
random augmentation is reproducible and resumable)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["parse_key", "ConcatKeyed"]


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


class ConcatKeyed:
    """Datasets one after the other, with the ``ds[i]`` / ``ds[(index, seed)]`` keys of the trainer (``None``
    parts are left out); ``names``: the parts' ``names`` lists joined (a part without them adds none)."""

    def __init__(self, *parts):
        self.parts = [p for p in parts if p is not None]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.names = [n for p in self.parts for n in getattr(p, "names", [])]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, key):
        i, seed = parse_key(key, len(self))
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        j = i - int(self.offsets[k])
        return self.parts[k][j if seed is None else (j, seed)]
