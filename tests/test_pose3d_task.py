"""pose3d through the task contract: a tiny lifter trained on a synthetic Human3.6M folder beats the mean pose,
eval / predict CLI round trips, hypothesis selection, and bad inputs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from structnet import hub
from structnet.cli import main
from structnet.data.io import write_png
from structnet.pose3d import hypotheses, metrics
from structnet.pose3d.model import Lifter
from structnet.pose3d.joints import PARENTS

# bone offsets (mm) of a standing person in world coordinates (z up), child relative to parent
_OFFSETS = {1: (-130, 0, 0), 2: (0, 0, -440), 3: (0, 0, -450), 4: (130, 0, 0), 5: (0, 0, -440), 6: (0, 0, -450),
            7: (0, 0, 230), 8: (0, 0, 250), 9: (0, 0, 110), 10: (0, 0, 120), 11: (150, 0, 0), 12: (0, 0, -280),
            13: (0, 0, -250), 14: (-150, 0, 0), 15: (0, 0, -280), 16: (0, 0, -250)}


def _poses(n: int, rng: np.random.Generator) -> np.ndarray:
    """People whose limbs swing forwards and sideways by random angles, turned about the vertical."""
    out = np.zeros((n, 17, 3))
    out[:, 0] = [0.0, 0.0, 950.0]
    swing = rng.uniform(0.0, 1.2, size=(n, 17, 2))        # forward only: the 2D pose determines the depth
    yaw = rng.uniform(-np.pi, np.pi, size=n)
    for j in range(1, 17):
        off = np.array(_OFFSETS[j], float)
        if j in (2, 3, 5, 6, 12, 13, 15, 16):   # limbs: rotate the downward offset about x then y
            a, b = swing[:, j, 0], swing[:, j, 1] * 0.5
            v = np.stack([np.sin(b) * off[2], np.sin(a) * np.cos(b) * off[2], np.cos(a) * np.cos(b) * off[2]], 1)
        else:
            v = np.broadcast_to(off, (n, 3))
        out[:, j] = out[:, PARENTS[j]] + v
    c, s = np.cos(yaw), np.sin(yaw)
    rel = out - out[:, :1]
    x = c[:, None] * rel[..., 0] - s[:, None] * rel[..., 1]
    y = s[:, None] * rel[..., 0] + c[:, None] * rel[..., 1]
    return np.stack([x, y, rel[..., 2]], -1) + out[:, :1]


def _camera(name: str, angle: float) -> dict:
    """A camera 4 m from the origin at ``angle`` about the vertical, 1 m high, looking horizontally at it."""
    pos = np.array([4000 * np.sin(angle), -4000 * np.cos(angle), 1000.0])
    fwd = -pos * np.array([1, 1, 0]) / np.linalg.norm(pos[:2])
    right = np.cross(fwd, [0, 0, 1.0])
    down = np.cross(fwd, right)
    r_used = np.stack([right, down, fwd])                 # world -> camera rows
    return {"name": name, "R": r_used.T.tolist(), "T": pos.tolist(), "f": [1100.0, 1100.0], "c": [500.0, 500.0],
            "k": [0, 0, 0], "p": [0, 0]}


def write_synthetic_h36m(root: Path, frames: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    poses = {f"S{s}/{a}": _poses(frames, rng).astype(np.float32)
             for s in (1, 9) for a in ("Walking", "Eating 1")}
    np.savez(root / "poses3d.npz", **poses)
    cams = [_camera("54138969", 0.0), _camera("55011271", 1.3)]
    (root / "cameras.json").write_text(json.dumps({"cameras": {"S1": cams, "S9": cams}}))
    # "detections": the projections with 6 px of noise, in MPII order
    from structnet.pose3d.h36m import H36M
    from structnet.pose3d.joints import SH_TO_H36M

    det = {}
    for s in H36M(root).iter_sequences(["S9"]):
        d = np.zeros((len(s), 16, 2), np.float32)
        for m, j in SH_TO_H36M.items():
            d[:, m] = s.joints_2d[:, j]
        d[:, 7] = 2 * s.joints_2d[:, 7] - s.joints_2d[:, 0]          # MPII thorax such that spine = midpoint
        det[f"S9/{s.sequence}/{s.camera.name}"] = d + rng.normal(0, 6, d.shape).astype(np.float32)
    np.savez(root / "detections_sh.npz", **det)
    return root


@pytest.fixture(scope="module")
def h36m(tmp_path_factory):
    return write_synthetic_h36m(tmp_path_factory.mktemp("h36m"))


def _config(tmp: Path, data: Path, kind: str = "maps", iters: int = 150) -> Path:
    cfg = tmp / f"tiny_{kind}.yaml"
    cfg.write_text(f"""
model: {{kind: {kind}, widths: [1.5, 3.0], map_size: 16, regressor_width: 8, hidden: 64, dropout: 0.0,
         compile_renderer: false}}
data: {{root: {data}, subjects: [S1], no_order_prob: 0.3}}
optim: {{name: adam, lr: 3.0e-3}}
schedule: {{name: cosine, warmup_iters: 10}}
train: {{batch_size: 32, max_iters: {iters}, checkpoint_every: 0, log_every: 50, progress_bar: false,
        tensorboard: false, out_dir: {tmp / ('run_' + kind)}, seed: 0}}
eval: {{root: {data}, subjects: [S9]}}
""")
    return cfg


@pytest.fixture(scope="module")
def trained(h36m, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("p3d")
    cfg = _config(tmp, h36m)
    assert main(["train", "pose3d", "--config", str(cfg), "--threads", "1"]) == 0
    return tmp / "run_maps" / "model.safetensors", cfg


def _eval_json(args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    rc = main(["eval", "pose3d", *args, "--quiet", "--threads", "1", "--json", str(out), "eval.compile_renderer=false"])
    assert rc == 0
    return json.loads(out.read_text())


def _mean_pose_mpjpe(h36m: Path) -> float:
    """MPJPE on S9 of the mean training pose (root-relative, in each camera's frame) predicted for every frame."""
    from structnet.pose3d.h36m import H36M

    h = H36M(h36m)
    train = h.arrays(["S1"])["joints_cam"]
    test = h.arrays(["S9"])["joints_cam"]
    mean = (train - train[:, :1]).mean(0)
    return float(metrics.mpjpe(np.broadcast_to(mean, test.shape), test).mean())


def test_tiny_training_beats_the_mean_pose(trained, h36m, tmp_path):
    weights, _ = trained
    res = _eval_json(["--weights", str(weights), "--data", str(h36m), "--subjects", "S9"], tmp_path, "gt2d")
    for key in ("mpjpe_mm", "p_mpjpe_mm", "per_action", "n_frames", "protocol"):
        assert key in res
    assert res["n_frames"] == 2 * 2 * 64 and set(res["per_action"]) == {"Eating", "Walking"}
    assert res["depth_order"] == "gt" and res["input"] == "gt2d"
    base = _mean_pose_mpjpe(h36m)
    assert res["mpjpe_mm"] < 0.8 * base, (res["mpjpe_mm"], base)
    assert res["oracle_mpjpe_mm"] <= min(hh["mpjpe_mm"] for hh in res["hypotheses"]) + 1e-6
    assert len(res["hypotheses"]) == 2 and res["p_mpjpe_mm"] < res["mpjpe_mm"]
    assert res["p_mpjpe_mm"] <= res["n_mpjpe_mm"] < res["mpjpe_mm"] and 0.5 < res["scale_to_gt_median"] < 2.0


def test_eval_from_detections_and_depth_orders(trained, h36m, tmp_path):
    weights, _ = trained
    sh = _eval_json(["--weights", str(weights), "--data", str(h36m), "--subjects", "S9", "--input", "sh"],
                    tmp_path, "sh")
    assert sh["input"] == "sh" and sh["depth_order"] == "estimated" and sh["n_frames"] == 256
    none = _eval_json(["--weights", str(weights), "--data", str(h36m), "--subjects", "S9", "--depth-order", "none",
                       "--every", "4"], tmp_path, "none")
    assert none["depth_order"] == "none" and none["n_frames"] == 4 * 16
    assert np.isfinite(sh["mpjpe_mm"]) and np.isfinite(none["mpjpe_mm"])
    assert sh["flip_test"] is True                                  # test-time mirroring is the default
    plain = _eval_json(["--weights", str(weights), "--data", str(h36m), "--subjects", "S9", "--input", "sh",
                        "--no-flip"], tmp_path, "plain")
    assert plain["flip_test"] is False and plain["n_frames"] == 256 and plain["mpjpe_mm"] != sh["mpjpe_mm"]


def test_keypoint_baseline_trains(h36m, tmp_path):
    cfg = _config(tmp_path, h36m, kind="keypoints", iters=200)
    assert main(["train", "pose3d", "--config", str(cfg), "--threads", "1"]) == 0
    res = _eval_json(["--weights", str(tmp_path / "run_keypoints" / "model.safetensors"), "--data", str(h36m),
                      "--subjects", "S9"], tmp_path, "kp")
    assert res["depth_order"] == "none" and res["mpjpe_mm"] < 0.9 * _mean_pose_mpjpe(h36m), res["mpjpe_mm"]


def test_weights_load_through_the_hub(trained):
    weights, _ = trained
    m = hub.load(str(weights), task="pose3d")
    assert isinstance(m.network, Lifter) and m.network.widths == [1.5, 3.0] and m.network.map_size == 16
    out = m.network(torch.zeros(3, 17, 2))
    assert out.shape == (3, 2, 17, 3)


def test_predict_cli_writes_json_and_png(trained, tmp_path, capsys):
    weights, _ = trained
    rng = np.random.default_rng(0)
    img = (rng.uniform(0, 255, (120, 90, 3))).astype(np.uint8)
    write_png(tmp_path / "person.png", img)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    rc = main(["predict", "pose3d", str(tmp_path / "person.png"), str(tmp_path / "broken.jpg"), "--min-joints", "0",
               "--min-leg-joints", "0",
               "--weights", str(weights), "--out", str(tmp_path / "out"), "--threads", "1", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "broken.jpg" in err and "Traceback" not in err
    doc = json.loads((tmp_path / "out" / "person_pose3d.json").read_text())
    assert len(doc["joints"]) == 17 and doc["units"] == "mm" and doc["width"] == 90 and doc["height"] == 120
    assert doc["joints"][0] == {"name": "hip", "x": 0.0, "y": 0.0, "z": 0.0}
    assert len(doc["hypotheses"]) == 2 and doc["hypothesis"] in (0, 1)
    assert doc["flip_test"] is True and doc["maps_from"] == "2d joints"
    assert (tmp_path / "out" / "person_pose3d.png").is_file()
    assert main(["predict", "pose3d", str(tmp_path / "person.png"), "--no-flip", "--weights", str(weights),
                 "--min-joints", "0", "--min-leg-joints", "0", "--out", str(tmp_path / "plain"), "--threads", "1",
                 "--quiet"]) == 0
    plain = json.loads((tmp_path / "plain" / "person_pose3d.json").read_text())
    assert plain["flip_test"] is False and plain["joints_2d"] == doc["joints_2d"]
    assert max(abs(a[k] - b[k]) for a, b in zip(plain["joints"], doc["joints"]) for k in "xyz") > 1e-3


def test_bad_inputs_one_line(trained, tmp_path, capsys):
    weights, _ = trained
    assert main(["eval", "pose3d", "--weights", str(weights), "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["eval", "pose3d", "--weights", str(weights), "--data", str(tmp_path), "--every", "0"]) == 2
    assert "--every" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {widths: [2.0, 3.0], crops: [1.0]}\n")
    assert main(["train", "pose3d", "--config", str(bad), "--threads", "1"]) == 2
    assert "model.crops" in capsys.readouterr().err


def test_hypothesis_selection_known_answer():
    rng = np.random.default_rng(3)
    pose = rng.normal(size=(5, 17, 3)) * 300
    t = np.array([50.0, -80.0, 4000.0])
    f, c = np.array([1100.0, 1100.0]), np.array([500.0, 500.0])
    x = pose + t
    uv = x[..., :2] / x[..., 2:3] * f + c
    err, tt = hypotheses.reprojection_error(pose, uv, f, c)
    np.testing.assert_allclose(err, 0.0, atol=1e-6)
    np.testing.assert_allclose(tt, np.broadcast_to(t, (5, 3)), atol=1e-6)
    wrong = pose.copy()
    wrong[:, 13] += [300.0, 0.0, 0.0]                        # a wrist 30 cm off
    e2, _ = hypotheses.reprojection_error(wrong, uv, f, c)
    assert (e2 > 1.0).all()
    both = np.stack([e2, err], 1)
    np.testing.assert_array_equal(hypotheses.select_hypotheses(both), np.ones(5, int))
    assert hypotheses.select_hypotheses(np.array([[np.nan, 2.0], [np.nan, np.nan]])).tolist() == [1, 0]
    np.testing.assert_allclose(hypotheses.weak_perspective_error(pose, pose[..., :2] * 0.3 + 7.0), 0.0, atol=1e-9)


@pytest.mark.parametrize("order", ["gt", "none", "estimated"])
def test_flip_test_is_mirror_equivariant(order):
    """Test-time mirroring averages f(x) and M f(M x), so the result is exactly mirror-equivariant: lifting the
    mirrored 2D joints gives the mirrored 3D pose (left / right joints swapped, x negated); a wrong joint
    permutation or sign breaks this. Without flipping an untrained network is far from equivariant."""
    from structnet.pose3d.joints import FLIP_PERM
    from structnet.pose3d.inference import lift

    torch.manual_seed(0)
    net = Lifter("maps", widths=[2.0, 4.0], map_size=32, regressor_width=8, hidden=32).eval()
    rng = np.random.default_rng(0)
    pose = _poses(6, rng)
    j2 = 500.0 + pose[:, :, :2] * 0.4 + rng.normal(0, 3, (6, 17, 2))
    depth = 5000.0 + pose[:, :, 2]
    perm = list(FLIP_PERM)
    j2m = j2[:, perm].copy()
    j2m[..., 0] = 1000.0 - j2m[..., 0]                  # the mirrored photo, 1000 px wide
    mirror = np.array([-1.0, 1.0, 1.0])
    a = lift(net, j2, depth, order, flip=True)
    b = lift(net, j2m, depth[:, perm], order, flip=True)
    np.testing.assert_allclose(b, a[:, :, perm] * mirror, atol=1e-2)
    a0 = lift(net, j2, depth, order)
    b0 = lift(net, j2m, depth[:, perm], order)
    assert np.abs(b0 - a0[:, :, perm] * mirror).max() > 1.0
    assert np.abs(a - a0).max() > 1.0                  # the flip did change the poses


def test_detection_offsets_known_answer():
    from structnet.pose3d.joints import apply_detection_offsets, fit_detection_offsets, joint_spread

    rng = np.random.default_rng(0)
    det = rng.uniform(100, 900, (50, 17, 2)).astype(np.float32)
    off = rng.uniform(-0.1, 0.1, (17, 2)).astype(np.float32)
    gt = det - off * joint_spread(det)
    det_nan = det.copy()
    det_nan[3, 5] = np.nan                               # a frame with a missing joint is left out of the fit
    np.testing.assert_allclose(fit_detection_offsets(det_nan, gt), off, atol=1e-5)
    np.testing.assert_allclose(apply_detection_offsets(det, off), gt, atol=1e-3)
    one = np.array([[0.0, 0.0], [2.0, 0.0]] + [[1.0, 0.0]] * 15, np.float32)   # spread known by hand
    assert joint_spread(one)[..., 0, 0] == pytest.approx(np.sqrt(2.0 / 17))
    with pytest.raises(ValueError, match="no frame"):
        fit_detection_offsets(np.full((2, 17, 2), np.nan, np.float32), gt[:2])


def test_sh_offsets_cross_subject_fit_on_the_other_subject_only(h36m, tmp_path, trained, capsys):
    """S1 and S9 detections share a systematic offset: S9 corrected with the offsets fitted on S1 alone comes
    closer to its projected GT joints; with no other subject's detections the CLI says so in one line."""
    from structnet.pose3d.config import Pose3DEvalConfig
    from structnet.pose3d.h36m import H36M
    from structnet.pose3d.joints import SH_TO_H36M, joint_spread
    from structnet.pose3d.data import SequenceDataset, cross_subject_offsets

    weights, _ = trained
    assert main(["eval", "pose3d", "--weights", str(weights), "--data", str(h36m), "--subjects", "S9", "--input",
                 "sh", "--sh-offsets", "cross-subject", "--threads", "1", "eval.compile_renderer=false"]) == 2
    err = capsys.readouterr().err
    assert "S9" in err and "cross-subject" in err and len(err.strip().splitlines()) == 1

    root = tmp_path / "h36m_off"
    root.mkdir()
    for name in ("poses3d.npz", "cameras.json"):
        (root / name).write_bytes((h36m / name).read_bytes())
    rng = np.random.default_rng(1)
    shift = np.zeros((17, 2), np.float32)
    shift[3] = (0.0, -0.15)                                   # feet detected higher, head lower (spread units)
    shift[10] = (0.0, 0.1)
    det = {}
    for s in H36M(root).iter_sequences(["S1", "S9"]):
        j = s.joints_2d + shift * joint_spread(s.joints_2d) + rng.normal(0, 1, s.joints_2d.shape)
        d = np.zeros((len(s), 16, 2), np.float32)
        for m, k in SH_TO_H36M.items():
            d[:, m] = j[:, k]
        d[:, 7] = 2 * j[:, 7] - j[:, 0]
        det[f"{s.subject}/{s.sequence}/{s.camera.name}"] = d
    np.savez(root / "detections_sh.npz", **det)
    h = H36M(root)
    assert h.subjects_with_detections() == ["S1", "S9"]
    off = cross_subject_offsets(h, ["S9"])["S9"]
    assert off[3, 1] == pytest.approx(-0.15, abs=0.03) and off[10, 1] == pytest.approx(0.1, abs=0.03)
    errs = {}
    for mode in ("none", "cross-subject"):
        ds = SequenceDataset(Pose3DEvalConfig(root=str(root), subjects=["S9"], input="sh", sh_offsets=mode))
        errs[mode] = np.mean([np.linalg.norm(ds[i]["joints_2d"] - ds.items[i].joints_2d, axis=-1).mean()
                              for i in range(len(ds))])
    assert errs["cross-subject"] < 0.6 * errs["none"], errs
    res = _eval_json(["--weights", str(weights), "--data", str(root), "--subjects", "S9", "--input", "sh",
                      "--sh-offsets", "cross-subject"], tmp_path, "off")
    assert res["sh_offsets"] == "cross-subject" and res["n_frames"] == 256


def test_average_lifters_known_answer():
    from structnet.pose3d.evaluate import Pose3DEvaluator
    from structnet.pose3d.inference import average_lifters

    gt = np.zeros((2, 17, 3))
    a = {"pose": np.full((2, 17, 3), 10.0), "hypotheses": np.full((2, 1, 17, 3), 10.0),
         "errors_px": np.zeros((2, 1)), "chosen": np.zeros(2, int)}
    b = {"pose": np.full((2, 17, 3), -4.0), "hypotheses": np.full((2, 1, 17, 3), -4.0),
         "errors_px": np.zeros((2, 1)), "chosen": np.zeros(2, int)}
    out = average_lifters([a, b])
    np.testing.assert_allclose(out["pose"], 3.0)                     # (10 - 4) / 2 per coordinate
    assert out["members"].shape == (2, 2, 17, 3) and out["hypotheses"] is a["hypotheses"]
    ev = Pose3DEvaluator({"ensemble": ["maps", "mlp"]}, [{"width": 3.0, "crop": 1.0}])
    ev.process({"joints_cam": gt, "action": "Walking"}, out)
    s = ev.summarize()
    # all joints at (3, 3, 3) after root alignment are at 0: MPJPE 0; the members alone are 0 too (root-relative)
    assert s["mpjpe_mm"] == pytest.approx(0.0) and [m["model"] for m in s["ensemble_members"]] == ["maps", "mlp"]
    a2 = dict(a, pose=a["pose"] + np.r_[0.0, 30.0, 0.0][None, None] * (np.arange(17) > 0)[None, :, None])
    ev.reset()
    ev.process({"joints_cam": gt, "action": "Walking"}, average_lifters([a2, b]))
    s2 = ev.summarize()
    # member 0: 16 of 17 joints 30 mm off -> 30 * 16 / 17; the mean pose: 15 mm off on those joints
    assert s2["ensemble_members"][0]["mpjpe_mm"] == pytest.approx(30 * 16 / 17)
    assert s2["ensemble_members"][1]["mpjpe_mm"] == pytest.approx(0.0)
    assert s2["mpjpe_mm"] == pytest.approx(15 * 16 / 17)
    with pytest.raises(ValueError):
        average_lifters([])


def test_eval_and_predict_ensemble_cli(trained, h36m, tmp_path, capsys):
    """An ensemble of a lifter with itself is that lifter (wiring); the JSON names the members."""
    weights, _ = trained
    args = ["--weights", str(weights), "--data", str(h36m), "--subjects", "S9", "--every", "4"]
    single = _eval_json(args, tmp_path, "single")
    ens = _eval_json(args + ["--ensemble", str(weights)], tmp_path, "ens")
    assert ens["mpjpe_mm"] == pytest.approx(single["mpjpe_mm"], abs=1e-6)
    assert len(ens["ensemble"]) == 2 and [m["mpjpe_mm"] for m in ens["ensemble_members"]] == \
        pytest.approx([single["mpjpe_mm"]] * 2, abs=1e-6)
    assert "ensemble" not in single and "ensemble_members" not in single
    rng = np.random.default_rng(1)
    write_png(tmp_path / "person.png", rng.uniform(0, 255, (100, 80, 3)).astype(np.uint8))
    for out, extra in (("one", []), ("two", ["--ensemble", str(weights)])):
        assert main(["predict", "pose3d", *extra, str(tmp_path / "person.png"), "--weights", str(weights), "--out",
                     str(tmp_path / out), "--min-joints", "0", "--min-leg-joints", "0", "--threads", "1",
                     "--quiet"]) == 0  # option first
    one = json.loads((tmp_path / "one" / "person_pose3d.json").read_text())
    two = json.loads((tmp_path / "two" / "person_pose3d.json").read_text())
    assert "ensemble" not in one and two["ensemble"] == [weights.stem, str(weights)]
    assert max(abs(a[k] - b[k]) for a, b in zip(one["joints"], two["joints"]) for k in "xyz") < 1e-3
    capsys.readouterr()
    assert main(["eval", "pose3d", *args, "--ensemble", str(tmp_path / "missing.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "missing.safetensors" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["eval", "pose3d", *args, "--input", "synthetic", "--ensemble", str(weights)]) == 2
    assert "--ensemble" in capsys.readouterr().err


def test_training_noise_and_outliers(h36m):
    """Outliers move some joints far (about outlier_prob of them, once the new box's scale and shift are undone),
    and the box is then the moved joints' box (all joints within +-0.5 / box_scale, the longer side spanning
    exactly 1 / box_scale), as at test time; off, the samples are unchanged."""
    from structnet.errors import UserError
    from structnet.pose3d.config import Pose3DConfig
    from structnet.pose3d.data import LiftingDataset
    from structnet.pose3d.train import check_config

    def data(prob=0.0, sigma=0.1):
        cfg = Pose3DConfig()
        cfg.data.root, cfg.data.subjects, cfg.data.flip_prob = str(h36m), ["S1"], 0.0
        cfg.data.outlier_prob, cfg.data.outlier_sigma = prob, sigma
        return LiftingDataset(cfg), cfg

    clean, cfg = data()

    def far_fraction(ds):
        out = []
        for i in range(60):
            a, b = clean[(i, i)]["kp"], ds[(i, i)]["kp"]
            assert np.abs(b).max() <= 0.5 / cfg.model.box_scale + 1e-5
            assert (b.max(0) - b.min(0)).max() == pytest.approx(1.0 / cfg.model.box_scale, abs=1e-5)
            ca, cb = a - a.mean(0), b - b.mean(0)
            d = np.linalg.norm(cb * (ca * cb).sum() / (cb * cb).sum() - ca, axis=1)
            out.append((d > 0.03).mean())
        return float(np.mean(out))

    assert far_fraction(clean) == 0.0
    assert 0.25 < far_fraction(data(0.3, 0.1)[0]) < 0.6                 # measured 0.42
    assert far_fraction(data(0.3, 0.02)[0]) < 0.15                      # small moves stay near
    np.testing.assert_array_equal(data(0.0, 0.5)[0][(3, 3)]["kp"], clean[(3, 3)]["kp"])
    bad = data(1.5)[1]
    with pytest.raises(UserError, match="outlier_prob"):
        check_config(bad)


def _with_training_detections(h36m: Path, root: Path) -> Path:
    """A copy of the synthetic folder whose S1 (a training subject) has detections in detections_sh_train.npz:
    the projected joints in MPII order."""
    from structnet.pose3d.h36m import H36M
    from structnet.pose3d.joints import SH_TO_H36M

    root.mkdir(parents=True, exist_ok=True)
    for name in ("poses3d.npz", "cameras.json", "detections_sh.npz"):
        (root / name).write_bytes((h36m / name).read_bytes())
    det = {}
    for s in H36M(root).iter_sequences(["S1"]):
        d = np.zeros((len(s), 16, 2), np.float32)
        for m, j in SH_TO_H36M.items():
            d[:, m] = s.joints_2d[:, j]
        d[:, 7] = 2 * s.joints_2d[:, 7] - s.joints_2d[:, 0]
        det[f"S1/{s.sequence}/{s.camera.name}"] = d
    np.savez(root / "detections_sh_train.npz", **det)
    return root


def test_training_on_detections(h36m, tmp_path):
    """data.sh_prob: the training input is the frame's detection (mapped to 17 joints and normalised to its own
    box, as at test time) with that probability, else the projected GT; the depths and targets stay the GT's; the
    reader takes the training subjects' detections from detections_sh_train.npz; a training subject without
    detections is a one-line error that names the sequence."""
    from structnet.errors import UserError
    from structnet.pose3d.config import Pose3DConfig
    from structnet.pose3d.data import LiftingDataset
    from structnet.pose3d.h36m import H36M
    from structnet.pose3d.joints import sh_to_h36m
    from structnet.pose3d.model import normalise_2d
    from structnet.pose3d.train import check_config

    root = _with_training_detections(h36m, tmp_path / "h36m_det")
    h = H36M(root)
    assert h.subjects_with_detections() == ["S1", "S9"]
    a = h.arrays(["S1"], need_detections=True)
    assert len(a["joints_cam"]) == 2 * 2 * 64 and np.isfinite(a["detections"]).all()

    def data(prob, folder=root):
        cfg = Pose3DConfig()
        cfg.data.root, cfg.data.subjects, cfg.data.flip_prob, cfg.data.sh_prob = str(folder), ["S1"], 0.0, prob
        return LiftingDataset(cfg)

    gt, sh, mixed = data(0.0), data(1.0), data(0.5)
    kp_sh = normalise_2d(sh_to_h36m(a["detections"]), 1.2)[0]
    kp_gt = normalise_2d(a["joints_2d"], 1.2)[0]
    # the detections equal the GT joints except for the MPII-derived thorax / neck, so their normalised
    # coordinates differ; each sample is exactly the normalised detection (or GT joints), targets and depths GT
    for i in (0, 5, 200):
        np.testing.assert_allclose(sh[(i, i)]["kp"], kp_sh[i], atol=1e-6)
        np.testing.assert_allclose(gt[(i, i)]["kp"], kp_gt[i], atol=1e-6)
        np.testing.assert_array_equal(sh[(i, i)]["target"], gt[(i, i)]["target"])
        np.testing.assert_array_equal(sh[(i, i)]["depth"], gt[(i, i)]["depth"])
    from_sh = [np.allclose(mixed[(i, 7 * i)]["kp"], kp_sh[i], atol=1e-6)
               and not np.allclose(kp_sh[i], kp_gt[i], atol=1e-4) for i in range(200)]
    assert 0.35 < np.mean(from_sh) < 0.65
    with pytest.raises(UserError, match="S1/.*no Stacked Hourglass detections|no Stacked Hourglass detections of S1"):
        data(0.5, h36m)                                       # the plain folder has detections of S9 only
    bad = Pose3DConfig()
    bad.data.sh_prob = 1.5
    with pytest.raises(UserError, match="sh_prob"):
        check_config(bad)
    # one sequence in both files is ambiguous: refused
    np.savez(root / "detections_sh_train.npz", **dict(np.load(root / "detections_sh.npz")))
    with pytest.raises(UserError, match="also in another detections file"):
        H36M(root)


def test_tiny_training_on_detections_lowers_the_detection_error(h36m, tmp_path):
    """Detections with a systematic error (the feet 120 px higher, on a person ~1000 px tall): a lifter trained on
    them lifts them better than the same lifter trained on GT 2D (the Martinez et al. protocol)."""
    from structnet.pose3d.h36m import H36M
    from structnet.pose3d.joints import SH_TO_H36M

    root = _with_training_detections(h36m, tmp_path / "h36m_bias")
    det = {}
    h = H36M(root)
    for subj, name in (("S1", "detections_sh_train.npz"), ("S9", "detections_sh.npz")):
        det = {}
        for s in h.iter_sequences([subj]):
            j = s.joints_2d.copy()
            j[:, [3, 6]] -= (0.0, 120.0)                           # feet detected 120 px higher
            d = np.zeros((len(s), 16, 2), np.float32)
            for m, k in SH_TO_H36M.items():
                d[:, m] = j[:, k]
            d[:, 7] = 2 * j[:, 7] - j[:, 0]
            det[f"{subj}/{s.sequence}/{s.camera.name}"] = d
        np.savez(root / name, **det)
    res = {}
    for prob in (0.0, 1.0):
        cfg = tmp_path / f"det_{prob}.yaml"
        cfg.write_text(f"""
model: {{kind: keypoints, widths: [1.0], hidden: 64}}
data: {{root: {root}, subjects: [S1], sh_prob: {prob}}}
optim: {{name: adam, lr: 3.0e-3}}
schedule: {{name: cosine, warmup_iters: 10}}
train: {{batch_size: 32, max_iters: 300, checkpoint_every: 0, log_every: 100, progress_bar: false,
        tensorboard: false, out_dir: {tmp_path / f'run_{prob}'}, seed: 0}}
""")
        assert main(["train", "pose3d", "--config", str(cfg), "--threads", "1"]) == 0
        res[prob] = _eval_json(["--weights", str(tmp_path / f"run_{prob}" / "model.safetensors"), "--data", str(root),
                                "--subjects", "S9", "--input", "sh"], tmp_path, f"sh_{prob}")["mpjpe_mm"]
    assert res[1.0] < 0.85 * res[0.0], res


def test_upper_body_photo_gets_no_3d_pose(trained, tmp_path, capsys, monkeypatch):
    """When the 2D model's visibility flags show fewer than --min-leg-joints of the 6 hips, knees and ankles, the
    photo gets one line and no files (the batch goes on); --min-leg-joints 0 lifts it; a 2D model without flags is
    not checked."""
    import structnet.pose3d.inference as inference

    weights, _ = trained
    real = inference.predict_image
    flags = {"visible": None}

    def fake(*args, **kwargs):
        out = real(*args, **kwargs)
        out["scores_2d"] = np.ones(14)
        if flags["visible"] is None:
            out.pop("visible_2d", None)
        else:
            out["visible_2d"] = np.asarray(flags["visible"], bool)
        return out

    monkeypatch.setattr(inference, "predict_image", fake)
    write_png(tmp_path / "portrait.png", np.random.default_rng(2).uniform(0, 255, (100, 80, 3)).astype(np.uint8))
    common = [str(tmp_path / "portrait.png"), "--weights", str(weights), "--threads", "1", "--quiet"]
    flags["visible"] = [False, True, False, False, False, True] + [True] * 8      # 2 of the 6 leg joints
    assert main(["predict", "pose3d", *common, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "portrait.png" in ln]
    assert len(lines) == 1 and "upper body only" in lines[0] and "2 of the 6" in lines[0], err
    assert not (tmp_path / "a" / "portrait_pose3d.json").exists()
    assert main(["predict", "pose3d", *common, "--out", str(tmp_path / "b"), "--min-leg-joints", "2"]) == 0
    assert main(["predict", "pose3d", *common, "--out", str(tmp_path / "c"), "--min-leg-joints", "0"]) == 0
    flags["visible"] = None
    assert main(["predict", "pose3d", *common, "--out", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "portrait_pose3d.json").is_file()
