"""Joint geometric transforms: skeleton GT under rot/flip/resize, keypoints follow the image, flip_pairs."""
import numpy as np
import pytest

from structnet.data import transforms as T


def _sparse_skeleton(h=30, w=40, seed=0, spacing=4):
    """Isolated skeleton pixels (>= spacing apart) with distinct scales."""
    rng = np.random.default_rng(seed)
    sk = np.zeros((h, w), bool)
    ys, xs = np.mgrid[1:h - 1:spacing, 1:w - 1:spacing]
    keep = rng.random(ys.shape) < 0.6
    sk[ys[keep], xs[keep]] = True
    scale = np.where(sk, rng.uniform(2, 50, (h, w)), 0).astype(np.float32)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return {"image": img, "skeleton": sk, "scale": scale, "mask": sk.copy(), "name": "x"}


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("axis", [None, "lr", "ud"])
def test_rot_flip_exact_and_count_preserving(k, axis):
    s = _sparse_skeleton()
    out = T.flip(T.rot90(s, k), axis)
    ref = np.rot90(s["skeleton"], k)
    ref = ref if axis is None else np.flip(ref, 1 if axis == "lr" else 0)
    assert np.array_equal(out["skeleton"], ref)
    assert out["skeleton"].sum() == s["skeleton"].sum()
    assert np.array_equal(np.sort(out["scale"][out["skeleton"]]), np.sort(s["scale"][s["skeleton"]]))
    assert out["image"].shape == (ref.shape + (3,))
    assert out["name"] == "x"  # role-less keys pass through


@pytest.mark.parametrize("factor", [0.8, 1.2, 2.0, 0.5])
def test_resize_skeleton_forward_mapping_and_scale_factor(factor):
    s = _sparse_skeleton()
    out = T.resize(s, factor=factor)
    h, w = s["skeleton"].shape
    assert out["skeleton"].shape == (round(h * factor), round(w * factor))
    assert out["image"].shape[:2] == out["skeleton"].shape and out["mask"].shape == out["skeleton"].shape
    # isolated pixels (>= 4 apart): none lost, none smeared, even at 0.5x
    assert out["skeleton"].sum() == s["skeleton"].sum()
    assert np.array_equal(out["skeleton"], out["scale"] > 0)
    assert np.allclose(np.sort(out["scale"][out["skeleton"]]), np.sort(s["scale"][s["skeleton"]]) * factor, rtol=1e-6)
    # each source pixel lands on floor((y + 0.5) f), floor((x + 0.5) f)
    ys, xs = np.nonzero(s["skeleton"])
    fy, fx = out["skeleton"].shape[0] / h, out["skeleton"].shape[1] / w
    assert out["skeleton"][np.floor((ys + 0.5) * fy).astype(int), np.floor((xs + 0.5) * fx).astype(int)].all()


def test_resize_dense_line_downscale_merges_not_smears():
    sk = np.zeros((20, 50), bool)
    sk[10, 5:45] = True
    s = {"skeleton": sk, "scale": np.where(sk, 8.0, 0).astype(np.float32)}
    out = T.resize(s, factor=0.8)
    rows = np.nonzero(out["skeleton"].any(1))[0]
    assert rows.tolist() == [8]                         # stays one pixel thick
    assert out["skeleton"].sum() == 32                   # 40 px -> 32 px, contiguous
    assert np.allclose(out["scale"][out["skeleton"]], 6.4)


def test_resize_max_side_and_random_crop_keep_scales():
    s = _sparse_skeleton(60, 80)
    out = T.resize_max_side(s, 40)
    assert out["skeleton"].shape == (30, 40)
    assert np.isclose(out["scale"].max(), s["scale"].max() * 0.5)
    assert T.resize_max_side(s, 100)["skeleton"].shape == (60, 80)     # no upscale by default
    rng = np.random.default_rng(0)
    c = T.random_crop(s, (20, 30), rng)
    assert c["image"].shape == (20, 30, 3) and c["skeleton"].shape == (20, 30)
    assert set(np.round(c["scale"][c["skeleton"]], 4)) <= set(np.round(s["scale"][s["skeleton"]], 4))
    big = T.random_crop(s, 100, np.random.default_rng(1))               # larger than input: padded
    assert big["skeleton"].shape == (100, 100) and big["skeleton"].sum() == s["skeleton"].sum()
    assert np.array_equal(big["image"][:60, :80], s["image"]) and not big["image"][60:].any()


def _dot_image(h, w, x, y):
    img = np.zeros((h, w), np.float32)
    img[y, x] = 1.0
    return img


@pytest.mark.parametrize("op", ["rot1", "rot2", "rot3", "lr", "ud", "resize2"])
def test_keypoints_follow_a_drawn_dot_exact(op):
    h, w, x, y = 17, 23, 5, 3
    s = {"image": _dot_image(h, w, x, y), "keypoints": np.array([[x, y, 1.0]])}
    if op.startswith("rot"):
        out = T.rot90(s, int(op[-1]))
    elif op in ("lr", "ud"):
        out = T.flip(s, op)
    else:
        out = T.resize(s, factor=2.0)  # dot becomes a 2x2 block whose centre is the keypoint
    img, kp = out["image"], out["keypoints"][0]
    ys, xs = np.nonzero(img > 0.2)
    wts = img[ys, xs]
    assert np.isclose((xs * wts).sum() / wts.sum(), kp[0], atol=0.05)
    assert np.isclose((ys * wts).sum() / wts.sum(), kp[1], atol=0.05)
    assert kp[2] == 1.0


@pytest.mark.parametrize("angle,scale", [(30.0, 1.0), (-75.0, 1.3), (90.0, 0.7)])
def test_keypoints_follow_blob_under_affine(angle, scale):
    h, w = 64, 80
    kx, ky = 50.3, 20.6
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - kx) ** 2 + (yy - ky) ** 2) / (2 * 2.0 ** 2)).astype(np.float32)
    lab = np.zeros((h, w), np.int32)
    lab[int(round(ky)), int(round(kx))] = 7
    s = {"image": blob, "mask": lab, "keypoints": np.array([[kx, ky, 2.0], [500.0, 5.0, 2.0]])}
    out = T.rotate(s, angle, scale=scale)
    img = out["image"]
    cx, cy = (img * xx).sum() / img.sum(), (img * yy).sum() / img.sum()
    kp = out["keypoints"]
    assert abs(cx - kp[0, 0]) < 0.15 and abs(cy - kp[0, 1]) < 0.15
    assert kp[0, 2] == 2.0 and kp[1, 2] == 0.0       # inside keeps visibility, outside -> 0
    ly, lx = np.nonzero(out["mask"] == 7)
    assert out["mask"].dtype == np.int32 and abs(lx.mean() - kp[0, 0]) <= 1.0 and abs(ly.mean() - kp[0, 1]) <= 1.0


def test_rotate_90_matches_rot90_on_labels():
    lab = np.arange(36, dtype=np.int32).reshape(6, 6)
    out = T.rotate({"mask": lab}, 90.0)
    assert np.array_equal(out["mask"], np.rot90(lab, 1))


def test_affine_skeleton_scales_and_count():
    s = _sparse_skeleton(40, 40, spacing=6)
    m = T.affine_matrix((19.5, 19.5), angle=45.0, scale=1.5, translate=(20.0, 20.0))  # all points stay inside
    out = T.affine(s, m, out_size=(80, 80))
    assert out["skeleton"].shape == (80, 80)
    assert np.array_equal(out["skeleton"], out["scale"] > 0)
    assert out["skeleton"].sum() == s["skeleton"].sum()                  # nothing lost or smeared
    assert np.allclose(np.sort(out["scale"][out["skeleton"]]), np.sort(s["scale"][s["skeleton"]]) * 1.5, rtol=1e-5)
    ys, xs = np.nonzero(s["skeleton"])
    p = T.transform_points(np.stack([xs, ys], 1), m)
    assert out["skeleton"][np.floor(p[:, 1] + 0.5).astype(int), np.floor(p[:, 0] + 0.5).astype(int)].all()


def test_flip_pairs_swap():
    kp = np.array([[2.0, 1.0, 1], [8.0, 1.0, 1], [3.0, 5.0, 1], [7.0, 6.0, 0]])
    s = {"image": np.zeros((10, 12, 3), np.uint8), "keypoints": kp}
    pairs = [(0, 1), (2, 3)]
    out = T.flip(s, "lr", flip_pairs=pairs)["keypoints"]
    # row 0 (e.g. "left wrist") now holds the mirrored former right wrist
    assert out[0].tolist() == [12 - 1 - 8.0, 1.0, 1]
    assert out[1].tolist() == [12 - 1 - 2.0, 1.0, 1]
    assert out[2].tolist() == [12 - 1 - 7.0, 6.0, 0] and out[3].tolist() == [12 - 1 - 3.0, 5.0, 1]
    back = T.flip(T.flip(s, "lr", flip_pairs=pairs), "lr", flip_pairs=pairs)["keypoints"]
    assert np.array_equal(back, kp)
    assert np.array_equal(T.rot90(s, 2)["keypoints"][:, 2], kp[:, 2])         # rotations do not swap
    ud = T.flip(s, "ud", flip_pairs=pairs)["keypoints"]                          # any mirror swaps
    assert ud[0].tolist() == [8.0, 10 - 1 - 1.0, 1]
    m = np.array([[-1.0, 0, 11], [0, 1, 0]])                                     # affine mirror swaps too
    assert np.allclose(T.affine(s, m, flip_pairs=pairs)["keypoints"], out)
    assert T.flip_permutation(pairs, 5).tolist() == [1, 0, 3, 2, 4]
    with pytest.raises(ValueError):
        T.flip_permutation([(0, 9)], 4)
    multi = T.flip({"image": s["image"], "keypoints": np.stack([kp, kp])}, "lr", flip_pairs=pairs)["keypoints"]
    assert multi.shape == (2, 4, 3) and np.allclose(multi[1], out)               # (N, K, 3) supported


def test_skeleton_augmentation_set_and_sampling():
    augs = T.all_skeleton_augs()
    assert len(augs) == 36 and len(set(augs)) == 36
    assert augs[0] == T.SkeletonAug(0, None, 1.0)
    assert {a.k for a in augs} == {0, 1, 2, 3} and {a.flip for a in augs} == {None, "ud", "lr"}
    assert {a.factor for a in augs} == {0.8, 1.0, 1.2}
    assert T.sample_skeleton_aug(np.random.default_rng(5)) == T.sample_skeleton_aug(np.random.default_rng(5))
    rng = np.random.default_rng(0)
    seen = {T.sample_skeleton_aug(rng) for _ in range(400)}
    assert len(seen) == 36
    s = _sparse_skeleton()
    a = T.SkeletonAug(1, "lr", 1.2)
    out = T.apply_skeleton_aug(s, a)
    assert out["skeleton"].shape == (round(40 * 1.2), round(30 * 1.2))
    assert out["skeleton"].sum() == s["skeleton"].sum()
    assert np.isclose(out["scale"].max(), s["scale"].max() * 1.2)


def test_bad_inputs():
    with pytest.raises(ValueError, match="size"):
        T.rot90({"image": np.zeros((4, 5, 3)), "mask": np.zeros((5, 4), bool)}, 1)
    with pytest.raises(ValueError, match="flip axis"):
        T.flip({"image": np.zeros((4, 5, 3))}, "diag")
    with pytest.raises(ValueError, match="exactly one"):
        T.resize({"image": np.zeros((4, 5, 3))})
    with pytest.raises(ValueError, match="singular"):
        T.affine({"image": np.zeros((4, 5, 3))}, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="keypoints"):
        T.flip({"image": np.zeros((4, 5, 3)), "keypoints": np.zeros((3, 4))}, "lr")
