"""3D pose errors of the Human3.6M protocols as pure numpy functions.

* **Protocol #1, MPJPE** (:func:`mpjpe`): mean per-joint position error in mm after aligning the root joints
  (prediction and ground truth each made root-relative), averaged over the 17 joints of a frame.
* **Protocol #2, P-MPJPE** (:func:`p_mpjpe`): the same after a similarity Procrustes alignment of the prediction to
  the ground truth (rotation, uniform scale and translation fitted by least squares per frame; no reflection), as
  in Martinez et al.'s 3d-pose-baseline and VideoPose3D's ``p_mpjpe``.
* **N-MPJPE** (:func:`n_mpjpe`, Rhodin et al. 2018): MPJPE after the root alignment and the least-squares uniform
  scale of each frame's prediction, no rotation; what is left once the person's size, which 2D joints alone cannot
  tell, is given away (a diagnostic, not a protocol of the papers compared here).

Both return the per-frame errors ``(N,)``; the protocol's number is their mean over frames, per action (the
actions' unweighted mean is the "Avg" column of the papers' tables, :func:`per_action`).

:func:`maps_iou` scores the image -> maps network: the IoU of the drawn pixels of its maps and the target maps.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Iterable, Optional

import numpy as np

if TYPE_CHECKING:
    import torch

from .joints import ACTIONS, ROOT

__all__ = ["mpjpe", "p_mpjpe", "n_mpjpe", "scale_to_gt", "procrustes_align", "per_action", "PROTOCOLS", "maps_iou"]

PROTOCOLS = {
    "mpjpe_mm": "Protocol #1: mean per-joint position error (mm) over 17 joints after root (hip) alignment",
    "p_mpjpe_mm": "Protocol #2: the same after a per-frame similarity Procrustes alignment (rotation, scale, "
                  "translation)",
}


def _check(pred: np.ndarray, gt: np.ndarray):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and gt must both be (N, J, 3); got {pred.shape} and {gt.shape}")
    if not np.isfinite(gt).all():
        raise ValueError("non-finite ground-truth joints")
    return pred, gt


def mpjpe(pred, gt, root: Optional[int] = ROOT) -> np.ndarray:
    """Per-frame MPJPE ``(N,)`` in the units of the input; ``root=None`` skips the root alignment. A non-finite
    prediction gives a non-finite error for its frame (it is not silently dropped)."""
    pred, gt = _check(pred, gt)
    if root is not None:
        pred = pred - pred[:, root:root + 1]
        gt = gt - gt[:, root:root + 1]
    return np.linalg.norm(pred - gt, axis=-1).mean(axis=-1)


def procrustes_align(pred, gt) -> np.ndarray:
    """``pred`` ``(N, J, 3)`` moved onto ``gt`` by the least-squares similarity transform of each frame
    (Umeyama 1991: rotation with det +1, uniform scale, translation)."""
    pred, gt = _check(pred, gt)
    mu_p = pred.mean(axis=1, keepdims=True)
    mu_g = gt.mean(axis=1, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g
    norm_p = np.sqrt((p0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_g = np.sqrt((g0 ** 2).sum(axis=(1, 2), keepdims=True))
    norm_p = np.where(norm_p > 0, norm_p, 1.0)
    norm_g = np.where(norm_g > 0, norm_g, 1.0)
    p0, g0 = p0 / norm_p, g0 / norm_g
    h = np.einsum("nji,njk->nik", p0, g0)          # (N, 3, 3) = p0^T g0
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    s[:, -1] *= d                                   # no reflection
    u[:, :, -1] *= d[:, None]
    r = np.einsum("nij,njk->nik", u, vt)            # rotation applied as p0 @ r
    scale = (s.sum(axis=1) * (norm_g[:, 0, 0] / norm_p[:, 0, 0]))[:, None, None]
    return scale * (pred - mu_p) @ r + mu_g


def p_mpjpe(pred, gt) -> np.ndarray:
    """Per-frame P-MPJPE ``(N,)`` (Protocol #2)."""
    pred, gt = _check(pred, gt)
    return np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean(axis=-1)


def scale_to_gt(pred, gt, root: int = ROOT) -> np.ndarray:
    """Per-frame least-squares scale ``(N,)`` of the root-relative prediction onto the root-relative ground truth,
    ``s = <pred, gt> / <pred, pred>`` (1 for an all-zero prediction; > 1: the predicted person is too small)."""
    pred, gt = _check(pred, gt)
    pred = pred - pred[:, root:root + 1]
    gt = gt - gt[:, root:root + 1]
    pp = (pred * pred).sum(axis=(1, 2))
    return np.where(pp > 0, (pred * gt).sum(axis=(1, 2)) / np.where(pp > 0, pp, 1.0), 1.0)


def n_mpjpe(pred, gt, root: int = ROOT) -> np.ndarray:
    """Per-frame N-MPJPE ``(N,)``: both poses root-relative, the prediction scaled by :func:`scale_to_gt`."""
    s = scale_to_gt(pred, gt, root)
    pred, gt = _check(pred, gt)
    pred = pred - pred[:, root:root + 1]
    gt = gt - gt[:, root:root + 1]
    return np.linalg.norm(s[:, None, None] * pred - gt, axis=-1).mean(axis=-1)


def per_action(errors, actions: Iterable[str]) -> Dict[str, float]:
    """Mean error per action (the order of :data:`ACTIONS` first, then any others) and ``"Avg"``: the unweighted
    mean over the actions present, the number Human3.6M tables report."""
    errors = np.asarray(errors, dtype=np.float64)
    actions = np.asarray(list(actions), dtype=object)
    if len(actions) != len(errors):
        raise ValueError(f"{len(errors)} errors but {len(actions)} action names")
    present = [a for a in ACTIONS if a in set(actions)] + sorted(set(actions) - set(ACTIONS))
    out = {a: float(errors[actions == a].mean()) for a in present}
    out["Avg"] = float(np.mean([out[a] for a in present])) if present else float("nan")
    return out


def maps_iou(pred: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per sample IoU of the drawn pixels (any channel > 0.5 in the front maps) of ``(N, 6H, S, S)`` maps."""
    p = (pred[:, 0:3] > 0.5).any(1).flatten(1)
    t = (target[:, 0:3] > 0.5).any(1).flatten(1)
    inter, union = (p & t).sum(1).float(), (p | t).sum(1).float()
    return (inter / union.clamp_min(1.0)).numpy()
