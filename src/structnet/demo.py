"""``structnet demo``: the bundled models on sample photos shipped with scikit-image (no download).

Each bundled task model runs through the same generic prediction as ``structnet predict <task>``
(:func:`structnet.tasks.run.predict`) with its defaults: skeletons (maps, thin skeleton, segments) on every sample,
2D poses on the samples with a person (:data:`POSE_SAMPLES`: the astronaut and the cameraman, both seen from the
waist up; the person window is found as ``predict`` finds it without ``--box``), their person parts
(hypercolumns, the whole photo as the box), and the salient object's box and mask (extraction) on every sample.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "horse")
#: the samples that show a person (the pose demo runs on these only)
POSE_SAMPLES = ("astronaut", "camera")


def sample_images():
    """(name, RGB uint8 image) pairs from ``skimage.data`` (bundled with scikit-image)."""
    import skimage.data as data

    for name in SAMPLES:
        img = getattr(data, name)()
        if img.dtype == bool:  # the horse silhouette (False on the horse): a black horse on white
            img = np.where(img[..., None], 255, 0).astype(np.uint8).repeat(3, 2)
        yield name, img


def run_demo(out: str = "structnet-demo", precision: str = "auto") -> int:
    from . import hub, tasks
    from .data.io import write_json, write_png
    from .tasks import run

    out_dir = Path(out)
    inputs = out_dir / "inputs"
    paths = {}
    for name, img in sample_images():
        paths[name] = write_png(inputs / f"{name}.png", img)
    inputs_of = {"skeleton": list(paths.values()), "pose2d": [paths[n] for n in POSE_SAMPLES],
                 "hypercolumn": [paths[n] for n in POSE_SAMPLES], "extraction": list(paths.values())}
    summary = {"models": {}, "results": {}}
    for task_name in ("skeleton", "pose2d", "hypercolumn", "extraction"):
        task = tasks.get(task_name)
        model = hub.load(None, task=task_name)
        summary["models"][task_name] = model.name
        options = task.predict_options(precision=precision)
        rows = summary["results"][task_name] = []
        t0 = [time.perf_counter()]

        def say(path, result, task=task, rows=rows, t0=t0):
            seconds = time.perf_counter() - t0[0]
            t0[0] = time.perf_counter()
            scalars = {k: v for k, v in result.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
            rows.append({"image": str(path), **scalars, "summary": task.describe(result), "seconds": round(seconds, 3)})
            print(f"{task.name:9s} {path.stem:10s} {task.describe(result)}  {seconds:.2f} s")

        report = run.predict(task, model, inputs_of[task_name], out_dir / task_name, options, on_result=say,
                             overwrite=True)  # a rerun replaces the demo's own earlier files
        for path, why in report.failures:
            print(f"{task_name}: {path}: {why}")
    write_json(out_dir / "summary.json", summary)
    print(f"skeleton overlays, segments and maps in {out_dir / 'skeleton'}; pose JSON and overlays in "
          f"{out_dir / 'pose2d'}; person parts in {out_dir / 'hypercolumn'}; object boxes and masks in "
          f"{out_dir / 'extraction'}; summary in {out_dir / 'summary.json'}")
    return 0
