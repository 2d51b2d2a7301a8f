"""Tune the whole-image person window of ``predict pose2d`` (``--window auto``) on LSP-extended **val**.

    python benchmarks/tune_pose2d_window.py --model mss_msr_efficientnet_lite0_lsp --n 300 \
        --out benchmarks/results/pose2d_window_tuning.json

The whole-image pass runs once per image; then, for every setting of the second pass (score threshold of the joints
whose box becomes the person box, the padding of that box, and whether the second pass is always kept or only when
its mean score is not lower), PCK@0.2 (torso, LSP protocol) of what ``predict_pose_auto`` would output. Also the
whole-image pass alone (``--window image``) and the annotated window (the upper bound of a perfect person box).
Val images only: the held-out LSP-extended images are never used to choose these settings.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from structnet import hub
from structnet.keypoints.datasets import read_lspet
from structnet.pose2d.inference import joint_box, predict_pose
from structnet.keypoints.metrics import pck_torso


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--root", default="../shared/data/lspet")
    ap.add_argument("--n", type=int, default=300, help="first N val persons")
    ap.add_argument("--thresholds", default="0.0,0.1,0.2,0.3")
    ap.add_argument("--paddings", default="1.15,1.25,1.4")
    ap.add_argument("--min-joints", type=int, default=4)
    ap.add_argument("--out", default="benchmarks/results/pose2d_window_tuning.json")
    a = ap.parse_args()
    model = hub.load(a.model, task="pose2d")
    recs = read_lspet(a.root, split="val")[:a.n]
    thresholds = [float(t) for t in a.thresholds.split(",")]
    paddings = [float(p) for p in a.paddings.split(",")]
    gt = np.stack([r.keypoints[:, :2] for r in recs])
    vis = np.stack([np.asarray(r.annotated, bool) for r in recs])
    preds = {"image": [], "annotation": []}
    settings = list(itertools.product(thresholds, paddings, ("if_not_lower", "always")))
    for s in settings:
        preds[s] = []
    t0 = time.time()
    for r in recs:
        img = r.load_image()
        first = predict_pose(model, img)
        preds["image"].append(first["keypoints"])
        preds["annotation"].append(predict_pose(model, img, center=r.center, scale=float(r.scale))["keypoints"])
        kp, sc = first["keypoints"], first["scores"]
        cache = {}
        for thr, pad, keep in settings:
            box = joint_box(kp, sc, img.shape[:2], a.min_joints, thr)  # the box predict_pose_auto takes
            out = kp
            if box is not None:
                if (thr, pad) not in cache:
                    cache[(thr, pad)] = predict_pose(model, img, box=box, padding=pad)
                second = cache[(thr, pad)]
                if keep == "always" or np.nanmean(second["scores"]) >= np.nanmean(sc):
                    out = second["keypoints"]
            preds[(thr, pad, keep)].append(out)
    res = {"model": model.name, "n_persons": len(recs), "seconds": round(time.time() - t0, 1), "pck@0.2": {}}
    for k, v in preds.items():
        name = k if isinstance(k, str) else f"auto thr={k[0]} pad={k[1]} keep={k[2]}"
        res["pck@0.2"][name] = round(float(pck_torso(np.stack(v), gt, vis)[1]), 4)
    for k, v in sorted(res["pck@0.2"].items(), key=lambda kv: -kv[1]):
        print(f"{v:.4f}  {k}")
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
