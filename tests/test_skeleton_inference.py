"""Skeleton prediction: post-processing at the network's resolution, resizing of the results, writing."""
import io
import sys

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from structnet import hub
from structnet.skeleton import evaluate as E
from structnet.skeleton import inference as I
from structnet.skeleton.postprocess import resize_nearest, thin, thin_skeleton, upscale_thin
from structnet.skeleton.segments import object_segments, segments_from_skeleton
from structnet.skeleton.writer import colorize_labels, overlay, write_result

EIGHT = np.ones((3, 3), int)


@pytest.fixture(scope="module")
def net():
    return hub.load(task="skeleton")


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


# ---------------------------------------------------------------- resizing helpers (known answers)

def test_resize_nearest_known_answers():
    a = np.array([[1, 2], [3, 4]], np.int32)
    assert (resize_nearest(a, (4, 4)) == np.kron(a, np.ones((2, 2), np.int32))).all()
    r = resize_nearest(a, (3, 3))                     # centres: floor((i + .5) * 2 / 3) = 0, 1, 1
    assert r.dtype == np.int32 and (r == [[1, 2, 2], [3, 4, 4], [3, 4, 4]]).all()
    f = np.array([[0.5, 7.25]], np.float32)
    # centres floor((i + .5) * 2 / 5) = 0, 0, 1, 1, 1: values copied, never mixed
    assert (resize_nearest(f, (2, 5)) == [[0.5, 0.5, 7.25, 7.25, 7.25]] * 2).all()
    with pytest.raises(ValueError):
        resize_nearest(np.zeros((2, 2, 3)), (4, 4))


def test_upscale_thin_known_answers():
    t = np.zeros((3, 3), bool)
    t[1, :] = True
    up = upscale_thin(t, (9, 9))                      # centres x = 0, 1, 2 -> 1, 4, 7; row 1 -> 4
    want = np.zeros((9, 9), bool)
    want[4, 1:8] = True
    assert (up == want).all()
    d = np.eye(4, dtype=bool)                         # diagonal: stays a one-pixel-wide 8-connected diagonal
    up = upscale_thin(d, (12, 12))
    assert (up == np.eye(12, dtype=bool)[:, :] & (np.arange(12)[:, None] >= 1) & (np.arange(12)[None, :] <= 10)).all()
    assert upscale_thin(np.zeros((5, 6), bool), (50, 60)).sum() == 0
    assert (upscale_thin(t, (3, 3)) == t).all()


def test_upscale_thin_keeps_lines_thin_and_parts():
    img = np.zeros((60, 80), np.uint8)
    cv2.polylines(img, [np.array([[5, 5], [40, 30], [70, 10]], np.int32)], False, 1, 3)
    cv2.circle(img, (30, 45), 8, 1, 2)
    t = thin(img > 0)
    _, n_small = ndi.label(t, EIGHT)
    up = upscale_thin(t, (600, 800))
    assert (thin(up) == up).all()                     # one pixel wide
    _, n_up = ndi.label(up, EIGHT)
    assert n_up == n_small == 2                       # same parts, no gaps
    ys, xs = np.nonzero(t)                            # every skeleton pixel lands on its destination pixel
    assert up[(ys * 10 + 5), (xs * 10 + 5)].mean() > 0.9
    assert 8 * t.sum() < up.sum() < 12 * t.sum()      # length scales with the factor (10)


# ---------------------------------------------------------------- predict_image

def test_predict_image_without_resize_equals_full_size_pipeline(net, astronaut):
    img = cv2.resize(astronaut, (160, 128), interpolation=cv2.INTER_AREA)
    res = I.predict_image(net, img, precision="float32", threshold=0.6)
    maps = I.predict_maps(net, img, precision="float32")
    assert (res["skeleton"] == maps["skeleton"]).all() and (res["scale"] == maps["scale"]).all()
    t = thin_skeleton(maps["skeleton"], 0.6)
    labels, t_obj, pieces = object_segments(t, maps["scale"])
    assert (res["thin"] == t_obj).all() and t.sum() > 0 and not (t & ~t_obj & (labels > 0)).any()
    assert (res["labels"] == labels).all() and res["pieces"] == pieces == segments_from_skeleton(t, maps["scale"]).max()
    parts = I.predict_image(net, img, precision="float32", threshold=0.6, segments="parts")
    assert (parts["thin"] == t).all() and (parts["labels"] == segments_from_skeleton(t, maps["scale"])).all()
    assert (res["height"], res["width"], res["network_height"], res["network_width"]) == (128, 160, 128, 160)
    assert res["threshold"] == 0.6 and res["skeleton_pixels"] == int(t_obj.sum())
    assert res["segments"] == int(res["labels"].max()) >= 1
    assert res["skeleton"].dtype == np.float32 and res["scale"].dtype == np.float32
    assert res["thin"].dtype == bool and res["labels"].dtype == np.int32


def test_predict_image_post_processes_large_image_at_network_size(net, astronaut, monkeypatch):
    img = cv2.resize(astronaut, (3000, 2400), interpolation=cv2.INTER_CUBIC)
    calls = {}
    real_thin, real_seg = I.thin_skeleton, I.object_segments

    def rec_thin(skel, t):
        calls["thin"] = skel.shape
        calls["skel_net"] = skel.copy()
        return real_thin(skel, t)

    def rec_seg(th, sc, mode, min_area):
        calls["segments"] = (th.shape, sc.shape, mode, min_area)
        calls["scale_net"] = sc.copy()
        calls["labels_net"], calls["thin_net"], pieces = real_seg(th, sc, mode, min_area)
        return calls["labels_net"], calls["thin_net"], pieces

    monkeypatch.setattr(I, "thin_skeleton", rec_thin)
    monkeypatch.setattr(I, "object_segments", rec_seg)
    res = I.predict_image(net, img, max_side=256, precision="float32", threshold=0.5)
    net_shape = (205, 256)                            # 2400 x 256 / 3000 = 204.8
    assert (res["network_height"], res["network_width"]) == net_shape
    assert calls["thin"] == net_shape and calls["segments"] == (net_shape, net_shape, "objects", 0.05)
    # outputs at the input size
    for k in ("skeleton", "scale", "thin", "labels"):
        assert res[k].shape == (2400, 3000), k
    assert (res["height"], res["width"]) == (2400, 3000)
    f = 256 / 3000
    # skeleton: the network map resized bilinearly; scale: nearest, times the resize factor
    assert abs(float(res["skeleton"].mean()) - float(calls["skel_net"].mean())) < 0.01
    assert np.allclose(res["scale"], resize_nearest(calls["scale_net"], (2400, 3000)) / f, rtol=1e-5)
    # labels: nearest from the network-size segments; same segments
    assert (res["labels"] == resize_nearest(calls["labels_net"], (2400, 3000))).all()
    assert res["segments"] == int(calls["labels_net"].max()) >= 1
    # thin: one pixel wide at input size, as many parts as at network size, length scaled by ~1/f
    th = res["thin"]
    assert (thin(th) == th).all()
    n_net = int(calls["thin_net"].sum())
    assert n_net > 20 and 0.7 * n_net / f < res["skeleton_pixels"] < 1.6 * n_net / f
    assert ndi.label(th, EIGHT)[1] == ndi.label(calls["thin_net"], EIGHT)[1]
    assert (res["labels"][th] > 0).mean() > 0.95      # thin lines lie inside their segments
    mx = float(res["skeleton"].max())                 # thin pixels lie where the map is above the threshold
    assert (res["skeleton"][th] >= 0.45 * mx).mean() > 0.95
    assert (res["skeleton"] >= 0.5 * mx).sum() > 5 * res["skeleton_pixels"]   # ... and are a thin subset of it


def test_predict_image_threshold_default_and_no_net_attributes(net, astronaut):
    img = cv2.resize(astronaut, (96, 96), interpolation=cv2.INTER_AREA)
    bare = net.network
    assert not hasattr(bare, "threshold") and not hasattr(bare, "metadata")   # nothing bolted onto the module
    res = I.predict_image(bare, img, precision="float32")
    assert res["threshold"] == I.DEFAULT_THRESHOLD == 0.5
    t = net.settings["threshold"]
    assert 0 < t < 1 and t != 0.5
    assert I.predict_image(net, img, precision="float32")["threshold"] == t     # a LoadedModel brings its own


# ---------------------------------------------------------------- writing

def test_overlay_and_colorize_known_answers():
    img = np.full((4, 5, 3), 100, np.uint8)
    labels = np.zeros((4, 5), np.int32)
    labels[0, 4] = 1
    thin_map = np.zeros((4, 5), bool)
    thin_map[3, 0] = True
    col = colorize_labels(labels)
    assert (col[labels == 0] == 0).all() and (col[0, 4] >= 60).all()
    many = np.arange(600, dtype=np.int32).reshape(20, 30)          # > 255 labels: palette gather path
    big = colorize_labels(many)
    assert (colorize_labels(many % 200) == big[many % 200 // 30, many % 200 % 30]).all()  # LUT path, same palette
    o = overlay(img, thin_map, labels)
    assert o.dtype == np.uint8 and o.shape == img.shape
    assert (o[0, 0] == 60).all()                                    # 0.6 x image
    assert (o[0, 4] == np.round(30 + 0.5 * col[0, 4].astype(float))).all()   # 0.3 x image + 0.5 x colour
    assert (o[2:, :2] == (255, 20, 20)).all() and (o[0, 2] == 60).all()      # skeleton dilated to 3 px


def test_write_result_names_and_contents(net, astronaut, tmp_path):
    img = cv2.resize(astronaut, (120, 90), interpolation=cv2.INTER_AREA)
    res = I.predict_image(net, img, precision="float32", threshold=0.5)
    a = write_result(res, img, tmp_path, "photo")
    b = write_result(res, img, tmp_path, "photo-1")                 # a caller keeps colliding stems apart
    assert [p.name for p in a] == ["photo_skeleton.png", "photo_skeleton_overlay.png", "photo_skeleton_segments.png",
                                  "photo_skeleton.npz"]
    assert all(p.is_file() for p in a + b) and len({p.name for p in a + b}) == 8
    sk = cv2.imread(str(a[0]), cv2.IMREAD_UNCHANGED)
    assert sk.shape == (90, 120) and sk.dtype == np.uint16 and (sk == np.round(res["skeleton"] * 65535)).all()
    assert cv2.imread(str(a[1])).shape == (90, 120, 3)
    z = np.load(a[3])
    assert sorted(z.files) == ["scale", "skeleton", "thin"]
    assert (z["thin"] == res["thin"]).all() and (z["scale"] == res["scale"]).all()
    assert z["skeleton"].dtype == np.float32 and (z["skeleton"] == res["skeleton"]).all()
    assert not list(tmp_path.glob("*.tmp*"))
    with pytest.raises(ValueError):
        write_result(res, img, tmp_path, "../x")
    with pytest.raises(ValueError):
        write_result(res, img[:10], tmp_path, "bad")


def test_predict_names_and_threshold(net, astronaut, tmp_path):
    """The one predict path (task predictor + writer): output names and the threshold (given, or the model's)."""
    from structnet import tasks
    from structnet.data.io import write_png
    from structnet.skeleton.config import SkeletonPredictOptions
    from structnet.tasks.run import predict

    src = write_png(tmp_path / "in" / "a_2.png", cv2.resize(astronaut, (100, 80), interpolation=cv2.INTER_AREA))
    out = tmp_path / "out"
    task = tasks.get("skeleton")
    rep = predict(task, net, [src], out, SkeletonPredictOptions(precision="float32", threshold=0.7))
    r = rep.results[0][1]
    assert r["threshold"] == 0.7 and (r["height"], r["width"]) == (80, 100)
    assert sorted(p.name for p in out.iterdir()) == ["a_2_skeleton.npz", "a_2_skeleton.png",
                                                    "a_2_skeleton_overlay.png", "a_2_skeleton_segments.png"]
    rep = predict(task, net, [src], out, SkeletonPredictOptions(precision="float32"), overwrite=True)
    assert rep.results[0][1]["threshold"] == pytest.approx(net.settings["threshold"])   # the model's ODS threshold


# ---------------------------------------------------------------- evaluate.py progress bars

class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def _run_eval(net, monkeypatch, tty):
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    rng = np.random.default_rng(0)
    ds = []
    for i in range(2):
        sk = np.zeros((48, 64), bool)
        sk[24, 10:54] = True
        mask = np.zeros((48, 64), np.int32)
        mask[18:31, 8:56] = 1
        ds.append({"image": rng.random((3, 48, 64)).astype(np.float32), "skeleton": sk, "mask": mask,
                   "name": f"s{i}"})
    out = E.evaluate_model(net, ds, thresholds=5, precision="float32", workers=1, segments=True, progress=True)
    return out, stream.getvalue()


def test_evaluate_progress_only_on_a_terminal(net, monkeypatch):
    out, err = _run_eval(net, monkeypatch, tty=False)
    assert err == "" and out["n_images"] == 2                       # pipes and logs stay clean
    out, err = _run_eval(net, monkeypatch, tty=True)
    assert "/2 [" in err and "segments" in err and out["n_images"] == 2   # tqdm bars over the 2 images


def test_fast_network_input_matches_float_resize(astronaut):
    """predict_image reduces uint8 photos in uint8 (no full-size float copy); predict_maps (evaluation) keeps the
    float path.  Both are the same antialiased bilinear filter: inputs differ by rounding only."""
    img = cv2.resize(astronaut, (1500, 1200), interpolation=cv2.INTER_CUBIC)
    fast, f1 = I._network_input(img, 256, fast=True)
    ref, f2 = I._network_input(img, 256, fast=False)
    assert f1 == f2 == 256 / 1500 and fast.shape == ref.shape == (1, 3, 205, 256) and fast.dtype == ref.dtype
    assert float((fast - ref).abs().max()) <= 1.0 / 255
    same, _ = I._network_input(img[:100, :120], 256, fast=True)          # no resize: identical
    assert (same == I._network_input(img[:100, :120], 256, fast=False)[0]).all()


def test_model_max_side_from_metadata_is_predicts_default(net, tmp_path, monkeypatch):
    from structnet import hub
    from structnet.errors import UserError
    from structnet.nn.weights import read_metadata, save_weights
    from structnet.skeleton.config import SkeletonPredictOptions as Options
    from structnet.skeleton.task import TASK

    meta = dict(read_metadata(net.source))
    w = save_weights(net.network, tmp_path / "m400.safetensors", {**meta, "max_side": "400"})
    m = hub.load(w, task="skeleton")
    assert m.settings["max_side"] == 400
    seen = []
    monkeypatch.setattr(I, "predict_image", lambda net_, image, **kw: seen.append(kw["max_side"]))
    img = np.zeros((8, 8, 3), np.uint8)
    TASK.predictor(m, Options(max_side=None, precision="float32"))(img)
    TASK.predictor(m, Options(max_side=256, precision="float32"))(img)     # the flag wins
    bare = save_weights(net.network, tmp_path / "plain.safetensors", {k: v for k, v in meta.items() if k != "max_side"})
    TASK.predictor(hub.load(bare, task="skeleton"), Options(max_side=None, precision="float32"))(img)
    assert seen == [400, 256, None]                                                  # no metadata: full size
    bad = save_weights(net.network, tmp_path / "bad.safetensors", {**meta, "max_side": "-3"})
    with pytest.raises(UserError, match="max_side"):
        hub.load(bad, task="skeleton")
