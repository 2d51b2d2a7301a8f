"""Training and evaluation wiring of the 3D pose task: the lifting dataset (Human3.6M poses, 2D joints projected
with the real cameras), the loss, the per-sequence evaluation dataset and predictor, and hypothesis selection.

Training samples follow the engine's key convention (``ds[(index, seed)]`` is a pure function of its key): one
frame seen by one camera, 2D joints normalised to the person box (:func:`~structnet.pose3d.model.normalise_2d`),
their camera depths, and the root-relative camera-frame 3D joints as the target; augmentation (left-right mirror,
2D noise, order-free maps) is drawn from the sample's seed.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..errors import UserError
from .config import Pose3DConfig, Pose3DEvalConfig
from .h36m import H36M
from .hypotheses import reprojection_error, select_hypotheses
from .model import Lifter, normalise_2d
from .skeleton import FLIP_PERM, ROOT, apply_detection_offsets, fit_detection_offsets, sh_to_h36m

__all__ = ["build_model", "LiftingDataset", "make_loss_fn", "SequenceDataset", "lift", "predict_sequence",
           "average_lifters", "check_config"]


def check_config(cfg: Pose3DConfig) -> None:
    m, d = cfg.model, cfg.data
    if m.crops is not None and len(m.crops) != len(m.widths):
        raise UserError(f"model.crops has {len(m.crops)} values for {len(m.widths)} model.widths (one per hypothesis)")
    if not m.widths or min(m.widths) <= 0:
        raise UserError(f"model.widths: one positive stick width per hypothesis, got {m.widths}")
    if m.map_size % 16:
        raise UserError(f"model.map_size must be a multiple of 16, got {m.map_size}")
    if not 0.0 <= d.flip_prob <= 1.0 or not 0.0 <= d.no_order_prob <= 1.0:
        raise UserError("data.flip_prob and data.no_order_prob are probabilities in [0, 1]")
    if d.noise_px < 0 or d.every < 1:
        raise UserError("data.noise_px must be >= 0 and data.every >= 1")
    if not 0.0 <= d.outlier_prob <= 1.0 or d.outlier_sigma < 0:
        raise UserError(f"data.outlier_prob must be in [0, 1] and data.outlier_sigma >= 0, got {d.outlier_prob} and "
                        f"{d.outlier_sigma}")
    if m.kind == "image" and (m.crops is not None and any(c != 1.0 for c in m.crops)):
        raise UserError("model.kind image draws the maps of crop scale 1 (model.crops must be unset or all 1.0)")
    if d.jitter < 0:
        raise UserError(f"data.jitter must be >= 0, got {d.jitter}")
    if not 0.0 <= d.real_prob <= 1.0:
        raise UserError(f"data.real_prob is a probability in [0, 1], got {d.real_prob}")
    if d.real_prob > 0 and d.real_root is None:
        raise UserError("data.real_prob > 0 needs data.real_root (an LSP-extended folder)")


def build_model(cfg: Pose3DConfig):
    m = cfg.model
    if m.kind == "image":
        from .image_maps import build_image_model

        return build_image_model(cfg)
    return Lifter(kind=m.kind, widths=m.widths, crops=m.crops, map_size=m.map_size, box_scale=m.box_scale,
                  depth_order=m.depth_order, regressor_width=m.regressor_width, hidden=m.hidden, dropout=m.dropout)


def _root_relative(joints_cam: np.ndarray) -> np.ndarray:
    return (joints_cam - joints_cam[:, ROOT:ROOT + 1]).astype(np.float32)


class LiftingDataset:
    """Frames x cameras of ``cfg.data.subjects`` (module docstring). Sample keys: ``kp`` (17, 2) normalised 2D,
    ``depth`` (17,) camera z in mm, ``order`` (bool: maps drawn with depth order), ``target`` (17, 3) mm."""

    def __init__(self, cfg: Pose3DConfig):
        d = cfg.data
        a = H36M(d.root).arrays(list(d.subjects), every=d.every)
        self.kp, _, self.side = normalise_2d(a["joints_2d"], cfg.model.box_scale)
        self.depth = a["joints_cam"][..., 2].astype(np.float32)
        self.target = _root_relative(a["joints_cam"])
        self.flip_prob, self.noise_px, self.no_order_prob = d.flip_prob, d.noise_px, d.no_order_prob
        self.outlier_prob, self.outlier_sigma = d.outlier_prob, d.outlier_sigma
        self.box_scale = cfg.model.box_scale
        self.perm = np.asarray(FLIP_PERM)

    def __len__(self) -> int:
        return len(self.kp)

    def __getitem__(self, key) -> Dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng(seed)
        kp, z, t = self.kp[i].copy(), self.depth[i].copy(), self.target[i].copy()
        if self.noise_px > 0:
            kp += rng.normal(0.0, self.noise_px, size=kp.shape).astype(np.float32) / self.side[i]
        if self.outlier_prob > 0:                              # kp is in units of the box side already
            hit = rng.random(len(kp)) < self.outlier_prob
            kp += (hit[:, None] * rng.normal(0.0, self.outlier_sigma, size=kp.shape)).astype(np.float32)
            # the box of the moved joints, as at test time (in pixels: person_box keeps sides >= 1 px)
            kp = normalise_2d(kp[None] * self.side[i], self.box_scale)[0][0]
        if rng.random() < self.flip_prob:
            kp, z, t = kp[self.perm], z[self.perm], t[self.perm]
            kp[:, 0] *= -1.0
            t[:, 0] *= -1.0
        order = bool(rng.random() >= self.no_order_prob)
        return {"kp": kp.astype(np.float32), "depth": z, "order": np.bool_(order), "target": t}


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


# ----------------------------------------------------------------------------------------------- evaluation
def cross_subject_offsets(h: H36M, subjects: List[str]) -> Dict[str, np.ndarray]:
    """Per subject the SH detections' per-joint offsets (:func:`~.skeleton.fit_detection_offsets`) fitted on every
    frame of the *other* subjects of ``h`` that have detections: the evaluated subject never enters its own fit."""
    out = {}
    for subj in subjects:
        others = [s for s in h.subjects_with_detections() if s != subj]
        if not others:
            raise UserError(f"eval.sh_offsets=cross-subject: no other subject than {subj} with Stacked Hourglass "
                            f"detections in {h.root} to fit the offsets on")
        a = h.arrays(others, need_detections=True)
        out[subj] = fit_detection_offsets(sh_to_h36m(a["detections"]), a["joints_2d"])
    return out


class SequenceDataset:
    """One sample per (subject, sequence, camera) of ``cfg.eval.subjects``: ``joints_2d`` (N, 17, 2) input
    pixels (projected GT, or the SH detections mapped to 17 joints), ``joints_cam`` (N, 17, 3) mm,
    ``f``, ``c`` (2,), ``action``, ``name``. With ``input: sh`` the pairs without detections are skipped."""

    def __init__(self, e: Pose3DEvalConfig, max_items: Optional[int] = None):
        self.e = e
        h = H36M(e.root)
        subjects = [s for s in e.subjects]
        self.items = list(h.iter_sequences(subjects, need_detections=(e.input == "sh")))
        if max_items is not None:
            self.items = self.items[:int(max_items)]
        self.records = [SimpleNamespace(name=f"{s.subject}/{s.sequence}/{s.camera.name}") for s in self.items]
        self.offsets: Dict[str, np.ndarray] = {}
        if e.input == "sh" and getattr(e, "sh_offsets", "none") == "cross-subject":
            self.offsets = cross_subject_offsets(h, sorted({s.subject for s in self.items}))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        s = self.items[i]
        ev = self.e.every
        j2 = sh_to_h36m(s.detections) if self.e.input == "sh" else s.joints_2d
        if s.subject in self.offsets:
            j2 = apply_detection_offsets(j2, self.offsets[s.subject])
        return {"joints_2d": np.asarray(j2[::ev], np.float32), "joints_cam": s.joints_cam[::ev],
                "f": s.camera.f, "c": s.camera.c, "action": s.action, "name": self.records[i].name}


@torch.no_grad()
def lift(net: Lifter, joints_2d: np.ndarray, depth: Optional[np.ndarray] = None, depth_order: str = "none",
         batch_size: int = 512, return_depth: bool = False, flip: bool = False):
    """All hypotheses ``(N, H, 17, 3)`` mm for 2D joints ``(N, 17, 2)`` in image pixels. ``depth_order``:
    ``gt`` draws ordered maps with ``depth`` (N, 17); ``estimated`` first lifts without order, then draws the maps
    ordered by that pass's depths (per hypothesis, its own first pass); ``none`` draws front = back. With
    ``return_depth`` also the depths each hypothesis' maps were ordered by, ``(N, H, 17)`` (None for ``none``).
    ``flip``: test-time mirroring, each hypothesis the mean of its pose and the mirrored pose of the mirrored
    input (left and right joints swapped, x negated; the training's flip augmentation undone; ours)."""
    net.eval()
    kp, _, _ = normalise_2d(joints_2d, net.box_scale)
    kp_t = torch.from_numpy(kp)
    if net.kind == "keypoints" or not net.depth_order:
        depth_order = "none"
    if depth_order not in ("gt", "estimated", "none"):
        raise ValueError(f"depth_order must be gt, estimated or none, got {depth_order!r}")
    if depth_order == "gt" and depth is None:
        raise ValueError("depth_order 'gt' needs the depths")
    dev = next(net.parameters()).device
    perm = torch.as_tensor(FLIP_PERM, device=dev)
    sign = torch.tensor([-1.0, 1.0], device=dev)

    def one(k, z):
        if depth_order == "none":
            return net(k), None
        if depth_order == "gt":
            return net(k, z), z[:, None].expand(-1, net.hypotheses, -1)
        z = net(k)[..., 2]                            # (n, H, 17): each hypothesis' order-free pass; only order counts
        return torch.stack([net.nets[h](net.maps(k, z[:, h], h).contiguous(memory_format=torch.channels_last))
                            for h in range(net.hypotheses)], dim=1), z

    out, used = [], []
    for s in range(0, len(kp_t), batch_size):
        k = kp_t[s:s + batch_size].to(dev)
        z = (torch.as_tensor(depth[s:s + batch_size], dtype=torch.float32, device=dev)
             if depth_order == "gt" else None)
        y, zu = one(k, z)
        if flip:
            yf, _ = one(k[:, perm] * sign, None if z is None else z[:, perm])
            y = 0.5 * (y + yf[:, :, perm] * torch.cat([sign, sign.new_ones(1)]))
        out.append(y)
        if zu is not None:
            used.append(zu)
    hyps = torch.cat(out).cpu().numpy().astype(np.float64)
    if not return_depth:
        return hyps
    return hyps, (torch.cat(used).cpu().numpy() if used else None)


def predict_sequence(net: Lifter, sample: Dict[str, Any], depth_order: str, batch_size: int = 512,
                     flip: bool = False) -> Dict[str, np.ndarray]:
    """Hypotheses of one evaluation sample and the choice by reprojection error against its 2D input joints:
    ``hypotheses`` (N, H, 17, 3), ``errors_px`` (N, H), ``chosen`` (N,) and ``pose`` (N, 17, 3)."""
    j2 = sample["joints_2d"]
    hyps = lift(net, j2, sample["joints_cam"][..., 2], depth_order, batch_size, flip=flip)
    n, nh = hyps.shape[:2]
    errs = np.stack([reprojection_error(hyps[:, h], j2, sample["f"], sample["c"])[0] for h in range(nh)], axis=1)
    chosen = select_hypotheses(errs)
    return {"hypotheses": hyps, "errors_px": errs, "chosen": chosen, "pose": hyps[np.arange(n), chosen]}


def average_lifters(predictions: Sequence[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
    """An ensemble of lifters on one sample: the first prediction (:func:`predict_sequence`) with ``pose`` the
    mean of every prediction's chosen pose (equal weights) and ``members`` ``(N, M, 17, 3)`` the chosen poses
    themselves. Its hypotheses, reprojection errors and choice stay the first lifter's (the evaluator's
    per-hypothesis, average and oracle baselines describe that lifter)."""
    if not predictions:
        raise ValueError("an ensemble needs at least one prediction")
    members = np.stack([np.asarray(p["pose"], np.float64) for p in predictions], axis=1)
    if members.ndim != 4 or members.shape[2:] != (17, 3):
        raise ValueError(f"chosen poses of shape (N, 17, 3) needed, got {members.shape[:1] + members.shape[2:]}")
    out = dict(predictions[0])
    out["pose"], out["members"] = members.mean(axis=1), members
    return out
