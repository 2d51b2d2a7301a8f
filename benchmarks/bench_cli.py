"""The CLI as a user runs it: wall time and peak memory of ``structnet predict`` in a subprocess.

Two measurements (results in ``benchmarks/results/cli.json``, docs/usage.md, "The command line as a user runs it"):

1. **Threads next to a busy neighbour.** ``structnet predict pose2d`` on 5 LSP-extended images, on a quiet machine
   and with a neighbour process keeping one core busy (a NumPy matrix-multiply loop on one thread, like another
   training job). Compared: the thread count torch picks by default (all cores: ``--threads`` = core count, the
   behaviour before ``runtime.set_threads``) against the default now (the cores idle at start).
2. **A big photo.** ``structnet predict skeleton`` on a 5000x4000 photo (scikit-image's astronaut, resized) with
   ``--max-side 512``: network and post-processing at 512 px, only the final maps resized.

Each case is run ``--repeats`` times (median reported); peak memory is the subprocess's max RSS
(``resource.getrusage`` of the children). Run from the repository root::

    python benchmarks/bench_cli.py --lspet ../shared/data/lspet
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = ("import numpy as np, os, time\n"
        "a = np.random.rand(400, 400)\n"
        "t = time.time()\n"
        "while time.time() - t < {seconds}:\n"
        "    a = a @ a; a /= a.max()\n")


def run(cmd, env):
    """(wall seconds, peak RSS MB) of one subprocess run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


def median_run(cmd, env, repeats):
    runs = [run(cmd, env) for _ in range(repeats)]
    return {"seconds": round(statistics.median(r[0] for r in runs), 2), "runs": [round(r[0], 2) for r in runs],
            "peak_rss_mb": round(max(r[1] for r in runs), 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lspet", default="../shared/data/lspet", help="LSP-extended folder (images/im0000[1-5].jpg)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="benchmarks/results/cli.json")
    a = ap.parse_args()
    exe = [sys.executable, "-m", "structnet.cli"]
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "STRUCTNET_THREADS")}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    images = [str(Path(a.lspet) / "images" / f"im{i:05d}.jpg") for i in range(1, 6)]
    res = {"machine": {"cores": cores, "platform": platform.platform(), "python": platform.python_version()},
           "repeats": a.repeats, "pose2d_5_images": {}, "skeleton_5000x4000": {}}
    with tempfile.TemporaryDirectory() as tmp:
        pose = exe + ["predict", "pose2d", *images, "--out", f"{tmp}/pose", "--quiet", "--overwrite"]
        res["pose2d_5_images"]["quiet_all_cores"] = median_run(pose + ["--threads", str(cores)], env, a.repeats)
        res["pose2d_5_images"]["quiet_default"] = median_run(pose, env, a.repeats)
        busy = subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=3600)],
                                env={**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        try:
            time.sleep(2.0)
            res["pose2d_5_images"]["busy_all_cores"] = median_run(pose + ["--threads", str(cores)], env, a.repeats)
            res["pose2d_5_images"]["busy_default"] = median_run(pose, env, a.repeats)
        finally:
            busy.kill()
            busy.wait()
        big = Path(tmp) / "astronaut_5000x4000.png"
        subprocess.run([sys.executable, "-c",
                        "import cv2, skimage.data as d; from structnet.data.io import write_png; "
                        f"write_png({str(big)!r}, cv2.resize(d.astronaut(), (5000, 4000), "
                        "interpolation=cv2.INTER_CUBIC))"], env=env, check=True)
        skel = exe + ["predict", "skeleton", str(big), "--out", f"{tmp}/skel", "--max-side", "512", "--quiet",
                      "--overwrite"]
        res["skeleton_5000x4000"]["max_side_512"] = median_run(skel, env, a.repeats)
    p = res["pose2d_5_images"]
    res["busy_slowdown_all_cores_vs_default"] = round(p["busy_all_cores"]["seconds"] / p["busy_default"]["seconds"], 2)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
