"""Metrics of the extraction task (pure functions on one image; :class:`ExtractionMetrics` averages over images).

* ``p``: the paper's "Precision" P, the share of pixels labelled correctly (foreground and background), per image.
* ``j``: the paper's Jaccard similarity J, ``|S & G| / |S | G|`` of the binary mask S and the truth G, per image
  (1 when both are empty).
* ``mae``: the salient-object field's mean absolute error between the [0, 1] map and the 0 / 1 truth, per image.
* ``max_f``: the field's maximum F-measure with ``beta^2 = 0.3``: at each of 256 thresholds of the 8-bit map
  (foreground where ``map >= t``, t = 0 .. 255) precision and recall per image, both averaged over the images, F of
  the averages, and its maximum over the thresholds (as Achanta et al. / Borji et al.'s benchmark code).

P, J and MAE are averaged over images; the map is quantised to 8 bits first (as a saved PNG would be), so that
scoring written files gives the same numbers.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

__all__ = ["pixel_accuracy", "jaccard", "mae", "pr_counts", "ExtractionMetrics", "BETA2"]

BETA2 = 0.3


def pixel_accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    if p.shape != g.shape:
        raise ValueError(f"prediction {p.shape} and ground truth {g.shape} differ in shape")
    return float((p == g).mean())


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    if p.shape != g.shape:
        raise ValueError(f"prediction {p.shape} and ground truth {g.shape} differ in shape")
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum() / union)


def mae(prob: np.ndarray, gt: np.ndarray) -> float:
    return float(np.abs(np.asarray(prob, np.float64) - np.asarray(gt, bool)).mean())


def pr_counts(map8: np.ndarray, gt: np.ndarray):
    """Per threshold ``t = 0..255`` (foreground where ``map8 >= t``): true positives and predicted positives
    ``(256,)`` each, and the number of true foreground pixels."""
    m = np.asarray(map8, np.uint8).ravel()
    g = np.asarray(gt, bool).ravel()
    hist_all = np.bincount(m, minlength=256)
    hist_fg = np.bincount(m[g], minlength=256)
    pos = np.cumsum(hist_all[::-1])[::-1]            # pixels with value >= t
    tp = np.cumsum(hist_fg[::-1])[::-1]
    return tp.astype(np.float64), pos.astype(np.float64), float(g.sum())


class ExtractionMetrics:
    """Accumulates per-image P, J, MAE and the precision / recall curves; ``summary()`` -> ``{"j", "p", "mae",
    "max_f", "n_images"}``."""

    def __init__(self):
        self.p, self.j, self.mae = [], [], []
        self.prec = np.zeros(256)
        self.rec = np.zeros(256)
        self.n_pr = 0

    def add(self, map8: np.ndarray, mask: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
        """One image: ``map8`` the 8-bit foreground probability (uint8 0..255), ``mask`` the binary output,
        ``gt`` the binary truth (all the same shape). Returns that image's numbers."""
        map8, mask, gt = np.asarray(map8), np.asarray(mask, bool), np.asarray(gt, bool)
        if not (map8.shape == mask.shape == gt.shape):
            raise ValueError(f"map {map8.shape}, mask {mask.shape} and ground truth {gt.shape} differ in shape")
        one = {"p": pixel_accuracy(mask, gt), "j": jaccard(mask, gt), "mae": mae(map8.astype(np.float64) / 255.0, gt)}
        self.p.append(one["p"])
        self.j.append(one["j"])
        self.mae.append(one["mae"])
        tp, pos, n_fg = pr_counts(map8, gt)
        if n_fg > 0:  # recall is undefined without foreground (the benchmarks skip such images for the curve)
            self.prec += np.where(pos > 0, tp / np.maximum(pos, 1), 1.0)
            self.rec += tp / n_fg
            self.n_pr += 1
        return one

    def summary(self) -> Dict[str, float]:
        n = len(self.j)
        out = {"j": float(np.mean(self.j)) if n else float("nan"), "p": float(np.mean(self.p)) if n else float("nan"),
               "mae": float(np.mean(self.mae)) if n else float("nan"), "max_f": float("nan"), "n_images": n}
        if self.n_pr:
            pr, rc = self.prec / self.n_pr, self.rec / self.n_pr
            f = (1 + BETA2) * pr * rc / np.maximum(BETA2 * pr + rc, 1e-12)
            out["max_f"] = float(f.max())
        return out
