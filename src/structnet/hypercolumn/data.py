"""Datasets of the hypercolumn task: a folder reader of image / mask pairs and the training box crops.

:class:`SegFolder` reads the layout shared by PASCAL-Person-Part, ECSSD, DUTS-TR-2k and the Weizmann horses in
``../shared/data``: ``images/<id>.<jpg|png|...>``, ``masks/<id>.png`` (8-bit, one channel) and ``<split>.txt``
(one id per line). Labels: ``parts``: the mask values 0..6 (0 background, 1 head, 2 torso, 3 upper arm, 4 lower arm,
5 upper leg, 6 lower leg); ``figure-ground``: mask > 127 = 1.

:class:`BoxCropDataset` turns each pair into one training sample per draw: the box (the whole image, or the mask's
box widened by a margin), jittered, mirrored, warped to the network's input square with ``grid_sample``
(:func:`~structnet.hypercolumn.model.crop_boxes`), and its labels sampled at the output grid (nearest; 255 outside
the image, ignored by the loss).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..data.io import IMAGE_EXTS, read_image
from ..errors import UserError
from .config import TASKS, HypercolumnConfig
from .model import crop_boxes, crop_labels

__all__ = ["SegFolder", "BoxCropDataset", "object_box", "image_box", "PART_NAMES", "read_labels"]

PART_NAMES = ("background", "head", "torso", "upper arm", "lower arm", "upper leg", "lower leg")
IGNORE = 255


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
    bad = (m > TASKS[task] - 1) & (m != IGNORE)
    if bad.any():
        raise UserError(f"{path}: part labels 0..{TASKS[task] - 1} (or 255 = ignore) expected, found "
                        f"{sorted(set(np.unique(m[bad]).tolist()))[:5]}")
    return m


class SegFolder:
    """Image / mask pairs of ``root`` listed in ``<split>.txt`` (module docstring). ``items``: [(id, image path,
    mask path)]; ``load(i)`` -> (RGB uint8 (H, W, 3), labels uint8 (H, W)). UserError naming what is missing."""

    def __init__(self, root, split: str, task: str):
        self.root, self.split, self.task = Path(root), str(split), str(task)
        if task not in TASKS:
            raise UserError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if not self.root.is_dir():
            raise UserError(f"{self.root}: no such data folder")
        listing = self.root / f"{split}.txt"
        if not listing.is_file():
            raise UserError(f"{listing}: split file not found (a folder with images/, masks/ and <split>.txt)")
        ids = [s.strip() for s in listing.read_text().split() if s.strip()]
        self.items: List[Tuple[str, Path, Path]] = []
        missing = []
        for i in ids:
            img = next((self.root / "images" / f"{i}{e}" for e in IMAGE_EXTS
                        if (self.root / "images" / f"{i}{e}").is_file()), None)
            mask = self.root / "masks" / f"{i}.png"
            if img is None or not mask.is_file():
                missing.append(i)
                continue
            self.items.append((i, img, mask))
        if not self.items:
            raise UserError(f"{listing}: none of its {len(ids)} ids has an image in images/ and a mask in masks/")
        self.missing = missing

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        _, ip, mp = self.items[i]
        img = read_image(ip)
        lab = read_labels(mp, self.task)
        if lab.shape != img.shape[:2]:
            raise UserError(f"{mp}: mask {lab.shape[1]}x{lab.shape[0]} does not match image "
                            f"{img.shape[1]}x{img.shape[0]}")
        return img, lab


def image_box(hw) -> np.ndarray:
    """The whole image as a box (x1, y1, x2, y2; edges on pixel edges)."""
    return np.array([0.0, 0.0, float(hw[1]), float(hw[0])])


def object_box(labels: np.ndarray, margin: float = 0.1) -> Optional[np.ndarray]:
    """The box of the labels > 0 (and < 255), widened by ``margin`` x its width / height on each side; None when
    there is no object pixel."""
    ys, xs = np.nonzero((labels > 0) & (labels != IGNORE))
    if len(xs) == 0:
        return None
    x1, y1, x2, y2 = float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)
    mw, mh = margin * (x2 - x1), margin * (y2 - y1)
    return np.array([x1 - mw, y1 - mh, x2 + mw, y2 + mh])


def jitter_box(box: np.ndarray, rng: np.random.Generator, jitter: float) -> np.ndarray:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2 + rng.normal(0.0, jitter * w)
    cy = (y1 + y2) / 2 + rng.normal(0.0, jitter * h)
    w *= float(np.exp(rng.normal(0.0, jitter)))
    h *= float(np.exp(rng.normal(0.0, jitter)))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class BoxCropDataset:
    """Training samples of ``cfg.data`` (module docstring): ``image`` (3, S, S) float32 in [0, 1], ``label``
    (S/4, S/4) int64 (255 = ignore). Images are decoded once and kept (PASCAL-Person-Part at <= 224 px: ~0.2 GB)."""

    def __init__(self, cfg: HypercolumnConfig, folder: Optional[SegFolder] = None):
        d, m = cfg.data, cfg.model
        self.folder = folder if folder is not None else SegFolder(d.root, d.split, m.task)
        self.size, self.out = int(m.input_size), int(m.input_size) // 4
        self.box_kind, self.margin, self.jitter = d.box, float(d.margin), float(d.jitter)
        self.flip_prob, self.colour = float(d.flip_prob), float(d.colour)
        self._cache: Dict[int, Tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.folder)

    def _get(self, i: int) -> Tuple[torch.Tensor, torch.Tensor]:
        if i not in self._cache:
            img, lab = self.folder.load(i)
            self._cache[i] = (torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
                              torch.from_numpy(lab.astype(np.int64)))
        return self._cache[i]

    def box_of(self, lab: np.ndarray) -> np.ndarray:
        if self.box_kind == "object":
            b = object_box(lab, self.margin)
            if b is not None:
                return b
        return image_box(lab.shape)

    def __getitem__(self, key) -> Dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng([int(seed), int(i)])
        img, lab = self._get(int(i))
        box = self.box_of(lab.numpy())
        if self.jitter > 0:
            box = jitter_box(box, rng, self.jitter)
        b = torch.as_tensor(box, dtype=torch.float32)[None]
        x = crop_boxes(img[None].float() / 255.0, b, self.size)[0]
        y = crop_labels(lab[None], b, self.out, IGNORE)[0]
        if rng.random() < self.flip_prob:
            x, y = x.flip(-1), y.flip(-1)
        if self.colour > 0:
            c = float(np.exp(rng.normal(0.0, self.colour)))
            br = float(rng.normal(0.0, self.colour / 2))
            x = ((x - 0.5) * c + 0.5 + br).clamp(0.0, 1.0)
        return {"image": x.contiguous(), "label": y}

    def class_prior(self, n: int = 200) -> np.ndarray:
        """Class frequencies over the labels of up to ``n`` images (evenly spaced): parts -> (7,), figure-ground ->
        (1,) the object fraction."""
        idx = np.linspace(0, len(self) - 1, min(n, len(self))).round().astype(int)
        k = TASKS[self.folder.task]
        counts = np.zeros(max(k, 2))
        for i in idx:
            lab = self._get(int(i))[1].numpy()
            counts += np.bincount(lab[lab != IGNORE].ravel(), minlength=len(counts))[:len(counts)]
        f = counts / max(counts.sum(), 1.0)
        return f[1:2] if k == 1 else f
