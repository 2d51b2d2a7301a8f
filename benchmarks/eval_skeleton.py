"""Accuracy benchmark: evaluate trained skeleton models on a test set with the published protocol.

    python benchmarks/eval_skeleton.py --dataset sk-large --root ../shared/data/sk-large \
        --weights runs/skeleton/{hed,fsds,lmsds}_lite0_cpu/model.safetensors --labels HED FSDS LMSDS \
        --out benchmarks/results/skeleton_sk-large.json --plot benchmarks/results/skeleton_sk-large_pr.png

Writes one JSON with, per model: ODS/OIS F, AP, the PR curve, timings, the training budget read from the
weights' metadata, and (``--segments``) the object-segmentation metrics of Tables VI-VII.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from structnet.skeleton.config import SkeletonDataConfig
from structnet.skeleton.metrics import SkeletonEvalResult
from structnet.skeleton.plots import plot_pr
from structnet.hub import load
from structnet.skeleton.evaluate import evaluate_model
from structnet.skeleton.train import build_dataset

PAPER = {  # ODS F, Shen et al. 2017 Tables II and IV
    "sk-large": {"HED": 0.497, "FSDS": 0.633, "LMSDS": 0.649},
    "weizmann-horse": {"HED": 0.732, "FSDS": 0.769, "LMSDS": 0.779},
}
PAPER_SEGMENTS = {  # Table VII (WH-SYMMAX) and VI (SK-LARGE): F, Covering %, mean segments
    "sk-large": {"FSDS": (0.814, 69.1, 2.0), "LMSDS": (0.873, 78.1, 2.1)},
    "weizmann-horse": {"FSDS": (0.838, 72.5, 1.7), "LMSDS": (0.902, 82.4, 1.3)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="sk-large", choices=["sk-large", "weizmann-horse"])
    ap.add_argument("--root", default="../shared/data/sk-large")
    ap.add_argument("--split", default="test")
    ap.add_argument("--weights", nargs="+", required=True)
    ap.add_argument("--labels", nargs="+", required=True)
    ap.add_argument("--max-side", type=int, default=None)
    ap.add_argument("--thresholds", type=int, default=100)
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-images", type=int, default=None)
    ap.add_argument("--segments", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--append", action="store_true",
                    help="keep the other models already in --out (same dataset and protocol) and add/replace these")
    a = ap.parse_args()
    if len(a.weights) != len(a.labels):
        ap.error("--weights and --labels need the same length")
    ds = build_dataset(SkeletonDataConfig(dataset=a.dataset, root=a.root, augment=False), split=a.split, augment=False)
    if a.segments and ds[0].get("mask") is None:
        ap.error(f"--segments needs figure-ground masks, which the {a.dataset} reader does not provide")
    report = {"dataset": a.dataset, "split": a.split, "n_images": len(ds) if a.max_images is None else a.max_images,
              "protocol": {"thresholds": a.thresholds, "tolerance": a.tolerance, "nms": True,
                           "max_side": a.max_side, "precision": a.precision},
              "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
                          "torch": torch.__version__},
              "paper_ods_f": PAPER.get(a.dataset, {}), "models": {}}
    if a.append and Path(a.out).is_file():
        old = json.loads(Path(a.out).read_text())
        if (old.get("dataset"), old.get("split"), old.get("protocol")) != (a.dataset, a.split, report["protocol"]):
            ap.error(f"--append: {a.out} holds another dataset/split/protocol")
        report["models"].update(old.get("models", {}))
    curves = {}
    for w, label in zip(a.weights, a.labels):
        net = load(w, task="skeleton")
        t0 = time.perf_counter()
        res = evaluate_model(net, ds, thresholds=a.thresholds, tolerance=a.tolerance, max_side=a.max_side,
                             precision=a.precision, max_images=a.max_images, segments=a.segments and net.network.method != "hed",
                             progress=True)
        res["wall_seconds"] = round(time.perf_counter() - t0, 1)
        meta = net.metadata
        train_cfg = meta.get("train_config") or {}
        train_cfg = json.loads(train_cfg) if isinstance(train_cfg, str) else train_cfg
        res["weights"] = str(w)
        res["train_seconds"] = float(meta.get("train_seconds", "nan"))
        res["train"] = {"iters": train_cfg.get("train", {}).get("max_iters"),
                        "batch_size": train_cfg.get("train", {}).get("batch_size"),
                        "data": train_cfg.get("data"), "optim": train_cfg.get("optim"),
                        "init": train_cfg.get("model", {}).get("init")}
        if label in PAPER_SEGMENTS.get(a.dataset, {}):
            f, c, n = PAPER_SEGMENTS[a.dataset][label]
            res["paper_segments"] = {"f_measure": f, "covering": c, "mean_segments": n}
        report["models"][label] = res
        print(f"{label}: ODS F {res['ods_f']:.4f} (paper {PAPER.get(a.dataset, {}).get(label)})  OIS {res['ois_f']:.4f}  "
              f"AP {res['ap']:.4f}  {res.get('segments', '')}  [{res['wall_seconds']} s]", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(report, indent=1))
    names = {f.name for f in dataclasses.fields(SkeletonEvalResult)}
    order = [k for k in PAPER.get(a.dataset, {}) if k in report["models"]] + \
        [k for k in report["models"] if k not in PAPER.get(a.dataset, {})]
    for label in order:
        curves[label] = SkeletonEvalResult(**{k: v for k, v in report["models"][label].items() if k in names})
    if a.plot:
        plot_pr(curves, a.plot, paper_points=PAPER.get(a.dataset))


if __name__ == "__main__":
    main()
