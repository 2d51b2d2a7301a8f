"""Package a trained 2D pose model as the bundled default (src/structnet/weights/) with its model card.

    python benchmarks/bundle_pose2d_model.py \
        --weights runs/pose2d/ladder_lspet_cpu/5_masking/model.safetensors \
        --eval benchmarks/results/pose2d_ladder_5_masking.json \
        --config src/structnet/configs/pose2d/ladder_lspet_cpu_5_masking.yaml --name mss_msr_hourglass2_lsp

Writes ``<name>.safetensors`` (same weights, metadata plus the name and the LSPET val results) and
``MODEL_CARD_<name>.md`` next to it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from structnet.hub import WEIGHTS_DIR
from structnet.pose2d.inference import load_pose_model
from structnet.pose2d.task import RESERVED_META, save_pose_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--eval", required=True, help="JSON of 'structnet eval pose2d --json' for these weights")
    ap.add_argument("--config", required=True)
    ap.add_argument("--name", default="mss_msr_hourglass2_lsp")
    ap.add_argument("--card-only", action="store_true", help="rewrite the model card, keep the weights file")
    a = ap.parse_args()
    ev = json.loads(Path(a.eval).read_text())
    net = load_pose_model(a.weights)
    meta = {k: v for k, v in net.metadata.items() if k not in RESERVED_META}
    meta.update({"name": a.name, "test_dataset": f"{ev['dataset']['name']} {ev['dataset']['split']}",
                 "test_metric": ev["metric"], "test_pck": f"{ev['mean']:.4f}", "test_auc": f"{ev['auc']:.4f}",
                 "command": f"structnet train pose2d --config {a.config}"})
    out = WEIGHTS_DIR / f"{a.name}.safetensors"
    if not a.card_only:
        save_pose_model(net.network, out, net.layout, meta, codec=net.codec)
    cfg = net.metadata["model_config"]
    tc = net.metadata.get("train_config") or {}
    tr, data = tc.get("train", {}), tc.get("data", {})
    joints = "\n".join(f"  | {j} | {'-' if v is None else f'{100 * v:.1f}'} |" for j, v in ev["per_joint"].items())
    card = f"""# Model card: {a.name}

* **Task**: single-person 2D pose, 14 LSP joints (`lsp14`), from a person window (a box, or the whole image).
* **Architecture**: stacked hourglass (Newell et al.) with MSS-net heads and MSR-net (Ke et al. 2018):
  {cfg['stacks']} stacks of width {cfg['features']}, depth {cfg['depth']}, MSR input `{cfg['msr_input']}`;
  input {net.codec.input_size[0]}x{net.codec.input_size[1]}, heatmaps
  {net.codec.heatmap_size[0]}x{net.codec.heatmap_size[1]} (the paper: 8 stacks of 256, 256 input).
  {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters.
* **Initialisation**: random (no pretrained backbone; the paper trains from scratch too).
* **Training data**: LSP-extended train (4000 persons, `../shared/data/lspet`), rotation +-{data.get('rotation')}
  deg, scale {data.get('scale_range')}, flip, keypoint masking {data.get('keypoint_masking')}; loss Eq. 1 at every
  scale plus the structure-aware Eq. 2 (alpha {tc.get('loss', {}).get('alpha')}); Gaussian targets of sigma
  {net.codec.sigma:g} map px at every scale (the paper: 1).
* **Command**: `structnet train pose2d --config {a.config}` (config committed, seed {tr.get('seed')}), then this
  script. It is rung 5 of the ablation ladder (`benchmarks/train_pose2d_ladder.sh`).
* **Budget**: {tr.get('max_iters')} steps of batch {tr.get('batch_size')} with Adam lr
  {tc.get('optim', {}).get('lr')} and cosine decay ({int(tr.get('max_iters', 0)) * int(tr.get('batch_size', 0)) / 4000:.0f}
  epochs), {float(net.metadata.get('train_seconds', 'nan')) / 60:.0f} min on 2 CPU cores shared with another
  training (one thread each), float32.
* **Test ({ev['dataset']['name']} {ev['dataset']['split']}, {ev['n_persons']} persons, annotated person windows,
  flip test {'on' if ev['settings']['flip_test'] else 'off'})**: {ev['metric']} (torso, LSP protocol)
  {100 * ev['mean']:.1f} %, AUC 0-0.2 {100 * ev['auc']:.1f} %. The paper reports no LSP numbers; its full model (8 stacks,
  GPU training on MPII) reaches PCKh@0.5 88.4 % on MPII val (ablation) and 92.1 % on MPII test (FLIC PCK@0.2:
  elbow 99.2 %, wrist 97.3 %). The numbers are not comparable (other data, metric and budget).

  | joint | PCK@0.2 (%) |
  |---|---|
{joints}
* **Limits**: **most joints are wrong** (PCK@0.2 {100 * ev['mean']:.0f} %): 4 epochs from scratch on 2 CPU cores is
  far too little for an hourglass (the paper trains 300 epochs on a GPU). The model shows the whole pipeline
  working end to end (demo, formats, flip test, decoding); it is not a usable pose estimator. Retrain with
  `src/structnet/configs/pose2d/mpii_paper_stage*.yaml` or longer CPU configs for real use. It expects one roughly centred
  person per window (no detector is included). Research use (LSP-extended images come from Flickr).
"""
    card_path = WEIGHTS_DIR / f"MODEL_CARD_{a.name}.md"
    card_path.write_text(card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {card_path}")


if __name__ == "__main__":
    main()
