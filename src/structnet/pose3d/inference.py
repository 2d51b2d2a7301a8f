"""3D pose of a person in a photo. Two ways to the skeleton maps:

* the paper's (:func:`predict_image` with a ``maps_net``): the image crop around the person -> the image -> maps
  network (:class:`~structnet.pose3d.maps_net.SkeletonMapNet`) -> each hypothesis' maps -> its regressor;
* from 2D joints (:func:`predict_from_2d`): the joints drawn as maps (depth order from a first, order-free pass).

Either way the 2D joints of a pose2d model give the person box and choose the hypothesis: the one whose
weak-perspective projection best matches them (no camera intrinsics are known for a photo).

Evaluation predictors: :func:`lift` (every hypothesis of 2D joints), :func:`predict_sequence` (one Human3.6M
sequence, the hypothesis chosen by reprojection), :func:`average_lifters` (an ensemble), and
:func:`predict_synthetic_sequence` (``structnet eval pose3d --input synthetic``: one test sequence rendered as
synthetic images with fixed seeds, maps from the network, 3D from the lifter's regressors, and the maps' IoU)."""
from __future__ import annotations

import zlib
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import UserError
from .hypotheses import reprojection_error, select_hypotheses, weak_perspective_error
from .joints import FLIP_PERM, lsp_to_h36m
from .maps_data import target_maps
from .maps_net import SkeletonMapNet
from .metrics import maps_iou
from .model import Lifter, normalise_2d
from .render import crop_person
from .synthetic import SyntheticPeople

__all__ = ["lift", "predict_sequence", "average_lifters", "predict_synthetic_sequence", "predict_from_2d",
           "predict_from_maps", "predict_image", "pose2d_predictor"]


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


@torch.no_grad()
def predict_synthetic_sequence(maps_net: SkeletonMapNet, lifter, sample: Dict[str, Any],
                               backgrounds, batch_size: int = 32) -> Dict[str, np.ndarray]:
    """One evaluation sample (:class:`~structnet.pose3d.data.SequenceDataset` with ``input: synthetic``) ->
    ``hypotheses`` (N, H, 17, 3), ``errors_px`` (N, H), ``chosen``, ``pose`` and ``maps_iou`` (N,) of the
    middle hypothesis' front map. Images are drawn with seeds from the sequence's name and the frame index, so a
    run is reproducible and every model sees the same images. ``backgrounds``: a
    :class:`~structnet.pose3d.synthetic.Backgrounds` bank (shared by the sequences: each photo decoded once) or
    a list of paths."""
    if maps_net.widths != list(lifter.widths) or maps_net.map_size != lifter.map_size or \
            abs(maps_net.box_scale - lifter.box_scale) > 1e-6 or any(c != 1.0 for c in lifter.crops):
        raise UserError(f"the maps model draws widths {maps_net.widths} at {maps_net.map_size} px (box "
                        f"{maps_net.box_scale}), the lifter reads widths {list(lifter.widths)} at {lifter.map_size} px "
                        f"(box {lifter.box_scale}, crops {list(lifter.crops)}): they must match")
    maps_net.eval()
    lifter.eval()
    j2, cam = np.asarray(sample["joints_2d"], np.float64), np.asarray(sample["joints_cam"], np.float32)
    n = len(j2)
    f = np.tile(np.asarray(sample["f"], np.float32).reshape(1, 2), (n, 1))
    c = np.tile(np.asarray(sample["c"], np.float32).reshape(1, 2), (n, 1))
    people = SyntheticPeople(cam, j2, f, c, backgrounds, image_size=maps_net.image_size,
                             box_scale=maps_net.box_scale, jitter=0.0)
    base = zlib.crc32(str(sample.get("name", "")).encode()) * 100003
    nh, mid = maps_net.hypotheses, maps_net.hypotheses // 2
    hyps, ious = [], []
    for s0 in range(0, n, batch_size):
        idx = range(s0, min(n, s0 + batch_size))
        ss = [people.sample(i, base + i) for i in idx]
        img = torch.from_numpy(np.stack([s["image"] for s in ss])).contiguous(memory_format=torch.channels_last)
        maps = maps_net.maps(img)                                         # (b, H, 6, S, S)
        kp = torch.from_numpy(np.stack([s["kp"] for s in ss]))
        tgt = target_maps(kp, torch.from_numpy(cam[list(idx), :, 2]), [maps_net.widths[mid]], maps_net.map_size)
        ious.append(maps_iou(maps[:, mid], tgt))
        hyps.append(torch.stack([lifter.nets[h](maps[:, h].contiguous(memory_format=torch.channels_last))
                                 for h in range(nh)], dim=1).numpy().astype(np.float64))
    hyps_a = np.concatenate(hyps)
    errs = np.stack([reprojection_error(hyps_a[:, h], j2, sample["f"], sample["c"])[0] for h in range(nh)], axis=1)
    chosen = select_hypotheses(errs)
    return {"hypotheses": hyps_a, "errors_px": errs, "chosen": chosen, "pose": hyps_a[np.arange(n), chosen],
            "maps_iou": np.concatenate(ious)}


def predict_from_2d(net: Lifter, joints2d: np.ndarray, depth_order: str = "estimated", flip: bool = False
                    ) -> Dict[str, Any]:
    """One person's 17 H36M joints ``(17, 2)`` in image pixels -> ``joints3d`` (17, 3) mm (root-relative, camera
    frame), ``hypothesis`` (its index), ``hypotheses`` ([{width, crop, reprojection_px}]), ``maps`` (6, S, S) of
    the chosen hypothesis (the ones its regressor read), ``all_joints3d`` (H, 17, 3). ``flip``: test-time
    mirroring (:func:`~structnet.pose3d.inference.lift`; ``structnet eval pose3d --flip``)."""
    j2 = np.asarray(joints2d, np.float64)[None]
    if j2.shape != (1, 17, 2) or not np.isfinite(j2).all():
        raise ValueError(f"17 finite 2D joints needed, got shape {j2.shape[1:]}")
    hyps, used = lift(net, j2, None, depth_order, return_depth=True, flip=flip)
    hyps = hyps[0]                                                             # (H, 17, 3)
    errs = np.array([weak_perspective_error(hyps[h:h + 1], j2)[0] for h in range(len(hyps))])
    chosen = int(select_hypotheses(errs[None])[0])
    maps = None
    if net.kind == "maps":
        kp, _, _ = normalise_2d(j2, net.box_scale)
        z = None if used is None else torch.from_numpy(used[:, chosen])        # the order its maps were drawn in
        maps = net.maps(torch.from_numpy(kp), z, chosen)[0].numpy()
    return {"joints3d": hyps[chosen], "joints2d": j2[0], "hypothesis": chosen, "all_joints3d": hyps, "maps": maps,
            "hypotheses": [{"width": w, "crop": c, "reprojection_px": float(e)}
                           for w, c, e in zip(net.widths, net.crops, errs)]}


@torch.no_grad()
def predict_from_maps(net: Lifter, maps_net, image: np.ndarray, joints2d: np.ndarray) -> Dict[str, Any]:
    """The paper's pipeline on one person: the crop of the person box of ``joints2d`` (17, 2) (the lifter's box)
    -> ``maps_net`` -> every hypothesis' maps -> its regressor; the hypothesis chosen by weak-perspective
    reprojection against ``joints2d``. Keys as :func:`predict_from_2d`, ``maps`` the chosen hypothesis' maps as
    the network drew them."""
    from .render import person_box

    j2 = np.asarray(joints2d, np.float64)[None]
    if j2.shape != (1, 17, 2) or not np.isfinite(j2).all():
        raise ValueError(f"17 finite 2D joints needed, got shape {j2.shape[1:]}")
    if maps_net.widths != list(net.widths) or maps_net.map_size != net.map_size:
        raise ValueError(f"the maps model draws widths {maps_net.widths} at {maps_net.map_size} px, the lifter "
                         f"reads {list(net.widths)} at {net.map_size} px")
    center, side = person_box(j2, maps_net.box_scale)
    crop = torch.from_numpy(crop_person(image, center[0], float(side[0]), maps_net.image_size))[None]
    maps_net.eval()
    net.eval()
    maps = maps_net.maps(crop.contiguous(memory_format=torch.channels_last))[0]          # (H, 6, S, S)
    hyps = torch.stack([net.nets[h](maps[h:h + 1].contiguous(memory_format=torch.channels_last))[0]
                        for h in range(net.hypotheses)]).numpy().astype(np.float64)   # (H, 17, 3)
    errs = np.array([weak_perspective_error(hyps[h:h + 1], j2)[0] for h in range(len(hyps))])
    chosen = int(select_hypotheses(errs[None])[0])
    return {"joints3d": hyps[chosen], "joints2d": j2[0], "hypothesis": chosen, "all_joints3d": hyps,
            "maps": maps[chosen].numpy(), "maps_from": "image",
            "hypotheses": [{"width": w, "crop": c, "reprojection_px": float(e)}
                           for w, c, e in zip(net.widths, net.crops, errs)]}


def pose2d_predictor(pose2d_model, box: Optional[Sequence[float]] = None):
    """The 2D pose predictor of the pose2d task (through the task registry) for ``pose2d_model`` (a loaded pose2d
    model): image -> its result dict. Without ``box``: the whole image, then the box of the joints it finds
    (``--window auto``); flip test, one scale, DARK refinement."""
    from .. import tasks

    pose2d = tasks.get("pose2d")
    options = pose2d.predict_options(box=None if box is None else tuple(float(v) for v in box))
    return pose2d.predictor(pose2d_model, options)


def predict_image(net: Lifter, pose2d_model, image: np.ndarray, box: Optional[Sequence[float]] = None,
                  maps_net=None, flip: bool = True, members: Sequence[Tuple[str, Lifter]] = (),
                  name: str = "lifter") -> Dict[str, Any]:
    """A photo ``(H, W, 3)`` uint8 -> the 3D pose of the person whose LSP joints ``pose2d_model`` finds (the whole
    image then the box of its joints, or ``box``): :func:`predict_from_maps` with ``maps_net``, else
    :func:`predict_from_2d` (test-time mirroring ``flip``, as ``structnet eval pose3d``); plus ``scores_2d`` (the
    14 LSP joint scores) and, where the pose2d predictor reports it, ``visible_2d`` (its per-joint flags). ``members``: ``(name, lifter)`` pairs that lift the same 17 joints
    (:func:`predict_from_2d`); ``joints3d`` is then the mean of every lifter's chosen pose (``structnet eval pose3d
    --ensemble``), ``ensemble`` the names (``name``, this lifter's, first) and ``joints3d_members`` ``(M, 17, 3)``
    the poses."""
    r = pose2d_predictor(pose2d_model, box)(image)
    j17 = lsp_to_h36m(np.asarray(r["keypoints"], np.float64))
    if maps_net is not None:
        out = predict_from_maps(net, maps_net, image, j17)
    else:
        out = predict_from_2d(net, j17, flip=flip)
        out["maps_from"] = "2d joints"
        out["flip_test"] = bool(flip)
    out["scores_2d"] = np.asarray(r["scores"], np.float64)
    if r.get("visible") is not None:
        out["visible_2d"] = np.asarray(r["visible"], bool)
    if members:
        poses = [out["joints3d"]] + [predict_from_2d(m, j17, flip=flip)["joints3d"] for _, m in members]
        out["joints3d_members"] = np.stack(poses)
        out["joints3d"] = out["joints3d_members"].mean(axis=0)
        out["ensemble"] = [str(name)] + [str(n) for n, _ in members]
    return out
