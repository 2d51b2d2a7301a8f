"""Evaluation of a 2D pose model: PCK@0.2 (torso, LSP protocol) or PCKh@0.5 (MPII) per joint, mean and AUC.

:class:`PoseEvaluator` accumulates predictions and ground truth one person at a time (the evaluator protocol of
:mod:`structnet.tasks`); :func:`evaluate_pose2d` runs a model over a dataset of raw samples through the shared
loop (:func:`structnet.tasks.run.run_evaluation`): persons whose image cannot be read are listed in ``failed``
and the rest evaluated. See docs/pose2d.md.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import UserError
from ..keypoints.layouts import get_layout
from ..tasks.base import Evaluator
from ..tasks.run import run_evaluation
from .codec import DEFAULT_REFINE, HeatmapCodec

__all__ = ["PoseEvaluator", "evaluate_pose2d", "sample_predictor", "format_results"]


def _nan_to_none(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


class PoseEvaluator(Evaluator):
    """PCK / PCKh of keypoint predictions against the samples' ground truth.

    layout: the keypoint layout (name or :class:`KeypointLayout`). metric: ``"pck"`` (torso PCK, LSP's
    ``eval_pck.m``), ``"pckh"`` (MPII; needs head normalisers, sample key ``norm``) or ``"auto"`` (pckh for
    mpii16, else pck); threshold: default 0.2 (pck) / 0.5 (pckh); protocol: the PCKh reference implementation
    (:data:`~structnet.keypoints.metrics.PCKH_PROTOCOLS`). settings: recorded in the summary.
    ``process(sample, prediction)``: ``sample`` with ``keypoints`` (K, 2), ``annotated`` (K,), ``norm``;
    ``prediction`` with ``keypoints`` (K, 2) image pixels and ``scores`` (K,)."""

    def __init__(self, layout, metric: str = "auto", threshold: Optional[float] = None, protocol: str = "official",
                 settings: Optional[Dict[str, Any]] = None):
        self.layout = get_layout(layout)
        if metric == "auto":
            metric = "pckh" if self.layout.name == "mpii16" else "pck"
        if metric not in ("pck", "pckh"):
            raise UserError(f"metric must be 'pck', 'pckh' or 'auto', got {metric!r}")
        self.metric, self.protocol = metric, protocol
        self.threshold = float(threshold) if threshold is not None else (0.5 if metric == "pckh" else 0.2)
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise UserError(f"the {metric} threshold must be > 0, got {threshold}")
        self.settings = dict(settings or {})
        self.reset()

    def reset(self) -> None:
        self._pred: List[np.ndarray] = []
        self._scores: List[np.ndarray] = []
        self._gt: List[np.ndarray] = []
        self._vis: List[np.ndarray] = []
        self._norm: List[float] = []

    def process(self, sample: Dict[str, Any], prediction: Dict[str, Any]) -> None:
        k = self.layout.num_joints
        kp = np.asarray(prediction["keypoints"], np.float64).reshape(k, 2)
        self._pred.append(kp)
        self._scores.append(np.asarray(prediction["scores"], np.float64).reshape(k))
        self._gt.append(np.asarray(sample["keypoints"], np.float64).reshape(k, 2))
        self._vis.append(np.asarray(sample["annotated"], bool).reshape(k))
        self._norm.append(float(sample["norm"]))

    def arrays(self):
        """``(pred, scores, gt, visible, norm)`` of the processed persons as arrays."""
        k = self.layout.num_joints
        n = len(self._pred)
        if n == 0:
            return np.zeros((0, k, 2)), np.zeros((0, k)), np.zeros((0, k, 2)), np.zeros((0, k), bool), np.zeros(0)
        return (np.stack(self._pred), np.stack(self._scores), np.stack(self._gt), np.stack(self._vis),
                np.asarray(self._norm))

    def summarize(self) -> Dict[str, Any]:
        from ..keypoints import metrics as M

        pred, _, gt, vis, norm = self.arrays()
        if len(pred) == 0:
            raise UserError("no person was evaluated")
        lay, t = self.layout, self.threshold
        if self.metric == "pck":
            per_joint, mean = M.pck_torso(pred, gt, vis, t, layout=lay)
            nrm = M.torso_normalizer(gt, vis, layout=lay)
            used = vis & np.isfinite(nrm)[:, None]
            steps = max(2, int(round(t / 0.01)) + 1)
            auc = M.auc(pred, gt, used, np.where(np.isfinite(nrm), nrm, 1.0), max_threshold=t, num_thresholds=steps)
            name, auc_range = f"PCK@{t:g}", [0.0, t]
            table = dict(M.per_joint_table(per_joint, lay, mean))
        else:
            used = vis & np.isfinite(norm)[:, None] & (norm > 0)[:, None]
            nrm = np.where(np.isfinite(norm) & (norm > 0), norm, 1.0)
            per_joint, mean = M.pckh(pred, gt, used, norm=nrm, threshold=t, protocol=self.protocol, layout=lay)
            summ = M.pckh_summary(pred, gt, used, norm=nrm, protocol=self.protocol, thresholds=(t, 0.1), layout=lay)
            auc, name, auc_range = summ["AUC"], f"PCKh@{t:g}", [0.0, 0.5]
            table = {c: v * 100.0 for c, v in summ.items()}
        settings = dict(self.settings)
        settings["protocol"] = self.protocol if self.metric == "pckh" else None
        return {"metric": name, "layout": lay.name, "n": len(pred), "n_persons": len(pred),
                "n_scored": int(used.sum()),
                "per_joint": {j: _nan_to_none(float(v)) for j, v in zip(lay.joints, per_joint)},
                "mean": _nan_to_none(float(mean)), "auc": _nan_to_none(float(auc)), "auc_range": auc_range,
                "table": {c: _nan_to_none(float(v)) for c, v in table.items()}, "settings": settings}

    def format(self, summary: Dict[str, Any]) -> str:
        return format_results(summary)


def sample_predictor(model, window: str, person=None, **kwargs):
    """``sample -> prediction`` for the evaluation loop: the person window of the sample's annotation
    (``"annotation"``), the whole image (``"image"``, what ``predict`` does without ``--box``), or the whole image and
    then the box it suggests (``"auto"``, :func:`~structnet.pose2d.inference.predict_pose_auto`, with the person-box
    model ``person`` when given). ``kwargs`` go to
    :func:`~structnet.pose2d.inference.predict_pose`."""
    from .inference import predict_pose, predict_pose_auto

    def predict_sample(s):
        if s.get("image") is None:
            raise UserError(f"sample {s.get('name')!r} has no image (annotation-only source: set eval.image_dir)")
        if window == "annotation":
            return predict_pose(model, s["image"], center=s["center"], scale=float(s["scale"]), **kwargs)
        if window == "auto":
            return predict_pose_auto(model, s["image"], person=person, **kwargs)
        return predict_pose(model, s["image"], **kwargs)

    return predict_sample


def evaluate_pose2d(net, ds, *, layout=None, codec: Optional[HeatmapCodec] = None,
                    metric: str = "auto", threshold: Optional[float] = None, protocol: str = "official",
                    flip_test: bool = True, scales: Sequence[float] = (1.0,), refine: str = DEFAULT_REFINE,
                    window: str = "annotation", precision: str = "float32", max_images: Optional[int] = None,
                    progress: bool = False, return_predictions: bool = False, person=None) -> Dict[str, Any]:
    """Accuracy of a pose model on a dataset of raw samples (a :class:`PoseDataset` without transform, e.g.
    :func:`~structnet.pose2d.data.build_eval_dataset`).

    net: a :class:`~structnet.hub.LoadedModel` or a bare module. layout: default the loaded model's, else the
    dataset's; codec: default the loaded model's (else ``HeatmapCodec()``: 256 input). metric / threshold /
    protocol: as :class:`PoseEvaluator`. flip_test, scales, refine, precision: as
    :func:`~structnet.pose2d.inference.predict_pose`. window: ``"annotation"`` (the record's centre / scale),
    ``"image"`` (whole image) or ``"auto"`` (the person-box model ``person``'s box, or without one the whole image,
    then the box of the joints found there; :func:`sample_predictor`).

    Returns a JSON-ready dict: ``metric`` (e.g. ``"PCK@0.2"``), ``layout``, ``n_persons``, ``n_scored`` (joints
    that count), ``per_joint`` {joint name: fraction or None}, ``mean`` (fraction), ``auc`` (fraction; thresholds
    ``0 .. threshold`` step 0.01 for PCK, ``0 .. 0.5`` for PCKh), ``table`` (README columns in percent),
    ``settings``, ``seconds`` and ``failed`` (persons whose image could not be read: ``[[name, reason], ...]``);
    with ``return_predictions`` also ``predictions`` (N, K, 2) image pixels and ``scores`` (N, K) as numpy arrays.
    """
    from .inference import unpack_model

    if getattr(ds, "transform", None) is not None:
        raise ValueError("evaluate_pose2d needs raw samples: pass a dataset without transform (build_eval_dataset)")
    from .inference import WINDOWS

    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, got {window!r}")
    module, model_layout, codec = unpack_model(net, layout, codec)
    lay = get_layout(model_layout if model_layout is not None else ds.layout)
    ev = PoseEvaluator(lay, metric, threshold, protocol,
                       settings={"flip_test": bool(flip_test), "scales": [float(x) for x in scales],
                                 "refine": refine, "window": window, "precision": precision})
    if ev.metric == "pckh" and any(r.norm_kind != "head" for r in getattr(ds, "records", [])[:1]):
        raise ValueError("metric pckh needs MPII head normalisers; this dataset's records are normalised by "
                         f"{ds.records[0].norm_kind!r} (use metric pck)")

    predict_sample = sample_predictor(module, window, person=person, flip_test=flip_test, scales=tuple(scales),
                                      refine=refine, layout=lay, codec=codec, precision=precision)
    out = run_evaluation(ds, ev, predict_sample, max_images=max_images, quiet=not progress, desc="eval pose2d")
    if return_predictions:
        pred, scores, _, _, _ = ev.arrays()
        out["predictions"], out["scores"] = pred, scores
    return out


def format_results(res: Dict[str, Any]) -> str:
    """Human-readable result of :func:`evaluate_pose2d`: a per-joint table, mean and AUC, then the README
    columns (percent)."""
    from ..keypoints.metrics import markdown_table

    def pct(v):
        return "-" if v is None else f"{100.0 * v:.1f}"

    st = res.get("settings") or {}
    lines = [f"{res['metric']} ({res['layout']}, {res['n_persons']} persons, {res['n_scored']} joints scored; "
             + (f"flip test {'on' if st['flip_test'] else 'off'}, scales {','.join(f'{s:g}' for s in st['scales'])})"
                if "flip_test" in st else f"predictions from {st.get('pred', 'files')})"),
             "", "| joint | % |", "|---|---|"]
    lines += [f"| {j} | {pct(v)} |" for j, v in res["per_joint"].items()]
    lines += [f"| **mean** | {pct(res['mean'])} |", "",
              f"AUC ({res['auc_range'][0]:g}-{res['auc_range'][1]:g}): {pct(res['auc'])}", ""]
    rows = [(c, float("nan") if v is None else v) for c, v in res["table"].items()]
    lines.append(markdown_table({"model": rows}))
    return "\n".join(lines)
