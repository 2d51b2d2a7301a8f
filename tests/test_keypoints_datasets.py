"""pose2d dataset readers: real-data checks on ../shared/data (lspet, mpii-valid; skipped when absent) and
known-answer tests on small synthetic files of every supported format."""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from structnet.data.io import ImageReadError
from structnet.engine.trainer import collate_samples
from structnet.keypoints.datasets import (COCOKeypointsDataset, LSPETDataset, LSPMatDataset, MPIIDataset, PoseDataset,
                                      box_to_center_scale, coco_to_records, joint_boxes, read_lsp_mat, read_lspet,
                                      missing_images, read_mpii, read_mpii_h5, read_mpii_json, read_mpii_npz,
                                      read_mpii_release, records_to_arrays, torso_norm)
from structnet.keypoints.layouts import get_layout

LSP_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
             "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top")
MPII_ABBREV = {"rank": "right_ankle", "rkne": "right_knee", "rhip": "right_hip", "lhip": "left_hip",
               "lkne": "left_knee", "lank": "left_ankle", "pelv": "pelvis", "thor": "thorax", "neck": "upper_neck",
               "head": "head_top", "rwri": "right_wrist", "relb": "right_elbow", "rsho": "right_shoulder",
               "lsho": "left_shoulder", "lelb": "left_elbow", "lwri": "left_wrist"}


# --------------------------------------------------------------------------------------------- geometry
def test_box_to_center_scale_known_values():
    c, s = box_to_center_scale(np.array([[10.0, 20.0, 50.0, 100.0], [0.0, 0.0, 60.0, 20.0]]))
    np.testing.assert_allclose(c, [[30, 60], [30, 10]])
    np.testing.assert_allclose(s, [1.25 * 80 / 200, 1.25 * 60 / 200])
    c, s = box_to_center_scale(np.array([5.0, 5.0, 5.0, 5.0]))          # degenerate box
    assert np.isnan(s) and np.isnan(c).all()
    c, s = box_to_center_scale(np.array([0.0, 0.0, 100.0, 50.0]), padding=1.0, pixel_std=100.0)
    assert s == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        box_to_center_scale(np.zeros((2, 3)))


def test_joint_boxes_and_torso_norm():
    kp = np.zeros((2, 14, 2))
    kp[0, :, 0] = np.arange(14)
    kp[0, :, 1] = 100 - np.arange(14)
    m = np.ones((2, 14), bool)
    m[0, 13] = False                     # excluded: x=13, y=87
    m[1] = False
    b = joint_boxes(kp, m)
    np.testing.assert_allclose(b[0], [0, 88, 12, 100])
    assert np.isnan(b[1]).all()
    kp[0, 9] = (20, 30)                  # left shoulder
    kp[0, 2] = (23, 34)                  # right hip
    n = torso_norm(kp, m)
    assert n[0] == pytest.approx(5.0) and np.isnan(n[1])
    assert get_layout("lsp14").torso == (9, 2)
    kp[0, 8], kp[0, 3] = (0, 0), (6, 8)  # the other diagonal, by name
    assert torso_norm(kp, m, torso=("right_shoulder", "left_hip"))[0] == pytest.approx(10.0)


# ---------------------------------------------------------------------------------------- real data
def test_lspet_real_counts_and_geometry(shared_data):
    root = shared_data / "lspet"
    if not root.is_dir():
        pytest.skip(f"lspet not available at {root}")
    tr, va = read_lspet(root, "train"), read_lspet(root, "val")
    assert (len(tr), len(va)) == (4000, 1000)
    assert tr[0].name == "im00001" and tr[-1].name == "im04000" and va[0].name == "im04001"
    assert get_layout(tr[0].layout).joints == LSP_NAMES
    a = records_to_arrays(tr + va)
    raw = np.load(root / "joints.npy")
    assert a["visible"].sum() == 61577 and (a["visible"] == (raw[..., 2] == 1)).all()
    assert (a["annotated"] == a["visible"]).all()
    np.testing.assert_array_equal(a["keypoints"][a["visible"]], raw[..., :2][raw[..., 2] == 1])
    assert (a["keypoints"][~a["visible"]] == 0).all()
    # README: torso (right shoulder - left hip) defined on 3553 images, median 48.4 px
    ok = np.isfinite(torso_norm(a["keypoints"], a["annotated"], torso=("right_shoulder", "left_hip")))
    assert ok.sum() == 3553
    ok = np.isfinite(a["norm"])                  # the published diagonal (left shoulder - right hip)
    assert ok.sum() == 3588
    rs_lh = torso_norm(a["keypoints"], a["annotated"], torso=("right_shoulder", "left_hip"))
    assert np.nanmedian(rs_lh) == pytest.approx(48.4, abs=0.05)
    # every visible joint inside its box; centre = box centre
    x, y = a["keypoints"][..., 0], a["keypoints"][..., 1]
    b = a["box"][:, None, :]
    inside = (x >= b[..., 0] - 1e-4) & (x <= b[..., 2] + 1e-4) & (y >= b[..., 1] - 1e-4) & (y <= b[..., 3] + 1e-4)
    assert inside[a["visible"]].all()
    np.testing.assert_allclose(a["center"], (a["box"][:, :2] + a["box"][:, 2:]) / 2, atol=1e-4)
    # the image of the first record loads and its visible joints lie (nearly) inside it
    ds = LSPETDataset(root, "val")
    s = ds[0]
    h, w = s["image"].shape[:2]
    kv = s["keypoints"][s["visible"]]
    assert s["image"].dtype == np.uint8 and s["image"].ndim == 3
    assert (kv[:, 0] >= -1.5).all() and (kv[:, 0] <= w).all() and (kv[:, 1] >= -1.5).all() and (kv[:, 1] <= h).all()


def test_mpii_valid_real_counts_and_geometry(shared_data):
    f = shared_data / "mpii-valid" / "valid.npz"
    if not f.is_file():
        pytest.skip(f"mpii-valid not available at {f}")
    z = np.load(f)
    recs = read_mpii_npz(f)
    assert len(recs) == 2958 and len({r.name for r in recs}) == 2729
    assert recs[0].layout == "mpii16"
    assert [MPII_ABBREV[j] for j in z["joint_names"]] == list(get_layout("mpii16").joints)
    a = records_to_arrays(recs)
    assert (~a["annotated"]).sum() == 3088 and a["visible"].sum() == 33997
    assert ((a["annotated"] & ~a["visible"]).sum()) == 10243
    # one-based MATLAB coordinates -> ours: keypoints + 1 == file joints where annotated
    np.testing.assert_array_equal(a["keypoints"][a["annotated"]] + 1, z["joints"][a["annotated"]])
    # the missing joints are exactly the (0, 0) rows of the file
    assert (a["annotated"] == ~(z["joints"] == 0).all(-1)).all()
    np.testing.assert_allclose(a["center"] + 1, z["center"], atol=1e-3)
    np.testing.assert_allclose(a["scale"], z["scale"])
    hb = np.stack([r.meta["headbox"] for r in recs])
    np.testing.assert_allclose(a["norm"], 0.6 * np.linalg.norm(hb[:, 1] - hb[:, 0], axis=-1), atol=1e-4)
    assert a["norm"].min() == pytest.approx(14.52, abs=0.01) and a["norm"].max() == pytest.approx(311.11, abs=0.01)
    assert [r.meta["index"] for r in recs[:3]] == z["index"][:3].tolist()
    ev = read_mpii(f, keypoints="joints_eval", one_based=False)
    np.testing.assert_allclose(records_to_arrays(ev)["keypoints"][a["annotated"]], z["joints_eval"][a["annotated"]],
                               atol=1e-4)
    # annotation-only dataset: no image, samples collate
    ds = MPIIDataset(f)
    s = ds[5]
    assert "image" not in s and s["image_path"] == ""
    batch = collate_samples([ds[0], ds[1]])
    assert tuple(batch["keypoints"].shape) == (2, 16, 2) and tuple(batch["norm"].shape) == (2,)


# ------------------------------------------------------------------------------------- LSPET npy folder
def _write_lspet(root: Path, joints: np.ndarray, n_train: int, size=(40, 30)):
    from PIL import Image

    (root / "images").mkdir(parents=True)
    names = [f"im{i + 1:05d}" for i in range(len(joints))]
    for k, nm in enumerate(names):
        Image.fromarray(np.full((size[1], size[0], 3), 10 * k, np.uint8)).save(root / "images" / f"{nm}.jpg")
    np.save(root / "joints.npy", joints.astype(np.float32))
    (root / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
    return names


def _lsp_joints(n):
    j = np.zeros((n, 14, 3))
    j[..., 0] = 10 + np.arange(14) * 40 / 13      # x spans 10 .. 50
    j[..., 1] = 20 + np.arange(14) * 80 / 13      # y spans 20 .. 100
    j[..., 2] = 1
    j[:, 9, :2] = (20, 30)                        # left shoulder
    j[:, 2, :2] = (23, 34)                        # right hip: torso = 5 (published eval_pck.m diagonal)
    return j


def test_lspet_folder_known_answers(tmp_path):
    j = _lsp_joints(3)
    j[1, 0] = (-50, -60, 0)                       # invisible, meaningless coordinates
    j[1, 13] = (500, 500, 0)                      # invisible head top: box shrinks
    j[2, 2, 2] = 0                                # right hip invisible: torso undefined
    names = _write_lspet(tmp_path, j, n_train=2)
    tr = read_lspet(tmp_path, "train")
    assert [r.name for r in tr] == names[:2]
    r0, r1 = tr
    np.testing.assert_allclose(r0.box, [10, 20, 50, 100], atol=1e-5)
    np.testing.assert_allclose(r0.center, [30, 60], atol=1e-5)
    assert r0.scale == pytest.approx(1.25 * 80 / 200) and r0.norm == pytest.approx(5.0)
    assert r0.norm_kind == "torso" and r0.visible.all() and r0.annotated.all()
    assert r1.visible.sum() == 12 and not r1.visible[0] and not r1.annotated[13]
    assert (r1.keypoints[[0, 13]] == 0).all()
    np.testing.assert_allclose(r1.box[3], 20 + 12 * 80 / 13, atol=1e-4)
    va = read_lspet(tmp_path, "val")
    assert len(va) == 1 and np.isnan(va[0].norm)
    assert len(read_lspet(tmp_path, "all")) == 3
    assert va[0].image_path == tmp_path / "images" / f"{names[2]}.jpg"
    assert va[0].load_image().shape == (30, 40, 3)


def test_lspet_extra_images_known_answers(tmp_path):
    j = _lsp_joints(3)
    names = _write_lspet(tmp_path, j, n_train=2)
    extra = _lsp_joints(2)
    extra[1, 4] = (-7, -7, 0)                     # not visible
    extra[:, :, 0] += 1.0                         # tell the files apart
    np.save(tmp_path / "joints_extra.npy", extra.astype(np.float32))
    (tmp_path / "extra.txt").write_text("ex1\nex2\n")
    ex = read_lspet(tmp_path, "extra")
    assert [r.name for r in ex] == ["ex1", "ex2"]
    np.testing.assert_allclose(ex[0].keypoints[:, 0], extra[0, :, 0], atol=1e-5)
    assert not ex[1].visible[4] and ex[1].visible.sum() == 13
    assert ex[0].image_path == tmp_path / "images" / "ex1.jpg"
    both = read_lspet(tmp_path, "train+extra")
    assert [r.name for r in both] == names[:2] + ["ex1", "ex2"]
    assert [r.name for r in read_lspet(tmp_path, "val")] == names[2:]      # val unchanged by the extra images
    (tmp_path / "extra.txt").write_text("ex1\n")
    with pytest.raises(ValueError, match="extra.txt lists 1 names but joints_extra.npy has 2 rows"):
        read_lspet(tmp_path, "extra")
    (tmp_path / "joints_extra.npy").unlink()
    with pytest.raises(Exception, match="joints_extra.npy"):
        read_lspet(tmp_path, "train+extra")


def test_lspet_extra_real_counts(shared_data):
    root = shared_data / "lspet"
    if not (root / "extra.txt").is_file():
        pytest.skip("this copy of ../shared/data/lspet has no extra images")
    ex = read_lspet(root, "extra")
    assert len(ex) == 1540 and ex[0].name == "im05002" and ex[-1].name == "im06637"
    assert len(read_lspet(root, "train+extra")) == 5540
    assert not ({r.name for r in ex} & {r.name for r in read_lspet(root, "val")})
    assert all(r.image_path.is_file() for r in ex[:20])


def test_lspet_nan_joint_warns_and_is_not_annotated(tmp_path):
    j = _lsp_joints(2)
    j[0, 5, 0] = np.nan
    _write_lspet(tmp_path, j, n_train=2)
    with pytest.warns(UserWarning, match="1 joint"):
        r = read_lspet(tmp_path, "train")
    assert not r[0].annotated[5] and not r[0].visible[5] and (r[0].keypoints[5] == 0).all()
    assert r[1].annotated.all()


def test_lspet_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_lspet(tmp_path / "nowhere")
    _write_lspet(tmp_path / "a", _lsp_joints(2), n_train=1)
    with pytest.raises(ValueError, match="unknown split 'test'"):
        read_lspet(tmp_path / "a", "test")
    np.save(tmp_path / "a" / "joints.npy", np.zeros((2, 14)))
    with pytest.raises(ValueError, match=r"\(N, 14, 3\)"):
        read_lspet(tmp_path / "a")
    np.save(tmp_path / "a" / "joints.npy", np.zeros((3, 14, 3)))
    with pytest.raises(ValueError, match="3 rows"):
        read_lspet(tmp_path / "a")
    (tmp_path / "a" / "val.txt").unlink()
    with pytest.raises(FileNotFoundError, match="val.txt"):
        read_lspet(tmp_path / "a")


def test_lspet_dataset_transform_is_keyed(tmp_path):
    _write_lspet(tmp_path, _lsp_joints(3), n_train=3)
    seen = []

    def transform(sample, rng):
        seen.append(sorted(sample))
        return {"draw": rng.random(), "keypoints": sample["keypoints"] * 2, "h": sample["image"].shape[0]}

    ds = LSPETDataset(tmp_path, "train", transform=transform)
    assert len(ds) == 3
    a, b, c = ds[(1, 7)], ds[(1, 7)], ds[(1, 8)]
    assert a["draw"] == b["draw"] != c["draw"]
    assert ds[2]["draw"] == ds[(2, 2)]["draw"] == np.random.default_rng(2).random()
    assert a["h"] == 30
    assert seen[0] == sorted(["image", "keypoints", "visible", "annotated", "center", "scale", "box", "norm",
                              "name", "layout", "image_path", "index"])
    raw = LSPETDataset(tmp_path, "train", load_images=False)[0]
    assert "image" not in raw and raw["keypoints"].dtype == np.float32 and raw["visible"].dtype == bool
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(ValueError, match="callable"):
        PoseDataset(ds.records, transform=5)


def test_missing_images_listed_without_decoding(tmp_path):
    names = _write_lspet(tmp_path, _lsp_joints(4), n_train=4)
    (tmp_path / "images" / f"{names[1]}.jpg").unlink()                       # absent
    (tmp_path / "images" / f"{names[2]}.jpg").unlink()
    (tmp_path / "images" / f"{names[2]}.jpg").mkdir()                        # a folder, not a file
    (tmp_path / "images" / f"{names[3]}.jpg").write_bytes(b"not a jpeg")     # present: not decoded, not listed
    ds = LSPETDataset(tmp_path, "train")
    want = [(names[i], tmp_path / "images" / f"{names[i]}.jpg") for i in (1, 2)]
    assert ds.missing_images() == want == missing_images(ds.records)
    assert ds.missing_image_indices() == [1, 2]
    assert ds[0]["image"].shape == (30, 40, 3)                               # the others still load
    with pytest.raises(ImageReadError, match=names[1]):                      # what the check spares a caller
        ds[1]
    # several persons per image (MPII): each missing file once, every person of it in the indices
    z = _mpii_arrays()
    z["imgname"] = np.array(["a.jpg", "b.jpg", "a.jpg"])
    np.savez(tmp_path / "v.npz", **z)
    (tmp_path / "mpii").mkdir()
    (tmp_path / "mpii" / "b.jpg").write_bytes(b"")
    mp = MPIIDataset(tmp_path / "v.npz", image_dir=tmp_path / "mpii")
    assert mp.missing_images() == [("a.jpg", tmp_path / "mpii" / "a.jpg")]
    assert mp.missing_image_indices() == [0, 2]
    # annotation-only records have no file to miss
    bare = MPIIDataset(tmp_path / "v.npz")
    assert bare.missing_images() == [] and bare.missing_image_indices() == []
    assert missing_images([]) == []


# --------------------------------------------------------------------------------------- LSP joints.mat
def test_lsp_original_mat_flag_means_occluded(tmp_path):
    j = _lsp_joints(2000)                          # (N, 14, 3)
    flag = np.zeros((2000, 14))
    flag[0, [1, 4]] = 1                            # two occluded joints in image 1
    j[..., 2] = flag
    sio.savemat(tmp_path / "joints.mat", {"joints": j.transpose(2, 1, 0)})   # (3, 14, 2000)
    imgs = tmp_path / "images"
    imgs.mkdir()
    recs = read_lsp_mat(tmp_path / "joints.mat", imgs, split="train")
    assert len(recs) == 1000 and recs[0].name == "im0001" and recs[0].image_path == imgs / "im0001.jpg"
    r = recs[0]
    assert r.annotated.all() and r.visible.sum() == 12 and not r.visible[1] and not r.visible[4]
    np.testing.assert_allclose(r.keypoints, j[0, :, :2], atol=1e-5)
    assert r.norm == pytest.approx(5.0)
    test = read_lsp_mat(tmp_path / "joints.mat", split="test")
    assert len(test) == 1000 and test[0].name == "im1001" and test[0].image_path is None
    ds = LSPMatDataset(tmp_path / "joints.mat", split="all", load_images=False)
    assert len(ds) == 2000 and ds[1999]["name"] == "im2000"


def test_lspet_mat_flag_means_visible(tmp_path):
    j = _lsp_joints(4)
    j[2, 6] = (-30, 900, 0)
    sio.savemat(tmp_path / "joints.mat", {"joints": j.transpose(1, 2, 0)})   # (14, 3, 4)
    recs = read_lsp_mat(tmp_path / "joints.mat")
    assert [r.name for r in recs] == ["im00001", "im00002", "im00003", "im00004"]
    assert not recs[2].visible[6] and not recs[2].annotated[6] and recs[2].visible.sum() == 13
    assert recs[0].visible.all()
    forced = read_lsp_mat(tmp_path / "joints.mat", kind="lsp")            # flag read as "occluded"
    assert forced[2].visible.sum() == 1 and forced[2].annotated.all()
    with pytest.raises(ValueError, match="only for LSP"):
        read_lsp_mat(tmp_path / "joints.mat", split="train")


def test_lsp_mat_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.mat"):
        read_lsp_mat(tmp_path / "missing.mat")
    sio.savemat(tmp_path / "a.mat", {"joints": np.zeros((3, 13, 5))})
    with pytest.raises(ValueError, match=r"\(3, 14, N\)"):
        read_lsp_mat(tmp_path / "a.mat")
    sio.savemat(tmp_path / "b.mat", {"pose": np.zeros((3, 14, 5))})
    with pytest.raises(ValueError, match="no variable 'joints'.*pose"):
        read_lsp_mat(tmp_path / "b.mat")
    j = _lsp_joints(2)
    j[0, 0, 2] = 0.5
    sio.savemat(tmp_path / "c.mat", {"joints": j.transpose(1, 2, 0)})
    with pytest.raises(ValueError, match="0 or 1"):
        read_lsp_mat(tmp_path / "c.mat")
    (tmp_path / "d.mat").write_bytes(b"not a mat file")
    with pytest.raises(ValueError, match="d.mat"):
        read_lsp_mat(tmp_path / "d.mat")
    sio.savemat(tmp_path / "e.mat", {"joints": _lsp_joints(2).transpose(1, 2, 0)})
    with pytest.raises(FileNotFoundError, match="no_images"):
        read_lsp_mat(tmp_path / "e.mat", image_dir=tmp_path / "no_images")


# ------------------------------------------------------------------------------------------ MPII npz / h5
def _mpii_arrays(n=3):
    rng = np.random.default_rng(0)
    joints = np.round(rng.uniform(50, 400, (n, 16, 2)))
    joints[0, 6] = 0                               # missing pelvis
    vis = np.ones((n, 16), np.uint8)
    vis[0, 6] = 0
    vis[1, 2] = 0                                  # occluded
    return {"imgname": np.array([f"{i:09d}.jpg" for i in range(n)]), "center": rng.uniform(100, 300, (n, 2)),
            "scale": np.array([1.25, 2.5, 3.75][:n]), "joints": joints, "visible": vis,
            "headbox": np.array([[[10.0, 20.0], [40.0, 60.0]]] * n)}


def test_mpii_npz_synthetic_known_answers(tmp_path):
    z = _mpii_arrays()
    np.savez(tmp_path / "v.npz", **z)               # no jnt_missing / normalize: derived
    recs = read_mpii(tmp_path / "v.npz")
    r0, r1 = recs[0], recs[1]
    assert not r0.annotated[6] and r0.annotated.sum() == 15 and (r0.keypoints[6] == 0).all()
    assert r1.annotated.all() and not r1.visible[2] and r1.visible.sum() == 15
    np.testing.assert_allclose(r0.keypoints[0], z["joints"][0, 0] - 1)
    np.testing.assert_allclose(r0.center, z["center"][0] - 1, atol=1e-4)
    assert r0.norm == pytest.approx(30.0) and r0.norm_kind == "head"      # 0.6 * |(30, 40)|
    np.testing.assert_allclose(r0.meta["headbox"], [[9, 19], [39, 59]])
    zero = read_mpii_npz(tmp_path / "v.npz", one_based=False)
    np.testing.assert_allclose(zero[0].keypoints[0], z["joints"][0, 0])
    z2 = dict(z, normalize=np.array([7.0, 8.0, 9.0]), jnt_missing=np.zeros((3, 16), np.uint8))
    z2["jnt_missing"][2, 15] = 1
    z2["joints"][1, 4, 1] = np.nan
    np.savez(tmp_path / "w.npz", **z2)
    with pytest.warns(UserWarning, match="1 joint"):
        recs = read_mpii_npz(tmp_path / "w.npz")
    assert [r.norm for r in recs] == [7.0, 8.0, 9.0]
    assert recs[0].annotated[6]                     # jnt_missing wins over the (0, 0) test
    assert not recs[2].annotated[15] and not recs[2].visible[15] and not recs[1].annotated[4]
    bad = dict(z, joints=np.zeros((3, 14, 2)))
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match=r"\(N, 16, 2\)"):
        read_mpii_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "few.npz", imgname=z["imgname"])
    with pytest.raises(ValueError, match="missing key"):
        read_mpii_npz(tmp_path / "few.npz")


def test_mpii_h5_missing_package_message(tmp_path, monkeypatch):
    (tmp_path / "train.h5").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="h5py"):
        read_mpii_h5(tmp_path / "train.h5")


def test_mpii_h5_pose_hg_layout(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py (optional) is not installed")
    z = _mpii_arrays()
    with h5py.File(tmp_path / "valid.h5", "w") as f:
        f["imgname"] = np.array([s.encode() for s in z["imgname"]])          # bytes, as pose-hg-train
        f["center"], f["scale"], f["part"], f["visible"] = z["center"], z["scale"], z["joints"], z["visible"]
        f["normalize"] = np.array([1.0, 2.0, 3.0])
        f["index"], f["person"] = np.array([4, 4, 9]), np.array([0, 1, 0])
    recs = read_mpii(tmp_path / "valid.h5")
    assert [r.name for r in recs] == list(z["imgname"])
    assert not recs[0].annotated[6] and not recs[1].visible[2] and recs[1].annotated[2]
    np.testing.assert_allclose(recs[2].keypoints, z["joints"][2] - 1)
    assert recs[1].meta == {"index": 4, "person": 1} and recs[2].norm == 3.0
    codes = np.zeros((3, 16), np.uint8)                                     # Lua char tensor form
    for i, s in enumerate(z["imgname"]):
        codes[i, :len(s)] = [ord(c) for c in s]
    with h5py.File(tmp_path / "test.h5", "w") as f:
        f["imgname"], f["center"], f["scale"] = codes, z["center"], z["scale"]
    t = read_mpii_h5(tmp_path / "test.h5")
    assert t[1].name == z["imgname"][1] and not t[1].annotated.any() and np.isnan(t[1].norm)


# ------------------------------------------------------------------------------------------- MPII json
def _joint_self():
    js = np.zeros((16, 3))
    js[:, 0], js[:, 1], js[:, 2] = np.arange(16) + 11, np.arange(16) + 21, 1
    js[6] = 0                                      # missing
    js[10, 2] = 0                                  # occluded
    return js


def test_mpii_json_pytorch_pose_flavour(tmp_path):
    js = _joint_self()
    entries = [{"dataset": "MPI", "isValidation": v, "img_paths": f"{k:09d}.jpg", "img_width": 640, "img_height": 480,
                "objpos": [50.0, 60.0], "joint_self": js.tolist(), "scale_provided": 1.0 + k, "annolist_index": 5 + k,
                "people_index": 1, "numOtherPeople": 0} for k, v in enumerate([0, 1, 0])]
    (tmp_path / "mpii_annotations.json").write_text(json.dumps(entries))
    allr = read_mpii_json(tmp_path / "mpii_annotations.json")
    assert len(allr) == 3 and len(read_mpii_json(tmp_path / "mpii_annotations.json", split="all")) == 3
    tr = read_mpii(tmp_path / "mpii_annotations.json", split="train")
    va = read_mpii_json(tmp_path / "mpii_annotations.json", split="valid")
    assert [r.name for r in tr] == ["000000000.jpg", "000000002.jpg"] and [r.name for r in va] == ["000000001.jpg"]
    r = tr[0]
    assert not r.annotated[6] and r.annotated[10] and not r.visible[10] and r.visible.sum() == 14
    np.testing.assert_allclose(r.keypoints[0], [10, 20])
    np.testing.assert_allclose(r.center, [49, 74])                          # objpos + (0, 15 s) - 1
    assert r.scale == pytest.approx(1.25) and np.isnan(r.norm) and r.image_size == (640, 480)
    assert r.meta["index"] == 4 and r.meta["person"] == 0 and r.meta["s"] == 1.0
    np.testing.assert_allclose(va[0].center, [49, 60 + 30 - 1])
    with pytest.raises(ValueError, match="unknown split"):
        read_mpii_json(tmp_path / "mpii_annotations.json", split="test")
    entries[1]["joint_self"] = js[:15].tolist()
    (tmp_path / "short.json").write_text(json.dumps(entries))
    with pytest.raises(ValueError, match=r"entry 1: joint_self must be \(16, 3\)"):
        read_mpii_json(tmp_path / "short.json")


def test_mpii_json_hrnet_flavour(tmp_path):
    joints = np.stack([np.arange(16) + 101.0, np.arange(16) + 201.0], 1)
    vis = np.ones(16)
    vis[[6, 7]] = 0
    entries = [{"image": "a.jpg", "center": [300.0, 200.0], "scale": 2.0, "joints": joints.tolist(),
                "joints_vis": vis.tolist()},
               {"image": "b.jpg", "center": [-1.0, -1.0], "scale": 1.0, "joints": joints.tolist(),
                "joints_vis": np.ones(16).tolist()}]
    (tmp_path / "valid.json").write_text(json.dumps(entries))
    imgs = tmp_path / "images"
    imgs.mkdir()
    a, b = read_mpii_json(tmp_path / "valid.json", image_dir=imgs)
    assert (a.visible == a.annotated).all() and a.annotated.sum() == 14 and (a.keypoints[6] == 0).all()
    np.testing.assert_allclose(a.keypoints[0], [100, 200])
    np.testing.assert_allclose(a.center, [299, 200 + 30 - 1])
    assert a.scale == pytest.approx(2.5) and a.image_path == imgs / "a.jpg"
    assert np.isnan(b.center).all() and b.scale == pytest.approx(1.25)
    with pytest.raises(ValueError, match="one split each"):
        read_mpii_json(tmp_path / "valid.json", split="train")
    (tmp_path / "odd.json").write_text(json.dumps([{"foo": 1}]))
    with pytest.raises(ValueError, match="unknown MPII json flavour.*foo"):
        read_mpii_json(tmp_path / "odd.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(ValueError, match="broken.json"):
        read_mpii_json(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="unknown suffix"):
        read_mpii(tmp_path / "valid.txt")


# ------------------------------------------------------------------------------------ MPII RELEASE .mat
def _struct_array(fields, rows):
    a = np.zeros((1, len(rows)), dtype=[(f, "O") for f in fields])
    for k, r in enumerate(rows):
        a[0, k] = tuple(r)
    return a


def _write_release(path: Path):
    E = np.zeros((0, 0))                           # MATLAB []
    pts0 = _struct_array(("id", "x", "y", "is_visible"),
                         [(0, 11.0, 21.0, 1), (9, 31.0, 41.0, E), (12, 51.0, 61.0, "0")])
    rect_fields = ("x1", "y1", "x2", "y2", "annopoints", "scale", "objpos")
    rects0 = _struct_array(rect_fields, [(10.0, 20.0, 40.0, 60.0, {"point": pts0}, 2.0, {"x": 100.0, "y": 200.0}),
                                         (1.0, 1.0, 2.0, 2.0, E, 1.0, {"x": 5.0, "y": 6.0})])
    rects1 = _struct_array(("scale", "objpos"), [(3.0, {"x": 300.0, "y": 150.0})])
    pts2 = _struct_array(("id", "x", "y", "is_visible"), [(15, 8.0, 9.0, 1)])           # squeezes to one struct
    rects2 = _struct_array(rect_fields, [(0.0, 0.0, 3.0, 4.0, {"point": pts2}, 0.5, {"x": 7.0, "y": 8.0})])
    annolist = _struct_array(("image", "annorect"), [({"name": "a.jpg"}, rects0), ({"name": "b.jpg"}, rects1),
                                                     ({"name": "c.jpg"}, rects2)])
    sio.savemat(path, {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 0, 1]]), "version": "12"}})


def test_mpii_release_mat_known_answers(tmp_path):
    f = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    _write_release(f)
    tr = read_mpii(f)                                                     # split="train"
    assert [(r.meta["index"], r.meta["person"]) for r in tr] == [(0, 0), (2, 0)]
    r = tr[0]
    assert r.name == "a.jpg" and r.annotated.sum() == 3 and list(np.flatnonzero(r.annotated)) == [0, 9, 12]
    assert r.visible[0] and r.visible[9] and not r.visible[12]           # empty is_visible = visible; "0" = not
    np.testing.assert_allclose(r.keypoints[[0, 9, 12]], [[10, 20], [30, 40], [50, 60]])
    np.testing.assert_allclose(r.center, [99, 229])                       # (100, 200 + 15 * 2) - 1
    assert r.scale == pytest.approx(2.5) and r.norm == pytest.approx(30.0)
    np.testing.assert_allclose(r.meta["headbox"], [[9, 19], [39, 59]])
    assert tr[1].annotated.sum() == 1 and tr[1].norm == pytest.approx(3.0)
    te = read_mpii_release(f, split="test")
    assert len(te) == 1 and te[0].name == "b.jpg" and not te[0].annotated.any()
    np.testing.assert_allclose(te[0].center, [299, 149 + 45])
    assert np.isnan(te[0].norm) and "headbox" not in te[0].meta
    assert len(read_mpii_release(f, split="all")) == 3
    sel = read_mpii_release(f, select=[(2, 0), (0, 1)], one_based=False)
    assert [r.name for r in sel] == ["c.jpg", "a.jpg"] and not sel[1].annotated.any()
    np.testing.assert_allclose(sel[0].keypoints[15], [8, 9])
    with pytest.raises(ValueError, match="out of range"):
        read_mpii_release(f, select=[(1, 3)])
    sio.savemat(tmp_path / "other.mat", {"annolist": np.zeros(3)})
    with pytest.raises(ValueError, match="no struct 'RELEASE'"):
        read_mpii_release(tmp_path / "other.mat")


# ------------------------------------------------------------------------------------------------- COCO
def _coco(tmp_path, keypoint_names=None, v_bad=False, n_numbers=51):
    names = list(get_layout("coco17").joints) if keypoint_names is None else keypoint_names
    k = np.zeros((17, 3))
    k[:, 0], k[:, 1], k[:, 2] = np.arange(17) + 100, np.arange(17) + 200, 2
    k[3, 2] = 1                                    # labelled, occluded
    k[4] = 0                                       # not labelled
    if v_bad:
        k[5, 2] = 3
    kk = k.ravel().tolist()[:n_numbers]
    d = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 640, "height": 480},
                    {"id": 2, "file_name": "000000000002.jpg", "width": 320, "height": 240}],
         "categories": [{"id": 1, "name": "person", "keypoints": names, "skeleton": []}],
         "annotations": [
             {"id": 10, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 1200.0, "bbox": [10, 20, 30, 40],
              "keypoints": kk, "num_keypoints": 16},
             {"id": 11, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 50.0, "bbox": [0, 0, 10, 5],
              "keypoints": [0] * 51, "num_keypoints": 0},
             {"id": 12, "image_id": 2, "category_id": 1, "iscrowd": 1, "area": 900.0, "bbox": [0, 0, 30, 30],
              "keypoints": kk, "num_keypoints": 16},
             {"id": 13, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 0.0, "bbox": [5, 5, 0, 9],
              "keypoints": kk, "num_keypoints": 16}]}
    f = tmp_path / "person_keypoints_val.json"
    f.write_text(json.dumps(d))
    return f, k


def test_coco_records_known_answers(tmp_path):
    f, k = _coco(tmp_path)
    with pytest.warns(UserWarning, match="1 annotation"):
        recs = coco_to_records(f, image_dir=tmp_path)
    assert len(recs) == 1
    r = recs[0]
    assert r.layout == "coco17" and r.name == "000000000001.jpg" and r.image_path == tmp_path / "000000000001.jpg"
    assert r.annotated.sum() == 16 and r.visible.sum() == 15 and r.annotated[3] and not r.visible[3]
    assert not r.annotated[4] and (r.keypoints[4] == 0).all()
    np.testing.assert_allclose(r.keypoints[0], [100, 200])
    np.testing.assert_allclose(r.box, [10, 20, 40, 60])
    np.testing.assert_allclose(r.center, [25, 40])
    assert r.scale == pytest.approx(1.25 * 40 / 200) and np.isnan(r.norm) and r.norm_kind == "none"
    assert r.image_size == (640, 480) and r.meta == {"id": 10, "image_id": 1, "area": 1200.0, "iscrowd": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = [x.meta["id"] for x in coco_to_records(f, min_keypoints=0)]
        assert ids == [10, 11]
        assert [x.meta["id"] for x in coco_to_records(f, include_crowd=True)] == [10, 12]
        assert coco_to_records(f, min_keypoints=17) == []
        ds = COCOKeypointsDataset(f, load_images=False)
    assert len(ds) == 1 and ds[0]["layout"] == "coco17"


def test_coco_bad_input(tmp_path):
    f, _ = _coco(tmp_path, v_bad=True)
    with pytest.raises(ValueError, match="annotation 10: visibility flags must be 0, 1 or 2"):
        coco_to_records(f)
    f, _ = _coco(tmp_path, n_numbers=48)
    with pytest.raises(ValueError, match="expected 51 keypoint numbers, got 48"):
        coco_to_records(f)
    f, _ = _coco(tmp_path, keypoint_names=["a"] * 17)
    with pytest.raises(ValueError, match="differ from the coco17 layout"):
        coco_to_records(f)
    (tmp_path / "x.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="images, annotations and categories"):
        coco_to_records(tmp_path / "x.json")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        coco_to_records(tmp_path / "nope.json")


def test_records_to_arrays_rejects_mixed_layouts(tmp_path):
    f, _ = _coco(tmp_path)
    z = _mpii_arrays()
    np.savez(tmp_path / "v.npz", **z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = coco_to_records(f) + read_mpii_npz(tmp_path / "v.npz")
    with pytest.raises(ValueError, match="mix layouts"):
        records_to_arrays(recs)
    with pytest.raises(ValueError, match="no records"):
        records_to_arrays([])
