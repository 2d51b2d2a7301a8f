"""Golden numbers of the bundled hypercolumn models on real data (skipped without ../shared/data): the parts model
on the first 40 PASCAL-Person-Part test images (whole-image boxes, as predict runs it), the figure-ground model on
the first 40 ECSSD images in their GT boxes, the keypoints model on the first 60 LSP-extended val people. Tolerances leave room for
float differences across CPUs, not for a real change."""
from __future__ import annotations

import json

import numpy as np
import pytest

from structnet import hub
from structnet.cli import main


def _eval(task: str, data, n: int, tmp_path) -> dict:
    out = tmp_path / f"{task}.json"
    assert main(["eval", "hypercolumn", "--task", task, "--data", str(data), "--max-images", str(n), "--threads", "2",
                 "--quiet", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["n"] == n and r["task"] == task
    return r


def test_bundled_parts_model_loads_and_is_small():
    m = hub.load("hypercolumn_parts_pascal", task="hypercolumn")
    assert m.network.kind == "parts" and m.network.grid == 5 and m.network.classes == 7
    assert m.network.taps == ["stage2", "stage3", "stage4", "head"] and m.network.global_feature
    assert m.source.stat().st_size <= 20 * 1024 * 1024
    assert 0.45 < float(m.metadata["test_miou"]) < 0.55


def test_bundled_parts_golden_miou(shared_data, tmp_path):
    r = _eval("parts", shared_data / "pascal-person-part", 40, tmp_path)
    assert r["box"] == "image"
    assert r["miou"] == pytest.approx(0.4896, abs=0.005)        # all 909 test images: 0.4885 (README)
    assert r["iou"]["background"] > 0.85 and r["iou"]["head"] > 0.6


def test_bundled_parts_model_on_a_photo_without_people():
    """A photo with no person: (almost) all background."""
    from structnet.hypercolumn.inference import predict_image

    m = hub.load("hypercolumn_parts_pascal", task="hypercolumn")
    sky = np.zeros((160, 220, 3), np.uint8)
    sky[:] = (110, 160, 230)
    sky[120:] = (90, 120, 60)                                   # sky over a meadow
    r = predict_image(m.network, sky)
    assert r["labels"].shape == (160, 220) and (r["labels"] == 0).mean() > 0.95


def test_bundled_figure_ground_golden_iou(shared_data, tmp_path):
    r = _eval("figure-ground", shared_data / "ecssd", 40, tmp_path)
    assert r["box"] == "object"
    assert r["mean_iou"] == pytest.approx(0.8329, abs=0.005)    # all 1000 ECSSD images: 0.845 (README)
    m = hub.load("hypercolumn_figure_ground_duts", task="hypercolumn")
    assert m.network.kind == "figure-ground" and m.source.stat().st_size <= 20 * 1024 * 1024


def test_bundled_keypoints_golden_pck(shared_data, tmp_path):
    r = _eval("keypoints", shared_data / "lspet", 60, tmp_path)
    assert r["pck"] == pytest.approx(0.472, abs=0.015)          # all 1000 LSPET val people: 0.488 (README)
