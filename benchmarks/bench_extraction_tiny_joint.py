"""Separate vs joint (MCMC E-step) vs joint (exhaustive E-step) training at equal budget, at a scale where the
exhaustive E-step is affordable on a CPU: the paper's network shapes at reduced width on synthetic shapes
(:func:`structnet.extraction.synthetic.make_shapes_folder`: 96 training, 24 test images), 100 steps of batch 16, the
first 30 without E-step, several seeds. Each model is scored through the CLI (`structnet eval extraction` on all 120
images' whole frames: the 24 test images alone are in ``j_test``); training seconds are wall time on one thread.

    python benchmarks/bench_extraction_tiny_joint.py --seeds 0 1 2 --json benchmarks/results/extraction_tiny_joint.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

CONFIG = """
model: {{arch: paper, pretrained: false, loc_input: 64, seg_input: 24, mask_size: 20, width: 0.1, hidden: 64}}
data: {{root: {data}, split: train, holdout: 0, image_size: 64, colour: 0.0}}
latent: {{search: {search}, start_iter: 30, superpixels: 30}}
optim: {{name: adam, lr: 0.003}}
schedule: {{name: constant}}
train: {{batch_size: 16, max_iters: 100, seed: {seed}, checkpoint_every: 0, log_every: 10, progress_bar: false,
        out_dir: {out}}}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from structnet.cli import main as cli
    from structnet.extraction.synthetic import make_shapes_folder

    tmp = Path(tempfile.mkdtemp())
    data = make_shapes_folder(tmp / "shapes")
    runs = []
    for seed in a.seeds:
        for search in ("none", "mcmc", "exhaustive"):
            out = tmp / f"{search}_{seed}"
            cfg = tmp / f"{search}_{seed}.yaml"
            cfg.write_text(CONFIG.format(data=data, search=search, seed=seed, out=out))
            t0 = time.time()
            assert cli(["train", "extraction", "--config", str(cfg), "--threads", "1"]) == 0
            secs = time.time() - t0
            res = {}
            for what, extra in (("all", ["--images", str(data / "images"), "--masks", str(data / "masks")]),
                                ("test", ["--data", str(data), "--split", "test"])):
                js = tmp / f"{search}_{seed}_{what}.json"
                assert cli(["eval", "extraction", "--weights", str(out / "model.safetensors"), *extra, "--quiet",
                            "--threads", "1", "--json", str(js)]) == 0
                res[what] = json.loads(js.read_text())
            log = (out / "latent_log.csv").read_text().splitlines()[1:] if search != "none" else []
            estep = sum(float(r.split(",")[2]) * float(r.split(",")[1]) for r in log)
            runs.append({"seed": seed, "search": search, "train_seconds": round(secs, 1),
                         "estep_seconds": round(estep, 1), "j": res["all"]["j"], "p": res["all"]["p"],
                         "j_test": res["test"]["j"]})
            print(runs[-1], flush=True)
    summary = {}
    for search in ("none", "mcmc", "exhaustive"):
        rs = [r for r in runs if r["search"] == search]
        summary[search] = {k: float(np.mean([r[k] for r in rs])) for k in ("j", "j_test", "p", "train_seconds",
                                                                          "estep_seconds")}
    out = {"seeds": a.seeds, "summary": summary, "runs": runs,
           "setup": "paper nets at width 0.1 (loc 64 px, seg 24 -> 20 x 20), 96 + 24 synthetic shapes, 100 steps x 16, "
                    "E-steps from step 30, one thread"}
    print(json.dumps(summary, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
