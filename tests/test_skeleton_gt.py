"""Skeleton GT from masks: known answers (disk, bar, capsule), border rule, SK-LARGE PNG rule, real data."""
from pathlib import Path

import numpy as np
import pytest

from structnet.skeleton.gt import (decode_sk_large_png, distance_to_boundary, encode_sk_large_png,
                                   skeleton_from_mask)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _disk(n, r, c=None):
    """Digital disk ``2r + 1`` pixels across: pixel centres within r + 0.5 of the centre."""
    c = n // 2 if c is None else c
    yy, xx = np.mgrid[0:n, 0:n]
    return (yy - c) ** 2 + (xx - c) ** 2 <= (r + 0.5) ** 2


def _capsule(shape, p, q, r):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    p, q = np.asarray(p, float), np.asarray(q, float)
    d = q - p
    t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / (d @ d), 0, 1)
    return np.hypot(xx - p[0] - t * d[0], yy - p[1] - t * d[1]) <= r + 0.5


@pytest.mark.parametrize("r", [6, 11, 20])
def test_disk_gives_centre_with_diameter_scale(r):
    n = 2 * r + 15
    sk, scale = skeleton_from_mask(_disk(n, r))
    ys, xs = np.nonzero(sk)
    assert 1 <= len(ys) <= 4                                     # the centre: a single pixel or tiny cluster
    assert np.all(np.hypot(ys - n // 2, xs - n // 2) <= 1.5)
    w = 2 * r + 1                                                # the disk's width in pixels
    assert abs(scale.max() - w) <= 1.5                           # maximal disk ~ the disk itself
    assert np.all(np.abs(scale[sk] - w) <= 2.5)                  # off-centre cluster pixels: ~2 px less
    assert np.array_equal(sk, scale > 0) and scale.dtype == np.float32 and sk.dtype == bool


@pytest.mark.parametrize("h", [9, 10, 15])
def test_bar_gives_middle_line_with_height_scale(h):
    m = np.zeros((40, 90), bool)
    m[6:6 + h, 10:80] = True
    mid = 6 + (h - 1) / 2
    odd = h % 2  # even h: the middle falls between two rows, the skeleton pixels sit half a pixel off it
    for mode, expect in (("background", h + odd), ("boundary", h + odd - 2)):
        sk, scale = skeleton_from_mask(m, distance=mode)
        inner = sk[:, 10 + h:80 - h]                             # away from the corner branches
        rows = np.nonzero(inner.any(1))[0]
        assert np.all(np.abs(rows - mid) <= 0.5), (mode, rows)
        assert inner.any(0).all()                                # the line is unbroken
        assert np.allclose(scale[:, 10 + h:80 - h][inner], expect)
        assert scale.max() == pytest.approx(expect)               # corner branches only get smaller
        assert abs(expect - h) <= 2


@pytest.mark.parametrize("p,q,r", [((20, 30), (100, 50), 7), ((20, 40), (100, 40), 5), ((30, 20), (60, 90), 10)])
def test_capsule_gives_spine_with_width_scale(p, q, r):
    m = _capsule((110, 130), p, q, r)
    sk, scale = skeleton_from_mask(m)
    ys, xs = np.nonzero(sk)
    p, q = np.asarray(p, float), np.asarray(q, float)
    u = (q - p) / np.linalg.norm(q - p)
    rel = np.stack([xs, ys], 1) - p
    assert np.abs(rel[:, 0] * u[1] - rel[:, 1] * u[0]).max() <= 1.0          # on the spine
    along = rel @ u
    assert along.min() <= 1.5 and along.max() >= np.linalg.norm(q - p) - 1.5  # covers it end to end
    w = 2 * r + 1
    assert np.all(scale[sk] >= w - 1.5) and np.median(scale[sk]) <= w + 1.5


def test_outside_the_image_is_background():
    m = np.zeros((20, 50), bool)
    m[:9, :] = True                      # bar of 9 rows touching the top, left and right borders
    sk, scale = skeleton_from_mask(m)
    inner = sk[:, 12:38]
    assert np.nonzero(inner.any(1))[0].tolist() == [4]      # the bar's middle row, not its bottom edge
    assert np.allclose(scale[:, 12:38][inner], 10.0)
    full = np.ones((7, 30), bool)                            # whole image is object
    sk, scale = skeleton_from_mask(full)
    assert np.nonzero(sk[:, 8:22].any(1))[0].tolist() == [3] and np.allclose(scale[:, 8:22][sk[:, 8:22]], 8.0)


def test_distance_definitions():
    m = np.zeros((11, 30), bool)
    m[2:9, 3:27] = True                  # 7 rows
    db = distance_to_boundary(m, "background")
    de = distance_to_boundary(m, "boundary")
    assert db[5, 15] == pytest.approx(4.0) and de[5, 15] == pytest.approx(3.0)
    assert db[2, 15] == pytest.approx(1.0) and de[2, 15] == 0.0       # boundary pixel itself
    assert db[0, 0] == 0 and de[0, 0] == 0
    thin = np.zeros((9, 30), bool)
    thin[4, 3:27] = True                 # 1-pixel line: on the boundary, still scale >= 2
    for mode in ("background", "boundary"):
        sk, scale = skeleton_from_mask(thin, distance=mode)
        assert sk.sum() >= 20 and scale[sk].min() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="distance mode"):
        distance_to_boundary(m, "chamfer")


def test_deterministic_and_no_pruning():
    rng = np.random.default_rng(3)
    m = _disk(60, 20) | (rng.random((60, 60)) < 0.002)
    a = skeleton_from_mask(m)
    b = skeleton_from_mask(m)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    bump = _disk(50, 15)
    bump[25, 25 + 16] = True             # a one-pixel bump on the outline gets its own branch (no pruning)
    sk, _ = skeleton_from_mask(bump)
    assert sk[25, 28:41].sum() >= 8


def test_empty_and_bad_masks():
    sk, scale = skeleton_from_mask(np.zeros((5, 6), bool))
    assert sk.shape == (5, 6) and not sk.any() and not scale.any()
    sk, _ = skeleton_from_mask(np.pad(np.ones((5, 20), np.uint8) * 255, 3))   # numeric masks: non-zero = object
    assert sk.any()
    with pytest.raises(ValueError, match="2-D"):
        skeleton_from_mask(np.zeros((4, 4, 3), bool))
    with pytest.raises(ValueError, match="empty"):
        skeleton_from_mask(np.zeros((0, 4), bool))


def test_sk_large_png_rule():
    scale = np.array([[0.4, 1.0, 2.49, 2.5, 3.5, 40.2, 254.49, 254.5, 300.0, 9.0]], np.float32)
    sk = np.ones_like(scale, bool)
    sk[0, -1] = False
    v = encode_sk_large_png(sk, scale)
    assert v.dtype == np.uint8
    assert v.tolist() == [[2, 2, 2, 3, 4, 40, 254, 255, 255, 0]]
    dsk, dscale = decode_sk_large_png(v)
    assert np.array_equal(dsk, sk) and dscale.dtype == np.float32 and dscale[0, 5] == 40.0
    # from a mask: v = min(255, max(2, round(2 d))) with d the distance of the chosen convention
    m = np.zeros((13, 40), bool)
    m[2:11, 4:36] = True                 # 9 rows
    sk, scale = skeleton_from_mask(m, distance="boundary")
    v = encode_sk_large_png(sk, scale)
    assert v[6, 15:25].tolist() == [8] * 10
    with pytest.raises(ValueError, match="shape"):
        encode_sk_large_png(sk, scale[:5])


# ------------------------------------------------------------------------------------------- real data
def test_weizmann_horse_masks_give_skeletons():
    root = SHARED / "weizmann-horse"
    if not (root / "masks").is_dir():
        pytest.skip(f"Weizmann Horse not available at {root}")
    from structnet.data.io import read_mask

    for name in ("horse001", "horse150", "horse328"):
        m = read_mask(root / "masks" / f"{name}.png")
        sk, scale = skeleton_from_mask(m)
        assert sk.sum() > 50, name
        assert not (sk & ~m).any()                                # inside the object
        assert sk.sum() < 0.1 * m.sum()                          # thin
        assert scale[sk].min() >= 2.0 and scale[sk].max() <= 2 * distance_to_boundary(m).max() + 1e-4
        assert np.array_equal(sk, scale > 0)


def _sk_large_pairs(n=3):
    root = SHARED / "sk-large"
    lst = root / "train" / "train_pair.lst"
    if not lst.is_file():
        pytest.skip(f"SK-LARGE not available at {root}")
    raw_lines = lst.read_bytes().split(b"\n")
    assert raw_lines[0].endswith(b"\r")                          # CRLF, as the README says
    return [(root / f[0], root / f[1]) for f in (ln.decode().split() for ln in raw_lines[:n])]


def test_sk_large_gt_png_matches_readme():
    from PIL import Image

    for im_path, gt_path in _sk_large_pairs():
        gt = Image.open(gt_path)
        raw = np.asarray(gt)
        assert gt.mode == "L" and raw.dtype == np.uint8 and raw.ndim == 2
        assert Image.open(im_path).size == gt.size               # same W x H as the image
        sk, scale = decode_sk_large_png(raw)
        assert sk.sum() >= 92 and scale[sk].min() >= 2 and scale.max() <= 255
        assert np.array_equal(encode_sk_large_png(sk, scale), raw)   # the PNG rule is a fixed point


def test_sk_large_gt_png_through_gtio_reader():
    pairs = _sk_large_pairs()
    gtio = pytest.importorskip("structnet.skeleton.gtio", reason="structnet.skeleton.gtio not written yet")
    from PIL import Image

    for _, gt_path in pairs:
        raw = np.asarray(Image.open(gt_path))
        gt = gtio.read_skeleton_gt(gt_path)
        assert np.array_equal(np.asarray(gt.skeleton, bool), raw > 0)
        assert np.allclose(np.asarray(gt.scale)[raw > 0], raw[raw > 0].astype(np.float32))
