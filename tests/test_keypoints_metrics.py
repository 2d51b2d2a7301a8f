"""pose2d metrics: known answers (GT = 1, displacements by exact fractions of the normaliser, hand-computed toy,
step-curve AUC), the MPII valid-set geometry (12 known failures of joints vs joints_eval), a differential check of
every PCKh protocol against a direct transcription of its published formula, tables and bad input."""
from pathlib import Path

import numpy as np
import pytest

from structnet.keypoints import metrics as M
from structnet.keypoints.layouts import get_layout

MPII_NPZ = Path(__file__).resolve().parents[2] / "shared" / "data" / "mpii-valid" / "valid.npz"
MPII16 = get_layout("mpii16")
LSP14 = get_layout("lsp14")


# ---------------------------------------------------------------- geometry

def _synthetic_geometry(n=400, seed=0):
    """Integer joint positions, some joints missing, normalisers that are multiples of 2**-10 (exact arithmetic)."""
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 1200, size=(n, 16, 2)).astype(np.float64)
    visible = rng.random((n, 16)) > 0.1
    visible[:, 6] = True
    norm = np.round(rng.uniform(14.5, 311.0, n) * 1024) / 1024
    return gt, visible, norm


@pytest.fixture(scope="module")
def mpii():
    if not MPII_NPZ.is_file():
        pytest.skip(f"MPII validation annotations not available at {MPII_NPZ}")
    d = np.load(MPII_NPZ)
    return {k: d[k] for k in d.files}


@pytest.fixture(scope="module", params=["mpii", "synthetic"])
def geometry(request):
    """(gt, visible, norm) with integer-valued GT and normalisers quantised to 2**-10 px, so that ``gt + f * norm``
    along an axis is exact for f = 0.5: the MPII valid set geometry when present (its ``joints`` are integers),
    made-up geometry otherwise (and always)."""
    if request.param == "mpii":
        if not MPII_NPZ.is_file():
            pytest.skip(f"MPII validation annotations not available at {MPII_NPZ}")
        d = np.load(MPII_NPZ)
        gt = d["joints"].astype(np.float64)
        assert np.array_equal(gt, np.round(gt))
        return gt, ~d["jnt_missing"].astype(bool), np.round(d["normalize"] * 1024) / 1024
    return _synthetic_geometry()


def _axis_shift(gt, norm, frac, seed=1):
    """Move every joint by exactly frac * norm along +-x or +-y (chosen at random)."""
    rng = np.random.default_rng(seed)
    n, k, _ = gt.shape
    axis = rng.integers(0, 2, size=(n, k))
    sign = rng.choice([-1.0, 1.0], size=(n, k))
    step = np.zeros_like(gt)
    step[np.arange(n)[:, None], np.arange(k)[None, :], axis] = sign * frac * norm[:, None]
    return gt + step


def _random_shift(gt, norm, frac, seed=2):
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * np.pi, gt.shape[:2])
    return gt + frac * norm[:, None, None] * np.stack([np.cos(ang), np.sin(ang)], -1)


# ---------------------------------------------------------------- known answers

def test_gt_as_prediction_scores_one(geometry):
    gt, vis, norm = geometry
    for strict in (True, False):
        per_joint, mean = M.pck(gt, gt, vis, norm, 0.5, strict=strict)
        assert mean == 1.0 and np.all(per_joint == 1.0)
    for protocol in M.PCKH_PROTOCOLS:
        _, mean = M.pckh(gt, gt, vis, norm=norm, protocol=protocol)
        assert mean == 1.0
        s = M.pckh_summary(gt, gt, vis, norm=norm, protocol=protocol)
        assert all(s[c] == 1.0 for c in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean",
                                         "Mean@0.1"))
    # AUC: 1 with <=; with < the curve is 0 at threshold 0, which costs half of the first 0.01 step: 1 - 0.01
    assert M.auc(gt, gt, vis, norm) == pytest.approx(1.0, abs=1e-12)
    assert M.auc(gt, gt, vis, norm, strict=True) == pytest.approx(0.99, abs=1e-12)


@pytest.mark.parametrize("frac, expect_strict, expect_le", [(0.49, 1.0, 1.0), (0.51, 0.0, 0.0), (0.5, 0.0, 1.0)])
def test_displacement_by_exact_fraction_of_normaliser(geometry, frac, expect_strict, expect_le):
    gt, vis, norm = geometry
    pred = _axis_shift(gt, norm, frac)
    dist = M.normalized_distances(pred, gt, vis, norm)
    if frac == 0.5:
        assert np.all(dist[vis] == 0.5)  # exact arithmetic: the boundary case really sits on the boundary
    else:
        np.testing.assert_allclose(dist[vis], frac, rtol=1e-12)
    assert np.isnan(dist[~vis]).all()
    _, m_strict = M.pck(pred, gt, vis, norm, 0.5, strict=True)
    _, m_le = M.pck(pred, gt, vis, norm, 0.5, strict=False)
    assert (m_strict, m_le) == (expect_strict, expect_le)
    expected = {"official": expect_strict, "mmpose": expect_strict, "hrnet": expect_le, "matlab": expect_le}
    for protocol, want in expected.items():
        per_joint, mean = M.pckh(pred, gt, vis, norm=norm, protocol=protocol)
        assert mean == want, protocol
        assert np.all(per_joint[~np.isnan(per_joint)] == want)


@pytest.mark.parametrize("frac, want", [(0.49, 1.0), (0.51, 0.0), (0.09, 1.0), (0.11, 0.0)])
def test_displacement_real_mpii_normaliser(mpii, frac, want):
    """Sub-pixel GT (joints_eval), the head-box normaliser and random directions: 0.49 / 0.51 of the normaliser
    are right / wrong at PCKh@0.5 (0.09 / 0.11 at PCKh@0.1) under every protocol."""
    gt, vis = mpii["joints_eval"], ~mpii["jnt_missing"].astype(bool)
    pred = _random_shift(gt, M.head_normalizer(mpii["headbox"]), frac)
    thr = 0.5 if frac > 0.3 else 0.1
    for protocol in M.PCKH_PROTOCOLS:
        assert M.pckh(pred, gt, vis, mpii["headbox"], thr, protocol=protocol)[1] == want


def test_mpii_valid_joints_vs_joints_eval(mpii):
    """README of mpii-valid: normalize = 0.6 x head diagonal; joints scored against joints_eval with the PCKh@0.5
    rule (strict <, all non-missing joints pooled) gives 99.973 % with 12 failures."""
    vis = ~mpii["jnt_missing"].astype(bool)
    assert vis.sum() == 2958 * 16 - 3088 == 44240
    assert np.abs(M.head_normalizer(mpii["headbox"]) - mpii["normalize"]).max() < 1e-4
    ok = M.correct_mask(mpii["joints"], mpii["joints_eval"], vis, mpii["normalize"], 0.5, strict=True)
    assert (vis & ~ok).sum() == 12
    assert not (ok & ~vis).any()
    _, mean = M.pck(mpii["joints"], mpii["joints_eval"], vis, mpii["normalize"], 0.5, strict=True, average="pooled")
    assert mean == pytest.approx(1 - 12 / 44240, abs=1e-15)
    assert round(100 * mean, 3) == 99.973


def test_hand_computed_three_person_toy():
    """3 persons, 5 joints; norms 10, 20, 40; threshold 0.5 -> radii 5, 10, 20 px.

    distances (px)   j0   j1   j2   j3   j4        visible
    A (norm 10)       0    4    6    -    -        1 1 1 0 0
    B (norm 20)       5   13    -   30    -        1 1 0 1 0
    C (norm 40)      10    -   40   20    -        1 0 1 1 0
    j0: 3/3; j1: 1/2 (13 > 10); j2: 0/2; j3: C at exactly 20 -> 1/2 with <=, 0/2 with <; j4: never scored -> NaN.
    """
    gt = np.array([[[10, 10], [20, 20], [30, 30], [40, 40], [50, 50]],
                   [[100, 50], [120, 60], [0, 0], [90, 90], [0, 0]],
                   [[300, 300], [0, 0], [310, 320], [330, 340], [0, 0]]], dtype=np.float64)
    shift = np.array([[[0, 0], [0, 4], [6, 0], [99, 99], [0, 0]],
                      [[3, 4], [5, 12], [0, 0], [18, 24], [0, 0]],
                      [[6, 8], [0, 0], [24, 32], [12, 16], [0, 0]]], dtype=np.float64)
    vis = np.array([[1, 1, 1, 0, 0], [1, 1, 0, 1, 0], [1, 0, 1, 1, 0]], dtype=bool)
    gt[~vis] = np.nan  # unscored joints may be NaN in the GT
    pred = np.nan_to_num(gt) + shift
    norm = np.array([10.0, 20.0, 40.0])
    per_joint, mean = M.pck(pred, gt, vis, norm, 0.5)
    np.testing.assert_array_equal(per_joint, [1.0, 0.5, 0.0, 0.5, np.nan])
    assert mean == pytest.approx((1 + 0.5 + 0 + 0.5) / 4)
    per_joint, mean = M.pck(pred, gt, vis, norm, 0.5, strict=True)
    np.testing.assert_array_equal(per_joint, [1.0, 0.5, 0.0, 0.0, np.nan])
    assert mean == pytest.approx(1.5 / 4)
    _, pooled = M.pck(pred, gt, vis, norm, 0.5, average="pooled")
    assert pooled == pytest.approx((3 + 1 + 0 + 1) / (3 + 2 + 2 + 2))
    _, sub = M.pck(pred, gt, vis, norm, 0.5, mean_over=[1, 2, 4])  # j4 has no scored instance: not counted
    assert sub == pytest.approx(0.25)
    _, pooled_sub = M.pck(pred, gt, vis, norm, 0.5, average="pooled", mean_over=[0, 3])
    assert pooled_sub == pytest.approx(4 / 5)
    # a NaN prediction of a scored joint is wrong; one of an unscored joint changes nothing
    pred2 = pred.copy()
    pred2[0, 0] = np.nan
    pred2[0, 4] = np.nan
    np.testing.assert_array_equal(M.pck(pred2, gt, vis, norm, 0.5)[0], [2 / 3, 0.5, 0.0, 0.5, np.nan])
    assert M.normalized_distances(pred2, gt, vis, norm)[0, 0] == np.inf
    # the curve: thresholds 0.1 (radii 1, 2, 4 px) and 1.0 (10, 20, 40 px), pooled
    per_t, mean_t = M.pck_curve(pred, gt, vis, norm, [0.1, 1.0])
    np.testing.assert_array_equal(per_t[0], [1 / 3, 0, 0, 0, np.nan])
    assert mean_t.tolist() == pytest.approx([1 / 9, 8 / 9])   # at 1.0 only B's j3 (30 > 20 px) misses


def test_auc_of_known_step_curve():
    """Half the joints at normalised distance 0, half at 0.245: PCK is 0.5 below 0.245 and 1 from it on. Sampled
    at 0:0.01:0.5 (<=) the trapezoid rule gives (24 x 0.5 + 0.75 + 25 x 1) x 0.01 / 0.5 = 0.755; with < the value
    at threshold 0 drops to 0: (0.25 + 23 x 0.5 + 0.75 + 25) x 0.01 / 0.5 = 0.75."""
    n = 10
    gt = np.zeros((n, 2, 2))
    pred = gt.copy()
    pred[:, 1, 0] = 0.245 * 100.0
    vis = np.ones((n, 2), bool)
    norm = np.full(n, 100.0)
    assert M.auc(pred, gt, vis, norm) == pytest.approx(0.755, abs=1e-12)
    assert M.auc(pred, gt, vis, norm, strict=True) == pytest.approx(0.75, abs=1e-12)
    # LSP range 0..0.2 in 21 steps: the far half never counts -> 0.5
    assert M.auc(pred, gt, vis, norm, 0.2, 21) == pytest.approx(0.5, abs=1e-12)
    assert M.area_under_curve([0, 1, 2], [0, 1, 1]) == pytest.approx(0.75)
    assert M.area_under_curve([0.0, 0.5], [0.2, 0.2]) == pytest.approx(0.2)


# ---------------------------------------------------------------- PCKh protocols vs their published formulas

def _reference_pckh(pred, gt, missing, headbox, threshold, protocol):
    """A direct transcription of the published formulas, on the scripts' (joint, person) arrays."""
    headsize = 0.6 * np.linalg.norm(headbox[:, 1, :] - headbox[:, 0, :], axis=1)       # (N,)
    jnt_visible = (1 - missing).T.astype(np.float64)                                    # (16, N)
    err = np.linalg.norm(pred - gt, axis=2).T / headsize[None, :] * jnt_visible
    strict = protocol in ("official", "mmpose")
    hit = (err < threshold) if strict else (err <= threshold)
    jnt_count = jnt_visible.sum(1)
    pckh = (hit * jnt_visible).sum(1) / jnt_count                                      # (16,)
    keep = np.array([j not in (6, 7) for j in range(16)])
    if protocol == "official":
        mean = pckh[keep].mean()
    else:  # hrnet / mmpose: weighted by jnt_count; matlab: pooled (identical)
        mean = (pckh[keep] * jnt_count[keep]).sum() / jnt_count[keep].sum()
    head = 0.5 * (pckh[8] + pckh[9]) if protocol == "matlab" else pckh[9]
    pairs = {"Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3), "Knee": (1, 4),
             "Ankle": (0, 5)}
    table = {"Head": head, **{c: 0.5 * (pckh[a] + pckh[b]) for c, (a, b) in pairs.items()}, "Mean": mean}
    return pckh, table


def _noisy_predictions(gt, norm, seed=3):
    """Errors spread over 0 .. 0.8 normalisers, some exactly on 0.1 / 0.5 (the protocols differ there)."""
    rng = np.random.default_rng(seed)
    frac = rng.uniform(0, 0.8, gt.shape[:2])
    frac[rng.random(gt.shape[:2]) < 0.05] = 0.5
    frac[rng.random(gt.shape[:2]) < 0.05] = 0.1
    ang = rng.uniform(0, 2 * np.pi, gt.shape[:2])
    return gt + frac[..., None] * norm[:, None, None] * np.stack([np.cos(ang), np.sin(ang)], -1)


@pytest.mark.parametrize("protocol", list(M.PCKH_PROTOCOLS))
def test_pckh_protocols_match_reference_formulas(mpii, protocol):
    gt, missing, headbox = mpii["joints_eval"], mpii["jnt_missing"], mpii["headbox"]
    pred = _noisy_predictions(gt, M.head_normalizer(headbox))
    vis = ~missing.astype(bool)
    summary = M.pckh_summary(pred, gt, vis, headbox, protocol=protocol)
    for thr, key in ((0.5, "Mean"), (0.1, "Mean@0.1")):
        ref_joint, ref_table = _reference_pckh(pred, gt, missing, headbox, thr, protocol)
        per_joint, mean = M.pckh(pred, gt, vis, headbox, thr, protocol=protocol)
        np.testing.assert_allclose(per_joint, ref_joint, rtol=0, atol=1e-12)
        assert mean == pytest.approx(ref_table["Mean"], abs=1e-12)
        assert summary[key] == pytest.approx(ref_table["Mean"], abs=1e-12)
        if thr == 0.5:
            for col in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle"):
                assert summary[col] == pytest.approx(ref_table[col], abs=1e-12), col
    # MPII benchmark AUC (matlab): pooled <= curve over the 14 joints at 0:0.01:0.5, normalised trapezoid
    keep = [j for j in range(16) if j not in (6, 7)]
    rng_ = np.linspace(0, 0.5, 51)
    strict = M.PCKH_PROTOCOLS[protocol].strict
    err = M.normalized_distances(pred, gt, vis, M.head_normalizer(headbox))[:, keep]
    if M.PCKH_PROTOCOLS[protocol].average == "pooled":
        curve = [np.mean(err[vis[:, keep]] < t) if strict else np.mean(err[vis[:, keep]] <= t) for t in rng_]
    else:
        curve = [np.nanmean([np.mean(err[vis[:, j], i] < t) if strict else np.mean(err[vis[:, j], i] <= t)
                             for i, j in enumerate(keep)]) for t in rng_]
    assert summary["AUC"] == pytest.approx(np.trapezoid(curve, rng_) / 0.5, abs=1e-12)


def test_protocols_differ_where_documented():
    """Same toy data, four protocols: strictness and averaging are as documented."""
    gt, vis, norm = _synthetic_geometry(n=50, seed=5)
    vis[:25, 0] = False  # right ankle: half the count, so weighted and unweighted means differ
    pred = _axis_shift(gt, norm, 0.5)
    pred[:, 0] = gt[:, 0]          # right ankle always right
    means = {p: M.pckh(pred, gt, vis, norm=norm, protocol=p)[1] for p in M.PCKH_PROTOCOLS}
    assert means["official"] == pytest.approx(1 / 14)                       # 1 of 14 joints at 100 %, rest 0
    counts = vis.sum(0)[[j for j in range(16) if j not in (6, 7)]]
    assert means["mmpose"] == pytest.approx(counts[0] / counts.sum())        # weighted by counts
    assert means["hrnet"] == means["matlab"] == 1.0                           # <=: everything on the boundary counts
    assert M.pckh_summary(pred, gt, vis, norm=norm, protocol="matlab")["Head"] == 1.0
    assert M.pckh_summary(pred, gt, vis, norm=norm, protocol="official")["Head"] == 0.0


# ---------------------------------------------------------------- LSP torso PCK

def _lsp_people(n=30, seed=4):
    rng = np.random.default_rng(seed)
    gt = rng.integers(0, 500, size=(n, 14, 2)).astype(np.float64)
    a, b = LSP14.torso
    gt[:, b] = gt[:, a] + np.array([30.0, 40.0])   # torso = 50 px exactly
    return gt, np.ones((n, 14), bool)


def test_pck_torso_known_answers():
    gt, vis = _lsp_people()
    np.testing.assert_array_equal(M.torso_normalizer(gt, vis), np.full(len(gt), 50.0))
    per_joint, mean = M.pck_torso(gt, gt, vis)
    assert mean == 1.0 and np.all(per_joint == 1.0)
    on_boundary = _axis_shift(gt, np.full(len(gt), 50.0), 0.2)        # exactly 10 px = 0.2 x torso
    assert M.pck_torso(on_boundary, gt, vis)[1] == 1.0                   # LSP: <=
    assert M.pck_torso(on_boundary, gt, vis, strict=True)[1] == 0.0
    assert M.pck_torso(_axis_shift(gt, np.full(len(gt), 50.0), 0.21), gt, vis)[1] == 0.0
    # an explicit torso pair is used instead of the layout's
    other = M.torso_normalizer(gt, vis, torso=("left_shoulder", "right_hip"))
    np.testing.assert_allclose(other, np.linalg.norm(gt[:, 9] - gt[:, 2], axis=1))


def test_pck_torso_missing_torso():
    gt, vis = _lsp_people(n=4)
    pred = gt.copy()
    pred[0] += 1000.0                     # person 0 entirely wrong ...
    vis[0, LSP14.torso[0]] = False        # ... but its torso is not measurable: skipped
    assert np.isnan(M.torso_normalizer(gt, vis)[0])
    per_joint, mean = M.pck_torso(pred, gt, vis)
    assert mean == 1.0
    assert M.pck_torso(pred, gt, vis, missing_torso="skip")[1] == 1.0
    with pytest.raises(ValueError, match="torso size not measurable for person"):
        M.pck_torso(pred, gt, vis, missing_torso="error")
    gt2 = gt.copy()
    gt2[1, LSP14.torso[1]] = gt2[1, LSP14.torso[0]]   # zero-length torso
    assert np.isnan(M.torso_normalizer(gt2)[1])


# ---------------------------------------------------------------- tables

def test_per_joint_table_groups():
    v = np.arange(16, dtype=np.float64) / 100.0   # mpii order: value = index / 100
    rows = M.per_joint_table(v, "mpii16", mean=0.5)
    assert [r[0] for r in rows] == ["Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean"]
    got = dict(rows)
    assert got["Head"] == pytest.approx(9.0)                  # head top (index 9), percent
    assert got["Shoulder"] == pytest.approx((12 + 13) / 2)
    assert got["Elbow"] == pytest.approx((11 + 14) / 2)
    assert got["Wrist"] == pytest.approx((10 + 15) / 2)
    assert got["Hip"] == pytest.approx((2 + 3) / 2)
    assert got["Knee"] == pytest.approx((1 + 4) / 2)
    assert got["Ankle"] == pytest.approx((0 + 5) / 2)
    assert got["Mean"] == pytest.approx(50.0)
    lsp = dict(M.per_joint_table(np.arange(14) / 100.0, LSP14, scale=1.0))
    assert lsp["Head"] == pytest.approx((12 + 13) / 200)     # LSP: neck and head top
    assert lsp["Shoulder"] == pytest.approx((8 + 9) / 200)
    assert lsp["Mean"] == pytest.approx(np.arange(14).mean() / 100)
    v2 = v.copy()
    v2[13] = np.nan                                          # a side never scored: the other side alone
    assert dict(M.per_joint_table(v2, "mpii16"))["Shoulder"] == pytest.approx(12.0)
    md = M.markdown_table({"ours": rows, "gt": M.per_joint_table(np.ones(16), "mpii16")})
    lines = md.splitlines()
    assert lines[0] == "| Model | Head | Shoulder | Elbow | Wrist | Hip | Knee | Ankle | Mean |"
    assert lines[2] == "| ours | 9.0 | 12.5 | 12.5 | 12.5 | 2.5 | 2.5 | 2.5 | 50.0 |"
    assert lines[3] == "| gt | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |"


# ---------------------------------------------------------------- bad input

def test_bad_input_messages():
    gt = np.zeros((3, 16, 2))
    vis = np.ones((3, 16), bool)
    norm = np.ones(3)
    with pytest.raises(ValueError, match=r"pred must have shape \(N, K, 2\)"):
        M.pck(np.zeros((3, 16)), gt, vis, norm)
    with pytest.raises(ValueError, match="must have the same shape"):
        M.pck(np.zeros((3, 15, 2)), gt, vis, norm)
    with pytest.raises(ValueError, match=r"visible must have shape \(N, K\)"):
        M.pck(gt, gt, vis[:, :3], norm)
    with pytest.raises(ValueError, match="visible must be boolean"):
        M.pck(gt, gt, np.full((3, 16), 2), norm)
    with pytest.raises(ValueError, match=r"norm must have shape \(N,\)"):
        M.pck(gt, gt, vis, np.ones(4))
    with pytest.raises(ValueError, match="norm must be finite and > 0 .* person\\(s\\) 1"):
        M.pck(gt, gt, vis, np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="norm must be finite and > 0"):
        M.pck(gt, gt, vis, np.array([1.0, np.nan, 2.0]))
    vis0 = vis.copy()
    vis0[1] = False                                  # a person without scored joints needs no normaliser
    assert M.pck(gt, gt, vis0, np.array([1.0, 0.0, 2.0]))[1] == 1.0
    gt_nan = gt.copy()
    gt_nan[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"gt has a non-finite position for a scored joint \(person 2, joint 5\)"):
        M.pck(gt, gt_nan, vis, norm)
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        M.pck(gt, gt, vis, norm, -0.1)
    with pytest.raises(ValueError, match="average must be one of joints, pooled"):
        M.pck(gt, gt, vis, norm, average="weighted")
    with pytest.raises(ValueError, match="mean_over: joint index out of range"):
        M.pck(gt, gt, vis, norm, mean_over=[16])
    with pytest.raises(ValueError, match="protocol must be one of official, matlab, hrnet, mmpose"):
        M.pckh(gt, gt, vis, norm=norm, protocol="coco")
    with pytest.raises(ValueError, match="exactly one of headbox"):
        M.pckh(gt, gt, vis)
    with pytest.raises(ValueError, match="exactly one of headbox"):
        M.pckh(gt, gt, vis, np.zeros((3, 2, 2)), norm=norm)
    with pytest.raises(ValueError, match=r"headbox must have shape \(N, 2, 2\)"):
        M.head_normalizer(np.zeros((3, 3)))
    np.testing.assert_allclose(M.head_normalizer([[0, 0, 30, 40]]), [30.0])   # (N, 4) form: 0.6 x 50
    with pytest.raises(ValueError, match="layout 'mpii16' has 16 joints but the keypoints have 14"):
        M.pckh(gt[:, :14], gt[:, :14], vis[:, :14], norm=norm)
    with pytest.raises(ValueError, match="per_joint must have shape \\(14,\\)"):
        M.per_joint_table(np.ones(16), "lsp14")
    with pytest.raises(ValueError, match="thresholds must be at least two strictly increasing"):
        M.area_under_curve([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="num_thresholds must be an integer >= 2"):
        M.auc(gt, gt, vis, norm, 0.5, 1)
    with pytest.raises(ValueError, match="missing_torso must be"):
        M.pck_torso(gt[:, :14], gt[:, :14], vis[:, :14], missing_torso="drop")
    # nothing scored at all: per-joint NaN and a NaN mean, not an error
    per_joint, mean = M.pck(gt, gt, np.zeros((3, 16), bool), norm)
    assert np.isnan(per_joint).all() and np.isnan(mean)
