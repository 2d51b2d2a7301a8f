"""Skeleton datasets: (index, seed) determinism, SK-LARGE layouts on a tiny fake copy, mask datasets + cache."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from structnet.data.io import ImageReadError
from structnet.data.transforms import sample_skeleton_aug
from structnet.skeleton.data import (MaskSkeletonDataset, SkLargeDataset, SyntheticShapesDataset, parse_key,
                                         read_pair_list, weizmann_horse)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _same(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a)


def _check_sample(s):
    assert s["image"].dtype == np.float32 and s["image"].ndim == 3 and s["image"].shape[0] == 3
    assert 0.0 <= s["image"].min() and s["image"].max() <= 1.0
    assert s["skeleton"].dtype == bool and s["scale"].dtype == np.float32
    assert s["skeleton"].shape == s["scale"].shape == s["image"].shape[1:]
    assert np.array_equal(s["skeleton"], s["scale"] > 0)
    assert isinstance(s["name"], str)


# ----------------------------------------------------------------------------------------------- synthetic
def test_synthetic_deterministic_in_index_and_seed():
    ds = SyntheticShapesDataset(6, size=(64, 80), seed=3, augment=True)
    a = ds[(2, 11)]
    _check_sample(a)
    assert _same(a, ds[(2, 11)])
    assert _same(a, SyntheticShapesDataset(6, size=(64, 80), seed=3, augment=True)[(2, 11)])  # fresh instance
    # the skeleton lies in the mask; after a 0.8x resize a pixel of a thin part may land just outside the
    # nearest-resized mask (forward mapping vs nearest sampling), never more than a few
    assert a["skeleton"].any() and (a["skeleton"] & ~a["mask"]).sum() <= 0.05 * a["skeleton"].sum()
    plain = SyntheticShapesDataset(6, size=(64, 80), seed=3)[2]
    assert not (plain["skeleton"] & ~plain["mask"]).any()
    # another key seed -> another augmentation (the two seeds are chosen to draw different variants)
    assert sample_skeleton_aug(np.random.default_rng(11)) != sample_skeleton_aug(np.random.default_rng(12))
    assert not _same(a, ds[(2, 12)])
    assert _same(ds[2], ds[(2, 2)])  # int key: augmentation seed = index


def test_synthetic_content_depends_on_dataset_seed_not_key_seed_without_augment():
    ds = SyntheticShapesDataset(4, size=64, seed=0)
    assert _same(ds[(1, 5)], ds[(1, 99)]) and _same(ds[1], ds[(1, 5)])
    assert ds[(1, 5)]["image"].shape == (3, 64, 64)
    other = SyntheticShapesDataset(4, size=64, seed=1)
    assert not np.array_equal(ds[1]["image"], other[1]["image"])
    assert not np.array_equal(ds[0]["image"], ds[1]["image"])
    assert ds[1]["name"] == "synth_000001" and len(ds) == 4


def test_synthetic_is_learnable_but_noisy():
    ds = SyntheticShapesDataset(12, size=(96, 96), seed=7)
    contrasts, noise = [], []
    for i in range(len(ds)):
        s = ds[i]
        _check_sample(s)
        img, m = s["image"], s["mask"]
        assert 0.005 < m.mean() < 0.9
        contrasts.append(np.abs(img[:, m].mean(1) - img[:, ~m].mean(1)).mean())
        noise.append(img[:, ~m].std(1).mean())
        assert 2.0 <= s["scale"][s["skeleton"]].min() and s["scale"].max() < 96
    assert np.median(contrasts) > 0.08        # object differs from background on average ...
    assert np.median(noise) > 0.03            # ... but the background is textured / noisy
    sc = np.concatenate([ds[i]["scale"][ds[i]["skeleton"]] for i in range(6)])
    assert sc.min() < 10 and sc.max() > 20    # a range of widths


def test_keys_and_bad_arguments():
    assert parse_key(3, 5) == (3, None) and parse_key((np.int64(4), 7), 5) == (4, 7) and parse_key(-1, 5) == (4, None)
    with pytest.raises(IndexError):
        parse_key(5, 5)
    with pytest.raises(TypeError):
        parse_key("0", 5)
    with pytest.raises(TypeError):
        parse_key((1, 2, 3), 5)
    with pytest.raises(ValueError):
        SyntheticShapesDataset(0)


# ------------------------------------------------------------------------------------------------ SK-LARGE
_IDS = ["000c9ccdec1008471a33b4dc5f02a323", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "ffeeddccbbaa99887766554433221100"]


def _fake_sk_large(root: Path, split="train"):
    """Tiny copy in the published layout: <split>/im/*.jpg, <split>/gt/*.png, <split>/<split>_pair.lst (CRLF)."""
    rng = np.random.default_rng(0)
    (root / split / "im").mkdir(parents=True)
    (root / split / "gt").mkdir(parents=True)
    gts = {}
    lines = []
    for k, i in enumerate(_IDS):
        h, w = 40 + 8 * k, 60
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(img if k != 1 else img[..., 0]).save(root / split / "im" / f"{i}.jpg", quality=95)
        gt = np.zeros((h, w), np.uint8)
        gt[h // 2, 10:50] = rng.integers(2, 60, 40)
        gt[5:h - 5, 30] = 17
        Image.fromarray(gt).save(root / split / "gt" / f"{i}.png")
        gts[i] = gt
        lines.append(f"{split}/im/{i}.jpg {split}/gt/{i}.png")
    (root / split / f"{split}_pair.lst").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return gts


@pytest.fixture
def gtio():
    return pytest.importorskip("structnet.skeleton.gtio", reason="structnet.skeleton.gtio not written yet")


def test_pair_list_crlf(tmp_path):
    _fake_sk_large(tmp_path)
    pairs = read_pair_list(tmp_path / "train" / "train_pair.lst", root=tmp_path)
    assert len(pairs) == 3 and pairs[0][0] == tmp_path / "train" / "im" / f"{_IDS[0]}.jpg"
    assert not str(pairs[0][1]).endswith("\r")
    bad = tmp_path / "bad.lst"
    bad.write_text("a.jpg b.png\r\nonly_one_field\r\n")
    with pytest.raises(ValueError, match=r"bad.lst:2"):
        read_pair_list(bad)


def test_sk_large_png_layout(tmp_path, gtio):
    gts = _fake_sk_large(tmp_path)
    ds = SkLargeDataset(tmp_path, split="train")
    assert len(ds) == 3 and ds.names == _IDS
    for i, name in enumerate(_IDS):
        s = ds[i]
        _check_sample(s)
        assert s["name"] == name
        assert np.array_equal(s["skeleton"], gts[name] > 0)
        assert np.array_equal(s["scale"], gts[name].astype(np.float32))
    assert np.ptp(ds[1]["image"], axis=0).max() == 0           # greyscale JPEG -> 3 equal channels
    # max_side: halves the 60-px side, scales x 0.5, skeleton pixels of the sparse column all kept
    half = SkLargeDataset(tmp_path, split="train", max_side=30)[0]
    assert half["image"].shape == (3, 20, 30)
    assert np.isclose(half["scale"].max(), gts[_IDS[0]].max() * 0.5)
    # augmentation: one of the 36 variants, scales x factor
    aug = SkLargeDataset(tmp_path, split="train", augment=True)
    a = aug[(0, 4)]
    _check_sample(a)
    f = sample_skeleton_aug(np.random.default_rng(4)).factor
    assert np.isclose(a["scale"].max(), gts[_IDS[0]].max() * f, rtol=1e-5)
    assert _same(a, aug[(0, 4)])
    with pytest.raises(ValueError, match="split must be one of"):
        SkLargeDataset(tmp_path, split="valid")
    # the validation split carved out of train: every 10th image (here the first of 3), train-val the others
    assert SkLargeDataset(tmp_path, split="val").names == _IDS[:1]
    assert SkLargeDataset(tmp_path, split="train-val").names == _IDS[1:]
    with pytest.raises(ValueError, match="not found"):
        SkLargeDataset(tmp_path, split="test")


def test_sk_large_saturated_gt_is_a_scale_map(tmp_path, gtio):
    """A published test GT (fda74a5f...) has every skeleton pixel saturated at 255: values {0, 255}. It is a
    scale map (scale 255 px), not a binary skeleton; the reader must not refuse it for lacking scales."""
    _fake_sk_large(tmp_path)
    gt = np.zeros((40, 60), np.uint8)
    gt[20, 5:55] = 255
    Image.fromarray(gt).save(tmp_path / "train" / "gt" / f"{_IDS[0]}.png")
    s = SkLargeDataset(tmp_path)[0]
    assert np.array_equal(s["skeleton"], gt > 0) and np.all(s["scale"][gt > 0] == 255)
    with pytest.raises(ValueError, match="no scale"):
        SkLargeDataset(tmp_path, gt_kind="auto")[0]
    with pytest.raises(ValueError, match="gt_kind"):
        SkLargeDataset(tmp_path, gt_kind="rgb")


def test_sk_large_bad_files_named(tmp_path, gtio):
    _fake_sk_large(tmp_path)
    bad_im = tmp_path / "train" / "im" / f"{_IDS[0]}.jpg"
    bad_im.write_text("garbage")
    ds = SkLargeDataset(tmp_path)
    with pytest.raises(ImageReadError, match=_IDS[0]):
        ds[0]
    gt2 = tmp_path / "train" / "gt" / f"{_IDS[2]}.png"
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(gt2)        # wrong size
    with pytest.raises(ValueError) as ei:
        ds[2]
    assert str(gt2) in str(ei.value) and _IDS[2] + ".jpg" in str(ei.value)


def test_sk_large_folder_pairing(tmp_path, gtio):
    gts = _fake_sk_large(tmp_path)
    ds = SkLargeDataset(image_dir=tmp_path / "train" / "im", gt_dir=tmp_path / "train" / "gt")
    assert ds.names == _IDS and np.array_equal(ds[2]["skeleton"], gts[_IDS[2]] > 0)
    (tmp_path / "train" / "gt" / f"{_IDS[1]}.png").unlink()
    with pytest.raises(ValueError, match=_IDS[1]):
        SkLargeDataset(image_dir=tmp_path / "train" / "im", gt_dir=tmp_path / "train" / "gt")


# ----------------------------------------------------------------------------------------- mask datasets
def _fake_masks(root: Path, n=3):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k in range(n):
        img = np.full((30, 50, 3), 40 * k, np.uint8)
        m = np.zeros((30, 50), np.uint8)
        m[8:8 + 5 + 2 * k, 5:45] = 255
        Image.fromarray(img).save(root / "images" / f"obj{k}.jpg")
        Image.fromarray(m).save(root / "masks" / f"obj{k}.png")
    return [f"obj{k}" for k in range(n)]


def test_mask_dataset_gt_and_disk_cache(tmp_path):
    names = _fake_masks(tmp_path / "data")
    cache = tmp_path / "cache"
    ds = MaskSkeletonDataset(tmp_path / "data" / "images", tmp_path / "data" / "masks", names, cache_dir=cache)
    s = ds[1]
    _check_sample(s)
    assert s["mask"].dtype == bool and s["mask"].sum() == 7 * 40
    inner = s["skeleton"][:, 12:38]
    assert np.nonzero(inner.any(1))[0].tolist() == [11] and np.allclose(s["scale"][:, 12:38][inner], 8.0)
    assert (cache / "obj1.npz").is_file()
    ds2 = MaskSkeletonDataset(tmp_path / "data" / "images", tmp_path / "data" / "masks", names, cache_dir=cache)
    assert _same(ds2[1], s)                                        # served from the disk cache
    with np.load(cache / "obj1.npz") as z:
        assert len(z["idx"]) == s["skeleton"].sum()
    aug = MaskSkeletonDataset(tmp_path / "data" / "images", tmp_path / "data" / "masks", names, augment=True)
    a = aug[(2, 3)]
    assert a["mask"].shape == a["skeleton"].shape and (a["skeleton"] & ~a["mask"]).sum() <= 2
    with pytest.raises(ValueError, match="inside the data folder"):
        MaskSkeletonDataset(tmp_path / "data" / "images", tmp_path / "data" / "masks", names,
                            cache_dir=tmp_path / "data" / "masks" / "cache")
    (tmp_path / "data" / "masks" / "obj0.png").unlink()
    with pytest.raises(ImageReadError, match="obj0.png"):
        ds[0]


def test_weizmann_horse_real_split():
    root = SHARED / "weizmann-horse"
    if not (root / "train.txt").is_file():
        pytest.skip(f"Weizmann Horse not available at {root}")
    tr, te = weizmann_horse(root, "train", max_side=160), weizmann_horse(root, "test")
    assert len(tr) == 228 and len(te) == 100
    assert tr.names[0] == "horse001" and te.names[0] == "horse229" and te.names[-1] == "horse328"
    s = tr[0]
    _check_sample(s)
    assert max(s["image"].shape[1:]) == 160 and s["skeleton"].sum() > 20
    with pytest.raises(ValueError, match="split"):
        weizmann_horse(root, "val")


def test_sk_large_mat_layout_scale_from_edge(tmp_path, gtio):
    """Original form: images/<split>/*.jpg + groundTruth/<split>/*.mat with binary `symmetry` and `edge`."""
    import scipy.io

    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "groundTruth" / "train").mkdir(parents=True)
    h, w = 24, 40
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(tmp_path / "images" / "train" / "a1.jpg")
    edge = np.zeros((h, w), np.uint8)
    edge[4, 5:35] = edge[16, 5:35] = 1           # object rows 4..16: boundary rows 4 and 16
    edge[4:17, 5] = edge[4:17, 34] = 1
    sym = np.zeros((h, w), np.uint8)
    sym[10, 12:28] = 1                           # d = 6 -> v = 12
    sym[4, 30] = 1                               # on the boundary: d = 0 -> v = 2
    scipy.io.savemat(tmp_path / "groundTruth" / "train" / "a1.mat", {"symmetry": sym, "edge": edge})
    ds = SkLargeDataset(tmp_path, split="train")
    s = ds[0]
    _check_sample(s)
    assert ds.names == ["a1"] and np.array_equal(s["skeleton"], sym > 0)
    assert np.allclose(s["scale"][10, 12:28], 12.0) and s["scale"][4, 30] == 2.0
    # the PNG form of the same GT gives the same sample
    (tmp_path / "train" / "im").mkdir(parents=True)
    (tmp_path / "train" / "gt").mkdir(parents=True)
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(tmp_path / "train" / "im" / "a1.jpg")
    Image.fromarray(s["scale"].astype(np.uint8)).save(tmp_path / "train" / "gt" / "a1.png")
    (tmp_path / "train" / "train_pair.lst").write_bytes(b"train/im/a1.jpg train/gt/a1.png\r\n")
    assert _same(SkLargeDataset(tmp_path, split="train")[0], s)


def test_sk_large_binary_gt_without_scale_is_refused(tmp_path, gtio):
    (tmp_path / "im").mkdir()
    (tmp_path / "gt").mkdir()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(tmp_path / "im" / "b.jpg")
    g = np.zeros((10, 12), np.uint8)
    g[5, 2:10] = 255
    Image.fromarray(g).save(tmp_path / "gt" / "b.png")
    ds = SkLargeDataset(image_dir=tmp_path / "im", gt_dir=tmp_path / "gt")
    with pytest.raises(ValueError, match=r"b\.png.*no scale"):
        ds[0]
