"""Package a trained person-box model (``model.arch: person_box``) as a bundled model with its model card.

    python benchmarks/bundle_pose2d_person_model.py \
        --weights runs/pose2d/person_box_lite0_lspet_cpu/model.safetensors \
        --tuning benchmarks/results/pose2d_person_window_tuning.json \
        --config person_box_lite0_lspet_cpu --name person_box_lite0_lspet --half

``--tuning``: the JSON of ``benchmarks/tune_pose2d_person_window.py`` for these weights on LSPET val (its person box
IoU is the card's headline, its PCK table the card's window table). Writes ``<name>.safetensors`` and
``MODEL_CARD_<name>.md`` in ``src/structnet/weights/``; an existing file is replaced only with ``--overwrite``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet import tasks
from structnet.bundled import WEIGHTS_DIR
from structnet.nn.weights import read_metadata
from structnet.pose2d.person import is_person_model
from structnet.tasks.loading import load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--tuning", required=True, help="JSON of benchmarks/tune_pose2d_person_window.py")
    ap.add_argument("--boxes", required=True, help="JSON of benchmarks/eval_pose2d_person_boxes.py")
    ap.add_argument("--boxes-key", required=True, help="this model's key in the --boxes JSON")
    ap.add_argument("--config", required=True)
    ap.add_argument("--name", default="person_box_lite0_lspet")
    ap.add_argument("--budget", default=None)
    ap.add_argument("--half", action="store_true")
    ap.add_argument("--overwrite", action="store_true")
    a = ap.parse_args()
    tune = json.loads(Path(a.tuning).read_text())
    model = load(a.weights, task="pose2d")
    if not is_person_model(model):
        raise SystemExit(f"{a.weights}: not a person-box model")
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    card = WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md"
    if (out.exists() or card.exists()) and not a.overwrite:
        raise SystemExit(f"{out} or {card} exists; pass --overwrite to replace them")
    meta = {k: v for k, v in read_metadata(model.source, decode=False).items()
            if k not in ("structnet_task", "storage", "name")}
    boxes = json.loads(Path(a.boxes).read_text())["models"][a.boxes_key]
    iou, ppp = boxes["LSPET val"], boxes.get("PASCAL-Person-Part test")
    ev = {"person_box": {"dataset": "LSPET val", "mean_iou": iou["mean_iou"], "iou50": iou["iou50"]}}
    tasks.get("pose2d").save_model(model.network, out, meta, name=a.name, config=a.config, budget=a.budget,
                                   evaluation=ev, half=a.half)
    tc = json.loads(meta.get("train_config", "{}"))
    steps = meta.get("train_steps", "?")
    rows = "\n".join(f"| {k} | {100 * v:.1f} |" for k, v in sorted(tune["pck@0.2"].items(), key=lambda kv: -kv[1]))
    params = sum(p.numel() for p in model.network.parameters()) / 1e6
    ppp_line = ("PASCAL-Person-Part test (" + str(ppp["n"]) + " photos with one clear largest person, box of its part "
                f"pixels): mean IoU {ppp['mean_iou']:.3f}, IoU >= 0.5 for {100 * ppp['iou50']:.1f} %." if ppp else "")
    card.write_text(f"""# Model card: {a.name}

* **Task**: the person window of `structnet predict pose2d` without `--box` (`--window auto`, the default):
  one box around the person in a whole photo, in which the pose model then finds the joints.
* **Architecture**: the localization network of Wang et al. 2014 (the extraction paper), CPU variant: an
  ImageNet-pretrained EfficientNet-Lite0 on the whole photo resized to {model.network.input_size} x
  {model.network.input_size}, a 1 x 1 reduction to 32 channels and three fully connected layers (256, 256, 4) that
  regress the box corners in units of the photo (0 .. 224 on both axes). {params:.2f} M parameters.
* **Training data**: LSPET train + extra (5540 persons; target = the box of the annotated joints)
  {'and PASCAL-Person-Part train (1423 photos with one clear largest person; target = the box of its part pixels)' if tc.get('data', {}).get('person_extra') else ''};
  40 % whole photos, the rest random frames around the person (some cut through the body), flips, brightness /
  contrast jitter. `{meta.get('command', 'structnet train pose2d --config ' + a.config)}`, {steps} steps of
  {tc.get('train', {}).get('batch_size', '?')}{'; ' + a.budget if a.budget else ''}.
* **Result** (`benchmarks/eval_pose2d_person_boxes.py`, whole photos, flip-averaged box): LSPET val ({iou['n']}
  persons), mean IoU with the annotated joints' box **{iou['mean_iou']:.3f}**, IoU >= 0.5 for
  {100 * iou['iou50']:.1f} % of them; {ppp_line}
* **What the pose model makes of it** (`benchmarks/tune_pose2d_person_window.py`, pose model {tune['model']},
  PCK@0.2 on the first {tune['n_persons']} LSPET val persons):

| window | PCK@0.2 % |
|---|---|
{rows}

* **Limits**: one box per photo. With several people it finds one of them (most often the largest or most central
  one); give `--box` per person for crowds. Trained mostly on sports photos (LSPET) with some everyday ones
  (PASCAL): on PASCAL's crowded, cut and occluded people the box is far less exact (IoU above) than on LSPET.
""")
    print(f"wrote {out} and {card}")


if __name__ == "__main__":
    main()
