"""The speed table of every bundled model: milliseconds per 512 x 512 photo through the task's predictor with its
``predict`` defaults (what ``structnet predict <task> photo`` runs after loading), on 1 and on 2 threads, with
PyTorch and with ONNX Runtime where the task exports its network; the model's headline accuracy beside it.

Photo: scikit-image's astronaut (512 x 512, a person seen from the waist up). Each case: one warm-up call, then
``--repeats`` calls, median reported. pose3d is timed with ``--min-leg-joints 0`` (the astronaut shows no legs, the
default refuses her before lifting) and includes its 2D pose pass; hypercolumn parts / figure-ground take the
whole photo as the box, keypoints the person box of the 2D pose model. Writes benchmarks/results/speed_table.json;
``benchmarks/report_speed.py --write`` puts the table into the README.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_speed_table.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

#: Accuracy of a row where the model's headline (its metadata) is not the accuracy of the row's settings.
ACCURACY = {
    "skeleton, one pass (--scales 1 --no-flip)": "SK-LARGE val ODS F 0.572 (six passes: 0.647)",
    "pose3d keypoint lifter (default; with its 2D pose)": "H36M S9/S11 MPJPE 71.0 mm from SH detections, 56.0 from GT 2D",
    "pose3d skeleton-map lifter (the paper's; with its 2D pose)": "H36M S9/S11 MPJPE 91.7 mm from SH detections, 57.8 "
                                                                  "from GT 2D",
}
#: (row name, task, model or None for the task default, predict option overrides)
CASES = [
    ("skeleton (default: 6 passes)", "skeleton", None, {}),
    ("skeleton, one pass (--scales 1 --no-flip)", "skeleton", None, {"scales": (1.0,), "flip": False}),
    ("pose2d (default: person window, flip)", "pose2d", None, {}),
    ("pose2d hourglass (annotated-window model)", "pose2d", "mss_msr_hourglass2_lsp", {}),
    ("pose3d keypoint lifter (default; with its 2D pose)", "pose3d", None, {"min_leg_joints": 0}),
    ("pose3d skeleton-map lifter (the paper's; with its 2D pose)", "pose3d", "skeleton_map_lifter_h36m",
     {"min_leg_joints": 0}),
    ("hypercolumn parts (whole photo as box)", "hypercolumn", None, {}),
    ("hypercolumn figure-ground (whole photo as box)", "hypercolumn", "hypercolumn_figure_ground_duts",
     {"task": "figure-ground"}),
    ("extraction (default)", "extraction", None, {}),
]


def _time(fn, image, repeats: int) -> float:
    fn(image)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(image)
        times.append(1000.0 * (time.perf_counter() - t0))
    return round(statistics.median(times), 1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    import numpy as np
    import skimage.data
    import torch

    from structnet import hub, tasks
    from structnet.runtime import set_threads

    image = np.ascontiguousarray(skimage.data.astronaut())
    rows = []
    for label, tname, model_name, over in CASES:
        task = tasks.get(tname)
        opts = task.predict_options()
        opts = dataclasses.replace(opts, **over)
        for backend in ("torch", "onnxruntime"):
            try:
                model = hub.load(model_name or task.default_model_for(opts), task=tname, backend=backend)
            except Exception:  # noqa: BLE001 -- no export for this task: a row without that backend
                if backend == "onnxruntime":
                    continue
                raise
            if backend == "onnxruntime" and getattr(model, "backend", "torch") != "onnxruntime":
                continue
            fn = task.predictor(model, opts)
            row = {"row": label, "task": tname, "model": model.name, "backend": backend,
                   "headline": ACCURACY.get(label) or task.headline(model.metadata or {}), "ms": {}}
            for n in (int(t) for t in a.threads.split(",")):
                set_threads(n)
                row["ms"][str(n)] = _time(fn, image, a.repeats)
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = {"photo": "skimage astronaut 512 x 512", "repeats": a.repeats, "statistic": "median ms per photo",
           "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "torch": torch.__version__, "rows": rows}
    dest = Path(__file__).parent / "results" / "speed_table.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
