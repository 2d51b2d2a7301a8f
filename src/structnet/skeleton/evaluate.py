"""Evaluation of a skeleton model on a dataset: skeleton localisation (ODS/OIS/AP) and optionally object segments."""
from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np
import torch

from .model import SkeletonNet

@torch.no_grad()
def predict_dataset(net: SkeletonNet, ds, max_side: Optional[int] = None, precision: str = "auto",
                    max_images: Optional[int] = None, progress: bool = False):
    """Yields (name, skeleton map float32 (H, W), scale map, GT sample) over a dataset (no augmentation)."""
    from .inference import predict_maps

    n = len(ds) if max_images is None else min(len(ds), max_images)
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="predict", leave=False)
    for i in it:
        s = ds[i]
        img = np.round(np.transpose(s["image"], (1, 2, 0)) * 255).astype(np.uint8)
        maps = predict_maps(net, img, max_side=max_side, precision=precision)
        yield s.get("name", str(i)), maps["skeleton"], maps["scale"], s


def evaluate_model(net: SkeletonNet, ds, thresholds: int = 100, tolerance: float = 0.01, max_side: Optional[int] = None,
                   precision: str = "auto", max_images: Optional[int] = None, workers: Optional[int] = None,
                   segments: bool = False, progress: bool = False) -> Dict[str, object]:
    """Skeleton localisation (ODS/OIS/AP) of a model on a dataset; with ``segments=True`` also the object
    segmentation metrics (F, Covering, mean segments) of segments rebuilt at the ODS threshold, against
    the dataset's figure-ground masks (sample key ``"mask"``)."""
    from .metrics import evaluate_segments, evaluate_skeletons
    from .inference import thin_skeleton
    from .segments import segments_from_skeleton

    t0 = time.perf_counter()
    preds, gts, scales, masks = [], [], [], []
    for _, skel, scale, s in predict_dataset(net, ds, max_side, precision, max_images, progress):
        preds.append(skel)
        gts.append(s["skeleton"])
        scales.append(scale)
        masks.append(s.get("mask"))
    t_pred = time.perf_counter() - t0
    res = evaluate_skeletons(preds, gts, thresholds=thresholds, tolerance=tolerance, workers=workers)
    out = res.to_dict()
    out["ods_threshold"] = float(res.ods_threshold)
    out["predict_seconds"] = round(t_pred, 1)
    out["eval_seconds"] = round(time.perf_counter() - t0 - t_pred, 1)
    if segments:
        pairs = []
        for skel, scale, mask in zip(preds, scales, masks):
            if mask is None:
                raise ValueError("segment evaluation needs figure-ground masks (sample key 'mask')")
            thin = thin_skeleton(skel, res.ods_threshold)
            pairs.append((segments_from_skeleton(thin, np.nan_to_num(scale)), mask.astype(np.int32)))
        out["segments"] = evaluate_segments(pairs)
    return out
