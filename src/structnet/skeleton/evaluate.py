"""Evaluation of a skeleton model on a dataset: skeleton localisation (ODS / OIS / AP, the skeval protocol of
:mod:`structnet.skeleton.metrics`) and optionally object segments rebuilt from skeleton + scale.

:class:`SkeletonEvaluator` follows the evaluator protocol of :mod:`structnet.tasks` (reset / process /
summarize): ``process`` keeps each image's predicted map and ground truth, ``summarize`` matches them in parallel
(:func:`~structnet.skeleton.metrics.evaluate_skeletons`, identical numbers to scoring PNG folders) and, with
``segments``, rebuilds segments at the ODS threshold and scores them against the figure-ground masks.
:func:`evaluate_model` runs a model over a dataset through the shared loop
(:func:`structnet.tasks.run.run_evaluation`).
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import UserError
from ..tasks.base import Evaluator

__all__ = ["SkeletonEvaluator", "evaluate_model", "format_results"]


class SkeletonEvaluator(Evaluator):
    """ODS / OIS / AP (and segment metrics) of predicted skeleton maps.

    thresholds: number of skeval thresholds; tolerance: matching radius as a fraction of the image diagonal;
    workers: processes for the matching (None: all cores); segments: also score segments rebuilt from the thin
    skeleton at the ODS threshold and the predicted scale (samples need a ``mask``); progress: a tqdm bar over the
    images while rebuilding segments (on stderr, only when it is a terminal); segments_mode: ``"objects"``
    (touching segments merged, objects under ``min_segment_area`` x the largest dropped, as ``predict`` does; the
    paper's one-segment-per-piece numbers are reported beside them under ``segments_by_piece``) or ``"parts"``.
    ``process(sample, prediction)``: ``sample["skeleton"]`` bool (H, W) GT (and ``"mask"``); ``prediction`` a
    dict with ``skeleton`` float (H, W) in [0, 1] and ``scale`` (H, W) pixels (:func:`predict_maps`)."""

    def __init__(self, thresholds: int = 100, tolerance: float = 0.01, workers: Optional[int] = None,
                 segments: bool = False, progress: bool = False, segments_mode: str = "objects",
                 min_segment_area: Optional[float] = None):
        from .segments import DEFAULT_MIN_AREA, SEGMENT_MODES

        if min_segment_area is None:
            min_segment_area = DEFAULT_MIN_AREA
        if segments_mode not in SEGMENT_MODES:
            raise UserError(f"eval.segments_mode must be one of {', '.join(SEGMENT_MODES)}, got {segments_mode!r}")
        if not 0.0 <= float(min_segment_area) <= 1.0:
            raise UserError(f"eval.min_segment_area must be in [0, 1], got {min_segment_area!r}")
        self.thresholds, self.tolerance, self.workers, self.segments = thresholds, tolerance, workers, segments
        self.progress, self.segments_mode, self.min_segment_area = progress, segments_mode, float(min_segment_area)
        self.reset()

    def reset(self) -> None:
        self._preds: List[np.ndarray] = []
        self._gts: List[np.ndarray] = []
        self._scales: List[np.ndarray] = []
        self._masks: List[Optional[np.ndarray]] = []

    def process(self, sample: Dict[str, Any], prediction: Dict[str, np.ndarray]) -> None:
        gt = np.asarray(sample["skeleton"], bool)
        skel = np.asarray(prediction["skeleton"], np.float32)
        if skel.shape != gt.shape:
            raise ValueError(f"{sample.get('name', 'sample')}: prediction {skel.shape} and GT {gt.shape} differ in size")
        if self.segments and sample.get("mask") is None:
            raise UserError("segment evaluation needs figure-ground masks, which this dataset does not provide")
        self._preds.append(skel)
        self._gts.append(gt)
        self._scales.append(np.asarray(prediction.get("scale", np.zeros_like(skel)), np.float32))
        self._masks.append(sample.get("mask"))

    def summarize(self) -> Dict[str, Any]:
        from ..runtime import progress
        from .metrics import evaluate_segments, evaluate_skeletons
        from .postprocess import thin_skeleton
        from .segments import group_segments, segments_from_skeleton

        if not self._preds:
            raise UserError("no image was evaluated")
        t0 = time.perf_counter()
        res = evaluate_skeletons(self._preds, self._gts, thresholds=self.thresholds, tolerance=self.tolerance,
                                 workers=self.workers)
        out = res.to_dict()
        out["n"] = out["n_images"]
        out["ods_threshold"] = float(res.ods_threshold)
        if self.segments:
            items = progress(zip(self._preds, self._scales, self._masks), total=len(self._preds),
                             desc="segments", quiet=not self.progress)
            pairs = [(segments_from_skeleton(thin_skeleton(p, res.ods_threshold), np.nan_to_num(s)),
                      np.asarray(m).astype(np.int32)) for p, s, m in items]
            by_part = evaluate_segments(pairs)
            if self.segments_mode == "objects":
                out["segments"] = evaluate_segments([(group_segments(lab, self.min_segment_area)[0], m)
                                                     for lab, m in pairs])
                out["segments"].update(mode="objects", min_segment_area=self.min_segment_area)
                out["segments_by_piece"] = {**by_part, "mode": "parts"}
            else:
                out["segments"] = {**by_part, "mode": "parts"}
        out["eval_seconds"] = round(time.perf_counter() - t0, 1)
        return out

    def format(self, summary: Dict[str, Any]) -> str:
        return format_results(summary)


def format_results(d: Dict[str, Any]) -> str:
    """One line: images, ODS F (P, R), OIS F, AP (and the segment metrics when present)."""
    line = (f"images: {d['n_images']}  ODS F: {d['ods_f']:.4f} (P {d['ods_p']:.4f}, R {d['ods_r']:.4f}, threshold "
            f"{d['ods_threshold']:.3f})  OIS F: {d['ois_f']:.4f}  AP: {d['ap']:.4f}")
    if d.get("segments"):
        seg = d["segments"]
        line += "  segments: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                           for k, v in seg.items())
        if d.get("segments_by_piece"):
            b = d["segments_by_piece"]
            line += (f"  (one per skeleton piece, the paper's construction: f_measure {b['f_measure']:.4f}, "
                     f"covering {b['covering']:.4f}, mean_segments {b['mean_segments']:.4f})")
    return line


def evaluate_model(net, ds, thresholds: int = 100, tolerance: float = 0.01, max_side: Optional[int] = None,
                   precision: str = "auto", max_images: Optional[int] = None, workers: Optional[int] = None,
                   segments: bool = False, progress: bool = False, segments_mode: str = "objects",
                   min_segment_area: Optional[float] = None, scales=None, flip: Optional[bool] = None
                   ) -> Dict[str, object]:
    """Skeleton localisation (ODS/OIS/AP) of a model (a :class:`~structnet.hub.LoadedModel` or a bare
    :class:`SkeletonNet`) on a dataset; with ``segments=True`` also the object segmentation metrics (F, Covering,
    mean segments) of segments rebuilt at the ODS threshold against the dataset's figure-ground masks (sample key
    ``"mask"``). ``scales`` / ``flip``: test-time augmentation (``None``: a LoadedModel's stored defaults, see
    :func:`~structnet.skeleton.inference.predict_maps`). ``progress``: tqdm bars on stderr (prediction, segments), shown only when stderr is a terminal.
    Images that cannot be read are listed in ``failed``."""
    from ..tasks.loading import LoadedModel
    from ..tasks.run import run_evaluation
    from .inference import predict_maps

    module = net.network if isinstance(net, LoadedModel) else net
    if isinstance(net, LoadedModel):
        scales = scales if scales is not None else net.settings.get("scales")
        flip = flip if flip is not None else net.settings.get("flip")

    def predict_sample(s):
        img = np.round(np.transpose(s["image"], (1, 2, 0)) * 255).astype(np.uint8)
        return predict_maps(module, img, max_side=max_side, precision=precision, scales=scales, flip=flip)

    t0 = time.perf_counter()
    ev = SkeletonEvaluator(thresholds, tolerance, workers, segments, progress, segments_mode, min_segment_area)
    out = run_evaluation(ds, ev, predict_sample,
                         max_images=max_images, quiet=not progress, desc="eval skeleton")
    out["predict_seconds"] = round(time.perf_counter() - t0 - out["eval_seconds"], 1)
    return out
