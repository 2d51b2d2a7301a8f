"""Metrics of the hypercolumn task (pure functions).

* Parts: the confusion matrix accumulated over all pixels of the test set, per-class IoU = TP / (TP + FP + FN),
  mIoU = their mean over the 7 classes incl. background (the number the PASCAL-Person-Part literature reports:
  DeepLab-LargeFOV 51.8), pixel accuracy.
* Figure-ground: per box the IoU of the predicted and true object pixels, averaged over boxes ("mean IoU inside
  boxes"; the paper's AP^r needs scored detections, which a GT-box evaluation has not), pixel accuracy inside the
  box.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from ..data.segfolder import IGNORE

__all__ = ["confusion", "iou_from_confusion", "mask_iou"]


def confusion(pred: np.ndarray, gt: np.ndarray, classes: int) -> np.ndarray:
    """``(classes, classes)`` int64 counts, rows = ground truth, columns = prediction; ground-truth pixels of
    value 255 are left out."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    keep = gt != IGNORE
    g, p = gt[keep].astype(np.int64), pred[keep].astype(np.int64)
    if g.size and (g.max() >= classes or p.max() >= classes or p.min() < 0):
        raise ValueError(f"labels must lie in 0..{classes - 1}")
    return np.bincount(g * classes + p, minlength=classes * classes).reshape(classes, classes)


def iou_from_confusion(cm: np.ndarray, names: Sequence[str] = ()) -> Dict[str, object]:
    """``miou`` (mean over the classes present in the ground truth or the prediction), ``iou`` per class,
    ``pixel_accuracy``."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    denom = cm.sum(0) + cm.sum(1) - tp
    valid = denom > 0
    iou = np.where(valid, tp / np.maximum(denom, 1), np.nan)
    names = list(names) or [str(i) for i in range(len(tp))]
    return {"miou": float(np.nanmean(iou)) if valid.any() else float("nan"),
            "iou": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, iou)},
            "pixel_accuracy": float(tp.sum() / max(cm.sum(), 1.0))}


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two boolean masks (1.0 when both are empty)."""
    p, g = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.logical_or(p, g).sum()
    return 1.0 if union == 0 else float(np.logical_and(p, g).sum() / union)
