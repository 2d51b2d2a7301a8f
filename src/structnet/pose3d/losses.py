"""Losses of the 3D pose task's two model kinds: the lifter's per-hypothesis 3D error (:func:`make_loss_fn`) and
the image -> maps network's sigmoid cross entropy at every decoder level (:func:`make_image_loss_fn`)."""
from __future__ import annotations

from typing import Callable, Dict

import torch

from .config import Pose3DConfig
from .maps_net import map_loss

__all__ = ["make_loss_fn", "make_image_loss_fn"]


def make_loss_fn(cfg: Pose3DConfig) -> Callable:
    """``loss_fn(model, batch)``: one term per hypothesis (``h0``, ``h1``, ...), each the mean squared error in
    metres (Caffe's Euclidean loss; ``loss.kind: mpjpe``: the mean joint distance in metres)."""
    kind = cfg.loss.kind

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        pred = model(batch["kp"], batch["depth"], batch["order"]) / 1000.0     # (N, H, 17, 3) m
        diff = pred - batch["target"].to(pred.device)[:, None] / 1000.0
        if kind == "mse":
            per = diff.pow(2).mean(dim=(0, 2, 3))
        else:
            per = diff.norm(dim=-1).mean(dim=(0, 2))
        return {f"h{h}": per[h] for h in range(per.shape[0])}

    return loss_fn


def make_image_loss_fn(cfg: Pose3DConfig) -> Callable:
    """``loss_fn(model, batch)``: :func:`~structnet.pose3d.maps_net.map_loss` of every level (``l0`` the
    output, ``l1``..``l3`` the intermediate supervision)."""

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        out = model(batch["image"])
        dev = out["maps"].device
        w = batch.get("weight")
        return map_loss(out["levels"], batch["maps"].to(dev).float(), None if w is None else w.to(dev).float())

    return loss_fn
