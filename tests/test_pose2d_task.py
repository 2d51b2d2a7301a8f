"""The pose2d task wiring: configs (round trip, unknown keys, shipped files), the synthetic stick figures, the
training sample pipeline (shapes, target/weight consistency), evaluation on known answers, the plateau schedule,
a tiny end-to-end training that must beat the untrained model, stage chaining (stage 2 leaves the MSS-net
unchanged), the CLI round trip train -> predict -> eval, and bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from structnet import tasks
from structnet.cli import main
from structnet.engine.config import config_to_dict, load_config, save_config
from structnet.engine.trainer import collate_samples
from structnet.pose2d.codec import HeatmapCodec
from structnet.pose2d.config import Pose2DConfig
from structnet.keypoints.layouts import get_layout
from structnet.tasks import run
from structnet.pose2d.synthetic import PALETTE, SyntheticFigures, SyntheticPoseDataset, write_lspet_folder
from structnet.pose2d.evaluate import evaluate_pose2d
from structnet.pose2d.data import build_eval_dataset, build_train_dataset
from structnet.pose2d.train import PlateauHook, build_model, check_config, load_init_weights, make_codec

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "src" / "structnet" / "configs" / "pose2d"
LSPET = ROOT.parent / "shared" / "data" / "lspet"
MPII_VALID = ROOT.parent / "shared" / "data" / "mpii-valid" / "valid.npz"
LSP = get_layout("lsp14")


def train(cfg, resume=True):
    return run.train(tasks.get("pose2d"), cfg, resume=resume)


def load_stage_configs(paths, overrides=(), out_root=None):
    return run.load_stage_configs(tasks.get("pose2d"), [str(p) for p in paths], overrides, out_root)

# a model small enough for one CPU thread: 1 stack of width 32, depth 3, 64x64 input (16x16 heatmaps)
TINY = ["model.stacks=1", "model.features=32", "model.depth=3", "model.msr_depth=3", "model.msr_features=16",
        "data.input_size=64", "optim.name=adam", "optim.lr=2e-3", "optim.weight_decay=0",
        "train.progress_bar=false", "train.tensorboard=false", "train.log_every=1000", "train.num_workers=0"]


def tiny_cfg(tmp_path, *extra):
    return load_config(Pose2DConfig, None, TINY + ["data.dataset=synthetic", "data.synthetic_size=64",
                                                   "eval.dataset=synthetic", f"train.out_dir={tmp_path / 'run'}",
                                                   *extra])


# ------------------------------------------------------------------------------------------------- configs
def test_config_round_trip(tmp_path):
    cfg = load_config(Pose2DConfig, None, ["data.masking.patch_frac=0.2", "eval.scales=[0.8, 1.0]",
                                           "model.freeze=[mss]", "data.scale_range=[0.7, 1.3]"])
    assert cfg.data.masking.patch_frac == 0.2 and cfg.eval.scales == [0.8, 1.0]
    assert cfg.data.scale_range == (0.7, 1.3) and cfg.model.freeze == ["mss"]
    save_config(cfg, tmp_path / "c.yaml")
    back = load_config(Pose2DConfig, tmp_path / "c.yaml")
    assert config_to_dict(back) == config_to_dict(cfg)
    # published defaults
    d = Pose2DConfig()
    assert (d.model.stacks, d.model.features, d.data.input_size, d.data.sigma) == (8, 256, 256, 1.0)
    assert (d.data.rotation, tuple(d.data.scale_range), d.optim.name, d.optim.lr) == (30.0, (0.75, 1.25), "sgd", 5e-4)
    assert (d.plateau.factor, d.plateau.patience) == (5.0, 8)


@pytest.mark.parametrize("override,key", [("model.stackz=2", "model.stackz"),
                                          ("data.masking.patch_fracc=0.1", "data.masking.patch_fracc"),
                                          ("evall.metric=pck", "evall")])
def test_unknown_config_key_is_named(override, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        load_config(Pose2DConfig, None, [override])


def test_unknown_key_in_file_names_file_and_key(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("model:\n  stacks: 2\n  msr_imput: heatmaps\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*model\.msr_imput"):
        load_config(Pose2DConfig, f)
    with pytest.raises(ValueError, match="model.msr_input"):
        load_config(Pose2DConfig, None, ["model.msr_input=images"])


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")) + sorted((ROOT / "benchmarks" / "configs" / "pose2d").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_configs_parse_and_are_consistent(path):
    cfg = load_config(Pose2DConfig, path)
    check_config(cfg)
    if path.name.startswith("person_box_"):  # the person window (pose2d/person.py): no heatmaps, no codec
        assert cfg.model.arch == "person_box" and cfg.data.input_size == 160 and cfg.data.split == "train+extra"
        assert cfg.eval.split == "val" and cfg.train.eval_every > 0
        return
    make_codec(cfg)
    assert cfg.data.rotation == 30.0 and tuple(cfg.data.scale_range) == (0.75, 1.25)
    if path.name.startswith("ladder_"):  # the CPU ladder's documented deviations (docs/pose2d.md)
        assert (cfg.data.sigma, cfg.data.input_size, cfg.optim.lr) == (2.0, 128, 2e-3)
    elif path.name.startswith("encoder_"):  # the pretrained-encoder CPU recipe (its file states the deviations)
        assert cfg.model.arch == "encoder" and (cfg.data.sigma, cfg.data.input_size) == (2.0, 192)
        if cfg.model.init:  # continues from trained weights: no ImageNet init needed, a lower peak lr
            assert not cfg.model.pretrained and cfg.optim.lr <= 5e-4 and cfg.train.time_limit
        else:
            assert cfg.model.pretrained and cfg.optim.lr == 1e-3
    else:
        assert cfg.data.sigma == 1.0
        assert cfg.data.input_size == (128 if cfg.data.dataset == "synthetic" else 256)


def test_paper_stage_configs_follow_sec_4_1():
    s1, s2, s3 = load_stage_configs([CONFIGS / f"mpii_paper_stage{k}.yaml" for k in (1, 2, 3)])
    for s in (s1, s2, s3):
        assert (s.model.stacks, s.model.features, s.optim.name, s.optim.lr) == (8, 256, "sgd", 5e-4)
        assert (s.plateau.enabled, s.plateau.factor, s.plateau.patience) == (True, 5.0, 8)
        assert s.loss.reduction == "mean" and s.data.input_size == 256
    epoch = s1.train.eval_every
    assert (s1.train.max_iters, s2.train.max_iters, s3.train.max_iters) == (150 * epoch, 75 * epoch, 75 * epoch)
    assert not s1.model.msr and s1.model.mss and not s1.data.keypoint_masking
    assert s2.model.msr and s2.model.freeze == ["mss"] and s2.loss.supervise == ["msr"] and s2.model.init == "previous"
    assert s3.model.freeze == [] and s3.data.keypoint_masking and s3.model.init == "previous"


def test_ladder_configs_differ_only_in_the_switches():
    names = ["1_hourglass", "2_mss", "3_msr", "4_struct", "5_masking"]
    bench = ROOT / "benchmarks" / "configs" / "pose2d"
    cfgs = [load_config(Pose2DConfig, (CONFIGS if n == "5_masking" else bench) / f"ladder_lspet_cpu_{n}.yaml")
            for n in names]
    switches = [(c.model.mss, c.model.msr, c.loss.alpha > 0, c.data.keypoint_masking) for c in cfgs]
    assert switches == [(False, False, False, False), (True, False, False, False), (True, True, False, False),
                        (True, True, True, False), (True, True, True, True)]
    rest = []
    for c in cfgs:
        d = config_to_dict(c)
        for sec, key in (("model", "mss"), ("model", "msr"), ("loss", "alpha"), ("data", "keypoint_masking"),
                         ("train", "out_dir")):
            d[sec].pop(key)
        rest.append(d)
    assert all(r == rest[0] for r in rest[1:])
    assert len({c.train.out_dir for c in cfgs}) == 5


@pytest.mark.parametrize("overrides,match", [
    (["model.freeze=[mss]", "loss.supervise=[stacks, msr]"], "supervise includes 'stacks'"),
    (["model.msr=true", "loss.supervise=[stacks]"], "neither supervised nor frozen"),
    (["model.msr=true", "loss.supervise=[msr]"], "MSS-net is not frozen"),
    (["model.freeze=[msr]", "model.msr=false"], "model.msr is false"),
    (["model.freeze=[legs]"], "unknown part"),
    (["plateau.enabled=true", "train.eval_every=0"], "eval_every"),
])
def test_inconsistent_stage_settings_are_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        check_config(load_config(Pose2DConfig, None, overrides))


# --------------------------------------------------------------------------------------------- synthetic data
def test_synthetic_figures_geometry_and_determinism():
    a, b = SyntheticFigures(24, 96, seed=3), SyntheticFigures(24, 96, seed=3)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.image(5), b.image(5))
    assert not np.array_equal(a.image(5), a.image(6))
    assert not np.array_equal(SyntheticFigures(4, 96, seed=4).keypoints, a.keypoints[:4])
    kp = a.keypoints.astype(np.float64)
    j = {n: kp[:, LSP.index(n)] for n in LSP.joints}
    assert (kp >= 0).all() and (kp <= 95).all()                       # all 14 joints inside the image
    # front-facing: the person's left joints lie on the image right (tilt <= 30 degrees keeps x ordered)
    for part in ("shoulder", "hip"):
        assert (j["left_" + part][:, 0] > j["right_" + part][:, 0]).all()
    # limb lengths are the documented multiples of the torso length T (neck to mid-hip), up to the shoulder offset
    t = np.linalg.norm(j["neck"] - 0.5 * (j["left_hip"] + j["right_hip"]), axis=1)
    for a_, b_, lo, hi in (("knee", "ankle", 0.75, 0.9), ("hip", "knee", 0.8, 0.95), ("elbow", "wrist", 0.45, 0.55),
                           ("shoulder", "elbow", 0.5, 0.6)):
        for side in ("left_", "right_"):
            r = np.linalg.norm(j[side + a_] - j[side + b_], axis=1) / t
            assert (r >= lo - 1e-4).all() and (r <= hi + 1e-4).all(), (a_, b_, r.min(), r.max())
    head = np.linalg.norm(j["head_top"] - j["neck"], axis=1) / t
    assert (head >= 0.45 - 1e-4).all() and (head <= 0.6 + 1e-4).all()


def test_synthetic_limbs_have_their_palette_colour():
    figs = SyntheticFigures(16, 128, seed=1)
    hits = 0
    for i in range(16):
        img = figs.image(i).astype(np.float64)
        kp = figs.keypoints[i]
        # the middle of the right shin: the shin colour unless an arm or the head was drawn over it
        m = 0.5 * (kp[LSP.index("right_knee")] + kp[LSP.index("right_ankle")])
        x, y = int(round(m[0])), int(round(m[1]))
        patch = img[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3).mean(0)
        hits += np.abs(patch - 255 * np.array(PALETTE["shin"])).max() < 0.08 * 255 + 12
    assert hits >= 12


def test_write_lspet_folder_reads_back_with_the_lspet_reader(tmp_path):
    from structnet.data.io import read_image
    from structnet.keypoints.datasets import read_lspet

    write_lspet_folder(tmp_path / "lspet", n_train=4, n_val=2, size=64, seed=9)
    figs = SyntheticFigures(6, 64, seed=9)
    tr, va = read_lspet(tmp_path / "lspet", "train"), read_lspet(tmp_path / "lspet", "val")
    assert len(tr) == 4 and len(va) == 2
    np.testing.assert_allclose(np.stack([r.keypoints for r in tr + va]), figs.keypoints, atol=1e-5)
    assert all(r.annotated.all() and r.norm_kind == "torso" and r.norm > 0 for r in tr + va)
    import cv2

    img = read_image(tr[1].image_path)
    assert img.shape == (64, 64, 3)
    # JPEG (q95, chroma subsampling) drops the pixel noise; the picture itself survives: 5x5 means agree
    blur = [cv2.blur(a.astype(np.float32), (5, 5)) for a in (img, figs.image(1), figs.image(2))]
    assert np.abs(blur[0] - blur[1]).mean() < 3.0 < np.abs(blur[0] - blur[2]).mean()


# ------------------------------------------------------------------------------------------------ pipeline
def _check_sample(s, codec, k):
    h0 = codec.heatmap_size[0]
    s_in = codec.input_size[0]
    assert s["image"].shape == (3, s_in, s_in) and s["image"].dtype == np.float32
    assert 0.0 <= s["image"].min() and s["image"].max() <= 1.0
    assert set(s["targets"]) == set(codec.keys) == {h0 >> i for i in range(len(codec.scales))}
    for h, m in s["targets"].items():
        assert m.shape == (k, h, h) and m.dtype == np.float32
    w = s["weights"]
    assert w.shape == (k,) and set(np.unique(w)) <= {0.0, 1.0}
    # targets of weighted joints decode to the crop keypoints (exact Gaussians: DARK without smoothing is exact)
    full = s["targets"][h0][None]
    pts, _ = codec.decode(full, refine="dark", dark_sigma=0)
    on = w > 0
    np.testing.assert_allclose(pts[0][on], s["keypoints"][on], atol=1e-3)
    kp = s["keypoints"]
    inside = np.isfinite(kp).all(1) & (kp >= -0.5).all(1) & (kp <= s_in - 0.5).all(1)
    assert (on <= inside).all()
    for m in s["targets"].values():                                    # unweighted joints: all-zero maps
        assert (m[~on] == 0).all() and (m[on].max(axis=(1, 2)) > 0.2).all()


def test_training_pipeline_on_synthetic_figures():
    cfg = load_config(Pose2DConfig, None, TINY + ["data.dataset=synthetic", "data.synthetic_n=8",
                                                  "data.synthetic_size=80", "model.msr=false"])
    codec = make_codec(cfg)
    assert codec.input_size == (64, 64) and codec.heatmap_size == (16, 16) and codec.scales == (1, 2, 4)
    ds = build_train_dataset(cfg.data, codec)
    assert len(ds) == 8
    for key in [(0, 11), (3, 5), (7, 123)]:
        _check_sample(ds[key], codec, 14)
    a, b, c = ds[(2, 7)], ds[(2, 7)], ds[(2, 8)]
    np.testing.assert_array_equal(a["image"], b["image"])
    assert not np.array_equal(a["image"], c["image"])                 # another augmentation draw
    batch = collate_samples([ds[(i, i)] for i in range(3)])
    assert batch["image"].shape == (3, 3, 64, 64) and batch["targets"][8].shape == (3, 14, 8, 8)
    assert batch["weights"].shape == (3, 14)


def test_unaugmented_crop_is_the_person_window():
    """augment off: the crop is the record's window, so crop keypoints are a pure zoom of the image keypoints."""
    cfg = load_config(Pose2DConfig, None, TINY + ["data.dataset=synthetic", "data.synthetic_n=4",
                                                  "data.augment=false"])
    codec = make_codec(cfg)
    ds = build_train_dataset(cfg.data, codec)
    raw = SyntheticPoseDataset(4, size=cfg.data.synthetic_size, seed=cfg.data.synthetic_seed)
    for i in range(4):
        r = raw[i]
        zoom = 64 / (200.0 * float(r["scale"]))
        want = (r["keypoints"] - r["center"]) * zoom + 31.5
        np.testing.assert_allclose(ds[(i, 0)]["keypoints"], want, atol=1e-3)


def test_keypoint_masking_changes_pixels_not_labels():
    base = TINY + ["data.dataset=synthetic", "data.synthetic_n=6", "data.synthetic_size=96"]
    off = load_config(Pose2DConfig, None, base)
    on = load_config(Pose2DConfig, None, base + ["data.keypoint_masking=true", "data.masking.occlusion_prob=1",
                                                 "data.masking.distractor_prob=1"])
    codec = make_codec(off)
    d_off, d_on = build_train_dataset(off.data, codec), build_train_dataset(on.data, codec)
    changed = 0
    for i in range(6):
        a, b = d_off[(i, 40 + i)], d_on[(i, 40 + i)]
        np.testing.assert_array_equal(a["weights"], b["weights"])     # occluded joints keep their label
        for h in codec.keys:
            np.testing.assert_array_equal(a["targets"][h], b["targets"][h])
        changed += not np.array_equal(a["image"], b["image"])
    assert changed >= 5


@pytest.mark.skipif(not (LSPET / "joints.npy").is_file(), reason=f"LSPET not available at {LSPET}")
def test_training_pipeline_on_lspet():
    cfg = load_config(Pose2DConfig, None, [f"data.root={LSPET}", "data.max_samples=6", "model.stacks=1"])
    codec = make_codec(cfg)
    assert codec.keys == (64, 32, 16, 8)
    ds = build_train_dataset(cfg.data, codec)
    assert len(ds) == 6
    for i in range(6):
        _check_sample(ds[(i, 100 + i)], codec, 14)
    val = build_eval_dataset(cfg, max_images=3)
    s = val[0]
    assert s["image"].dtype == np.uint8 and s["keypoints"].shape == (14, 2) and s["norm"] > 0


# ------------------------------------------------------------------------------------------------- evaluation
class CentrePeak(torch.nn.Module):
    """A fake model whose heatmaps all peak exactly at the map centre: every joint is predicted at the window
    centre, i.e. at the record's ``center`` in image coordinates."""

    def __init__(self, k=14, h=16):
        super().__init__()
        c = (h - 1) / 2.0
        g = torch.exp(-((torch.arange(h) - c) ** 2) / 2.0)
        self.register_buffer("maps", (g[:, None] * g[None, :]).expand(k, h, h).clone())

    def forward(self, x):
        return {"final": self.maps.expand(x.shape[0], -1, -1, -1).clone()}


def test_evaluate_known_answer_with_centre_predictions():
    ds = SyntheticPoseDataset(20, size=64, seed=2)
    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), scales=(1,))
    res = evaluate_pose2d(CentrePeak(), ds, layout="lsp14", codec=codec, flip_test=True, return_predictions=True)
    centers = np.stack([r.center for r in ds.records]).astype(np.float64)
    np.testing.assert_allclose(res["predictions"], np.repeat(centers[:, None], 14, 1), atol=0.02)
    # by hand: PCK@0.2 = fraction of GT joints within 0.2 x torso (left shoulder - right hip) of the centre
    gt = np.stack([r.keypoints for r in ds.records]).astype(np.float64)
    torso = np.linalg.norm(gt[:, LSP.index("left_shoulder")] - gt[:, LSP.index("right_hip")], axis=1)
    ok = np.linalg.norm(gt - centers[:, None], axis=2) <= 0.2 * torso[:, None]
    assert res["metric"] == "PCK@0.2" and res["n_persons"] == 20 and res["n_scored"] == 280
    for k, name in enumerate(LSP.joints):
        assert res["per_joint"][name] == pytest.approx(ok[:, k].mean())
    assert res["mean"] == pytest.approx(ok.mean())
    # AUC over thresholds 0, 0.01, ..., 0.2: trapezoid of the pooled curve, normalised by 0.2
    d = np.linalg.norm(gt - centers[:, None], axis=2) / torso[:, None]
    th = np.linspace(0, 0.2, 21)
    curve = np.array([(d <= t).mean() for t in th])
    assert res["auc"] == pytest.approx(((curve[1:] + curve[:-1]) / 2 * 0.01).sum() / 0.2, abs=1e-9)
    json.dumps(res["table"])
    with pytest.raises(ValueError, match="pckh"):
        evaluate_pose2d(CentrePeak(), ds, layout="lsp14", codec=codec, metric="pckh")


def test_evaluate_pckh_known_answer(tmp_path):
    """MPII layout: every joint predicted at the window centre; PCKh@0.5 (official: strict <, unweighted mean over
    the 14 joints without pelvis and thorax) and Mean@0.1 worked out by hand."""
    from structnet.data.io import write_png
    from structnet.keypoints.datasets import PoseDataset, PoseRecord

    rng = np.random.default_rng(0)
    recs = []
    for i in range(12):
        write_png(tmp_path / f"m{i}.png", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        kp = rng.uniform(8, 56, (16, 2)).astype(np.float32)
        ann = rng.random(16) > 0.15
        recs.append(PoseRecord(name=f"m{i}.png", image_path=tmp_path / f"m{i}.png", keypoints=kp, visible=ann,
                               annotated=ann, layout="mpii16", center=np.array([32.0, 30.0], np.float32),
                               scale=0.3, box=np.full(4, np.nan, np.float32), norm=float(rng.uniform(20, 40)),
                               norm_kind="head"))
    codec = HeatmapCodec(input_size=(64, 64), heatmap_size=(16, 16), scales=(1,))
    res = evaluate_pose2d(CentrePeak(k=16), PoseDataset(recs), layout="mpii16", codec=codec)
    gt = np.stack([r.keypoints for r in recs]).astype(np.float64)
    ann = np.stack([r.annotated for r in recs])
    d = np.linalg.norm(gt - np.array([32.0, 30.0]), axis=2) / np.array([r.norm for r in recs])[:, None]
    mpii = get_layout("mpii16")
    keep = [k for k, n in enumerate(mpii.joints) if n not in ("pelvis", "thorax")]
    per_joint = np.array([(d[ann[:, k], k] < 0.5).mean() for k in range(16)])
    assert res["metric"] == "PCKh@0.5" and res["n_persons"] == 12 and res["n_scored"] == ann.sum()
    for k, n in enumerate(mpii.joints):
        assert res["per_joint"][n] == pytest.approx(per_joint[k])
    assert res["mean"] == pytest.approx(per_joint[keep].mean())
    mean01 = np.mean([(d[ann[:, k], k] < 0.1).mean() for k in keep])
    assert res["table"]["Mean@0.1"] == pytest.approx(100 * mean01)
    assert res["table"]["Head"] == pytest.approx(100 * per_joint[mpii.index("head_top")])


# ------------------------------------------------------------------------------------------------- plateau
class _FakeTrainer:
    def __init__(self, out_dir, start_step=0):
        self.model = torch.nn.Linear(2, 1)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=5e-4)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda t: 1.0)
        self.out_dir, self.start_step = Path(out_dir), start_step


def test_plateau_divides_lr_by_5_after_8_flat_evaluations(tmp_path):
    cfg = Pose2DConfig().plateau
    tr = _FakeTrainer(tmp_path)
    hook = PlateauHook(cfg)
    hook.before_train(tr)
    scores = [0.5, 0.6] + [0.6] * 7 + [0.59] + [0.7] + [0.1] * 8
    lrs = []
    for step, v in enumerate(scores, 1):
        hook.after_eval(tr, step, {"mean": v})
        lrs.append(tr.optimizer.param_groups[0]["lr"])
    # 0.6 is the best from evaluation 2; evaluations 3..10 do not beat it: the 8th of them (eval 10) reduces
    assert lrs[8] == pytest.approx(5e-4) and lrs[9] == pytest.approx(1e-4)
    assert tr.scheduler.base_lrs[0] == pytest.approx(5e-4 / 25)  # reduced twice
    assert lrs[-1] == pytest.approx(2e-5) and hook.reductions == 2
    # resume at step 12: the counters are rebuilt from metrics.jsonl (entries after step 12 ignored)
    with (tmp_path / "metrics.jsonl").open("w") as f:
        for step, v in enumerate(scores, 1):
            f.write(json.dumps({"step": step, "mean": v}) + "\n")
    h2 = PlateauHook(cfg)
    h2.before_train(_FakeTrainer(tmp_path, start_step=12))
    assert (h2.best, h2.bad, h2.reductions) == (0.7, 1, 1)


def test_training_with_validation_plateau_and_resume(tmp_path):
    """eval_every=1 with a plateau that never sees an improvement after the first evaluation (threshold 1):
    the base lr halves after evaluations 2 and 3; the reduced rate survives a resume (known lr per step)."""
    torch.set_num_threads(1)
    over = ["model.features=16", "model.msr=false", "data.synthetic_n=8", "train.batch_size=2",
            "train.checkpoint_every=3", "train.log_every=1", "train.eval_every=1", "eval.max_images=4",
            "eval.flip_test=false", "plateau.enabled=true", "plateau.patience=1", "plateau.factor=2",
            "plateau.threshold=1.0", "optim.lr=1e-3", "schedule.name=constant"]
    train(tiny_cfg(tmp_path, *over, "train.max_iters=3"))
    train(tiny_cfg(tmp_path, *over, "train.max_iters=4"))          # resumes from step 3
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    lrs = [float(r.split(",")[1]) for r in rows]
    assert lrs == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])
    evals = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [1, 2, 3, 4] and all(0 <= e["mean"] <= 1 for e in evals)
    from structnet.nn.weights import read_metadata as read_weights_metadata

    meta = read_weights_metadata(tmp_path / "run" / "model.safetensors", decode=True)
    assert meta["val_metrics"]["mean"] == pytest.approx(evals[-1]["mean"]) and meta["train_steps"] == 4


# -------------------------------------------------------------------------------------------- training
@pytest.mark.slow
def test_tiny_training_beats_the_untrained_model(tmp_path):
    """~20 s of one CPU thread: 150 steps of batch 8 on 64x64 stick figures (1 stack of width 32)."""
    torch.set_num_threads(1)
    cfg = tiny_cfg(tmp_path, "model.msr=false", "data.synthetic_n=256", "train.max_iters=150", "train.batch_size=8",
                   "train.checkpoint_every=150", "train.seed=0")
    codec = make_codec(cfg)
    val = build_eval_dataset(cfg, max_images=48)
    torch.manual_seed(0)
    before = evaluate_pose2d(build_model(cfg), val, layout="lsp14", codec=codec)
    weights = train(cfg, resume=False)
    from structnet import hub

    net = hub.load(weights, task="pose2d")
    assert net.layout.name == "lsp14" and net.codec.input_size == (64, 64)
    after = evaluate_pose2d(net, val)
    print("PCK@0.2 before", before["mean"], "after", after["mean"])
    assert after["mean"] > before["mean"] + 0.1, (before["mean"], after["mean"])
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert "ms_stack0_s16" in log and "struct_stack0_s4" in log and "msr" not in log


def _state(path):
    from safetensors.torch import load_file

    return load_file(str(path))


def test_stage_chain_keeps_the_mss_net_fixed_in_stage_2(tmp_path):
    torch.set_num_threads(1)
    common = TINY + ["model.features=16", "data.dataset=synthetic", "data.synthetic_n=8", "data.synthetic_size=64",
                     "train.max_iters=2", "train.batch_size=2", "train.checkpoint_every=2"]
    files = []
    for k, extra in enumerate([["model.msr=false"],
                               ["model.msr=true", "model.freeze=[mss]", "loss.supervise=[msr]", "model.init=previous"],
                               ["model.msr=true", "loss.supervise=[stacks, msr]", "data.keypoint_masking=true",
                                "model.init=previous"]], 1):
        f = tmp_path / f"stage{k}.yaml"
        save_config(load_config(Pose2DConfig, None, common + extra), f)
        files.append(str(f))
    rc = main(["train", "pose2d", "--stages", ",".join(files), "--out-root", str(tmp_path / "chain")])
    assert rc == 0
    stamps = [(tmp_path / "chain" / f"stage{k}" / "model.safetensors").stat().st_mtime_ns for k in (1, 2, 3)]
    # re-running a finished chain trains nothing and leaves every stage's weights as they are
    assert main(["train", "pose2d", "--stages", ",".join(files), "--out-root", str(tmp_path / "chain")]) == 0
    assert stamps == [(tmp_path / "chain" / f"stage{k}" / "model.safetensors").stat().st_mtime_ns for k in (1, 2, 3)]
    s1, s2, s3 = (_state(tmp_path / "chain" / f"stage{k}" / "model.safetensors") for k in (1, 2, 3))
    assert not any(k.startswith("msr.") for k in s1) and any(k.startswith("msr.") for k in s2)
    mss = [k for k in s1]
    for k in mss:  # weights and BatchNorm statistics of stem + stacks: bit-identical after stage 2
        torch.testing.assert_close(s2[k], s1[k], rtol=0, atol=0)
    assert any(not torch.equal(s3[k], s2[k]) for k in mss if k.endswith("weight"))      # stage 3 trains them
    assert any(not torch.equal(s3[k], s2[k]) for k in s2 if k.startswith("msr."))
    from structnet.nn.weights import read_metadata as read_weights_metadata

    meta = read_weights_metadata(tmp_path / "chain" / "stage2" / "model.safetensors", decode=True)
    assert meta["init"].endswith("stage1/model.safetensors") and meta["train_config"]["model"]["freeze"] == ["mss"]


def test_init_weights_must_fit(tmp_path):
    cfg = tiny_cfg(tmp_path, "model.features=16", "model.msr=false")
    from structnet.pose2d.task import save_pose_model

    save_pose_model(build_model(cfg), tmp_path / "w.safetensors", "lsp14", codec=make_codec(cfg))
    wider = tiny_cfg(tmp_path, "model.features=32", "model.msr=false")
    with pytest.raises(ValueError, match="shape mismatch"):
        load_init_weights(build_model(wider), tmp_path / "w.safetensors")
    deeper = tiny_cfg(tmp_path, "model.features=16", "model.stacks=2", "model.msr=false")
    with pytest.raises(ValueError, match=r"missing \(\d+\): stacks\."):
        load_init_weights(build_model(deeper), tmp_path / "w.safetensors")
    with_msr = build_model(tiny_cfg(tmp_path, "model.features=16", "model.msr=true"))
    load_init_weights(with_msr, tmp_path / "w.safetensors")           # stage 1 -> stage 2: MSR-net stays fresh
    s = _state(tmp_path / "w.safetensors")
    torch.testing.assert_close(with_msr.state_dict()["stacks.0.head.weight"], s["stacks.0.head.weight"])


def test_stage_chain_errors(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    save_config(load_config(Pose2DConfig, None, ["model.init=previous"]), a)
    save_config(load_config(Pose2DConfig, None, []), b)
    with pytest.raises(ValueError, match="first stage"):
        load_stage_configs([a, b], out_root=tmp_path / "x")
    with pytest.raises(ValueError, match="same train.out_dir"):
        load_stage_configs([b, b])
    with pytest.raises(ValueError, match="previous"):
        train(load_config(Pose2DConfig, a, TINY + ["data.dataset=synthetic", "model.msr=false"]))


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_round_trip_train_predict_eval(tmp_path, capsys):
    torch.set_num_threads(1)
    data = write_lspet_folder(tmp_path / "lspet", n_train=6, n_val=3, size=64, seed=5)
    cfg_path = tmp_path / "tiny.yaml"
    save_config(load_config(Pose2DConfig, None, TINY + [
        "model.features=16", "model.msr=true", f"data.root={data}", f"eval.root={data}", "train.max_iters=3",
        "train.batch_size=2", "train.checkpoint_every=3", f"train.out_dir={tmp_path / 'run'}"]), cfg_path)
    assert main(["train", "pose2d", "--config", str(cfg_path)]) == 0
    weights = tmp_path / "run" / "model.safetensors"
    assert weights.is_file()
    # predict: a folder with good images and a corrupt one -> outputs for the good ones, the bad one listed, exit 1
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    for p in sorted((data / "images").glob("*.jpg"))[:2]:
        (img_dir / p.name).write_bytes(p.read_bytes())
    (img_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    capsys.readouterr()
    rc = main(["predict", "pose2d", str(img_dir), "--out", str(tmp_path / "pred"), "--weights", str(weights),
               "--box", "4,2,60,62", "--scales", "1,1.1", "--precision", "float32"])
    err = capsys.readouterr().err
    assert rc == 1 and "broken.jpg" in err and "1 file(s) failed" in err
    for stem in ("im00001", "im00002"):
        rec = json.loads((tmp_path / "pred" / f"{stem}_pose2d.json").read_text())
        assert (rec["width"], rec["height"]) == (64, 64)
        assert [j["name"] for j in rec["joints"]] == list(LSP.joints)
        assert all(isinstance(j["x"], float) and isinstance(j["score"], float) for j in rec["joints"])
        assert (tmp_path / "pred" / f"{stem}_pose2d_overlay.png").stat().st_size > 0
    assert not (tmp_path / "pred" / "broken_pose2d.json").exists()
    # eval on the val split of the synthetic LSPET folder, JSON written
    rc = main(["eval", "pose2d", "--weights", str(weights), "--config", str(cfg_path), "--no-flip",
               "--json", str(tmp_path / "res.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "PCK@0.2" in out and "head_top" in out and "AUC" in out
    res = json.loads((tmp_path / "res.json").read_text())
    assert res["n_persons"] == 3 and set(res["per_joint"]) == set(LSP.joints)
    assert 0.0 <= res["mean"] <= 1.0 and 0.0 <= res["auc"] <= 1.0 and res["settings"]["flip_test"] is False
    assert res["table"]["Mean"] == pytest.approx(100 * res["mean"])


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    rc = main(["train", "pose2d", "--config", str(tmp_path / "missing.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "missing.yaml" in err[0]
    cfg = tmp_path / "c.yaml"
    save_config(Pose2DConfig(), cfg)
    rc = main(["train", "pose2d", "--config", str(cfg), "optim.lrr=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "optim.lrr" in err[0]
    rc = main(["predict", "pose2d", str(tmp_path), "--out", str(tmp_path / "o"),
               "--weights", str(tmp_path / "nope.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nope.safetensors" in err[0]
    rc = main(["predict", "pose2d", str(tmp_path), "--out", str(tmp_path / "o"), "--box", "1,2,3"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--box" in err[0]


@pytest.mark.skipif(not MPII_VALID.is_file(), reason=f"MPII validation annotations not available at {MPII_VALID}")
def test_mpii_annotations_without_images_are_refused_in_one_line(tmp_path, capsys):
    from structnet.pose2d.data import load_records

    recs = load_records("mpii", str(MPII_VALID), "val")
    assert len(recs) == 2958 and recs[0].layout == "mpii16" and recs[0].norm_kind == "head"
    w = tmp_path / "w.safetensors"
    from structnet.pose2d.task import save_pose_model

    save_pose_model(build_model(tiny_cfg(tmp_path, "data.dataset=mpii", "model.msr=false")), w, "mpii16",
                    codec=make_codec(tiny_cfg(tmp_path, "model.msr=false")))
    rc = main(["eval", "pose2d", "--weights", str(w), "--dataset", "mpii", "--root", str(MPII_VALID)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "image_dir" in err[0]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available in this build")
def test_stage_chain_under_two_process_ddp(tmp_path):
    """Stage 1 without MSR-net, stage 2 with the MSS-net frozen, stage 3 all: each must run under DDP without
    find_unused_parameters (every trainable parameter gets a gradient), and stage 2 must read stage 1's file."""
    import os
    import socket
    import subprocess
    import sys

    common = TINY + ["model.features=16", "data.dataset=synthetic", "data.synthetic_n=8", "data.synthetic_size=64",
                     "train.max_iters=2", "train.batch_size=1", "train.checkpoint_every=2", "train.device=cpu",
                     "train.find_unused_parameters=false"]
    files = []
    for k, extra in enumerate([["model.msr=false"],
                               ["model.msr=true", "model.freeze=[mss]", "loss.supervise=[msr]", "model.init=previous"],
                               ["model.msr=true", "data.keypoint_masking=true", "model.init=previous"]], 1):
        f = tmp_path / f"stage{k}.yaml"
        save_config(load_config(Pose2DConfig, None, common + extra), f)
        files.append(str(f))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(port), "-m", "structnet.cli", "train", "pose2d", "--stages", ",".join(files),
           "--out-root", str(tmp_path / "ddp")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    s1, s2, s3 = (_state(tmp_path / "ddp" / f"stage{k}" / "model.safetensors") for k in (1, 2, 3))
    for k in s1:
        torch.testing.assert_close(s2[k], s1[k], rtol=0, atol=0)
    assert any(not torch.equal(s3[k], s2[k]) for k in s1 if k.endswith("weight"))
    ck = torch.load(tmp_path / "ddp" / "stage2" / "ckpt_000002.pt", weights_only=True)
    assert ck["data"]["world_size"] == 2
