"""Test-time augmentation of skeleton prediction (multi-scale and flip averaging) and the training-time resize
factors: known answers built from single passes, stored defaults, CLI options and their errors."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structnet.cli import main
from structnet.data.transforms import SKELETON_FACTORS, all_skeleton_augs, sample_skeleton_aug
from structnet.errors import UserError
from structnet.skeleton import inference as I
from structnet.skeleton.model import build_skeleton_model


def _random_net():
    """A tiny LMSDS whose side outputs are far from their (near-constant) initialisation."""
    torch.manual_seed(0)
    net = build_skeleton_model("lmsds", "vgg_tiny", pretrained=False, side_init="normal")
    with torch.no_grad():
        for head in (*net.loc, *net.scale):
            for p in head.parameters():
                p.normal_(0, 1.0)
    return net.eval()


@pytest.fixture(scope="module")
def tiny():
    return _random_net()


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    img = np.zeros((40, 52, 3), np.uint8)
    img[8:32, 20:30] = 200                                # an off-centre bar: not mirror-symmetric
    img[30:36, 5:45] = 120
    return np.clip(img.astype(int) + rng.integers(0, 30, img.shape), 0, 255).astype(np.uint8)


def _single(net, x):
    dec = net.decode(net(x))
    return dec["skeleton"][:, None], dec["scale"][:, None]


def test_default_is_one_plain_pass(tiny, image):
    a = I.predict_maps(tiny, image, precision="float32")
    b = I.predict_maps(tiny, image, precision="float32", scales=[1.0], flip=False)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        sk, sc = _single(tiny, x)
    np.testing.assert_array_equal(a["skeleton"], b["skeleton"])
    np.testing.assert_allclose(a["skeleton"], sk[0, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(a["scale"], sc[0, 0].numpy(), atol=1e-5)


def test_flip_averages_the_mirrored_pass(tiny, image):
    plain = I.predict_maps(tiny, image, precision="float32")
    mirrored = I.predict_maps(tiny, np.ascontiguousarray(image[:, ::-1]), precision="float32")
    both = I.predict_maps(tiny, image, precision="float32", flip=True)
    want = (plain["skeleton"] + mirrored["skeleton"][:, ::-1]) / 2
    np.testing.assert_allclose(both["skeleton"], want, atol=1e-6)
    assert np.abs(plain["skeleton"] - both["skeleton"]).max() > 1e-4    # the flip changed something
    w1, w2 = plain["skeleton"], mirrored["skeleton"][:, ::-1]               # scales: probability-weighted mean
    s_want = (w1 * plain["scale"] + w2 * mirrored["scale"][:, ::-1]) / (w1 + w2)
    np.testing.assert_allclose(both["scale"], s_want, rtol=1e-4, atol=1e-3)


def test_scales_average_the_resized_passes(tiny, image):
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        sk1, sc1 = _single(tiny, x)
        x2 = F.interpolate(x, size=(80, 104), mode="bilinear", align_corners=False)
        sk2, sc2 = _single(tiny, x2)
    sk2 = F.interpolate(sk2, size=(40, 52), mode="bilinear", align_corners=False)
    sc2 = F.interpolate(sc2, size=(40, 52), mode="bilinear", align_corners=False) / 2   # diameters in input pixels
    got = I.predict_maps(tiny, image, precision="float32", scales=(1, 2))
    np.testing.assert_allclose(got["skeleton"], ((sk1 + sk2) / 2)[0, 0].numpy(), atol=1e-6)
    want_scale = ((sk1 * sc1 + sk2 * sc2) / (sk1 + sk2))[0, 0].numpy()
    np.testing.assert_allclose(got["scale"], want_scale, rtol=1e-4, atol=1e-3)
    # with max_side the scales apply to the reduced copy: maps still come back at the input size
    small = I.predict_maps(tiny, image, precision="float32", max_side=26, scales=(1, 2), flip=True)
    assert small["skeleton"].shape == (40, 52) and np.isfinite(small["scale"]).all()


def test_bad_scales_are_refused(tiny, image):
    for bad in ([], [0.0], [1.0, float("nan")], ["x"], [100]):
        with pytest.raises(ValueError, match="scales"):
            I.predict_maps(tiny, image, precision="float32", scales=bad)


def test_predict_image_uses_stored_defaults(image):
    from structnet.hub import LoadedModel

    net = _random_net()
    plain = LoadedModel(network=net, task="skeleton", name="t", source=None, settings={"threshold": 0.5})
    tta = LoadedModel(network=net, task="skeleton", name="t", source=None,
                      settings={"threshold": 0.5, "scales": (1.0, 1.5), "flip": True})
    a = I.predict_image(plain, image, precision="float32")
    b = I.predict_image(tta, image, precision="float32")
    c = I.predict_image(tta, image, precision="float32", scales=[1.0], flip=False)   # the caller overrides
    want = I.predict_maps(net, image, precision="float32", scales=(1.0, 1.5), flip=True)["skeleton"]
    np.testing.assert_allclose(b["skeleton"], want, atol=1e-6)
    np.testing.assert_array_equal(a["skeleton"], c["skeleton"])
    assert np.abs(a["skeleton"] - b["skeleton"]).max() > 1e-4


def test_augmentation_factors():
    assert len(all_skeleton_augs()) == 36 and {a.factor for a in all_skeleton_augs()} == set(SKELETON_FACTORS)
    augs = all_skeleton_augs((2.0, 1.0))
    assert len(augs) == 24 and augs[0].factor == 1.0 and augs[0].k == 0 and augs[0].flip is None
    assert {a.factor for a in augs} == {1.0, 2.0}
    rng = np.random.default_rng(0)
    seen = {sample_skeleton_aug(rng, (0.5, 1.5, 2.5)).factor for _ in range(200)}
    assert seen == {0.5, 1.5, 2.5}
    for bad in ((), (0.0,), (-1.0, 1.0)):
        with pytest.raises(ValueError, match="factors"):
            all_skeleton_augs(bad)


def test_dataset_factors_resize_the_samples():
    from structnet.skeleton.data import SyntheticShapesDataset
    from structnet.skeleton.train import build_dataset
    from structnet.skeleton.config import SkeletonDataConfig

    ds = SyntheticShapesDataset(4, size=(40, 40), seed=1, augment=True)
    ds.factors = (2.0,)
    sizes = {tuple(ds[(i, s)]["image"].shape[1:]) for i in range(4) for s in range(3)}
    assert sizes == {(80, 80)}
    cfg = SkeletonDataConfig(dataset="synthetic", synthetic_n=4, synthetic_size=32, factors=[1.0, 0.5])
    assert build_dataset(cfg).factors == (1.0, 0.5)
    with pytest.raises(ValueError, match="factors"):
        build_dataset(SkeletonDataConfig(dataset="synthetic", synthetic_n=4, factors=[0]))


def test_metadata_defaults_and_errors(tmp_path):
    from structnet.skeleton.task import _tta_from_metadata

    assert _tta_from_metadata({}, tmp_path) == ((1.0,), False)
    assert _tta_from_metadata({"tta_scales": "1,1.5", "tta_flip": "true"}, tmp_path) == ((1.0, 1.5), True)
    with pytest.raises(UserError, match="tta_scales"):
        _tta_from_metadata({"tta_scales": "1,zero"}, tmp_path)
    with pytest.raises(UserError, match="tta_flip"):
        _tta_from_metadata({"tta_flip": "maybe"}, tmp_path)


def test_cli_scales_and_flip(tmp_path, capsys, image):
    from structnet.data.io import write_png

    write_png(tmp_path / "a.png", image)
    weights = tmp_path / "w.safetensors"
    from structnet.nn.weights import save_weights
    net = _random_net()
    from dataclasses import asdict
    from structnet.skeleton.config import SkeletonModelConfig
    cfg = {**asdict(SkeletonModelConfig(backbone="vgg_tiny", pretrained=False)), **net.config()}
    save_weights(net, weights, {"task": "skeleton", "model_config": json.dumps(cfg), "tta_scales": "1,2", "tta_flip": "true"})
    outs = {}
    for name, extra in (("stored", []), ("plain", ["--scales", "1", "--no-flip"])):
        rc = main(["predict", "skeleton", str(tmp_path / "a.png"), "--out", str(tmp_path / name),
                   "--weights", str(weights), "--precision", "float32", *extra])
        assert rc == 0
        outs[name] = np.load(tmp_path / name / "a_skeleton.npz")["skeleton"]
    want = I.predict_maps(net.eval(), image, precision="float32", scales=(1, 2), flip=True)["skeleton"]
    np.testing.assert_allclose(outs["stored"], want, atol=1e-6)
    np.testing.assert_allclose(outs["plain"], I.predict_maps(net, image, precision="float32")["skeleton"], atol=1e-6)
    capsys.readouterr()
    rc = main(["predict", "skeleton", str(tmp_path / "a.png"), "--out", str(tmp_path / "x"), "--scales", "1,0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--scales" in err[0] and "1,0" in err[0]
    assert not (tmp_path / "x").exists()
