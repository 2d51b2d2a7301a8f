"""A folder of image / mask pairs and its label maps.

:class:`SegFolder` reads the layout shared by PASCAL-Person-Part, ECSSD, DUTS-TR-2k and the Weizmann horses in
``../shared/data``: ``images/<id>.<jpg|png|...>``, ``masks/<id>.png`` (8-bit, one channel) and ``<split>.txt``
(one id per line). Labels (:func:`read_labels`): ``parts``: the mask values 0..6 (0 background, 1 head, 2 torso,
3 upper arm, 4 lower arm, 5 upper leg, 6 lower leg; :data:`IGNORE` = 255 is kept); ``figure-ground``: mask > 127 = 1.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np

from ..errors import UserError
from .io import IMAGE_EXTS, read_image

__all__ = ["IGNORE", "MASK_CLASSES", "SegFolder", "read_labels"]

#: The label value that no loss or score counts.
IGNORE = 255
#: Label kinds of a mask and their number of classes (figure-ground: one, the object).
MASK_CLASSES = {"parts": 7, "figure-ground": 1}


def read_labels(path, task: str) -> np.ndarray:
    """A mask file -> ``(H, W)`` uint8 labels of ``task`` (UserError naming the file when it cannot be read or
    holds values the task does not know)."""
    import cv2

    m = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if m is None:
        raise UserError(f"{path}: not a readable mask image")
    if m.ndim == 3:
        m = m[..., 0]
    if m.dtype != np.uint8:
        raise UserError(f"{path}: 8-bit masks expected, got {m.dtype}")
    if task == "figure-ground":
        return (m > 127).astype(np.uint8)
    bad = (m > MASK_CLASSES[task] - 1) & (m != IGNORE)
    if bad.any():
        raise UserError(f"{path}: part labels 0..{MASK_CLASSES[task] - 1} (or 255 = ignore) expected, found "
                        f"{sorted(set(np.unique(m[bad]).tolist()))[:5]}")
    return m


class SegFolder:
    """Image / mask pairs of ``root`` listed in ``<split>.txt`` (module docstring). ``items``: [(id, image path,
    mask path)]; ``load(i)`` -> (RGB uint8 (H, W, 3), labels uint8 (H, W)). UserError naming what is missing."""

    def __init__(self, root, split: str, task: str, skip_missing: bool = True):
        self.root, self.split, self.task = Path(root), str(split), str(task)
        if task not in MASK_CLASSES:
            raise UserError(f"task must be one of {', '.join(MASK_CLASSES)}, got {task!r}")
        if not self.root.is_dir():
            raise UserError(f"{self.root}: no such data folder")
        listing = self.root / f"{split}.txt"
        if not listing.is_file():
            raise UserError(f"{listing}: split file not found (a folder with images/, masks/ and <split>.txt)")
        ids = [s.strip() for s in listing.read_text().split() if s.strip()]
        self.items: List[Tuple[str, Path, Path]] = []
        self.missing: List[str] = []
        for i in ids:
            img = next((self.root / "images" / f"{i}{e}" for e in IMAGE_EXTS
                        if (self.root / "images" / f"{i}{e}").is_file()), None)
            mask = self.root / "masks" / f"{i}.png"
            if img is None or not mask.is_file():
                self.missing.append(i)
                if skip_missing:
                    continue
            self.items.append((i, img if img is not None else self.root / "images" / f"{i}.jpg", mask))
        if not self.items or len(self.missing) == len(ids):
            raise UserError(f"{listing}: none of its {len(ids)} ids has an image in images/ and a mask in masks/")
        if self.missing and skip_missing:
            import sys

            print(f"note: {listing}: {len(self.missing)} of {len(ids)} ids lack an image or a mask and are left out "
                  f"(first: {self.missing[0]})", file=sys.stderr)

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        _, ip, mp = self.items[i]
        for f, what in ((ip, "image"), (mp, "mask")):
            if not f.is_file():
                raise UserError(f"{f}: {what} not found")
        img = read_image(ip)
        lab = read_labels(mp, self.task)
        if lab.shape != img.shape[:2]:
            raise UserError(f"{mp}: mask {lab.shape[1]}x{lab.shape[0]} does not match image "
                            f"{img.shape[1]}x{img.shape[0]}")
        return img, lab
