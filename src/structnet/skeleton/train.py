"""The skeleton task wired to the engine: datasets from the config, named losses, training, evaluation."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from ..nn.modules import unwrap
from .config import SkeletonConfig, SkeletonDataConfig, SkeletonModelConfig
from .losses import skeleton_losses
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
        out_img = np.zeros((3, c, c), np.float32)
        out_scale = np.zeros((c, c), np.float32)
        ch, cw = min(c, h), min(c, w)
        out_img[:, :ch, :cw] = img[:, y0:y0 + ch, x0:x0 + cw]
        out_scale[:ch, :cw] = scale[y0:y0 + ch, x0:x0 + cw]
        return {"image": out_img, "scale": out_scale, "skeleton": out_scale > 0}


def build_dataset(cfg: SkeletonDataConfig, split: Optional[str] = None, augment: Optional[bool] = None, seed: int = 0):
    """Dataset named by the config (see :data:`DATASETS`)."""
    from .data import SkLargeDataset, SyntheticShapesDataset, weizmann_horse

    split = split or cfg.split
    augment = cfg.augment if augment is None else augment
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
    return CropDataset(ds, cfg.crop) if cfg.crop else ds


def build_model(cfg: SkeletonModelConfig) -> SkeletonNet:
    return build_skeleton_model(method=cfg.method, backbone=cfg.backbone, pretrained=cfg.pretrained,
                                taps=cfg.taps, rho=cfg.rho, beyond=cfg.beyond, side_init=cfg.side_init,
                                freeze_bn=cfg.freeze_bn)


def make_loss_fn(cfg: SkeletonConfig):
    lc = cfg.loss

    def one(model, net, image, scale):
        out = model(image)
        return skeleton_losses(net, out, scale.float(), lam=lc.lam, side_weight=lc.side_weight,
                               fuse_weight=lc.fuse_weight, reduction=lc.reduction)

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        net = unwrap(model)  # DDP
        if isinstance(batch["image"], torch.Tensor):
            return one(model, net, batch["image"], batch["scale"])
        # images of different sizes (no crop): one forward per image, terms averaged over the batch
        terms = [one(model, net, im[None], sc[None]) for im, sc in zip(batch["image"], batch["scale"])]
        return {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]}

    return loss_fn
