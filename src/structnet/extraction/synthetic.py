"""Synthetic salient objects for tests and small benchmarks: one bright disc or square per image on a dark
textured background, written in the folder layout of the real datasets (``images/``, ``masks/``, ``train.txt``,
``test.txt``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["make_shapes_folder"]


def make_shapes_folder(root, n_train: int = 96, n_test: int = 24, seed: int = 0, size=(48, 64)) -> Path:
    """Writes ``n_train + n_test`` image / mask pairs (PNG, ``size`` = (height, width)) under ``root``; odd images
    hold a disc, even ones a square (radius 7..12 px, centre random); returns ``root``."""
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    ids = {"train": [], "test": []}
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    for k in range(n_train + n_test):
        img = rng.integers(0, 100, (h, w, 3)).astype(np.uint8)
        cx, cy = rng.integers(round(0.28 * w), round(0.72 * w)), rng.integers(round(0.29 * h), round(0.71 * h))
        r = int(rng.integers(7, 13))
        obj = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) if k % 2 else ((abs(yy - cy) <= r) & (abs(xx - cx) <= r))
        img[obj] = rng.integers(150, 256, 3)
        name = f"s{k:03d}"
        cv2.imwrite(str(root / "images" / f"{name}.png"), img[..., ::-1])
        cv2.imwrite(str(root / "masks" / f"{name}.png"), obj.astype(np.uint8) * 255)
        ids["train" if k < n_train else "test"].append(name)
    for split, v in ids.items():
        (root / f"{split}.txt").write_text("\n".join(v) + "\n")
    return root
