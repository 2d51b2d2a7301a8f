"""Speed benchmark of the skeleton models on this machine (run on a quiet machine).

    python benchmarks/bench_skeleton_speed.py --out benchmarks/results/skeleton_speed.json

* inference ms/image at 300x400 (batch 1) for LMSDS on VGG16 and on EfficientNet-Lite0, float32 vs
  channels_last + bfloat16 autocast (where the CPU runs bfloat16 natively), median of --repeats runs,
  modes interleaved so that the ratios are taken in the same process under the same load;
* training images/s (batch 1, 320x240 input, loss + backward + Adam step), float32 vs bfloat16.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from structnet.nn.precision import cpu_has_fast_bf16, inference_context
from structnet.skeleton.losses import skeleton_losses
from structnet.skeleton.model import build_skeleton_model


def _time(fn, repeats: int, warmup: int):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default="benchmarks/results/skeleton_speed.json")
    ap.add_argument("--modes", default=None,
                    help="comma list of float32,bfloat16 (default: bfloat16 too only where the CPU runs it natively)")
    a = ap.parse_args()
    torch.manual_seed(0)
    modes = a.modes.split(",") if a.modes else (["float32", "bfloat16"] if cpu_has_fast_bf16() else ["float32"])
    res = {"machine": {"threads": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__,
                       "fast_bf16": cpu_has_fast_bf16()}, "inference_ms_300x400": {}, "train_images_per_s_320x240": {}}
    x = torch.rand(1, 3, 300, 400)
    for backbone in ("vgg16", "efficientnet_lite0"):
        net = build_skeleton_model("lmsds", backbone, pretrained=False, side_init="normal").eval()
        times = {m: [] for m in modes}
        for _ in range(a.repeats):  # interleave modes
            for m in modes:
                mf = torch.channels_last if m == "bfloat16" else torch.contiguous_format
                net = net.to(memory_format=mf)

                def run():
                    with torch.no_grad(), inference_context(torch.device("cpu"), m):
                        net.decode(net(x.contiguous(memory_format=mf)))
                times[m] += _time(run, 1, a.warmup if not times[m] else 0)
        med = {m: 1000 * statistics.median(t) for m, t in times.items()}
        entry = {f"{m}_ms": round(v, 1) for m, v in med.items()}
        if "bfloat16" in med:
            entry["bf16_speedup"] = round(med["float32"] / med["bfloat16"], 2)
        res["inference_ms_300x400"][f"lmsds_{backbone}"] = entry
        print(backbone, entry, flush=True)
    net = build_skeleton_model("lmsds", "efficientnet_lite0", pretrained=False, side_init="normal").train()
    opt = torch.optim.Adam(net.parameters(), 1e-4)
    xt = torch.rand(1, 3, 240, 320)
    scale = torch.zeros(1, 240, 320)
    scale[0, 120, 40:280] = 30.0
    scale[0, 30:210, 160] = 80.0
    for m in modes:
        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=(m == "bfloat16")):
                out = net(xt.contiguous(memory_format=torch.channels_last))
            loss = sum(skeleton_losses(net, out, scale).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
        t = statistics.median(_time(step, a.repeats, a.warmup))
        res["train_images_per_s_320x240"][f"lmsds_efficientnet_lite0_{m}"] = round(1.0 / t, 2)
        print("train", m, round(1.0 / t, 2), "img/s", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
