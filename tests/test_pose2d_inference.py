"""2D pose inference: crop -> decode -> image geometry with a fake network whose heatmaps are exact, flip test
(left/right swap), multi-scale fusion, conditional testing (re-trials only for low joints, fusion rule),
batched crops, saved-model round trip and bundled-model errors, JSON / overlay / per-file outputs, bad input.

The fake network reads where each crop pixel came from: the test image is a ramp (R = x, G = y, B = 255), which
bilinear crop sampling reproduces exactly, so a least-squares fit of ``(R, G)`` against the crop pixel grid gives
the crop -> image affine map of every crop it is fed. It then returns the codec's Gaussian heatmaps of known
image keypoints at their crop positions, like a perfect network; on a mirrored crop (negative determinant) it
labels joints the way a network does on a mirrored person (channel k at the mirrored position of joint perm[k]).
"""
import io
import json

import numpy as np
import pytest
import torch
from torch import nn

from structnet.data.io import read_image, report_failures, write_png
from structnet import bundled, hub
from structnet.errors import UserError
from structnet.pose2d import inference as I
from structnet.pose2d import writer as W
from structnet.pose2d.task import save_pose_model
from structnet.pose2d.augment import center_scale_from_box, crop_matrix
from structnet.pose2d.codec import HeatmapCodec
from structnet.keypoints.layouts import get_layout
from structnet.pose2d.model import build_pose_model

torch.set_num_threads(1)

LSP_NAMES = ["right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
             "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top"]
BOX = (60.0, 30.0, 180.0, 190.0)          # centre (120, 110), longer side 160 -> window 200 px, scale 1.0


def ramp_image(h=200, w=240):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx, yy, np.full_like(xx, 255)], -1).astype(np.uint8)


def joints(seed=0, xr=(70.0, 170.0), yr=(40.0, 180.0)):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(*xr, 14), rng.uniform(*yr, 14)], 1)


class RampFake(nn.Module):
    """Perfect fake pose network for ramp images (see the module docstring). ``amp_fn(crop_points (n, K, 2))``
    scales each joint's Gaussian (points given in the unmirrored crop frame); ``only_mirrored`` zeroes the
    heatmaps of unmirrored crops. ``calls`` records the batch size of every forward."""

    def __init__(self, kp, layout="lsp14", amp_fn=None, only_mirrored=False):
        super().__init__()
        self.kp = np.asarray(kp, np.float64)
        self.perm = torch.from_numpy(get_layout(layout).flip_permutation())
        self.codec = HeatmapCodec()
        self.amp_fn, self.only_mirrored = amp_fn, only_mirrored
        self.calls = []

    def forward(self, x):
        n, _, h, w = x.shape
        self.calls.append(n)
        xd = x.double()
        valid = (xd[:, 2] > 1 - 1e-6).reshape(n, -1, 1)
        vv, uu = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                indexing="ij")
        a = torch.stack([uu, vv, torch.ones_like(uu)], -1).reshape(1, -1, 3) * valid
        b = (torch.stack([xd[:, 0], xd[:, 1]], -1) * 255).reshape(n, -1, 2) * valid
        g = torch.linalg.lstsq(a, b).solution                            # [u v 1] @ g = [x y]
        m = torch.cat([g.transpose(1, 2), torch.tensor([[[0.0, 0.0, 1.0]]], dtype=torch.float64).expand(n, 1, 3)], 1)
        to_crop = torch.linalg.inv(m)[:, :2]
        pts = torch.from_numpy(self.kp) @ to_crop[:, :, :2].transpose(1, 2) + to_crop[:, None, :, 2]
        mirrored = (torch.linalg.det(to_crop[:, :, :2]) < 0).view(n, 1)
        pts = torch.where(mirrored.view(n, 1, 1), pts[:, self.perm], pts)
        maps = self.codec.encode_batch(pts, dtype=torch.float64)[64]
        amp = torch.ones(pts.shape[:2], dtype=torch.float64)
        if self.amp_fn is not None:
            unm = pts.clone()
            unm[..., 0] = torch.where(mirrored, w - 1 - pts[..., 0], pts[..., 0])
            amp = self.amp_fn(unm)
        if self.only_mirrored:
            amp = amp * mirrored
        return {"final": (maps * amp[..., None, None]).float()}


def run(net, img, **kw):
    kw.setdefault("precision", "float32")
    kw.setdefault("dark_sigma", 0)          # no smoothing: DARK is exact on Gaussian maps
    return I.predict_pose(net, img, **kw)


# ------------------------------------------------------------------------------------------- geometry
def test_box_crop_decode_inverse_returns_exact_image_coordinates():
    kp = joints()
    net = RampFake(kp)
    res = run(net, ramp_image(), box=BOX, flip_test=False)
    # by hand: centre = box centre, window = 1.25 x 160 = 200 px -> scale 1.0 (zoom 256 / 200 = 1.28)
    np.testing.assert_allclose(res["center"], [120.0, 110.0])
    assert res["scale"] == pytest.approx(1.0)
    assert res["box"] == BOX
    np.testing.assert_allclose(res["keypoints"], kp, atol=1e-3)
    # a Gaussian peak of 1 sampled within half a map pixel of its centre: exp(-(dx^2 + dy^2) / 2) >= exp(-1/4)
    assert (res["scores"] >= np.exp(-0.25) - 1e-6).all() and (res["scores"] <= 1 + 1e-6).all()
    assert res["heatmaps"].shape == (14, 64, 64) and res["heatmaps"].dtype == np.float32
    assert net.calls == [1] and res["low"] is None and res["accepted"] is None and len(res["trials"]) == 1
    # padding is a setting: 1.0 -> window 160 px, scale 0.8, same keypoints
    res2 = run(net, ramp_image(), box=BOX, flip_test=False, padding=1.0)
    assert res2["scale"] == pytest.approx(0.8)
    np.testing.assert_allclose(res2["keypoints"], kp, atol=1e-3)
    # center / scale given directly: same as the box
    res3 = run(net, ramp_image(), center=(120.0, 110.0), scale=1.0, flip_test=False)
    np.testing.assert_allclose(res3["keypoints"], res["keypoints"], atol=1e-9)
    assert res3["box"] is None


def test_whole_image_default_window_and_exact_coordinates():
    kp = joints(1, xr=(5.0, 235.0), yr=(5.0, 195.0))
    res = run(RampFake(kp), ramp_image(200, 240), flip_test=False)
    # box (-0.5, -0.5, 239.5, 199.5), padding 1.0 -> centre ((W-1)/2, (H-1)/2), window = 240 px = 1.2 x 200
    np.testing.assert_allclose(res["center"], [119.5, 99.5])
    assert res["scale"] == pytest.approx(1.2)
    assert res["box"] == (-0.5, -0.5, 239.5, 199.5)
    np.testing.assert_allclose(res["keypoints"], kp, atol=1e-3)
    # the image edge lands on the crop edge: x = -0.5 -> -0.5, x = 239.5 -> 255.5; y is centred
    m = crop_matrix(res["center"], res["scale"])
    edges = np.array([[-0.5, -0.5], [239.5, 199.5]]) @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(edges, [[-0.5, 127.5 - 100 * 256 / 240], [255.5, 127.5 + 100 * 256 / 240]])


def test_crop_sampling_geometry_with_and_without_antialiased_shrink():
    # float ramp image: channel 0 = x, channel 1 = y (continuous values). Bilinear sampling, and the antialiased
    # pre-shrink (a symmetric filter), reproduce linear functions inside the image, so every crop pixel must hold
    # the image coordinates that the inverse crop matrix gives for it.
    for (h, w), box in (((200, 240), BOX), ((300, 1200), (100.0, 20.0, 1100.0, 280.0))):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        src = torch.from_numpy(np.stack([xx, yy, np.ones_like(xx)]))
        c, s = center_scale_from_box(box, 1.25)
        m = crop_matrix(c, s)
        zoom = 256 / (s * 200)
        assert (zoom < I.ANTIALIAS_BELOW) == (w == 1200)          # the wide image takes the shrink path
        crop = I._sample_crops(src, m[None], (256, 256))[0].numpy()
        inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
        vv, uu = np.mgrid[0:256, 0:256]
        pos = np.stack([uu, vv], -1) @ inv[:, :2].T + inv[:, 2]
        # pixels whose filter footprint lies inside the image (2 image px, or 2 / zoom when shrunk)
        margin = 2.0 / min(zoom, 1.0)
        inside = ((pos[..., 0] > margin) & (pos[..., 0] < w - 1 - margin) & (pos[..., 1] > margin)
                  & (pos[..., 1] < h - 1 - margin))
        assert inside.sum() > 10000
        # float32 sampling: 1e-2 image px; the shrink's filter at a non-integer ratio: 1 % of a crop pixel
        tol = 1e-2 / min(zoom, 1.0)
        np.testing.assert_allclose(crop[0][inside], pos[..., 0][inside], atol=tol)
        np.testing.assert_allclose(crop[1][inside], pos[..., 1][inside], atol=tol)
        outside = (pos[..., 0] < -1.5 - margin) | (pos[..., 1] < -1.5 - margin)
        assert outside.any() or w == 240
        assert (crop[2][outside] == 0).all()                       # zeros outside the image


# ------------------------------------------------------------------------------------------- flip test
def test_flip_test_with_symmetric_fake_gives_same_points():
    kp = joints(2)
    net = RampFake(kp)
    plain = run(net, ramp_image(), box=BOX, flip_test=False)
    flip = run(net, ramp_image(), box=BOX, flip_test=True)
    assert net.calls == [1, 2]                     # crop and its mirror in one pass
    np.testing.assert_allclose(flip["keypoints"], plain["keypoints"], atol=1e-4)
    np.testing.assert_allclose(flip["scores"], plain["scores"], atol=1e-5)


def test_flip_test_swaps_left_right_channels_back():
    # only the mirrored crop produces heatmaps: every joint must still come back at its own position (without
    # the channel swap right_ankle would land on the left ankle), at half the score (averaged with zeros)
    kp = joints(3)
    assert np.linalg.norm(kp[0] - kp[5]) > 20                     # right_ankle and left_ankle are far apart
    plain = run(RampFake(kp), ramp_image(), box=BOX, flip_test=False)
    res = run(RampFake(kp, only_mirrored=True), ramp_image(), box=BOX, flip_test=True)
    np.testing.assert_allclose(res["keypoints"], kp, atol=1e-3)
    np.testing.assert_allclose(res["scores"], plain["scores"] / 2, atol=1e-4)


# ---------------------------------------------------------------------------------------- multi-scale test
def test_fuse_scales_known_values():
    # constants survive any warp exactly (partition of unity), so the coverage-weighted mean is known by hand
    h = w = 16
    a, b = 10.0, 4.0
    maps = torch.stack([torch.full((1, 1, h, w), a), torch.full((1, 1, h, w), b)])          # (S=2, 1, 1, h, w)
    np.testing.assert_allclose(I.fuse_scales(maps, (1.0, 2.0))[0, 0].numpy(), (a + b) / 2, atol=1e-5)
    # factor 0.5: its map lands on the central part only; the bicubic taps of map columns x are all inside for
    # 2 x - 7.5 in [1, 14) (x = 5..10) and all outside (taps floor(x_s) - 1 .. floor(x_s) + 2 beyond 0..15)
    # for 2 x - 7.5 < -2 or >= 17 (x <= 2 or x >= 13): there only factor 1 counts
    fused = I.fuse_scales(maps, (1.0, 0.5))[0, 0].numpy()
    np.testing.assert_allclose(fused[5:11, 5:11], (a + b) / 2, atol=1e-5)
    out = np.zeros((h, w), bool)
    out[:3, :] = out[13:, :] = out[:, :3] = out[:, 13:] = True
    np.testing.assert_allclose(fused[out], a, atol=1e-5)
    # factor 1 alone is returned untouched; two copies of the same scale average to themselves
    r = torch.rand(1, 2, 3, h, w)
    assert torch.equal(I.fuse_scales(r, (1.0,)), r[0])
    np.testing.assert_allclose(I.fuse_scales(torch.cat([r, r]), (1.0, 1.0)).numpy(), r[0].numpy(), atol=1e-7)
    # only zoomed-in scales: uncovered pixels are 0, not a division by ~0
    only_in = I.fuse_scales(maps[1:], (0.5,))[0, 0].numpy()
    assert only_in[0, 0] == 0.0 and only_in[8, 8] == pytest.approx(b, abs=1e-5)


def test_fuse_scales_warps_a_gaussian_peak_to_the_common_frame():
    # a Gaussian at map point p_f of the factor-f map sits at p_1 = (p_f - c) f + c in the factor-1 frame
    codec = HeatmapCodec()
    c = 31.5
    p1 = np.array([[40.3, 22.6], [25.2, 35.9]])
    for f in (0.8, 1.25, 2.0):
        pf = (p1 - c) / f + c
        maps = torch.from_numpy(codec.encode(codec.to_input(pf, (64, 64)))[64])[None, None]
        pts, _ = codec.decode(I.fuse_scales(maps, (f,)).double())
        # within DARK's accuracy on warped Gaussians (module docstring: up to ~0.03 map px)
        np.testing.assert_allclose(codec.to_map(pts.numpy()[0], (64, 64)), p1, atol=0.03)


def test_multiscale_test_averages_to_the_true_points():
    kp = joints(4)
    kp[0] = (171.0, 60.0)          # crop x = 127.5 + 51 * 1.28 = 192.8: outside the factor-0.8 window (x > 175)
    net = RampFake(kp)
    single = run(net, ramp_image(), box=BOX, flip_test=True)
    multi = run(net, ramp_image(), box=BOX, flip_test=True, scales=(0.8, 1.0, 1.25), dark_sigma=None)
    assert net.calls == [2, 6]                      # 3 scales x (crop + mirror) in one pass
    # common frame = the factor-1 window: keypoints agree with the truth to DARK's accuracy on the mixed widths
    np.testing.assert_allclose(multi["keypoints"], kp, atol=0.1)
    np.testing.assert_allclose(multi["center"], single["center"])
    # a single non-unit scale is warped back to the factor-1 frame as well
    one = run(net, ramp_image(), box=BOX, flip_test=False, scales=(1.25,), dark_sigma=None)
    np.testing.assert_allclose(one["keypoints"], kp, atol=0.02)
    # the joint outside the 0.8 window keeps a full score (coverage-weighted mean, not diluted by zeros)
    assert multi["scores"][0] > 0.6


# ------------------------------------------------------------------------------------ conditional testing
def test_fuse_trials_known_values():
    kp = np.array([[[0, 0], [10, 10], [5, 5]],
                   [[2, 0], [20, 10], [7, 5]],
                   [[4, 0], [30, 10], [9, 5]]], float)
    sc = np.array([[0.9, 0.1, 0.05], [0.5, 0.3, 0.1], [0.8, 0.6, 0.15]])
    low = np.array([False, True, True])
    pts, s, acc = I.fuse_trials(kp, sc, low, fuse_threshold=0.2)
    # joint 0 not low: trial 0; joint 1: trials 1, 2 above 0.2 -> x = (0.3*20 + 0.6*30) / 0.9, score mean 0.45;
    # joint 2: none above 0.2 -> best-scoring trial 2
    np.testing.assert_allclose(pts, [[0, 0], [(0.3 * 20 + 0.6 * 30) / 0.9, 10], [9, 5]])
    np.testing.assert_allclose(s, [0.9, 0.45, 0.15])
    np.testing.assert_array_equal(acc, [[False, False, False], [False, True, False], [False, True, False]])
    with pytest.raises(ValueError, match="scores"):
        I.fuse_trials(kp, sc[:2], low)
    with pytest.raises(ValueError, match="low"):
        I.fuse_trials(kp, sc, low[:2])


def _right_side_is_weak(pts):
    """Amplitude 1 for joints left of crop column 180, 0.1 right of it."""
    return torch.where(pts[..., 0] < 180.0, 1.0, 0.1).double()


def test_conditional_testing_retrials_only_for_low_joints():
    kp = joints(5, xr=(70.0, 130.0))                 # crop x <= 127.5 + 10 * 1.28 < 141: confident everywhere
    kp[3] = (176.6, 100.0)                           # crop x = 127.5 + 56.6 * 1.28 = 199.9: weak in trial 0
    net = RampFake(kp, amp_fn=_right_side_is_weak)
    ct = I.ConditionalTesting()
    res = run(net, ramp_image(), box=BOX, flip_test=False, conditional=ct)
    assert net.calls == [1, 6]                       # trial 0, then the six perturbations in one pass
    np.testing.assert_array_equal(res["low"], np.arange(14) == 3)
    # perturbed windows by hand: shifts of 0.1 x 200 px, scale factors 0.8 / 1.25
    centers = [t["center"] for t in res["trials"]]
    np.testing.assert_allclose(centers, [[120, 110], [140, 110], [100, 110], [120, 130], [120, 90],
                                         [120, 110], [120, 110]])
    np.testing.assert_allclose([t["scale"] for t in res["trials"]], [1, 1, 1, 1, 1, 0.8, 1.25])
    # joint 3's crop x per trial: 199.9, 174.3 (shift right), 225.5, 199.9, 199.9, 218.1 (x0.8), 185.5 (x1.25):
    # only the right-shifted trial sees it strongly -> fused from that trial alone
    acc = res["accepted"]
    np.testing.assert_array_equal(acc[:, 3], [False, True, False, False, False, False, False])
    assert not acc[:, np.arange(14) != 3].any()
    np.testing.assert_allclose(res["keypoints"][3], kp[3], atol=1e-3)
    assert res["scores"][3] == pytest.approx(res["trials"][1]["scores"][3]) and res["scores"][3] > 0.7
    assert res["trials"][0]["scores"][3] < 0.1 + 1e-6
    # confident joints keep trial 0's result exactly
    keep = np.arange(14) != 3
    np.testing.assert_array_equal(res["keypoints"][keep], res["trials"][0]["keypoints"][keep])
    np.testing.assert_array_equal(res["scores"][keep], res["trials"][0]["scores"][keep])


def test_conditional_testing_no_retrial_when_confident_and_per_joint_thresholds():
    kp = joints(6, xr=(70.0, 130.0))
    net = RampFake(kp, amp_fn=_right_side_is_weak)
    res = run(net, ramp_image(), box=BOX, flip_test=False, conditional=I.ConditionalTesting())
    assert net.calls == [1] and len(res["trials"]) == 1 and not res["low"].any() and res["accepted"] is None
    # a per-joint tau_c above any possible score forces re-trials for that joint only; its fused score is the
    # mean of the trials above tau_s and its position the (here identical) true position
    th = [0.2] * 14
    th[7] = 2.0
    net.calls.clear()
    res = run(net, ramp_image(), box=BOX, flip_test=False,
              conditional=I.ConditionalTesting(thresholds=th, fuse_threshold=0.5))
    assert net.calls == [1, 6]
    np.testing.assert_array_equal(res["low"], np.arange(14) == 7)
    s7 = np.array([t["scores"][7] for t in res["trials"]])
    assert (s7 > 0.5).sum() >= 2
    assert res["scores"][7] == pytest.approx(s7[s7 > 0.5].mean())
    np.testing.assert_allclose(res["keypoints"][7], kp[7], atol=1e-3)


def test_conditional_testing_settings_are_validated():
    ct = I.ConditionalTesting()
    assert ct.thresholds == I.DEFAULT_KEYPOINT_THRESHOLD == 0.2 and ct.fuse_threshold == 0.2
    assert ct.perturbations == I.DEFAULT_PERTURBATIONS and len(ct.perturbations) == 6
    np.testing.assert_array_equal(ct.thresholds_for(3), [0.2, 0.2, 0.2])
    with pytest.raises(ValueError, match="14 joints"):
        I.ConditionalTesting(thresholds=[0.1] * 13).thresholds_for(14)
    with pytest.raises(ValueError, match="perturbations"):
        I.ConditionalTesting(perturbations=[(0.1, 0.0)])
    with pytest.raises(ValueError, match="scale factor"):
        I.ConditionalTesting(perturbations=[(0.1, 0.0, 0.0)])
    with pytest.raises(ValueError, match="fuse_threshold"):
        I.ConditionalTesting(fuse_threshold=float("nan"))


# ------------------------------------------------------------------------------------------- batched crops
def test_predict_batch_on_dataset_crops():
    kp = joints(7)
    img = ramp_image()
    mats = [crop_matrix((120.0, 110.0), 1.0), crop_matrix((110.0, 100.0), 0.9)]
    crops = torch.stack([I._sample_crops(torch.from_numpy(img).permute(2, 0, 1).float() / 255, m[None],
                                         (256, 256))[0] for m in mats])
    net = RampFake(kp)
    out = I.predict_batch(net, crops, flip_test=True, precision="float32", dark_sigma=0)
    assert out["heatmaps"].shape == (2, 14, 64, 64) and out["scores"].shape == (2, 14)
    want = np.stack([kp @ m[:, :2].T + m[:, 2] for m in mats])           # crop coordinates
    np.testing.assert_allclose(out["keypoints"], want, atol=1e-3)
    # uint8 crops are scaled by 1/255
    out8 = I.predict_batch(net, (crops * 255).round().to(torch.uint8), flip_test=False, precision="float32",
                           dark_sigma=0)
    np.testing.assert_allclose(out8["keypoints"], want, atol=0.05)
    with pytest.raises(ValueError, match="model input is 256x256"):
        I.predict_batch(net, torch.zeros(1, 3, 128, 128))
    with pytest.raises(ValueError, match="crops must be"):
        I.predict_batch(net, torch.zeros(3, 256, 256))


# ------------------------------------------------------------------------------------ saving and loading
def test_save_load_round_trip_identical_outputs(tmp_path):
    torch.manual_seed(0)
    net = build_pose_model(num_joints=14, stacks=1, features=32)
    with torch.no_grad():                       # non-trivial BatchNorm statistics: eval mode must use them
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = save_pose_model(net, tmp_path / "pose.safetensors", "lsp14", extra_meta={"epochs": 3, "note": "x"})
    loaded = hub.load(tmp_path / "pose.safetensors", task="pose2d")
    assert isinstance(loaded, hub.LoadedModel) and loaded.task == "pose2d" and loaded.name == "pose"
    assert not loaded.network.training
    assert loaded.network.config() == net.config()
    assert loaded.layout == get_layout("lsp14") and loaded.codec == HeatmapCodec()
    assert not hasattr(loaded.network, "pose_layout")  # nothing bolted onto the module
    assert loaded.metadata["epochs"] == 3 and loaded.metadata["note"] == "x"
    assert loaded.metadata["input_size"] == [256, 256] and loaded.metadata["layout"] == "lsp14"
    crop = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    a = I.predict_batch(net, crop, flip_test=False, precision="float32")
    b = I.predict_batch(loaded, crop, flip_test=False, precision="float32")
    assert net.training                          # predict_* restore the caller's mode
    # the hub loads pose models in channels_last (faster on CPU): same values up to the summation order
    assert I._is_channels_last(loaded.network) and not I._is_channels_last(net)
    np.testing.assert_allclose(a["heatmaps"], b["heatmaps"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(a["keypoints"], b["keypoints"], rtol=0, atol=1e-3)
    # the whole pipeline on the real network: the loaded model brings its layout for the flip test
    loaded.network.train()
    res = I.predict_pose(loaded, np.random.default_rng(2).integers(0, 256, (90, 70, 3), dtype=np.uint8),
                         precision="float32")
    assert loaded.network.training
    assert res["keypoints"].shape == (14, 2) and np.isfinite(res["keypoints"]).all()
    assert res["scores"].shape == (14,) and np.isfinite(res["scores"]).all()
    with pytest.raises(ValueError, match="reserved"):
        save_pose_model(net, tmp_path / "x.safetensors", "lsp14", extra_meta={"layout": "mpii16"})
    with pytest.raises(ValueError, match="16 joints"):
        save_pose_model(net, tmp_path / "x.safetensors", "mpii16")
    assert path.is_file()


def test_missing_bundled_weights_give_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path)  # no bundled files at all
    with pytest.raises(UserError) as e:
        hub.load(task="pose2d")
    assert I.DEFAULT_POSE_MODEL in str(e.value) and "structnet models" in str(e.value)
    monkeypatch.undo()
    with pytest.raises(UserError, match="unknown model 'no_such_model'.*mss_msr_hourglass2_lsp"):
        hub.load("no_such_model", task="pose2d")
    with pytest.raises(UserError, match="not found.*nope.safetensors"):
        hub.load(tmp_path / "nope.safetensors", task="pose2d")
    with pytest.raises(UserError, match="a skeleton model, not a pose2d model"):
        hub.load("lmsds_efficientnet_lite0", task="pose2d")


def test_bundled_default_model_when_present():
    path = hub.WEIGHTS_DIR / f"{I.DEFAULT_POSE_MODEL}.safetensors"
    if not path.is_file():
        pytest.skip(f"bundled pose model not trained yet: {path}")
    m = hub.load(task="pose2d")
    assert m.layout.name == "lsp14" and m.network.num_joints == 14 and m.source == path


# ------------------------------------------------------------------------------------------------ outputs
def test_pose_to_json_exact_schema_with_lsp_names():
    kp = np.arange(28, dtype=float).reshape(14, 2) + 0.25
    sc = np.linspace(0, 1, 14)
    rec = W.pose_to_json({"keypoints": kp, "scores": sc}, "photos/a.jpg", 640, 480, "lsp14")
    assert list(rec) == ["image", "width", "height", "joints"]
    assert rec["image"] == "photos/a.jpg" and rec["width"] == 640 and rec["height"] == 480
    assert [j["name"] for j in rec["joints"]] == LSP_NAMES
    assert all(list(j) == ["name", "x", "y", "score"] for j in rec["joints"])
    assert rec["joints"][13] == {"name": "head_top", "x": 26.25, "y": 27.25, "score": 1.0}
    assert all(type(j[k]) is float for j in rec["joints"] for k in ("x", "y", "score"))
    assert json.loads(json.dumps(rec)) == rec
    with pytest.raises(ValueError, match=r"\(14, 2\)"):
        W.pose_to_json({"keypoints": kp[:13], "scores": sc[:13]}, "a.jpg", 10, 10, "lsp14")


def test_overlay_draws_skeleton_in_side_colours():
    img = np.zeros((480, 400, 3), np.uint8)                         # line width round(400 / 160) = 2, radius 4
    kp = 4.0 * np.array([[30, 110], [30, 90], [35, 70], [65, 70], [70, 90], [70, 110], [20, 40], [25, 55],
                         [35, 35], [65, 35], [75, 55], [80, 40], [50, 30], [50, 10]], float)
    sc = np.ones(14)
    sc[13] = 0.1                                                    # head_top below the 0.2 threshold
    out = W.draw_pose_overlay(img, kp, sc, "lsp14")
    assert out.shape == img.shape and out.dtype == np.uint8 and not img.any()      # a copy
    assert tuple(out[440, 120]) == W.RIGHT_COLOUR                    # right ankle (filled circle)
    assert tuple(out[440, 280]) == W.LEFT_COLOUR                     # left ankle
    assert tuple(out[120, 200]) == W.CENTRE_COLOUR                   # neck
    assert tuple(out[280, 200]) == W.CENTRE_COLOUR                   # mid-point of the hip-hip bone
    assert not out[40, 200].any() and not out[80, 200].any()         # head_top and its bone not drawn
    shin = out[400, 120].astype(int)                                 # on the right shin, between two joints
    assert shin[0] > 150 and shin[0] > 2 * shin[2]
    assert not out[400, 160].any()                                   # away from every bone
    full = W.draw_pose_overlay(img, kp, None, "lsp14")              # scores None: everything drawn
    assert tuple(full[40, 200]) == W.CENTRE_COLOUR
    grey = W.draw_pose_overlay(np.zeros((480, 400), np.uint8), kp, sc, "lsp14")
    np.testing.assert_array_equal(grey, out)
    with pytest.raises(ValueError, match="uint8"):
        W.draw_pose_overlay(img.astype(np.float32), kp, sc, "lsp14")
    with pytest.raises(ValueError, match=r"\(14, 2\)"):
        W.draw_pose_overlay(img, kp[:3], sc[:3], "lsp14")


def test_predict_writes_outputs_and_reports_bad_files(tmp_path):
    """The one predict path (task predictor + writer): files of a good image, a one-line failure for a bad one."""
    from structnet import tasks
    from structnet.pose2d.config import Pose2DPredictOptions
    from structnet.tasks.loading import LoadedModel
    from structnet.tasks.run import predict

    kp = joints(8, xr=(20.0, 220.0), yr=(20.0, 180.0))
    good = write_png(tmp_path / "in" / "person.png", ramp_image())
    bad = tmp_path / "in" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    model = LoadedModel(network=RampFake(kp), task="pose2d", name="ramp", source=tmp_path / "ramp.safetensors",
                        codec=HeatmapCodec(), layout=get_layout("lsp14"))
    options = Pose2DPredictOptions(flip_test=False, precision="float32", window="image")
    out = tmp_path / "out"
    report = predict(tasks.get("pose2d"), model, [good, bad], out, options)
    data = json.loads((out / "person_pose2d.json").read_text())
    assert data["width"] == 240 and data["height"] == 200 and data["image"] == str(good)
    assert [j["name"] for j in data["joints"]] == LSP_NAMES
    np.testing.assert_allclose([[j["x"], j["y"]] for j in data["joints"]], kp, atol=1e-3)
    ov = read_image(out / "person_pose2d_overlay.png")
    assert ov.shape == (200, 240, 3) and (ov != ramp_image()).any()
    assert not (out / "broken_pose2d.json").exists()
    assert [p for p, _, _ in report.results] == [good] and [f[0] for f in report.failures] == [str(bad)]
    buf = io.StringIO()
    assert report_failures(report.failures, buf) == 1 and "broken.jpg" in buf.getvalue()


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_named_errors():
    net = RampFake(joints())
    img = ramp_image()
    with pytest.raises(ValueError, match="image must be"):
        I.predict_pose(net, np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="box"):
        I.predict_pose(net, img, box=(50, 50, 10, 10))
    with pytest.raises(ValueError, match="scales"):
        I.predict_pose(net, img, scales=())
    with pytest.raises(ValueError, match="scales"):
        I.predict_pose(net, img, scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="refine"):
        I.predict_pose(net, img, refine="argmax")
    with pytest.raises(ValueError, match="not both"):
        I.predict_pose(net, img, box=BOX, center=(1, 1), scale=1.0)
    with pytest.raises(ValueError, match="together"):
        I.predict_pose(net, img, center=(1, 1))
    with pytest.raises(ValueError, match="ConditionalTesting"):
        I.predict_pose(net, img, conditional={"thresholds": 0.2})
    with pytest.raises(ValueError, match="13 values"):
        I.predict_pose(net, img, flip_test=False, precision="float32",
                       conditional=I.ConditionalTesting(thresholds=[0.3] * 13))
    with pytest.raises(ValueError, match="layout 'mpii16' has 16 joints"):
        I.predict_pose(net, img, layout="mpii16", precision="float32")
    with pytest.raises(ValueError, match="batch_size"):
        I.predict_pose(net, img, batch_size=0)

    class Fifteen(nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 15, 64, 64)

    with pytest.raises(ValueError, match="cannot tell the keypoint layout of a 15-joint model"):
        I.predict_pose(Fifteen(), img, precision="float32")
    assert I.predict_pose(Fifteen(), img, flip_test=False, precision="float32")["keypoints"].shape == (15, 2)


# --------------------------------------------------------------------------------------------- auto window
def test_auto_window_refines_on_the_box_of_confident_joints():
    kp = joints(3, xr=(90.0, 150.0), yr=(60.0, 150.0))
    img = ramp_image()
    net = RampFake(kp)
    res = I.predict_pose_auto(net, img, flip_test=False, precision="float32", dark_sigma=0)
    assert res["window"] == "auto" and len(net.calls) == 2
    lo, hi = kp.min(0), kp.max(0)
    np.testing.assert_allclose(res["box"], [lo[0], lo[1], hi[0], hi[1]], atol=0.5)  # the first pass's joints
    side = I.AUTO_BOX_PADDING * max(hi - lo)
    assert res["scale"] * 200 == pytest.approx(side, rel=0.01)
    narrow = I.predict_pose_auto(net, img, flip_test=False, precision="float32", dark_sigma=0, box_padding=1.1)
    assert narrow["scale"] * 200 == pytest.approx(1.1 * max(hi - lo), rel=0.01)
    np.testing.assert_allclose(res["keypoints"], kp, atol=0.2)
    np.testing.assert_allclose(res["first_pass"]["keypoints"], kp, atol=0.5)


def test_auto_window_keeps_the_whole_image_without_enough_confident_joints():
    net = RampFake(joints(4), amp_fn=lambda pts: torch.full(pts.shape[:2], 0.1, dtype=torch.float64))
    res = I.predict_pose_auto(net, ramp_image(), flip_test=False, precision="float32", score_threshold=0.2)
    assert res["window"] == "image" and len(net.calls) == 1
    assert (res["scores"] < 0.2).all()
    with pytest.raises(ValueError, match="chooses the window itself"):
        I.predict_pose_auto(net, ramp_image(), box=BOX)


def test_joint_box_known_answers():
    kp = np.array([[10.0, 20.0], [50.0, 5.0], [-30.0, 90.0], [np.nan, 1.0], [40.0, 40.0]])
    sc = np.array([0.9, 0.5, 0.1, 0.9, 0.3])
    # every finite joint (threshold 0), the third clipped to the image's left edge
    assert I.joint_box(kp, sc, (100, 80), min_joints=4, score_threshold=0.0) == (-0.5, 5.0, 50.0, 90.0)
    assert I.joint_box(kp, sc, (100, 80), min_joints=3, score_threshold=0.3) == (10.0, 5.0, 50.0, 40.0)
    assert I.joint_box(kp, sc, (100, 80), min_joints=4, score_threshold=0.3) is None  # only 3 qualify
    same = np.array([[5.0, 5.0], [5.5, 6.0], [6.0, 5.0], [5.0, 6.5]])
    assert I.joint_box(same, np.ones(4), (100, 80)) is None  # a degenerate box
