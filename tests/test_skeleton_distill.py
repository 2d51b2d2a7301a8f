"""Distilling the six-pass skeleton ensemble into one pass: soft targets and the distillation loss (known answers),
teacher maps through the augmentation, unlabelled photos, the loss on mixed batches, a tiny training, --tta."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from structnet.skeleton.codec import SkeletonCodec
from structnet.data.keys import ConcatKeyed
from structnet.skeleton.data import (SyntheticShapesDataset, UnlabelledImages, read_teacher,
                                     scale_after_transform)
from structnet.skeleton.losses import distill_loss, soft_targets

CODEC = SkeletonCodec(fields=(10.0, 20.0, 40.0))


def test_soft_targets_known_answer():
    prob = torch.tensor([[[0.8, 0.1, 0.5, 1.0]]])  # (1, 1, 4)
    scale = torch.tensor([[[12.0, 0.0, 30.0, 100.0]]])  # classes by Eq. 1 (rho 1.2): 2, (0 -> 1), 3, beyond -> 3
    q = soft_targets(prob, scale, CODEC)[0, :, 0]  # (4 classes, 4 pixels)
    expected = torch.tensor([[0.2, 0.9, 0.5, 0.0],
                             [0.0, 0.1, 0.0, 0.0],
                             [0.8, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.5, 1.0]])
    assert torch.allclose(q, expected)
    assert torch.allclose(q.sum(0), torch.ones(4))


def test_distill_loss_is_smallest_and_flat_at_the_teacher():
    torch.manual_seed(0)
    prob = torch.rand(2, 8, 8)
    scale = torch.rand(2, 8, 8) * 50
    q = soft_targets(prob, scale, CODEC)
    at_teacher = torch.log(q.clamp_min(1e-8)).requires_grad_(True)
    loss = distill_loss(at_teacher, prob, scale, CODEC)
    loss.backward()
    assert at_teacher.grad.abs().max() < 1e-4  # softmax(log q) = q: the gradient vanishes
    for _ in range(3):
        other = torch.randn(2, 4, 8, 8)
        assert distill_loss(other, prob, scale, CODEC) > loss
    # class balance: one skeleton pixel weighs as much as all background pixels together
    prob1 = torch.zeros(1, 4, 4)
    prob1[0, 1, 1] = 1.0
    logits = torch.zeros(1, 4, 4, 4)
    l1 = distill_loss(logits, prob1, torch.full((1, 4, 4), 15.0), CODEC)
    assert math.isclose(float(l1), math.log(4), rel_tol=1e-5)  # uniform logits: log(classes) everywhere


def _teacher_dir(tmp_path, ds, transform=lambda p: p):
    d = tmp_path / "teacher"
    d.mkdir()
    for i, name in enumerate(ds.names):
        s = ds._load(i)
        prob = transform(np.asarray(s["skeleton"], np.float32))
        np.savez(d / f"{name}_skeleton.npz", skeleton=prob, scale=np.asarray(s["scale"], np.float32),
                 thin=np.asarray(s["skeleton"], bool))
    return d


def test_teacher_maps_follow_the_augmentation(tmp_path):
    ds = SyntheticShapesDataset(4, size=(48, 64), seed=3, augment=True)
    ds.teacher = _teacher_dir(tmp_path, ds)
    for key in [(0, 1), (1, 5), (2, 9), (3, 11)]:
        s = ds[key]
        assert s["teacher_prob"].shape == s["skeleton"].shape and s["labelled"] is True
        # the teacher's probability is the GT skeleton: after the same rotation / flip / resize it still covers it
        assert s["teacher_prob"][s["skeleton"]].mean() > 0.3
        assert s["teacher_prob"][~s["skeleton"]].mean() < 0.1


def test_scale_after_transform_known_answer():
    s = np.full((40, 60), 10.0, np.float32)
    assert np.allclose(scale_after_transform(s[:48 // 2, :72 // 2], (40, 60)), 10.0 * math.sqrt(24 * 36 / 2400))
    assert np.allclose(scale_after_transform(s.T, (40, 60)), 10.0)  # a rotation keeps the area


def test_read_teacher_names_a_missing_or_wrong_file(tmp_path):
    with pytest.raises(ValueError, match="teacher maps not found: .*a_skeleton.npz"):
        read_teacher(tmp_path, "a", (4, 4))
    np.savez(tmp_path / "b_skeleton.npz", skeleton=np.zeros((3, 3), np.float32), scale=np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="3x3, the photo is 4x4"):
        read_teacher(tmp_path, "b", (4, 4))


def test_unlabelled_photos_and_concat(tmp_path):
    from structnet.data.io import write_png

    folder = tmp_path / "photos"
    for i in range(3):
        write_png(folder / f"p{i}.png", np.full((20, 30, 3), 40 * i, np.uint8))
    teacher = tmp_path / "t"
    teacher.mkdir()
    for i in range(3):
        np.savez(teacher / f"p{i}_skeleton.npz", skeleton=np.full((20, 30), 0.25 * i, np.float32),
                 scale=np.full((20, 30), 8.0, np.float32))
    un = UnlabelledImages([folder], teacher)
    syn = SyntheticShapesDataset(2, size=(32, 32), seed=0)
    both = ConcatKeyed(syn, un)
    assert len(both) == 5 and both.names[2:] == ["p0", "p1", "p2"]
    s = both[(4, 7)]
    assert s["labelled"] is False and not s["skeleton"].any() and np.allclose(s["teacher_prob"], 0.5)
    assert "teacher_prob" not in both[0]  # the labelled part without a teacher folder


def test_loss_on_a_mixed_batch_only_distills_the_unlabelled(tmp_path):
    from structnet.engine.config import load_config
    from structnet.skeleton.config import SkeletonConfig
    from structnet.skeleton.train import build_model, make_loss_fn

    cfg = load_config(SkeletonConfig, None, ["model.backbone=vgg_tiny", "model.pretrained=false",
                                             f"data.teacher={tmp_path}", "loss.distill_weight=1.0"])
    net = build_model(cfg.model).eval()
    fn = make_loss_fn(cfg)
    img = torch.rand(2, 3, 32, 32)
    scale = torch.zeros(2, 32, 32)
    scale[:, 16, 8:24] = 6.0
    batch = {"image": img, "scale": scale, "teacher_prob": (scale > 0).float(), "teacher_scale": scale,
             "labelled": torch.tensor([False, False])}
    terms = fn(net, batch)
    assert terms["distill"] > 0 and all(float(v.detach()) == 0.0 for k, v in terms.items() if k != "distill")
    batch["labelled"] = torch.tensor([True, False])
    terms = fn(net, batch)
    assert terms["cls_fuse"] > 0 and terms["distill"] > 0
    with pytest.raises(ValueError, match="needs data.teacher"):
        make_loss_fn(load_config(SkeletonConfig, None, ["loss.distill_weight=1.0"]))


def test_tiny_distillation_training_beats_untrained(tmp_path):
    """Trained only on the teacher's maps of unlabelled photos (here: the synthetic GT as the teacher), the model
    learns the skeletons."""
    from structnet import hub, tasks
    from structnet.data.io import write_png
    from structnet.engine.config import load_config
    from structnet.skeleton.config import SkeletonConfig
    from structnet.skeleton.evaluate import evaluate_model
    from structnet.skeleton.train import build_dataset, build_model
    from structnet.tasks import run

    src = SyntheticShapesDataset(48, size=(64, 64), seed=11)
    photos, teacher = tmp_path / "photos", tmp_path / "teacher"
    teacher.mkdir()
    for i, name in enumerate(src.names):
        s = src._load(i)
        write_png(photos / f"{name}.png", s["image"])
        np.savez(teacher / f"{name}_skeleton.npz", skeleton=np.asarray(s["skeleton"], np.float32),
                 scale=np.asarray(s["scale"], np.float32))
    for i in range(2):  # the labelled part (synthetic_n 2) needs teacher maps too
        s = SyntheticShapesDataset(2, size=(64, 64), seed=0)._load(i)
        np.savez(teacher / f"synth_{i}_skeleton.npz", skeleton=np.asarray(s["skeleton"], np.float32),
                 scale=np.asarray(s["scale"], np.float32))
    cfg = load_config(SkeletonConfig, None, [
        "model.backbone=vgg_tiny", "model.pretrained=false", "model.side_init=normal",
        "data.dataset=synthetic", "data.synthetic_n=2", "data.synthetic_size=64", "data.augment=true", "data.crop=56",
        f"data.teacher={teacher}", f"data.unlabelled=[{photos}]", "loss.distill_weight=1.0",
        "optim.name=adam", "optim.lr=2e-3", "optim.weight_decay=0", "schedule.name=constant",
        "train.max_iters=200", "train.batch_size=8", "train.num_workers=0", "train.seed=0",
        f"train.out_dir={tmp_path / 'run'}", "train.checkpoint_every=200", "train.log_every=50",
        "train.precision=float32", "train.progress_bar=false"])
    val = build_dataset(cfg.data.__class__(dataset="synthetic", synthetic_n=64, synthetic_size=64), split="test",
                        augment=False, seed=0)
    kw = dict(thresholds=20, tolerance=0.03, max_images=16, precision="float32", workers=1)
    torch.manual_seed(0)
    before = evaluate_model(build_model(cfg.model).eval(), val, **kw)
    weights = run.train(tasks.get("skeleton"), cfg)
    after = evaluate_model(hub.load(weights, task="skeleton"), val, **kw)
    assert after["ods_f"] > before["ods_f"] + 0.1, (before["ods_f"], after["ods_f"])
    assert "distill" in (tmp_path / "run" / "log.csv").read_text().splitlines()[0]


def test_tta_flag_gives_the_six_passes_and_no_tta_one():
    from structnet.skeleton.config import SkeletonPredictOptions
    from structnet.skeleton.task import TTA_SCALES, _stored

    class M:
        settings = {"max_side": 400, "scales": (1.0,), "flip": False}

    assert _stored(SkeletonPredictOptions(), M) == (400, (1.0,), False)
    assert _stored(SkeletonPredictOptions(tta=True), M) == (400, TTA_SCALES, True)
    M.settings = {"max_side": 400, "scales": TTA_SCALES, "flip": True}
    assert _stored(SkeletonPredictOptions(tta=False), M) == (400, (1.0,), False)
    assert _stored(SkeletonPredictOptions(tta=False, flip=True), M) == (400, (1.0,), True)  # explicit flags win
