"""The joint loss of the extraction task (Wang et al. 2014, Eq. 4-6): the E-step of each mini-batch (the latent
adjustment of every image's box, :mod:`.latent`) and the M-step losses of both networks on the adjusted references;
the training loop around it is described in :mod:`.train`."""
from __future__ import annotations

import time
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..nn.boxes import crop_boxes
from .config import ExtractionConfig
from .latent import (AdjustmentHistory, adjustment_grid, data_term, exhaustive_search, mh_finish, mh_propose,
                     proposal_log_probs, zero_index)
from .model import UNITS, ExtractionNet, clamp_boxes, units_to_pixels

__all__ = ["JointLoss", "make_loss_fn", "mask_targets", "joint_costs", "frame_probabilities"]


def mask_targets(masks: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Masks ``(N, H, W)`` (0 / 1) cropped at the boxes ``(N, 4)`` (units) and resampled to ``(N, size, size)``
    0 / 1 targets (bilinear, >= 0.5; outside the image: background)."""
    px = units_to_pixels(boxes, masks.shape[-2:])
    return (crop_boxes(masks[:, None].float(), px, size)[:, 0] >= 0.5).float()


def frame_probabilities(logits: torch.Tensor, boxes: torch.Tensor, frames: torch.Tensor, size: int,
                        outside: float = 1e-3) -> torch.Tensor:
    """The box masks' foreground probabilities seen from fixed frames: ``logits`` ``(A, m, m)`` of the boxes
    ``(A, 4)``, sampled (bilinear) at the centres of a ``size x size`` grid over the frames ``(A, 4)`` (all in units);
    points of a frame outside its box get ``outside`` (what the pasted result says there: background).
    -> ``(A, size, size)``."""
    u = (torch.arange(size, dtype=torch.float32, device=boxes.device) + 0.5) / size
    xs = frames[:, 0:1] + u[None] * (frames[:, 2:3] - frames[:, 0:1])                 # (A, size) units
    ys = frames[:, 1:2] + u[None] * (frames[:, 3:4] - frames[:, 1:2])
    gx = (xs - boxes[:, 0:1]) / (boxes[:, 2:3] - boxes[:, 0:1]).clamp_min(1e-6) * 2 - 1
    gy = (ys - boxes[:, 1:2]) / (boxes[:, 3:4] - boxes[:, 1:2]).clamp_min(1e-6) * 2 - 1
    grid = torch.stack([gx[:, None, :].expand(-1, size, -1), gy[:, :, None].expand(-1, -1, size)], dim=-1)
    p = torch.sigmoid(F.grid_sample(logits[:, None].float(), grid, mode="bilinear", padding_mode="border",
                                    align_corners=False)[:, 0])
    inside = (gx.abs() <= 1)[:, None, :] & (gy.abs() <= 1)[:, :, None]
    return torch.where(inside, p, torch.full_like(p, float(outside)))


def joint_costs(net: ExtractionNet, images: torch.Tensor, masks: torch.Tensor, owners: torch.Tensor,
                boxes: torch.Tensor, loc_pred: torch.Tensor, frames: Optional[torch.Tensor] = None,
                chunk: int = 32) -> torch.Tensor:
    """The joint cost (Eq. 5 + 6) of candidate boxes: ``boxes`` ``(A, 4)`` (units, already clipped) of the images
    ``owners`` ``(A,)`` (indices into ``images`` / ``masks`` / ``loc_pred``): ``||loc_pred - box||^2`` plus the
    summed logistic loss of the segmentation.

    ``frames=None``: the loss of the ``m x m`` output against the mask cropped at the same box (Eq. 6 read
    literally). ``frames`` ``(A, 4)``: the loss over an ``m x m`` grid of a fixed frame per image (our E-step: the
    ground-truth box widened by the largest adjustment, so every candidate is scored on the same pixels; object
    pixels the box leaves out count as predicted background). Read literally, shrinking a box into the object is
    always cheapest: the crop holds only object. No gradients; ``chunk`` crops per forward."""
    out = torch.empty(len(boxes), dtype=torch.float32)
    dev = next(net.parameters()).device
    m = net.mask_size
    with torch.no_grad():
        for a in range(0, len(boxes), chunk):
            b, o = boxes[a:a + chunk].to(dev), owners[a:a + chunk]
            logits = net.segment(images[o].to(dev), b).float()
            if frames is None:
                target = mask_targets(masks[o].to(dev), b, m)
                seg = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
            else:
                fr = frames[a:a + chunk].to(dev)
                p = frame_probabilities(logits, b, fr, m)
                target = mask_targets(masks[o].to(dev), fr, m)
                seg = F.binary_cross_entropy(p, target, reduction="none").flatten(1).sum(1)
            loc = ((loc_pred[o].to(dev).float() - b) ** 2).sum(1)
            out[a:a + chunk] = (loc + seg).cpu()
    return out


class JointLoss:
    """``loss_fn(model, batch)`` of the trainer: the E-step of ``cfg.latent.search`` then the two terms ``loc``
    and ``seg`` (module docstring). ``history``, ``log`` (the E-step statistics since the last read) and the
    totals ``seconds_estep`` / ``evaluated`` are kept for :class:`LatentHook`."""

    def __init__(self, cfg: ExtractionConfig):
        self.cfg = cfg
        lat = cfg.latent
        self.grid = adjustment_grid(lat.steps)
        self.grid_t = torch.as_tensor(self.grid, dtype=torch.float32)
        self.zero = zero_index(self.grid)
        self.history = AdjustmentHistory(0, sigma0=lat.sigma0)
        self.rng = np.random.default_rng(cfg.train.seed + 1)
        self.calls = 0
        self.stats: Dict[str, float] = {"images": 0, "seconds": 0.0, "evaluated": 0, "accepted": 0, "moves": 0,
                                        "nonzero": 0}

    def take_stats(self) -> Dict[str, float]:
        s, self.stats = self.stats, {k: 0 for k in self.stats}
        return s

    # ------------------------------------------------------------------------------------------ E-step
    def frames(self, L: torch.Tensor) -> torch.Tensor:
        """Per image the frame its candidates are scored on: the ground-truth box widened by the largest
        adjustment on each side (clipped to the image)."""
        r = float(np.abs(self.grid).max())
        return clamp_boxes(L + L.new_tensor([-r, -r, r, r]))

    def estep(self, net: ExtractionNet, batch, loc_pred: torch.Tensor, search: str) -> torch.Tensor:
        """The adjustments ``(B, 4)`` (units) of the batch's images for fixed networks."""
        lat = self.cfg.latent
        images, masks, L = batch["image"], batch["mask"], batch["box"].float()
        B = len(L)
        t0 = time.perf_counter()
        was = net.training
        net.eval()
        try:
            if search == "exhaustive":
                owners = torch.arange(B).repeat_interleave(len(self.grid))
                boxes = clamp_boxes(L[:, None, :] + self.grid_t[None]).reshape(-1, 4)
                costs = joint_costs(net, images, masks, owners, boxes, loc_pred, self.frames(L)[owners],
                                    lat.chunk).view(B, -1).numpy()
                best = [exhaustive_search(c) for c in costs]
                self.stats["evaluated"] += B * len(self.grid)
            else:
                best = self._mcmc(net, batch, loc_pred)
        finally:
            net.train(was)
        idx = np.asarray(best)
        for i, k in zip(batch["index"].tolist(), idx):
            self.history.add(int(i), self.grid[k])
        self.stats["images"] += B
        self.stats["nonzero"] += int((idx != self.zero).sum())
        self.stats["seconds"] += time.perf_counter() - t0
        return self.grid_t[torch.as_tensor(idx)]

    def _mcmc(self, net: ExtractionNet, batch, loc_pred: torch.Tensor) -> List[int]:
        lat = self.cfg.latent
        images, masks, L = batch["image"], batch["mask"], batch["box"].float()
        bounds = batch["boundary"].numpy()
        size = images.shape[-1]
        plans = []
        for b in range(len(L)):
            cand_boxes = clamp_boxes(L[b][None] + self.grid_t).numpy().astype(np.float64) * size / UNITS
            pc = data_term(bounds[b], cand_boxes, lat.edge_points)
            mu, cov = self.history.params(int(batch["index"][b]))
            log_q = proposal_log_probs(self.grid, mu, cov, pc, lat.pc_floor)
            props, cand = mh_propose(log_q, self.zero, lat.moves, self.rng)
            plans.append((log_q, props, cand))
        owners = torch.cat([torch.full((len(c),), b, dtype=torch.long) for b, (_, _, c) in enumerate(plans)])
        cidx = torch.as_tensor(np.concatenate([c for _, _, c in plans]))
        boxes = clamp_boxes(L[owners] + self.grid_t[cidx])
        costs = joint_costs(net, images, masks, owners, boxes, loc_pred, self.frames(L)[owners], lat.chunk).numpy()
        best, at = [], 0
        for log_q, props, cand in plans:
            k, info = mh_finish(log_q, self.zero, props, cand, costs[at:at + len(cand)], self.rng, lat.temperature)
            at += len(cand)
            best.append(k)
            self.stats["evaluated"] += info["evaluated"]
            self.stats["accepted"] += info["accepted"]
            self.stats["moves"] += len(props)
        return best

    # ------------------------------------------------------------------------------------------ M-step
    def __call__(self, model, batch) -> Dict[str, torch.Tensor]:
        net = model.module if hasattr(model, "module") else model
        self.calls += 1
        lat = self.cfg.latent
        step = (self.calls - 1) // max(1, int(self.cfg.train.iter_size))      # the optimizer step of this batch
        L = batch["box"].float()
        pred = net.locate(batch["image"])
        search = lat.search if step >= lat.start_iter else "none"
        if search == "none":
            target = clamp_boxes(L)
        else:
            cpu = {k: (v.cpu() if torch.is_tensor(v) else v) for k, v in batch.items()}
            delta = self.estep(net, cpu, pred.detach().cpu().float(), search).to(L.device)
            target = clamp_boxes(L + delta)
        logits = net.segment(batch["image"], target).float()
        seg_t = mask_targets(batch["mask"], target, net.mask_size)
        seg = F.binary_cross_entropy_with_logits(logits, seg_t)
        loc = (((pred.float() - target) / UNITS) ** 2).sum(1).mean()
        w = self.cfg.loss
        return {"loc": w.loc_weight * loc, "seg": w.seg_weight * seg}


def make_loss_fn(cfg: ExtractionConfig) -> JointLoss:
    return JointLoss(cfg)

