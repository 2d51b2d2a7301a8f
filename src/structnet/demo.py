"""``structnet demo``: the bundled models on sample photos shipped with scikit-image (no download)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "horse")


def sample_images():
    """(name, RGB uint8 image) pairs from ``skimage.data`` (bundled with scikit-image)."""
    import skimage.data as data

    for name in SAMPLES:
        img = getattr(data, name)()
        if img.dtype == bool:  # the horse silhouette: black horse on white
            img = np.where(img[..., None], 0, 255).astype(np.uint8).repeat(3, 2)
        yield name, img


def run_demo(out: str = "structnet-demo", precision: str = "auto") -> int:
    from .data.io import write_png
    from .pose2d.inference import DEFAULT_DRAW_THRESHOLD, load_pose_model
    from .pose2d.inference import predict_file as predict_pose_file
    from .skeleton.inference import load_skeleton_model, predict_file

    out_dir = Path(out)
    inputs = out_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    net = load_skeleton_model()
    pose_net = load_pose_model()
    summary = {"skeleton_model": net.metadata.get("name", "lmsds_efficientnet_lite0"),
               "pose_model": pose_net.metadata.get("name", "mss_msr_hourglass2_lsp"), "images": [], "poses": []}
    paths = []
    for name, img in sample_images():
        path = inputs / f"{name}.png"
        write_png(path, img)
        paths.append(path)
        t0 = time.perf_counter()
        r = predict_file(net, path, out_dir / "skeleton", precision=precision)
        r["seconds"] = round(time.perf_counter() - t0, 3)
        summary["images"].append(r)
        print(f"skeleton  {name:10s} {r['width']}x{r['height']}  {r['skeleton_pixels']:5d} skeleton px  "
              f"{r['segments']:2d} segment(s)  {r['seconds']:.2f} s")
    for path in paths:  # the whole photo is the person window (no person detector in the demo)
        t0 = time.perf_counter()
        r = predict_pose_file(pose_net, path, out_dir / "pose", precision=precision)
        r["seconds"] = round(time.perf_counter() - t0, 3)
        summary["poses"].append(r)
        good = sum(1 for j in r["joints"] if j["score"] is not None and j["score"] >= DEFAULT_DRAW_THRESHOLD)
        print(f"pose      {path.stem:10s} {r['width']}x{r['height']}  {good:2d}/{len(r['joints'])} joints with "
              f"score >= {DEFAULT_DRAW_THRESHOLD:g}  {r['seconds']:.2f} s")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"skeleton overlays, segments and maps in {out_dir / 'skeleton'}; pose JSON and overlays in "
          f"{out_dir / 'pose'}; summary in {out_dir / 'summary.json'}")
    return 0
