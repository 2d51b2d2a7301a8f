"""Tune the second pass of ``predict pose2d``'s auto window (box padding and multi-scale test) on LSP-extended **val**.

    python benchmarks/tune_pose2d_second_pass.py --n 300 --out benchmarks/results/pose2d_second_pass_tuning.json

The whole-image pass runs once per person (flip test on); its box of all joints (:func:`joint_box`, as
``predict_pose_auto``) is then the person box of a second pass for every ``--paddings`` x ``--scale-sets``
combination (a scale set is the ``--scales`` of ``predict``: window factors whose heatmaps are fused in the
factor-1 frame). The annotated window with each scale set is the reference (a perfect person box). Output: PCK@0.2
(torso, LSP protocol) of each setting and its number of network windows per person, so accuracy is weighed against
time. Val images only (the first N persons): the held-out LSP-extended images are never used to choose settings.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from structnet import hub
from structnet.keypoints.datasets import read_lspet
from structnet.pose2d.inference import AUTO_MIN_JOINTS, AUTO_SCORE, joint_box, predict_pose
from structnet.keypoints.metrics import pck_torso
from structnet.runtime import set_threads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--root", default="../shared/data/lspet")
    ap.add_argument("--n", type=int, default=300, help="first N val persons")
    ap.add_argument("--paddings", default="1.3,1.4,1.55,1.7")
    ap.add_argument("--scale-sets", default="1;0.9,1,1.1;0.8,1,1.25;1,1.2",
                    help="';'-separated scale sets, each comma-separated window factors")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/pose2d_second_pass_tuning.json")
    a = ap.parse_args()
    set_threads(a.threads)
    model = hub.load(a.model, task="pose2d", backend=a.backend)
    recs = read_lspet(a.root, split="val")[:a.n]
    paddings = [float(p) for p in a.paddings.split(",")]
    scale_sets = [tuple(float(v) for v in s.split(",")) for s in a.scale_sets.split(";")]
    gt = np.stack([r.keypoints[:, :2] for r in recs])
    vis = np.stack([np.asarray(r.annotated, bool) for r in recs])
    keys = [("image", 1.0, (1.0,))] + [("annotation", 1.25, s) for s in scale_sets] + \
        [("auto", p, s) for p in paddings for s in scale_sets]
    preds = {k: [] for k in keys}
    t0 = time.time()
    for r in recs:
        img = r.load_image()
        first = predict_pose(model, img)
        preds[keys[0]].append(first["keypoints"])
        box = joint_box(first["keypoints"], first["scores"], img.shape[:2], AUTO_MIN_JOINTS, AUTO_SCORE)
        for kind, pad, sset in keys[1:]:
            if kind == "annotation":
                out = predict_pose(model, img, center=r.center, scale=float(r.scale), scales=sset)["keypoints"]
            elif box is None:
                out = first["keypoints"]
            else:
                out = predict_pose(model, img, box=box, padding=pad, scales=sset)["keypoints"]
            preds[(kind, pad, sset)].append(out)
    res = {"model": model.name, "backend": model.backend, "n_persons": len(recs),
           "seconds": round(time.time() - t0, 1), "settings": []}
    for (kind, pad, sset), v in preds.items():
        windows = 1 if kind == "image" else len(sset) + (1 if kind == "auto" else 0)
        res["settings"].append({"window": kind, "padding": pad, "scales": list(sset), "windows_per_person": windows,
                                "pck@0.2": round(float(pck_torso(np.stack(v), gt, vis)[1]), 4)})
    for s in sorted(res["settings"], key=lambda d: -d["pck@0.2"]):
        print(f"{s['pck@0.2']:.4f}  {s['window']:10s} pad={s['padding']:<5} scales={s['scales']} "
              f"({s['windows_per_person']} windows)")
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
