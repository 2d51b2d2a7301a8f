"""Training data of the extraction task: salient-object image / mask pairs of a folder
(:class:`~structnet.data.segfolder.SegFolder` layout: ``images/``, ``masks/``, ``<split>.txt``).

Each sample is the image and its mask resized to ``data.image_size`` squared (the paper resizes images to 224 x 224
for the localization net and normalises box coordinates to 0 .. 224; crops for the segmentation net are taken
from this square), mirrored, optionally cropped at random (``data.crop_prob``) and colour-jittered, with the tight box of the mask in units (``L_i``), the sample's
index (for its adjustment history) and, for the MCMC E-step, its superpixel boundary map (SLIC, computed once per
image and kept in memory).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..errors import UserError
from ..data.segfolder import SegFolder
from .config import ExtractionConfig
from .latent import boundary_map
from .model import UNITS

__all__ = ["ExtractionDataset", "tight_box", "holdout_ids", "random_crop"]


def holdout_ids(n: int, every: int) -> Tuple[List[int], List[int]]:
    """Positions ``0..n-1`` split into (training, held out): every ``every``-th position (``every - 1``,
    ``2 * every - 1``, ...) is held out; ``every <= 0`` holds out nothing."""
    if every <= 0:
        return list(range(n)), []
    held = [i for i in range(n) if i % every == every - 1]
    keep = [i for i in range(n) if i % every != every - 1]
    return keep, held


def tight_box(mask: np.ndarray) -> Optional[np.ndarray]:
    """The box (x1, y1, x2, y2; pixel edges) of the mask's True pixels, None when there is none."""
    ys, xs = np.nonzero(np.asarray(mask, bool))
    if len(xs) == 0:
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def random_crop(im: np.ndarray, m: np.ndarray, bd: np.ndarray, rng: np.random.Generator,
                crop_min: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a window of ``(u * S, v * S)`` pixels (``u, v ~ U[crop_min, 1]``, placed uniformly) out of the square
    image (S, S, 3), mask and boundary map (S, S) and resize it back to S x S (image: linear; mask: linear then
    >= 0.5; boundaries: nearest). A window that would leave no object pixel keeps the sample as it is."""
    import cv2

    s = m.shape[0]
    w = max(2, int(round(rng.uniform(crop_min, 1.0) * s)))
    h = max(2, int(round(rng.uniform(crop_min, 1.0) * s)))
    x0 = int(rng.integers(0, s - w + 1))
    y0 = int(rng.integers(0, s - h + 1))
    mc = m[y0:y0 + h, x0:x0 + w]
    if not mc.any():
        return im, m, bd
    im2 = cv2.resize(np.ascontiguousarray(im[y0:y0 + h, x0:x0 + w]), (s, s), interpolation=cv2.INTER_LINEAR)
    m2 = cv2.resize(mc.astype(np.float32), (s, s), interpolation=cv2.INTER_LINEAR) >= 0.5
    bd2 = cv2.resize(np.ascontiguousarray(bd[y0:y0 + h, x0:x0 + w]).astype(np.uint8), (s, s),
                     interpolation=cv2.INTER_NEAREST).astype(bool)
    if not m2.any():
        return im, m, bd
    return im2, m2, bd2


class ExtractionDataset:
    """``ds[i]``: ``image`` (3, S, S) float in [0, 1], ``mask`` (S, S) float 0 / 1, ``box`` (4,) units (the tight
    box of the mask), ``index`` (int) and ``boundary`` (S, S) bool (all False unless ``boundaries``)."""

    def __init__(self, cfg: ExtractionConfig, boundaries: Optional[bool] = None, seed: int = 0):
        d = cfg.data
        if d.image_size < 32:
            raise UserError(f"data.image_size must be >= 32, got {d.image_size}")
        if not 0.0 <= d.flip_prob <= 1.0:
            raise UserError("data.flip_prob is a probability in [0, 1]")
        if not 0.0 <= d.crop_prob <= 1.0:
            raise UserError("data.crop_prob is a probability in [0, 1]")
        if not 0.1 <= d.crop_min <= 1.0:
            raise UserError(f"data.crop_min must be in [0.1, 1], got {d.crop_min}")
        from ..engine.config import expand_data_root

        self.folder = SegFolder(expand_data_root(d.root), d.split, "figure-ground")
        keep, _ = holdout_ids(len(self.folder), int(d.holdout))
        self.items = [self.folder.items[i] for i in keep]
        self.folder.items = self.items
        self.size, self.flip_prob, self.colour = int(d.image_size), float(d.flip_prob), float(d.colour)
        self.crop_prob, self.crop_min = float(d.crop_prob), float(d.crop_min)
        lat = cfg.latent
        self.boundaries = (lat.search == "mcmc") if boundaries is None else bool(boundaries)
        self.slic = (int(lat.superpixels), float(lat.compactness))
        self._cache: Dict[int, Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]] = {}
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, i: int):
        """Resized image (S, S, 3) uint8, mask (S, S) bool, boundary (S, S) bool or None; cached."""
        hit = self._cache.get(i)
        if hit is not None:
            return hit
        import cv2

        img, lab = self.folder.load(i)
        s = self.size
        im = cv2.resize(img, (s, s), interpolation=cv2.INTER_AREA)
        m = cv2.resize(lab.astype(np.float32), (s, s), interpolation=cv2.INTER_AREA) >= 0.5
        bd = boundary_map(im, *self.slic) if self.boundaries else None
        out = (im, m, None if bd is None else np.packbits(bd, axis=None))
        self._cache[i] = out
        return out

    def __getitem__(self, key) -> Dict[str, Any]:
        """``key``: an index, or the trainer's ``(index, seed)`` (the seed draws the augmentation)."""
        i, seed = key if isinstance(key, tuple) else (key, self.seed)
        i = int(i)
        im, m, packed = self._load(i)
        s = self.size
        rng = np.random.default_rng([int(seed), i])
        bd = (np.unpackbits(packed, count=s * s).reshape(s, s).astype(bool) if packed is not None
              else np.zeros((s, s), bool))
        if rng.random() < self.flip_prob:
            im, m, bd = im[:, ::-1], m[:, ::-1], bd[:, ::-1]
        if self.crop_prob > 0 and rng.random() < self.crop_prob:
            im, m, bd = random_crop(im, m, bd, rng, self.crop_min)
        x = torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0
        if self.colour > 0:
            b = 1.0 + rng.uniform(-self.colour, self.colour)
            c = 1.0 + rng.uniform(-self.colour, self.colour)
            mean = x.mean()
            x = ((x - mean) * c + mean * b).clamp(0.0, 1.0)
        box = tight_box(m)
        if box is None:
            box = np.array([0.0, 0.0, s, s])
        return {"image": x, "mask": torch.from_numpy(np.ascontiguousarray(m)).float(),
                "box": torch.as_tensor(box * UNITS / s, dtype=torch.float32), "index": int(i),
                "boundary": torch.from_numpy(np.ascontiguousarray(bd))}

    def priors(self, n: int = 200) -> Tuple[np.ndarray, float]:
        """The mean tight box (units) and the foreground fraction inside the tight boxes over (up to) ``n`` images
        spread over the set: the untrained nets' outputs."""
        idx = np.linspace(0, len(self) - 1, min(n, len(self))).round().astype(int)
        boxes, fg = [], []
        for i in idx:
            try:
                _, m, _ = self._load(int(i))
            except UserError:
                continue
            b = tight_box(m)
            if b is None:
                continue
            boxes.append(b * UNITS / self.size)
            x1, y1, x2, y2 = b.astype(int)
            fg.append(float(m[y1:y2, x1:x2].mean()))
        if not boxes:
            raise UserError(f"{self.folder.root}: no training mask has an object pixel")
        return np.mean(boxes, axis=0), float(np.mean(fg))
