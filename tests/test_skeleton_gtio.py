"""Skeleton ground-truth reading (PNG scale maps, binary PNGs, .mat) and resizing."""
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from structnet.skeleton.gtio import SkeletonGT, read_skeleton_gt, resize_skeleton_gt

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SK = SHARED / "sk-large"


def _sk():
    s = np.zeros((12, 16), np.uint8)
    s[3, 2:12] = 7
    s[4:9, 11] = 40
    return s


def test_png_scale_map(tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(_sk()).save(p)
    g = read_skeleton_gt(p)
    assert g.has_scale and g.skeleton.dtype == bool and g.scale.dtype == np.float32
    assert (g.skeleton == (_sk() > 0)).all()
    assert g.scale[3, 5] == 7 and g.scale[6, 11] == 40 and g.scale[0, 0] == 0
    assert g.shape == (12, 16) and g.source == str(p)


@pytest.mark.parametrize("fg", [1, 255])
def test_png_binary(tmp_path, fg):
    p = tmp_path / "b.png"
    Image.fromarray((_sk() > 0).astype(np.uint8) * fg).save(p)
    g = read_skeleton_gt(p)
    assert not g.has_scale and (g.skeleton == (_sk() > 0)).all()
    assert np.isnan(g.scale[g.skeleton]).all() and (g.scale[~g.skeleton] == 0).all()
    # forcing the kind: a {0,255} map read as a scale map
    if fg == 255:
        assert read_skeleton_gt(p, kind="scale").scale[3, 5] == 255


def test_png_mode_1_and_rgb_grey(tmp_path):
    p = tmp_path / "c.png"
    Image.fromarray(_sk() > 0).save(p)             # PIL mode '1'
    g = read_skeleton_gt(p)
    assert not g.has_scale and g.skeleton.sum() == (_sk() > 0).sum()
    q = tmp_path / "d.png"
    Image.fromarray(np.repeat(_sk()[..., None], 3, 2)).save(q)
    assert read_skeleton_gt(q).scale[6, 11] == 40
    r = tmp_path / "e.png"
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[1, 1] = (10, 20, 30)
    Image.fromarray(rgb).save(r)
    with pytest.raises(ValueError, match="e.png"):
        read_skeleton_gt(r)


def test_mat_symmetry_distance_and_binary(tmp_path):
    d = np.zeros((12, 16))
    d[3, 2:12] = 3.5
    d[4:9, 11] = 20
    edge = np.zeros((12, 16), np.uint8)
    edge[0, :] = 1
    p = tmp_path / "dist.mat"
    scipy.io.savemat(p, {"symmetry": d, "edge": edge})
    g = read_skeleton_gt(p)
    assert g.has_scale and g.scale[3, 5] == 7 and g.scale[6, 11] == 40 and g.scale[0, 0] == 0
    assert g.edge is not None and g.edge[0].all() and g.edge.sum() == 16
    q = tmp_path / "bin.mat"
    scipy.io.savemat(q, {"symmetry": (d > 0).astype(np.uint8), "edge": edge})
    gb = read_skeleton_gt(q)
    assert not gb.has_scale and (gb.skeleton == (d > 0)).all() and np.isnan(gb.scale[gb.skeleton]).all()


def test_mat_groundtruth_struct_and_cell(tmp_path):
    d = np.zeros((6, 7))
    d[2, 1:5] = 2
    p = tmp_path / "s.mat"
    scipy.io.savemat(p, {"groundTruth": {"symmetry": d, "edge": np.zeros((6, 7))}})
    assert read_skeleton_gt(p).scale[2, 3] == 4
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = {"symmetry": d}
    q = tmp_path / "c.mat"
    scipy.io.savemat(q, {"groundTruth": cell})
    g = read_skeleton_gt(q)
    assert g.skeleton.sum() == 4 and g.scale[2, 1] == 4


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_skeleton_gt(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="bad.png"):
        read_skeleton_gt(bad)
    badm = tmp_path / "bad.mat"
    badm.write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="bad.mat"):
        read_skeleton_gt(badm)
    nofield = tmp_path / "nofield.mat"
    scipy.io.savemat(nofield, {"foo": np.zeros((3, 3))})
    with pytest.raises(ValueError, match=r"nofield.mat: no 'symmetry' field.*foo"):
        read_skeleton_gt(nofield)
    with pytest.raises(ValueError, match="kind"):
        read_skeleton_gt(bad, kind="weird")
    for err in (FileNotFoundError, ValueError):
        try:
            read_skeleton_gt(bad if err is ValueError else tmp_path / "x.png")
        except err as e:
            assert "\n" not in str(e)


def test_resize_down_up_and_anisotropic():
    s = np.zeros((20, 40), np.float32)
    s[10, 4:36] = 8
    g = SkeletonGT(s > 0, s, True)
    h = resize_skeleton_gt(g, (10, 20))
    assert h.skeleton.shape == (10, 20)
    assert h.skeleton[5, 2:18].all() and h.skeleton.sum() == 16   # still a connected line
    assert np.allclose(h.scale[h.skeleton], 4.0)                  # x 0.5
    u = resize_skeleton_gt(g, (40, 80))
    assert u.skeleton.sum() == 32 and np.allclose(u.scale[u.skeleton], 16.0)
    a = resize_skeleton_gt(g, (40, 20))                           # fy = 2, fx = 0.5 -> sqrt = 1
    assert np.allclose(a.scale[a.skeleton], 8.0)
    nb = resize_skeleton_gt(SkeletonGT(s > 0, np.where(s > 0, np.nan, 0).astype(np.float32), False), (10, 20))
    assert not nb.has_scale and np.isnan(nb.scale[nb.skeleton]).all()
    with pytest.raises(ValueError):
        resize_skeleton_gt(g, (0, 5))


def test_real_sk_large_files(shared_data):
    files = sorted((SK / "test" / "gt").glob("*.png"))[:5]
    if not files:
        pytest.skip(f"no SK-LARGE GT in {SK}")
    for f in files:
        g = read_skeleton_gt(f)
        im = Image.open(SK / "test" / "im" / (f.stem + ".jpg"))
        assert g.has_scale and g.skeleton.shape == (im.height, im.width)
        v = g.scale[g.skeleton]
        assert v.min() >= 2 and v.max() <= 255 and (g.scale[~g.skeleton] == 0).all()
        assert 92 <= g.skeleton.sum() <= 2564      # README: per-image skeleton pixel range
