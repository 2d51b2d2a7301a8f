"""Segments reconstructed from skeleton + scale (union of disks, one segment per 8-connected part)."""
from pathlib import Path

import numpy as np
import pytest

from structnet.skeleton.segments import segments_from_skeleton

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _brute(sk, scale):
    """Per-pixel definition: label of the part minimising |p - x_j| / r_j among disks containing p."""
    from scipy import ndimage as ndi

    parts, _ = ndi.label(sk, structure=np.ones((3, 3), int))
    h, w = sk.shape
    out = np.zeros((h, w), np.int32)
    pts = np.argwhere(sk)
    for y in range(h):
        for x in range(w):
            best, lab = np.inf, 0
            for (sy, sx) in pts:
                r = max(scale[sy, sx] / 2, 0)
                d2 = (y - sy) ** 2 + (x - sx) ** 2
                if d2 > r * r:
                    continue
                v = 0.0 if d2 == 0 else np.sqrt(d2) / r
                lb = parts[sy, sx]
                if v < best or (v == best and lb < lab):
                    best, lab = v, lb
            out[y, x] = lab
    return out


@pytest.mark.parametrize("r", [0, 1, 2.5, 6])
def test_single_pixel_gives_disk(r):
    sk = np.zeros((21, 21), bool)
    sk[10, 10] = True
    sc = np.zeros((21, 21), np.float32)
    sc[10, 10] = 2 * r
    lab = segments_from_skeleton(sk, sc)
    yy, xx = np.mgrid[:21, :21]
    assert (lab == ((yy - 10) ** 2 + (xx - 10) ** 2 <= r * r)).all()
    assert lab.dtype == np.int32


def test_parts_and_overlap_rule_vs_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(6):
        sk = np.zeros((24, 28), bool)
        sk[5, 3:12] = True                       # part 1
        sk[8:20, 18] = True                      # part 2
        sk[rng.integers(0, 24), rng.integers(0, 28)] = True
        sc = np.where(sk, rng.uniform(0, 14, sk.shape), 0)
        got = segments_from_skeleton(sk, sc)
        assert (got == _brute(sk, sc)).all()
        assert got.max() >= 2


def test_overlap_goes_to_relatively_nearest_disk():
    sk = np.zeros((11, 30), bool)
    sk[5, 5] = True        # big disk, r = 10
    sk[5, 16] = True       # small disk, r = 2 (separate part)
    sc = np.zeros(sk.shape)
    sc[5, 5], sc[5, 16] = 20, 4
    lab = segments_from_skeleton(sk, sc)
    assert lab[5, 5] == 1 and lab[5, 16] == 2
    assert lab[5, 14] == 1      # |d|/r: 9/10 = 0.9 (big) vs 2/2 = 1.0 (small)
    assert lab[5, 15] == 2      # 10/10 vs 1/2
    assert lab[5, 19] == 0


def test_empty_and_bad_inputs():
    assert segments_from_skeleton(np.zeros((5, 6), bool), np.zeros((5, 6))).max() == 0
    sk = np.zeros((5, 6), bool)
    sk[2, 2] = True
    with pytest.raises(ValueError, match="NaN"):
        segments_from_skeleton(sk, np.full((5, 6), np.nan))
    with pytest.raises(ValueError, match="equal"):
        segments_from_skeleton(sk, np.zeros((5, 5)))


def test_real_sk_large_gt_reconstructs_one_object(shared_data):
    from structnet.skeleton.gtio import read_skeleton_gt

    files = sorted((SHARED / "sk-large" / "test" / "gt").glob("*.png"))[:2]
    if not files:
        pytest.skip("no SK-LARGE GT")
    for f in files:
        g = read_skeleton_gt(f)
        lab = segments_from_skeleton(g.skeleton, g.scale)
        assert lab[g.skeleton].min() >= 1
        # the object mask covers much more than the skeleton but not the whole image
        assert g.skeleton.sum() * 3 < (lab > 0).sum() < lab.size
