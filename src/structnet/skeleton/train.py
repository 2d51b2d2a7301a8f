"""The skeleton task wired to the engine: datasets from the config, named losses, training, evaluation."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from ..nn.modules import unwrap
from .config import SkeletonConfig, SkeletonDataConfig, SkeletonModelConfig
from .losses import distill_loss, skeleton_losses
from .model import SkeletonNet, build_skeleton_model

DATASETS = ("sk-large", "weizmann-horse", "synthetic")


class CropDataset:
    """Wraps a skeleton dataset: a random ``size`` x ``size`` crop (zero-padded when smaller) so that
    samples stack into batches. The crop position draws from the sample's seed (dataset key convention)."""

    def __init__(self, ds, size: int):
        self.ds, self.size = ds, int(size)

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, key):
        s = self.ds[key]
        seed = key[1] if isinstance(key, tuple) else int(key)
        rng = np.random.default_rng([int(seed), 7])
        img, scale = s["image"], s["scale"]
        h, w = scale.shape
        c = self.size
        y0 = int(rng.integers(0, max(h - c, 0) + 1))
        x0 = int(rng.integers(0, max(w - c, 0) + 1))
        ch, cw = min(c, h), min(c, w)

        def cut(a, channels=None):
            out = np.zeros((c, c) if channels is None else (channels, c, c), np.float32)
            out[..., :ch, :cw] = a[..., y0:y0 + ch, x0:x0 + cw]
            return out

        out = {"image": cut(img, 3), "scale": cut(scale)}
        out["skeleton"] = out["scale"] > 0
        if "teacher_prob" in s:
            out.update(teacher_prob=cut(s["teacher_prob"]), teacher_scale=cut(s["teacher_scale"]),
                       labelled=s["labelled"])
        return out


def build_dataset(cfg: SkeletonDataConfig, split: Optional[str] = None, augment: Optional[bool] = None, seed: int = 0):
    """Dataset named by the config (see :data:`DATASETS`)."""
    from .data import SkLargeDataset, SyntheticShapesDataset, weizmann_horse

    split = split or cfg.split
    augment = cfg.augment if augment is None else augment
    if cfg.unlabelled and not cfg.teacher:
        raise ValueError("data.unlabelled needs data.teacher: the unlabelled photos are trained on the teacher's maps")
    if cfg.dataset == "sk-large":
        ds = SkLargeDataset(cfg.root, split=split, augment=augment, max_side=cfg.max_side)
    elif cfg.dataset == "weizmann-horse":
        ds = weizmann_horse(cfg.root, split=split, augment=augment, max_side=cfg.max_side, cache_dir=cfg.cache_dir)
    elif cfg.dataset == "synthetic":
        n = cfg.synthetic_n if split == "train" else max(16, cfg.synthetic_n // 4)
        ds = SyntheticShapesDataset(n, size=(cfg.synthetic_size, cfg.synthetic_size),
                                    seed=seed + (0 if split == "train" else 1000003), augment=augment)
    else:
        raise ValueError(f"unknown skeleton dataset {cfg.dataset!r}; valid: {', '.join(DATASETS)}")
    if cfg.factors is not None:
        from ..data.transforms import all_skeleton_augs

        all_skeleton_augs(cfg.factors)      # a bad list is refused here, before training starts
        ds.factors = tuple(float(f) for f in cfg.factors)
    if cfg.teacher:
        from ..data.keys import ConcatKeyed
        from .data import UnlabelledImages

        if not Path(cfg.teacher).is_dir():
            raise ValueError(f"data.teacher: folder not found: {cfg.teacher}")
        ds.teacher = cfg.teacher
        if cfg.unlabelled:
            extra = UnlabelledImages(cfg.unlabelled, cfg.teacher, augment=augment, max_side=cfg.max_side,
                                     factors=ds.factors)
            ds = ConcatKeyed(ds, extra)
    return CropDataset(ds, cfg.crop) if cfg.crop else ds


def build_model(cfg: SkeletonModelConfig) -> SkeletonNet:
    return build_skeleton_model(method=cfg.method, backbone=cfg.backbone, pretrained=cfg.pretrained,
                                taps=cfg.taps, rho=cfg.rho, beyond=cfg.beyond, side_init=cfg.side_init,
                                freeze_bn=cfg.freeze_bn)


def make_loss_fn(cfg: SkeletonConfig):
    """``loss_fn(model, batch)``: the paper's terms (:func:`skeleton_losses`) on the annotated samples and, with
    ``loss.distill_weight`` > 0, ``distill`` (:func:`distill_loss` of the fused output against the teacher's maps)
    on every sample. Terms a batch has no sample for are 0."""
    lc = cfg.loss
    if lc.distill_weight > 0 and not cfg.data.teacher:
        raise ValueError("loss.distill_weight > 0 needs data.teacher (the teacher's maps)")
    if lc.distill_weight > 0 and cfg.model.method == "hed":
        raise ValueError("loss.distill_weight > 0 needs an lmsds or fsds model (HED has no scale classes)")

    def one(model, net, image, scale, teacher=None, labelled=None):
        out = model(image)
        if teacher is None:
            return skeleton_losses(net, out, scale.float(), lam=lc.lam, side_weight=lc.side_weight,
                                   fuse_weight=lc.fuse_weight, reduction=lc.reduction)
        keep = torch.as_tensor(labelled, dtype=torch.bool, device=image.device).reshape(-1)
        if bool(keep.any()):
            sub = {k: ([v[keep] for v in out[k]] if isinstance(out[k], (list, tuple)) else out[k][keep])
                   for k in ("side_logits", "side_scale", "fuse_logits") if k in out and out[k] is not None}
            terms = skeleton_losses(net, sub, scale.float()[keep], lam=lc.lam, side_weight=lc.side_weight,
                                    fuse_weight=lc.fuse_weight, reduction=lc.reduction)
            terms = {k: v * keep.float().mean() for k, v in terms.items()}  # a mean over the whole batch
        else:
            terms = {k: out["fuse_logits"].sum() * 0.0 for k in _term_names(net, lc)}
        terms["distill"] = lc.distill_weight * distill_loss(out["fuse_logits"], teacher[0], teacher[1], net.codec)
        return terms

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        net = unwrap(model)  # DDP
        distill = lc.distill_weight > 0 and "teacher_prob" in batch
        if isinstance(batch["image"], torch.Tensor):
            teacher = (batch["teacher_prob"], batch["teacher_scale"]) if distill else None
            return one(model, net, batch["image"], batch["scale"], teacher, batch.get("labelled"))
        # images of different sizes (no crop): one forward per image, terms averaged over the batch
        terms = []
        for i, (im, sc) in enumerate(zip(batch["image"], batch["scale"])):
            teacher = ((batch["teacher_prob"][i][None], batch["teacher_scale"][i][None]) if distill else None)
            terms.append(one(model, net, im[None], sc[None], teacher,
                             [batch["labelled"][i]] if distill else None))
        return {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]}

    return loss_fn


def _term_names(net, lc) -> list:
    """The names of :func:`skeleton_losses`' terms for ``net`` (a batch without annotated samples gives them 0)."""
    names = [f"cls_{t}" for t in net.taps]
    if net.method == "lmsds" and lc.lam > 0:
        names += [f"reg_{t}" for t in net.taps]
    return names + ["cls_fuse"]
