"""The hypercolumn loss: the negative log-likelihood of the grid-interpolated probabilities (the paper's end-to-end
formulation; pixels labelled 255 do not count)."""
from __future__ import annotations

from typing import Callable, Dict

import torch

from .config import HypercolumnConfig
from .model import HypercolumnNet

__all__ = ["nll_loss", "make_loss_fn"]


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
