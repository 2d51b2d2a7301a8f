"""structnet.hypercolumn: known answers of the grid interpolation, the classify-then-upsample equivalence, box
geometry, metrics and loss; a tiny training on synthetic shapes that beats the untrained net; CLI round trips and
bad inputs."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structnet.cli import main
from structnet.hypercolumn import metrics
from structnet.hypercolumn.model import HypercolumnNet, grid_weights, interpolate_grid, log_interpolated
from structnet.nn.boxes import crop_boxes, crop_labels, paste_probabilities
from structnet.hypercolumn.losses import nll_loss


# ------------------------------------------------------------------------------------------- grid interpolation
def test_grid_weights_known_answers():
    np.testing.assert_allclose(grid_weights(1, 3).numpy(), np.ones((3, 1)))
    # 4 pixels over 2 cells: pixel centres at 1/8, 3/8, 5/8, 7/8 of the box, cell centres at 1/4 and 3/4
    np.testing.assert_allclose(grid_weights(2, 4).numpy(), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    w = grid_weights(5, 56)
    np.testing.assert_allclose(w.sum(1).numpy(), 1.0, atol=1e-6)
    assert (w >= 0).all() and ((w > 0).sum(1) <= 2).all()
    with pytest.raises(ValueError):
        grid_weights(0, 4)


@pytest.mark.parametrize("k,size", [(2, 4), (5, 56), (3, 7), (10, 50)])
def test_interpolating_constant_classifiers_is_bilinear_upsampling(k, size):
    """When each grid classifier outputs one value everywhere, Eq. 3 is plain bilinear upsampling of the K x K
    grid of values (differential test against F.interpolate, align_corners=False, which clamps at the borders)."""
    g = torch.rand(2, 3, k, k, dtype=torch.float64)
    probs = g.permute(0, 2, 3, 1)[..., None, None].expand(-1, -1, -1, -1, size, size)    # (N, K, K, C, S, S)
    ours = interpolate_grid(probs.float(), grid_weights(k, size), grid_weights(k, size))
    ref = F.interpolate(g, size=(size, size), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-6)


def test_log_interpolated_equals_log_of_interpolation():
    torch.manual_seed(0)
    logp = torch.log_softmax(torch.randn(2, 4, 4, 3, 9, 9), dim=3)
    wy, wx = grid_weights(4, 9), grid_weights(4, 9)
    np.testing.assert_allclose(log_interpolated(logp, wy, wx).exp().numpy(),
                               interpolate_grid(logp.exp(), wy, wx).numpy(), rtol=1e-5, atol=1e-6)


def test_classify_then_upsample_equals_upsample_then_classify():
    """The paper's efficient form (Eq. 4-5): 1x1 classifiers on each tap, upsampled and summed, equal one linear
    classifier on the hypercolumn (every tap upsampled to the output grid, concatenated), for every grid cell."""
    torch.manual_seed(0)
    net = HypercolumnNet(classes=3, grid=2, taps=["stage2", "stage3", "stage4"], kernels=[1, 1, 1],
                         global_feature=True, backbone="vgg_tiny", input_size=32).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ours = net(x)                                                               # (N, K, K, C, 8, 8)
        f = net.features(x)
        size = (net.out_size, net.out_size)
        cols = [F.interpolate(f[t], size=size, mode="bilinear", align_corners=False) for t in net.taps]
        g = f[net.global_tap].mean(dim=(2, 3))[:, :, None, None].expand(-1, -1, *size)
        hyper = torch.cat(cols + [g], dim=1)                                        # the hypercolumns
        w = torch.cat([net.heads[t].weight[:, :, 0, 0] for t in net.taps] + [net.global_head.weight], dim=1)
        b = sum(net.heads[t].bias for t in net.taps) + net.global_head.bias
        ref = torch.einsum("oc,nchw->nohw", w, hyper) + b[None, :, None, None]
    np.testing.assert_allclose(ours.reshape(ref.shape).numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)


def test_probs_sum_to_one_and_sigmoid_net_has_two_channels():
    torch.manual_seed(0)
    for classes, cp in ((4, 4), (1, 2)):
        net = HypercolumnNet(classes=classes, grid=3, taps=["stage3"], backbone="vgg_tiny", input_size=32).eval()
        with torch.no_grad():
            p = net.probs(net(torch.rand(1, 3, 32, 32)))
        assert p.shape == (1, cp, 8, 8)
        np.testing.assert_allclose(p.sum(1).numpy(), 1.0, atol=1e-5)


def test_class_prior_sets_the_untrained_output():
    net = HypercolumnNet(classes=3, grid=2, taps=["stage3"], backbone="vgg_tiny", input_size=32).eval()
    for h in list(net.heads.values()) + [net.global_head]:
        torch.nn.init.zeros_(h.weight)
    net.set_class_prior([0.7, 0.2, 0.1])
    with torch.no_grad():
        p = net.probs(net(torch.rand(1, 3, 32, 32)))
    np.testing.assert_allclose(p[0, :, 3, 3].numpy(), [0.7, 0.2, 0.1], atol=1e-5)


def test_nll_loss_known_answer_and_ignore():
    net = HypercolumnNet(classes=4, grid=1, taps=["stage3"], backbone="vgg_tiny", input_size=32)
    scores = torch.zeros(1, 1, 1, 4, 8, 8)                       # uniform: -log p = log 4 everywhere
    labels = torch.randint(0, 4, (1, 8, 8))
    assert float(nll_loss(net, scores, labels)) == pytest.approx(np.log(4), abs=1e-5)
    scores[0, 0, 0, 2, :4] = 50.0                                # confident class 2 in the top half
    labels[0, :4] = 2
    labels[0, 4:] = 255                                          # the bottom half does not count
    assert float(nll_loss(net, scores, labels)) == pytest.approx(0.0, abs=1e-5)


# -------------------------------------------------------------------------------------------------- box geometry
def test_crop_boxes_identity_and_sub_box():
    img = torch.arange(2 * 12 * 16, dtype=torch.float32).view(1, 2, 12, 16)
    whole = crop_boxes(img, torch.tensor([[0.0, 0.0, 16.0, 12.0]]), 12)
    # the box warped to a square: rows sampled at the row centres, columns at every 4/3 px
    np.testing.assert_allclose(whole[0, :, :, 0].numpy(), img[0, :, :, 0].numpy() + 1 / 6, atol=1e-4)
    sub = crop_boxes(img, torch.tensor([[4.0, 2.0, 12.0, 10.0]]), 8)              # pixel-aligned 8 x 8
    np.testing.assert_allclose(sub[0].numpy(), img[0, :, 2:10, 4:12].numpy(), atol=1e-4)
    lab = torch.randint(0, 7, (1, 12, 16))
    out = crop_labels(lab, torch.tensor([[-6.0, 0.0, 6.0, 12.0]]), 12)             # left half outside the image
    assert (out[0, :, :6] == 255).all()
    np.testing.assert_array_equal(out[0, :, 6:].numpy(), lab[0, :, :6].numpy())


def test_paste_probabilities_identity_and_outside():
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(3, 6, 8), 0)
    np.testing.assert_allclose(paste_probabilities(p, (0, 0, 8, 6), (6, 8)).numpy(), p.numpy(), atol=1e-5)
    out = paste_probabilities(p, (2, 1, 6, 4), (6, 8)).numpy()
    assert out[:, 0, 0].tolist() == [1.0, 0.0, 0.0] and out[:, 5, 7].tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)


# ------------------------------------------------------------------------------------------------------ metrics
def test_confusion_and_miou_known_answer():
    gt = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 1]])
    cm = metrics.confusion(pred, gt, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 3, 0], [1, 0, 1]])
    r = metrics.iou_from_confusion(cm, ["bg", "a", "b"])
    # IoU: bg 1 / (2 + 2 - 1) = 1/3, a 3 / (3 + 4 - 3) = 3/4, b 1 / (2 + 1 - 1) = 1/2
    assert r["iou"] == pytest.approx({"bg": 1 / 3, "a": 0.75, "b": 0.5})
    assert r["miou"] == pytest.approx((1 / 3 + 0.75 + 0.5) / 3)
    assert r["pixel_accuracy"] == pytest.approx(5 / 7)
    assert metrics.mask_iou(np.array([1, 1, 0, 0]), np.array([0, 1, 1, 0])) == pytest.approx(1 / 3)
    assert metrics.mask_iou(np.zeros(3), np.zeros(3)) == 1.0
    with pytest.raises(ValueError):
        metrics.confusion(pred, gt[:1], 3)


# --------------------------------------------------------------------------------- tiny training and the CLI
def _shapes_folder(root: Path, n_train: int = 24, n_test: int = 6, seed: int = 0) -> Path:
    """Images of a textured 'person': a bright disc (label 1) above a striped bar (label 2) on noise; the parts'
    places vary, so the net must read the image, not only the grid position."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    ids = {"train": [], "test": []}
    for k in range(n_train + n_test):
        h, w = 48, 64
        img = rng.integers(0, 90, (h, w, 3)).astype(np.uint8)
        lab = np.zeros((h, w), np.uint8)
        cx, cy = int(rng.integers(16, 48)), int(rng.integers(10, 18))
        yy, xx = np.mgrid[:h, :w]
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= 49
        img[disc] = (230, 200, 60)
        lab[disc] = 1
        bar = (yy >= cy + 9) & (yy < cy + 26) & (abs(xx - cx) <= 5)
        img[bar & (xx % 4 < 2)] = (40, 180, 230)
        img[bar & (xx % 4 >= 2)] = (20, 90, 160)
        lab[bar] = 2
        name = f"s{k:03d}"
        cv2.imwrite(str(root / "images" / f"{name}.png"), img[..., ::-1])
        cv2.imwrite(str(root / "masks" / f"{name}.png"), lab)
        ids["train" if k < n_train else "test"].append(name)
    for split, v in ids.items():
        (root / f"{split}.txt").write_text("\n".join(v) + "\n")
    return root


def _tiny_config(tmp: Path, data: Path, iters: int) -> Path:
    cfg = tmp / "tiny_hc.yaml"
    cfg.write_text(f"""
model: {{task: parts, backbone: vgg_tiny, pretrained: false, taps: [stage2, stage3, stage4], grid: 2,
        input_size: 32}}
data: {{root: {data}, split: train, box: image, jitter: 0.05}}
optim: {{name: adam, lr: 0.01}}
schedule: {{name: constant}}
train: {{batch_size: 8, max_iters: {iters}, checkpoint_every: 0, log_every: 1000, progress_bar: false,
        out_dir: {tmp / f'run{iters}'}}}
eval: {{root: {data}, split: test}}
""")
    return cfg


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return _shapes_folder(tmp_path_factory.mktemp("shapes"))


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hc")
    out = {}
    for iters in (1, 150):
        assert main(["train", "hypercolumn", "--config", str(_tiny_config(tmp, shapes, iters)), "--threads", "2"]) == 0
        out[iters] = tmp / f"run{iters}" / "model.safetensors"
    return out


def test_tiny_training_beats_the_untrained_net(trained, shapes, tmp_path):
    res = {}
    for iters, w in trained.items():
        js = tmp_path / f"e{iters}.json"
        assert main(["eval", "hypercolumn", "--weights", str(w), "--data", str(shapes), "--threads", "2", "--quiet",
                     "--json", str(js)]) == 0
        res[iters] = json.loads(js.read_text())
    assert res[1]["n"] == 6 and res[1]["task"] == "parts" and res[1]["box"] == "image"
    assert res[150]["miou"] > res[1]["miou"] + 0.25, (res[1]["miou"], res[150]["miou"])
    assert res[150]["iou"]["head"] > 0.4


def test_predict_cli_round_trip_matches_eval(trained, shapes, tmp_path, capsys):
    w = trained[150]
    img = shapes / "images" / "s024.png"
    out = tmp_path / "pred"
    assert main(["predict", "hypercolumn", str(img), "--task", "parts", "--weights", str(w), "--out", str(out),
                 "--threads", "2"]) == 0
    lab = cv2.imread(str(out / "s024_hypercolumn_parts.png"), cv2.IMREAD_UNCHANGED)
    over = cv2.imread(str(out / "s024_hypercolumn_overlay.png"))
    assert lab.shape == (48, 64) and lab.dtype == np.uint8 and over.shape == (48, 64, 3)
    assert set(np.unique(lab)) <= set(range(7))
    gt = cv2.imread(str(shapes / "masks" / "s024.png"), cv2.IMREAD_UNCHANGED)
    assert (lab == gt).mean() > 0.8
    # scoring the written file gives the per-image numbers eval computes from the same code path
    from structnet import hub
    from structnet.hypercolumn.inference import predict_image
    from structnet.data.io import read_image

    r = predict_image(hub.load(str(w), task="hypercolumn").network, read_image(img))
    np.testing.assert_array_equal(r["labels"], lab)
    # a second run (here with a box) into the same folder writes the same names: outputs are per input stem, and
    # replacing an earlier run's files takes --overwrite
    assert main(["predict", "hypercolumn", str(img), "--weights", str(w), "--out", str(out), "--box", "8,4,56,44",
                 "--threads", "2", "--overwrite"]) == 0
    lab2 = cv2.imread(str(out / "s024_hypercolumn_parts.png"), cv2.IMREAD_UNCHANGED)
    assert (lab2[:, :8] == 0).all() and (lab2[:4] == 0).all()      # nothing outside the box


def test_figure_ground_training_and_box_eval(shapes, tmp_path):
    cfg = tmp_path / "fg.yaml"
    cfg.write_text(f"""
model: {{task: figure-ground, backbone: vgg_tiny, pretrained: false, taps: [stage2, stage3, stage4], grid: 2,
        input_size: 32}}
data: {{root: {shapes}, split: train, box: object, margin: 0.1, jitter: 0.05}}
optim: {{name: adam, lr: 0.01}}
schedule: {{name: constant}}
train: {{batch_size: 8, max_iters: 80, checkpoint_every: 0, log_every: 1000, progress_bar: false,
        out_dir: {tmp_path / 'fg'}}}
""")
    assert main(["train", "hypercolumn", "--config", str(cfg), "--threads", "2"]) == 0
    w = tmp_path / "fg" / "model.safetensors"
    js = tmp_path / "fg.json"
    assert main(["eval", "hypercolumn", "--task", "figure-ground", "--weights", str(w), "--data", str(shapes),
                 "--threads", "2", "--quiet", "--json", str(js)]) == 0
    r = json.loads(js.read_text())
    assert r["task"] == "figure-ground" and r["box"] == "object" and r["n"] == 6
    assert r["mean_iou"] > 0.5
    out = tmp_path / "pred"
    assert main(["predict", "hypercolumn", str(shapes / "images" / "s025.png"), "--task", "figure-ground",
                 "--weights", str(w), "--box", "4,2,60,46", "--out", str(out), "--threads", "2"]) == 0
    m = cv2.imread(str(out / "s025_hypercolumn_mask.png"), cv2.IMREAD_UNCHANGED)
    assert m.shape == (48, 64) and set(np.unique(m)) <= {0, 255}
    # a parts model asked for figure-ground is refused in one line
    assert main(["eval", "hypercolumn", "--task", "parts", "--weights", str(w), "--data", str(shapes),
                 "--quiet"]) == 2


def test_bad_inputs_one_line(trained, shapes, tmp_path, capsys):
    w = str(trained[1])
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    good = shapes / "images" / "s000.png"
    out = tmp_path / "o"
    assert main(["predict", "hypercolumn", str(bad), str(good), "--weights", w, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "Traceback" not in err
    assert (out / "s000_hypercolumn_parts.png").is_file()                      # the batch went on
    for box in ("10,10,5,20", "100,100,200,200"):
        assert main(["predict", "hypercolumn", str(good), "--weights", w, "--out", str(out), "--box", box,
                     "--overwrite"]) == 1
        err = capsys.readouterr().err
        assert "box" in err and "Traceback" not in err
    assert main(["predict", "hypercolumn", str(good), "--task", "figure-ground", "--weights", w,
                 "--out", str(out)]) == 2
    assert "labels parts" in capsys.readouterr().err
    assert main(["eval", "hypercolumn", "--weights", w, "--data", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "nowhere" in capsys.readouterr().err
    # a mask with values the task does not know names the file
    broken = tmp_path / "broken_data"
    _shapes_folder(broken, n_train=2, n_test=2)
    cv2.imwrite(str(broken / "masks" / "s002.png"), np.full((48, 64), 9, np.uint8))
    assert main(["eval", "hypercolumn", "--weights", w, "--data", str(broken), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "s002" in err and "Traceback" not in err


def test_predict_then_score_equals_eval(trained, shapes, tmp_path, capsys):
    """The user's route (predict every test image, then score the files) gives eval's numbers."""
    w = str(trained[150])
    out = tmp_path / "pred"
    imgs = [str(shapes / "images" / f"s{k:03d}.png") for k in range(24, 30)]
    assert main(["predict", "hypercolumn", *imgs, "--weights", w, "--out", str(out), "--quiet"]) == 0
    js_s, js_e = tmp_path / "score.json", tmp_path / "eval.json"
    assert main(["score", "hypercolumn", "--task", "parts", "--pred", str(out), "--data", str(shapes),
                 "--json", str(js_s)]) == 0
    assert main(["eval", "hypercolumn", "--weights", w, "--data", str(shapes), "--quiet", "--json", str(js_e)]) == 0
    s, e = json.loads(js_s.read_text()), json.loads(js_e.read_text())
    assert s["n"] == e["n"] == 6 and s["miou"] == pytest.approx(e["miou"], abs=1e-9)
    (out / "s025_hypercolumn_parts.png").unlink()
    assert main(["score", "hypercolumn", "--pred", str(out), "--data", str(shapes)]) == 1
    assert "s025" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- keypoints
def test_keypoint_targets_known_answer():
    from structnet.hypercolumn.data import keypoint_targets

    t = keypoint_targets(np.array([[2.0, 3.0], [50.0, 50.0], [1.0, 1.0]]), np.array([True, True, False]), 8, 2.0)
    assert t.shape == (3, 8, 8) and t.dtype == np.uint8
    assert t[0, 3, 2] == 1 and (t[0] == 1).sum() == 1
    assert t[0, 3, 3] == 255 and t[0, 3, 4] == 255 and t[0, 3, 5] == 0      # the ring within 2 px is ignored
    assert (t[1] == 0).all()                                                # outside the grid: negatives only
    assert (t[2] == 255).all()                                              # not annotated: nothing counts


def _lspet_folder(root: Path, n_train: int = 32, n_val: int = 8, seed: int = 0) -> Path:
    """An LSP-extended layout whose 14 'joints' are dots of 14 distinct colours at random places."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    colours = (np.stack(np.meshgrid([40, 140, 240], [40, 140, 240], [60, 220]), -1).reshape(-1, 3)[:14])
    joints = np.zeros((n_train + n_val, 14, 3))
    names = []
    for k in range(n_train + n_val):
        img = np.full((64, 64, 3), 0, np.uint8)
        pts = rng.uniform(10, 54, (14, 2))
        pts[9], pts[2] = rng.uniform(10, 18, 2), rng.uniform(46, 54, 2)    # the torso (PCK's norm) ~ 50 px
        for j, (x, y) in enumerate(pts):
            cv2.circle(img, (int(round(x)), int(round(y))), 3, tuple(int(c) for c in colours[j][::-1]), -1)
        joints[k, :, :2], joints[k, :, 2] = pts, 1
        names.append(f"im{k + 1:05d}")
        cv2.imwrite(str(root / "images" / f"{names[-1]}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 98])
    np.save(root / "joints.npy", joints)
    (root / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
    return root


def test_keypoints_from_maps_known_answer():
    from structnet.hypercolumn.inference import keypoints_from_maps

    heat = np.zeros((2, 4, 8))
    heat[0, 1, 6] = 0.9
    heat[1, 3, 0] = 0.4
    r = keypoints_from_maps(heat, (10, 20, 26, 28))                         # 16 x 8 px box, 2 px per map pixel
    np.testing.assert_allclose(r["keypoints"], [[10 + 6.5 * 2, 20 + 1.5 * 2], [10 + 0.5 * 2, 20 + 3.5 * 2]])
    np.testing.assert_allclose(r["scores"], [0.9, 0.4])


def _kp_config(tmp_path: Path, data: Path, iters: int) -> Path:
    cfg = tmp_path / f"kp{iters}.yaml"
    cfg.write_text(f"""
model: {{task: keypoints, backbone: vgg_tiny, pretrained: false, taps: [stage2, stage3, stage4], grid: 2,
        input_size: 48}}
data: {{root: {data}, split: train, margin: 0.1, jitter: 0.0, colour: 0.0, flip_prob: 0.0}}
loss: {{pos_weight: 100.0}}
optim: {{name: adam, lr: 0.01}}
schedule: {{name: constant}}
train: {{batch_size: 8, max_iters: {iters}, checkpoint_every: 0, log_every: 1000, progress_bar: false,
        out_dir: {tmp_path / f'kp{iters}'}}}
""")
    return cfg


def test_keypoints_training_lowers_the_loss(tmp_path):
    """The keypoint loss (one positive pixel per map, weighted, negatives beyond the radius) falls when the net
    learns the dots (the full decode is the CLI test below; a PCK gain needs ~500 steps of this tiny net)."""
    from structnet.engine.config import load_config
    from structnet.hypercolumn.config import HypercolumnConfig
    from structnet.hypercolumn.data import KeypointBoxDataset
    from structnet.hypercolumn.losses import nll_loss
    from structnet.hypercolumn.train import build_model

    data = _lspet_folder(tmp_path / "lspet", n_train=16, n_val=2)
    cfg = load_config(HypercolumnConfig, str(_kp_config(tmp_path, data, 1)), [])
    ds = KeypointBoxDataset(cfg)
    torch.manual_seed(0)
    net = build_model(cfg)
    net.set_class_prior(ds.class_prior())
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    batch = [ds[(i, 0)] for i in range(16)]
    x, y = torch.stack([b["image"] for b in batch]), torch.stack([b["label"] for b in batch])
    losses = []
    for _ in range(120):
        loss = nll_loss(net, net(x), y, pos_weight=100.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_keypoints_cli_round_trip(tmp_path):
    data = _lspet_folder(tmp_path / "lspet", n_train=8, n_val=4)
    assert main(["train", "hypercolumn", "--config", str(_kp_config(tmp_path, data, 2)), "--threads", "2"]) == 0
    w = str(tmp_path / "kp2" / "model.safetensors")
    js = tmp_path / "kp.json"
    assert main(["eval", "hypercolumn", "--task", "keypoints", "--weights", w, "--data", str(data), "--threads", "2",
                 "--quiet", "--json", str(js)]) == 0
    r = json.loads(js.read_text())
    assert r["n"] == 4 and r["task"] == "keypoints" and 0.0 <= r["pck"] <= 1.0 and len(r["per_joint"]) == 14
    out = tmp_path / "pred"
    assert main(["predict", "hypercolumn", str(data / "images" / "im00009.jpg"), "--task", "keypoints", "--weights",
                 w, "--box", "0,0,64,64", "--out", str(out)]) == 0
    doc = json.loads((out / "im00009_hypercolumn_keypoints.json").read_text())
    assert doc["layout"] == "lsp14" and len(doc["joints"]) == 14 and doc["box"] == [0, 0, 64, 64]
    assert all(0 <= j["x"] <= 64 and 0 <= j["y"] <= 64 for j in doc["joints"])
    assert (out / "im00009_hypercolumn_overlay.png").is_file()
    assert main(["predict", "hypercolumn", str(data / "images" / "im00009.jpg"), "--task", "parts", "--weights",
                 w, "--out", str(out)]) == 2


def test_eval_reports_missing_files_and_goes_on(trained, tmp_path, capsys):
    data = _shapes_folder(tmp_path / "d", n_train=2, n_test=3)
    (data / "masks" / "s003.png").unlink()
    js = tmp_path / "e.json"
    assert main(["eval", "hypercolumn", "--weights", str(trained[1]), "--data", str(data), "--quiet",
                 "--json", str(js)]) == 1
    err = capsys.readouterr().err
    assert "s003" in err and "mask not found" in err and "Traceback" not in err
    assert json.loads(js.read_text())["n"] == 2
