"""Pose augmentation: MPII person crop geometry, flips with left/right swap, inverse mapping, random draws,
keypoint masking (occlusion / distractor patches), determinism, bad input."""
import math

import numpy as np
import pytest

from structnet.pose2d import augment as A
from structnet.keypoints.layouts import get_layout


def _img(h=300, w=400, seed=0, channels=3):
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels else (h, w)
    return rng.integers(0, 256, shape, dtype=np.uint8)


# -------------------------------------------------------------------------------------------- geometry
def test_center_scale_helpers_known_values():
    c, s = A.center_scale_from_box((10, 20, 110, 220))
    np.testing.assert_allclose(c, [60.0, 120.0])
    assert s == pytest.approx(1.25 * 200 / 200)
    c, s = A.center_scale_from_box((0, 0, 300, 100), padding=1.0)
    np.testing.assert_allclose(c, [150.0, 50.0])
    assert s == pytest.approx(1.5)
    c, s = A.hourglass_center_scale((100.0, 100.0), 2.0)
    np.testing.assert_allclose(c, [100.0, 130.0])
    assert s == pytest.approx(2.5)


def test_crop_matrix_mpii_window_maps_to_crop_frame():
    # scale 1 -> a 200 px window around the centre fills the 256 crop, pixel edge to pixel edge
    m = A.crop_matrix((200.0, 150.0), 1.0)
    pts = np.array([[200.0, 150.0], [300.0, 150.0], [100.0, 50.0], [300.0, 250.0]])
    out = pts @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(out, [[127.5, 127.5], [255.5, 127.5], [-0.5, -0.5], [255.5, 255.5]], atol=1e-12)
    # flip mirrors the crop: x -> 255 - x
    mf = A.crop_matrix((200.0, 150.0), 1.0, flip=True)
    outf = pts @ mf[:, :2].T + mf[:, 2]
    np.testing.assert_allclose(outf[:, 0], 255.0 - out[:, 0], atol=1e-12)
    np.testing.assert_allclose(outf[:, 1], out[:, 1], atol=1e-12)
    # non-square crop: scale * 200 is the window height
    mr = A.crop_matrix((200.0, 150.0), 1.0, out_size=(256, 192))
    np.testing.assert_allclose(np.array([300.0, 250.0]) @ mr[:, :2].T + mr[:, 2], [95.5 + 128, 255.5])


def test_rotation_90_known_point_and_pixel():
    # odd crop (centre on a pixel) at zoom 1: the centre (200, 150) -> (127, 127)
    img = np.zeros((300, 400), np.uint8)
    img[150, 210] = 200                        # 10 px right of the centre
    img[170, 200] = 100                        # 20 px below
    kp = np.array([[210.0, 150.0], [200.0, 170.0]])
    c = A.person_crop(img, kp, None, (200.0, 150.0), 255 / 200, out_size=255, rotation=90.0)
    assert c.zoom == pytest.approx(1.0)
    # 90 deg counter-clockwise as displayed (y down): right -> up, below -> right
    np.testing.assert_allclose(c.keypoints, [[127.0, 117.0], [147.0, 127.0]], atol=1e-9)
    assert c.image[117, 127] == 200 and c.image[127, 147] == 100
    assert int(c.image.astype(int).sum()) == 300
    np.testing.assert_array_equal(c.visible, [True, True])


@pytest.mark.parametrize("layout", ["lsp14", "mpii16"])
def test_flip_swaps_left_right_and_mirrors_x_exactly(layout):
    lay = get_layout(layout)
    k = lay.num_joints
    rng = np.random.default_rng(k)
    img = _img()
    kp = rng.uniform(120, 280, (k, 2))
    vis = rng.random(k) > 0.3
    kw = dict(center=(200.0, 150.0), scale=1.2, rotation=17.0)
    a = A.person_crop(img, kp, vis, flip=False, flip_pairs=lay, **kw)
    b = A.person_crop(img, kp, vis, flip=True, flip_pairs=lay, **kw)
    perm = lay.flip_permutation()
    np.testing.assert_allclose(b.keypoints[:, 0], 255.0 - a.keypoints[perm, 0], atol=1e-9)
    np.testing.assert_allclose(b.keypoints[:, 1], a.keypoints[perm, 1], atol=1e-9)
    np.testing.assert_array_equal(b.visible, a.visible[perm])
    assert b.flipped and not a.flipped and np.array_equal(b.perm, perm)
    # named joints: the flipped crop's left wrist is the mirrored right wrist
    lw, rw = lay.index("left_wrist"), lay.index("right_wrist")
    np.testing.assert_allclose(b.keypoints[lw], [255.0 - a.keypoints[rw, 0], a.keypoints[rw, 1]], atol=1e-9)
    # the image is the mirror of the unflipped crop (bilinear weights mirrored; OpenCV rounds to 1/32 px)
    diff = np.abs(b.image.astype(int) - a.image[:, ::-1].astype(int))
    assert diff.mean() < 2.0
    # with an exact integer mapping (zoom 1, no rotation, centre on a pixel) the mirror is exact
    e = A.person_crop(img, kp, vis, (200.0, 150.0), 255 / 200, out_size=255, flip=False, flip_pairs=lay)
    f = A.person_crop(img, kp, vis, (200.0, 150.0), 255 / 200, out_size=255, flip=True, flip_pairs=lay)
    np.testing.assert_array_equal(f.image, e.image[:, ::-1])


@pytest.mark.parametrize("seed", range(6))
def test_crop_inverse_round_trips_keypoints(seed):
    lay = get_layout("mpii16")
    rng = np.random.default_rng(seed)
    img = _img(seed=seed)
    kp = rng.uniform(-50, 450, (16, 2))        # some far outside the crop window
    c = A.random_person_crop(img, kp, None, (200.0, 150.0), rng.uniform(0.8, 1.5), rng, lay,
                             rotation_prob=1.0, flip_prob=0.5)
    np.testing.assert_allclose(c.to_image(c.keypoints), kp, atol=1e-9)
    np.testing.assert_allclose(c.inverse @ np.vstack([c.matrix, [0, 0, 1]]), np.eye(3)[:2], atol=1e-12)
    # batched predictions (N, K, 2) map back too
    np.testing.assert_allclose(c.to_image(np.stack([c.keypoints] * 3)), np.stack([kp] * 3), atol=1e-9)
    # joints outside the crop frame are not visible; inside ones are
    x, y = c.keypoints[:, 0], c.keypoints[:, 1]
    inside = (x >= -0.5) & (x <= 255.5) & (y >= -0.5) & (y <= 255.5)
    np.testing.assert_array_equal(c.visible, inside)
    assert c.image.shape == (256, 256, 3) and c.image.dtype == np.uint8


def test_nan_keypoints_are_invisible_and_stay_nan():
    kp = np.array([[200.0, 150.0], [np.nan, 10.0], [210.0, np.inf]])
    c = A.person_crop(_img(), kp, [1, 1, 1], (200.0, 150.0), 1.0)
    np.testing.assert_array_equal(c.visible, [True, False, False])
    assert np.isnan(c.keypoints[1]).any() and np.allclose(c.keypoints[0], [127.5, 127.5])
    # visibility from a third column
    kp3 = np.array([[200.0, 150.0, 0.0], [201.0, 151.0, 1.0]])
    np.testing.assert_array_equal(A.person_crop(_img(), kp3, None, (200.0, 150.0), 1.0).visible, [False, True])


def test_sample_augment_params_ranges_probabilities_determinism():
    rng = np.random.default_rng(0)
    draws = [A.sample_augment_params(rng) for _ in range(4000)]
    rot = np.array([d.rotation for d in draws])
    sc = np.array([d.scale_factor for d in draws])
    fl = np.array([d.flip for d in draws])
    assert np.abs(rot).max() <= 30.0 and abs((rot != 0).mean() - 0.4) < 0.03
    assert sc.min() >= 0.75 and sc.max() <= 1.25 and abs(sc.mean() - 1.0) < 0.01
    assert abs(fl.mean() - 0.5) < 0.03
    # uniform: a quarter of the applied angles beyond +-15 degrees on each side
    assert abs((np.abs(rot[rot != 0]) > 15).mean() - 0.5) < 0.05
    # the hourglass-shaped normal: std = half the bound, clipped at the bound
    rng = np.random.default_rng(1)
    nd = [A.sample_augment_params(rng, rotation_prob=1.0, distribution="normal") for _ in range(4000)]
    nr = np.array([d.rotation for d in nd])
    ns = np.array([d.scale_factor for d in nd])
    assert np.abs(nr).max() <= 30.0 and abs((np.abs(nr) == 30.0).mean() - 0.0455) < 0.015
    assert ns.min() >= 0.75 and ns.max() <= 1.25 and abs(np.std(ns) - 0.125) < 0.02
    # switches
    rng = np.random.default_rng(2)
    off = [A.sample_augment_params(rng, rotation_prob=0.0, flip_prob=0.0, scale_range=(1, 1)) for _ in range(50)]
    assert all(d == A.AugmentParams(0.0, 1.0, False) for d in off)
    # determinism
    a = [A.sample_augment_params(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]


def test_random_person_crop_deterministic_with_seed():
    lay = get_layout("lsp14")
    img = _img()
    kp = np.random.default_rng(3).uniform(100, 300, (14, 2))
    a = A.random_person_crop(img, kp, None, (200.0, 150.0), 1.0, np.random.default_rng(11), lay)
    b = A.random_person_crop(img, kp, None, (200.0, 150.0), 1.0, np.random.default_rng(11), lay)
    assert a.params == b.params
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    # the crop used the drawn parameters
    ref = A.person_crop(img, kp, None, (200.0, 150.0), 1.0, rotation=a.params.rotation, flip=a.params.flip,
                        flip_pairs=lay, scale_factor=a.params.scale_factor)
    np.testing.assert_array_equal(ref.image, a.image)
    assert a.zoom == pytest.approx(256 / (200 * a.params.scale_factor))


# -------------------------------------------------------------------------------------------- masking
def _pose_scene(seed=0):
    rng = np.random.default_rng(seed)
    img = _img(256, 256, seed)
    kp = np.stack([rng.uniform(90, 165, 14), rng.uniform(40, 215, 14)], axis=1)
    return img, kp


def _unchanged_outside(out, img, rects):
    keep = np.ones(img.shape[:2], bool)
    for x0, y0, x1, y1 in rects:
        keep[y0:y1, x0:x1] = False
    return np.array_equal(out[keep], img[keep])


def _holds(rect, pts):
    x0, y0, x1, y1 = rect
    pix = np.floor(pts + 0.5)
    return (pix[:, 0] >= x0) & (pix[:, 0] < x1) & (pix[:, 1] >= y0) & (pix[:, 1] < y1)


@pytest.mark.parametrize("seed", range(5))
def test_occlusion_pastes_background_over_keypoint(seed):
    img, kp = _pose_scene(seed)
    vis = np.ones(14, bool)
    vis[3] = False
    r = A.keypoint_masking(img, kp, vis, np.random.default_rng(seed), person_size=200.0, occlusion_prob=1.0,
                           distractor_prob=0.0)
    assert len(r.patches) == 1
    p = r.patches[0]
    assert p.kind == "occlusion" and p.joint != 3          # only visible joints are occluded
    sx0, sy0, sx1, sy1 = p.src
    dx0, dy0, dx1, dy1 = p.dst
    assert (sx1 - sx0, sy1 - sy0) == (dx1 - dx0, dy1 - dy0) == (30, 30)   # round(0.15 * 200)
    np.testing.assert_array_equal(r.image[dy0:dy1, dx0:dx1], img[sy0:sy1, sx0:sx1])
    assert _holds(p.dst, kp)[p.joint] and not _holds(p.src, kp).any()    # background: no keypoint in it
    assert _unchanged_outside(r.image, img, [p.dst])
    np.testing.assert_array_equal(r.keypoints, kp)                        # labels unchanged
    np.testing.assert_array_equal(r.visible, vis)
    assert r.image is not img and np.array_equal(img, _pose_scene(seed)[0])   # input untouched


@pytest.mark.parametrize("seed", range(5))
def test_distractor_pastes_keypoint_patch_on_nearby_background(seed):
    img, kp = _pose_scene(seed)
    r = A.keypoint_masking(img, kp, None, np.random.default_rng(seed), person_size=200.0, occlusion_prob=0.0,
                           distractor_prob=1.0)
    assert len(r.patches) == 1
    p = r.patches[0]
    assert p.kind == "distractor"
    sx0, sy0, sx1, sy1 = p.src
    dx0, dy0, dx1, dy1 = p.dst
    np.testing.assert_array_equal(r.image[dy0:dy1, dx0:dx1], img[sy0:sy1, sx0:sx1])
    assert _holds(p.src, kp)[p.joint] and not _holds(p.dst, kp).any()
    d = math.hypot(dx0 - sx0, dy0 - sy0)
    assert 30 * 1.0 - 1 <= d <= 30 * 2.0 + 1                             # 1-2 patch sides away (rounded)
    assert _unchanged_outside(r.image, img, [p.dst])
    np.testing.assert_array_equal(r.keypoints, kp)
    assert r.visible.all()


def test_masking_both_kinds_deterministic_and_consistent():
    img, kp = _pose_scene(9)
    kw = dict(person_size=150.0, occlusion_prob=1.0, distractor_prob=1.0)
    a = A.keypoint_masking(img, kp, None, np.random.default_rng(5), **kw)
    b = A.keypoint_masking(img, kp, None, np.random.default_rng(5), **kw)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.patches == b.patches and [p.kind for p in a.patches] == ["occlusion", "distractor"]
    assert a.patches[0].joint != a.patches[1].joint                       # the occluded joint is not duplicated
    assert _unchanged_outside(a.image, img, [p.dst for p in a.patches])
    # default person size = the keypoints' extent; patch = round(0.15 * extent)
    c = A.keypoint_masking(img, kp, None, np.random.default_rng(5), occlusion_prob=1.0, distractor_prob=0.0)
    ext = max(np.ptp(kp[:, 0]), np.ptp(kp[:, 1]))
    x0, y0, x1, y1 = c.patches[0].dst
    assert max(x1 - x0, y1 - y0) == round(0.15 * ext)
    # keep_occluded_visible=False marks the occluded joint invisible
    d = A.keypoint_masking(img, kp, None, np.random.default_rng(5), keep_occluded_visible=False, **kw)
    j = d.patches[0].joint
    assert not d.visible[j] and d.visible.sum() == 13
    # probabilities 0: nothing happens
    e = A.keypoint_masking(img, kp, None, np.random.default_rng(5), occlusion_prob=0.0, distractor_prob=0.0)
    assert e.patches == [] and np.array_equal(e.image, img)


def test_masking_skips_when_impossible_and_ignores_nan_keypoints():
    img = _img(64, 64, 1, channels=0)
    # keypoints on a dense grid: every 20 px background patch holds one, so neither kind can be placed
    g = np.arange(2, 64, 8, dtype=np.float64)
    kp = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    r = A.keypoint_masking(img, kp, None, np.random.default_rng(0), person_size=100.0, patch_frac=0.2,
                           occlusion_prob=1.0, distractor_prob=1.0)
    assert r.patches == [] and np.array_equal(r.image, img)
    # NaN keypoints are invisible and never chosen; with only NaN / invisible joints nothing is pasted
    kpn = np.array([[np.nan, 30.0], [10.0, 10.0]])
    r = A.keypoint_masking(img, kpn, [1, 0], np.random.default_rng(0), person_size=50.0, occlusion_prob=1.0,
                           distractor_prob=1.0)
    assert r.patches == [] and not r.visible.any()
    # a keypoint near the image border: the occluding patch is clipped to the image and still covers it
    img2, kp2 = _img(100, 100, 2), np.array([[1.0, 50.0], [60.0, 60.0]])
    r = A.keypoint_masking(img2, kp2, [1, 0], np.random.default_rng(1), person_size=100.0, patch_frac=0.2,
                           occlusion_prob=1.0, distractor_prob=0.0)
    p = r.patches[0]
    assert p.joint == 0 and p.dst == (0, 40, 11, 60)
    np.testing.assert_array_equal(r.image[40:60, 0:11], img2[p.src[1]:p.src[3], p.src[0]:p.src[2]])


def test_bad_inputs_raise_one_line_value_errors():
    img = _img()
    kp = np.zeros((14, 2)) + 150
    lay = get_layout("lsp14")
    cases = [
        lambda: A.person_crop(img, np.zeros((14, 4)), None, (200, 150), 1.0),
        lambda: A.person_crop(img, np.zeros(14), None, (200, 150), 1.0),
        lambda: A.person_crop(img, kp, np.ones(13), (200, 150), 1.0),
        lambda: A.person_crop(np.zeros(5), kp, None, (200, 150), 1.0),
        lambda: A.person_crop(img, kp, None, (200, 150), 0.0),
        lambda: A.person_crop(img, kp, None, (200, 150), float("nan")),
        lambda: A.person_crop(img, kp, None, (200, np.nan), 1.0),
        lambda: A.person_crop(img, kp, None, (200, 150), 1.0, flip=True),
        lambda: A.person_crop(img, kp, None, (200, 150), 1.0, flip=True, flip_pairs=[(0, 20)]),
        lambda: A.person_crop(img, kp[:10], None, (200, 150), 1.0, flip=True, flip_pairs=lay),
        lambda: A.person_crop(img, kp, None, (200, 150), 1.0, out_size=(0, 256)),
        lambda: A.center_scale_from_box((10, 10, 5, 20)),
        lambda: A.center_scale_from_box((10, 10, 10, 10)),
        lambda: A.sample_augment_params(np.random.default_rng(0), rotation_prob=1.5),
        lambda: A.sample_augment_params(np.random.default_rng(0), scale_range=(1.25, 0.75)),
        lambda: A.sample_augment_params(np.random.default_rng(0), distribution="beta"),
        lambda: A.keypoint_masking(img, kp, None, np.random.default_rng(0), patch_frac=0),
        lambda: A.keypoint_masking(img, kp, None, np.random.default_rng(0), occlusion_prob=-0.1),
        lambda: A.keypoint_masking(img, kp, None, np.random.default_rng(0), distractor_distance=(2, 1)),
        lambda: A.keypoint_masking(img, kp, None, np.random.default_rng(0), max_tries=0),
        lambda: A.keypoint_masking(img, kp, None, np.random.default_rng(0), person_size=-5),
        lambda: A.keypoint_masking(img, np.zeros((3, 14, 2)), None, np.random.default_rng(0)),
    ]
    for fn in cases:
        with pytest.raises(ValueError) as ei:
            fn()
        assert "\n" not in str(ei.value) and str(ei.value)


# ------------------------------------------------------------------------------ whole-image training windows
def _transform_sample():
    rng = np.random.default_rng(5)
    kp = np.column_stack([rng.uniform(120, 180, 14), rng.uniform(30, 90, 14), np.ones(14)])
    return {"name": "x", "image": rng.integers(0, 255, (100, 300, 3), dtype=np.uint8), "keypoints": kp[:, :2],
            "annotated": kp[:, 2] > 0, "center": np.array([150.0, 60.0]), "scale": 0.4}


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_whole_image_prob_picks_the_window_of_predict_without_a_box(prob):
    from structnet.pose2d.codec import HeatmapCodec
    from structnet.pose2d.inference import WHOLE_IMAGE_PADDING
    from structnet.pose2d.data import PoseTrainTransform

    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0, scales=(1,))
    tf = PoseTrainTransform("lsp14", codec, rotation_prob=0.0, scale_range=(1.0, 1.0), flip_prob=0.0,
                            whole_image_prob=prob)
    s = _transform_sample()
    got = tf(s, np.random.default_rng(0))["keypoints"]
    if prob:  # the 300-px-wide image fills the 64-px crop: x scales by 64 / 300, centred vertically
        c, sc = A.center_scale_from_box((-0.5, -0.5, 299.5, 99.5), padding=WHOLE_IMAGE_PADDING)
        assert sc * A.PIXEL_STD == pytest.approx(300.0)
    else:
        c, sc = s["center"], s["scale"]
    want = A.person_crop(s["image"], s["keypoints"], s["annotated"], c, sc, out_size=64).keypoints
    np.testing.assert_allclose(got, want, atol=1e-4)
    span = np.ptp(got[:, 0]) / np.ptp(s["keypoints"][:, 0])
    assert span == pytest.approx(64 / 300 if prob else 64 / 80, rel=1e-3)


def test_whole_image_prob_zero_draws_nothing_more_and_bad_values_are_refused():
    from structnet.pose2d.codec import HeatmapCodec
    from structnet.pose2d.data import PoseTrainTransform

    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0, scales=(1,))
    s = _transform_sample()
    a = PoseTrainTransform("lsp14", codec)(s, np.random.default_rng(3))["keypoints"]
    ref = A.random_person_crop(s["image"], s["keypoints"], s["annotated"], s["center"], s["scale"],
                               np.random.default_rng(3), get_layout("lsp14"), out_size=64).keypoints
    np.testing.assert_allclose(a, ref, atol=1e-5)  # the paper's stream, as before the option existed
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="whole_image_prob"):
            PoseTrainTransform("lsp14", codec, whole_image_prob=bad)
