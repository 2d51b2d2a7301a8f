"""Package a trained 3D pose lifter as a bundled model (src/structnet/weights/) with its model card.

    python benchmarks/bundle_pose3d_model.py --weights runs/pose3d/lift_maps_h36m_cpu/model.safetensors \
        --eval-gt2d benchmarks/results/pose3d_lift_maps_gt2d.json --eval-sh benchmarks/results/pose3d_lift_maps_sh.json \
        --config lift_maps_h36m_cpu --name skeleton_map_lifter_h36m --budget "..." --half

Writes ``<name>.safetensors`` (the weights; metadata plus the name and the Human3.6M results of the two eval JSONs,
written by ``structnet eval pose3d --json``) and ``MODEL_CARD_<name>.md`` next to it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import hub, tasks
from structnet.hub import WEIGHTS_DIR


def _row(name: str, ev: dict) -> str:
    hyp = ", ".join(f"w{h['width']:g}: {h['mpjpe_mm']:.1f}" for h in ev["hypotheses"])
    flip = "yes" if ev.get("flip_test") else "no"
    return (f"| {name} | {flip} | {ev['mpjpe_mm']:.1f} | {ev['p_mpjpe_mm']:.1f} | {ev['depth_order']} | {hyp} | "
            f"{ev['average_pose_mpjpe_mm']:.1f} | {ev['oracle_mpjpe_mm']:.1f} | {ev['n_frames']} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--eval-gt2d", required=True, help="JSON of 'structnet eval pose3d --input gt2d --json'")
    ap.add_argument("--eval-sh", default=None, help="JSON of 'structnet eval pose3d --input sh --json'")
    ap.add_argument("--extra", nargs=2, action="append", default=[], metavar=("LABEL", "JSON"),
                    help="more rows for the card's table (e.g. the --no-flip evaluations)")
    ap.add_argument("--config", required=True, help="the packaged config the weights were trained with")
    ap.add_argument("--name", required=True)
    ap.add_argument("--budget", required=True, help="the card's budget line (data, steps, wall time, machine)")
    ap.add_argument("--half", action="store_true", help="float16 kernels (half the file; loading casts back)")
    ap.add_argument("--note", action="append", default=[], help="another bullet at the end of the card (repeatable)")
    a = ap.parse_args()
    m = hub.load(a.weights, task="pose3d")
    gt = json.loads(Path(a.eval_gt2d).read_text())
    sh = json.loads(Path(a.eval_sh).read_text()) if a.eval_sh else None
    meta = {k: v for k, v in m.metadata.items() if k != "name"}
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    tasks.get("pose3d").save_model(m.network, out, meta, name=a.name, config=a.config,
                                   evaluation={"gt2d": gt, "sh": sh}, half=a.half)
    cfg = m.network.config()
    rows = [_row("projected GT 2D (`--input gt2d`)", gt)] + ([_row("Stacked Hourglass detections (`--input sh`)", sh)]
                                                             if sh else [])
    rows += [_row(label, json.loads(Path(f).read_text())) for label, f in a.extra]
    per_action = " | ".join(f"{k} {v:.1f}" for k, v in gt["per_action"].items())
    if cfg["kind"] == "keypoints":
        intro = ("The keypoint-lifting baseline of Martinez et al. 2017 (\"A simple yet effective baseline for 3d "
                 "human pose estimation\"): 17 Human3.6M 2D joints, normalised to the person box -> an MLP (1024 "
                 "units, two residual blocks, BatchNorm, dropout 0.5) -> root-relative 3D joints in mm (camera "
                 "frame). No skeleton maps; the reference the skeleton-map lifter is measured against.")
    else:
        intro = (f"A skeleton-map lifter after Wan et al. 2017 (\"DeepSkeleton\"): 17 Human3.6M 2D joints -> front "
                 f"and back skeleton maps ({cfg['map_size']} x {cfg['map_size']}, 15 coloured parts, depth order by "
                 f"a z-buffer) -> one regression network per hypothesis (stick widths "
                 f"{', '.join(f'{w:g}' for w in cfg['widths'])} map pixels) -> root-relative 3D joints in mm "
                 f"(camera frame); the hypothesis whose projection best matches the 2D joints is the answer.")
    if cfg["kind"] == "keypoints":
        limits = ("* **Limits**: trained on the 5 training subjects' poses only (no image, no in-the-wild pose); on a "
                  "photo\n  (`structnet predict pose3d`) the 2D joints come from the bundled pose2d model (LSP joints "
                  "mapped to H36M's);\n  one hypothesis, no maps and no depth order (the default lifter of `predict` "
                  "and `eval pose3d`; the paper's\n  skeleton-map lifter is `--model skeleton_map_lifter_h36m`, which "
                  "`--ensemble keypoint_lifter_h36m` averages\n  with this one: docs/pose3d.md).")
    else:
        limits = ("* **Limits**: trained on the 5 training subjects' poses only (no image, no in-the-wild pose); on a "
                  "photo\n  (`structnet predict pose3d`) the 2D joints come from the bundled pose2d model (LSP joints "
                  "mapped to H36M's) and\n  the depth order from a first, order-free pass; the camera of a photo is "
                  "unknown, so the hypothesis is chosen by a\n  weak-perspective fit.")
    notes = "".join(f"\n* {n}" for n in a.note)
    card = f"""# Model card: `{a.name}` (structnet pose3d)

{intro}

* **Trained with** `structnet train pose3d --config {a.config}` on Human3.6M S1, S5, S6, S7, S8 (the 3D poses
  projected with the real cameras; no images). {a.budget}
* **Size**: {out.stat().st_size / 2 ** 20:.1f} MB{' (float16 kernels)' if a.half else ''}.
* **Evaluated with** `structnet eval pose3d --weights {out.name} --input gt2d|sh` (test-time mirroring as `flip_test` says) on S9 and S11 (every stored frame,
  10 Hz; protocol #1 MPJPE after hip alignment and protocol #2 P-MPJPE after Procrustes, mean over the 15 actions):

| 2D input | test-time mirroring | MPJPE (mm) | P-MPJPE (mm) | depth order of the maps | each hypothesis alone | average pose | oracle | frames |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Per action (GT 2D): {per_action}.

Published (Human3.6M, protocol #1): Wan et al. 2017, GT skeleton maps, one hypothesis 76.2 mm; from images with
multiple hypotheses 86.5 mm. Martinez et al. 2017: 45.5 mm from GT 2D, 62.9 mm from the detections of a Stacked
Hourglass fine-tuned on Human3.6M (the detections here come from the MPII-trained one, not fine-tuned).

{limits}{notes}
"""
    (WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md").write_text(card)
    print(f"{out} ({out.stat().st_size / 2 ** 20:.1f} MB) and MODEL_CARD_{a.name}.md")


if __name__ == "__main__":
    main()
