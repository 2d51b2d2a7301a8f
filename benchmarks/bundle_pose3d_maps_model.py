"""Package a trained image -> skeleton-map network (issue 10 (b)) as a bundled model with its model card.

    python benchmarks/bundle_pose3d_maps_model.py --weights runs/pose3d/image_maps_h36m_cpu/model.safetensors \
        --eval benchmarks/results/pose3d_image_maps_synthetic.json --config image_maps_h36m_cpu \
        --name skeleton_map_net_h36m --budget "..." --half

Writes ``<name>.safetensors`` (metadata plus the name and the results of ``structnet eval pose3d --input synthetic
--json``) and ``MODEL_CARD_<name>.md`` next to it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import hub, tasks
from structnet.hub import WEIGHTS_DIR


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--eval", required=True, help="JSON of 'structnet eval pose3d --input synthetic --json'")
    ap.add_argument("--config", required=True, help="the packaged config the weights were trained with")
    ap.add_argument("--name", required=True)
    ap.add_argument("--budget", required=True, help="the card's budget line (data, steps, wall time, machine)")
    ap.add_argument("--half", action="store_true", help="float16 kernels (half the file; loading casts back)")
    a = ap.parse_args()
    m = hub.load(a.weights, task="pose3d")
    ev = json.loads(Path(a.eval).read_text())
    meta = {k: v for k, v in m.metadata.items() if k != "name"}
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    tasks.get("pose3d").save_model(m.network, out, meta, name=a.name, config=a.config,
                                   evaluation={"synthetic": ev}, half=a.half)
    cfg = m.network.config()
    hyp = ", ".join(f"w{h['width']:g}: {h['mpjpe_mm']:.1f}" for h in ev["hypotheses"])
    card = f"""# Model card: `{a.name}` (structnet pose3d, image -> skeleton maps)

The deconvolution network of Wan et al. 2017 (Sec. 3.2): a {4 * cfg['map_size']} x {4 * cfg['map_size']}
RGB crop of a person (the square box of 1.2 x the extent of their 2D joints) -> front and back
skeleton maps ({cfg['map_size']} x {cfg['map_size']}, 15 coloured parts) for each hypothesis of the bundled lifter
`skeleton_map_lifter_h36m` (stick widths {', '.join(f'{w:g}' for w in cfg['widths'])} map pixels), whose regressors
turn them into 3D joints. Encoder `{cfg['backbone']}` (ImageNet weights, offline), decoder of bilinear-initialised x2
deconvolutions and residual modules with skip connections, intermediate supervision at strides 32, 16, 8 and 4,
sigmoid cross entropy.

* **Trained with** `structnet train pose3d --config {a.config}` on **synthetic people** (shaded capsules posed by
  Human3.6M S1, S5, S6, S7, S8, seen from the real cameras, on DUTS-TR backgrounds; no Human3.6M images exist
  here), then with LSP-extended photos mixed in. {a.budget}
* **Size**: {out.stat().st_size / 2 ** 20:.1f} MB{' (float16 kernels)' if a.half else ''}.
* **Evaluated with** `structnet eval pose3d --input synthetic --every {ev.get('every', '?')}` on S9 and S11 rendered
  the same way on ECSSD backgrounds (other people, other backgrounds than training; fixed seeds):
  skeleton-map IoU {ev['maps_iou']:.3f} against the maps drawn from the GT joints; through the lifter MPJPE
  {ev['mpjpe_mm']:.1f} mm (protocol #1), P-MPJPE {ev['p_mpjpe_mm']:.1f} mm, {ev['n_frames']} frames; each
  hypothesis alone {hyp}; average pose {ev['average_pose_mpjpe_mm']:.1f}; oracle {ev['oracle_mpjpe_mm']:.1f}.
  The hypothesis is chosen by reprojection against the projected GT 2D joints.

Published (Human3.6M images, protocol #1): Wan et al. 2017, predicted maps, one hypothesis 101.9 mm, multiple
hypotheses 86.5 mm.

* **What this does not measure**: real images. Capsule people have a real person's layout, limb thickness,
  self-occlusion and perspective, but not their appearance (clothes, hands, faces, hair, other people), so the
  synthetic numbers are an upper bound for photos. `structnet predict pose3d --maps-model {a.name}` uses it on
  photos (the person box from the bundled pose2d model's joints); see docs/pose3d.md for what it does on
  LSP-extended photos (its maps of real people are blurred; the default draws the maps from the 2D joints).
"""
    (WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md").write_text(card)
    print(f"{out} ({out.stat().st_size / 2 ** 20:.1f} MB) and MODEL_CARD_{a.name}.md")


if __name__ == "__main__":
    main()
