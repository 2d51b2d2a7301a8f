"""Skeleton losses as dicts of named terms (one per side output and one for the fusion).

* ``weighted_softmax_loss``: Eq. 2-3, class-balanced softmax cross-entropy; the weight of class k
  is ``beta_k = (1 / N_k) / sum_k' (1 / N_k')`` over the classes present in the image.
* ``masked_scale_loss``: Eq. 6, squared error of the normalised scale on the pixels a stage sees.
* ``balanced_bce_loss``: HED's class-balanced sigmoid cross-entropy (beta = |Y-| / |Y|).
* ``skeleton_losses``: Eq. 7-8 + 10 (LMSDS/FSDS) or HED's side + fuse losses.
* ``soft_targets`` / ``distill_loss``: distilling a teacher (the model's six-pass test-time ensemble, read from
  the ``<name>_skeleton.npz`` files ``structnet predict skeleton --tta`` writes) into the fused output of one pass.
  A pixel's soft target is the teacher's skeleton probability ``p`` on the scale class ``max(Z(s), 1)`` of its
  scale (Eq. 1) and ``1 - p`` on the background; the loss is the cross-entropy of the fused class probabilities
  against it, class-balanced as Eq. 2-3 with the teacher's ``p >= 0.5`` as the skeleton side.

Reductions of a class-balanced term (images are always averaged over the batch):

* ``"weighted_mean"`` (default): the per-pixel sum divided by the sum of the pixels' weights, i.e. a
  weighted average cross-entropy (PyTorch's ``CrossEntropyLoss(weight=...)`` convention). O(1) whatever
  the image size, so it keeps the classification terms on the scale of Eq. 6's regression term (itself
  a mean over skeleton pixels), as the authors' Caffe losses were.
* ``"mean"``: Eq. 2 literally, divided by the number of pixels |X|. With Eq. 3's weights summing to 1
  this makes each classification term ~|X| times smaller than the regression term, which then
  dominates the multi-task loss unless lambda is scaled down by about 1/|X| (the paper gives no lambda).
* ``"sum"``: the per-pixel sum, as Caffe's loss layers with ``normalize: false`` compute it -- the
  scale the paper's learning rate of 1e-6 is meant for (``structnet/configs/skeleton/*_paper.yaml``).
"""
from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

from .codec import IGNORE, SkeletonCodec, quantize_scales

REDUCTIONS = ("weighted_mean", "mean", "sum")


def _reduce(per_pixel: torch.Tensor, valid: torch.Tensor, reduction: str, weights: torch.Tensor) -> torch.Tensor:
    """per_pixel (already weighted), valid, weights: (B, H, W) -> scalar."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    per_image = per_pixel.flatten(1).sum(1)
    if reduction == "mean":
        per_image = per_image / valid.flatten(1).sum(1).clamp_min(1)
    elif reduction == "weighted_mean":
        per_image = per_image / weights.flatten(1).sum(1).clamp_min(1e-12)
    return per_image.mean()


def class_balance_weights(z: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Eq. 3 per image. z: (B, H, W) int labels in [0, num_classes) or IGNORE. Returns (B, num_classes)."""
    valid = z != IGNORE
    onehot = F.one_hot(torch.where(valid, z, torch.zeros_like(z)).long(), num_classes) * valid.unsqueeze(-1)
    counts = onehot.flatten(1, 2).sum(1).float()  # (B, K)
    inv = torch.where(counts > 0, 1.0 / counts.clamp_min(1), torch.zeros_like(counts))
    return inv / inv.sum(1, keepdim=True).clamp_min(1e-12)


def weighted_softmax_loss(logits: torch.Tensor, z: torch.Tensor, reduction: str = "weighted_mean") -> torch.Tensor:
    """Eq. 2. logits: (B, K+1, H, W); z: (B, H, W) int in {0..K} or IGNORE (-1)."""
    if logits.shape[0] != z.shape[0] or logits.shape[2:] != z.shape[1:]:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(z.shape)} do not match")
    k = logits.shape[1]
    if int(z.max()) >= k:
        raise ValueError(f"label {int(z.max())} out of range for {k} classes")
    valid = z != IGNORE
    beta = class_balance_weights(z, k)  # (B, K)
    zc = torch.where(valid, z, torch.zeros_like(z)).long()
    logp = F.log_softmax(logits.float(), 1).gather(1, zc.unsqueeze(1)).squeeze(1)
    w = beta.gather(1, zc.flatten(1)).view_as(logp) * valid
    return _reduce(-w * logp, valid, reduction, w)


def masked_scale_loss(pred: torch.Tensor, target: torch.Tensor, z_stage: torch.Tensor) -> torch.Tensor:
    """Eq. 6. pred: (B, 1, H, W) or (B, H, W); target: (B, H, W); z_stage: (B, H, W) = Z(i).
    Mean squared error over the pixels with Z(i) > 0, per image; images without such pixels count 0."""
    pred = pred.reshape(target.shape).float()
    mask = (z_stage > 0).float()
    n = mask.flatten(1).sum(1)
    per_image = ((pred - target) ** 2 * mask).flatten(1).sum(1) / n.clamp_min(1)
    return per_image.mean()


def balanced_bce_loss(logits: torch.Tensor, y: torch.Tensor, reduction: str = "weighted_mean") -> torch.Tensor:
    """HED's class-balanced sigmoid cross-entropy. logits (B, 1, H, W) or (B, H, W); y (B, H, W) bool/0-1."""
    logits = logits.reshape(y.shape).float()
    y = y.float()
    npix = y.flatten(1).shape[1]
    pos = y.flatten(1).sum(1).view(-1, *([1] * (y.dim() - 1)))
    beta = 1.0 - pos / npix  # weight of positives = |Y-| / |Y|
    w = torch.where(y > 0, beta.expand_as(y), (1.0 - beta).expand_as(y))
    per_pixel = w * F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    return _reduce(per_pixel, torch.ones_like(y, dtype=torch.bool), reduction, w)


def skeleton_losses(model, out: Dict[str, object], scale: torch.Tensor, lam: float = 1.0,
                    side_weight: float = 1.0, fuse_weight: float = 1.0,
                    reduction: str = "weighted_mean") -> Dict[str, torch.Tensor]:
    """All loss terms of a :class:`~structnet.skeleton.model.SkeletonNet` for a GT scale map.

    scale: (B, H, W) GT scale (pixels; 0 off skeleton). Returns ``{"cls_<tap>", "reg_<tap>" (LMSDS with
    lam > 0), "cls_fuse"}`` already weighted (side_weight, lam, fuse_weight), to be summed.
    """
    taps = model.taps
    losses: Dict[str, torch.Tensor] = {}
    if model.method == "hed":
        y = scale > 0
        for t, lg in zip(taps, out["side_logits"]):
            losses[f"cls_{t}"] = side_weight * balanced_bce_loss(lg, y, reduction)
        losses["cls_fuse"] = fuse_weight * balanced_bce_loss(out["fuse_logits"], y, reduction)
        return losses
    enc = model.codec.encode(scale)
    for i, t in enumerate(taps):
        losses[f"cls_{t}"] = side_weight * weighted_softmax_loss(out["side_logits"][i], enc["z_stages"][i], reduction)
        if model.method == "lmsds" and lam > 0:
            losses[f"reg_{t}"] = lam * masked_scale_loss(out["side_scale"][i], enc["reg_targets"][i], enc["z_stages"][i])
    losses["cls_fuse"] = fuse_weight * weighted_softmax_loss(out["fuse_logits"], enc["z"], reduction)
    return losses


def soft_targets(prob: torch.Tensor, scale: torch.Tensor, codec: SkeletonCodec) -> torch.Tensor:
    """``(B, M + 1, H, W)`` class distribution of the teacher: ``1 - p`` on class 0, ``p`` on class ``max(Z(s), 1)``
    (Eq. 1; scales beyond the last field in class M)."""
    p = prob.float().clamp(0.0, 1.0)
    z = quantize_scales(scale.float().clamp_min(0.0), codec.fields, codec.rho, "clamp").clamp_min(1)
    q = torch.zeros((p.shape[0], codec.num_stages + 1, *p.shape[1:]), dtype=p.dtype, device=p.device)
    q[:, 0] = 1.0 - p
    q.scatter_(1, z.unsqueeze(1), p.unsqueeze(1))
    return q


def distill_loss(fuse_logits: torch.Tensor, prob: torch.Tensor, scale: torch.Tensor,
                 codec: SkeletonCodec) -> torch.Tensor:
    """Class-balanced soft cross-entropy of the fused output ``(B, M + 1, H, W)`` against :func:`soft_targets`;
    each image's skeleton side (teacher ``p >= 0.5``) and background side weigh ``beta`` as in Eq. 3; weighted mean
    over pixels, mean over the batch."""
    q = soft_targets(prob, scale, codec)
    logp = F.log_softmax(fuse_logits.float(), 1)
    ce = -(q * logp).sum(1)  # (B, H, W)
    fg = (prob >= 0.5).float()
    n_fg, n_bg = fg.flatten(1).sum(1), (1.0 - fg).flatten(1).sum(1)
    inv_fg = torch.where(n_fg > 0, 1.0 / n_fg.clamp_min(1), torch.zeros_like(n_fg))
    inv_bg = torch.where(n_bg > 0, 1.0 / n_bg.clamp_min(1), torch.zeros_like(n_bg))
    tot = (inv_fg + inv_bg).clamp_min(1e-12)
    w = fg * (inv_fg / tot).view(-1, 1, 1) + (1.0 - fg) * (inv_bg / tot).view(-1, 1, 1)
    return ((w * ce).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1e-12)).mean()
