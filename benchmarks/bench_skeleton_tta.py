"""Test-time augmentation of a skeleton model: ODS / OIS / AP of averaged multi-scale and flipped maps.

    python benchmarks/bench_skeleton_tta.py --split train --step 5 --json benchmarks/results/skeleton_tta_sk-large_train.json

Every (scale, mirrored) pass runs once per image through ``structnet.skeleton.inference.predict_maps`` (one pass
each; a mirrored pass runs on the mirrored image and is mirrored back) and each variant averages its passes, which
is what ``predict_maps(..., scales=..., flip=...)`` computes. Choose variants on SK-LARGE *train* (the model has
seen those images, but the test split stays untouched); the test numbers of the chosen setting come from the CLI
(``structnet predict`` + ``structnet score``).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from structnet.skeleton.data import SkLargeDataset
from structnet import hub
from structnet.skeleton.inference import predict_maps
from structnet.skeleton.metrics import evaluate_skeletons

VARIANTS = {
    "1": [(1.0, False)], "1+flip": [(1.0, False), (1.0, True)], "1.5": [(1.5, False)], "2": [(2.0, False)],
    "0.75": [(0.75, False)], "1,1.5": [(1.0, False), (1.5, False)],
    "0.75,1,1.5": [(0.75, False), (1.0, False), (1.5, False)],
    "1,1.5,2": [(1.0, False), (1.5, False), (2.0, False)],
    "1,1.5+flip": [(s, m) for s in (1.0, 1.5) for m in (False, True)],
    "1,1.5,2+flip": [(s, m) for s in (1.0, 1.5, 2.0) for m in (False, True)],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="weights file (default: the bundled model)")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[2] / "shared/data/sk-large"))
    ap.add_argument("--split", default="train", choices=("train", "test"))
    ap.add_argument("--step", type=int, default=5, help="every step-th image of the split")
    ap.add_argument("--max-side", type=int, default=None, help="default: the model's stored size")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="names from VARIANTS, ';'-separated",
                    type=lambda t: t.split(";"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    if a.variants == [",".join(VARIANTS)]:
        a.variants = list(VARIANTS)
    torch.set_num_threads(a.threads)
    model = hub.load(a.weights, task="skeleton")
    net, max_side = model.network, a.max_side or model.settings.get("max_side")
    ds = SkLargeDataset(a.root, a.split)
    idx = list(range(0, len(ds), a.step))
    passes = sorted({p for v in a.variants for p in VARIANTS[v]})
    maps = {p: [] for p in passes}
    gts, t0 = [], time.perf_counter()
    for i in idx:
        s = ds[i]
        img = np.round(np.transpose(s["image"], (1, 2, 0)) * 255).astype(np.uint8)
        gts.append(s["skeleton"])
        for scale, mirrored in passes:
            src = np.ascontiguousarray(img[:, ::-1]) if mirrored else img
            m = predict_maps(net, src, max_side=max_side, precision="float32", scales=(scale,), flip=False)["skeleton"]
            maps[(scale, mirrored)].append(m[:, ::-1] if mirrored else m)
    seconds = time.perf_counter() - t0
    out = {"weights": a.weights or "bundled", "split": a.split, "n_images": len(idx), "step": a.step,
           "max_side": max_side, "predict_seconds_all_passes": round(seconds, 1), "variants": {}}
    for name in a.variants:
        v = VARIANTS[name]
        preds = [np.mean([maps[p][k] for p in v], 0) for k in range(len(idx))]
        r = evaluate_skeletons(preds, gts, workers=1)
        out["variants"][name] = {"passes": len(v), "ods_f": round(float(r.ods_f), 4), "ois_f": round(float(r.ois_f), 4),
                                 "ap": round(float(r.ap), 4), "ods_threshold": round(float(r.ods_threshold), 4)}
        print(name, out["variants"][name], flush=True)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
