"""The person window (person-box models, pose2d/person.py), absent-joint training and joint visibility
(pose2d/visibility.py): known answers, a tiny training through the CLI, predict with --person-model, bad inputs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from structnet.cli import main
from structnet.engine.config import load_config, save_config
from structnet.errors import UserError
from structnet.nn.localization import UNITS, LocalizationNet, locate, mirror_boxes
from structnet.pose2d.codec import HeatmapCodec
from structnet.pose2d.config import Pose2DConfig
from structnet.pose2d.data import PoseTrainTransform
from structnet.pose2d.person import (PersonBoxTransform, box_iou, build_person_model, joints_box,
                                     person_box_loss)
from structnet.pose2d.visibility import (UNCALIBRATED_THRESHOLD, calibration_from_metadata, fit_calibration,
                                         flag_metrics, joint_visibility)
from structnet.pose2d.synthetic import write_lspet_folder
from structnet.pose2d.writer import draw_pose_overlay, pose_to_json

ROOT = Path(__file__).resolve().parents[1]


def _sample(w=80, h=60):
    kp = np.zeros((14, 2), np.float32)
    kp[:, 0] = np.linspace(20, 40, 14)
    kp[:, 1] = np.linspace(10, 50, 14)
    ann = np.ones(14, bool)
    ann[0] = False
    kp[0] = (-30, 200)  # not annotated (LSPET: outside the photo); must not enter the box
    return {"image": np.full((h, w, 3), 128, np.uint8), "keypoints": kp, "annotated": ann, "name": "x"}


# ------------------------------------------------------------------------------------------ boxes
def test_box_iou_known_answers():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 0, 0]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], float)
    np.testing.assert_allclose(box_iou(a, b), [1.0, 50 / 150, 0.0, 0.0])


def test_joints_box_uses_annotated_joints_inside_the_frame():
    s = _sample()
    kp, ann = s["keypoints"], s["annotated"]
    np.testing.assert_allclose(joints_box(kp, ann, (-0.5, -0.5, 79.5, 59.5)),
                               [kp[1:, 0].min(), kp[1:, 1].min(), kp[1:, 0].max(), kp[1:, 1].max()], rtol=1e-6)
    assert joints_box(kp, ann, (100, 100, 120, 120)) is None  # fewer than 2 joints inside


def test_person_transform_whole_photo_target_and_flip():
    s = _sample()
    rng = np.random.default_rng(0)
    plain = PersonBoxTransform(32, augment=False)(s, rng)
    assert plain["image"].shape == (3, 32, 32) and plain["image"].dtype == np.float32
    kp = s["keypoints"][1:]
    want = np.array([kp[:, 0].min() / 80, kp[:, 1].min() / 60, kp[:, 0].max() / 80, kp[:, 1].max() / 60]) * UNITS
    np.testing.assert_allclose(plain["box"], want, rtol=1e-5)
    flip = PersonBoxTransform(32, augment=True, whole_image_prob=1.0, flip_prob=1.0)(s, np.random.default_rng(1))
    np.testing.assert_allclose(flip["box"], [UNITS - want[2], want[1], UNITS - want[0], want[3]], rtol=1e-5)


def test_person_transform_random_frames_keep_the_person_in_units():
    s = _sample()
    tf = PersonBoxTransform(32, augment=True, whole_image_prob=0.0, cut_prob=0.5)
    rng = np.random.default_rng(3)
    for _ in range(50):
        out = tf(s, rng)
        b = out["box"]
        assert np.all((b >= 0) & (b <= UNITS)) and b[2] > b[0] and b[3] > b[1]
        assert np.isfinite(out["image"]).all() and 0 <= out["image"].min() and out["image"].max() <= 1


def test_mirror_boxes_is_an_involution():
    b = torch.tensor([[10.0, 20.0, 100.0, 200.0]])
    np.testing.assert_allclose(mirror_boxes(b), [[124.0, 20.0, 214.0, 200.0]])
    np.testing.assert_allclose(mirror_boxes(mirror_boxes(b)), b)


def test_locate_returns_pixels_of_the_image():
    torch.manual_seed(0)
    net = build_person_model(pretrained=False, input_size=32).eval()
    img = np.random.default_rng(0).integers(0, 255, (50, 90, 3), dtype=np.uint8)
    box = locate(net, img)
    assert box.shape == (4,) and box.dtype == np.float64
    assert 0 <= box[0] < box[2] <= 90 and 0 <= box[1] < box[3] <= 50
    # the untrained network outputs its prior box (0.3 .. 0.7 x 0.15 .. 0.85), flip-averaged: symmetric in x
    np.testing.assert_allclose(box, [0.3 * 90, 0.15 * 50, 0.7 * 90, 0.85 * 50], atol=1.5)
    with pytest.raises(ValueError, match="RGB"):
        locate(net, np.zeros((5, 5)))


def test_person_box_loss_known_answer_and_training():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[10.0, 20.0, 30.0, 40.0]]).expand(len(x), 4)

    batch = {"image": torch.zeros(2, 3, 8, 8), "box": torch.tensor([[10.0, 20.0, 30.0, 40.0]] * 2)}
    assert float(person_box_loss(Fixed(), batch)["box_l1"]) == 0.0
    batch["box"] = batch["box"] + 22.4  # 0.1 of the units on every corner -> 0.1 x 4
    assert float(person_box_loss(Fixed(), batch)["box_l1"]) == pytest.approx(0.4)
    torch.manual_seed(0)
    net = LocalizationNet("lite", pretrained=False, input_size=32)
    x = torch.rand(4, 3, 32, 32)
    target = torch.tensor([[20.0, 30.0, 120.0, 200.0]] * 4)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    first = None
    for _ in range(30):
        loss = person_box_loss(net, {"image": x, "box": target})["box_l1"]
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


# ---------------------------------------------------------------------------------- absent joints
def test_absent_weight_trains_unlabelled_joints_toward_zero_maps():
    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0, scales=(1, 2))
    s = _sample()
    s.update(center=np.array([30.0, 30.0], np.float32), scale=np.float32(0.3))
    rng = np.random.default_rng(0)
    off = PoseTrainTransform("lsp14", codec, augment=False)(s, rng)
    on = PoseTrainTransform("lsp14", codec, augment=False, absent_weight=1.0)(s, rng)
    assert off["weights"][0] == 0.0 and on["weights"][0] == 1.0  # the joint outside the photo
    np.testing.assert_array_equal(on["weights"][1:], off["weights"][1:])
    assert float(np.abs(on["targets"][16][0]).max()) == 0.0  # its target: an all-zero map
    with pytest.raises(ValueError, match="absent_weight"):
        PoseTrainTransform("lsp14", codec, absent_weight=-1.0)


# ------------------------------------------------------------------------------------------ visibility
def test_fit_calibration_recovers_a_logistic_model():
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1, 20000)
    y = rng.random(20000) < 1 / (1 + np.exp(-(12 * s - 3)))
    cal = fit_calibration(s, y)
    assert abs(cal["a"] - 12) < 0.8 and abs(cal["b"] + 3) < 0.3
    with pytest.raises(ValueError, match="both"):
        fit_calibration(s, np.ones_like(s))


def test_joint_visibility_calibrated_and_uncalibrated():
    sc = np.array([0.0, 0.1, 0.3, np.nan])
    vis, flag = joint_visibility(sc, {"a": 10.0, "b": -2.0})
    np.testing.assert_allclose(vis[:3], 1 / (1 + np.exp(-(10 * sc[:3] - 2))))
    assert vis[3] == 0.0 and flag.tolist() == [False, False, True, False]
    vis, flag = joint_visibility(sc)
    assert flag.tolist() == [False, False, True, False] and UNCALIBRATED_THRESHOLD == 0.2
    assert calibration_from_metadata({"visibility": {"a": "x", "b": 1}}) is None
    assert calibration_from_metadata({"visibility": {"a": 2, "b": 1}}) == {"a": 2.0, "b": 1.0, "threshold": 0.5}
    vis, flag = joint_visibility(sc, {"a": 10.0, "b": -2.0, "threshold": 0.8})
    assert flag.tolist() == [False, False, False, False]  # 1 / (1 + e^-1) = 0.73 < 0.8


def test_choose_threshold_keeps_the_asked_fraction_of_visible_joints():
    from structnet.pose2d.visibility import choose_threshold

    p = np.array([0.1, 0.2, 0.6, 0.7, 0.8, 0.9, 0.65, 0.95, 0.3, 0.85, 0.75, 0.5])
    y = np.array([False, False, False, True, True, True, True, True, True, True, True, True])
    # visible: 0.95 0.9 0.85 0.8 0.75 0.7 0.65 0.5 0.3 -> keep 2/3 (6 of 9): 0.7
    assert choose_threshold(p, y, keep=2 / 3) == 0.7
    assert choose_threshold(p, y, keep=1.0) == 0.3
    assert np.mean(p[y] >= choose_threshold(p, y)) >= 0.9
    with pytest.raises(ValueError, match="visible"):
        choose_threshold(p, np.zeros(12, bool))


def test_flag_metrics_known_answer():
    m = flag_metrics([True, True, False, False, True], [True, False, False, True, True])
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["absent_precision"] == pytest.approx(1 / 2) and m["absent_recall"] == pytest.approx(1 / 2)


def test_json_and_overlay_follow_the_visible_flags():
    kp = np.stack([np.linspace(5, 25, 14), np.linspace(5, 25, 14)], 1)
    res = {"keypoints": kp, "scores": np.full(14, 0.9), "visibility": np.r_[np.zeros(7), np.ones(7)],
           "visible": np.r_[np.zeros(7, bool), np.ones(7, bool)], "visibility_calibrated": True,
           "window": "auto", "person_box": (1.0, 2.0, 20.0, 30.0)}
    doc = pose_to_json(res, "a.jpg", 32, 32, "lsp14")
    assert doc["visibility"] == "calibrated" and doc["window"] == "auto" and doc["person_box"] == [1, 2, 20, 30]
    assert [j["visible"] for j in doc["joints"]] == [False] * 7 + [True] * 7
    img = np.zeros((32, 32, 3), np.uint8)
    none = draw_pose_overlay(img, kp, res["scores"], "lsp14", visible=np.zeros(14, bool))
    assert none.max() == 0  # nothing drawn when no joint is visible, whatever the scores
    assert draw_pose_overlay(img, kp, res["scores"], "lsp14", visible=res["visible"]).max() > 0


# ------------------------------------------------------------------------------------ CLI round trip
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """A tiny pose model and a tiny person-box model trained through the CLI on a synthetic LSPET folder."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("person")
    data = write_lspet_folder(tmp / "lspet", n_train=6, n_val=3, size=64, seed=5)
    common = [f"data.root={data}", f"eval.root={data}", "train.batch_size=2", "train.progress_bar=false"]
    pcfg = tmp / "person.yaml"
    save_config(load_config(Pose2DConfig, ROOT / "src/structnet/configs/pose2d/person_box_lite0_lspet_cpu.yaml",
                            common + ["data.split=train", "data.input_size=32", "model.pretrained=false",
                                      "train.max_iters=2", "train.eval_every=2", "eval.max_images=2",
                                      "train.time_limit=null", f"train.out_dir={tmp / 'prun'}"]), pcfg)
    assert main(["train", "pose2d", "--config", str(pcfg)]) == 0
    qcfg = tmp / "pose.yaml"
    save_config(load_config(Pose2DConfig, None, common + [
        "data.dataset=lspet", "data.input_size=64", "model.stacks=1", "model.features=16", "model.depth=2",
        "model.msr=false", "data.absent_weight=1.0", "train.max_iters=2", "loss.supervise=[stacks]",
        f"train.out_dir={tmp / 'qrun'}"]), qcfg)
    assert main(["train", "pose2d", "--config", str(qcfg)]) == 0
    return data, tmp / "prun" / "model.safetensors", tmp / "qrun" / "model.safetensors"


def test_predict_with_a_person_model_writes_its_box(tiny_models, tmp_path):
    data, person, pose = tiny_models
    img = sorted((data / "images").glob("*.jpg"))[0]
    out = tmp_path / "out"
    assert main(["predict", "pose2d", str(img), "--model", str(pose), "--person-model", str(person),
                 "--out", str(out)]) == 0
    doc = json.loads((out / f"{img.stem}_pose2d.json").read_text())
    assert len(doc["person_box"]) == 4 and doc["window"] in ("auto", "person")
    assert doc["visibility"] == "score" and all("visible" in j for j in doc["joints"])
    assert main(["predict", "pose2d", str(img), "--model", str(pose), "--person-model", "none",
                 "--out", str(tmp_path / "none")]) == 0
    assert "person_box" not in json.loads((tmp_path / "none" / f"{img.stem}_pose2d.json").read_text())


def test_person_and_pose_models_are_not_interchangeable(tiny_models, tmp_path, capsys):
    data, person, pose = tiny_models
    img = sorted((data / "images").glob("*.jpg"))[0]
    assert main(["predict", "pose2d", str(img), "--model", str(person), "--out", str(tmp_path / "a")]) != 0
    assert "person-box model, not a pose model" in capsys.readouterr().err
    assert main(["predict", "pose2d", str(img), "--model", str(pose), "--person-model", str(pose),
                 "--out", str(tmp_path / "b")]) != 0
    assert "not a person-box model" in capsys.readouterr().err


def test_person_model_metadata_round_trip(tiny_models):
    from structnet.tasks.loading import load

    _, person, _ = tiny_models
    m = load(person, task="pose2d")
    assert isinstance(m.network, LocalizationNet) and m.settings == {"kind": "person_box", "input_size": 32}
    assert m.network.input_size == 32 and m.codec is None
    from structnet.pose2d.task import load_person_model

    with pytest.raises(UserError):
        load_person_model(str(person.parent / "missing.safetensors"))
    pytest.importorskip("onnxruntime")
    onnx = load_person_model(str(person), backend="onnxruntime")
    assert onnx.backend == "onnxruntime"
    img = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    np.testing.assert_allclose(locate(onnx.network, img, input_size=32), locate(m.network, img), atol=1e-3)


# --------------------------------------------------------------------------- PASCAL-Person-Part boxes
def test_mask_box_known_answers():
    from structnet.pose2d.person import mask_box

    m = np.zeros((10, 12), bool)
    m[2:5, 3:7] = True
    np.testing.assert_array_equal(mask_box(m, (-0.5, -0.5, 11.5, 9.5)), [3, 2, 6, 4])
    np.testing.assert_array_equal(mask_box(m, (4.2, -0.5, 11.5, 3.0)), [5, 2, 6, 3])
    assert mask_box(m, (8, 0, 11, 9)) is None


def _pascal_folder(root: Path) -> Path:
    import cv2

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    masks = {}
    a = np.zeros((40, 60), np.uint8)
    a[5:30, 10:20] = 2  # one person ...
    a[31:38, 12:18] = 6  # ... whose legs are a separate region inside its box's columns but below it
    a[0:3, 50:53] = 1  # and a small far-away region
    masks["one"] = a
    b = np.zeros((40, 60), np.uint8)
    b[5:30, 5:15] = 2
    b[5:30, 40:50] = 2  # two people of the same size: ambiguous, left out
    masks["two"] = b
    for name, m in masks.items():
        cv2.imwrite(str(root / "masks" / f"{name}.png"), m)
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), np.full((40, 60, 3), 90, np.uint8))
    (root / "train.txt").write_text("one\ntwo\n")
    return root


def test_pascal_person_boxes_take_the_one_clear_person(tmp_path):
    from structnet.data.keys import ConcatKeyed
    from structnet.pose2d.person import PascalPersonBoxes

    ds = PascalPersonBoxes(_pascal_folder(tmp_path / "ppp"), "train")
    assert ds.ids == ["one"]
    s = ds[0]
    assert s["person_mask"][10, 15] and not s["person_mask"][1, 51]  # the far region is not this person
    out = PersonBoxTransform(32, augment=False)(s, np.random.default_rng(0))
    np.testing.assert_allclose(out["box"], np.array([10 / 60, 5 / 40, 19 / 60, 29 / 40]) * UNITS, rtol=1e-5)
    both = ConcatKeyed([1, 2, 3], ds)
    assert len(both) == 4 and both[2] == 3 and both[(3, 5)]["name"] == "one"
    with pytest.raises(UserError, match="split file"):
        PascalPersonBoxes(tmp_path / "ppp", "test")
