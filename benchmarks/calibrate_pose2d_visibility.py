"""Calibrate and measure the per-joint visibility of a pose model on LSP-extended **val**, as ``predict`` runs it.

    python benchmarks/calibrate_pose2d_visibility.py --model WEIGHTS [--person PERSON_MODEL] \
        --out benchmarks/results/pose2d_visibility.json [--write WEIGHTS_WITH_CALIBRATION]

Every val photo goes through ``structnet predict pose2d``'s predictor (whole photo, ``--window auto``, flip test);
a joint's label is "annotated in LSPET" (LSPET marks exactly the joints outside the photo as not visible). The
logistic calibration of :mod:`structnet.pose2d.visibility` and its flag threshold (the highest that keeps 90 % of
the visible joints) are fitted on the
first half of val and the flag measured on the second half (precision / recall of "visible" and of "absent", overall and
for the leg joints), then refitted on all of val: that calibration is what ``--write`` stores in a copy of the
weights file (metadata ``visibility``; never replaces an existing file). Also the flag of an uncalibrated model
(score >= 0.2) on the second half, for comparison.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from structnet import tasks
from structnet.keypoints.datasets import read_lspet
from structnet.pose2d.visibility import choose_threshold, fit_calibration, flag_metrics, joint_visibility


def calibrate(scores, labels):
    """The logistic fit and the flag threshold (keeping 90 % of the visible joints) on these joints."""
    cal = fit_calibration(scores, labels)
    p, _ = joint_visibility(scores, cal)
    cal["threshold"] = choose_threshold(p, labels)
    return cal
from structnet.tasks.loading import load

LEGS = (0, 1, 2, 3, 4, 5)  # lsp14: ankles, knees, hips


def _round(d):
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--person", default=None, help="person-box model (default: predict's default)")
    ap.add_argument("--root", default="../shared/data/lspet")
    ap.add_argument("--n", type=int, default=None, help="first N val persons (default all)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/pose2d_visibility.json")
    ap.add_argument("--write", default=None, help="write a copy of the weights with the calibration here")
    a = ap.parse_args()
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    task = tasks.get("pose2d")
    model = load(a.model, task="pose2d", backend="auto")
    opts = task.predict_options() if a.person is None else task.predict_options(person_model=a.person)
    predict = task.predictor(model, opts)
    recs = read_lspet(a.root, split="val")
    recs = recs[:a.n] if a.n else recs
    t0 = time.time()
    scores = np.stack([np.asarray(predict(r.load_image())["scores"], np.float64) for r in recs])
    labels = np.stack([np.asarray(r.annotated, bool) for r in recs])
    half = len(recs) // 2
    fit = calibrate(scores[:half], labels[:half])
    _, flags = joint_visibility(scores[half:], fit)
    _, raw = joint_visibility(scores[half:])
    legs = np.zeros_like(labels[half:], dtype=bool)
    legs[:, list(LEGS)] = True
    res = {"model": model.name, "weights": str(a.model), "person_model": opts.person_model,
           "n_persons": len(recs), "seconds": round(time.time() - t0, 1),
           "labels": "LSPET annotated flag (not annotated = outside the photo)",
           "fit_on_first_half": fit,
           "second_half": _round(flag_metrics(flags, labels[half:])),
           "second_half_legs": _round(flag_metrics(flags[legs], labels[half:][legs])),
           "second_half_uncalibrated_score_0.2": _round(flag_metrics(raw, labels[half:])),
           "calibration_all_val": calibrate(scores, labels)}
    np.savez_compressed(Path(a.out).with_suffix(".npz"), scores=scores, labels=labels)
    print(json.dumps(res, indent=1))
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    if a.write:
        from structnet.nn.weights import read_metadata

        dst = Path(a.write)
        if dst.exists():
            raise SystemExit(f"{dst} exists; not replaced")
        src = load(a.model, task="pose2d")  # torch weights
        meta = read_metadata(src.source, decode=False)
        half = "storage" in meta
        meta = {k: v for k, v in meta.items() if k not in ("structnet_task", "storage")}
        meta["visibility"] = json.dumps(res["calibration_all_val"])
        task.save_model(src.network, dst, meta, half=half)
        print(f"wrote {dst}")


if __name__ == "__main__":
    main()
