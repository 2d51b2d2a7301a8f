"""The stacked hourglass as a backbone (structnet.backbones.hourglass): taps, receptive fields checked against the
support of the input gradient pixel by pixel, any input size, weights (no ImageNet; a pose model's trunk), the pose
network built on it, and a skeleton model on it."""
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import structnet
from structnet.backbones import create_backbone
from structnet.backbones.hourglass import Hourglass, HourglassBackbone, load_hourglass_weights
from structnet.errors import UserError

BUNDLED_POSE = Path(structnet.__file__).resolve().parent / "weights" / "mss_msr_hourglass2_lsp.safetensors"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# ---------------------------------------------------------------- taps
def test_hourglass2_specs():
    bb = create_backbone("hourglass2")
    got = [(s.name, s.channels, s.stride, s.receptive_field) for s in bb.feature_specs]
    # fields: stem2 = 7 (7x7/2); stem4 = 7 + 2*2 (3x3 at stride 2) + 1*2 (pool) + 2*4 + 2*4 = 29; the rest are the
    # exact per-pixel maxima of GridField, checked against gradients on small hourglasses below
    assert got == [("stem2", 64, 2, 7), ("stem4", 128, 4, 29), ("level4", 128, 64, 1097), ("level3", 128, 32, 1225),
                   ("level2", 128, 16, 1289), ("level1", 128, 8, 1353), ("level0", 128, 4, 1353),
                   ("lin", 128, 4, 1353)]
    assert (bb.num_stacks, bb.features, bb.depth, bb.size_multiple) == (2, 128, 4, 64)
    assert bb.mean == (0.0, 0.0, 0.0) and bb.std == (1.0, 1.0, 1.0)   # [0, 1] images, as the pose network
    assert bb.increasing_field_taps(bb.tap_names[1:]) == ["stem4", "level4", "level3", "level2", "lin"]


def test_one_stack_encoder_fields_are_the_serial_walk():
    # on the encoder path (no upsampling yet) every pixel sees the same field, the recursion's:
    # stem4 29; per level pool (+s) and low1's 3x3 (+2 * 2s); the bottom's 3x3 (+2 * 64)
    bb = create_backbone("hourglass", stacks=1, features=8)
    f = {s.name: s.receptive_field for s in bb.feature_specs}
    r = 29
    for s in (4, 8, 16, 32):
        r += s + 2 * 2 * s
    assert f["level4"] == r + 2 * 64 == 457
    assert bb.grid_fields["level4"].min_size == 457 and bb.grid_fields["level4"].period == 1
    assert f["level3"] == 457 + 2 * 64 == 585                         # low3.3's 3x3 at stride 64, then upsampled


def test_sizes_and_paper_variant():
    bb8 = create_backbone("hourglass8")
    assert (bb8.num_stacks, bb8.features, bb8.depth) == (8, 256, 4)
    assert [s.channels for s in bb8.feature_specs] == [64] + [256] * 7
    # the paper model's trunk: 25,434,112 parameters with 16 heads (tests/test_pose2d_model.py), minus 8 heads
    # (256 * 16 + 16) and 7 heatmap re-injections (16 * 256 + 256)
    assert sum(p.numel() for p in bb8.parameters()) == 25_434_112 - 8 * (256 * 16 + 16) - 7 * (16 * 256 + 256)
    bb = create_backbone("hourglass", stacks=1, features=16, depth=3)
    assert bb.tap_names == ["stem2", "stem4", "level3", "level2", "level1", "level0", "lin"]
    assert [s.stride for s in bb.feature_specs] == [2, 4, 32, 16, 8, 4, 4]
    with pytest.raises(ValueError, match="even"):
        create_backbone("hourglass", features=15)
    with pytest.raises(ValueError, match="depth"):
        create_backbone("hourglass", depth=0)


# ---------------------------------------------------------------- receptive fields vs. the input gradient
def _positive_avgpool_copy(bb: HourglassBackbone) -> HourglassBackbone:
    """All weights positive, biases 0, BN in eval (identity up to 1/sqrt(1+eps)), max-pools -> average pools of the
    same geometry: every input pixel in a field then gets a positive gradient (a max-pool passes the gradient to one
    pixel of its window only), in float64 so that nothing underflows."""
    bb = bb.double().eval()
    with torch.no_grad():
        for m in bb.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
                m.bias.zero_()
    bb.stem[4] = nn.AvgPool2d(2, 2)
    for m in bb.modules():
        if isinstance(m, Hourglass):
            m.pool = nn.AvgPool2d(2, 2)
    return bb


@pytest.mark.parametrize("stacks,depth,h,w", [(1, 2, 512, 16), (2, 2, 768, 16), (1, 3, 768, 32)])
def test_fields_match_gradient_support_pixel_by_pixel(stacks, depth, h, w):
    # Rows only (square layers act alike on rows and columns): an image tall enough that no field of the pixels
    # tested reaches the top or bottom border, narrow to stay cheap. For every tap and every pixel of one period of
    # its field pattern, the rows of the input gradient's support are exactly GridField's [lo, hi], and the tap's
    # declared field is the largest of them.
    torch.manual_seed(0)
    bb = HourglassBackbone(stacks=stacks, features=8, depth=depth)
    fields = dict(bb.grid_fields)
    specs = list(bb.feature_specs)
    bb = _positive_avgpool_copy(bb)
    x = torch.rand(1, 3, h, w, dtype=torch.float64, requires_grad=True)
    feats = bb(x)
    seen_varying = False
    for s in specs:
        gf, f = fields[s.name], feats[s.name]
        c = f.shape[2] // 2
        sizes = []
        for row in range(c, c + gf.period):
            (g,) = torch.autograd.grad(f[0, 0, row, f.shape[3] // 2], x, retain_graph=True)
            rows = (g[0].abs().sum(0) > 0).any(1).nonzero().flatten()
            lo, hi = int(rows.min()), int(rows.max())
            assert 0 < lo and hi < h - 1, "test image too small"
            assert (lo, hi) == gf.bounds(row), (s.name, row)
            assert int((g[0].abs().sum(0) > 0).any(1)[lo:hi + 1].sum()) == hi - lo + 1   # no holes
            sizes.append(hi - lo + 1)
        assert max(sizes) == s.receptive_field and min(sizes) == gf.min_size, s.name
        seen_varying |= len(set(sizes)) > 1
    assert seen_varying   # upsampling makes the field depend on the pixel: a single (rf, stride) could not say it


# ---------------------------------------------------------------- forward
def test_any_input_size_is_padded_and_cropped():
    torch.manual_seed(1)
    bb = create_backbone("hourglass", stacks=1, features=8, depth=2).eval()
    x = torch.rand(1, 3, 37, 50)
    with torch.no_grad():
        feats = bb(x)
        # the same as running the padded image and cropping
        xp = torch.nn.functional.pad(x, (0, 64 - 50, 0, 48 - 37), mode="replicate")
        full = bb(xp)
    for s in bb.feature_specs:
        assert feats[s.name].shape[-2:] == (math.ceil(37 / s.stride), math.ceil(50 / s.stride))
        hh, ww = feats[s.name].shape[-2:]
        assert torch.equal(feats[s.name], full[s.name][..., :hh, :ww])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        bb(torch.rand(3, 32, 32))


# ---------------------------------------------------------------- weights
def test_pretrained_true_is_a_user_error():
    with pytest.raises(UserError, match="no ImageNet weights") as e:
        create_backbone("hourglass2", pretrained=True)
    assert "\n" not in str(e.value) and "safetensors" in str(e.value)
    with pytest.raises(UserError, match="no ImageNet weights"):
        create_backbone("hourglass8", pretrained=True)


def test_trunk_from_the_bundled_pose_model():
    from safetensors.torch import load_file

    if not BUNDLED_POSE.is_file():
        pytest.skip("bundled pose model not present")
    bb = create_backbone("hourglass2", pretrained=str(BUNDLED_POSE)).eval()
    state = load_file(str(BUNDLED_POSE))
    for k, v in bb.state_dict().items():
        assert torch.equal(v, state[k]), k
    same = create_backbone("hourglass2", weights=BUNDLED_POSE)
    assert torch.equal(same.stacks[1].lin[0].weight, bb.stacks[1].lin[0].weight)

    # the pose network built from the same file: its stem output is the backbone's stem4 tap; with its heatmap
    # re-injection cut (merge_preds = 0), its MSS heads on the backbone's level taps give its coarse heatmaps
    from structnet.pose2d.model import build_pose_model

    net = build_pose_model(14, stacks=2, features=128, msr_features=128).eval()
    net.load_state_dict(state, strict=True)
    with torch.no_grad():
        net.stacks[0].merge_preds.weight.zero_()
        net.stacks[0].merge_preds.bias.zero_()
        x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
        feats, out = bb(x), net(x)
        for k in (1, 2, 3):
            assert torch.equal(net.stacks[1].mss_heads[k - 1](feats[f"level{k}"]), out["stacks"][1][32 >> k])
        assert torch.equal(net.stacks[1].head(feats["lin"]), out["stacks"][1][32])
    assert [s.name for s in net.feature_specs] == bb.tap_names


def test_weights_errors(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(UserError, match="not found"):
        create_backbone("hourglass2", pretrained=tmp_path / "nope.safetensors")
    small = HourglassBackbone(stacks=1, features=8, depth=2)
    f = tmp_path / "hg.safetensors"
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(f))
    again = load_hourglass_weights(HourglassBackbone(stacks=1, features=8, depth=2), f)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), small.state_dict().values()))
    with pytest.raises(UserError, match="shape mismatch"):
        create_backbone("hourglass", stacks=1, features=16, depth=2, weights=f)
    with pytest.raises(UserError, match="missing"):
        create_backbone("hourglass", stacks=2, features=8, depth=2, weights=f)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(UserError, match="junk.safetensors"):
        create_backbone("hourglass", stacks=1, features=8, depth=2, pretrained=junk)


# ---------------------------------------------------------------- any task picks it by name: skeletons
def test_skeleton_lmsds_on_hourglass2():
    from structnet.skeleton.losses import skeleton_losses
    from structnet.skeleton.model import build_skeleton_model

    torch.manual_seed(0)
    net = build_skeleton_model(method="lmsds", backbone="hourglass2", pretrained=False)
    # the default taps are those with strictly increasing fields (Eq. 1 quantises scales by them)
    taps = net.backbone.increasing_field_taps(net.backbone.tap_names[1:])
    assert net.taps == taps == ["stem4", "level4", "level3", "level2", "lin"]
    with torch.no_grad():
        out = net.eval()(torch.rand(1, 3, 64, 64))
    assert len(out["side_logits"]) == 5 and out["fuse_logits"].shape == (1, 6, 64, 64)
    assert all(t.shape[-2:] == (64, 64) for t in out["side_logits"] + out["side_scale"])

    net = build_skeleton_model(method="lmsds", backbone="hourglass2", pretrained=False,
                               side_init="normal").train()
    scale = torch.zeros(1, 64, 64)
    scale[0, 32, 10:54] = 8.0
    scale[0, 8:56, 20] = 30.0
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    out = net(torch.rand(1, 3, 64, 64))
    assert out["fuse_logits"].shape == (1, len(taps) + 1, 64, 64)
    loss = sum(skeleton_losses(net, out, scale).values())
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert all(torch.isfinite(b).all() for b in net.buffers())
    with torch.no_grad():
        pred = net.eval().predict(torch.rand(1, 3, 64, 64))
    assert pred["skeleton"].shape == (1, 64, 64) and torch.isfinite(pred["skeleton"]).all()
