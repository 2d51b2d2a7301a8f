"""The networks of the 3D pose system.

* :class:`MapRegressor`: the paper's regression network (Sec. 3.3: skeleton maps -> 3D joints, a ResNet-50 in the
  paper) as a CPU-sized residual network: front and back maps (6 channels) in, root-relative camera-frame joints
  out. One network per skeleton-map configuration (stick width, crop scale): the hypotheses.
* :class:`KeypointMLP`: the keypoint-lifting baseline of Martinez et al. 2017 (2D joints -> 3D joints; two residual
  blocks of 1024 units with BatchNorm, ReLU and dropout 0.5), the reference the field knows.
* :class:`Lifter`: the hypotheses of one model: 2D joints (+ their depth order) -> per hypothesis skeleton maps
  -> its :class:`MapRegressor` (or its :class:`KeypointMLP`), lifting from 2D joints; the
  renderer is part of the module so training, evaluation and prediction draw the maps the same way.

Inputs are 2D joints normalised to a square box around the person (:func:`normalise_2d`); outputs are
``(N, 17, 3)`` millimetres relative to the hip, camera frame (x right, y down, z forward). Networks predict
metres; ``forward`` returns mm.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from .render import render_skeleton_maps

__all__ = ["MapRegressor", "KeypointMLP", "Lifter", "normalise_2d"]

MM = 1000.0


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class MapRegressor(nn.Module):
    """Skeleton maps ``(N, C, S, S)`` -> ``(N, joints, 3)`` mm. A stride-2 stem conv of ``width`` channels and
    three residual stages of widths ``width x (2, 4, 8)``, each halving the resolution (a 64 map ends at 4 x 4),
    then the flattened features through a hidden layer of ``hidden`` units (dropout ``dropout``) to the joints:
    the spatial layout stays in the regression, which a global pooling would discard. (A stride-1 stem with a
    fourth stage cost 1.6x the training time on this CPU for the same output size.)"""

    def __init__(self, in_channels: int = 6, map_size: int = 64, width: int = 32, hidden: int = 1024,
                 joints: int = 17, dropout: float = 0.25):
        super().__init__()
        if map_size % 16:
            raise ValueError(f"map_size must be a multiple of 16, got {map_size}")
        self.in_channels, self.map_size, self.joints = in_channels, map_size, joints
        w = width
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        self.stages = nn.Sequential(_Block(w, 2 * w, 2), _Block(2 * w, 4 * w, 2), _Block(4 * w, 8 * w, 2))
        feat = 8 * w * (map_size // 16) ** 2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(feat, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden, joints * 3))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        if maps.ndim != 4 or maps.shape[1] != self.in_channels or maps.shape[-1] != self.map_size:
            raise ValueError(f"maps must be (N, {self.in_channels}, {self.map_size}, {self.map_size}), "
                             f"got {tuple(maps.shape)}")
        y = self.head(self.stages(self.stem(maps)))
        return y.view(-1, self.joints, 3) * MM


class KeypointMLP(nn.Module):
    """Martinez et al. 2017: ``(N, joints, 2)`` -> ``(N, joints, 3)`` mm; Linear(2J, 1024), then ``blocks``
    residual blocks of two (Linear 1024, BatchNorm, ReLU, Dropout) each, then Linear(1024, 3J)."""

    def __init__(self, joints: int = 17, hidden: int = 1024, blocks: int = 2, dropout: float = 0.5):
        super().__init__()
        self.joints = joints

        def layer():
            return [nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]

        self.inp = nn.Sequential(nn.Linear(2 * joints, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                 nn.Dropout(dropout))
        self.blocks = nn.ModuleList(nn.Sequential(*layer(), *layer()) for _ in range(blocks))
        self.out = nn.Linear(hidden, 3 * joints)

    def forward(self, kp: torch.Tensor) -> torch.Tensor:
        if kp.ndim != 3 or kp.shape[1:] != (self.joints, 2):
            raise ValueError(f"keypoints must be (N, {self.joints}, 2), got {tuple(kp.shape)}")
        y = self.inp(kp.flatten(1))
        for b in self.blocks:
            y = y + b(y)
        return self.out(y).view(-1, self.joints, 3) * MM


def normalise_2d(joints2d, box_scale: float = 1.2):
    """Image pixels ``(N, 17, 2)`` -> the lifters' input: coordinates in units of the person box (centre of the
    2D joints' bounding box at 0, side = ``box_scale`` x its longer side, so the joints lie within +-0.5/box_scale),
    plus the box ``center`` ``(N, 2)`` and ``side`` ``(N,)`` (:func:`~structnet.pose3d.render.person_box`)."""
    import numpy as np

    from .render import person_box

    j = np.asarray(joints2d, dtype=np.float64)
    center, side = person_box(j, box_scale)
    return ((j - center[:, None]) / side[:, None, None]).astype(np.float32), center, side


class Lifter(nn.Module):
    """2D joints -> one 3D pose per hypothesis ``(N, H, 17, 3)`` mm (root-relative, camera frame).

    Input: joints normalised to the person box (:func:`normalise_2d`) ``(N, 17, 2)`` and, for ordered maps, their
    camera depths ``(N, 17)``. ``kind="maps"``: hypothesis ``h`` draws front and back skeleton maps of stick width
    ``widths[h]`` (map pixels) in a crop ``crops[h]`` x the person box and regresses them with its own
    :class:`MapRegressor` (Sec. 3.3: "training independent regression networks for different skeleton maps").
    ``kind="keypoints"``: Martinez et al.'s :class:`KeypointMLP` per hypothesis on the normalised joints (equal
    hypotheses then form an ensemble). ``order`` ``(N,)`` bool: per sample, whether its maps use the depths
    (False: front = back, one fixed draw order); default: all samples when ``depth`` is given and
    ``depth_order`` is set."""

    def __init__(self, kind: str = "maps", widths: Sequence[float] = (4.0,), crops: Optional[Sequence[float]] = None,
                 map_size: int = 64, box_scale: float = 1.2, depth_order: bool = True, regressor_width: int = 32,
                 hidden: int = 1024, dropout: float = 0.25):
        super().__init__()
        if kind not in ("maps", "keypoints"):
            raise ValueError(f"kind must be 'maps' or 'keypoints', got {kind!r}")
        widths = [float(w) for w in widths]
        crops = [1.0] * len(widths) if crops is None else [float(c) for c in crops]
        if not widths or len(crops) != len(widths) or min(widths) <= 0 or min(crops) <= 0:
            raise ValueError(f"one positive width and crop per hypothesis needed, got widths={widths} crops={crops}")
        self.kind, self.widths, self.crops = kind, widths, crops
        self.map_size, self.box_scale, self.depth_order = int(map_size), float(box_scale), bool(depth_order)
        self._cfg = dict(kind=kind, widths=widths, crops=crops, map_size=int(map_size), box_scale=float(box_scale),
                         depth_order=bool(depth_order), regressor_width=int(regressor_width), hidden=int(hidden),
                         dropout=float(dropout))
        if kind == "maps":
            self.nets = nn.ModuleList(MapRegressor(6, self.map_size, regressor_width, hidden, dropout=dropout)
                                      for _ in widths)
        else:
            self.nets = nn.ModuleList(KeypointMLP(hidden=hidden, dropout=0.5) for _ in widths)
        self.render_fn = render_skeleton_maps  # training may swap in a compiled copy (same numbers)

    def config(self) -> dict:
        return dict(self._cfg)

    @property
    def hypotheses(self) -> int:
        return len(self.nets)

    def to_map(self, kp: torch.Tensor, h: int) -> torch.Tensor:
        """Normalised joints -> map pixels of hypothesis ``h``."""
        return (kp / self.crops[h] + 0.5) * self.map_size - 0.5

    def maps(self, kp: torch.Tensor, depth: Optional[torch.Tensor], h: int,
             order: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Front + back maps ``(N, 6, S, S)`` of hypothesis ``h``."""
        kp = torch.as_tensor(kp, dtype=torch.float32)
        if depth is None or not self.depth_order:
            z = torch.zeros(kp.shape[:2], device=kp.device)
        else:
            z = torch.as_tensor(depth, dtype=torch.float32).to(kp.device)
            if order is not None:
                z = torch.where(torch.as_tensor(order, dtype=torch.bool).to(kp.device)[:, None], z,
                                torch.zeros_like(z))
        return self.render_fn(self.to_map(kp, h), z, self.map_size, self.widths[h])

    def forward(self, kp: torch.Tensor, depth: Optional[torch.Tensor] = None,
                order: Optional[torch.Tensor] = None) -> torch.Tensor:
        if kp.ndim != 3 or kp.shape[1:] != (17, 2):
            raise ValueError(f"joints must be (N, 17, 2), got {tuple(kp.shape)}")
        dev = next(self.parameters()).device
        outs = []
        for h, net in enumerate(self.nets):
            if self.kind == "keypoints":
                outs.append(net(kp.to(dev, torch.float32)))
            else:
                # drawn where the regressors run (a GPU draws a batch of maps in well under a millisecond)
                m = self.maps(kp.to(dev), None if depth is None else depth.to(dev), h,
                              None if order is None else order.to(dev))
                outs.append(net(m.contiguous(memory_format=torch.channels_last)))
        return torch.stack(outs, dim=1)
