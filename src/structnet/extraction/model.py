"""The two networks of Wang et al. 2014 (Sec. 3) and the pair that extracts an object (box, then mask in the box).

* :class:`~structnet.nn.localization.LocalizationNet` (on the shared floor; the 2D pose task's person box uses it
  too): the whole image, resized to a square, -> the salient object's box ``(x1, y1, x2, y2)`` in the paper's
  units: image coordinates normalised to ``0 .. 224`` on both axes (:data:`UNITS`).
* :class:`SegmentationNet`: the box crop, resized to a square, -> the ``m x m`` mask logits of the box.
  ``arch="paper"``: ``C(256, 5x5x3) - RN - MP - C(384, 3x3) - C(384, 3x3) - C(256, 3x3) - MP - FC`` on a 55 x 55
  crop with a 50 x 50 output (max-pooling 3 x 3, stride 2); ``arch="lite"``: EfficientNet-Lite0 up to its stride-16
  stage on a small crop (64 x 64), a fully connected layer from the stride-16 map for the mask's global shape (the
  paper's FC, at half the mask size) plus per-stage 3 x 3 / 1 x 1 score convolutions for detail, summed at the
  mask size (ours).
* :class:`ExtractionNet` holds both, with the geometry that connects them (the crop of a box, the paste of a mask).

Both networks take RGB in [0, 1] and normalise inside (a model carries its input normalisation).
"""
from __future__ import annotations

import math
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import create_backbone
from ..errors import UserError
from ..nn.localization import (ARCHS, MEAN_IMAGENET, STD_IMAGENET, UNITS, LocalizationNet, Normalise,
                               clamp_boxes, pixels_to_units, units_to_pixels)

__all__ = ["UNITS", "LocalizationNet", "SegmentationNet", "ExtractionNet", "ARCHS", "units_to_pixels",
           "pixels_to_units", "clamp_boxes"]


def _lite_stages(backbone: nn.Module, x: torch.Tensor, last: str) -> Dict[str, torch.Tensor]:
    """EfficientNet-Lite stages up to ``last`` only (the later blocks do not run)."""
    out: Dict[str, torch.Tensor] = {}
    x = F.relu6(backbone._bn0(backbone._conv_stem(x)))
    for i, blk in enumerate(backbone._blocks):
        x = blk(x)
        name = backbone._tap_block.get(i)
        if name is not None:
            out[name] = x
            if name == last:
                break
    return out


class SegmentationNet(nn.Module):
    """Box crop ``(N, 3, S, S)`` RGB in [0, 1] -> mask logits ``(N, m, m)`` (module docstring)."""

    def __init__(self, arch: str = "lite", backbone: str = "efficientnet_lite0", pretrained: bool = False,
                 input_size: int = 64, mask_size: int = 50, width: float = 1.0):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        if input_size < 16 or mask_size < 4:
            raise ValueError(f"input_size must be >= 16 and mask_size >= 4, got {input_size}, {mask_size}")
        self.arch, self.input_size, self.mask_size = arch, int(input_size), int(mask_size)
        if arch == "lite":
            if not backbone.startswith("efficientnet"):
                raise ValueError("the lite segmentation network is built on an EfficientNet-Lite backbone")
            self.backbone = create_backbone(backbone, pretrained=pretrained)
            self.norm = Normalise(self.backbone.mean, self.backbone.std)
            self.taps = ("stage2", "stage3", "stage4")
            # only the blocks up to stride 16 run: the later ones, the head conv and the classifier go
            last = max(i for i, t in self.backbone._tap_block.items() if t == "stage4")
            self.backbone._blocks = nn.ModuleList(list(self.backbone._blocks)[:last + 1])
            for name in ("_conv_head", "_bn1", "_fc"):
                setattr(self.backbone, name, nn.Identity())
            self.heads = nn.ModuleDict({t: nn.Conv2d(self.backbone.spec(t).channels, 1, 3 if i < 2 else 1,
                                                     padding=1 if i < 2 else 0)
                                        for i, t in enumerate(self.taps)})
            top = self.backbone.spec("stage4")
            side = math.ceil(self.input_size / top.stride)
            self.coarse = max(2, self.mask_size // 2)
            self.global_fc = nn.Linear(top.channels * side * side, self.coarse * self.coarse)
            for m in list(self.heads.values()) + [self.global_fc]:
                nn.init.normal_(m.weight, std=1e-3)
                nn.init.zeros_(m.bias)
        else:
            if pretrained:
                raise UserError("the paper's segmentation network is trained from scratch (no ImageNet weights)")
            c = [max(8, int(round(v * width))) for v in (256, 384, 384, 256)]
            self.norm = Normalise(MEAN_IMAGENET, STD_IMAGENET)
            self.backbone = nn.Sequential(
                nn.Conv2d(3, c[0], 5), nn.ReLU(inplace=True), nn.LocalResponseNorm(5), nn.MaxPool2d(3, 2),
                nn.Conv2d(c[0], c[1], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
            with torch.no_grad():
                n = self.backbone(torch.zeros(1, 3, self.input_size, self.input_size)).numel()
            self.fc = nn.Linear(n, self.mask_size * self.mask_size)
            nn.init.normal_(self.fc.weight, std=1e-3)
            nn.init.zeros_(self.fc.bias)

    def set_foreground_prior(self, fraction: float) -> None:
        """Make the untrained net output ``fraction`` (the foreground share of training crops) everywhere."""
        p = min(max(float(fraction), 1e-3), 1 - 1e-3)
        b = math.log(p / (1 - p))
        with torch.no_grad():
            (self.global_fc if self.arch == "lite" else self.fc).bias.fill_(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"crops must be (N, 3, {self.input_size}, {self.input_size}), got {tuple(x.shape)}")
        x = self.norm(x)
        m = self.mask_size
        n = x.shape[0]
        if self.arch == "paper":
            return self.fc(self.backbone(x).flatten(1).float()).view(n, m, m)
        f = _lite_stages(self.backbone, x, "stage4")
        g = self.global_fc(f["stage4"].float().flatten(1)).view(n, 1, self.coarse, self.coarse)
        total = F.interpolate(g, size=(m, m), mode="bilinear", align_corners=False)
        for t in self.taps:
            s = self.heads[t](f[t]).float()
            total = total + F.interpolate(s, size=(m, m), mode="bilinear", align_corners=False)
        return total[:, 0]


#: tensors of weights files saved before the unused backbone parts were dropped (ignored when loading)
UNUSED_PREFIXES = ("loc.backbone._fc.", "seg.backbone._blocks.", "seg.backbone._conv_head.", "seg.backbone._bn1.",
                   "seg.backbone._fc.")


def load_extraction_weights(net: nn.Module, path) -> dict:
    """Load a weights file into an :class:`ExtractionNet` (strict, except for the tensors of backbone parts no
    tap uses, which files written before they were dropped still hold)."""
    from ..nn.weights import load_state_dict, load_weights

    own = net.state_dict()
    extra = [k for k in load_state_dict(path) if k not in own]
    bad = [k for k in extra if not k.startswith(UNUSED_PREFIXES)]
    if bad:
        raise UserError(f"{path}: weights do not fit ExtractionNet ({len(bad)} unexpected tensors, first {bad[0]})")
    return load_weights(net, path, strict=not extra)


def _is_channels_last(module: nn.Module) -> bool:
    w = next((m.weight for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    return w is not None and w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()


class ExtractionNet(nn.Module):
    """The localization and segmentation networks together (``loc``, ``seg``); :meth:`config` rebuilds it."""

    def __init__(self, arch: str = "lite", backbone: str = "efficientnet_lite0", pretrained: bool = False,
                 loc_input: int = 160, seg_input: int = 64, mask_size: int = 50, width: float = 1.0,
                 hidden: int = 256):
        super().__init__()
        self.loc = LocalizationNet(arch, backbone, pretrained, loc_input, hidden=hidden, width=width)
        self.seg = SegmentationNet(arch, backbone, pretrained, seg_input, mask_size, width=width)
        self.loc_input, self.seg_input, self.mask_size = int(loc_input), int(seg_input), int(mask_size)
        self._cfg = dict(arch=arch, backbone=str(backbone), loc_input=self.loc_input, seg_input=self.seg_input,
                         mask_size=self.mask_size, width=float(width), hidden=int(hidden))

    def config(self) -> dict:
        return dict(self._cfg)

    def locate(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(N, 3, H, W)`` in [0, 1] (any size; resized to the net's square) -> boxes ``(N, 4)`` in units."""
        if tuple(images.shape[-2:]) != (self.loc_input, self.loc_input):
            images = F.interpolate(images, size=(self.loc_input, self.loc_input), mode="bilinear",
                                   align_corners=False, antialias=True)
        return self.loc(images)

    def crops(self, images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """The boxes ``(N, 4)`` (units) of ``images`` ``(N, 3, H, W)`` warped to the segmentation net's square."""
        from ..nn.boxes import crop_boxes

        crops = crop_boxes(images, units_to_pixels(boxes, images.shape[-2:]), self.seg_input)
        if _is_channels_last(self.seg):
            crops = crops.contiguous(memory_format=torch.channels_last)
        return crops

    def segment(self, images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Mask logits ``(N, m, m)`` of the boxes (units) of ``images``."""
        return self.seg(self.crops(images, boxes))

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Inference: ``box`` (N, 4) units (clamped to the image) and ``logits`` (N, m, m) of that box."""
        box = clamp_boxes(self.locate(images))
        return {"box": box, "logits": self.segment(images, box)}

