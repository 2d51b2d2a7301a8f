"""Golden numbers of the bundled 3D pose models on real data (skipped without ../shared/data): the lifters
(skeleton maps; keypoint MLP; their ensemble) on every 100th stored frame of S9 from projected GT 2D, and the image -> maps network on synthetic renderings of every 200th
frame of S9 (fixed seeds). Tolerances leave room for float differences across CPUs, not for a real change."""
from __future__ import annotations

import json

import pytest

from structnet.cli import main


def _eval(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    assert main(["eval", "pose3d", *args, "--subjects", "S9", "--threads", "2", "--quiet", "--json", str(out),
                 "eval.compile_renderer=false"]) == 0
    return json.loads(out.read_text())


def test_bundled_lifter_golden_mpjpe_on_s9(shared_data, tmp_path):
    r = _eval(["--model", "skeleton_map_lifter_h36m", "--data", str(shared_data / "h36m"), "--every", "100"], tmp_path,
              "lift")
    assert r["n_frames"] == 640 and r["input"] == "gt2d" and r["depth_order"] == "gt" and r["flip_test"] is True
    assert r["mpjpe_mm"] == pytest.approx(57.21, abs=0.5)      # all of S9 and S11: 57.8 (README)
    assert r["n_mpjpe_mm"] == pytest.approx(48.93, abs=0.5) and r["scale_to_gt_median"] == pytest.approx(1.06, abs=0.01)
    assert r["p_mpjpe_mm"] < r["n_mpjpe_mm"] < r["mpjpe_mm"]
    plain = _eval(["--model", "skeleton_map_lifter_h36m", "--data", str(shared_data / "h36m"), "--every", "100",
                   "--no-flip"], tmp_path, "plain")
    assert plain["flip_test"] is False
    assert plain["mpjpe_mm"] == pytest.approx(57.99, abs=0.5)  # all of S9 and S11: 58.9 (README)


def test_bundled_keypoint_lifter_golden_mpjpe_on_s9(shared_data, tmp_path):
    r = _eval(["--model", "keypoint_lifter_h36m", "--data", str(shared_data / "h36m"), "--every", "100"], tmp_path,
              "kp")
    assert r["n_frames"] == 640 and r["depth_order"] == "none" and r["flip_test"] is True
    assert len(r["hypotheses"]) == 1
    assert r["mpjpe_mm"] == pytest.approx(54.30, abs=0.5)      # all of S9 and S11: 56.0 (README)
    sh = _eval(["--model", "keypoint_lifter_h36m", "--data", str(shared_data / "h36m"), "--every", "100", "--input",
                "sh"], tmp_path, "kp_sh")
    assert sh["n_frames"] == 640 and sh["input"] == "sh"
    assert sh["mpjpe_mm"] == pytest.approx(69.26, abs=0.5)     # all of S9 and S11: 71.0 (README)


def test_bundled_ensemble_golden_mpjpe_on_s9(shared_data, tmp_path):
    r = _eval(["--model", "skeleton_map_lifter_h36m", "--ensemble", "keypoint_lifter_h36m", "--data",
               str(shared_data / "h36m"), "--every", "100"], tmp_path, "ens")
    assert r["n_frames"] == 640 and r["ensemble"] == ["skeleton_map_lifter_h36m", "keypoint_lifter_h36m"]
    assert [m["mpjpe_mm"] for m in r["ensemble_members"]] == pytest.approx([57.21, 54.30], abs=0.5)
    assert r["mpjpe_mm"] == pytest.approx(52.98, abs=0.5)      # all of S9 and S11: README


def test_bundled_maps_network_golden_on_synthetic_s9(shared_data, tmp_path):
    r = _eval(["--model", "skeleton_map_lifter_h36m", "--data", str(shared_data / "h36m"), "--every", "200",
               "--input", "synthetic", "--maps-model",
               "skeleton_map_net_h36m", "--backgrounds", str(shared_data / "ecssd" / "images")], tmp_path, "syn")
    assert r["n_frames"] == 348 and r["maps_model"] == "skeleton_map_net_h36m"
    assert r["maps_iou"] == pytest.approx(0.804, abs=0.01)
    assert r["mpjpe_mm"] == pytest.approx(77.8, abs=1.0)       # every 10th frame of S9 and S11: see README
