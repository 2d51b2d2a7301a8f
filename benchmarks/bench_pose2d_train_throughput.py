"""Training throughput of the CPU pose recipe's variants, to plan the stages of a training campaign.

    OMP_NUM_THREADS=1 python benchmarks/bench_pose2d_train_throughput.py --threads 1 \
        --out benchmarks/results/pose2d_train_throughput.json

For each variant (encoder x input size; the recipe of ``encoder_lite0_lspet_cpu``: MSS + MSR, decoder width 64,
alpha 0, channels_last, float32) one training step (forward, the pose loss of every scale, backward, Adam) on a
batch of ``--batch`` real LSPET training crops, ``--steps`` steps per variant after one warm-up step, variants
interleaved round by round so that they share the machine's load. Reports the median seconds per step and the
ratio to Lite0 at 192. Data loading is not included (the crops are made once).
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
from structnet.pose2d.config import Pose2DConfig
from structnet.pose2d.data import build_train_dataset, layout_of
from structnet.pose2d.train import build_model, make_codec, make_loss_fn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="efficientnet_lite0@192,efficientnet_lite0@256,efficientnet_lite1@192,"
                                          "efficientnet_lite2@192")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", default="../shared/data/lspet")
    ap.add_argument("--out", default="benchmarks/results/pose2d_train_throughput.json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    runs = {}
    for v in a.variants.split(","):
        backbone, size = v.split("@")
        cfg = load_config(Pose2DConfig, "encoder_lite0_lspet_cpu", [
            f"model.backbone={backbone}", f"data.input_size={size}", f"data.root={a.root}", "loss.alpha=0.0",
            "model.pretrained=false"], task="pose2d")
        codec = make_codec(cfg)
        ds = build_train_dataset(cfg.data, codec)
        batch = collate_samples([ds[(i, 0)] for i in range(a.batch)])
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)
        net = build_model(cfg).to(memory_format=torch.channels_last).train()
        runs[v] = dict(net=net, batch=batch, loss=make_loss_fn(cfg, layout_of(cfg.data.dataset)),
                       opt=torch.optim.Adam(net.parameters(), 1e-4), times=[],
                       params=sum(p.numel() for p in net.parameters()))
    for r in range(a.steps + 1):
        for v, run in runs.items():
            t0 = time.perf_counter()
            losses = run["loss"](run["net"], run["batch"])
            total = sum(losses.values())
            run["opt"].zero_grad()
            total.backward()
            run["opt"].step()
            if r:
                run["times"].append(time.perf_counter() - t0)
    base = statistics.median(next(iter(runs.values()))["times"])
    res = {"machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": a.threads},
           "batch": a.batch, "steps": a.steps, "variants": {}}
    for v, run in runs.items():
        med = statistics.median(run["times"])
        res["variants"][v] = {"s_per_step": round(med, 3), "ratio_to_first": round(med / base, 2),
                              "params_m": round(run["params"] / 1e6, 2)}
        print(f"{v}: {med:.2f} s/step of {a.batch} ({med / base:.2f}x), {run['params'] / 1e6:.2f} M parameters")
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
