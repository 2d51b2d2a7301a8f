"""The hypercolumn evaluator and its dataset: whole images (``box: image``, what ``predict`` sees on a photo) or
ground-truth object boxes (``box: object``) of a folder (:class:`~structnet.data.segfolder.SegFolder`), scored
with :mod:`structnet.hypercolumn.metrics` on the labels pasted back at the image's size."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import numpy as np

from ..tasks.base import Evaluator
from .config import TASKS, HypercolumnEvalConfig
from ..data.segfolder import SegFolder
from .data import PART_NAMES, image_box, object_box
from .metrics import confusion, iou_from_confusion, mask_iou

__all__ = ["EvalDataset", "HypercolumnEvaluator"]


class EvalDataset:
    """``ds[i]``: ``image`` (H, W, 3) uint8, ``box`` (4,), ``name`` and the ground truth: ``labels`` (H, W) uint8
    (parts, figure-ground), or ``keypoints`` (14, 2) and ``annotated`` (14,) (keypoints: the LSP-extended people of
    the split in their joints' box widened by ``margin``)."""

    def __init__(self, e: HypercolumnEvalConfig, task: str, max_images: Optional[int] = None):
        self.e, self.task = e, task
        if task == "keypoints":
            from ..keypoints.datasets.lsp import read_lspet

            self.people = [r for r in read_lspet(e.root, e.split) if int(np.sum(r.annotated)) >= 2]
            names = [r.name for r in self.people]
        else:
            self.folder = SegFolder(e.root, e.split, task, skip_missing=False)  # missing files: failed items
            names = [it[0] for it in self.folder.items]
        n = len(names) if max_images is None else min(int(max_images), len(names))
        self.records = [SimpleNamespace(name=names[i]) for i in range(n)]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        if self.task == "keypoints":
            from ..data.io import read_image
            from .data import joints_box

            r = self.people[i]
            return {"image": read_image(r.image_path), "box": joints_box(r.keypoints, r.annotated, self.e.margin),
                    "keypoints": np.asarray(r.keypoints, np.float64), "annotated": np.asarray(r.annotated, bool),
                    "name": r.name}
        img, lab = self.folder.load(i)
        box = object_box(lab, self.e.margin) if self.e.box == "object" else None
        if box is None:
            box = image_box(lab.shape)
        return {"image": img, "labels": lab, "box": box, "name": self.records[i].name}


class HypercolumnEvaluator(Evaluator):
    """parts: ``miou`` (7 classes incl. background, over all test pixels), ``iou`` per part, ``pixel_accuracy``;
    figure-ground: ``mean_iou`` (per box, averaged), ``pixel_accuracy`` (inside the boxes). Plus ``n``,
    ``protocol`` and the settings."""

    def __init__(self, task: str, settings: Dict[str, Any]):
        self.task, self.settings = task, dict(settings)
        self.classes = max(TASKS[task], 2)
        self.reset()

    def reset(self) -> None:
        self.pred_kp: List[np.ndarray] = []
        self.gt_kp: List[np.ndarray] = []
        self.vis: List[np.ndarray] = []
        self.cm = np.zeros((self.classes, self.classes), np.int64)
        self.ious: List[float] = []
        self.correct = 0
        self.total = 0
        self.n = 0

    def process(self, sample: Dict[str, Any], prediction: Dict[str, Any]) -> None:
        if self.task == "keypoints":
            self.pred_kp.append(np.asarray(prediction["keypoints"], np.float64))
            self.gt_kp.append(np.asarray(sample["keypoints"], np.float64))
            self.vis.append(np.asarray(sample["annotated"], bool))
            self.n += 1
            return
        gt, pred = np.asarray(sample["labels"]), np.asarray(prediction["labels"])
        if gt.shape != pred.shape:
            raise ValueError(f"{sample.get('name', 'sample')}: prediction {pred.shape} vs labels {gt.shape}")
        if self.task == "parts":
            self.cm += confusion(pred, gt, self.classes)
        else:
            x1, y1, x2, y2 = [int(round(v)) for v in sample["box"]]
            h, w = gt.shape
            sl = (slice(max(y1, 0), min(y2, h)), slice(max(x1, 0), min(x2, w)))
            g, p = gt[sl] > 0, pred[sl] > 0
            self.ious.append(mask_iou(p, g))
            self.correct += int((g == p).sum())
            self.total += int(g.size)
        self.n += 1

    def summarize(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"n": self.n, "task": self.task}
        if self.task == "keypoints":
            from ..keypoints.layouts import get_layout
            from ..keypoints.metrics import pck_torso

            names = get_layout("lsp14").joints
            if self.n:
                per, mean = pck_torso(np.stack(self.pred_kp), np.stack(self.gt_kp), np.stack(self.vis))
            else:
                per, mean = np.full(len(names), np.nan), float("nan")
            out["pck"] = float(mean)
            out["per_joint"] = {k: (None if np.isnan(v) else float(v)) for k, v in zip(names, per)}
            out["protocol"] = ("LSP PCK@0.2: a joint is correct within 0.2 x the torso (left shoulder - right hip), "
                               "pooled over the annotated joints (persons without a measurable torso left out); "
                               "each person in the box of its GT joints widened by the margin, the most probable "
                               "pixel of each keypoint map")
        elif self.task == "parts":
            r = iou_from_confusion(self.cm, PART_NAMES)
            out.update(r)
            out["protocol"] = ("per-class IoU over all pixels of the test images (confusion matrix summed over "
                               "images), mIoU = mean over the 7 classes incl. background")
        else:
            out["mean_iou"] = float(np.mean(self.ious)) if self.ious else float("nan")
            out["pixel_accuracy"] = self.correct / max(self.total, 1)
            out["protocol"] = ("IoU of the predicted and true object pixels inside each box, averaged over boxes; "
                               "pixel accuracy inside the boxes")
        out.update(self.settings)
        return out

    def format(self, s: Dict[str, Any]) -> str:
        if not s.get("n"):
            return "no images evaluated"
        if self.task == "keypoints":
            joints = ", ".join(f"{k} {100 * v:.1f}" for k, v in s["per_joint"].items() if v is not None)
            return f"{s['n']} people (GT joint boxes): PCK@0.2 {100 * s['pck']:.1f} %\nper joint: {joints}"
        if self.task == "parts":
            parts = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in s["iou"].items())
            return (f"{s['n']} images ({s.get('box', 'image')} boxes): mIoU {s['miou']:.4f}, pixel accuracy "
                    f"{s['pixel_accuracy']:.4f}\nIoU per class: {parts}")
        return (f"{s['n']} boxes ({s.get('box', 'object')}): mean IoU {s['mean_iou']:.4f}, pixel accuracy "
                f"{s['pixel_accuracy']:.4f}")
