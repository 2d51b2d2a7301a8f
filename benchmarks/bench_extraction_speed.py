"""Milliseconds per image of object extraction on a CPU: :func:`structnet.extraction.inference.extract` (what
`structnet predict extraction` runs per photo, decoding and file writing excluded) on N ECSSD images already in
memory; median over repeated passes, with the thread count given.

    python benchmarks/bench_extraction_speed.py --model extraction_joint_duts --threads 2 \
        --json benchmarks/results/extraction_speed.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="extraction_joint_duts")
    ap.add_argument("--data", default="../shared/data/ecssd")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--flip", action="store_true", help="test-time mirroring (as predict --flip)")
    ap.add_argument("--no-flip-seg", action="store_true", help="masks from the crop alone (predict --no-flip-seg)")
    ap.add_argument("--relocate", type=int, default=None, help="relocation passes (default: predict's)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from structnet import hub
    from structnet.data.io import read_image
    from structnet.extraction.inference import extract
    from structnet.nn.precision import resolve_precision

    net = hub.load(a.model, task="extraction").network.eval()
    ids = (Path(a.data) / "test.txt").read_text().split()[:a.n]
    imgs = [read_image(next((Path(a.data) / "images").glob(f"{i}.*"))) for i in ids]
    from structnet.extraction.inference import RELOCATE

    rel = RELOCATE if a.relocate is None else a.relocate
    kw = {"flip": a.flip, "relocate": rel, "flip_seg": not a.no_flip_seg, "flip_seg": not a.no_flip_seg}
    extract(net, imgs[0], a.precision, **kw)
    runs = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for im in imgs:
            extract(net, im, a.precision, **kw)
        runs.append((time.perf_counter() - t0) / len(imgs) * 1000)
    out = {"model": a.model, "ms_per_image": float(np.median(runs)), "runs_ms": runs, "threads": a.threads,
           "precision": str(resolve_precision("cpu", a.precision)).replace("torch.", ""), "n_images": len(imgs),
           "repeats": a.repeats, "flip": a.flip, "relocate": rel, "flip_seg": not a.no_flip_seg, "image_sizes": sorted({f"{im.shape[1]}x{im.shape[0]}" for im in imgs})[:5]}
    print(json.dumps(out, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
