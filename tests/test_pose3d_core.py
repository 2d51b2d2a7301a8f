"""pose3d foundations: skeleton tables, Human3.6M reader and cameras, MPJPE / P-MPJPE, skeleton-map renderer."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from structnet.errors import UserError
from structnet.pose3d import metrics, render
from structnet.pose3d.h36m import H36M, Camera
from structnet.pose3d.joints import (BONES, JOINTS, PARTS, PART_COLORS, STICKS, FLIP_PERM, action_of,
                                       lsp_to_h36m, sh_to_h36m)

SHARED_H36M = Path(__file__).resolve().parents[2] / "shared" / "data" / "h36m"


# ------------------------------------------------------------------------------------------------ skeleton
def test_tables():
    assert len(JOINTS) == 17 and len(BONES) == 16 and len(PARTS) == 15
    assert sorted(STICKS) == sorted(BONES)
    d = np.linalg.norm(PART_COLORS[:, None] - PART_COLORS[None], axis=-1)
    assert d[~np.eye(15, dtype=bool)].min() >= 0.35
    assert (PART_COLORS.sum(1) > 0).all()                       # no part is drawn black (= background)
    for i, name in enumerate(JOINTS):
        other = JOINTS[FLIP_PERM[i]]
        assert other == name.replace("left", "#").replace("right", "left").replace("#", "right")


@pytest.mark.parametrize("seq,action", [("Directions 1", "Directions"), ("WalkDog", "WalkDog"),
                                        ("WalkTogether_1", "WalkTogether"), ("TakingPhoto 2", "Photo"),
                                        ("SittingDown", "SittingDown")])
def test_action_of(seq, action):
    assert action_of(seq) == action


def test_sh_to_h36m_known_answer():
    det = np.arange(32, dtype=np.float32).reshape(16, 2)
    out = sh_to_h36m(det[None])[0]
    np.testing.assert_array_equal(out[3], det[0])                # MPII right ankle -> right foot
    np.testing.assert_array_equal(out[0], det[6])                # pelvis -> hip
    np.testing.assert_array_equal(out[10], det[9])               # head top -> head
    np.testing.assert_array_equal(out[13], det[15])              # left wrist
    np.testing.assert_array_equal(out[8], det[8])                # upper neck -> thorax
    np.testing.assert_allclose(out[7], (det[6] + det[7]) / 2)    # spine between pelvis and MPII thorax
    np.testing.assert_allclose(out[9], (det[8] + det[9]) / 2)    # neck between thorax (upper neck) and head
    with pytest.raises(ValueError, match="16, 2"):
        sh_to_h36m(np.zeros((17, 2)))


def test_lsp_to_h36m_known_answer():
    kp = np.arange(28, dtype=np.float32).reshape(14, 2)
    out = lsp_to_h36m(kp)
    np.testing.assert_array_equal(out[3], kp[0])                 # right ankle -> right foot
    np.testing.assert_array_equal(out[13], kp[11])               # left wrist
    np.testing.assert_array_equal(out[10], kp[13])               # head top -> head
    np.testing.assert_allclose(out[0], (kp[2] + kp[3]) / 2)      # hip between the hips
    np.testing.assert_allclose(out[7], (out[0] + (kp[8] + kp[9]) / 2) / 2)
    bad = kp.copy()
    bad[2] = np.nan
    assert np.isnan(lsp_to_h36m(bad)[[0, 1, 7]]).all() and np.isfinite(lsp_to_h36m(bad)[[2, 3, 10]]).all()


# --------------------------------------------------------------------------------------------- cameras, data
def _camera(R=np.eye(3), T=(0.0, 0.0, 0.0)):
    return Camera(name="cam", R=np.asarray(R, float), T=np.asarray(T, float), f=np.array([1000.0, 1000.0]),
                  c=np.array([500.0, 500.0]))


def test_camera_known_answer():
    cam = _camera()
    np.testing.assert_allclose(cam.project(np.array([100.0, 200.0, 2000.0])), [550.0, 600.0])
    R = Rotation.from_euler("xyz", [10, 20, 30], degrees=True).as_matrix()
    cam = _camera(R, (100.0, -50.0, 900.0))
    x = np.random.default_rng(0).normal(size=(4, 3)) * 500
    np.testing.assert_allclose(cam.camera_to_world(cam.world_to_camera(x)), x, atol=1e-9)
    # Xcam = R.T @ (X - T) with the stored R (the README's verified convention)
    np.testing.assert_allclose(cam.world_to_camera(x[0]), R.T @ (x[0] - cam.T), atol=1e-9)
    with pytest.raises(ValueError, match="behind"):
        cam.project(np.array([0.0, 0.0, -1.0]))


def _write_h36m(root: Path, n=6):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(17, 3)).astype(np.float32) * 200 + np.array([0, 0, 900], np.float32)
    poses = {"S1/Walking": base + rng.normal(size=(n, 1, 3)).astype(np.float32) * 50,
             "S9/Directions 1": base + rng.normal(size=(n, 1, 3)).astype(np.float32) * 50,
             "S9/Eating": base[None].repeat(n + 2, 0)}
    np.savez(root / "poses3d.npz", **poses)
    cam = {"name": "54138969", "R": np.eye(3)[[0, 2, 1]].tolist(), "T": [0.0, -4000.0, 1000.0],
           "f": [1000.0, 1000.0], "c": [500.0, 500.0], "k": [0, 0, 0], "p": [0, 0]}
    (root / "cameras.json").write_text(json.dumps({"cameras": {"S1": [cam], "S9": [cam]}}))
    np.savez(root / "detections_sh.npz", **{"S9/Directions 1/54138969": np.zeros((n, 16, 2), np.float32)})
    return poses


def test_h36m_reader_on_local_files(tmp_path):
    poses = _write_h36m(tmp_path)
    h = H36M(tmp_path)
    assert h.subjects() == ["S1", "S9"] and h.sequences("S9") == ["Directions 1", "Eating"]
    a = h.arrays(["S9"])
    assert a["joints_cam"].shape == (14, 17, 3) and a["joints_2d"].shape == (14, 17, 2)
    assert list(a["action"][:6]) == ["Directions"] * 6 and np.isnan(a["detections"][6:]).all()
    cam = h.cameras["S9"][0]
    np.testing.assert_allclose(a["joints_cam"][:6], cam.world_to_camera(poses["S9/Directions 1"]), rtol=1e-5)
    assert h.arrays(["S9"], need_detections=True)["joints_cam"].shape == (6, 17, 3)
    assert h.arrays(["S9"], every=4)["joints_cam"].shape == (2 + 2, 17, 3)
    with pytest.raises(UserError, match="S11"):
        h.arrays(["S11"])


def test_h36m_reader_bad_inputs(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        H36M(tmp_path / "nope")
    with pytest.raises(UserError, match="poses3d.npz: no such file"):
        H36M(tmp_path)
    _write_h36m(tmp_path)
    (tmp_path / "cameras.json").write_text("{not json")
    with pytest.raises(UserError, match="not a cameras file"):
        H36M(tmp_path)
    _write_h36m(tmp_path)
    (tmp_path / "poses3d.npz").write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable .npz"):
        H36M(tmp_path)
    np.savez(tmp_path / "poses3d.npz", **{"S9/Eating": np.full((2, 17, 3), np.nan, np.float32)})
    with pytest.raises(UserError, match="non-finite"):
        H36M(tmp_path).arrays(["S9"])


@pytest.mark.skipif(not SHARED_H36M.is_dir(), reason="needs ../shared/data/h36m (real Human3.6M poses)")
def test_h36m_real_projection_matches_detections():
    h = H36M(SHARED_H36M)
    s = next(x for x in h.iter_sequences(["S9"], need_detections=True) if x.sequence == "Directions 1")
    limbs = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]
    err = np.linalg.norm(sh_to_h36m(s.detections)[:, limbs] - s.joints_2d[:, limbs], axis=-1)
    assert np.median(err) < 12.0                                 # README: 8.9 px for this sequence and camera
    assert (s.joints_cam[..., 2] > 1000).all()


# ------------------------------------------------------------------------------------------------- metrics
def test_mpjpe_known_answers():
    g = np.random.default_rng(0).normal(size=(3, 17, 3)) * 300
    assert np.allclose(metrics.mpjpe(g + [5.0, -7.0, 11.0], g), 0.0)        # root alignment removes a shift
    p = g.copy()
    p[:, 5] += [0.0, 17.0, 0.0]                                             # one joint 17 mm off -> 1 mm
    np.testing.assert_allclose(metrics.mpjpe(p, g), 1.0)
    np.testing.assert_allclose(metrics.mpjpe(g + 3.0, g, root=None), np.sqrt(27.0))
    bad = p.copy()
    bad[0, 3] = np.nan
    assert np.isnan(metrics.mpjpe(bad, g)[0]) and np.isfinite(metrics.mpjpe(bad, g)[1:]).all()
    with pytest.raises(ValueError, match="N, J, 3"):
        metrics.mpjpe(g[:, :, :2], g[:, :, :2])


def _p_mpjpe_reference(pred, gt):
    """Straightforward per-frame similarity Procrustes with scipy (valid where the best rotation is proper)."""
    out = []
    for p, g in zip(pred, gt):
        p0, g0 = p - p.mean(0), g - g.mean(0)
        r, s = orthogonal_procrustes(p0, g0)
        scale = s / (p0 ** 2).sum()
        out.append(np.linalg.norm(scale * p0 @ r - g0, axis=-1).mean())
    return np.array(out)


def test_p_mpjpe_invariance_and_reference():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(8, 17, 3)) * 300
    R = Rotation.random(8, random_state=2).as_matrix()
    p = 1.3 * np.einsum("nij,nkj->nki", R, g) + rng.normal(size=(8, 1, 3)) * 100
    np.testing.assert_allclose(metrics.p_mpjpe(p, g), 0.0, atol=1e-9)
    noisy = p + rng.normal(size=p.shape) * 20
    np.testing.assert_allclose(metrics.p_mpjpe(noisy, g), _p_mpjpe_reference(noisy, g), rtol=1e-9)
    assert (metrics.p_mpjpe(noisy, g) <= metrics.mpjpe(noisy, g) + 1e-9).all()
    mirror = g * np.array([-1.0, 1.0, 1.0])                      # a reflection is not a rotation
    assert (metrics.p_mpjpe(mirror, g) > 10).all()


def test_n_mpjpe_known_answers():
    rng = np.random.default_rng(3)
    g = rng.normal(size=(5, 17, 3)) * 300
    g -= g[:, :1]
    shifted = 0.9 * g + rng.normal(size=(5, 1, 3)) * 500          # 10 % too small, anywhere: scale + root fix it
    np.testing.assert_allclose(metrics.n_mpjpe(shifted, g), 0.0, atol=1e-9)
    np.testing.assert_allclose(metrics.mpjpe(shifted, g), 0.1 * np.linalg.norm(g, axis=-1).mean(-1), rtol=1e-9)
    # one frame by hand: gt (0,0,0), (2,0,0); pred (0,0,0), (1,1,0): s = 2 / 2 = 1, error (0 + sqrt(2)) / 2
    gt1 = np.array([[[0.0, 0, 0], [2, 0, 0]]])
    pr1 = np.array([[[0.0, 0, 0], [1, 1, 0]]])
    np.testing.assert_allclose(metrics.n_mpjpe(pr1, gt1), [np.sqrt(2) / 2])
    np.testing.assert_allclose(metrics.scale_to_gt(pr1, gt1), [1.0])
    np.testing.assert_allclose(metrics.scale_to_gt(shifted, g), 1 / 0.9, rtol=1e-9)
    # no rotation: a rotated pose keeps its error; a zero prediction keeps the plain error
    rot = np.einsum("ij,nkj->nki", Rotation.from_euler("z", 90, degrees=True).as_matrix(), g)
    assert (metrics.n_mpjpe(rot, g) > 0.5 * metrics.mpjpe(rot, g)).all()
    np.testing.assert_allclose(metrics.n_mpjpe(np.zeros_like(g), g), metrics.mpjpe(np.zeros_like(g), g))
    noisy = g + rng.normal(size=g.shape) * 30
    assert (metrics.n_mpjpe(noisy, g) <= metrics.mpjpe(noisy, g) + 1e-9).all()


def test_per_action():
    out = metrics.per_action([1.0, 3.0, 10.0, 20.0, 5.0], ["Walking", "Walking", "Eating", "Eating", "Extra"])
    assert list(out) == ["Eating", "Walking", "Extra", "Avg"]
    assert out["Walking"] == 2.0 and out["Eating"] == 15.0 and out["Avg"] == pytest.approx((2 + 15 + 5) / 3)


# ------------------------------------------------------------------------------------------------ renderer
def _one_bone(a, b, za=1000.0, zb=1000.0):
    j = np.full((1, 17, 2), np.nan, np.float32)
    z = np.full((1, 17), np.nan, np.float32)
    j[0, 1], j[0, 2], z[0, 1], z[0, 2] = a, b, za, zb            # right hip -> right knee: the right thigh
    return j, z


def test_render_one_bone_known_answer():
    j, z = _one_bone((2.0, 5.0), (12.0, 5.0))
    maps = render.render_skeleton_maps(j, z, (10, 16), 3.0)
    assert maps.shape == (1, 6, 10, 16)
    covered = maps[0, :3].abs().sum(0) > 0
    expect = np.zeros((10, 16), bool)
    expect[4:7, 2:13] = True                                      # |dy| <= 1.5 along the segment
    expect[4:7, 1] = expect[4:7, 13] = True                       # round caps: distance 1 and sqrt(2) <= 1.5
    np.testing.assert_array_equal(covered.numpy(), expect)
    colour = torch.as_tensor(PART_COLORS[list(PARTS).index("right_thigh")])
    assert torch.equal(maps[0, :3, 5, 7], colour) and torch.equal(maps[0, 3:, 5, 7], colour)
    assert int(covered.sum()) == 39


def test_render_occlusion_order():
    j = np.full((2, 17, 2), np.nan, np.float32)
    z = np.full((2, 17), np.nan, np.float32)
    j[:, 1], j[:, 2] = (1.0, 8.0), (15.0, 8.0)                   # right thigh, horizontal
    j[:, 4], j[:, 5] = (8.0, 1.0), (8.0, 15.0)                   # left thigh, vertical, crossing at (8, 8)
    z[0, [1, 2, 4, 5]] = [1000, 1000, 2000, 2000]                 # the right thigh is nearer in sample 0
    z[1, [1, 2, 4, 5]] = [3000, 3000, 2000, 2000]                 # and farther in sample 1
    maps = render.render_skeleton_maps(j, z, 17, 3.0)
    right = torch.as_tensor(PART_COLORS[list(PARTS).index("right_thigh")])
    left = torch.as_tensor(PART_COLORS[list(PARTS).index("left_thigh")])
    assert torch.equal(maps[0, :3, 8, 8], right) and torch.equal(maps[0, 3:, 8, 8], left)
    assert torch.equal(maps[1, :3, 8, 8], left) and torch.equal(maps[1, 3:, 8, 8], right)
    for m in maps:                                                # away from the crossing both maps agree
        assert torch.equal(m[:3, 8, 2], m[3:, 8, 2]) and torch.equal(m[:3, 2, 8], m[3:, 2, 8])


def test_render_depth_interpolates_along_the_stick():
    j = np.full((1, 17, 2), np.nan, np.float32)
    z = np.full((1, 17), np.nan, np.float32)
    j[0, 1], j[0, 2] = (0.0, 8.0), (16.0, 8.0)                   # right thigh from far (x=0) to near (x=16)
    z[0, 1], z[0, 2] = 3000.0, 1000.0
    j[0, 4], j[0, 5] = (4.0, 0.0), (4.0, 16.0)                   # left thigh at depth 2000, crossing x=4 and x=12
    j[0, 6] = (12.0, 0.0)
    z[0, [4, 5, 6]] = 2000.0                                      # left shin from (4,16) to (12,0)
    maps = render.render_skeleton_maps(j, z, 17, 1.0)
    left = torch.as_tensor(PART_COLORS[list(PARTS).index("left_thigh")])
    right = torch.as_tensor(PART_COLORS[list(PARTS).index("right_thigh")])
    assert torch.equal(maps[0, :3, 8, 4], left)                   # right thigh at 2500 there: behind
    assert torch.equal(maps[0, :3, 8, 14], right)                 # ... and at 1250 near x=14: in front


def test_render_batch_widths_and_crop_maps():
    j, z = _one_bone((2.0, 5.0), (12.0, 5.0))
    jj, zz = np.repeat(j, 2, 0), np.repeat(z, 2, 0)
    maps = render.render_skeleton_maps(jj, zz, (11, 16), np.array([1.0, 5.0]))
    area = (maps[:, :3].abs().sum(1) > 0).sum((1, 2))
    assert area[0] == 11 and area[1] > 3 * area[0]
    with pytest.raises(ValueError, match="17, 2"):
        render.render_skeleton_maps(np.zeros((1, 16, 2)), np.zeros((1, 16)), 8, 2.0)
    pts = np.random.default_rng(0).uniform(100, 400, size=(3, 17, 2))
    c, s = render.person_box(pts, scale=1.0)
    m = render.crop_to_map(pts, c, s, 64)
    assert m.min() >= -0.5 - 1e-9 and m.max() <= 63.5 + 1e-9
    assert np.isclose(m.reshape(3, -1).min(1), -0.5).any() or np.isclose(m.reshape(3, -1).max(1), 63.5).any()
    np.testing.assert_allclose(render.map_to_crop(m, c, s, 64), pts)
