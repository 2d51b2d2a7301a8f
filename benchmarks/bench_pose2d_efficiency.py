"""The efficiency claim of Ke et al. 2018 (Sec. 4.3): the MSS model tested once at the original scale vs the plain
hourglass tested at 6 scales, accuracy and ms/image side by side, on LSPET val.

    python benchmarks/bench_pose2d_efficiency.py --out benchmarks/results/pose2d_efficiency.json

Needs the ladder's rung 1 (plain hourglass) and rung 2 (+MSS) models (benchmarks/train_pose2d_ladder.sh) and their
single-scale results (benchmarks/results/pose2d_ladder_{1_hourglass,2_mss}.json). Adds the plain hourglass at the
six window factors :data:`structnet.pose2d.inference.SIX_SCALES` (heatmaps fused in one frame), flip test on
everywhere. Timing: predict_pose on the first --timing-images val persons, the three settings interleaved person
by person in this process (median ms/person), so that the ratio shares the machine's load.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from structnet.engine.config import load_config
from structnet.pose2d.config import Pose2DConfig
from structnet import hub
from structnet.pose2d.inference import SIX_SCALES, predict_pose
from structnet.pose2d.evaluate import evaluate_pose2d
from structnet.pose2d.data import build_eval_dataset

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "pose2d" / "ladder_lspet_cpu"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timing-images", type=int, default=40)
    ap.add_argument("--max-images", type=int, default=None, help="persons for the 6-scale accuracy (default all)")
    ap.add_argument("--out", default=str(RESULTS / "pose2d_efficiency.json"))
    a = ap.parse_args()
    cfg = load_config(Pose2DConfig, ROOT / "benchmarks" / "configs" / "pose2d" / "ladder_lspet_cpu_1_hourglass.yaml", [])
    ds = build_eval_dataset(cfg, a.max_images)
    hg = hub.load(RUNS / "1_hourglass" / "model.safetensors", task="pose2d")
    mss = hub.load(RUNS / "2_mss" / "model.safetensors", task="pose2d")
    settings = {"hourglass, 1 scale": (hg, (1.0,)), "hourglass, 6 scales": (hg, tuple(SIX_SCALES)),
                "hourglass + MSS, 1 scale": (mss, (1.0,))}
    acc = {"hourglass, 1 scale": json.loads((RESULTS / "pose2d_ladder_1_hourglass.json").read_text()),
           "hourglass + MSS, 1 scale": json.loads((RESULTS / "pose2d_ladder_2_mss.json").read_text())}
    acc["hourglass, 6 scales"] = evaluate_pose2d(hg, ds, metric="pck", threshold=0.2, flip_test=True,
                                                 scales=tuple(SIX_SCALES), precision="float32",
                                                 max_images=a.max_images)
    times = {k: [] for k in settings}
    for i in range(min(a.timing_images, len(ds)) + 1):  # person 0 = warm-up
        s = ds[i]
        for k, (net, scales) in settings.items():
            t0 = time.perf_counter()
            predict_pose(net, s["image"], center=s["center"], scale=float(s["scale"]), flip_test=True, scales=scales,
                         precision="float32")
            if i:
                times[k].append(time.perf_counter() - t0)
    res = {"dataset": "lspet val", "metric": "PCK@0.2 (torso)", "flip_test": True, "six_scales": list(SIX_SCALES),
           "timing_persons": len(times["hourglass, 1 scale"]), "paper_mpii_val_pckh": {
               "hourglass, 6 scales": 87.1, "hourglass + MSS, 1 scale": 87.6}, "settings": {}}
    base = statistics.median(times["hourglass, 6 scales"])
    for k in settings:
        med = statistics.median(times[k])
        res["settings"][k] = {"pck": acc[k]["mean"], "auc": acc[k]["auc"], "n_persons": acc[k]["n_persons"],
                              "ms_per_person": round(1e3 * med, 1), "time_vs_6_scales": round(med / base, 3)}
        print(f"{k:28s} PCK@0.2 {100 * acc[k]['mean']:.1f}  AUC {100 * acc[k]['auc']:.1f}  "
              f"{1e3 * med:.0f} ms/person ({med / base:.2f}x of 6 scales)")
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
