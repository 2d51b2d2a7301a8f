"""`structnet demo` on the bundled models: runs offline and writes every output."""
import json

import numpy as np

from structnet import hub
from structnet.cli import main


def test_bundled_model_loads_with_metadata():
    m = hub.load("lmsds_efficientnet_lite0")
    assert m.task == "skeleton" and m.name == "lmsds_efficientnet_lite0"
    assert m.network.method == "lmsds" and m.network.backbone.__class__.__name__ == "EfficientNetLite0"
    assert 0 < m.settings["threshold"] < 1
    assert not hasattr(m.network, "threshold") and not hasattr(m.network, "metadata")
    assert m.source.stat().st_size <= 20 * 1024 * 1024


def test_demo_writes_outputs(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"] == {"skeleton": "lmsds_efficientnet_lite0", "pose2d": "mss_msr_efficientnet_lite0_lsp",
                                 "hypercolumn": "hypercolumn_parts_pascal", "extraction": "extraction_joint_duts"}
    names = [r["image"] for r in summary["results"]["skeleton"]]
    assert len(names) == 6
    for stem in ("astronaut", "camera", "chelsea", "coffee", "rocket", "horse"):
        for suffix in ("_skeleton.png", "_skeleton_overlay.png", "_skeleton_segments.png", "_skeleton.npz"):
            assert (out / "skeleton" / f"{stem}{suffix}").is_file(), stem + suffix
    # the black-on-white horse silhouette is the easiest input: one connected skeleton, one object
    from structnet.demo import sample_images

    img = dict(sample_images())["horse"]
    assert 0.2 < (img[..., 0] == 0).mean() < 0.45 and img[0, 0, 0] == 255     # a black horse on white
    horse = next(r for r in summary["results"]["skeleton"] if r["image"].endswith("horse.png"))
    assert horse["skeleton_pixels"] > 300 and horse["segments"] == 1
    from scipy import ndimage as ndi

    thin = np.load(out / "skeleton" / "horse_skeleton.npz")["thin"]
    assert thin.shape == img.shape[:2] and ndi.label(thin, np.ones((3, 3), int))[1] == 1   # drawn connected
    # pose on the photos with a person (window as predict finds it): the JSON schema with the LSP joint names
    lsp = ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
           "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"]
    assert len(summary["results"]["pose2d"]) == 2
    assert not (out / "pose2d" / "chelsea_pose2d.json").exists()  # no pose on the cat
    for stem in ("astronaut", "camera"):
        assert (out / "pose2d" / f"{stem}_pose2d_overlay.png").is_file(), stem
        rec = json.loads((out / "pose2d" / f"{stem}_pose2d.json").read_text())
        assert set(rec) == {"image", "width", "height", "joints", "visibility", "window", "person_box"}
        assert rec["visibility"] == "calibrated" and rec["window"] in ("auto", "person") and len(rec["person_box"]) == 4
        assert [j["name"] for j in rec["joints"]] == lsp
        for j in rec["joints"]:
            assert set(j) == {"name", "x", "y", "score", "visibility", "visible"}
            assert 0.0 <= j["visibility"] <= 1.0 and isinstance(j["visible"], bool)
            # the square window pads the shorter side, so a joint may lie a little outside the photo
            side = max(rec["width"], rec["height"])
            assert abs(j["x"] - rec["width"] / 2) <= side / 2 + 1 and abs(j["y"] - rec["height"] / 2) <= side / 2 + 1
            assert isinstance(j["score"], float) and abs(j["score"]) < 10.0
    # known answers, read off the photos by eye (512 x 512 px): the astronaut's head top in her hair, her neck
    # above the suit's collar ring, one shoulder on each side of it; the cameraman's head top on his head
    at = {n: {j["name"]: (j["x"], j["y"])
              for j in json.loads((out / "pose2d" / f"{n}_pose2d.json").read_text())["joints"]}
          for n in ("astronaut", "camera")}
    a = at["astronaut"]
    assert 150 <= a["head_top"][0] <= 300 and 0 <= a["head_top"][1] <= 130
    assert 150 <= a["neck"][0] <= 290 and 120 <= a["neck"][1] <= 240
    assert a["right_shoulder"][0] < a["neck"][0] < a["left_shoulder"][0]  # her right is on the image's left
    assert all(130 <= a[s][1] <= 260 for s in ("right_shoulder", "left_shoulder"))
    c = at["camera"]
    assert 160 <= c["head_top"][0] <= 290 and 50 <= c["head_top"][1] <= 140
    # person parts on the same photos (the whole photo as the box): the astronaut's head where her pose is
    import cv2

    for stem in ("astronaut", "camera"):
        assert (out / "hypercolumn" / f"{stem}_hypercolumn_overlay.png").is_file(), stem
    parts = cv2.imread(str(out / "hypercolumn" / "astronaut_hypercolumn_parts.png"), cv2.IMREAD_UNCHANGED)
    assert parts.shape == (512, 512) and set(np.unique(parts)) <= set(range(7))
    hx, hy = a["head_top"]
    ys, xs = np.nonzero(parts == 1)                                # head pixels
    assert len(xs) > 2000 and abs(np.median(xs) - hx) < 80 and hy - 20 < np.median(ys) < hy + 150
    # the salient object of every sample: box, score and mask; on the horse silhouette the mask is the black horse
    assert len(summary["results"]["extraction"]) == 6
    for stem in ("astronaut", "camera", "chelsea", "coffee", "rocket", "horse"):
        doc = json.loads((out / "extraction" / f"{stem}_extraction.json").read_text())
        assert len(doc["box"]) == 4 and 0.0 <= doc["score"] <= 1.0
        assert (out / "extraction" / f"{stem}_extraction_overlay.png").is_file()
    mask = cv2.imread(str(out / "extraction" / "horse_extraction_mask.png"), cv2.IMREAD_UNCHANGED) > 0
    horse_px = img[..., 0] == 0
    assert (mask & horse_px).sum() / (mask | horse_px).sum() > 0.5           # measured: 0.586


def test_bundled_pose_model_loads_with_metadata():
    from structnet import hub
    from structnet.pose2d.inference import DEFAULT_POSE_MODEL

    m = hub.load(task="pose2d")
    assert m.task == "pose2d" and m.layout.name == "lsp14" and m.network.num_joints == 14
    cfg = m.metadata["model_config"]
    assert cfg["arch"] == "encoder" and cfg["backbone"] == "efficientnet_lite0" and cfg["mss"] and cfg["msr"]
    assert m.codec.input_size == (192, 192) and m.codec.heatmap_size == (48, 48)
    assert m.metadata["name"] == DEFAULT_POSE_MODEL == m.name
    assert 0.0 < float(m.metadata["test_pck"]) <= 1.0
    assert m.source.stat().st_size <= 20 * 1024 * 1024
    assert not hasattr(m.network, "pose_layout") and not hasattr(m.network, "pose_codec")
