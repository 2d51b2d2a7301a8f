"""The box regressor of Wang et al. 2014 (Sec. 3.1): a whole image, resized to a square, -> one box.

:class:`LocalizationNet` outputs ``(x1, y1, x2, y2)`` in the paper's units: image coordinates normalised to
``0 .. 224`` on both axes (:data:`UNITS`), so a box does not depend on the image's aspect ratio. ``arch="paper"``:
five convolutions and three fully connected layers with the first seven set as Krizhevsky et al.'s network
(224 x 224 input); ``arch="lite"``: an ImageNet-pretrained EfficientNet-Lite (offline weights) whose last feature map
goes through a 1 x 1 reduction and three fully connected layers (ours, for CPUs). It takes RGB in [0, 1] and
normalises inside.

The extraction task locates the salient object with it; the 2D pose task locates the person whose joints it then
finds (its ``person_box`` models). :func:`locate` runs it on images of any size, with a flip average.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..backbones import create_backbone
from ..errors import UserError

__all__ = ["UNITS", "ARCHS", "LocalizationNet", "Normalise", "units_to_pixels", "pixels_to_units", "clamp_boxes",
           "mirror_boxes", "locate", "MEAN_IMAGENET", "STD_IMAGENET"]

#: box coordinates are normalised w.r.t. the image dimensions into 0 .. UNITS (the paper: 0 ~ 224)
UNITS = 224.0
ARCHS = ("lite", "paper")
MEAN_IMAGENET = (0.485, 0.456, 0.406)
STD_IMAGENET = (0.229, 0.224, 0.225)


def units_to_pixels(boxes: torch.Tensor, hw) -> torch.Tensor:
    """Boxes ``(..., 4)`` in paper units -> pixels of an image of ``hw`` (x by width, y by height)."""
    h, w = float(hw[0]), float(hw[1])
    s = boxes.new_tensor([w, h, w, h]) / UNITS
    return boxes * s


def pixels_to_units(boxes: torch.Tensor, hw) -> torch.Tensor:
    h, w = float(hw[0]), float(hw[1])
    s = boxes.new_tensor([w, h, w, h]) / UNITS
    return boxes / s


def clamp_boxes(boxes: torch.Tensor, min_size: float = 4.0) -> torch.Tensor:
    """Boxes in units clipped to the image (0 .. UNITS), corners put in order, each side at least ``min_size``
    units (a degenerate regression becomes a small box around its centre)."""
    b = boxes.clamp(0.0, UNITS)
    x1, x2 = torch.minimum(b[..., 0], b[..., 2]), torch.maximum(b[..., 0], b[..., 2])
    y1, y2 = torch.minimum(b[..., 1], b[..., 3]), torch.maximum(b[..., 1], b[..., 3])
    out = []
    for lo, hi in ((x1, x2), (y1, y2)):
        c = ((lo + hi) / 2).clamp(min_size / 2, UNITS - min_size / 2)
        half = torch.maximum((hi - lo) / 2, torch.full_like(lo, min_size / 2))
        out.append((c - half, c + half))
    (x1, x2), (y1, y2) = out
    return torch.stack([x1, y1, x2, y2], dim=-1).clamp(0.0, UNITS)


class Normalise(nn.Module):
    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def mirror_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes ``(N, 4)`` in units of an image -> the same boxes in its left-right mirror image."""
    return torch.stack([UNITS - boxes[:, 2], boxes[:, 1], UNITS - boxes[:, 0], boxes[:, 3]], dim=1)


class LocalizationNet(nn.Module):
    """Image ``(N, 3, S, S)`` RGB in [0, 1] (the whole image resized to ``input_size``) -> ``(N, 4)`` box in units
    (module docstring). The last layer's bias starts at ``prior_box`` (set with :meth:`set_box_prior`)."""

    def __init__(self, arch: str = "lite", backbone: str = "efficientnet_lite0", pretrained: bool = False,
                 input_size: int = 160, hidden: int = 256, width: float = 1.0):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        if input_size < 32:
            raise ValueError(f"input_size must be >= 32, got {input_size}")
        self.arch, self.input_size, self.backbone_name = arch, int(input_size), str(backbone)
        if arch == "lite":
            self.backbone = create_backbone(backbone, pretrained=pretrained, with_head=True)
            self.backbone._fc = nn.Identity()  # the ImageNet classifier is never used (1.3 M parameters)
            self.norm = Normalise(self.backbone.mean, self.backbone.std)
            top = self.backbone.feature_specs[-1]
            side = math.ceil(self.input_size / top.stride)
            self.reduce = nn.Sequential(nn.Conv2d(top.channels, 32, 1), nn.ReLU(inplace=True))
            feat = 32 * side * side
        else:
            if pretrained:
                raise UserError("the paper's localization network has no offline ImageNet weights here: train it "
                                "from model.init, or use arch: lite (EfficientNet-Lite0, ImageNet weights offline)")
            c = [max(8, int(round(v * width))) for v in (96, 256, 384, 384, 256)]
            self.norm = Normalise(MEAN_IMAGENET, STD_IMAGENET)
            self.backbone = nn.Sequential(
                nn.Conv2d(3, c[0], 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.LocalResponseNorm(5),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.LocalResponseNorm(5),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            with torch.no_grad():
                n = self.backbone(torch.zeros(1, 3, self.input_size, self.input_size)).numel()
            self.reduce = nn.Identity()
            feat = n
            hidden = max(16, int(round(4096 * width))) if hidden == 256 else hidden
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(feat, hidden), nn.ReLU(inplace=True), nn.Dropout(0.1),
                                nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 4))
        nn.init.normal_(self.fc[-1].weight, std=1e-3)
        self.set_box_prior((0.15 * UNITS, 0.15 * UNITS, 0.85 * UNITS, 0.85 * UNITS))

    def set_box_prior(self, box: Sequence[float]) -> None:
        """Make the untrained net output ``box`` (units; e.g. the mean training box)."""
        with torch.no_grad():
            self.fc[-1].bias.copy_(torch.as_tensor(box, dtype=torch.float32) / UNITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"images must be (N, 3, {self.input_size}, {self.input_size}), got {tuple(x.shape)}")
        x = self.norm(x)
        if self.arch == "lite":
            f = self.backbone(x)
            f = f[self.backbone.feature_specs[-1].name]
        else:
            f = self.backbone(x)
        return self.fc(self.reduce(f).float()) * UNITS


def _resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    import torch.nn.functional as F

    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


@torch.no_grad()
def locate(net: nn.Module, image: np.ndarray, flip: bool = True, input_size: Optional[int] = None) -> np.ndarray:
    """The box of one ``(H, W, 3)`` RGB image (uint8, or float in [0, 1]) in its pixels, ``(x1, y1, x2, y2)``
    float64: the whole image resized to the network's square input, the box averaged with the mirrored image's
    when ``flip``, clipped to the image. ``net``: a :class:`LocalizationNet` or a module that runs one (e.g. its
    ONNX Runtime session, :mod:`structnet.nn.onnx_backend`); ``input_size``: its square input (default the
    network's ``input_size``)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"locate: an (H, W, 3) RGB image, got shape {img.shape}")
    p = next(net.parameters(), None)  # none: an ONNX Runtime network (CPU)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].to(p.device if p is not None else "cpu", torch.float32)
    if img.dtype == np.uint8:
        x = x / 255.0
    x = _resize_batch(x, int(net.input_size if input_size is None else input_size))
    if flip:
        x = torch.cat([x, x.flip(-1)])
    was = net.training
    net.eval()
    try:
        b = net(x).float()
    finally:
        net.train(was)
    if flip:
        b = (b[:1] + mirror_boxes(b[1:])) / 2
    return units_to_pixels(clamp_boxes(b, min_size=1.0), img.shape[:2])[0].cpu().double().numpy()
