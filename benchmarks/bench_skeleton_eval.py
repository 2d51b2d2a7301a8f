"""Time the full SK-LARGE test evaluation (skeval protocol, 745 images, 100 thresholds): fast path vs the
straightforward reference (``evaluate_skeletons(..., fast=False)``: per image and threshold a full-image thin +
clean and a fresh matching), asserting identical per-image counts and scores.

The prediction is a model's maps (``--pred-dir``: the ``<stem>_skeleton.png`` files that ``structnet predict
skeleton`` wrote; the end-to-end ``structnet score`` path, PNG reading included, is timed too), or, with no model,
the GT skeleton blurred by a Gaussian (``--pred blur``, quantised to uint8) or the binary GT itself (``--pred gt``).

    structnet predict skeleton ../shared/data/sk-large/test/im --out /tmp/skpred --max-side 320 --quiet
    python benchmarks/bench_skeleton_eval.py --pred-dir /tmp/skpred --ref-images 100 \
        --out benchmarks/results/skeleton_eval_speed_model_maps.json
    python benchmarks/bench_skeleton_eval.py                      # blurred GT, reference on all images too

Writes ``benchmarks/results/skeleton_eval_speed.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from structnet.skeleton.gtio import read_skeleton_gt
from structnet.skeleton.metrics import _find_pred, _read_pred_png, evaluate_dirs, evaluate_skeletons

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sk-large"


def make_pred(skeleton: np.ndarray, kind: str, sigma: float) -> np.ndarray:
    if kind == "gt":
        return skeleton.astype(np.uint8) * 255
    p = cv2.GaussianBlur(skeleton.astype(np.float32), (0, 0), sigma)
    return np.round(p / p.max() * 255).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="sk-large folder (with test/gt)")
    ap.add_argument("--pred", choices=["blur", "gt"], default="blur")
    ap.add_argument("--pred-dir", type=Path, default=None,
                    help="folder of predicted maps (<stem>.png or <stem>_skeleton.png, 8 or 16 bit) instead of --pred")
    ap.add_argument("--sigma", type=float, default=2.0, help="Gaussian sigma (pixels) for --pred blur")
    ap.add_argument("--n-images", type=int, default=None, help="first N test images (default: all)")
    ap.add_argument("--ref-images", type=int, default=None,
                    help="run the reference on the first N of them (default: all; time is extrapolated)")
    ap.add_argument("--thresholds", type=int, default=100)
    ap.add_argument("--workers", type=int, default=None, help="processes (default: os.cpu_count())")
    ap.add_argument("--note", default="", help="free text stored with the result (e.g. what else was running)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "skeleton_eval_speed.json")
    args = ap.parse_args()

    files = sorted((args.data / "test" / "gt").glob("*.png"))
    if not files:
        raise SystemExit(f"no ground truth in {args.data / 'test' / 'gt'}")
    files = files[: args.n_images] if args.n_images else files
    n = len(files)
    n_ref = min(args.ref_images or n, n)
    workers = args.workers or os.cpu_count() or 1

    t0 = time.perf_counter()
    gts = [read_skeleton_gt(f).skeleton for f in files]
    if args.pred_dir is not None:
        paths = [_find_pred(args.pred_dir, f.stem) for f in files]
        missing = [f.stem for f, q in zip(files, paths) if q is None]
        if missing:
            raise SystemExit(f"{len(missing)} GT stems have no prediction in {args.pred_dir}, e.g. {missing[0]}")
        preds = [_read_pred_png(q) for q in paths]
        kind = f"model maps from {args.pred_dir} ({preds[0].dtype}, PNG)"
    else:
        preds = [make_pred(g, args.pred, args.sigma) for g in gts]
        kind = f"GT blurred, sigma {args.sigma} px, uint8" if args.pred == "blur" else "binary GT"
    t_load = time.perf_counter() - t0
    print(f"{n} images loaded + predictions made in {t_load:.1f} s; workers={workers}", flush=True)

    t0 = time.perf_counter()
    fast = evaluate_skeletons(preds, gts, thresholds=args.thresholds, workers=workers)
    t_fast = time.perf_counter() - t0
    print(f"fast:      {t_fast:7.1f} s  ODS F {fast.ods_f:.6f}  OIS F {fast.ois_f:.6f}  AP {fast.ap:.6f}", flush=True)

    t_dirs = None
    if args.pred_dir is not None and args.n_images is None:
        t0 = time.perf_counter()
        via_dirs, failures = evaluate_dirs(args.pred_dir, args.data / "test" / "gt", thresholds=args.thresholds,
                                           workers=workers)
        t_dirs = time.perf_counter() - t0
        assert not failures and via_dirs.to_dict() == fast.to_dict(), "evaluate_dirs differs from the in-memory run"
        print(f"evaluate_dirs (the 'structnet score' path, PNG reading included): {t_dirs:.1f} s", flush=True)

    t0 = time.perf_counter()
    ref = evaluate_skeletons(preds[:n_ref], gts[:n_ref], thresholds=args.thresholds, workers=workers, fast=False)
    t_ref = time.perf_counter() - t0
    t_ref_full = t_ref * n / n_ref
    print(f"reference: {t_ref:7.1f} s on {n_ref} images (-> {t_ref_full:.1f} s for {n})  ODS F {ref.ods_f:.6f}",
          flush=True)

    # identical numbers: per-image counts on the common images, and all scores when the reference ran on all
    for key in ("cnt_r", "sum_r", "cnt_p", "sum_p"):
        assert getattr(fast, key)[:n_ref] == getattr(ref, key), f"per-image {key} differ"
    if n_ref == n:
        assert fast.to_dict(per_image=True) == ref.to_dict(per_image=True), "scores differ"
    else:
        sub = evaluate_skeletons(preds[:n_ref], gts[:n_ref], thresholds=args.thresholds, workers=workers)
        assert sub.to_dict(per_image=True) == ref.to_dict(per_image=True), "scores differ"
    print("fast and reference numbers identical")

    res = {
        "benchmark": "SK-LARGE test skeleton evaluation (skeval protocol)",
        "prediction": kind,
        "n_images": n, "thresholds": args.thresholds, "workers": workers,
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "fast_seconds": round(t_fast, 2),
        "score_path_seconds": None if t_dirs is None else round(t_dirs, 2), "fast_seconds_per_image": round(t_fast / n, 4),
        "reference_images": n_ref, "reference_seconds": round(t_ref, 2),
        "reference_seconds_full_set": round(t_ref_full, 2),
        "reference_extrapolated": n_ref < n, "speedup": round(t_ref_full / t_fast, 2),
        "identical": True, "load_seconds": round(t_load, 2),
        "ods_f": fast.ods_f, "ods_p": fast.ods_p, "ods_r": fast.ods_r, "ois_f": fast.ois_f, "ap": fast.ap,
        "note": args.note,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
