"""Heatmap codec: coordinate mapping, Gaussian targets, decoding refinements, flip helpers, bad input."""
import math

import numpy as np
import pytest
import torch

from structnet.pose2d.codec import HeatmapCodec, average_flip, flip_heatmaps
from structnet.keypoints.layouts import get_layout

CODEC = HeatmapCodec()                       # 256 x 256 input, 64/32/16/8 maps, sigma 1


def _map_err(codec, pred, kp, hw):
    """Largest per-joint coordinate error in pixels of the (h, w) map."""
    return np.abs(codec.to_map(np.asarray(pred, np.float64), hw) - codec.to_map(kp, hw)).max(axis=-1)


def test_defaults_and_map_sizes():
    assert CODEC.input_size == (256, 256) and CODEC.heatmap_size == (64, 64) and CODEC.sigma == 1.0
    assert CODEC.map_sizes == ((64, 64), (32, 32), (16, 16), (8, 8))
    assert CODEC.keys == (64, 32, 16, 8)


def test_coordinate_mapping_known_values():
    # x_map = (x + 0.5) * w / W - 0.5: the input's outer pixel edges (-0.5, 255.5) are the maps' outer edges
    pts = np.array([[-0.5, -0.5], [0.0, 0.0], [127.5, 127.5], [255.5, 255.5], [1.5, 17.5]])
    np.testing.assert_allclose(CODEC.to_map(pts, (64, 64)),
                               [[-0.5, -0.5], [-0.375, -0.375], [31.5, 31.5], [63.5, 63.5], [0.0, 4.0]])
    np.testing.assert_allclose(CODEC.to_map(pts, (8, 8)),
                               [[-0.5, -0.5], [-0.484375, -0.484375], [3.5, 3.5], [7.5, 7.5],
                                [-0.4375, 0.0625]])
    for hw in CODEC.map_sizes:
        np.testing.assert_allclose(CODEC.to_input(CODEC.to_map(pts, hw), hw), pts, atol=1e-12)


@pytest.mark.parametrize("hw", CODEC.map_sizes)
def test_gaussian_peak_one_at_integer_positions(hw):
    h, w = hw
    f = 256 / w
    mx, my = 3, min(5, h - 2)                           # map pixel (x=3, y=5) (y=5 fits the 8x8 map too)
    kp = np.array([[(mx + 0.5) * f - 0.5, (my + 0.5) * f - 0.5]])
    t = CODEC.encode(kp, [1])[h]
    assert t.shape == (1, h, w) and t.dtype == np.float32
    assert t[0, my, mx] == 1.0 and t.max() == 1.0
    # unnormalised Gaussian, sigma = 1 map pixel at every scale
    assert t[0, my, mx + 1] == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert t[0, my - 1, mx] == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert t[0, my + 1, mx + 1] == pytest.approx(math.exp(-1.0), rel=1e-6)
    assert t[0, my, mx - 2] == pytest.approx(math.exp(-2.0), rel=1e-6)


def test_subpixel_gaussian_values():
    kp = np.array([[4 * 10.25 + 1.5, 4 * 20 + 1.5]])      # map (x, y) = (10.25, 20) on the 64 x 64 map
    t = CODEC.encode(kp)[64][0]
    assert t[20, 10] == pytest.approx(math.exp(-0.25 ** 2 / 2), rel=1e-6)
    assert t[20, 11] == pytest.approx(math.exp(-0.75 ** 2 / 2), rel=1e-6)
    assert t[21, 10] == pytest.approx(math.exp(-(0.25 ** 2 + 1) / 2), rel=1e-6)


def test_invisible_outside_and_nan_give_zero_maps_and_weight():
    kp = np.array([[100.0, 100.0], [50.0, 60.0], [-0.6, 10.0], [10.0, 255.6], [np.nan, 5.0],
                   [-0.5, 255.5]])
    vis = np.array([1, 0, 1, 1, 1, 1])
    t = CODEC.encode(kp, vis)
    np.testing.assert_array_equal(t["weights"], [1, 0, 0, 0, 0, 1])
    assert t["weights"].dtype == np.float32
    for key in CODEC.keys:
        m = t[key]
        assert np.all(m[1:5] == 0)
        assert m[0].max() > 0.5 and m[5].max() > 0.5   # the frame corner is inside (weight 1)
    # visibility from a third column when visible is None; NaN visibility counts as 0
    kp3 = np.array([[100.0, 100.0, 1.0], [50.0, 60.0, 0.0], [70.0, 70.0, np.nan]])
    np.testing.assert_array_equal(CODEC.encode(kp3)["weights"], [1, 0, 0])
    # visible=None and no third column: all labelled
    np.testing.assert_array_equal(CODEC.encode(kp[:2])["weights"], [1, 1])


def test_encode_batch_matches_encode_and_keeps_device_dtype():
    rng = np.random.default_rng(1)
    kp = rng.uniform(-10, 265, (3, 16, 2))
    vis = rng.random((3, 16)) > 0.2
    b = CODEC.encode_batch(torch.from_numpy(kp), torch.from_numpy(vis))
    for n in range(3):
        e = CODEC.encode(kp[n], vis[n])
        for key in CODEC.keys:
            assert b[key].shape == (3, 16, key, key) and b[key].dtype == torch.float32
            np.testing.assert_array_equal(b[key][n].numpy(), e[key])
        np.testing.assert_array_equal(b["weights"][n].numpy(), e["weights"])
    assert CODEC.encode_batch(torch.from_numpy(kp), dtype=torch.float64)[64].dtype == torch.float64


@pytest.mark.parametrize("hw", CODEC.map_sizes)
def test_round_trip_every_scale(hw):
    h = hw[0]
    rng = np.random.default_rng(h)
    kp = rng.uniform(-0.5, 255.5, (400, 2))            # the whole frame, borders included
    t = CODEC.encode(kp)[h][None]
    f = 256 / h                                          # input pixels per map pixel
    # DARK (default, smoothing sigma = 1 map px): < 0.01 map px everywhere, i.e. < 0.01 * f input px
    pred, score = CODEC.decode(t)
    err = _map_err(CODEC, pred[0], kp, hw)
    assert err.max() < 0.01
    assert np.abs(pred[0] - kp).max() < 0.01 * f
    # DARK without smoothing: the log of a Gaussian is quadratic, so the 3x3 Newton step is exact
    pred0, _ = CODEC.decode(t, refine="dark", dark_sigma=0)
    assert _map_err(CODEC, pred0[0], kp, hw).max() < 1e-5
    # quarter offset (hourglass): error bounded by 0.25 map px where the peak has both neighbours, by 0.5 on the
    # border pixels (that axis is not refined); argmax only: by 0.5
    pq, sq = CODEC.decode(t, refine="quarter")
    eq = _map_err(CODEC, pq[0], kp, hw)
    m = CODEC.to_map(kp, hw)
    interior = ((m > 0.5) & (m < np.array([hw[1], hw[0]]) - 1.5)).all(axis=1)
    assert interior.sum() > 100
    assert eq[interior].max() <= 0.25 + 1e-9 and eq.max() <= 0.5 + 1e-9
    pn, _ = CODEC.decode(t, refine="none")
    assert _map_err(CODEC, pn[0], kp, hw).max() <= 0.5 + 1e-9
    # the score is the peak value, the same for every refinement, and <= 1
    np.testing.assert_array_equal(score, sq)
    np.testing.assert_allclose(score[0], t[0].reshape(400, -1).max(1), rtol=0, atol=0)
    assert score.max() <= 1.0 and score.min() > math.exp(-0.5)   # >= exp(-(0.5^2 + 0.5^2)/2)


def test_quarter_offset_known_answers():
    # map positions m + 0.25 / m - 0.25 are recovered exactly by the quarter rule; m + 0.1 gives m + 0.25
    hw = (64, 64)
    mp = np.array([[10.25, 20.0], [30.0, 40.75], [12.1, 12.0], [50.0, 33.0]])
    kp = CODEC.to_input(mp, hw)
    pq, _ = CODEC.decode(CODEC.encode(kp)[64][None], refine="quarter")
    np.testing.assert_allclose(CODEC.to_map(pq[0], hw), [[10.25, 20.0], [30.0, 40.75], [12.25, 12.0],
                                                         [50.0, 33.0]], atol=1e-12)
    # on the border the axis is not refined: peak at map x = 0 stays 0
    kb = CODEC.to_input(np.array([[0.2, 30.0]]), hw)
    pb, _ = CODEC.decode(CODEC.encode(kb)[64][None], refine="quarter")
    np.testing.assert_allclose(CODEC.to_map(pb[0], hw), [[0.0, 30.0]], atol=1e-12)


def test_decode_torch_matches_numpy_and_returns_tensors():
    rng = np.random.default_rng(3)
    kp = rng.uniform(0, 255, (2, 14, 2))
    t = CODEC.encode_batch(torch.from_numpy(kp))[32]
    for refine in ("dark", "quarter", "none"):
        pt, st = CODEC.decode(t, refine=refine)
        assert isinstance(pt, torch.Tensor) and pt.shape == (2, 14, 2) and st.shape == (2, 14)
        assert pt.dtype == torch.float32
        pn, sn = CODEC.decode(t.numpy(), refine=refine)
        assert isinstance(pn, np.ndarray)
        np.testing.assert_allclose(pt.numpy(), pn, atol=2e-3)
        np.testing.assert_allclose(st.numpy(), sn, atol=1e-6)


def test_decode_degenerate_maps_stay_finite():
    # flat or all-zero maps have no curvature: DARK takes no step, the result is the argmax (first pixel)
    hm = np.zeros((1, 2, 16, 16))
    hm[0, 1] = 0.3
    for refine in ("dark", "quarter"):
        p, s = CODEC.decode(hm, refine=refine)
        np.testing.assert_allclose(p[0], CODEC.to_input(np.zeros((2, 2)), (16, 16)))
        np.testing.assert_allclose(s[0], [0.0, 0.3])
    # a noisy map with negative values: DARK steps are clipped to +-1 pixel around the argmax
    rng = np.random.default_rng(0)
    noisy = rng.normal(0, 0.1, (2, 16, 64, 64))
    p, _ = CODEC.decode(noisy)
    pn, _ = CODEC.decode(noisy, refine="none")
    assert np.isfinite(p).all() and np.abs(p - pn).max() <= 4.0 + 1e-9   # 1 map px = 4 input px


def test_non_square_codec_round_trip():
    c = HeatmapCodec(input_size=(256, 192), heatmap_size=(64, 48), scales=(1, 2))
    assert c.map_sizes == ((64, 48), (32, 24)) and c.keys == (64, 32)
    rng = np.random.default_rng(5)
    kp = np.stack([rng.uniform(0, 191, 50), rng.uniform(0, 255, 50)], axis=1)
    t = c.encode(kp)
    assert t[64].shape == (50, 64, 48) and t[32].shape == (50, 32, 24)
    for key, hw in zip(c.keys, c.map_sizes):
        p, _ = c.decode(t[key][None])
        assert _map_err(c, p[0], kp, hw).max() < 0.01


@pytest.mark.parametrize("layout", ["lsp14", "mpii16"])
def test_flip_of_encoding_equals_encoding_of_flipped_pose(layout):
    lay = get_layout(layout)
    perm = lay.flip_permutation()
    k = lay.num_joints
    rng = np.random.default_rng(k)
    kp = rng.uniform(-0.5, 255.5, (k, 2))
    vis = rng.random(k) > 0.25
    kpf = kp[perm].copy()
    kpf[:, 0] = 255.0 - kpf[:, 0]                     # mirror x -> W - 1 - x, rows swapped left/right
    a, b = CODEC.encode(kp, vis), CODEC.encode(kpf, vis[perm])
    for key in CODEC.keys:
        np.testing.assert_allclose(flip_heatmaps(a[key], perm), b[key], atol=1e-6, rtol=0)
        np.testing.assert_allclose(flip_heatmaps(a[key], lay), b[key], atol=1e-6, rtol=0)  # layout accepted
    np.testing.assert_array_equal(a["weights"][perm], b["weights"])


@pytest.mark.parametrize("layout", ["lsp14", "mpii16"])
def test_flip_twice_is_identity_and_known_pixel(layout):
    lay = get_layout(layout)
    perm = lay.flip_permutation()
    k = lay.num_joints
    rng = np.random.default_rng(0)
    hm = rng.random((2, k, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(flip_heatmaps(flip_heatmaps(hm, perm), perm), hm)
    ht = torch.from_numpy(hm)
    assert torch.equal(flip_heatmaps(flip_heatmaps(ht, perm), perm), ht)
    assert torch.equal(flip_heatmaps(ht, perm), torch.from_numpy(flip_heatmaps(hm, perm)))
    # one hot pixel in right_wrist at (x=1, y=2) lands in left_wrist at (x=6, y=2)
    one = np.zeros((k, 8, 8))
    rw, lw = lay.index("right_wrist"), lay.index("left_wrist")
    one[rw, 2, 1] = 1.0
    f = flip_heatmaps(one, perm)
    assert f[lw, 2, 6] == 1.0 and f.sum() == 1.0


def test_flip_test_average_decodes_pose():
    lay = get_layout("mpii16")
    perm = lay.flip_permutation()
    rng = np.random.default_rng(7)
    kp = rng.uniform(20, 235, (16, 2))
    kpf = kp[perm].copy()
    kpf[:, 0] = 255.0 - kpf[:, 0]
    h, hf = CODEC.encode(kp)[64][None], CODEC.encode(kpf)[64][None]
    np.testing.assert_allclose(average_flip(h, hf, perm), h, atol=1e-6)
    p, s = CODEC.decode_flip_test(h, hf, perm)
    assert np.abs(p[0] - kp).max() < 0.04 and s.shape == (1, 16)
    # the flipped pass sees every joint 2 map px further right (after un-flipping): the averaged maps are two
    # equal Gaussians 2 sigma apart, symmetric about the midpoint, which is decoded exactly (integer positions)
    hw = (64, 64)
    mp = np.stack([rng.integers(5, 55, 16), rng.integers(5, 59, 16)], axis=1).astype(np.float64)
    kp, kp2 = CODEC.to_input(mp, hw), CODEC.to_input(mp + [2.0, 0.0], hw)
    kp2f = kp2[perm].copy()
    kp2f[:, 0] = 255.0 - kp2f[:, 0]
    for refine in ("dark", "quarter", "none"):
        p2, s2 = CODEC.decode_flip_test(CODEC.encode(kp)[64][None], CODEC.encode(kp2f)[64][None], perm,
                                        refine=refine)
        np.testing.assert_allclose(CODEC.to_map(p2[0], hw), mp + [1.0, 0.0], atol=1e-9)
        np.testing.assert_allclose(s2[0], math.exp(-0.5), rtol=1e-6)


def test_bad_inputs_raise_one_line_value_errors():
    cases = [
        lambda: CODEC.encode(np.zeros((16, 4))),
        lambda: CODEC.encode(np.zeros((2, 16, 2))),
        lambda: CODEC.encode(np.zeros((16, 2)), np.ones(15)),
        lambda: CODEC.encode(np.zeros((16, 2)), np.ones((16, 1))),
        lambda: CODEC.encode_batch(torch.zeros(16, 2)),
        lambda: CODEC.decode(np.zeros((16, 64, 64))),
        lambda: CODEC.decode(np.full((1, 1, 8, 8), np.nan)),
        lambda: CODEC.decode(np.zeros((1, 1, 8, 8)), refine="taylor"),
        lambda: CODEC.decode(np.zeros((1, 1, 8, 8)), dark_sigma=-1),
        lambda: flip_heatmaps(np.zeros((14, 8, 8)), np.arange(16)),
        lambda: flip_heatmaps(np.zeros((3, 8, 8)), np.array([1, 2, 0])),      # not an involution
        lambda: flip_heatmaps(np.zeros((8, 8)), np.arange(8)),
        lambda: average_flip(np.zeros((1, 2, 8, 8)), np.zeros((1, 2, 4, 4)), [1, 0]),
        lambda: HeatmapCodec(heatmap_size=(64, 64), scales=(1, 3)),
        lambda: HeatmapCodec(input_size=(0, 256)),
        lambda: HeatmapCodec(sigma=0),
        lambda: HeatmapCodec(scales=(1, 1)),
    ]
    for fn in cases:
        with pytest.raises(ValueError) as ei:
            fn()
        assert "\n" not in str(ei.value) and str(ei.value)
