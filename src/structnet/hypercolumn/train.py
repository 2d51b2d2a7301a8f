"""Training wiring of the hypercolumn task: the network from the config and the loss (the negative log-likelihood
of the grid-interpolated probabilities, the paper's end-to-end formulation; pixels labelled 255 do not count)."""
from __future__ import annotations

from typing import Callable, Dict

import torch

from ..errors import UserError
from .config import TASKS, HypercolumnConfig
from .model import HypercolumnNet

__all__ = ["build_model", "make_loss_fn", "check_config", "nll_loss"]


def check_config(cfg: HypercolumnConfig) -> None:
    m = cfg.model
    if m.task not in TASKS:
        raise UserError(f"model.task must be one of {', '.join(TASKS)}, got {m.task!r}")
    if m.grid < 1 or m.grid > 20:
        raise UserError(f"model.grid must be in 1..20, got {m.grid}")
    if m.input_size % 4 or m.input_size < 32:
        raise UserError(f"model.input_size must be a multiple of 4 and >= 32, got {m.input_size}")
    if not cfg.loss.pos_weight > 0:
        raise UserError(f"loss.pos_weight must be > 0, got {cfg.loss.pos_weight}")
    if not 0.0 <= cfg.data.flip_prob <= 1.0:
        raise UserError("data.flip_prob is a probability in [0, 1]")


def build_model(cfg: HypercolumnConfig, pretrained=None) -> HypercolumnNet:
    m = cfg.model
    try:
        return HypercolumnNet(classes=TASKS[m.task], kind=m.task, grid=m.grid, taps=list(m.taps), kernels=m.kernels,
                              global_feature=m.global_feature, backbone=m.backbone,
                              pretrained=m.pretrained if pretrained is None else pretrained,
                              input_size=m.input_size)
    except (KeyError, ValueError) as e:
        raise UserError(f"model: {e}") from None


def nll_loss(net: HypercolumnNet, scores: torch.Tensor, labels: torch.Tensor, ignore: int = 255,
             pos_weight: float = 1.0) -> torch.Tensor:
    """Mean over labelled pixels of ``-log p_i(label_i)``, ``p`` the grid-interpolated probability. ``labels``:
    ``(N, h, w)`` class indices (parts, figure-ground) or ``(N, C, h, w)`` 0 / 1 per keypoint; 255 = ignore.
    ``pos_weight``: the weight of pixels labelled 1 (keypoints; the mean is then weighted)."""
    lp = net.log_probs(scores)                                        # (N, C', h, w) or (N, 2, C, h, w)
    valid = labels != ignore
    y = torch.where(valid, labels, torch.zeros_like(labels))
    picked = lp.gather(1, y[:, None])[:, 0]
    w = valid.to(picked.dtype)
    if pos_weight != 1.0:
        w = w * torch.where(labels == 1, torch.full_like(w, float(pos_weight)), torch.ones_like(w))
    return -(picked * w).sum() / w.sum().clamp_min(1)


def make_loss_fn(cfg: HypercolumnConfig) -> Callable:
    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        scores = model(batch["image"])
        net = model.module if hasattr(model, "module") else model
        return {"nll": nll_loss(net, scores, batch["label"].to(scores.device), pos_weight=cfg.loss.pos_weight)}

    return loss_fn
