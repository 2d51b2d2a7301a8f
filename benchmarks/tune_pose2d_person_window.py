"""Choose how ``predict pose2d`` uses its person-box model, on LSP-extended **val** (never the held-out images).

    python benchmarks/tune_pose2d_person_window.py --model mss_msr_efficientnet_lite0_lsp \
        --person person_box_lite0_lspet --n 300 --out benchmarks/results/pose2d_person_window_tuning.json

Per val person: the annotated window (the upper bound of a perfect person box), the whole-image two-pass window
without a person model, and with the person model's box: the box enlarged by each ``--paddings`` value alone, and
followed by a second pass on the box of the joints found there (enlarged by each ``--second-paddings`` value).
Also, per photo, the better of two windows by the mean joint score of their final passes ("best of A or B, by
score"). Prints and writes PCK@0.2 (torso, LSP protocol) of each, and the person box's IoU with the annotated
joints' box.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from structnet import hub
from structnet.keypoints.datasets import read_lspet
from structnet.keypoints.metrics import pck_torso
from structnet.nn.localization import locate
from structnet.pose2d.inference import joint_box, predict_pose, predict_pose_auto
from structnet.pose2d.person import box_iou, joints_box


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="pose model (default: the bundled default)")
    ap.add_argument("--person", required=True, help="person-box model (bundled name or weights file)")
    ap.add_argument("--root", default="../shared/data/lspet")
    ap.add_argument("--n", type=int, default=300, help="first N val persons")
    ap.add_argument("--paddings", default="1.15,1.25,1.4")
    ap.add_argument("--second-paddings", default="1.25,1.4")
    ap.add_argument("--out", default="benchmarks/results/pose2d_person_window_tuning.json")
    a = ap.parse_args()
    model = hub.load(a.model, task="pose2d", backend="auto")
    person = hub.load(a.person, task="pose2d")
    recs = read_lspet(a.root, split="val")[:a.n]
    paddings = [float(p) for p in a.paddings.split(",")]
    seconds = [float(p) for p in a.second_paddings.split(",")]
    gt = np.stack([r.keypoints[:, :2] for r in recs])
    vis = np.stack([np.asarray(r.annotated, bool) for r in recs])
    preds: dict = {}
    scores: dict = {}
    ious = []
    t0 = time.time()
    for r in recs:
        img = r.load_image()
        h, w = img.shape[:2]

        def add(name, res):
            preds.setdefault(name, []).append(np.asarray(res["keypoints"], np.float64))
            scores.setdefault(name, []).append(float(np.nanmean(res["scores"])))

        add("annotation", predict_pose(model, img, center=r.center, scale=float(r.scale)))
        add("image two-pass (no person model)", predict_pose_auto(model, img))
        box = tuple(float(v) for v in locate(person.network, img))
        g = joints_box(r.keypoints, r.annotated, (-0.5, -0.5, w - 0.5, h - 0.5))
        ious.append(float(box_iou(np.array(box), g)[0]) if g is not None else np.nan)
        for pad in paddings:
            first = predict_pose(model, img, box=box, padding=pad)
            add(f"person pad={pad}", first)
            jb = joint_box(first["keypoints"], first["scores"], (h, w))
            for sp in seconds:
                add(f"person pad={pad} + joints pad={sp}",
                    first if jb is None else predict_pose(model, img, box=jb, padding=sp))
    for name in [k for k in preds if "+ joints" in k]:
        pick = np.array(scores[name]) >= np.array(scores["image two-pass (no person model)"])
        preds[f"best of ({name}) or image two-pass, by score"] = [
            a if p else b for a, b, p in zip(preds[name], preds["image two-pass (no person model)"], pick)]
    res = {"model": model.name, "person": person.name, "n_persons": len(recs),
           "seconds": round(time.time() - t0, 1), "person_box_iou": {
               "mean": round(float(np.nanmean(ious)), 4), "iou50": round(float(np.nanmean(np.array(ious) >= 0.5)), 4)},
           "pck@0.2": {}}
    for k, v in preds.items():
        res["pck@0.2"][k] = round(float(pck_torso(np.stack(v), gt, vis)[1]), 4)
    print(f"person box IoU {res['person_box_iou']}")
    for k, v in sorted(res["pck@0.2"].items(), key=lambda kv: -kv[1]):
        print(f"{v:.4f}  {k}")
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
