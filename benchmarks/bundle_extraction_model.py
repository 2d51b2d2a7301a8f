"""Package a trained extraction network pair as a bundled model (src/structnet/weights/) with its model card.

    python benchmarks/bundle_extraction_model.py --weights runs/extraction/joint_duts_cpu_ft/model.safetensors \
        --name extraction_joint_duts --config joint_duts_cpu_ft --budget "..." \
        --eval ecssd.json [--eval horses.json --eval duts_val.json] [--baseline separate_ecssd.json]

Writes ``<name>.safetensors`` (float16 kernels) and ``MODEL_CARD_<name>.md``. The card's numbers must be
re-measured with the bundled file (float16 kernels) through the CLI before they go into docs/extraction.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import hub, tasks
from structnet.hub import WEIGHTS_DIR


def _where(ev: dict) -> str:
    s = ev.get("settings", {})
    if "images" in s:
        return f"{Path(s['images']).parent.name} ({s['images']})"
    name = Path(str(s.get("data", "?"))).name
    return f"{name} {s.get('split')}" + (f", every {s['holdout']}th id (held out of training)" if s.get("holdout")
                                          else "")


def _line(ev: dict) -> str:
    return (f"J **{ev['j']:.3f}**, P {ev['p']:.3f}, MAE {ev['mae']:.3f}, max F {ev['max_f']:.3f} "
            f"({ev['n_images']} images)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--config", required=True, help="the packaged config of the last training stage")
    ap.add_argument("--budget", required=True, help="the card's budget line (data, steps, wall time, machine)")
    ap.add_argument("--eval", action="append", required=True,
                    help="JSON of 'structnet eval extraction --json' with the bundled file; the first is ECSSD")
    ap.add_argument("--baseline", action="append", default=[], help="'label=eval.json' of a baseline")
    ap.add_argument("--speed", default=None, help="JSON of benchmarks/bench_extraction_speed.py")
    a = ap.parse_args()
    m = hub.load(a.weights, task="extraction")
    evs = [json.loads(Path(p).read_text()) for p in a.eval]
    meta = {k: v for k, v in m.metadata.items() if k != "name"}
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    tasks.get("extraction").save_model(m.network, out, meta, name=a.name, config=a.config, evaluation=evs[0],
                                       half=True)
    cfg = m.network.config()
    lines = [f"# Model card: `{a.name}` (structnet extraction)", "",
             "Object extraction by joint localization and segmentation (Wang et al. 2014): a localization network "
             f"(ImageNet-pretrained `{cfg['backbone']}` on the whole image at {cfg['loc_input']} x "
             f"{cfg['loc_input']}, a 1 x 1 reduction and three fully connected layers) gives the salient object's "
             f"box; a segmentation network (`{cfg['backbone']}` up to its stride-16 stage on the box crop at "
             f"{cfg['seg_input']} x {cfg['seg_input']}, a fully connected layer for the global shape plus per-stage "
             f"score convolutions) gives a {cfg['mask_size']} x {cfg['mask_size']} mask of the box, pasted back at "
             "the photo's size and thresholded at 0.5. Trained jointly: per batch an E-step picks each image's "
             "latent box adjustment (625 candidates, {-10, -5, 0, 5, 10} units of 1/224 of the image side per "
             "coordinate) with K = 20 Metropolis-Hastings moves (proposal: a Gaussian around the image's earlier "
             "optimal adjustments x the share of SLIC boundary points along the box edges), then one gradient step "
             "on both nets with those boxes as references.", "",
             f"* **Trained with** `structnet train extraction --config {a.config}`. {a.budget}",
             f"* **Size**: {out.stat().st_size / 2 ** 20:.1f} MB (float16 kernels).",
             "* **Evaluated with** `structnet eval extraction` (whole images, the same code as `structnet predict "
             "extraction`; float32, `--precision float32`, which is what `auto` picks on CPUs without native bfloat16):"]
    for ev in evs:
        lines.append(f"  * {_where(ev)}: {_line(ev)}")
    for b in a.baseline:
        label, _, path = b.partition("=")
        ev = json.loads(Path(path).read_text())
        lines.append(f"* **{label}**: {_where(ev)}: {_line(ev)}")
    if a.speed:
        sp = json.loads(Path(a.speed).read_text())
        lines.append(f"* **Speed**: {sp['ms_per_image']:.1f} ms per ECSSD image through `predict`'s code "
                     f"({sp['threads']} threads, {sp['precision']}; median of {sp['repeats']} passes over "
                     f"{sp['n_images']} images).")
    lines += ["* **Paper** (Saliency dataset, its own split, AlexNet-sized nets on a GPU, ~20 h): J 87.02 / P 97.81 "
              "joint, J 81.10 / P 96.62 separate. Not the same data: read the numbers side by side, not as a "
              "reproduction.",
              "* **Limits**: one salient object per image (one box); trained on 1800 DUTS-TR images on a CPU for a "
              "small budget: expect boxes that cut thin parts and masks that miss low-contrast objects. Research "
              "use (DUTS images come from ImageNet and SUN).", ""]
    card = WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md"
    card.write_text("\n".join(lines))
    print(f"wrote {out} ({out.stat().st_size / 2 ** 20:.1f} MB) and {card}")


if __name__ == "__main__":
    main()
