"""Box IoU of person-box models on whole photos: LSPET val (box of the annotated joints) and PASCAL-Person-Part test
(box of the one clear largest person's part pixels; photos with two similar people left out, as in training).

    python benchmarks/eval_pose2d_person_boxes.py --models A.safetensors,B.safetensors \
        --out benchmarks/results/pose2d_person_boxes.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from structnet.keypoints.datasets import PoseDataset, read_lspet
from structnet.pose2d.person import PascalPersonBoxes, evaluate_person_boxes
from structnet.tasks.loading import load


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", required=True, help="comma-separated person-box models (names or files)")
    ap.add_argument("--lspet", default="../shared/data/lspet")
    ap.add_argument("--pascal", default="../shared/data/pascal-person-part")
    ap.add_argument("--n", type=int, default=None, help="first N photos of each set (default all)")
    ap.add_argument("--out", default="benchmarks/results/pose2d_person_boxes.json")
    a = ap.parse_args()
    sets = {"LSPET val": PoseDataset(read_lspet(a.lspet, "val"), None),
            "PASCAL-Person-Part test": PascalPersonBoxes(a.pascal, "test")}
    res = {"n": a.n, "models": {}}
    for m in a.models.split(","):
        model = load(m, task="pose2d")
        row = {}
        for name, ds in sets.items():
            t0 = time.time()
            r = evaluate_person_boxes(model, ds, max_images=a.n)
            r["seconds"] = round(time.time() - t0, 1)
            row[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
            print(f"{m}  {name}: {row[name]}")
        res["models"][m] = row
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
