"""Evaluation of a 2D pose model on a dataset of raw samples: PCK@0.2 (torso, LSP) or PCKh@0.5 (MPII) per joint,
mean and AUC (see docs/pose2d.md)."""
from __future__ import annotations

import math
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from .codec import HeatmapCodec
from .layouts import get_layout

def _nan_to_none(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v


def evaluate_pose2d(net: torch.nn.Module, ds, *, layout=None, codec: Optional[HeatmapCodec] = None,
                    metric: str = "auto", threshold: Optional[float] = None, protocol: str = "official",
                    flip_test: bool = True, scales: Sequence[float] = (1.0,), refine: str = "dark",
                    window: str = "annotation", precision: str = "float32", max_images: Optional[int] = None,
                    progress: bool = False, return_predictions: bool = False) -> Dict[str, Any]:
    """Accuracy of a pose model on a dataset of raw samples (a :class:`PoseDataset` without transform, e.g.
    :func:`build_eval_dataset`).

    layout: default ``net.pose_layout`` (models from ``load_pose_model``), else the dataset's; codec: default
    ``net.pose_codec`` (else ``HeatmapCodec()``: 256 input). metric: ``"pck"`` (torso PCK, LSP protocol),
    ``"pckh"`` (MPII, needs head normalisers in the records) or ``"auto"`` (pckh for mpii16, else pck);
    threshold: default 0.2 (pck) / 0.5 (pckh). protocol: the PCKh reference implementation
    (:data:`~structnet.pose2d.metrics.PCKH_PROTOCOLS`). flip_test, scales, refine, precision: as
    :func:`~structnet.pose2d.inference.predict_pose`. window: ``"annotation"`` (the record's centre / scale) or
    ``"image"`` (whole image).

    Returns a JSON-ready dict: ``metric`` (e.g. ``"PCK@0.2"``), ``layout``, ``n_persons``, ``n_scored`` (joints
    that count), ``per_joint`` {joint name: fraction or None}, ``mean`` (fraction), ``auc`` (fraction; thresholds
    ``0 .. threshold`` step 0.01 for PCK, ``0 .. 0.5`` for PCKh), ``table`` (README columns in percent),
    ``settings`` and ``seconds``; with ``return_predictions`` also ``predictions`` (N, K, 2) image pixels and
    ``scores`` (N, K) as numpy arrays.
    """
    from . import metrics as M
    from .inference import predict_pose

    if getattr(ds, "transform", None) is not None:
        raise ValueError("evaluate_pose2d needs raw samples: pass a dataset without transform (build_eval_dataset)")
    if window not in ("annotation", "image"):
        raise ValueError(f"window must be 'annotation' or 'image', got {window!r}")
    lay = get_layout(layout if layout is not None else getattr(net, "pose_layout", None) or ds.layout)
    if metric == "auto":
        metric = "pckh" if lay.name == "mpii16" else "pck"
    if metric not in ("pck", "pckh"):
        raise ValueError(f"metric must be 'pck', 'pckh' or 'auto', got {metric!r}")
    t = float(threshold) if threshold is not None else (0.5 if metric == "pckh" else 0.2)
    if metric == "pckh" and any(r.norm_kind != "head" for r in getattr(ds, "records", [])[:1]):
        raise ValueError("metric pckh needs MPII head normalisers; this dataset's records are normalised by "
                         f"{ds.records[0].norm_kind!r} (use metric pck)")
    n = len(ds) if max_images is None else min(len(ds), int(max_images))
    if n < 1:
        raise ValueError("evaluate_pose2d: empty dataset")
    k = lay.num_joints
    pred, scores = np.zeros((n, k, 2)), np.zeros((n, k))
    gt, vis, norm = np.zeros((n, k, 2)), np.zeros((n, k), bool), np.zeros(n)
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="eval pose2d", leave=False)
    t0 = time.perf_counter()
    for i in it:
        s = ds[i]
        if s.get("image") is None:
            raise ValueError(f"sample {s.get('name')!r} has no image (annotation-only source: set eval.image_dir)")
        win = {"center": s["center"], "scale": float(s["scale"])} if window == "annotation" else {}
        res = predict_pose(net, s["image"], flip_test=flip_test, scales=tuple(scales), refine=refine, layout=lay,
                           codec=codec, precision=precision, **win)
        pred[i], scores[i] = res["keypoints"], res["scores"]
        gt[i], vis[i], norm[i] = s["keypoints"], s["annotated"], float(s["norm"])
    seconds = time.perf_counter() - t0
    if metric == "pck":
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
        per_joint, mean = M.pckh(pred, gt, used, norm=nrm, threshold=t, protocol=protocol, layout=lay)
        summ = M.pckh_summary(pred, gt, used, norm=nrm, protocol=protocol, thresholds=(t, 0.1), layout=lay)
        auc, name, auc_range = summ["AUC"], f"PCKh@{t:g}", [0.0, 0.5]
        table = {c: v * 100.0 for c, v in summ.items()}
    out: Dict[str, Any] = {
        "metric": name, "layout": lay.name, "n_persons": n, "n_scored": int(used.sum()),
        "per_joint": {j: _nan_to_none(float(v)) for j, v in zip(lay.joints, per_joint)},
        "mean": _nan_to_none(float(mean)), "auc": _nan_to_none(float(auc)), "auc_range": auc_range,
        "table": {c: _nan_to_none(float(v)) for c, v in table.items()},
        "settings": {"flip_test": bool(flip_test), "scales": [float(x) for x in scales], "refine": refine,
                     "window": window, "precision": precision, "protocol": protocol if metric == "pckh" else None},
        "seconds": round(seconds, 2)}
    if return_predictions:
        out["predictions"], out["scores"] = pred, scores
    return out


def format_results(res: Dict[str, Any]) -> str:
    """Human-readable result of :func:`evaluate_pose2d`: a per-joint table, mean and AUC, then the README
    columns (percent)."""
    from .metrics import markdown_table

    def pct(v):
        return "-" if v is None else f"{100.0 * v:.1f}"

    lines = [f"{res['metric']} ({res['layout']}, {res['n_persons']} persons, {res['n_scored']} joints scored; "
             f"flip test {'on' if res['settings']['flip_test'] else 'off'}, scales "
             f"{','.join(f'{s:g}' for s in res['settings']['scales'])})", "", "| joint | % |", "|---|---|"]
    lines += [f"| {j} | {pct(v)} |" for j, v in res["per_joint"].items()]
    lines += [f"| **mean** | {pct(res['mean'])} |", "",
              f"AUC ({res['auc_range'][0]:g}-{res['auc_range'][1]:g}): {pct(res['auc'])}", ""]
    rows = [(c, float("nan") if v is None else v) for c, v in res["table"].items()]
    lines.append(markdown_table({"model": rows}))
    return "\n".join(lines)
