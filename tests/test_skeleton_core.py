"""Known-answer tests for scale quantisation, scale-associated targets, losses, fusion and decoding."""
import math

import numpy as np
import pytest
import torch

from structnet.skeleton.losses import (balanced_bce_loss, class_balance_weights, masked_scale_loss,
                                       skeleton_losses, weighted_softmax_loss)
from structnet.skeleton.model import SkeletonNet
from structnet.skeleton.codec import IGNORE, SkeletonCodec, quantize_scales, regression_target, stage_target
from toy_backbone import ToyBackbone

VGG_FIELDS = (14, 40, 92, 196)


@pytest.mark.parametrize("as_torch", [False, True])
def test_quantize_edge_cases(as_torch):
    s = np.array([0.0, 2.0, 14 / 1.2 - 1e-6, 14 / 1.2, 40 / 1.2 - 1e-3, 40 / 1.2, 150.0, 196 / 1.2, 255.0])
    x = torch.tensor(s) if as_torch else s
    z = quantize_scales(x, VGG_FIELDS, 1.2, "clamp")
    z = z.numpy() if as_torch else z
    # exactly on a boundary (r_i == rho*s) is NOT captured by stage i: Eq. 1 needs r_i > rho*s
    assert z.tolist() == [0, 1, 1, 2, 2, 3, 4, 4, 4]
    zi = quantize_scales(x, VGG_FIELDS, 1.2, "ignore")
    zi = zi.numpy() if as_torch else zi
    assert zi.tolist() == [0, 1, 1, 2, 2, 3, 4, IGNORE, IGNORE]


def test_quantize_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        quantize_scales(np.array([np.nan]), VGG_FIELDS)
    with pytest.raises(ValueError, match="increasing"):
        quantize_scales(np.array([1.0]), (40, 14))
    with pytest.raises(ValueError, match="beyond"):
        quantize_scales(np.array([1.0]), VGG_FIELDS, beyond="first")


def test_stage_targets_and_regression():
    z = np.array([0, 1, 2, 3, 4, IGNORE])
    assert stage_target(z, 2).tolist() == [0, 1, 2, 0, 0, IGNORE]
    assert stage_target(torch.tensor(z), 3).tolist() == [0, 1, 2, 3, 0, IGNORE]
    s = np.array([0, 10, 30, 60, 120, 250], dtype=np.float32)
    t = regression_target(s, stage_target(z, 2), 40.0)
    np.testing.assert_allclose(t, [0, 2 * 10 / 40 - 1, 2 * 30 / 40 - 1, 0, 0, 0], rtol=1e-6)


def test_class_balance_weights_eq3():
    z = torch.tensor([[[0, 0, 0, 1]]])  # N0 = 3, N1 = 1
    b = class_balance_weights(z, 3)
    np.testing.assert_allclose(b.numpy(), [[0.25, 0.75, 0.0]], rtol=1e-6)


def test_weighted_softmax_loss_value():
    logits = torch.zeros(1, 2, 1, 4)
    z = torch.tensor([[[0, 0, 0, 1]]])
    expected = -(3 * 0.25 * math.log(0.5) + 0.75 * math.log(0.5)) / 4
    assert weighted_softmax_loss(logits, z, reduction="mean").item() == pytest.approx(expected, rel=1e-6)
    assert weighted_softmax_loss(logits, z, reduction="sum").item() == pytest.approx(expected * 4, rel=1e-6)
    # weighted mean: divided by the sum of the weights (3 * 0.25 + 0.75 = 1.5) -> plain log 2 here
    assert weighted_softmax_loss(logits, z).item() == pytest.approx(math.log(2), rel=1e-6)
    # ignored pixels count in neither the weights nor the loss
    zi = torch.tensor([[[0, 0, 0, 1, IGNORE]]])
    li = weighted_softmax_loss(torch.zeros(1, 2, 1, 5), zi, reduction="sum")
    assert li.item() == pytest.approx(expected * 4, rel=1e-6)
    # a confident correct prediction has lower loss than a confident wrong one
    good = torch.tensor([[[[5.0, 5, 5, -5]], [[-5.0, -5, -5, 5]]]])
    assert weighted_softmax_loss(good, z) < weighted_softmax_loss(-good, z)
    with pytest.raises(ValueError, match="out of range"):
        weighted_softmax_loss(logits, torch.tensor([[[0, 0, 0, 2]]]))


def test_masked_scale_loss_value():
    pred = torch.tensor([[[0.0, 0.5, -0.5, 9.0]]])
    target = torch.tensor([[[0.0, 0.0, 0.0, 0.0]]])
    zs = torch.tensor([[[0, 1, 2, 0]]])  # only the two middle pixels count
    assert masked_scale_loss(pred, target, zs).item() == pytest.approx((0.25 + 0.25) / 2)
    assert masked_scale_loss(pred, target, torch.zeros_like(zs)).item() == 0.0


def test_balanced_bce_value():
    logits = torch.zeros(1, 1, 4)
    y = torch.tensor([[[0, 0, 0, 1]]])
    # beta = |Y-|/|Y| = 3/4 on the positive, 1/4 on negatives; each BCE = log 2
    expected = (0.75 * math.log(2) + 3 * 0.25 * math.log(2)) / 4
    assert balanced_bce_loss(logits, y, reduction="mean").item() == pytest.approx(expected, rel=1e-6)
    assert balanced_bce_loss(logits, y).item() == pytest.approx(math.log(2), rel=1e-6)


def test_fusion_initialisation_and_shapes():
    torch.manual_seed(0)
    net = SkeletonNet(ToyBackbone(), "lmsds", taps=["t1", "t2", "t3"])
    m = 3
    assert len(net.fuse) == m + 1
    for k, layer in enumerate(net.fuse):
        n = m - max(k, 1) + 1
        assert layer.weight.numel() == n
        assert torch.allclose(layer.weight, torch.full((n,), 1.0 / n))
    out = net(torch.rand(2, 3, 13, 18))
    assert [o.shape[1] for o in out["side_logits"]] == [2, 3, 4]
    assert all(o.shape[-2:] == (13, 18) for o in out["side_logits"] + out["side_scale"])
    assert out["fuse_logits"].shape == (2, 4, 13, 18)
    hed = SkeletonNet(ToyBackbone(), "hed")
    assert len(hed.taps) == 3 and torch.allclose(hed.fuse.weight, torch.full((3,), 1 / 3))
    fsds = SkeletonNet(ToyBackbone(), "fsds")
    assert fsds.taps == ["t2", "t3"] and fsds.scale is None  # first tap omitted, no regressors


def test_fused_scores_follow_eq9():
    torch.manual_seed(0)
    net = SkeletonNet(ToyBackbone(), "fsds", side_init="normal")
    out = net(torch.rand(1, 3, 8, 8))
    s1, s2 = out["side_logits"]  # stage 1: 2 classes, stage 2: 3 classes
    f = out["fuse_logits"]
    torch.testing.assert_close(f[:, 0], (s1[:, 0] + s2[:, 0]) / 2)
    torch.testing.assert_close(f[:, 1], (s1[:, 1] + s2[:, 1]) / 2)
    torch.testing.assert_close(f[:, 2], s2[:, 2])


def test_codec_round_trip():
    codec = SkeletonCodec(VGG_FIELDS)
    scale = torch.zeros(1, 6, 6)
    scale[0, 1, 1:5] = torch.tensor([4.0, 20.0, 70.0, 150.0])
    enc = codec.encode(scale)
    z = enc["z"]
    prob = torch.nn.functional.one_hot(z, 5).permute(0, 3, 1, 2).float()
    stage_scale = torch.stack([2 * scale / r - 1 for r in VGG_FIELDS], 1)
    skel, s = codec.decode(prob, stage_scale)
    assert torch.equal(skel > 0.5, scale > 0)
    torch.testing.assert_close(s[scale > 0], scale[scale > 0])
    # FSDS coarse scale: sum_i r_i P(z = i) = the field of the GT class for one-hot probabilities
    _, coarse = codec.decode(prob, None)
    assert coarse[0, 1, 1:5].tolist() == [14.0, 40.0, 92.0, 196.0]


@pytest.mark.parametrize("method", ["lmsds", "fsds", "hed"])
def test_losses_named_and_every_parameter_learns(method):
    torch.manual_seed(0)
    net = SkeletonNet(ToyBackbone(), method, side_init="normal")
    scale = torch.zeros(2, 16, 16)
    scale[:, 8, 3:13] = 6.0
    scale[:, 2:14, 8] = 12.0
    out = net(torch.rand(2, 3, 16, 16))
    losses = skeleton_losses(net, out, scale, lam=1.0)
    names = set(losses)
    if method == "hed":
        assert names == {"cls_t1", "cls_t2", "cls_t3", "cls_fuse"}
    elif method == "lmsds":
        assert names == {"cls_t2", "cls_t3", "reg_t2", "reg_t3", "cls_fuse"}
    else:
        assert names == {"cls_t2", "cls_t3", "cls_fuse"}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for n, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
        assert p.grad.abs().sum() > 0, f"no gradient reaches {n}"


def test_decode_outputs_ranges():
    torch.manual_seed(0)
    net = SkeletonNet(ToyBackbone(), "lmsds", side_init="normal")
    pred = net.predict(torch.rand(1, 3, 10, 12))
    assert pred["skeleton"].shape == (1, 10, 12)
    assert float(pred["skeleton"].min()) >= 0 and float(pred["skeleton"].max()) <= 1
    assert float(pred["scale"].min()) >= 0
    with pytest.raises(ValueError, match="B, 3, H, W"):
        net(torch.rand(3, 10, 12))
