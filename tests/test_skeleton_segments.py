"""Segments reconstructed from skeleton + scale (union of disks, one segment per 8-connected part), and the
objects post-processing (touching segments merged, small ones dropped, pieces joined)."""
from pathlib import Path

import numpy as np
import pytest

from scipy import ndimage as ndi

from structnet.skeleton.segments import bridge_skeleton, group_segments, object_segments, segments_from_skeleton

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


EIGHT = np.ones((3, 3), int)


def test_group_segments_known_answer():
    L = np.array([[1, 1, 0, 2, 0],
                  [0, 0, 0, 2, 3],
                  [4, 0, 0, 0, 0],
                  [0, 0, 0, 0, 5]])
    obj, grp = group_segments(L, 0.0)          # 2 and 3 touch (8-adjacent); 1, 4, 5 stand alone
    assert grp.tolist() == [0, 1, 2, 2, 3, 4]
    assert (obj == np.array([[1, 1, 0, 2, 0], [0, 0, 0, 2, 2], [3, 0, 0, 0, 0], [0, 0, 0, 0, 4]])).all()
    obj, grp = group_segments(L, 0.5)          # areas 2, 3, 1, 1: keep >= 1.5 px
    assert grp.tolist() == [0, 1, 2, 2, 0, 0] and obj.max() == 2 and (obj[2:] == 0).all()
    diag = np.array([[1, 0], [0, 2]])          # diagonal contact counts (8-adjacency)
    assert group_segments(diag, 0.0)[1].tolist() == [0, 1, 1]
    gaps = np.array([[0, 7, 0, 7]])            # missing labels are fine; 7 is one segment in two places
    o, g = group_segments(gaps, 0.0)
    assert o.tolist() == [[0, 1, 0, 1]] and g[7] == 1 and g[1:7].tolist() == [0] * 6
    z, gz = group_segments(np.zeros((3, 3), int))
    assert z.max() == 0 and gz.tolist() == [0]
    with pytest.raises(ValueError):
        group_segments(np.ones((3, 3)) * 0.5)
    with pytest.raises(ValueError):
        group_segments(L, 1.5)


def test_bridge_skeleton_joins_pieces_of_an_object_and_drops_the_rest():
    sk = np.zeros((20, 30), bool)
    sk[5, 2:10] = True                         # piece 1
    sk[5, 14:22] = True                        # piece 2, 4 px gap
    sk[15, 2:6] = True                         # piece 3: another object
    parts, n = ndi.label(sk, EIGHT)
    assert n == 3
    out = bridge_skeleton(sk, parts, np.array([0, 1, 1, 0]))      # piece 3 dropped
    assert (out[5, 2:22]).all() and out.sum() == 20 and not out[15].any()
    assert ndi.label(out, EIGHT)[1] == 1
    keep = bridge_skeleton(sk, parts, np.array([0, 1, 1, 2]))
    assert ndi.label(keep, EIGHT)[1] == 2 and keep[15, 2:6].all()
    # three pieces in one object: joined along the shortest links (a spanning tree, no extra line)
    sk2 = np.zeros((30, 30), bool)
    sk2[5, 5:10] = sk2[5, 13:18] = sk2[20, 13:18] = True
    p2, _ = ndi.label(sk2, EIGHT)
    out2 = bridge_skeleton(sk2, p2, np.array([0, 1, 1, 1]))
    assert ndi.label(out2, EIGHT)[1] == 1
    assert out2.sum() == 15 + 3 + 14           # gap of 3 on row 5, a vertical link of 14 px between rows 5 and 20


def test_object_segments_merges_a_broken_skeleton_into_one_object():
    sk = np.zeros((40, 60), bool)
    sk[20, 5:25] = True
    sk[20, 29:55] = True                       # a 3-px break in a bar's skeleton
    sk[2, 2] = sk[2, 3] = True                 # a speck far away
    scale = np.where(sk, 12.0, 0.0)
    scale[2, 2] = scale[2, 3] = 2.0
    lab_p, thin_p, pieces = object_segments(sk, scale, "parts")
    assert pieces == 3 and lab_p.max() == 3 and (thin_p == sk).all()
    lab_o, thin_o, pieces_o = object_segments(sk, scale)        # objects, min_area 0.05
    assert pieces_o == 3 and lab_o.max() == 1
    bar = (lab_p == lab_p[20, 5]) | (lab_p == lab_p[20, 40])          # (the speck is label 1: scan order)
    assert ((lab_o > 0) == bar).all()                                 # the speck's object is dropped
    assert ndi.label(thin_o, EIGHT)[1] == 1 and thin_o[20, 5:55].all() and not thin_o[2].any()
    lab_k, _, _ = object_segments(sk, scale, "objects", 0.0)
    assert lab_k.max() == 2
    with pytest.raises(ValueError, match="mode"):
        object_segments(sk, scale, "blobs")


def test_evaluator_reports_objects_and_the_papers_pieces():
    from structnet.errors import UserError
    from structnet.skeleton.evaluate import SkeletonEvaluator

    gt = np.zeros((40, 60), bool)
    gt[20, 5:55] = True
    pred = gt.astype(np.float32)
    pred[20, 25:29] = 0                                   # the prediction breaks the bar in two
    scale = np.full(gt.shape, 12.0, np.float32)
    mask = np.zeros(gt.shape, np.int32)
    mask[14:27, 0:60] = 1
    sample = {"skeleton": gt, "mask": mask}
    results = {}
    for mode in ("objects", "parts"):
        ev = SkeletonEvaluator(thresholds=5, workers=1, segments=True, segments_mode=mode)
        ev.process(sample, {"skeleton": pred, "scale": scale})
        results[mode] = ev.summarize()
    obj, parts = results["objects"], results["parts"]
    assert obj["segments"]["mode"] == "objects" and obj["segments"]["mean_segments"] == 1.0
    assert obj["segments_by_piece"]["mean_segments"] == 2.0 == parts["segments"]["mean_segments"]
    assert "segments_by_piece" not in parts and parts["segments"]["mode"] == "parts"
    assert obj["segments"]["covering"] > parts["segments"]["covering"] + 20     # one object covers the bar
    with pytest.raises(UserError, match="segments_mode"):
        SkeletonEvaluator(segments=True, segments_mode="blobs")
    with pytest.raises(UserError, match="min_segment_area"):
        SkeletonEvaluator(segments=True, min_segment_area=2.0)


def test_bridge_skeleton_many_pieces_one_component_per_object():
    rng = np.random.default_rng(3)
    sk = np.zeros((120, 160), bool)
    for _ in range(60):                          # 60 short strokes, left half one object, right half another
        y, x = rng.integers(5, 115), rng.integers(5, 150)
        sk[y, x:x + rng.integers(2, 6)] = True
    parts, n = ndi.label(sk, EIGHT)
    centres = ndi.center_of_mass(sk, parts, range(1, n + 1))
    group = np.r_[0, [1 if c[1] < 80 else 2 for c in centres]].astype(np.int32)
    out = bridge_skeleton(sk, parts, group)
    assert (out >= sk).all()                     # nothing removed from kept pieces
    comp, nc = ndi.label(out, EIGHT)
    assert nc == len(set(group[1:].tolist())) == 2
    two = np.zeros((3, 9), bool)
    two[1, 1] = two[1, 7] = True                 # two one-pixel pieces: fewer than 3 points to triangulate
    p2, _ = ndi.label(two, EIGHT)
    assert bridge_skeleton(two, p2, np.array([0, 1, 1]))[1, 1:8].all()
