"""Inference speed of the backbones' taps: float32 vs channels_last + bfloat16 autocast.

Times ``backbone(x)`` (all taps, no head) at batch 1 on a ``(1, 3, H, W)`` input (default 300x400) in
three modes, interleaved round by round so that the ratios are taken in the same process under the same
load:

* ``float32``: contiguous (NCHW) model and input, no autocast
* ``float32_cl``: channels_last, no autocast
* ``bf16_cl``: channels_last + ``torch.autocast(dtype=torch.bfloat16)`` (via ``inference_context``)

Reports the median over ``--repeats`` runs after ``--warmup`` runs, in ms/image, and writes
``benchmarks/results/backbones_speed.json``. Shared machines are noisy (spread of 30% between runs is
usual): compare the ratios within one run rather than absolute numbers across runs.

    python benchmarks/bench_backbones.py [--repeats 5] [--warmup 2] [--threads 2] [--size 300 400]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from structnet.backbones import create_backbone
from structnet.nn.precision import cpu_has_fast_bf16, inference_context

MODES = ("float32", "float32_cl", "bf16_cl")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _run(model, x, mode: str) -> float:
    cl = mode.endswith("_cl")
    model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
    xi = x.contiguous(memory_format=torch.channels_last) if cl else x.contiguous()
    t0 = time.perf_counter()
    with torch.inference_mode(), inference_context("cpu", "bfloat16" if mode.startswith("bf16") else "float32"):
        out = model(xi)
    _ = [v.float().sum().item() for v in out.values()]  # make sure everything ran
    return (time.perf_counter() - t0) * 1000.0


def bench(names, size, repeats: int, warmup: int):
    h, w = size
    x = torch.rand(1, 3, h, w)
    results = {}
    for name in names:
        model = create_backbone(name, pretrained=False).eval()
        times = {m: [] for m in MODES}
        for _ in range(warmup):
            for m in MODES:
                _run(model, x, m)
        for _ in range(repeats):
            for m in MODES:
                times[m].append(_run(model, x, m))
        med = {m: statistics.median(t) for m, t in times.items()}
        results[name] = {
            "ms_per_image_median": {m: round(v, 1) for m, v in med.items()},
            "ms_all_runs": {m: [round(v, 1) for v in t] for m, t in times.items()},
            "speedup_bf16_cl_vs_float32": round(med["float32"] / med["bf16_cl"], 2),
            "speedup_float32_cl_vs_float32": round(med["float32"] / med["float32_cl"], 2),
            "taps": [s.name for s in model.feature_specs],
        }
        print(f"{name:20s} " + "  ".join(f"{m} {med[m]:7.1f} ms" for m in MODES)
              + f"  bf16_cl speedup x{results[name]['speedup_bf16_cl_vs_float32']}", flush=True)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["vgg16", "efficientnet_lite0"])
    ap.add_argument("--size", nargs=2, type=int, default=[300, 400], metavar=("H", "W"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "backbones_speed.json"))
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        ap.error("--repeats must be >= 1 and --warmup >= 0")
    torch.set_num_threads(args.threads)
    res = bench(args.backbones, args.size, args.repeats, args.warmup)
    report = {
        "what": "backbone taps forward, batch 1, median ms/image; modes interleaved in one process",
        "input_hw": list(args.size), "repeats": args.repeats, "warmup": args.warmup, "threads": args.threads,
        "torch": torch.__version__, "cpu": _cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_fast_bf16": cpu_has_fast_bf16(),
        "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "note": "shared machine, timings noisy (~30% between runs): compare ratios within a run",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "results": res,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
