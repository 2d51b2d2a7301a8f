"""End to end: a tiny LMSDS trained on project-generated shapes must beat the untrained model;
config files parse; the CLI round trip (train -> predict -> eval) works on tiny data."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from structnet import tasks
from structnet.cli import main
from structnet.engine.config import load_config
from structnet.skeleton.config import SkeletonConfig
from structnet.skeleton.evaluate import evaluate_model
from structnet.skeleton.train import build_dataset, build_model
from structnet.tasks import run

ROOT = Path(__file__).resolve().parents[1]


def train(cfg, resume=True):
    return run.train(tasks.get("skeleton"), cfg, resume=resume)


def tiny_config(tmp_path, method="lmsds", iters=200):
    return load_config(SkeletonConfig, None, [
        f"model.method={method}", "model.backbone=vgg_tiny", "model.pretrained=false", "model.side_init=normal",
        "data.dataset=synthetic", "data.synthetic_n=64", "data.synthetic_size=64", "data.augment=true", "data.crop=56",
        "optim.name=adam", "optim.lr=2e-3", "optim.weight_decay=0", "schedule.name=constant",
        f"train.max_iters={iters}", "train.batch_size=8", "train.num_workers=0", "train.seed=0",
        f"train.out_dir={tmp_path / 'run'}", f"train.checkpoint_every={iters}", "train.log_every=20",
        "train.precision=float32", "train.progress_bar=false",
        "eval.dataset=synthetic", "eval.thresholds=20"])


def test_tiny_training_beats_untrained(tmp_path):
    cfg = tiny_config(tmp_path)
    torch.manual_seed(0)
    val = build_dataset(cfg.data, split="test", augment=False, seed=cfg.train.seed)
    untrained = build_model(cfg.model).eval()
    # 64 px images: the protocol's 0.01 x diagonal is under one pixel, so judge at 0.03 (about 2.7 px)
    kw = dict(thresholds=20, tolerance=0.03, max_images=16, precision="float32", workers=1)
    before = evaluate_model(untrained, val, **kw)
    weights = train(cfg)
    assert weights.is_file()
    from structnet import hub

    net = hub.load(weights, task="skeleton")
    after = evaluate_model(net, val, **kw)
    print("F before", before["ods_f"], "after", after["ods_f"])
    assert after["ods_f"] > before["ods_f"] + 0.1, (before["ods_f"], after["ods_f"])
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert "cls_fuse" in log[0] and "reg_stage2" in log[0]


@pytest.mark.parametrize("path", sorted((ROOT / "src" / "structnet" / "configs" / "skeleton").glob("*.yaml"))
                         + sorted((ROOT / "benchmarks" / "configs" / "skeleton").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_parse(path):
    cfg = load_config(SkeletonConfig, path)
    assert cfg.model.method in ("lmsds", "fsds", "hed")
    if cfg.model.method != "lmsds":
        assert cfg.loss.lam == 0


def test_paper_config_matches_paper():
    cfg = load_config(SkeletonConfig, ROOT / "src/structnet/configs/skeleton/lmsds_vgg16_paper.yaml")
    assert (cfg.train.batch_size, cfg.optim.lr, cfg.optim.momentum, cfg.optim.weight_decay, cfg.train.max_iters) == \
        (1, 1e-6, 0.9, 2e-4, 20000)
    assert cfg.optim.lr * cfg.optim.lr_mult["fuse"] == pytest.approx(5e-6)
    assert cfg.model.backbone == "vgg16" and cfg.loss.side_weight == 1.0


def test_unknown_config_key_is_named(tmp_path):
    with pytest.raises(ValueError, match="lamda"):
        load_config(SkeletonConfig, None, ["loss.lamda=1"])


def test_cli_round_trip(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text((ROOT / "src/structnet/configs/skeleton/lmsds_vgg16_paper.yaml").read_text())
    out = tmp_path / "run"
    rc = main(["train", "skeleton", "--config", str(cfg_path), "model.backbone=vgg_tiny", "model.pretrained=false",
               "data.dataset=synthetic", "data.synthetic_n=8", "data.synthetic_size=48", "train.max_iters=3",
               "train.num_workers=0", f"train.out_dir={out}", "train.progress_bar=false", "train.checkpoint_every=3"])
    assert rc == 0 and (out / "model.safetensors").is_file()
    # images (one corrupt) -> predict writes every output for the good ones and exits non-zero naming the bad one
    from structnet.data.io import write_png
    from structnet.skeleton.data import SyntheticShapesDataset
    from structnet.skeleton.gt import encode_sk_large_png

    ds = SyntheticShapesDataset(3, size=(48, 56), seed=5)
    img_dir, gt_dir = tmp_path / "im", tmp_path / "gt"
    for i in range(3):
        s = ds[i]
        write_png(img_dir / f"{s['name']}.png", np.round(np.transpose(s["image"], (1, 2, 0)) * 255).astype(np.uint8))
        write_png(gt_dir / f"{s['name']}.png", encode_sk_large_png(s["skeleton"], s["scale"]))
    (img_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    capsys.readouterr()
    rc = main(["predict", "skeleton", str(img_dir), "--out", str(tmp_path / "pred"),
               "--weights", str(out / "model.safetensors"), "--precision", "float32"])
    err = capsys.readouterr().err
    assert rc == 1 and "broken.jpg" in err
    for i in range(3):
        stem = ds.names[i]
        for suffix in ("_skeleton.png", "_skeleton_overlay.png", "_skeleton_segments.png", "_skeleton.npz"):
            assert (tmp_path / "pred" / f"{stem}{suffix}").is_file()
        z = np.load(tmp_path / "pred" / f"{stem}_skeleton.npz")
        assert z["skeleton"].shape == (48, 56) and z["skeleton"].dtype == np.float32
        assert z["scale"].dtype == np.float32 and z["thin"].dtype == bool
    rc = main(["score", "skeleton", "--pred", str(tmp_path / "pred"), "--gt", str(gt_dir), "--thresholds", "10",
               "--json", str(tmp_path / "res.json"), "--plot", str(tmp_path / "pr.png"), "--workers", "1"])
    assert rc == 0
    res = json.loads((tmp_path / "res.json").read_text())
    for k in ("ods_f", "ods_p", "ods_r", "ois_f", "ap", "thresholds", "precision", "recall", "n_images"):
        assert k in res
    assert res["n_images"] == 3 and len(res["thresholds"]) == 10
    assert (tmp_path / "pr.png").stat().st_size > 0
    assert "ODS F" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    rc = main(["predict", "skeleton", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o"),
               "--weights", str(tmp_path / "missing.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "missing.safetensors" in err[0]
