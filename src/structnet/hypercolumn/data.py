"""Datasets of the hypercolumn task: the training box crops of image / mask pairs and of LSP-extended people.

:class:`BoxCropDataset` turns each pair of a :class:`~structnet.data.segfolder.SegFolder` into one training sample
per draw: the box (the whole image, or the mask's box widened by a margin), jittered, mirrored, warped to the
network's input square with ``grid_sample`` (:func:`~structnet.nn.boxes.crop_boxes`), and its labels sampled at the
output grid (nearest; 255 outside the image, ignored by the loss).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from ..data.io import read_image
from ..data.segfolder import IGNORE, SegFolder
from ..errors import UserError
from ..nn.boxes import crop_boxes, crop_labels
from .config import TASKS, HypercolumnConfig

__all__ = ["BoxCropDataset", "KeypointBoxDataset", "object_box", "image_box", "joints_box", "keypoint_targets",
           "PART_NAMES"]

PART_NAMES = ("background", "head", "torso", "upper arm", "lower arm", "upper leg", "lower leg")


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


def colour_jitter(x: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """Contrast x exp(N(0, s)) about mid-grey and brightness + N(0, s / 2) of an image in [0, 1] (s = 0: as is)."""
    if strength <= 0:
        return x
    c = float(np.exp(rng.normal(0.0, strength)))
    br = float(rng.normal(0.0, strength / 2))
    return ((x - 0.5) * c + 0.5 + br).clamp(0.0, 1.0)


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
        x = colour_jitter(x, rng, self.colour)
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


# ------------------------------------------------------------------------------------------------------ keypoints
def joints_box(keypoints: np.ndarray, annotated: np.ndarray, margin: float) -> np.ndarray:
    """The box of the annotated joints widened by ``margin`` x its larger side on each side (joints lie inside the
    body: the head top and the feet need the margin)."""
    k = np.asarray(keypoints, np.float64)[np.asarray(annotated, bool)]
    x1, y1 = k.min(0)
    x2, y2 = k.max(0)
    m = margin * max(x2 - x1, y2 - y1, 1.0)
    return np.array([x1 - m, y1 - m, x2 + m, y2 + m])


def keypoint_targets(kp_out: np.ndarray, annotated: np.ndarray, size: int, radius: float) -> np.ndarray:
    """The paper's keypoint labels on a ``size x size`` output grid: ``(C, size, size)`` uint8, 1 at the grid
    pixel of the keypoint (``kp_out`` in output-pixel units, pixel centres at integers), 0 farther than ``radius``
    pixels from it, 255 (ignored) in between and for keypoints that are not annotated; a keypoint outside the grid
    has only negatives beyond the radius."""
    c = len(kp_out)
    yy, xx = np.mgrid[:size, :size]
    out = np.full((c, size, size), IGNORE, np.uint8)
    for j in range(c):
        if not annotated[j] or not np.isfinite(kp_out[j]).all():
            continue
        d2 = (xx - kp_out[j, 0]) ** 2 + (yy - kp_out[j, 1]) ** 2
        out[j][d2 > radius ** 2] = 0
        u, v = int(round(kp_out[j, 0])), int(round(kp_out[j, 1]))
        if 0 <= u < size and 0 <= v < size:
            out[j, v, u] = 1
    return out


class KeypointBoxDataset:
    """LSP-extended people (``data.root``, ``data.split``) in their joints' box widened by ``data.margin``,
    jittered and mirrored (left / right joints swapped): ``image`` (3, S, S), ``label`` (14, S/4, S/4) uint8 as
    :func:`keypoint_targets` (radius 10 % of the box diagonal, the paper's). Photos are decoded once."""

    def __init__(self, cfg: HypercolumnConfig):
        from ..keypoints.datasets.lsp import read_lspet
        from ..keypoints.layouts import get_layout

        d, m = cfg.data, cfg.model
        self.recs = [r for r in read_lspet(d.root, d.split) if int(np.sum(r.annotated)) >= 2]
        if not self.recs:
            raise UserError(f"{d.root} ({d.split}): no person with two annotated joints")
        self.size, self.out = int(m.input_size), int(m.input_size) // 4
        self.margin, self.jitter = float(d.margin), float(d.jitter)
        self.flip_prob, self.colour = float(d.flip_prob), float(d.colour)
        self.perm = np.asarray(get_layout("lsp14").flip_permutation())
        self._cache: Dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.recs)

    def _image(self, i: int) -> torch.Tensor:
        if i not in self._cache:
            img = read_image(self.recs[i].image_path)
            self._cache[i] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return self._cache[i]

    def __getitem__(self, key) -> Dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng([int(seed), int(i)])
        r = self.recs[int(i)]
        img = self._image(int(i))
        box = joints_box(r.keypoints, r.annotated, self.margin)
        if self.jitter > 0:
            box = jitter_box(box, rng, self.jitter)
        x = crop_boxes(img[None].float() / 255.0, torch.as_tensor(box, dtype=torch.float32)[None], self.size)[0]
        kp = (np.asarray(r.keypoints, np.float64) - box[:2]) / (box[2:] - box[:2]) * self.out - 0.5
        ann = np.asarray(r.annotated, bool).copy()
        if rng.random() < self.flip_prob:
            x = x.flip(-1)
            kp = kp[self.perm]
            ann = ann[self.perm]
            kp[:, 0] = self.out - 1 - kp[:, 0]
        x = colour_jitter(x, rng, self.colour)
        radius = 0.1 * np.sqrt(2.0) * self.out
        y = keypoint_targets(kp, ann, self.out, radius)
        return {"image": x.contiguous(), "label": torch.from_numpy(y.astype(np.int64))}

    def class_prior(self, n: int = 0) -> np.ndarray:
        """The positive fraction of the labelled pixels of a keypoint map (one pixel each): ``(14,)``."""
        radius = 0.1 * np.sqrt(2.0) * self.out
        negatives = self.out ** 2 - np.pi * radius ** 2
        return np.full(14, 1.0 / (1.0 + negatives))
