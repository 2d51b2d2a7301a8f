"""Markdown tables of the 3D pose results (docs/pose3d.md) from the committed JSON of `structnet eval pose3d --json`.

    python benchmarks/report_pose3d.py            # prints the tables
    python benchmarks/report_pose3d.py --write    # rewrites the marked ones in docs/pose3d.md (_docblocks.py)
"""
from __future__ import annotations

import json
from pathlib import Path

RES = Path(__file__).resolve().parent / "results"
ROWS = [  # (label, JSON stem): every stored test frame
    ("keypoint MLP, Martinez et al., bundled `keypoint_lifter_h36m`, the default lifter (`lift_keypoints_h36m_cpu_"
     "long` + `_ft2` on GT 2D, + `_sh` + `_sh_stage4` on half SH detections of the training subjects; 225 min), SH "
     "detections, mirroring", "pose3d_sh_trained_keypoints_stage4_sh"),
    ("keypoint MLP, bundled, GT 2D, mirroring", "pose3d_sh_trained_keypoints_stage4_gt2d"),
    ("skeleton maps, 3 hypotheses, bundled `skeleton_map_lifter_h36m` (`lift_maps_h36m_cpu` + `_ft2` + `_ft3`), "
     "GT 2D, GT depth order, test-time mirroring", "pose3d_bundle_gt2d_flip"),
    ("skeleton maps, 3 hypotheses, bundled, SH detections, estimated depth order, mirroring", "pose3d_bundle_sh_flip"),
    ("keypoint MLP, previous bundle (stage 3: `lift_keypoints_h36m_cpu_long` + `_ft2` + `_sh`; 0.85x the maps "
     "lifter's wall-clock), SH detections, mirroring", "pose3d_sh_trained_keypoints_sh"),
    ("keypoint MLP, previous bundle (stage 3), GT 2D, mirroring", "pose3d_sh_trained_keypoints_gt2d"),
    ("keypoint MLP, stages 1-2 (`lift_keypoints_h36m_cpu_long` + `_ft2`, GT 2D only), GT 2D, mirroring",
     "pose3d_lift_keypoints_long_ft2_gt2d"),
    ("keypoint MLP, stages 1-2, SH detections, mirroring", "pose3d_lift_keypoints_long_ft2_sh"),
    ("keypoint MLP, stages 1-2, SH detections, mirroring, `--sh-offsets cross-subject` (S9 with S11's "
     "offsets, S11 with S9's)", "pose3d_lift_keypoints_long_ft2_sh_offsets"),
    ("ensemble: bundled skeleton-map lifter + keypoint MLP of stages 1-2, mean of their chosen poses "
     "(`--model skeleton_map_lifter_h36m --ensemble keypoint_lifter_h36m`), GT 2D, mirroring",
     "pose3d_ensemble_maps_keypoints_gt2d"),
    ("ensemble: the same two, SH detections, mirroring", "pose3d_ensemble_maps_keypoints_sh"),
    ("keypoint MLP, stage 1 alone (`lift_keypoints_h36m_cpu_long`, half the lifter's wall-clock), GT 2D, mirroring",
     "pose3d_lift_keypoints_long_gt2d"),
    ("keypoint MLP, stage 1 alone, SH detections, mirroring", "pose3d_lift_keypoints_long_sh"),
    ("keypoint MLP, bundled + 12,000 steps with detector-like outliers (`lift_keypoints_h36m_cpu_outliers`), GT 2D, "
     "mirroring", "pose3d_lift_keypoints_outliers_gt2d"),
    ("keypoint MLP, + outliers, SH detections, mirroring", "pose3d_lift_keypoints_outliers_sh"),
    ("skeleton maps, 3 hypotheses, bundled, GT 2D, GT depth order, `--no-flip`", "pose3d_ft3_gt2d"),
    ("skeleton maps, 3 hypotheses, bundled, SH detections, estimated depth order, `--no-flip`", "pose3d_ft3_sh"),
    ("skeleton maps, 3 hypotheses, previous bundle (`lift_maps_h36m_cpu` + `_ft2`), GT 2D, GT depth order",
     "pose3d_lift_maps_ft2_gt2d"),
    ("skeleton maps, 3 hypotheses, previous bundle, SH detections, estimated depth order", "pose3d_lift_maps_ft2_sh"),
    ("skeleton maps, 3 hypotheses, stage 1 (`lift_maps_h36m_cpu`), GT 2D, GT depth order", "pose3d_lift_maps_gt2d"),
    ("skeleton maps, 3 hypotheses, stage 1, GT 2D, no depth order (front = back)", "pose3d_lift_maps_gt2d_order_none"),
    ("keypoint MLP, Martinez et al. (`lift_keypoints_h36m_cpu`), GT 2D", "pose3d_lift_keypoints_gt2d"),
    ("skeleton maps, 3 hypotheses, stage 1, SH detections, estimated depth order", "pose3d_lift_maps_sh"),
    ("skeleton maps, 3 hypotheses, stage 1, SH detections, no depth order", "pose3d_lift_maps_sh_order_none"),
    ("keypoint MLP, SH detections", "pose3d_lift_keypoints_sh"),
]
EVERY5 = [  # equal-budget baselines on every 5th test frame (5000 steps of batch 128 each)
    ("3 hypotheses, widths 1.5 / 3 / 4.5 (stage 1), GT 2D", "pose3d_lift_maps_gt2d_every5"),
    ("ensemble: 3 regressors on width 3 (`lift_maps_h36m_cpu_ensemble`), GT 2D", "pose3d_lift_maps_ensemble_gt2d_every5"),
    ("3 hypotheses, widths 1.5 / 3 / 4.5 (stage 1), SH detections", "pose3d_lift_maps_sh_every5"),
    ("ensemble: 3 regressors on width 3, SH detections", "pose3d_lift_maps_ensemble_sh_every5"),
]
SYNTHETIC = [  # the image -> maps network on synthetic renderings of S9 / S11
    ("image -> maps network, bundled (`image_maps_h36m_cpu` + `image_maps_h36m_cpu_real`) -> bundled lifter",
     "pose3d_image_maps_synthetic_lifter_ft3"),
    ("maps drawn from the GT 2D joints (GT depth order) -> bundled lifter, same frames", "pose3d_lift_maps_ft3_gt2d_every10"),
    ("image -> maps network, bundled -> previous lifter (`_ft2`)", "pose3d_image_maps_synthetic"),
    ("image -> maps network, stage 1 (synthetic people only) -> previous lifter", "pose3d_image_maps_stage1_synthetic"),
    ("maps drawn from the GT 2D joints (GT depth order) -> previous lifter, same frames", "pose3d_lift_maps_ft2_gt2d_every10"),
]
SELECT = [  # the training input mix chosen on S8 (keypoint MLP from scratch on S1, S5, S6, S7, 4000 steps)
    ("GT 2D only (`data.sh_prob 0`)", "pose3d_select_sh_mix_0.0"),
    ("half SH detections, half GT 2D (`data.sh_prob 0.5`, chosen)", "pose3d_select_sh_mix_0.5"),
    ("SH detections only (`data.sh_prob 1`, Martinez et al.)", "pose3d_select_sh_mix_1.0"),
]
SH_TRAINED_EVERY5 = [  # the skeleton-map lifter trained on half SH detections, every 5th stored test frame
    ("skeleton maps, 3 hypotheses, bundle + `lift_maps_h36m_cpu_sh` (1399 steps on half SH detections, 35 min), SH "
     "detections, estimated depth order, mirroring", "pose3d_sh_trained_maps_sh_every5"),
    ("the same, GT 2D, GT depth order, mirroring", "pose3d_sh_trained_maps_gt2d_every5"),
    ("ensemble: the same + bundled keypoint MLP (trained on half SH detections), SH detections, mirroring",
     "pose3d_sh_trained_ensemble_sh_every5"),
]
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases", "Sitting",
           "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether")


def _table(rows, extra: bool = False, scale: bool = False) -> list:
    head = "| model, input | MPJPE (mm) | P-MPJPE (mm) |" + (" N-MPJPE (mm) |" if scale else "")
    head += " each hypothesis alone | average pose | oracle |"
    print(head + (" maps IoU |" if extra else "") + " frames |")
    print("|---|---|---|---|---|---|" + ("---|" if scale else "") + ("---|" if extra else "") + "---|")
    found = []
    for label, stem in rows:
        f = RES / f"{stem}.json"
        if not f.is_file():
            continue
        r = json.loads(f.read_text())
        found.append((label, r))
        multi = len(r["hypotheses"]) > 1
        hyp = ", ".join(f"{h['mpjpe_mm']:.1f}" for h in r["hypotheses"]) if multi else "-"
        if r.get("ensemble_members"):  # the JSON's per-hypothesis, average and oracle are the first member's
            hyp = "members alone: " + ", ".join(f"{m['mpjpe_mm']:.1f}" for m in r["ensemble_members"])
            multi = False
        avg = f"{r['average_pose_mpjpe_mm']:.1f}" if multi else "-"
        orc = f"{r['oracle_mpjpe_mm']:.1f}" if multi else "-"
        iou = (f" {r['maps_iou']:.3f} |" if "maps_iou" in r else " - |") if extra else ""
        nm = (f" {r['n_mpjpe_mm']:.1f} |" if "n_mpjpe_mm" in r else " - |") if scale else ""
        print(f"| {label} | **{r['mpjpe_mm']:.1f}** | {r['p_mpjpe_mm']:.1f} |{nm} {hyp} | {avg} | {orc} |{iou} "
              f"{r['n_frames']} |")
    print()
    return found


def print_all() -> None:
    found = _table(ROWS, scale=True)
    print("| model, 2D input | " + " | ".join(ACTIONS) + " | Avg |")
    print("|---|" + "---|" * (len(ACTIONS) + 1))
    for label, r in found:
        pa = r["per_action"]
        print(f"| {label} | " + " | ".join(f"{pa[a]:.1f}" if a in pa else "-" for a in ACTIONS)
              + f" | {r['mpjpe_mm']:.1f} |")
    print()
    _table(EVERY5)
    _table(SYNTHETIC, extra=True)
    print("| training input (validation: S8, every stored frame, mirroring) | GT 2D: MPJPE (mm) | P-MPJPE | "
          "SH detections: MPJPE (mm) | P-MPJPE | frames |")
    print("|---|---|---|---|---|---|")
    for label, stem in SELECT:
        if not (RES / f"{stem}_gt2d.json").is_file() or not (RES / f"{stem}_sh.json").is_file():
            continue
        g, d = (json.loads((RES / f"{stem}_{k}.json").read_text()) for k in ("gt2d", "sh"))
        print(f"| {label} | **{g['mpjpe_mm']:.1f}** | {g['p_mpjpe_mm']:.1f} | **{d['mpjpe_mm']:.1f}** | "
              f"{d['p_mpjpe_mm']:.1f} | {g['n_frames']} |")
    print()
    _table(SH_TRAINED_EVERY5)


def blocks():
    import _docblocks

    return _docblocks.printed_blocks(print_all)


def main(argv=None) -> int:
    import _docblocks

    return _docblocks.main("report_pose3d.py", "docs/pose3d.md", blocks, argv)


if __name__ == "__main__":
    raise SystemExit(main())
