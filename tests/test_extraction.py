"""structnet.extraction: known answers of the adjustment grid, the data-driven term, the Metropolis-Hastings
acceptance (a tiny discrete target whose stationary distribution is known), the metrics and the joint cost; tiny
trainings on synthetic shapes (joint beats separate; both beat the untrained nets); CLI round trips and bad inputs."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from structnet.cli import main
from structnet.extraction import latent, metrics
from structnet.extraction.model import (UNITS, ExtractionNet, clamp_boxes, pixels_to_units,
                                        units_to_pixels)
from structnet.extraction.synthetic import make_shapes_folder
from structnet.extraction.losses import joint_costs, mask_targets


# ------------------------------------------------------------------------------------------------ adjustments
def test_adjustment_grid_known_answers():
    g = latent.adjustment_grid()
    assert g.shape == (625, 4) and len(np.unique(g, axis=0)) == 625
    assert set(np.unique(g)) == {-10.0, -5.0, 0.0, 5.0, 10.0}
    np.testing.assert_array_equal(g[0], [-10, -10, -10, -10])
    np.testing.assert_array_equal(g[1], [-10, -10, -10, -5])           # the last coordinate varies fastest
    assert latent.zero_index(g) == 312                                 # 2 * (125 + 25 + 5 + 1)
    assert latent.adjustment_grid([0, 1]).shape == (16, 4)
    with pytest.raises(ValueError):
        latent.zero_index(latent.adjustment_grid([-5, 5]))
    with pytest.raises(ValueError):
        latent.adjustment_grid([0, 0])


def test_box_edge_points_walk_the_perimeter_at_equal_distances():
    pts = latent.box_edge_points(np.array([10.0, 20.0, 30.0, 30.0]), c=60)   # 20 x 10: perimeter 60
    assert pts.shape == (60, 2)
    np.testing.assert_allclose(pts[0], [10.5, 20.0])                    # top edge first, from the left
    np.testing.assert_allclose(pts[25], [30.0, 25.5])                   # t = 25.5: right edge, 5.5 down
    np.testing.assert_allclose(pts[35], [24.5, 30.0])                   # bottom edge, going left
    np.testing.assert_allclose(pts[-1], [10.0, 20.5])                   # left edge, going up
    on_edge = (np.isclose(pts[:, 0], 10) | np.isclose(pts[:, 0], 30) | np.isclose(pts[:, 1], 20)
               | np.isclose(pts[:, 1], 30))
    assert on_edge.all()
    # each point's distance along the perimeter (top, right, bottom, left edges) is (k + 0.5) * 60 / 60
    x, y = pts[:, 0], pts[:, 1]
    t = np.where(np.isclose(y, 20) & (x < 30), x - 10, np.where(np.isclose(x, 30) & (y < 30), 20 + (y - 20),
                 np.where(np.isclose(y, 30) & (x > 10), 30 + (30 - x), 50 + (30 - y))))
    np.testing.assert_allclose(t, np.arange(60) + 0.5)


def test_data_term_known_answers():
    bd = np.zeros((100, 100), bool)
    bd[20, 10:91] = bd[80, 10:91] = True                                # a rectangle's outline, x 10..90, y 20..80
    bd[20:81, 10] = bd[20:81, 90] = True
    boxes = np.array([[10, 20, 90.99, 80.99],                           # on the outline
                      [30, 40, 60, 60],                                 # inside: no boundary
                      [10, 20, 50.99, 80.99],                           # left half on it (top, left, bottom)
                      [-50, -50, -10, -10]])                            # outside the image
    pc = latent.data_term(bd, boxes, c=200)
    assert pc[0] == pytest.approx(1.0)
    assert pc[1] == 0.0 and pc[3] == 0.0
    assert 0.7 < pc[2] < 0.8                                            # 3 of 4 edges on the outline (~ 0.75)


def test_boundary_map_marks_superpixel_edges_of_a_two_colour_image():
    img = np.zeros((60, 80, 3), np.uint8)
    img[:, 40:] = 255
    bd = latent.boundary_map(img, n_segments=4, compactness=10)
    assert bd.shape == (60, 80) and bd.dtype == bool
    assert bd[:, 38:42].any(axis=1).all()                                # the colour edge is a boundary
    with pytest.raises(ValueError):
        latent.boundary_map(np.zeros((10, 10)))


def test_proposal_normalised_and_floor_keeps_every_candidate():
    g = latent.adjustment_grid()
    pc = np.zeros(len(g))
    pc[latent.zero_index(g)] = 1.0
    lq = latent.proposal_log_probs(g, np.zeros(4), np.eye(4) * 100.0, pc, pc_floor=0.01)
    assert np.exp(lq).sum() == pytest.approx(1.0)
    assert np.isfinite(lq).all()
    # with a flat Gaussian the data term alone sets the ratio: 1.0 / 0.01
    lq2 = latent.proposal_log_probs(g, np.zeros(4), np.eye(4) * 1e8, pc, pc_floor=0.01)
    assert lq2[latent.zero_index(g)] - lq2[0] == pytest.approx(np.log(100.0), rel=1e-4)


def test_gaussian_log_density_known_answer():
    x = np.array([[0.0, 0, 0, 0], [1.0, 0, 0, 0]])
    out = latent.gaussian_log_density(x, np.zeros(4), np.eye(4))
    np.testing.assert_allclose(out, [-2 * np.log(2 * np.pi), -2 * np.log(2 * np.pi) - 0.5])


# ------------------------------------------------------------------------------------------- Metropolis-Hastings
def test_mh_acceptance_ratio_known_answer():
    """One move from state 0 to state 1: ratio pi(1) q(0) / (pi(0) q(1)) = (0.2 * 0.5) / (0.4 * 0.25) = 1 -> always;
    from 1 to 2: (0.4 * 0.25) / (0.2 * 0.25) = 2 -> always; from 0 to 2: (0.4 * 0.5) / (0.4 * 0.25) = 2; from 2 to
    0: 0.5 -> accepted exactly when u < 0.5."""
    log_pi = np.log([0.4, 0.2, 0.4])
    log_q = np.log([0.5, 0.25, 0.25])
    states, acc = latent.mh_chain(log_pi, log_q, 2, [0], [0.49])
    assert list(states) == [2, 0] and acc == 1
    states, acc = latent.mh_chain(log_pi, log_q, 2, [0], [0.51])
    assert list(states) == [2, 2] and acc == 0
    states, acc = latent.mh_chain(log_pi, log_q, 0, [1, 2], [0.999, 0.999])
    assert list(states) == [0, 1, 2] and acc == 2


def test_mh_chain_stationary_distribution_is_the_target():
    """An independence sampler with proposal q != pi: the visit frequencies converge to pi (detailed balance)."""
    rng = np.random.default_rng(0)
    pi = np.array([0.5, 0.3, 0.15, 0.05])
    q = np.array([0.1, 0.2, 0.3, 0.4])
    n = 200_000
    props = latent.sample_proposals(np.log(q), n, rng)
    states, acc = latent.mh_chain(np.log(pi) + 3.0, np.log(q) - 1.0, 0, props, rng.random(n))  # unnormalised
    freq = np.bincount(states[1000:], minlength=4) / len(states[1000:])
    np.testing.assert_allclose(freq, pi, atol=0.01)
    assert 0 < acc < n


def test_mh_search_finds_the_optimum_of_a_peaked_cost_and_evaluates_few_candidates():
    g = latent.adjustment_grid()
    target = np.array([5.0, -5.0, 10.0, 0.0])
    costs = ((g - target) ** 2).sum(1)
    rng = np.random.default_rng(1)
    calls = []

    def cost_fn(idx):
        calls.append(len(idx))
        return costs[idx]

    lq = latent.proposal_log_probs(g, target, np.eye(4) * 25.0)
    best, info = latent.mh_search(cost_fn, lq, latent.zero_index(g), 20, rng)
    assert latent.exhaustive_search(costs) == int(np.argmin(costs))
    np.testing.assert_array_equal(g[best], target)
    assert calls == [info["evaluated"]] and info["evaluated"] <= 21
    # the answer is the visited state of lowest cost, never worse than the start
    best0, _ = latent.mh_search(cost_fn, latent.proposal_log_probs(g, np.zeros(4), np.eye(4) * 1e4),
                                latent.zero_index(g), 3, np.random.default_rng(2))
    assert costs[best0] <= costs[latent.zero_index(g)]


def test_adjustment_history_mean_and_covariance():
    h = latent.AdjustmentHistory(2, sigma0=10.0, sigma_min=1.0, min_count=2)
    mu, cov = h.params(0)
    np.testing.assert_array_equal(mu, 0)
    np.testing.assert_allclose(cov, np.eye(4) * 100)
    h.add(0, [0, 0, 0, 0])
    h.add(0, [10, 0, 0, 0])
    h.add(5, [5, 5, 5, 5])                                             # grows to fit a new index
    mu, cov = h.params(0)
    np.testing.assert_allclose(mu, [5, 0, 0, 0])
    np.testing.assert_allclose(cov, np.diag([26.0, 1, 1, 1]))           # var 25 + sigma_min^2
    assert h.n == 6
    h2 = latent.AdjustmentHistory(0, sigma0=10.0, sigma_min=1.0)
    h2.load_state_dict(h.state_dict())
    np.testing.assert_allclose(h2.params(0)[1], cov)
    with pytest.raises(ValueError):
        h2.load_state_dict({"count": np.zeros(3), "sum": np.zeros((2, 4)), "outer": np.zeros((3, 4, 4))})


# ------------------------------------------------------------------------------------------------ geometry
def test_box_units_and_clamping():
    b = torch.tensor([[0.0, 0.0, 224.0, 224.0], [56.0, 112.0, 112.0, 224.0]])
    px = units_to_pixels(b, (300, 400))
    np.testing.assert_allclose(px.numpy(), [[0, 0, 400, 300], [100, 150, 200, 300]])
    np.testing.assert_allclose(pixels_to_units(px, (300, 400)).numpy(), b.numpy(), atol=1e-5)
    c = clamp_boxes(torch.tensor([[-10.0, 30.0, 250.0, 20.0], [100.0, 100.0, 100.5, 100.5]]), min_size=4.0)
    np.testing.assert_allclose(c.numpy(), [[0, 20, 224, 30], [98.25, 98.25, 102.25, 102.25]])


def test_mask_targets_crop_the_mask_at_the_box():
    m = torch.zeros(1, 100, 100)
    m[0, 20:60, 40:80] = 1
    box_units = pixels_to_units(torch.tensor([[40.0, 20.0, 80.0, 60.0]]), (100, 100))
    t = mask_targets(m, box_units, 10)
    assert t.shape == (1, 10, 10) and (t == 1).all()
    wide = pixels_to_units(torch.tensor([[20.0, 0.0, 100.0, 80.0]]), (100, 100))    # object in the middle quarter
    t2 = mask_targets(m, wide, 8)[0]
    assert t2[2:6, 2:6].eq(1).all() and t2.sum() == 16


def test_random_crop_moves_the_box_with_the_window_and_keeps_the_object():
    from structnet.extraction.data import random_crop, tight_box

    s = 200
    im = np.zeros((s, s, 3), np.uint8)
    im[..., 0] = np.arange(s, dtype=np.uint8)[None, :]  # red = x: the crop's left edge is readable in the output
    m = np.zeros((s, s), bool)
    m[80:120, 60:160] = True
    bd = np.zeros((s, s), bool)
    bd[100, :] = True
    rng = np.random.default_rng(3)
    changed = 0
    for _ in range(20):
        state = rng.bit_generator.state
        u = rng.uniform(0.5, 1.0); v = rng.uniform(0.5, 1.0)
        w, h = max(2, int(round(u * s))), max(2, int(round(v * s)))
        x0, y0 = int(rng.integers(0, s - w + 1)), int(rng.integers(0, s - h + 1))
        rng.bit_generator.state = state  # replay: the same draws inside random_crop
        im2, m2, bd2 = random_crop(im, m, bd, rng, 0.5)
        assert im2.shape == im.shape and m2.shape == m.shape and bd2.shape == bd.shape
        if not m[y0:y0 + h, x0:x0 + w].any():
            assert m2 is m  # a window without the object keeps the sample
            continue
        changed += 1
        # the tight box of the cropped mask = the object's box clipped to the window, scaled by s / window
        exp = np.array([max(60, x0) - x0, max(80, y0) - y0, min(160, x0 + w) - x0, min(120, y0 + h) - y0], float)
        exp *= np.array([s / w, s / h, s / w, s / h])
        np.testing.assert_allclose(tight_box(m2), exp, atol=2.5)
        assert abs(int(im2[0, 0, 0]) - x0) <= 1  # the window's left edge is the output's first column
        assert bd2.any() == (y0 <= 100 < y0 + h)
    assert changed >= 15
    with pytest.raises(Exception, match="crop_min"):
        from structnet.extraction.config import ExtractionConfig
        from structnet.extraction.data import ExtractionDataset

        cfg = ExtractionConfig()
        cfg.data.crop_min = 0.0
        ExtractionDataset(cfg)


class _ConstSeg(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.m = m

    def forward(self, x):
        return torch.zeros(x.shape[0], self.m, self.m) + self.w


def test_joint_cost_known_answer():
    """With segmentation logits 0 everywhere the segmentation term is m^2 log 2 whatever the box; the localization
    term is the squared distance of the box to the prediction (Eq. 5 + 6)."""
    net = ExtractionNet(arch="paper", pretrained=False, loc_input=64, seg_input=24, mask_size=6, width=0.05,
                        hidden=16)
    net.seg = _ConstSeg(6)
    images = torch.rand(2, 3, 32, 32)
    masks = torch.zeros(2, 32, 32)
    boxes = torch.tensor([[10.0, 10.0, 100.0, 100.0], [0.0, 0.0, 224.0, 224.0], [20.0, 30.0, 40.0, 50.0]])
    owners = torch.tensor([0, 1, 1])
    pred = torch.tensor([[10.0, 10.0, 100.0, 100.0], [0.0, 10.0, 220.0, 224.0]])
    c = joint_costs(net, images, masks, owners, boxes, pred, chunk=2)
    seg = 36 * np.log(2.0)
    np.testing.assert_allclose(c.numpy(), [seg, 100 + 16 + seg, 20 ** 2 + 20 ** 2 + 180 ** 2 + 174 ** 2 + seg],
                               rtol=1e-5)
    # scored on a fixed frame (our E-step): an all-object image, the box = the frame's left half -> 3 of the 6
    # columns of the 6 x 6 frame grid inside (p = 0.5: log 2 each), 3 outside (background, p = 1e-3: -log 1e-3)
    full = torch.ones(1, 32, 32)
    frame = torch.tensor([[0.0, 0.0, 224.0, 224.0]])
    half = torch.tensor([[0.0, 0.0, 112.0, 224.0]])
    c2 = joint_costs(net, images[:1], full, torch.tensor([0]), half, half.clone(), frames=frame)
    assert float(c2[0]) == pytest.approx(18 * np.log(2.0) - 18 * np.log(1e-3), rel=1e-5)
    c3 = joint_costs(net, images[:1], full, torch.tensor([0]), frame, frame.clone(), frames=frame)
    assert float(c3[0]) == pytest.approx(36 * np.log(2.0), rel=1e-5)


# ------------------------------------------------------------------------------------------------ metrics
def test_metrics_known_answers():
    gt = np.zeros((4, 4), bool)
    gt[:2, :2] = True
    pred = np.zeros((4, 4), bool)
    pred[:2, :3] = True
    assert metrics.jaccard(pred, gt) == pytest.approx(4 / 6)
    assert metrics.pixel_accuracy(pred, gt) == pytest.approx(14 / 16)
    assert metrics.jaccard(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
    prob = gt * 0.75
    assert metrics.mae(prob, gt) == pytest.approx(4 * 0.25 / 16)
    with pytest.raises(ValueError):
        metrics.jaccard(np.zeros((2, 2)), np.zeros((3, 2)))


def _max_f_reference(maps, gts):
    """max F the slow way: per threshold, per image precision and recall, averaged, F, maximum."""
    best = 0.0
    for t in range(256):
        ps, rs = [], []
        for m, g in zip(maps, gts):
            s = m >= t
            tp = float((s & g).sum())
            ps.append(tp / s.sum() if s.sum() else 1.0)
            rs.append(tp / g.sum())
        p, r = np.mean(ps), np.mean(rs)
        best = max(best, 1.3 * p * r / max(0.3 * p + r, 1e-12))
    return best


def test_max_f_against_a_direct_implementation_and_perfect_map():
    rng = np.random.default_rng(0)
    acc = metrics.ExtractionMetrics()
    maps, gts = [], []
    for _ in range(4):
        g = rng.random((12, 15)) < 0.3
        m = np.clip(g * 160 + rng.integers(0, 120, g.shape), 0, 255).astype(np.uint8)
        maps.append(m)
        gts.append(g)
        acc.add(m, m > 127, g)
    s = acc.summary()
    assert s["max_f"] == pytest.approx(_max_f_reference(maps, gts), rel=1e-9)
    assert s["n_images"] == 4
    perfect = metrics.ExtractionMetrics()
    perfect.add(gts[0].astype(np.uint8) * 255, gts[0], gts[0])
    out = perfect.summary()
    assert out["max_f"] == pytest.approx(1.0) and out["j"] == 1.0 and out["p"] == 1.0 and out["mae"] == 0.0


# --------------------------------------------------------------------------------------- synthetic data + CLI
def _shapes(root: Path) -> Path:
    return make_shapes_folder(root)


def _config(tmp: Path, data: Path, search: str, iters: int, start: int = 0) -> Path:
    f = tmp / f"tiny_{search}_{iters}.yaml"
    f.write_text(f"""
model: {{arch: paper, pretrained: false, loc_input: 64, seg_input: 24, mask_size: 20, width: 0.1, hidden: 64}}
data: {{root: {data}, split: train, holdout: 0, image_size: 64, colour: 0.0}}
latent: {{search: {search}, start_iter: {start}, superpixels: 30, chunk: 256}}
optim: {{name: adam, lr: 0.003}}
schedule: {{name: constant}}
train: {{batch_size: 16, max_iters: {iters}, checkpoint_every: 0, log_every: 10, progress_bar: false,
        out_dir: {tmp / f'run_{search}_{iters}'}}}
""")
    return f


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return _shapes(tmp_path_factory.mktemp("ext_shapes"))


@pytest.fixture(scope="module")
def trained(shapes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ext_runs")
    out = {}
    for search, iters in (("none", 1), ("none", 100), ("mcmc", 100)):
        assert main(["train", "extraction", "--config", str(_config(tmp, shapes, search, iters, start=30)),
                     "--threads", "2"]) == 0
        out[(search, iters)] = tmp / f"run_{search}_{iters}" / "model.safetensors"
    return out


def _eval(weights, shapes, tmp_path, name="ev.json"):
    js = tmp_path / name
    assert main(["eval", "extraction", "--weights", str(weights), "--images", str(shapes / "images"), "--masks",
                 str(shapes / "masks"), "--quiet", "--json", str(js), "--threads", "2"]) == 0
    return json.loads(js.read_text())


def test_tiny_trainings_beat_the_untrained_nets_and_joint_beats_separate(trained, shapes, tmp_path):
    untrained = _eval(trained[("none", 1)], shapes, tmp_path, "u.json")
    separate = _eval(trained[("none", 100)], shapes, tmp_path, "s.json")
    joint = _eval(trained[("mcmc", 100)], shapes, tmp_path, "j.json")
    for k in ("j", "p", "mae", "max_f", "n_images"):
        assert k in joint
    assert joint["n_images"] == 120
    assert separate["j"] > untrained["j"] + 0.1
    # equal budget (100 steps, the first 30 without E-step): seeds 0 / 1 gave 0.842 / 0.809 joint against
    # 0.750 / 0.747 separate on one machine
    assert joint["j"] > separate["j"] + 0.02
    log = (trained[("mcmc", 100)].parent / "latent_log.csv").read_text().splitlines()
    assert log[0].startswith("step,images,estep_seconds_per_image,evaluated_per_image")
    rows = [r.split(",") for r in log[1:]]
    assert rows and all(float(r[3]) <= 21 for r in rows)               # K = 20 moves: at most 21 candidates
    assert (trained[("mcmc", 100)].parent / "latent_history.npz").is_file()


def test_predict_writes_mask_overlay_json_and_score_matches_eval(trained, shapes, tmp_path):
    w = trained[("mcmc", 100)]
    imgs = [str(shapes / "images" / f"s{k:03d}.png") for k in range(96, 120)]
    out = tmp_path / "pred"
    assert main(["predict", "extraction", *imgs, "--weights", str(w), "--out", str(out), "--prob", "--quiet"]) == 0
    m = cv2.imread(str(out / "s100_extraction_mask.png"), cv2.IMREAD_UNCHANGED)
    assert m.shape == (48, 64) and set(np.unique(m)) <= {0, 255}
    doc = json.loads((out / "s100_extraction.json").read_text())
    assert set(doc) >= {"box", "score"} and len(doc["box"]) == 4 and 0 <= doc["score"] <= 1
    x1, y1, x2, y2 = doc["box"]
    assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 48
    assert (out / "s100_extraction_overlay.png").is_file() and (out / "s100_extraction_prob.png").is_file()
    ys, xs = np.nonzero(m)                                              # the mask lies inside the box
    assert len(xs) == 0 or (xs.min() >= np.floor(x1) and xs.max() < np.ceil(x2))
    # score the files predict wrote == eval on the same images (same code path, 8-bit maps)
    sub = tmp_path / "sub"
    (sub / "images").mkdir(parents=True)
    for p in imgs:
        (sub / "images" / Path(p).name).write_bytes(Path(p).read_bytes())
    js_s, js_e = tmp_path / "score.json", tmp_path / "eval.json"
    assert main(["score", "extraction", "--pred", str(out), "--images", str(sub / "images"), "--masks",
                 str(shapes / "masks"), "--json", str(js_s)]) == 0
    assert main(["eval", "extraction", "--weights", str(w), "--images", str(sub / "images"), "--masks",
                 str(shapes / "masks"), "--quiet", "--json", str(js_e)]) == 0
    s, e = json.loads(js_s.read_text()), json.loads(js_e.read_text())
    for k in ("j", "p", "mae", "max_f"):
        assert s[k] == pytest.approx(e[k], abs=1e-9), k
    assert s["n_images"] == e["n_images"] == 24
    # --data + --split reads the same images through the split file
    js_d = tmp_path / "data.json"
    assert main(["eval", "extraction", "--weights", str(w), "--data", str(shapes), "--split", "test", "--quiet",
                 "--json", str(js_d)]) == 0
    assert json.loads(js_d.read_text())["j"] == pytest.approx(e["j"], abs=1e-9)


def test_bad_inputs(trained, shapes, tmp_path, capsys):
    w = str(trained[("none", 1)])
    good = shapes / "images" / "s000.png"
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    out = tmp_path / "o"
    assert main(["predict", "extraction", str(bad), str(good), "--weights", w, "--out", str(out), "--quiet"]) == 1
    assert (out / "s000_extraction_mask.png").is_file() and not (out / "broken_extraction_mask.png").exists()
    assert "broken.png" in capsys.readouterr().err
    # eval: --images without --masks, a missing folder, a missing mask (listed as failed, the rest scored)
    assert main(["eval", "extraction", "--weights", w, "--images", str(shapes / "images"), "--quiet"]) == 2
    assert "--masks" in capsys.readouterr().err
    assert main(["eval", "extraction", "--weights", w, "--data", str(tmp_path / "nowhere"), "--quiet"]) == 2
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for k in (0, 1):
        (imgs / f"s00{k}.png").write_bytes((shapes / "images" / f"s00{k}.png").read_bytes())
    (imgs / "lonely.png").write_bytes(good.read_bytes())
    js = tmp_path / "f.json"
    assert main(["eval", "extraction", "--weights", w, "--images", str(imgs), "--masks", str(shapes / "masks"),
                 "--quiet", "--json", str(js)]) == 1                    # 1: some items failed, the rest scored
    d = json.loads(js.read_text())
    assert d["n_images"] == 2 and [f[0] for f in d["failed"]] == ["lonely"]
    assert main(["predict", "extraction", str(good), "--weights", w, "--out", str(out), "--threshold", "1.5"]) == 2
    # a weights file of another task is refused in one line
    assert main(["predict", "extraction", str(good), "--model", "hed_sklarge", "--out", str(out)]) == 2


def test_paper_architecture_shapes():
    """The paper's nets: localization 224 -> 4 numbers, segmentation 55 -> 50 x 50 (reduced width here)."""
    net = ExtractionNet(arch="paper", pretrained=False, loc_input=224, seg_input=55, mask_size=50, width=0.125)
    x = torch.rand(2, 3, 224, 224)
    out = net(x)
    assert out["box"].shape == (2, 4) and out["logits"].shape == (2, 50, 50)
    assert (out["box"] >= 0).all() and (out["box"] <= UNITS).all()
    with pytest.raises(Exception):
        ExtractionNet(arch="paper", pretrained=True)


def test_latent_history_is_saved_and_read_back_on_resume(tmp_path):
    """The proposal's per-image history survives an interrupted training: saved by LatentHook, read on resume."""
    from types import SimpleNamespace

    from structnet.extraction.config import ExtractionConfig
    from structnet.extraction.losses import JointLoss
    from structnet.extraction.train import LatentHook

    loss = JointLoss(ExtractionConfig())
    loss.history.add(3, [5, -5, 0, 10])
    loss.history.add(3, [5, 5, 0, 10])
    hook = LatentHook(loss, tmp_path, every=1, log_every=1)
    hook.after_step(SimpleNamespace(), 1, {})
    assert hook.path.is_file()
    fresh = JointLoss(ExtractionConfig())
    LatentHook(fresh, tmp_path, every=1, log_every=1).before_train(SimpleNamespace(step=1, cfg=SimpleNamespace(
        iter_size=1)))
    mu, _ = fresh.history.params(3)
    np.testing.assert_allclose(mu, [5, 0, 0, 10])
    assert fresh.calls == 1                                             # the E-step schedule continues too
    started = JointLoss(ExtractionConfig())
    LatentHook(started, tmp_path, every=1, log_every=1).before_train(SimpleNamespace(step=0, cfg=SimpleNamespace(
        iter_size=1)))
    assert started.history.n == 0                                       # a fresh run ignores an old history


def test_flip_averaged_extraction_is_mirror_equivariant_and_refine_zero_is_the_paper_pass():
    from structnet.extraction.inference import extract

    torch.manual_seed(0)
    net = ExtractionNet(arch="paper", pretrained=False, loc_input=64, seg_input=24, mask_size=20, width=0.1,
                        hidden=32).eval()
    with torch.no_grad():
        net.loc.fc[-1].weight.normal_(std=0.05)                            # an asymmetric, off-centre box
        net.seg.fc.weight.normal_(std=0.05)
    img = np.random.default_rng(0).integers(0, 255, (40, 60, 3)).astype(np.uint8)
    a = extract(net, img, precision="float32", flip=True, refine=1)
    b = extract(net, img[:, ::-1].copy(), precision="float32", flip=True, refine=1)
    np.testing.assert_allclose(b["prob"], a["prob"][:, ::-1], atol=1e-5)
    x1, y1, x2, y2 = a["box"]
    np.testing.assert_allclose(b["box"], [60 - x2, y1, 60 - x1, y2], atol=0.02)
    # refine = 0 and no flip: the paper's single pass, the box is the localization net's
    c = extract(net, img, precision="float32", flip=False, refine=0, relocate=0, flip_seg=False)
    assert c["box"] == c["loc_box"]
    # mirrored masks alone: the same box, the mask the mean of the crop's and the mirrored crop's
    d = extract(net, img, precision="float32", flip=False, refine=0, relocate=0, flip_seg=True)
    assert d["loc_box"] == c["loc_box"] and not np.allclose(d["prob"], c["prob"])
    e = extract(net, img[:, ::-1].copy(), precision="float32", flip=True, refine=0, relocate=0, flip_seg=True)
    f = extract(net, img[:, ::-1].copy(), precision="float32", flip=True, refine=0, relocate=0, flip_seg=False)
    np.testing.assert_allclose(e["prob"], f["prob"], atol=1e-6)   # --flip mirrors the masks anyway
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        box = clamp_boxes(net.locate(x))
    np.testing.assert_allclose(c["loc_box"], units_to_pixels(box[0], (40, 60)).numpy(), atol=0.01)


class _CentreLocator(torch.nn.Module):
    """locate(): whatever it is shown, the centre half of it (units), and the image sizes it saw."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def locate(self, images):
        self.seen.append(tuple(images.shape[-2:]))
        return torch.tensor([[56.0, 56.0, 168.0, 168.0]]).expand(images.shape[0], 4)


def test_relocation_known_answer_and_zero_passes_keep_the_first_box():
    from structnet.extraction.inference import _relocate

    x = torch.zeros(1, 3, 224, 448)                      # units = pixels / (1, 2)
    net = _CentreLocator()
    box = torch.tensor([[40.0, 60.0, 140.0, 160.0]])
    out = _relocate(net, x, box, 0.1, flip=False)
    # window: the box widened by 10 units on each side = units [30, 150] x [50, 170] = pixels cols 60..300,
    # rows 50..170; its centre half: units [60, 120] x [80, 140]
    assert net.seen == [(120, 240)]
    np.testing.assert_allclose(out.numpy(), [[60.0, 80.0, 120.0, 140.0]], atol=1e-4)
    # a window that would leave the image is clipped to it: box at the corner, context 0.5
    net.seen.clear()
    out = _relocate(net, x, torch.tensor([[0.0, 0.0, 100.0, 100.0]]), 0.5, flip=False)
    assert net.seen == [(150, 300)]                       # units [0, 150]^2
    np.testing.assert_allclose(out.numpy(), [[37.5, 37.5, 112.5, 112.5]], atol=1e-4)


def test_relocate_and_its_context_reach_eval_and_bad_values_are_one_line(trained, shapes, tmp_path, capsys):
    weights = trained[("mcmc", 100)]
    out = tmp_path / "r0.json"
    common = ["eval", "extraction", "--weights", str(weights), "--images", str(shapes / "images"), "--masks",
              str(shapes / "masks"), "--threads", "1", "--quiet"]
    assert main([*common, "--relocate", "0", "--json", str(out)]) == 0
    r0 = json.loads(out.read_text())
    assert r0["settings"]["relocate"] == 0 and r0["settings"]["relocate_context"] == 0.08
    assert main([*common, "--relocate", "2", "--relocate-context", "0.2", "--json", str(out)]) == 0
    r2 = json.loads(out.read_text())
    assert r2["settings"]["relocate"] == 2 and r2["settings"]["relocate_context"] == 0.2
    assert r2["j"] != r0["j"] and r2["settings"]["flip_seg"] is True
    assert main([*common, "--no-flip-seg", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["settings"]["flip_seg"] is False
    assert main([*common, "--relocate-context", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--relocate-context" in err and len(err.strip().splitlines()) == 1
