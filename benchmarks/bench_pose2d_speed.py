"""Speed of the 2D pose models on this machine (run it on a quiet machine).

    python benchmarks/bench_pose2d_speed.py --out benchmarks/results/pose2d_speed.json

For each model (MSS + MSR hourglass; the ladder / bundled CPU model, and 2- and 8-stack models of the paper's width
256 at the paper's 256x256 input):

* inference ms/image: batch 1, one crop, network + DARK decoding of the final heatmaps, without and with the flip
  test (:func:`structnet.pose2d.inference.predict_batch`), median of --repeats runs;
* training images/s: the real training step (``structnet train pose2d``'s loss function on a batch of augmented
  synthetic crops with their multi-scale targets, backward, Adam step), batch --batch, median of --repeats steps.

Models are timed in one process, interleaved run by run, so the ratios between them share the load.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from structnet.engine.config import load_config
from structnet.engine.trainer import collate_samples
from structnet.nn.precision import cpu_has_fast_bf16
from structnet.pose2d.config import Pose2DConfig
from structnet.pose2d.inference import predict_batch
from structnet.pose2d.data import build_train_dataset
from structnet.pose2d.train import build_model, make_codec, make_loss_fn

CONFIG = Path(__file__).resolve().parents[1] / "src" / "structnet" / "configs" / "pose2d" / "synthetic_demo_cpu.yaml"
MODELS = {  # name: (stacks, features, input size)
    "2-stack w128 @128 (ladder / bundled)": (2, 128, 128),
    "2-stack w256 @256": (2, 256, 256),
    "8-stack w256 @256 (paper)": (8, 256, 256),
}


def _cfg(stacks: int, features: int, size: int, batch: int) -> Pose2DConfig:
    over = [f"model.stacks={stacks}", f"model.features={features}", "model.msr_features=null",
            f"data.input_size={size}", f"train.batch_size={batch}", "data.synthetic_size=" + str(max(96, size))]
    return load_config(Pose2DConfig, CONFIG, over)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--train-repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--models", default=None, help="comma list of indices into the model list (default all)")
    ap.add_argument("--out", default="benchmarks/results/pose2d_speed.json")
    a = ap.parse_args()
    torch.manual_seed(0)
    names = list(MODELS)
    if a.models:
        names = [names[int(i)] for i in a.models.split(",")]
    res = {"machine": {"threads": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__,
                       "fast_bf16": cpu_has_fast_bf16()}, "precision": "float32", "models": {}}
    nets, crops, train, codecs = {}, {}, {}, {}
    for name in names:
        stacks, feats, size = MODELS[name]
        cfg = _cfg(stacks, feats, size, a.batch)
        net = build_model(cfg)
        codec = codecs[name] = make_codec(cfg)
        ds = build_train_dataset(cfg.data, codec)
        batch = collate_samples([ds[i] for i in range(a.batch)])
        nets[name], crops[name] = net, torch.rand(1, 3, size, size)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        train[name] = (make_loss_fn(cfg, ds.layout), batch, opt)
        res["models"][name] = {"stacks": stacks, "features": feats, "input_size": size,
                               "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 3)}
    inf = {n: {"plain": [], "flip": []} for n in names}
    for r in range(a.repeats + 1):  # first round = warm-up
        for n in names:
            net = nets[n].eval()
            for mode in ("plain", "flip"):
                t0 = time.perf_counter()
                predict_batch(net, crops[n], flip_test=(mode == "flip"), layout="lsp14", codec=codecs[n],
                              precision="float32")
                if r:
                    inf[n][mode].append(time.perf_counter() - t0)
    steps = {n: [] for n in names}
    for r in range(a.train_repeats + 1):
        for n in names:
            net = nets[n].train()
            loss_fn, batch, opt = train[n]
            t0 = time.perf_counter()
            terms = loss_fn(net, batch)
            total = sum(terms.values())
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if r:
                steps[n].append(time.perf_counter() - t0)
    for n in names:
        m = res["models"][n]
        m["inference_ms"] = round(1e3 * statistics.median(inf[n]["plain"]), 1)
        m["inference_flip_ms"] = round(1e3 * statistics.median(inf[n]["flip"]), 1)
        m["train_step_s"] = round(statistics.median(steps[n]), 3)
        m["train_images_per_s"] = round(a.batch / statistics.median(steps[n]), 2)
        print(f"{n}: {m['params_M']} M params, inference {m['inference_ms']} ms (flip {m['inference_flip_ms']} ms), "
              f"training {m['train_images_per_s']} img/s at batch {a.batch}")
    res["settings"] = {"repeats": a.repeats, "train_repeats": a.train_repeats, "batch": a.batch}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
