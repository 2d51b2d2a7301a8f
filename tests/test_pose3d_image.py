"""The image -> skeleton-map half of pose3d (issue 10 (b)): the synthetic-people renderer (known answers: widths,
z-buffer, crop geometry), the deconvolution network (bilinear initialisation against F.interpolate, shapes,
intermediate supervision), a tiny training that beats the untrained network, and the CLI round trips
(train, eval --input synthetic, predict --maps-model)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structnet import hub
from structnet.cli import main
from structnet.data.io import write_png
from structnet.pose3d.maps_data import target_maps
from structnet.pose3d.maps_net import SkeletonMapNet, bilinear_kernel, map_loss
from structnet.pose3d.metrics import maps_iou
from structnet.pose3d.model import normalise_2d
from structnet.pose3d.render import crop_person, crop_to_map, person_box
from structnet.pose3d.synthetic import CAPSULES, SyntheticPeople, draw_appearance, render_people

from test_pose3d_task import _config, write_synthetic_h36m

F_PX = np.array([[1000.0, 1000.0]])
C_PX = np.array([[500.0, 500.0]])


def _flat_person(z_arm: float = 3000.0) -> np.ndarray:
    """All joints at depth 3000 mm far to the top left of the crop, except the trunk (hip, spine, thorax) and a
    horizontal right forearm across it."""
    j = np.zeros((1, 17, 3))
    j[0, :, :2] = -5000.0         # off the crop: every capsule to them leaves towards the top left
    j[0, :, 2] = 3000.0
    j[0, 0] = [0, 200, 3000]      # hip
    j[0, 7] = [0, 0, 3000]        # spine
    j[0, 8] = [0, -250, 3000]     # thorax
    j[0, 15] = [-300, 0, z_arm]   # right elbow -> wrist: across the spine
    j[0, 16] = [300, 0, z_arm]
    return j


def _colors() -> np.ndarray:
    """A distinct dark colour per capsule (so the shading cannot saturate)."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.05, 0.6, (1, len(CAPSULES), 3)).astype(np.float32)


def _render(j, size=100, side=1000.0):
    bg = np.full((1, 3, size, size), 0.9, np.float32)
    return render_people(j, F_PX, C_PX, np.array([[500.0, 500.0]]), np.array([side]), size, bg, _colors(),
                         np.array([[0.0, 0.0, -1.0]], np.float32))


def _capsule(a, b):
    return next(i for i, c in enumerate(CAPSULES) if (c[0], c[1]) == (a, b))


def test_capsule_width_and_axis_colour_known_answer():
    img = _render(_flat_person(z_arm=2000.0))[0].numpy()
    # the crop (side 1000 px at 100 px) maps image x = 500 + X/3000*1000 -> crop (x - 0) / 10 - 0.5
    # the crop (side 1000 px -> 100 px around (500, 500)) puts image point p at crop (p - 0) / 10 - 0.5: the
    # forearm (X -300..300 mm at 2 m -> image x 350..650) spans crop columns 34.5..64.5 on the row y = 49.5
    col = _colors()[0, _capsule(15, 16)]
    # half a pixel off the axis (light towards the camera: shade 0.35 + 0.75 x 0.97) the colour is ~1.07 x its own
    np.testing.assert_allclose(img[:, 49, 62], np.clip(col * 1.07, 0, 1), atol=0.02)
    # projected radius f r / z = 1000 x 38 / 2000 = 19 image px = 1.9 crop px around row 49.5: rows 48..51
    covered = np.abs(img[:, :, 62] - 0.9).max(axis=0) > 1e-6
    assert covered.nonzero()[0].tolist() == [48, 49, 50, 51]


def test_zbuffer_nearer_capsule_wins():
    arm, spine = _capsule(15, 16), _capsule(7, 8)
    col = _colors()[0]
    front = _render(_flat_person(z_arm=2500.0))[0].numpy()[:, 49, 49]   # arm 50 cm in front of the torso
    behind = _render(_flat_person(z_arm=3500.0))[0].numpy()[:, 49, 49]  # arm 50 cm behind it
    assert np.abs(front - np.clip(col[arm] * 1.1, 0, 1)).max() < 0.05
    assert np.abs(behind - np.clip(col[spine] * 1.09, 0, 1)).max() < 0.02  # the upper spine, near its axis
    assert np.abs(front - behind).max() > 0.05


def test_synthetic_people_match_the_lifter_frame_and_are_reproducible(tmp_path):
    data = write_synthetic_h36m(tmp_path / "h36m", frames=8)
    from structnet.pose3d.h36m import H36M

    a = H36M(data).arrays(["S1"])
    people = SyntheticPeople(a["joints_cam"], a["joints_2d"], a["f"], a["c"], None, image_size=64, jitter=0.0)
    kp, _, _ = normalise_2d(a["joints_2d"], 1.2)
    s = people.sample(3, seed=7)
    np.testing.assert_allclose(s["kp"], kp[3], atol=1e-5)   # jitter 0: exactly the lifter's normalised joints
    assert s["image"].shape == (3, 64, 64) and 0.0 <= s["image"].min() and s["image"].max() <= 1.0
    np.testing.assert_array_equal(people.sample(3, seed=7)["image"], s["image"])
    assert not np.array_equal(people.sample(3, seed=8)["image"], s["image"])
    jit = SyntheticPeople(a["joints_cam"], a["joints_2d"], a["f"], a["c"], None, image_size=64, jitter=0.1)
    assert not np.allclose(jit.sample(3, seed=7)["kp"], kp[3])
    app = draw_appearance(np.random.default_rng(0))
    assert app["colors"].shape == (len(CAPSULES), 3) and abs(np.linalg.norm(app["light"]) - 1) < 1e-6


def test_crop_person_geometry_matches_crop_to_map():
    img = np.zeros((200, 300, 3), np.uint8)
    img[120, 170] = 255                               # one white pixel at x 170, y 120
    center, side = np.array([150.0, 100.0]), 80.0      # a 2x zoom: 80 image px -> 160 crop px
    crop = crop_person(img, center, side, 160)
    y, x = np.unravel_index(crop[0].argmax(), crop[0].shape)
    want = crop_to_map(np.array([[[170.0, 120.0]]]), center[None], np.array([side]), 160)[0, 0]
    assert abs(x - want[0]) <= 1.0 and abs(y - want[1]) <= 1.0, ((x, y), want)
    # outside the image is black
    assert crop_person(img, np.array([-500.0, -500.0]), 50.0, 16).max() == 0.0


def test_bilinear_deconvolution_equals_bilinear_upsampling():
    x = torch.randn(1, 3, 8, 8)
    up = F.conv_transpose2d(x, bilinear_kernel(3), stride=2, padding=1, groups=3)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert up.shape == ref.shape == (1, 3, 16, 16)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])   # the borders differ (zero padding)


def test_map_net_shapes_and_intermediate_supervision():
    net = SkeletonMapNet(widths=[1.5, 3.0], map_size=16, backbone="vgg_tiny", features=8).eval()
    out = net(torch.rand(2, 3, 64, 64))
    assert [tuple(lv.shape) for lv in out["levels"]] == [(2, 12, 16, 16), (2, 12, 8, 8)]  # vgg_tiny: strides 4, 8
    with torch.no_grad():
        m = net.maps(torch.rand(2, 3, 64, 64))
    assert m.shape == (2, 2, 6, 16, 16) and float(m.max()) < 0.05     # starts at "background everywhere"
    # known answer of the loss: logits 0 -> log 2 at every level whatever the target
    zero = [torch.zeros(2, 12, s, s) for s in (16, 8, 4, 2)]
    loss = map_loss(zero, torch.rand(2, 12, 16, 16))
    assert set(loss) == {"l0", "l1", "l2", "l3"}
    for v in loss.values():
        assert math.isclose(float(v), math.log(2), rel_tol=1e-5)
    # coarse levels see the average-pooled target: a perfect coarse logit has the target's entropy as its loss
    t = torch.zeros(1, 12, 16, 16)
    t[..., :8, :8] = 1.0
    perfect = [torch.logit(F.adaptive_avg_pool2d(t, s).clamp(1e-6, 1 - 1e-6)) for s in (16, 8, 4, 2)]
    assert all(float(v) < 1e-4 for v in map_loss(perfect, t).values())


def test_maps_iou_known_answer():
    a = torch.zeros(1, 6, 4, 4)
    b = torch.zeros(1, 6, 4, 4)
    a[0, 0, :2] = 1.0      # 8 pixels
    b[0, 1, 1:3] = 1.0     # 8 pixels, 4 shared
    assert maps_iou(a, b)[0] == pytest.approx(4 / 12)


def test_tiny_map_training_beats_the_untrained_network(tmp_path):
    torch.manual_seed(0)
    data = write_synthetic_h36m(tmp_path / "h36m", frames=16)
    from structnet.pose3d.h36m import H36M

    a = H36M(data).arrays(["S1"])
    people = SyntheticPeople(a["joints_cam"], a["joints_2d"], a["f"], a["c"], None, image_size=64, jitter=0.0)
    depth = torch.from_numpy(a["joints_cam"][..., 2])

    def batch(idx, seed):
        ss = [people.sample(i, seed + i) for i in idx]
        img = torch.from_numpy(np.stack([s["image"] for s in ss]))
        kp = torch.from_numpy(np.stack([s["kp"] for s in ss]))
        return img, target_maps(kp, depth[list(idx)], [3.0], 16)

    net = SkeletonMapNet(widths=[3.0], map_size=16, backbone="vgg_tiny", features=16)
    val_img, val_t = batch(range(0, len(people), 4), 999)

    def val_loss():
        net.eval()
        with torch.no_grad():
            return float(map_loss(net(val_img)["levels"][:1], val_t)["l0"])

    before = val_loss()
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    rng = np.random.default_rng(0)
    for step in range(40):
        net.train()
        img, t = batch(rng.integers(0, len(people), 8), step * 100)
        loss = sum(map_loss(net(img)["levels"], t).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = val_loss()
    assert after < 0.7 * before, (before, after)


@pytest.fixture(scope="module")
def h36m_small(tmp_path_factory):
    return write_synthetic_h36m(tmp_path_factory.mktemp("h36m_img"), frames=16)


@pytest.fixture(scope="module")
def tiny_models(h36m_small, tmp_path_factory):
    """A tiny lifter (widths 1.5, 3; 16 px maps) and a tiny maps network drawing its maps, both through the CLI."""
    tmp = tmp_path_factory.mktemp("p3d_img")
    lifter_cfg = _config(tmp, h36m_small, iters=20)
    assert main(["train", "pose3d", "--config", str(lifter_cfg), "--threads", "1"]) == 0
    bgs = tmp / "backgrounds"
    bgs.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        write_png(bgs / f"bg{k}.png", rng.uniform(0, 255, (40, 50, 3)).astype(np.uint8))
    cfg = tmp / "tiny_image.yaml"
    cfg.write_text(f"""
model: {{kind: image, widths: [1.5, 3.0], map_size: 16, backbone: vgg_tiny, pretrained: false, features: 8}}
data: {{root: {h36m_small}, subjects: [S1], backgrounds: {bgs}, jitter: 0.05}}
optim: {{name: adam, lr: 1.0e-3}}
train: {{batch_size: 4, max_iters: 3, checkpoint_every: 0, log_every: 1, progress_bar: false, tensorboard: false,
        out_dir: {tmp / 'run_image'}, seed: 0}}
""")
    assert main(["train", "pose3d", "--config", str(cfg), "--threads", "1"]) == 0
    return tmp / "run_maps" / "model.safetensors", tmp / "run_image" / "model.safetensors", bgs


def test_maps_model_loads_through_the_hub(tiny_models):
    _, maps_w, _ = tiny_models
    m = hub.load(str(maps_w), task="pose3d")
    assert isinstance(m.network, SkeletonMapNet) and m.network.widths == [1.5, 3.0] and m.network.image_size == 64


def test_eval_synthetic_cli_round_trip(tiny_models, h36m_small, tmp_path):
    lifter, maps_w, bgs = tiny_models
    out = tmp_path / "syn.json"
    assert main(["eval", "pose3d", "--weights", str(lifter), "--maps-model", str(maps_w), "--input", "synthetic",
                 "--data", str(h36m_small), "--subjects", "S9", "--backgrounds", str(bgs), "--every", "4",
                 "--quiet", "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["input"] == "synthetic" and res["n_frames"] == 2 * 2 * 4 and res["maps_model"] == str(maps_w)
    assert 0.0 <= res["maps_iou"] <= 1.0 and np.isfinite(res["mpjpe_mm"]) and len(res["hypotheses"]) == 2
    # the same images every run (seeded by sequence and frame)
    out2 = tmp_path / "syn2.json"
    assert main(["eval", "pose3d", "--weights", str(lifter), "--maps-model", str(maps_w), "--input", "synthetic",
                 "--data", str(h36m_small), "--subjects", "S9", "--backgrounds", str(bgs), "--every", "4",
                 "--quiet", "--threads", "1", "--json", str(out2)]) == 0
    assert json.loads(out2.read_text())["mpjpe_mm"] == pytest.approx(res["mpjpe_mm"], rel=1e-5)


def test_eval_synthetic_bad_inputs_one_line(tiny_models, h36m_small, tmp_path, capsys):
    lifter, maps_w, bgs = tiny_models
    # the maps model given as the lifter
    assert main(["eval", "pose3d", "--weights", str(maps_w), "--input", "synthetic", "--data", str(h36m_small),
                 "--subjects", "S9", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "--maps-model" in err and "Traceback" not in err
    assert main(["eval", "pose3d", "--weights", str(lifter), "--maps-model", str(maps_w), "--input", "synthetic",
                 "--data", str(h36m_small), "--subjects", "S9", "--backgrounds", str(tmp_path / "none"),
                 "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "none" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_predict_with_the_maps_model(tiny_models, tmp_path, capsys):
    lifter, maps_w, _ = tiny_models
    rng = np.random.default_rng(1)
    write_png(tmp_path / "person.png", rng.uniform(0, 255, (120, 90, 3)).astype(np.uint8))
    rc = main(["predict", "pose3d", str(tmp_path / "person.png"), "--weights", str(lifter), "--maps-model",
               str(maps_w), "--out", str(tmp_path / "out"), "--min-joints", "0",
               "--min-leg-joints", "0", "--threads", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "out" / "person_pose3d.json").read_text())
    assert doc["maps_from"] == "image" and len(doc["joints"]) == 17 and len(doc["hypotheses"]) == 2
    rc = main(["predict", "pose3d", str(tmp_path / "person.png"), "--weights", str(lifter), "--maps-model", "none",
               "--out", str(tmp_path / "out2"), "--min-joints", "0",
               "--min-leg-joints", "0", "--threads", "1", "--quiet"])
    assert rc == 0
    assert json.loads((tmp_path / "out2" / "person_pose3d.json").read_text())["maps_from"] == "2d joints"
    # a maps model that draws other maps than the lifter reads: one line, no traceback
    other = SkeletonMapNet(widths=[2.0], map_size=16, backbone="vgg_tiny", features=8)
    from structnet.nn.weights import save_weights

    save_weights(other, tmp_path / "other.safetensors",
                 metadata={"task": "pose3d", "structnet_task": "pose3d", "model_config": json.dumps(other.config())})
    rc = main(["predict", "pose3d", str(tmp_path / "person.png"), "--weights", str(lifter), "--maps-model",
               str(tmp_path / "other.safetensors"), "--out", str(tmp_path / "out3"), "--threads", "1"])
    err = capsys.readouterr().err
    assert rc == 2 and "draws widths" in err and "Traceback" not in err


def _upright(mirror: bool) -> np.ndarray:
    """Trunk, shoulders, hips and head of a person facing the camera (or, mirrored left-right, facing away) 3 m
    away; the limbs far to the top left."""
    j = np.zeros((1, 17, 3))
    j[0, :, :2], j[0, :, 2] = -5000.0, 3000.0
    s = -1.0 if mirror else 1.0
    for k, xy in {0: (0, 200), 7: (0, 0), 8: (0, -250), 9: (0, -350), 10: (0, -450), 11: (150 * s, -250),
                  14: (-150 * s, -250), 4: (100 * s, 200), 1: (-100 * s, 200)}.items():
        j[0, k, :2] = xy
    return j


def test_face_and_hair_tell_front_from_back():
    from structnet.pose3d.synthetic import facing

    toward, away = _upright(False), _upright(True)
    np.testing.assert_allclose(facing(torch.tensor(toward, dtype=torch.float32))[0], [0, 0, -1], atol=1e-6)
    np.testing.assert_allclose(facing(torch.tensor(away, dtype=torch.float32))[0], [0, 0, 1], atol=1e-6)
    hair = np.array([[0.05, 0.05, 0.05]], np.float32)
    head = _colors()[0, _capsule(9, 10)]

    def pixel(j):  # the head's axis: image y 500 + 1000 x -400 / 3000 -> crop row 36.2, column 49.5
        bg = np.full((1, 3, 100, 100), 0.9, np.float32)
        return render_people(j, F_PX, C_PX, np.array([[500.0, 500.0]]), np.array([1000.0]), 100, bg, _colors(),
                             np.array([[0.0, 0.0, -1.0]], np.float32), None, hair)[0, :, 36, 49].numpy()

    np.testing.assert_allclose(pixel(toward), np.clip(head * 1.09, 0, 1), atol=0.02)   # the face
    np.testing.assert_allclose(pixel(away), hair[0] * 1.09, atol=0.02)                  # the back of the head


def test_ambiguous_pixels_are_the_overlaps_of_different_parts():
    from structnet.pose3d.maps_data import ambiguous_pixels

    kp = torch.full((1, 17, 2), float("nan"))
    # two crossing sticks of different parts: the right forearm (15 -> 16) horizontal, the left one (12 -> 13)
    # vertical, crossing at the centre of a 16 px map (crop units: -0.5..0.5)
    kp[0, 15], kp[0, 16] = torch.tensor([-0.3, 0.0]), torch.tensor([0.3, 0.0])
    kp[0, 12], kp[0, 13] = torch.tensor([0.0, -0.3]), torch.tensor([0.0, 0.3])
    amb = ambiguous_pixels(kp, [1.0], 16)[0, 0]
    # with a 1 px stick each covers the row / column through 7.5: pixel centres 7 and 8 (|d| = 0.5 = w / 2 is in)
    assert amb.nonzero().tolist() == [[7, 7], [7, 8], [8, 7], [8, 8]]


def test_map_loss_weight_counts_only_weighted_pixels():
    lg = torch.zeros(1, 6, 4, 4)
    t = torch.zeros(1, 6, 4, 4)
    lg[0, :, 0, 0] = 5.0                       # one confident pixel, wrong (target 0)
    w = torch.ones(1, 1, 4, 4)
    full = float(map_loss([lg], t)["l0"])
    w[0, 0, 0, 0] = 0.0                        # leave it out: the rest are logit 0 against 0, log 2 each
    masked = float(map_loss([lg], t, w)["l0"])
    assert masked == pytest.approx(math.log(2) * 15 / 16, rel=1e-5)
    assert full == pytest.approx((math.log(2) * 15 + (5 + math.log1p(math.exp(-5)))) / 16, rel=1e-5)


def _fake_lspet(root: Path) -> Path:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    j = np.zeros((3, 14, 3))
    rng = np.random.default_rng(0)
    j[..., :2] = rng.uniform(20, 80, (3, 14, 2))
    j[..., 2] = 1.0
    j[1, 5, 2] = 0.0                           # person 2 lacks a joint: left out
    for k in range(3):
        Image.fromarray(np.full((100, 120, 3), 40 * k, np.uint8)).save(root / "images" / f"im{k + 1:05d}.jpg")
    np.save(root / "joints.npy", j.astype(np.float32))
    (root / "train.txt").write_text("im00001\nim00002\n")
    (root / "val.txt").write_text("im00003\n")
    return root


def test_real_people_from_an_lspet_folder(tmp_path):
    from structnet.pose3d.maps_data import RealPeople

    rp = RealPeople(str(_fake_lspet(tmp_path / "lspet")), 32, 1.2, 0.0)
    assert len(rp) == 1                        # im00001 only (im00002 lacks a joint, im00003 is val)
    s = rp.sample(0, seed=1)
    assert s["image"].shape == (3, 32, 32) and s["kp"].shape == (17, 2)
    assert np.abs(s["kp"]).max() <= 0.5 / 1.2 + 1e-5    # the joints fill the box of side 1.2 x their extent


def test_training_with_real_photos_cli(h36m_small, tmp_path, capsys):
    lsp = _fake_lspet(tmp_path / "lspet")
    cfg = tmp_path / "real.yaml"
    cfg.write_text(f"""
model: {{kind: image, widths: [3.0], map_size: 16, backbone: vgg_tiny, pretrained: false, features: 8}}
data: {{root: {h36m_small}, subjects: [S1], backgrounds: null, real_root: {lsp}, real_prob: 0.5}}
train: {{batch_size: 4, max_iters: 2, checkpoint_every: 0, log_every: 1, progress_bar: false, tensorboard: false,
        out_dir: {tmp_path / 'run'}, seed: 0}}
""")
    assert main(["train", "pose3d", "--config", str(cfg), "--threads", "1"]) == 0
    assert (tmp_path / "run" / "model.safetensors").is_file()
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text().replace(f"real_root: {lsp}", "real_root: null"))
    assert main(["train", "pose3d", "--config", str(bad), "--threads", "1"]) == 2
    assert "data.real_root" in capsys.readouterr().err
