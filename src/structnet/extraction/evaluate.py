"""The extraction evaluator and its dataset: a folder with ``images/``, ``masks/`` and ``<split>.txt`` (ECSSD,
Weizmann horses, DUTS-TR-2k's held-out ids), or a folder of images and a folder of masks named by the images'
stems. Whole images go through the same prediction as ``structnet predict extraction``; the scores are those of
:mod:`structnet.extraction.metrics` (P, J, MAE, max F)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Optional

import numpy as np

from ..errors import UserError
from ..tasks.base import Evaluator
from .config import ExtractionEvalConfig
from .metrics import ExtractionMetrics
from .writer import prob_to_uint8

__all__ = ["EvalDataset", "ExtractionEvaluator"]


class EvalDataset:
    """``ds[i]``: ``image`` (H, W, 3) uint8, ``gt`` (H, W) bool (mask > 127), ``name``. A missing or unreadable
    image or mask raises a UserError for that item (the evaluation lists it under ``failed`` and goes on)."""

    def __init__(self, e: ExtractionEvalConfig, max_images: Optional[int] = None):
        from ..data.io import list_images, output_names
        from ..engine.config import expand_data_root

        self.pairs = []
        if e.images is not None or e.masks is not None:
            if e.images is None or e.masks is None:
                raise UserError("give both --images DIR and --masks DIR (or --data DIR with a split file)")
            idir, mdir = Path(e.images), Path(e.masks)
            for d, what in ((idir, "images"), (mdir, "masks")):
                if not d.is_dir():
                    raise UserError(f"{d}: no such {what} folder")
            paths = list_images([idir])
            names = output_names(paths)
            self.pairs = [(names[p], Path(p), mdir / f"{Path(p).stem}.png") for p in paths]
            self.source = {"images": str(idir), "masks": str(mdir)}
        else:
            from ..data.segfolder import SegFolder
            from .data import holdout_ids

            root = expand_data_root(e.root)
            folder = SegFolder(root, e.split, "figure-ground", skip_missing=False)
            items = folder.items
            if e.holdout and e.holdout > 0:
                _, held = holdout_ids(len(items), int(e.holdout))
                items = [items[i] for i in held]
            self.pairs = [(i, ip, mp) for i, ip, mp in items]
            self.source = {"data": str(root), "split": e.split, "holdout": int(e.holdout or 0)}
        if not self.pairs:
            raise UserError("no image to evaluate")
        n = len(self.pairs) if max_images is None else min(len(self.pairs), int(max_images))
        self.pairs = self.pairs[:n]
        self.records = [SimpleNamespace(name=p[0]) for p in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def load_gt(self, i: int, shape=None) -> np.ndarray:
        from ..data.segfolder import read_labels

        _, _, mp = self.pairs[i]
        if not mp.is_file():
            raise UserError(f"{mp}: mask not found")
        gt = read_labels(mp, "figure-ground").astype(bool)
        if shape is not None and gt.shape != tuple(shape):
            raise UserError(f"{mp}: mask {gt.shape[1]}x{gt.shape[0]} does not match image {shape[1]}x{shape[0]}")
        return gt

    def __getitem__(self, i: int) -> Dict[str, Any]:
        from ..data.io import read_image

        name, ip, _ = self.pairs[i]
        if not Path(ip).is_file():
            raise UserError(f"{ip}: image not found")
        img = read_image(ip)
        return {"image": img, "gt": self.load_gt(i, img.shape[:2]), "name": name}


class ExtractionEvaluator(Evaluator):
    """``j``, ``p``, ``mae``, ``max_f``, ``n_images`` (+ ``n``, ``protocol``, ``settings``, ``per_image``)."""

    def __init__(self, settings: Optional[Dict[str, Any]] = None):
        self.settings = dict(settings or {})
        self.reset()

    def reset(self) -> None:
        self.m = ExtractionMetrics()
        self.per_image: Dict[str, Dict[str, float]] = {}

    def process(self, sample: Dict[str, Any], prediction: Dict[str, Any]) -> None:
        map8 = prediction.get("map8")
        if map8 is None:
            map8 = prob_to_uint8(prediction["prob"])
        one = self.m.add(map8, prediction["mask"], sample["gt"])
        self.per_image[str(sample["name"])] = {k: round(v, 5) for k, v in one.items()}

    def summarize(self) -> Dict[str, Any]:
        s = self.m.summary()
        s["n"] = s["n_images"]
        s["protocol"] = ("whole images: P = pixel accuracy and J = IoU of the mask (probability > threshold) per "
                         "image, averaged (Wang et al. 2014); MAE of the 8-bit probability map per image, averaged; "
                         "max F (beta^2 = 0.3) over 256 thresholds of mean precision and recall")
        s["settings"] = dict(self.settings)
        s["per_image"] = dict(self.per_image)
        return s

    def format(self, summary: Dict[str, Any]) -> str:
        return (f"J {summary['j']:.4f}  P {summary['p']:.4f}  MAE {summary['mae']:.4f}  max F {summary['max_f']:.4f}"
                f"  ({summary['n_images']} images)")
