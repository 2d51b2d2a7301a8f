"""Package a trained hypercolumn network as a bundled model (src/structnet/weights/) with its model card.

    python benchmarks/bundle_hypercolumn_model.py --weights runs/hypercolumn/parts_pascal_cpu/model.safetensors \
        --eval benchmarks/results/hypercolumn_parts_pascal_test.json --config parts_pascal_cpu \
        --name hypercolumn_parts_pascal --budget "..." [--baseline-eval top.json] [--extra-eval horses.json]

Writes ``<name>.safetensors`` (float16 kernels; metadata plus the name and the headline result of ``structnet eval
hypercolumn --json``) and ``MODEL_CARD_<name>.md``. The card's numbers must be re-measured with the bundled file
(float16 kernels) through the CLI before they go into docs/hypercolumn.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import hub, tasks
from structnet.hub import WEIGHTS_DIR


def _result(ev: dict) -> str:
    if ev["task"] == "keypoints":
        per = ", ".join(f"{k} {100 * v:.1f}" for k, v in ev["per_joint"].items() if v is not None)
        return f"PCK@0.2 **{100 * ev['pck']:.1f} %** over {ev['n']} people; per joint: {per}"
    if ev["task"] == "parts":
        per = ", ".join(f"{k} {v:.3f}" for k, v in ev["iou"].items() if v is not None)
        return (f"mIoU **{ev['miou']:.3f}** over the 7 classes, pixel accuracy {ev['pixel_accuracy']:.3f}, "
                f"{ev['n']} images; IoU per class: {per}")
    return f"mean IoU **{ev['mean_iou']:.3f}** in {ev['n']} boxes, pixel accuracy {ev['pixel_accuracy']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--eval", required=True, help="JSON of 'structnet eval hypercolumn --json' (the test set)")
    ap.add_argument("--baseline-eval", default=None, help="the same eval of the top-layer-only baseline")
    ap.add_argument("--extra-eval", action="append", default=[], help="more eval JSONs (e.g. another dataset)")
    ap.add_argument("--config", required=True, help="the packaged config the weights were trained with")
    ap.add_argument("--name", required=True)
    ap.add_argument("--budget", required=True, help="the card's budget line (data, steps, wall time, machine)")
    a = ap.parse_args()
    m = hub.load(a.weights, task="hypercolumn")
    ev = json.loads(Path(a.eval).read_text())
    meta = {k: v for k, v in m.metadata.items() if k != "name"}
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    tasks.get("hypercolumn").save_model(m.network, out, meta, name=a.name, config=a.config, evaluation=ev, half=True)
    cfg = m.network.config()
    task = ev["task"]
    lines = [f"# Model card: `{a.name}` (structnet hypercolumn, {task})", "",
             "Hypercolumns with a K x K grid of location-specific classifiers (Hariharan et al. 2015, Sec. 3): per "
             f"tapped layer of an ImageNet-pretrained `{cfg['backbone']}` ({', '.join(cfg['taps'])}; classifier "
             f"kernels {', '.join(str(k) for k in cfg['kernels'])}"
             f"{'; plus the ' + cfg['global_tap'] + ' tap average-pooled, the role of fc7' if cfg['global_feature'] else ''}) "
             f"a convolution to {cfg['grid']} x {cfg['grid']} x {cfg['classes']} classifier scores, upsampled "
             f"bilinearly to the {cfg['input_size'] // cfg['out_stride']} x {cfg['input_size'] // cfg['out_stride']} "
             f"output grid of the {cfg['input_size']} x {cfg['input_size']} box crop and summed; "
             f"{'a softmax over the 7 classes' if task == 'parts' else 'a sigmoid'} per grid cell "
             f"{'and keypoint ' if task == 'keypoints' else ''}, the cells' "
             "probabilities interpolated bilinearly across the box; trained end to end on the negative "
             "log-likelihood of the interpolated probability.", "",
             f"* **Trained with** `structnet train hypercolumn --config {a.config}`. {a.budget}",
             f"* **Size**: {out.stat().st_size / 2 ** 20:.1f} MB (float16 kernels).",
             f"* **Evaluated with** `structnet eval hypercolumn --task {task}` ({ev.get('box')} boxes, "
             f"{Path(str(ev.get('data'))).name} {ev.get('split')}): {_result(ev)}."]
    if a.baseline_eval:
        b = json.loads(Path(a.baseline_eval).read_text())
        lines.append(f"* **Top-layer-only baseline** at the same budget (taps {', '.join(b.get('taps', []))}): "
                     f"{_result(b)}.")
    for x in a.extra_eval:
        e = json.loads(Path(x).read_text())
        lines.append(f"* **Also** {Path(str(e.get('data'))).name} {e.get('split')} ({e.get('box')} boxes): "
                     f"{_result(e)}.")
    if task == "keypoints":
        lines += ["", "Published: the paper reports APK on VOC2009 person detections (18.5 mean with fine-tuning), "
                  "which needs scored detections; here each LSP-extended val person is given in the box of their GT "
                  "joints widened by 10 %. Beside it, the bundled pose2d model in annotated windows: PCK@0.2 64.1 %."]
    elif task == "parts":
        lines += ["", "Published (PASCAL-Person-Part test, full resolution, 7 classes): DeepLab-LargeFOV (VGG16) mIoU "
                  "51.8; this test set is every second image of the official 1817, resized to <= 224 px, and the "
                  "box is the whole image (no person detector), so the numbers are not directly comparable."]
    else:
        lines += ["", "Published: the paper reports AP^r on VOC2012 val SDS (System 2, T-Net: 49.1 at 0.5 with "
                  "hypercolumns vs 44.0 with fc7 only), which needs scored detections; here the boxes are the "
                  "ground-truth object boxes widened by 10 % a side, so the numbers measure the mask inside a "
                  "given box only."]
    (WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md").write_text("\n".join(lines) + "\n")
    print(f"{out} ({out.stat().st_size / 2 ** 20:.1f} MB) and MODEL_CARD_{a.name}.md")


if __name__ == "__main__":
    main()
