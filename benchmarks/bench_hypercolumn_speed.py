"""Speed of hypercolumn prediction on one photo (what `structnet predict hypercolumn` runs per image: box crop,
network, grid interpolation, paste back at the image's size), median of repeated runs, one process:
hypercolumn (taps stage2/3/4 + head) against the top layer only, float32 against bfloat16, K = 5.

    OMP_NUM_THREADS=1 python benchmarks/bench_hypercolumn_speed.py --threads 1 --json benchmarks/results/hypercolumn_speed.json
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from structnet.hypercolumn.inference import predict_image
from structnet.hypercolumn.model import HypercolumnNet
from structnet.nn.precision import cpu_has_fast_bf16


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (168, 224, 3), dtype=np.uint8)      # a PASCAL-Person-Part sized photo
    rows = []
    precisions = ["float32"] + (["bfloat16"] if cpu_has_fast_bf16() else [])
    for label, taps in (("hypercolumn", ["stage2", "stage3", "stage4", "head"]), ("top layer only", ["head"])):
        torch.manual_seed(0)
        net = HypercolumnNet(classes=7, grid=5, taps=taps).to(memory_format=torch.channels_last).eval()
        for prec in precisions:
            for _ in range(3):
                predict_image(net, image, precision=prec)
            ts = []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                predict_image(net, image, precision=prec)
                ts.append(time.perf_counter() - t0)
            rows.append({"model": label, "precision": prec, "ms_median": round(1000 * statistics.median(ts), 1),
                         "ms_min": round(1000 * min(ts), 1)})
            print(f"{label:15s} {prec:9s} {rows[-1]['ms_median']:7.1f} ms (median of {a.repeats})")
    base = rows[0]["ms_median"]
    for r in rows:
        r["ratio_to_hypercolumn_float32"] = round(r["ms_median"] / base, 3)
    out = {"threads": a.threads, "image": "224 x 168 RGB, whole-image box, 224 x 224 crop, 56 x 56 grid, K = 5, "
                                          "7 classes", "cpu": platform.processor() or platform.machine(),
           "rows": rows}
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
