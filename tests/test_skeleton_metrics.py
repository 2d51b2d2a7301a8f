"""Skeleton evaluation (skeval protocol): known answers, matcher vs brute force, fast vs reference."""
import importlib.util
import itertools
import math
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from structnet.skeleton import metrics as M
from structnet.skeleton import plots as PL
from structnet.skeleton import postprocess as P

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SK_TEST_GT = SHARED / "sk-large" / "test" / "gt"


# ---------------------------------------------------------------- helpers

def _curve_gt(h=120, w=160, seed=0):
    """A few thin polylines away from the border (no isolated pixels)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w), np.uint8)
    for _ in range(3):
        pts = np.stack([rng.integers(15, w - 15, 4), rng.integers(15, h - 15, 4)], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, 1, 1)
    return P.thin(img > 0)


def _blurred(gt, sigma=2.0, noise=0.0, seed=0):
    p = cv2.GaussianBlur(gt.astype(np.float32), (0, 0), sigma)
    if noise:
        p = p + noise * np.random.default_rng(seed).random(p.shape).astype(np.float32)
    return p / p.max()


# ---------------------------------------------------------------- thresholds, conv_tri, thin

def test_thresholds_formula():
    t = M.skeleton_thresholds(100)
    assert len(t) == 100 and t[0] == pytest.approx(1 / 101) and t[-1] == pytest.approx(100 / 101)
    assert np.allclose(np.diff(t), 1 / 101)
    assert M.skeleton_thresholds(1).tolist() == [0.5]
    with pytest.raises(ValueError):
        M.skeleton_thresholds(0)


def test_conv_tri_matches_definition():
    rng = np.random.default_rng(0)
    a = rng.random((13, 17)).astype(np.float32)
    r = 4
    f = np.concatenate([np.arange(1, r + 2), np.arange(r, 0, -1)]) / (r + 1) ** 2
    p = np.pad(a.astype(np.float64), r, mode="symmetric")
    ref = np.apply_along_axis(lambda v: np.convolve(v, f, "valid"), 0, p)
    ref = np.apply_along_axis(lambda v: np.convolve(v, f, "valid"), 1, ref)
    assert np.allclose(P.conv_tri(a, 4), ref, atol=1e-5)


def test_thin_equals_skimage_and_lut_conditions():
    from skimage.morphology import thin as sk_thin
    from skimage.morphology._skeletonize import G123_LUT, G123P_LUT

    assert (P._LUT1.astype(bool) == G123_LUT).all() and (P._LUT2.astype(bool) == G123P_LUT).all()
    rng = np.random.default_rng(1)
    for i in range(30):
        a = cv2.GaussianBlur(rng.random((40, 50)), (0, 0), 1 + i % 3) > 0.5 if i % 2 else rng.random((15, 19)) > 0.4
        assert (P.thin(a) == sk_thin(a)).all()
        assert (P.thin(a, 1) == sk_thin(a, max_num_iter=1)).all()


def test_thin_clean_known():
    a = np.zeros((9, 9), bool)
    a[2:7, 2:7] = True                    # a 5x5 square thins to a single pixel (no holes)
    t = P.thin(a)
    assert t.sum() == 1
    assert P.clean(t).sum() == 0          # isolated pixel removed by 'clean'
    b = np.zeros((5, 5), bool)
    b[2, 1:4] = True
    assert (P.thin(b) == b).all() and (P.clean(b) == b).all()


def test_bit_sliced_rule_equals_lookup_tables_on_every_neighbourhood():
    codes = np.arange(256)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    x = [None] + [np.where((codes >> (i - 1)) & 1, ones, np.uint64(0)) for i in range(1, 9)]
    for first, lut in ((True, P._LUT1), (False, P._LUT2)):
        d = P._deletable_bits(x, first)
        assert set(np.unique(d).tolist()) <= {0, int(ones)}          # all 64 bits agree
        assert ((d != 0) == lut.astype(bool)).all()


def _levels_as_maps(level, flat, shape, k):
    out = np.zeros((k,) + shape, bool)
    out.reshape(k, -1)[level, flat] = True
    return out


@pytest.mark.parametrize("n_thr", [1, 7, 64, 65, 100])
def test_thin_clean_levels_equals_per_threshold_thinning(n_thr):
    rng = np.random.default_rng(n_thr)
    thr = M.skeleton_thresholds(n_thr)
    maps = [cv2.GaussianBlur(rng.random((37, 45)), (0, 0), 2.0),                 # smooth blobs, touch the border
            np.minimum(cv2.GaussianBlur(rng.random((30, 33)), (0, 0), 3.0) * 3, 1.0),   # plateaus at 1
            np.round(rng.random((25, 28)) * 4) / 4,                              # few levels, many ties
            _blurred(_curve_gt(60, 70, seed=n_thr), 2.0, noise=0.2, seed=1)]
    for m in maps:
        m = m / m.max()
        level, flat = P.thin_clean_levels(m, thr)
        assert (np.diff(level) >= 0).all()
        got = _levels_as_maps(level, flat, m.shape, len(thr))
        for j, t in enumerate(thr):
            assert (got[j] == P.binarize_thin(m, t)).all(), (j, t)


def test_thin_clean_levels_known_answers_and_bad_input():
    a = np.zeros((9, 12))
    a[2:7, 2:7] = 0.5                      # a square: thins to one pixel, which 'clean' removes
    a[4, 8:11] = 1.0                       # a 3-pixel line stays as it is
    level, flat = P.thin_clean_levels(a, [0.25, 0.75])
    assert level.tolist() == [0, 0, 0, 1, 1, 1] and flat.tolist() == [56, 57, 58] * 2
    e = P.thin_clean_levels(np.zeros((4, 4)), [0.5])
    assert len(e[0]) == len(e[1]) == 0
    with pytest.raises(ValueError, match="ascending"):
        P.thin_clean_levels(a, [0.75, 0.25])
    with pytest.raises(ValueError, match="2-D"):
        P.thin_clean_levels(np.zeros((2, 3, 4)), [0.5])


# ---------------------------------------------------------------- NMS

def test_nms_thins_vertical_ridge_to_centre_line():
    yy, xx = np.mgrid[0:40, 0:60]
    ridge = np.exp(-((xx - 30) ** 2) / (2 * 3.0 ** 2)).astype(np.float32)
    n = P.skeleton_nms(ridge)
    inner = n[6:-6]
    assert ((inner > 0).sum(1) == 1).all()          # one pixel per row ...
    assert (np.argmax(inner, 1) == 30).all()        # ... on the centre column
    assert inner[:, 30].min() == pytest.approx(1.0)


def test_nms_thins_tilted_ridge():
    yy, xx = np.mgrid[0:80, 0:80].astype(np.float32)
    a = np.deg2rad(30)
    d = (xx - 40) * np.cos(a) - (yy - 40) * np.sin(a)        # signed distance to a line through (40, 40)
    ridge = np.exp(-d ** 2 / (2 * 3.0 ** 2))
    n = P.skeleton_nms(ridge)
    core = (n > 0.3)
    core[:8] = core[-8:] = False
    core[:, :8] = core[:, -8:] = False
    assert core.sum() > 40
    assert np.abs(d[core]).max() <= 1.0                       # survivors hug the centre line
    b = P.binarize_thin(n, 0.3)[8:-8, 8:-8]
    # a 1-px wide 8-connected line: thinning has nothing left to remove
    assert (P.thin(b) == b).all() and (b.sum(0) <= 2).all()


def test_nms_border_ramp_and_zero_map():
    e = np.ones((20, 20), np.float32)
    n = P.skeleton_nms(e)
    assert n[0].max() == 0 and n[:, 0].max() == 0
    assert n[1, 10] == pytest.approx(0.2) and n[10, 10] == pytest.approx(1.0)
    assert P.skeleton_nms(np.zeros((10, 12), np.float32)).max() == 0


# ---------------------------------------------------------------- matching

def _brute_max_matching(a, b, r):
    best = 0
    opts = [[None] + [j for j in range(len(b)) if np.sum((a[i] - b[j]) ** 2) <= r * r] for i in range(len(a))]
    for choice in itertools.product(*opts):
        used = [c for c in choice if c is not None]
        if len(used) == len(set(used)):
            best = max(best, len(used))
    return best


def test_matcher_vs_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(150):
        a = rng.integers(0, 6, (rng.integers(0, 6), 2))
        b = rng.integers(0, 6, (rng.integers(0, 6), 2))
        r = float(rng.choice([0.0, 1.0, 1.5, 2.0, 2.9]))
        m = M.match_points(a, b, r)
        ok = m >= 0
        assert len(set(m[ok].tolist())) == ok.sum()                     # one-to-one
        if ok.any():
            assert (np.sum((a[ok] - b[m[ok]]) ** 2, 1) <= r * r).all()  # within radius
        assert ok.sum() == _brute_max_matching(a, b, r)                  # maximum cardinality


def test_matcher_radius_inclusive():
    assert (M.match_points([[0, 0]], [[3, 4]], 5.0) == 0).all()
    assert (M.match_points([[0, 0]], [[3, 4]], 4.999) == -1).all()


def test_matcher_fast_on_long_shuffled_chains():
    # chain-like graphs make scipy's maximum_bipartite_matching exponential (gh-26147); ours must stay fast
    rng = np.random.default_rng(0)
    ys = np.arange(3000)
    a = np.concatenate([np.stack([ys, np.full_like(ys, 10)], 1), np.stack([ys, np.full_like(ys, 13)], 1)])
    b = np.stack([ys, np.full_like(ys, 11)], 1)
    a = a[rng.permutation(len(a))]
    t = time.perf_counter()
    m = M.match_points(a, b, 3.5)
    assert (m >= 0).sum() == 3000
    assert time.perf_counter() - t < 10


def test_correspond_pixels_shift_within_and_beyond_tolerance():
    h = w = 200                                   # radius = 0.01 * 282.8 = 2.83 px
    gt = np.zeros((h, w), bool)
    gt[40:160, 100] = True
    for shift, expect in ((0, 120), (2, 120), (3, 0)):
        pred = np.roll(gt, shift, axis=1)
        pm, gm = M.correspond_pixels(pred, gt, 0.01)
        assert pm.sum() == gm.sum() == expect


# ---------------------------------------------------------------- dataset-level numbers

def test_gt_as_prediction_gives_f1_exactly():
    gts = [_curve_gt(seed=s) for s in range(3)]
    for nms in (True, False):
        r = M.evaluate_skeletons([g.astype(np.float32) for g in gts], gts, nms=nms, workers=1)
        assert r.ods_f == 1.0 and r.ods_p == 1.0 and r.ods_r == 1.0 and r.ois_f == 1.0
    u8 = M.evaluate_skeletons([g.astype(np.uint8) * 255 for g in gts], gts, workers=1)
    assert u8.ods_f == 1.0
    # the whole PR curve is the single point (1, 1): BSDS AP needs two distinct recalls -> 0
    assert u8.ap == 0.0


def test_shifted_prediction_within_and_beyond_tolerance():
    gt = np.zeros((200, 200), bool)
    gt[40:160, 100] = True
    near = M.evaluate_skeletons([np.roll(gt, 2, 1).astype(np.float32)], [gt], workers=1)
    far = M.evaluate_skeletons([np.roll(gt, 3, 1).astype(np.float32)], [gt], workers=1)
    assert near.ods_f == 1.0
    assert far.ods_f == 0.0 and max(far.recall) == 0.0


def test_empty_prediction_and_empty_gt():
    gt = _curve_gt()
    r = M.evaluate_skeletons([np.zeros(gt.shape, np.float32)], [gt], workers=1)
    assert max(r.recall) == 0 and max(r.precision) == 0 and r.ods_f == 0 and r.ois_f == 0 and r.ap == 0
    c = M.image_counts(np.zeros(gt.shape, np.uint8), gt, 10)
    assert (c[1] == gt.sum()).all() and (c[[0, 2, 3]] == 0).all()
    r2 = M.evaluate_skeletons([_blurred(gt)], [np.zeros(gt.shape, bool)], workers=1)
    assert max(r2.recall) == 0 and max(r2.precision) == 0 and r2.ods_f == 0


def test_fast_equals_reference_on_synthetic_images():
    gts, preds = [], []
    for s in range(4):
        g = _curve_gt(90 + 10 * s, 110, seed=s)
        gts.append(g)
        preds.append(_blurred(np.roll(g, s, 0), 1.5 + 0.5 * s, noise=0.3 * (s % 2), seed=s))
    preds.append(np.zeros((50, 60), np.float32))
    gts.append(_curve_gt(50, 60, seed=9))
    preds.append(np.round(_blurred(gts[0]) * 255).astype(np.uint8))
    gts.append(gts[0])
    thr = np.r_[M.skeleton_thresholds(25)[::-1], 0.3]          # unsorted, with a repeated-ish value
    for p, g in zip(preds, gts):
        for nms in (True, False):
            a = M.image_counts(p, g, thr, nms=nms, fast=True)
            b = M.image_counts(p, g, thr, nms=nms, fast=False)
            assert (a == b).all()
    ra = M.evaluate_skeletons(preds, gts, thresholds=20, workers=1, fast=True)
    rb = M.evaluate_skeletons(preds, gts, thresholds=20, workers=1, fast=False)
    assert ra.to_dict() == rb.to_dict()
    assert 0.3 < ra.ods_f < 1.0


def test_sixteen_bit_png_scores_like_the_float_map_where_eight_bits_do_not(tmp_path):
    from structnet.data.io import write_png
    from structnet.skeleton.writer import map_to_png16

    # maps crowded near 1, as a saturated model writes them: 8 bits merge the top levels, 16 bits keep them
    gts = [_curve_gt(80, 100, seed=s) for s in range(3)]
    preds = [_blurred(g, 3.0) ** 0.03 for g in gts]                # 0 stays 0; 0.1 -> 0.93, 0.5 -> 0.98
    for d in ("gt", "p8", "p16"):
        (tmp_path / d).mkdir()
    for i, (g, p) in enumerate(zip(gts, preds)):
        write_png(tmp_path / "gt" / f"im{i}.png", g)
        write_png(tmp_path / "p8" / f"im{i}.png", np.round(p * 255).astype(np.uint8))
        write_png(tmp_path / "p16" / f"im{i}_skeleton.png", map_to_png16(p))
    ref = M.evaluate_skeletons(preds, gts, thresholds=20, workers=1)
    r16, f16 = M.evaluate_dirs(tmp_path / "p16", tmp_path / "gt", thresholds=20, workers=1)
    r8, f8 = M.evaluate_dirs(tmp_path / "p8", tmp_path / "gt", thresholds=20, workers=1)
    assert f16 == f8 == [] and r16.n_images == r8.n_images == 3
    assert abs(r16.ods_f - ref.ods_f) < 2e-3 and abs(r16.ap - ref.ap) < 5e-3
    assert ref.ods_f - r8.ods_f > 0.015        # the 8-bit file loses the ranking (0.522 float, 0.500 8-bit)


def test_map_to_png16_known_values_and_bad_input():
    from structnet.skeleton.writer import map_to_png16

    m = map_to_png16(np.array([[0.0, 0.5, 1.0], [np.nan, -1.0, 2.0]], np.float32))
    assert m.dtype == np.uint16 and m.tolist() == [[0, 32768, 65535], [0, 0, 65535]]
    with pytest.raises(ValueError, match="2-D"):
        map_to_png16(np.zeros((2, 2, 2)))


def test_workers_give_identical_result():
    gts = [_curve_gt(80, 90, seed=s) for s in range(3)]
    preds = [_blurred(g, 2.0, noise=0.2, seed=i) for i, g in enumerate(gts)]
    r1 = M.evaluate_skeletons(preds, gts, thresholds=10, workers=1)
    r2 = M.evaluate_skeletons(preds, gts, thresholds=10, workers=2)
    assert r1.to_dict(per_image=True) == r2.to_dict(per_image=True)


def _literal_maxf(t, R, P):
    """Transcription of skeval/BSDS maxF's double loop (reference for the vectorised version)."""
    def fm(r, p):
        return 2 * p * r / (p + r + ((p + r) == 0))
    bt, br, bp, bf = t[0], R[0], P[0], fm(R[0], P[0])
    for i in range(1, len(t)):
        for d in np.linspace(0, 1, 100):
            tt = t[i] * d + t[i - 1] * (1 - d)
            r = R[i] * d + R[i - 1] * (1 - d)
            p = P[i] * d + P[i - 1] * (1 - d)
            f = fm(r, p)
            if f > bf:
                bt, br, bp, bf = tt, r, p, f
    return bt, br, bp, bf


def test_max_f_interpolation_matches_literal_loop():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 30):
        t = M.skeleton_thresholds(n)
        R = np.sort(rng.random(n))[::-1]
        P = np.sort(rng.random(n))
        assert M.max_f_interpolated(t, R, P) == pytest.approx(_literal_maxf(t, R, P), abs=1e-15)
    # interpolation finds a better F between two thresholds than either end point
    t, R, P = np.array([0.25, 0.75]), np.array([1.0, 0.0]), np.array([0.0, 1.0])
    bt, br, bp, bf = M.max_f_interpolated(t, R, P)
    assert bf == pytest.approx(0.5, abs=1e-4) and bt == pytest.approx(0.5, abs=0.01)


def test_average_precision_bsds_convention():
    assert M.average_precision([0.0, 1.0], [0.5, 0.5]) == pytest.approx(0.505)      # 101 points x 0.01
    assert M.average_precision([0.2, 0.6], [1.0, 0.5]) == pytest.approx(
        sum(np.interp(x, [0.2, 0.6], [1.0, 0.5]) for x in np.linspace(0.2, 0.6, 41)) * 0.01)
    assert M.average_precision([0.5, 0.5], [0.3, 0.9]) == 0.0                        # one distinct recall
    # repeated recall: the last point (highest threshold) is used
    assert M.average_precision([1.0, 0.5, 0.5], [0.2, 0.4, 0.8]) == pytest.approx(
        0.01 * sum(np.interp(x, [0.5, 1.0], [0.8, 0.2]) for x in np.linspace(0.5, 1.0, 51)))


def test_ois_pools_best_threshold_counts():
    thr = np.array([0.25, 0.5, 0.75])
    # image 1: best at t=0.5 (F=1); image 2: F ties at t=0.25 and 0.75 -> the last one (0.75) is used
    c1 = np.array([[5, 10, 10], [10, 10, 10], [5, 10, 10], [20, 10, 10]])
    c2 = np.array([[3, 0, 1], [3, 3, 3], [3, 0, 1], [9, 9, 1]])    # (R, P) = (1, 1/3) and (1/3, 1)
    res = M.summarize_counts(np.stack([c1, c2]), thr)
    assert res.ois_r == pytest.approx((10 + 1) / (10 + 3))
    assert res.ois_p == pytest.approx((10 + 1) / (10 + 1))
    assert res.n_images == 2 and len(res.precision) == 3
    d = res.to_dict()
    for k in ("ods_f", "ods_p", "ods_r", "ois_f", "ap", "thresholds", "precision", "recall", "n_images"):
        assert k in d


def test_bad_inputs():
    g = np.zeros((10, 10), bool)
    with pytest.raises(ValueError, match="2 predictions but 1"):
        M.evaluate_skeletons([g, g], [g], workers=1)
    with pytest.raises(ValueError, match="size"):
        M.evaluate_skeletons([np.zeros((10, 11))], [g], workers=1)
    with pytest.raises(ValueError, match="NaN"):
        M.image_counts(np.full((10, 10), np.nan), g)
    with pytest.raises(ValueError, match="negative"):
        M.image_counts(-np.ones((10, 10)), g)
    with pytest.raises(ValueError, match="2-D"):
        P.skeleton_nms(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError):
        M.evaluate_skeletons([g], [g], thresholds=[], workers=1)


# ---------------------------------------------------------------- folders and plot

def _png(path, a):
    Image.fromarray(a).save(path)


def test_evaluate_dirs_with_failures(tmp_path):
    gd, pd = tmp_path / "gt", tmp_path / "pred"
    gd.mkdir()
    pd.mkdir()
    gts = [_curve_gt(80, 100, seed=s) for s in range(4)]
    for i, g in enumerate(gts):
        _png(gd / f"im{i}.png", (g * 37).astype(np.uint8))          # scale-map style GT
    _png(pd / "im0.png", gts[0].astype(np.uint8) * 255)
    _png(pd / "im1_skeleton.png", gts[1].astype(np.uint8) * 255)     # suffix accepted
    _png(pd / "im2.png", np.zeros((70, 100), np.uint8))              # size mismatch
    (pd / "im3.png").write_bytes(b"not a png")                       # corrupt
    res, fails = M.evaluate_dirs(pd, gd, thresholds=10, workers=1)
    assert res.n_images == 2 and res.ods_f == 1.0
    reasons = dict(fails)
    assert len(fails) == 2
    assert "100x70" in reasons[str(pd / "im2.png")] and "100x80" in reasons[str(pd / "im2.png")]
    assert "cannot read" in reasons[str(pd / "im3.png")]
    (pd / "im3.png").unlink()
    res, fails = M.evaluate_dirs(pd, gd, thresholds=10, workers=1)
    assert any("no prediction" in why for _, why in fails)
    with pytest.raises(FileNotFoundError):
        M.evaluate_dirs(pd, tmp_path / "nope")


def test_plot_pr(tmp_path):
    gts = [_curve_gt(seed=1)]
    r = M.evaluate_skeletons([_blurred(gts[0], 2, 0.3)], gts, thresholds=20, workers=1)
    out = PL.plot_pr({"blur": r, "dict": r.to_dict()}, tmp_path / "pr.png",
                    paper_points={"LMSDS": 0.649, "pt": (0.6, 0.7)})
    im = Image.open(out)
    assert im.size[0] > 300 and np.asarray(im).std() > 0


# ---------------------------------------------------------------- segment metrics

def test_segment_metrics_known_answers():
    gt = np.zeros((10, 10), np.int32)
    gt[1:4, 1:4] = 1
    gt[6:9, 5:9] = 2
    assert M.segment_f_measure(gt, gt) == 1.0 and M.covering(gt, gt) == 100.0
    shifted = np.zeros_like(gt)
    shifted[gt == 1] = 7                         # label values do not matter
    shifted[gt == 2] = 3
    assert M.segment_f_measure(shifted, gt) == 1.0
    disjoint = np.zeros_like(gt)
    disjoint[5, :] = 1
    assert M.segment_f_measure(disjoint, gt) == 0.0 and M.covering(disjoint, gt) == 0.0
    assert M.segment_f_measure(np.zeros_like(gt), gt) == 0.0
    # partial: GT segment of 4 px, prediction covers 2 of them plus 2 others
    g = np.zeros((4, 4), np.int32)
    g[0, :] = 1
    p = np.zeros((4, 4), np.int32)
    p[0, :2] = 1
    p[1, :2] = 1
    assert M.segment_f_measure(p, g) == pytest.approx(0.5)
    assert M.covering(p, g) == pytest.approx(100 * 2 / 6)
    ev = M.evaluate_segments([(gt, gt), (p, g)])
    assert ev["f_measure"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert ev["covering"] == pytest.approx((100 + 100 * 2 / 6) / 2)
    assert ev["mean_segments"] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="pair 0"):
        M.evaluate_segments([(gt, gt[:5])])
    with pytest.raises(ValueError, match="integer"):
        M.covering(gt.astype(float), gt)


# ---------------------------------------------------------------- differential test vs BSDS correspondPixels

@pytest.mark.skipif(importlib.util.find_spec("pyEdgeEval") is None,
                    reason="pyEdgeEval (GPL port of BSDS correspondPixels; dev-only) is not installed")
def test_against_pyedgeeval_correspond_pixels():
    from pyEdgeEval._lib import correspond_pixels as bsds_correspond

    thr = M.skeleton_thresholds(9)
    tot_ours = np.zeros((4, len(thr)))
    tot_bsds = np.zeros((4, len(thr)))
    for s in range(4):
        gt = _curve_gt(100, 130, seed=s)
        pred = P.skeleton_nms(_blurred(np.roll(gt, s % 3, 1), 2.0, noise=0.4, seed=s))
        radius = M.max_match_distance(gt.shape, 0.01)
        for k, t in enumerate(thr):
            b = P.binarize_thin(pred, t)
            ours = int((M.match_points(np.argwhere(b), np.argwhere(gt), radius) >= 0).sum())
            m0, m1, _, _ = bsds_correspond(b.astype(float), gt.astype(float), 0.01, 100.0)
            theirs = int((m0 > 0).sum())
            assert theirs == int((m1 > 0).sum())
            assert theirs <= ours                  # ours is the exact maximum
            tot_ours[:, k] += (ours, gt.sum(), ours, b.sum())
            tot_bsds[:, k] += (theirs, gt.sum(), theirs, b.sum())
    f_ours = M.max_f_interpolated(thr, *M.pr_from_counts(*tot_ours))[3]
    f_bsds = M.max_f_interpolated(thr, *M.pr_from_counts(*tot_bsds))[3]
    assert abs(f_ours - f_bsds) < 0.005


# ---------------------------------------------------------------- real data

def test_real_sk_large_gt(shared_data):
    files = sorted(SK_TEST_GT.glob("*.png"))[:3]
    if not files:
        pytest.skip(f"no SK-LARGE test GT in {SK_TEST_GT}")
    from structnet.skeleton.gtio import read_skeleton_gt

    gts = [read_skeleton_gt(f).skeleton for f in files]
    r = M.evaluate_skeletons([g.astype(np.uint8) * 255 for g in gts], gts, thresholds=10, nms=False, workers=1)
    assert r.ods_f == 1.0
    blur = [np.round(_blurred(g, 2.0) * 255).astype(np.uint8) for g in gts]
    fa = M.evaluate_skeletons(blur, gts, thresholds=20, workers=1)
    fb = M.evaluate_skeletons(blur, gts, thresholds=20, workers=1, fast=False)
    assert fa.to_dict(per_image=True) == fb.to_dict(per_image=True)
    assert 0.9 < fa.ods_f <= 1.0


# ---------------------------------------------------------------- module split


def test_split_modules_roles_and_lazy_matplotlib():
    """postprocess (NMS/thinning, used by prediction) needs neither the matcher nor matplotlib; metrics does not
    import matplotlib; plots does so only when a plot is drawn."""
    import subprocess
    import sys

    code = ("import sys; import structnet.skeleton.postprocess; "
            "assert 'structnet.skeleton.metrics' not in sys.modules and 'scipy.sparse.csgraph' not in sys.modules; "
            "import structnet.skeleton.metrics, structnet.skeleton.plots; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert M.thin is P.thin and M.skeleton_nms is P.skeleton_nms  # metrics evaluates with the same functions
