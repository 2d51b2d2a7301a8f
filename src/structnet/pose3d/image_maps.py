"""Training and evaluation wiring of the image -> skeleton-map network (issue 10 (b)).

* :class:`ImageMapsDataset`: synthetic people (:mod:`structnet.pose3d.synthetic`) posed by the training subjects'
  frames and seen by their real cameras, with the target maps of every hypothesis (the lifter's renderer, widths
  and person box, so the maps the network learns to draw are the ones the lifter's regressors read).
* :func:`make_image_loss_fn`: sigmoid cross entropy at every decoder level (intermediate supervision).
* :func:`predict_synthetic_sequence`: the evaluation of ``structnet eval pose3d --input synthetic``: one test
  sequence rendered as synthetic images (fixed seeds, test backgrounds), maps from the network, 3D from the
  lifter's regressors, the hypothesis chosen by reprojection against the 2D joints, and the maps' IoU.
"""
from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch

from ..errors import UserError
from .config import Pose3DConfig
from .hypotheses import reprojection_error, select_hypotheses
from .maps_net import SkeletonMapNet, map_loss
from .render import render_skeleton_maps
from .skeleton import FLIP_PERM, lsp_to_h36m
from .synthetic import Backgrounds, SyntheticPeople

__all__ = ["build_image_model", "ImageMapsDataset", "RealPeople", "make_image_loss_fn", "target_maps",
           "ambiguous_pixels", "list_backgrounds", "predict_synthetic_sequence", "maps_iou"]

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def build_image_model(cfg: Pose3DConfig) -> SkeletonMapNet:
    m = cfg.model
    return SkeletonMapNet(widths=m.widths, map_size=m.map_size, box_scale=m.box_scale, backbone=m.backbone,
                          pretrained=m.pretrained, features=m.features)


def list_backgrounds(folder: Optional[str], what: str) -> List[Path]:
    """The image files of ``folder`` (sorted); None -> [] (plain grey backgrounds)."""
    if folder is None:
        return []
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"{what}: background folder {d} not found")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in _IMAGE_EXTS)
    if not files:
        raise UserError(f"{what}: no images in {d}")
    return files


def target_maps(kp: torch.Tensor, depth: torch.Tensor, widths, map_size: int, render=render_skeleton_maps
                ) -> torch.Tensor:
    """The maps the lifter draws for joints ``kp`` ``(N, 17, 2)`` in crop units and depths ``(N, 17)``:
    ``(N, 6 x len(widths), S, S)`` (crop scale 1: :meth:`~structnet.pose3d.model.Lifter.to_map`)."""
    px = (torch.as_tensor(kp, dtype=torch.float32) + 0.5) * map_size - 0.5
    z = torch.as_tensor(depth, dtype=torch.float32)
    return torch.cat([render(px, z, map_size, float(w)) for w in widths], dim=1)


def ambiguous_pixels(kp: torch.Tensor, widths, map_size: int) -> torch.Tensor:
    """``(N, 1, S, S)`` True where the maps of joints ``kp`` (crop units) depend on the depth order: the pixels
    where sticks of different parts overlap (found as the pixels whose colour differs between two opposite draw
    orders), for any of the ``widths``."""
    order = torch.arange(17, dtype=torch.float32).expand(kp.shape[0], 17)
    a = target_maps(kp, order, widths, map_size)
    b = target_maps(kp, -order, widths, map_size)
    return (a != b).any(dim=1, keepdim=True)


class RealPeople:
    """People of an LSP-extended folder's train split whose 14 joints are all annotated, as crops of the lifter's
    person box (of their joints mapped to the 17 H36M joints) with the box jitter of the synthetic people and a
    left-right mirror half of the time. :meth:`sample` returns ``image`` and ``kp`` like
    :meth:`~structnet.pose3d.synthetic.SyntheticPeople.sample`."""

    def __init__(self, root: str, image_size: int, box_scale: float, jitter: float):
        from ..keypoints.datasets.lsp import read_lspet

        recs = [r for r in read_lspet(root, "train") if bool(np.all(r.annotated))]
        if not recs:
            raise UserError(f"data.real_root {root}: no person with all 14 joints annotated in its train split")
        self.photos = Backgrounds([r.image_path for r in recs])  # each photo decoded once (1566 LSPET: ~0.3 GB)
        self.j17 = np.stack([lsp_to_h36m(np.asarray(r.keypoints, np.float64)) for r in recs])
        self.size, self.box_scale, self.jitter = int(image_size), float(box_scale), float(jitter)

    def __len__(self) -> int:
        return len(self.photos)

    def sample(self, i: int, seed: int) -> Dict[str, np.ndarray]:
        from .inference import crop_person
        from .render import person_box

        rng = np.random.default_rng(seed)
        center, side = person_box(self.j17[i][None], self.box_scale)
        center, side = center[0], float(side[0])
        if self.jitter > 0:
            center = center + rng.normal(0.0, self.jitter * side, 2)
            side *= float(np.exp(rng.normal(0.0, self.jitter)))
        img = crop_person(self.photos[i], center, side, self.size)
        kp = ((self.j17[i] - center) / side).astype(np.float32)
        if rng.random() < 0.5:  # mirror: the image flips, the joints swap sides
            img = np.ascontiguousarray(img[:, :, ::-1])
            kp = kp[list(FLIP_PERM)] * np.array([-1.0, 1.0], np.float32)
        return {"image": img, "kp": kp}


class ImageMapsDataset:
    """Frames x cameras of ``cfg.data.subjects`` as synthetic images (module docstring), and with probability
    ``data.real_prob`` a real photo instead (:class:`RealPeople`). Sample keys: ``image`` (3, 4S, 4S) in [0, 1],
    ``maps`` (6H, S, S), ``weight`` (1, S, S) (0 on a real photo's pixels whose colour needs the depth order)."""

    def __init__(self, cfg: Pose3DConfig):
        from .h36m import H36M

        d, m = cfg.data, cfg.model
        a = H36M(d.root).arrays(list(d.subjects), every=d.every)
        self.people = SyntheticPeople(a["joints_cam"], a["joints_2d"], a["f"], a["c"],
                                      list_backgrounds(d.backgrounds, "data.backgrounds"),
                                      image_size=4 * m.map_size, box_scale=m.box_scale, jitter=d.jitter)
        self.depth = a["joints_cam"][..., 2].astype(np.float32)
        self.widths, self.map_size = list(m.widths), int(m.map_size)
        self.real_prob = float(d.real_prob)
        self.real = (RealPeople(d.real_root, 4 * m.map_size, m.box_scale, d.jitter)
                     if d.real_root is not None and self.real_prob > 0 else None)

    def __len__(self) -> int:
        return len(self.people)

    def __getitem__(self, key) -> Dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        ones = np.ones((1, self.map_size, self.map_size), np.float32)
        if self.real is not None and np.random.default_rng([int(seed), 7]).random() < self.real_prob:
            s = self.real.sample(int(np.random.default_rng([int(seed), 8]).integers(len(self.real))), int(seed))
            kp = torch.from_numpy(s["kp"])[None]
            maps = target_maps(kp, torch.zeros(1, 17), self.widths, self.map_size)[0]
            weight = ones * ~ambiguous_pixels(kp, self.widths, self.map_size)[0].numpy()
            return {"image": s["image"], "maps": maps.numpy(), "weight": weight.astype(np.float32)}
        s = self.people.sample(int(i), int(seed))
        maps = target_maps(torch.from_numpy(s["kp"])[None], torch.from_numpy(self.depth[i])[None], self.widths,
                           self.map_size)[0]
        return {"image": s["image"], "maps": maps.numpy(), "weight": ones}


def make_image_loss_fn(cfg: Pose3DConfig) -> Callable:
    """``loss_fn(model, batch)``: :func:`~structnet.pose3d.maps_net.map_loss` of every level (``l0`` the
    output, ``l1``..``l3`` the intermediate supervision)."""

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        out = model(batch["image"])
        dev = out["maps"].device
        w = batch.get("weight")
        return map_loss(out["levels"], batch["maps"].to(dev).float(), None if w is None else w.to(dev).float())

    return loss_fn


def maps_iou(pred: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per sample IoU of the drawn pixels (any channel > 0.5 in the front maps) of ``(N, 6H, S, S)`` maps."""
    p = (pred[:, 0:3] > 0.5).any(1).flatten(1)
    t = (target[:, 0:3] > 0.5).any(1).flatten(1)
    inter, union = (p & t).sum(1).float(), (p | t).sum(1).float()
    return (inter / union.clamp_min(1.0)).numpy()


@torch.no_grad()
def predict_synthetic_sequence(maps_net: SkeletonMapNet, lifter, sample: Dict[str, Any],
                               backgrounds, batch_size: int = 32) -> Dict[str, np.ndarray]:
    """One evaluation sample (:class:`~structnet.pose3d.train.SequenceDataset` with ``input: synthetic``) ->
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
