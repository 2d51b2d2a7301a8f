"""Datasets of the image -> skeleton-map network.

* :class:`ImageMapsDataset`: synthetic people (:mod:`structnet.pose3d.synthetic`) posed by the training subjects'
  frames and seen by their real cameras, with the target maps of every hypothesis (the lifter's renderer, widths
  and person box, so the maps the network learns to draw are the ones the lifter's regressors read), and real
  LSP-extended photos (:class:`RealPeople`).
* :func:`target_maps`, :func:`ambiguous_pixels`: the maps a network should draw, and where only depth order decides.
* :func:`list_backgrounds`: the background photos of the synthetic people.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from ..errors import UserError
from .config import Pose3DConfig
from .joints import FLIP_PERM, lsp_to_h36m
from .render import render_skeleton_maps
from .synthetic import Backgrounds, SyntheticPeople

__all__ = ["ImageMapsDataset", "RealPeople", "target_maps", "ambiguous_pixels", "list_backgrounds"]

_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


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
        from .render import crop_person, person_box

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
