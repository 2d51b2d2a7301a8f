"""Markdown tables of the 3D pose results (README) from the committed JSON of `structnet eval pose3d --json`.

    python benchmarks/report_pose3d.py
"""
from __future__ import annotations

import json
from pathlib import Path

RES = Path(__file__).resolve().parent / "results"
ROWS = [  # (label, JSON stem)
    ("skeleton maps, 3 hypotheses (`lift_maps_h36m_cpu`), GT 2D, GT depth order", "pose3d_lift_maps_gt2d"),
    ("skeleton maps, 3 hypotheses, GT 2D, no depth order (front = back)", "pose3d_lift_maps_gt2d_order_none"),
    ("keypoint MLP, Martinez et al. (`lift_keypoints_h36m_cpu`), GT 2D", "pose3d_lift_keypoints_gt2d"),
    ("skeleton maps, 3 hypotheses, SH detections, estimated depth order", "pose3d_lift_maps_sh"),
    ("skeleton maps, 3 hypotheses, SH detections, no depth order", "pose3d_lift_maps_sh_order_none"),
    ("keypoint MLP, SH detections", "pose3d_lift_keypoints_sh"),
]
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases", "Sitting",
           "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether")


def main() -> None:
    print("| model, 2D input | MPJPE (mm) | P-MPJPE (mm) | each hypothesis alone | average pose | oracle | frames |")
    print("|---|---|---|---|---|---|---|")
    found = []
    for label, stem in ROWS:
        f = RES / f"{stem}.json"
        if not f.is_file():
            continue
        r = json.loads(f.read_text())
        found.append((label, r))
        hyp = ", ".join(f"{h['mpjpe_mm']:.1f}" for h in r["hypotheses"]) if len(r["hypotheses"]) > 1 else "-"
        multi = len(r["hypotheses"]) > 1
        avg = f"{r['average_pose_mpjpe_mm']:.1f}" if multi else "-"
        orc = f"{r['oracle_mpjpe_mm']:.1f}" if multi else "-"
        print(f"| {label} | **{r['mpjpe_mm']:.1f}** | {r['p_mpjpe_mm']:.1f} | {hyp} | {avg} | {orc} | {r['n_frames']} |")
    print()
    print("| model, 2D input | " + " | ".join(ACTIONS) + " | Avg |")
    print("|---|" + "---|" * (len(ACTIONS) + 1))
    for label, r in found:
        pa = r["per_action"]
        print(f"| {label} | " + " | ".join(f"{pa[a]:.1f}" if a in pa else "-" for a in ACTIONS)
              + f" | {r['mpjpe_mm']:.1f} |")


if __name__ == "__main__":
    main()
