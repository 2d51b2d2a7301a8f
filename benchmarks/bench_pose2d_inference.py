"""Inference time of a bundled 2D pose model on photos, as ``structnet predict pose2d`` runs it (quiet machine).

    python benchmarks/bench_pose2d_inference.py --model mss_msr_efficientnet_lite0_lsp \
        --images ../shared/data/lspet/images --out benchmarks/results/pose2d_inference_speed.json

For each backend (``--backends``: PyTorch and ONNX Runtime, float32 only; ``structnet.nn.onnx_backend``), thread
count (``--threads``, default 1 and 2) and precision (float32, and for PyTorch bfloat16 autocast: on a CPU without
native bfloat16 that path is emulated and slower, which is why ``--precision auto`` picks float32 there), times :func:`structnet.pose2d.inference.predict_pose` (one person window: crop, network, DARK decoding; flip test
on = the crop and its mirror in one batch of 2, and off) and :func:`predict_pose_auto` (``predict``'s default
without ``--box``: the person-box model ``--person`` (default: predict's) on the whole photo, a pass on its box,
then a pass on the box of the joints found there; and the same without a person model, the whole image first), on
``--n`` LSP-extended val photos, ``--repeats`` rounds, median ms per photo. Image decoding is not included (done
once before timing). Cases are interleaved round by round so that they share the machine's load.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from structnet import hub, tasks
from structnet.nn.onnx_backend import onnx_network
from structnet.nn.precision import cpu_has_fast_bf16
from structnet.pose2d.inference import predict_pose, predict_pose_auto


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="bundled model name or weights file (default: the task default)")
    ap.add_argument("--images", default="../shared/data/lspet/images")
    ap.add_argument("--first", type=int, default=4001, help="first image number (LSPET val starts at im04001)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--backends", default="torch,onnxruntime")
    ap.add_argument("--person", default=None, help="person-box model (default: predict's; 'none': without)")
    ap.add_argument("--out", default="benchmarks/results/pose2d_inference_speed.json")
    a = ap.parse_args()
    from structnet.pose2d.config import DEFAULT_PERSON_MODEL
    from structnet.pose2d.task import load_person_model

    person_name = a.person if a.person is not None else DEFAULT_PERSON_MODEL
    persons = {b: load_person_model(person_name, backend=b) for b in a.backends.split(",")}  # the pose model's
    person = next(iter(persons.values()))
    threads = [int(t) for t in a.threads.split(",")]
    backends = a.backends.split(",")
    model = hub.load(a.model, task="pose2d")
    models = {("torch", t): model for t in threads}
    if "onnxruntime" in backends:
        spec = tasks.get("pose2d").onnx_spec(model)
        for t in threads:  # an ONNX Runtime session has its thread count fixed
            ort = copy.copy(model)
            ort.network, ort.backend = onnx_network(model.network, model.source, spec, threads=t), "onnxruntime"
            models[("onnxruntime", t)] = ort
    images = [np.asarray(Image.open(Path(a.images) / f"im{i:05d}.jpg").convert("RGB"))
              for i in range(a.first, a.first + a.n)]
    cases = {"window, flip": dict(fn=predict_pose, flip_test=True),
             "window, no flip": dict(fn=predict_pose, flip_test=False),
             "auto (predict default), flip": dict(fn=predict_pose_auto, flip_test=True, person=person)}
    if person is not None:
        cases["auto without person model, flip"] = dict(fn=predict_pose_auto, flip_test=True)
    precisions = a.precisions.split(",")
    combos = [(b, t, p) for b in backends for t in threads for p in precisions if b == "torch" or p == "float32"]
    times = {(b, t, p, c): [] for b, t, p in combos for c in cases}
    passes = []
    for r in range(a.repeats + 1):  # round 0 = warm-up
        for b, t, p in combos:
            torch.set_num_threads(t)
            m = models[(b, t)]
            for c, kw in cases.items():
                kw = dict(kw)
                fn = kw.pop("fn")
                if kw.get("person") is not None:
                    kw["person"] = persons[b]
                t0 = time.perf_counter()
                for img in images:
                    out = fn(m, img, precision=p, **kw)
                    if r == 0 and c.startswith("auto") and (b, t, p) == combos[0]:
                        passes.append(2 if out.get("window") == "auto" else 1)
                if r:
                    times[(b, t, p, c)].append(1e3 * (time.perf_counter() - t0) / len(images))
    res = {"machine": {"platform": platform.platform(), "torch": torch.__version__, "cpu_count": torch.get_num_threads(),
                       "fast_bf16": cpu_has_fast_bf16()},
           "model": model.name, "input_size": list(model.codec.input_size),
           "person_model": None if person is None else person.name,
           "images": f"{a.images} im{a.first:05d}..im{a.first + a.n - 1:05d}",
           "auto_second_pass_fraction": float(np.mean([p == 2 for p in passes])) if passes else None,
           "settings": {"repeats": a.repeats}, "ms_per_photo": {}}
    for (b, t, p, c), v in times.items():
        key = f"{t} thread{'s' if t > 1 else ''}, {p}, {c}" + ("" if b == "torch" else f", {b}")
        res["ms_per_photo"][key] = round(statistics.median(v), 1)
        print(f"{key}: {res['ms_per_photo'][key]} ms")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
