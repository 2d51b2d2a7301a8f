"""What the Stacked Hourglass detections cost the lifting (docs/pose3d.md, "What limits the lifter"): the 2D error
of the detections against the projected GT joints, and the MPJPE of one lifter fed the GT 2D joints with errors of
the same size but different structure.

    python benchmarks/diagnose_pose3d_sh.py [--model keypoint_lifter_h36m] [--every 10]

On every ``--every``-th stored frame of S9 / S11 with detections (all cameras), test-time mirroring as the eval's
default, MPJPE in mm (unweighted mean over actions):
* ``gt2d``: the projected GT joints; ``sh``: the detections (as ``structnet eval pose3d --input sh``);
* ``gt2d_plus_gaussian``: GT + i.i.d. Gaussian noise with each joint's RMS detection error (per axis);
* ``gt2d_plus_shuffled_errors``: GT + the detection error vectors of *other* frames (same joint, same camera,
  errors in units of the person box side): the detectors' error distribution, joint by joint, without its link to
  the pose shown;
* ``gt2d_plus_errors_without_offsets``: GT + each frame's own error minus the per-joint median error (the
  systematic offsets, fitted here on the evaluated frames themselves: a diagnostic, not a method).
Writes ``benchmarks/results/pose3d_sh_error_anatomy.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from structnet import hub
from structnet.pose3d.h36m import H36M
from structnet.pose3d.metrics import mpjpe, per_action
from structnet.pose3d.model import normalise_2d
from structnet.pose3d.joints import JOINTS, sh_to_h36m
from structnet.pose3d.inference import lift

OUT = Path(__file__).resolve().parent / "results" / "pose3d_sh_error_anatomy.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="keypoint_lifter_h36m")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--data", default=os.path.join(os.environ.get("STRUCTNET_DATA", "../shared/data"), "h36m"))
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    m = hub.load(a.model, task="pose3d")
    net = m.network
    h = H36M(a.data)
    arr = h.arrays(["S9", "S11"], need_detections=True, every=a.every)
    gt2, cam, act = arr["joints_2d"].astype(np.float64), arr["joints_cam"].astype(np.float64), arr["action"]
    det = sh_to_h36m(arr["detections"]).astype(np.float64)
    ok = np.isfinite(det).all(axis=(1, 2))
    gt2, cam, act, det, cams = gt2[ok], cam[ok], act[ok], det[ok], arr["camera"][ok]
    err = det - gt2                                                     # (N, 17, 2) px
    _, _, side = normalise_2d(gt2, net.box_scale)
    rel = err / side[:, None, None]                                     # in units of the person box side
    rng = np.random.default_rng(0)

    def score(j2):
        order = "estimated" if net.kind == "maps" else "none"
        hyps = lift(net, j2, cam[..., 2], order, 512, flip=True)
        # the lifter's own choice is not needed for a one-hypothesis model; maps: the middle-width hypothesis
        pose = hyps[:, hyps.shape[1] // 2] if hyps.shape[1] > 1 else hyps[:, 0]
        return per_action(mpjpe(pose, cam), act)["Avg"]

    shuffled = np.empty_like(rel)
    for c in np.unique(cams):                                           # other frames of the same camera
        idx = np.flatnonzero(cams == c)
        for j in range(17):
            shuffled[idx, j] = rel[rng.permutation(idx), j]
    rms = np.sqrt((rel ** 2).mean(axis=0))                              # (17, 2) per joint and axis
    dist = np.linalg.norm(err, axis=-1)
    res = {
        "model": m.name, "every": a.every, "n_frames": int(len(gt2)), "flip_test": True,
        "detection_error_px": {"mean": float(dist.mean()), "median": float(np.median(dist)),
                               "fraction_over_20px": float((dist > 20).mean()),
                               "fraction_over_50px": float((dist > 50).mean())},
        "detection_error_box_side": {"mean": float(np.linalg.norm(rel, axis=-1).mean()),
                                     "per_joint_mean": {n: float(v) for n, v in
                                                        zip(JOINTS, np.linalg.norm(rel, axis=-1).mean(0))}},
        "mpjpe_mm": {
            "gt2d": score(gt2),
            "sh": score(det),
            "gt2d_plus_gaussian": score(gt2 + rng.normal(size=gt2.shape) * rms[None] * side[:, None, None]),
            "gt2d_plus_shuffled_errors": score(gt2 + shuffled * side[:, None, None]),
            "gt2d_plus_errors_without_offsets": score(gt2 + (rel - np.median(rel, axis=0)) * side[:, None, None]),
        },
        "protocol": "MPJPE after hip alignment, mm, unweighted mean over actions; S9 and S11 frames with detections",
    }
    res["seconds"] = round(time.time() - t0, 1)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res["detection_error_px"]), json.dumps(res["mpjpe_mm"], indent=1))


if __name__ == "__main__":
    main()
