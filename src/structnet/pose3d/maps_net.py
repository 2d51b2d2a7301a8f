"""The image -> skeleton-map network (Wan et al. 2017, Sec. 3.2 "Deconvolution for Generating Skeleton Map").

:class:`SkeletonMapNet`: an encoder of the shared backbone contract (default ``efficientnet_lite0`` with its
offline ImageNet weights; the paper: ResNet-50, whose weights do not ship offline) read at strides 32, 16, 8 and 4
(those of them the backbone has, from 4 up),
and a decoder of the paper's design: from the coarsest tap, repeated blocks of an upsampling layer (a x2
transposed convolution *initialised to bilinear upsampling*, one per channel) followed by a residual module; skip
connections add the 1x1-projected encoder tap of the same stride before each residual module. **Intermediate
supervision**: every level's features branch off into a residual block and a 1x1 output, supervised against the
target maps at that level's resolution, "allowing for learning skeleton map at multiple resolutions". The finest
level (stride 4: 48 x 48 for a 192 crop) is the output.

Output: per hypothesis of the lifter (one stick width each) a front and a back map, ``6 x H`` channels of logits
(the paper: "per-pixel regression ... sigmoid cross entropy loss"; the sigmoid gives the colour in [0, 1]). One
network draws all the hypotheses' maps (the paper trains a network per configuration; one decoder with 6 H outputs
costs 1/H of the compute, our CPU choice).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import create_backbone

__all__ = ["SkeletonMapNet", "bilinear_kernel", "map_loss"]


def bilinear_kernel(channels: int, factor: int = 2) -> torch.Tensor:
    """Weights ``(channels, 1, 2f, 2f)`` of a per-channel transposed convolution (stride ``f``, padding ``f/2``)
    that upsamples bilinearly (FCN's ``bilinear`` filler)."""
    k = 2 * factor
    center = (k - 1) / 2.0 if k % 2 == 0 else factor - 1
    og = torch.arange(k, dtype=torch.float32)
    filt = 1 - (og - center).abs() / factor
    w = filt[:, None] * filt[None, :]
    return w.expand(channels, 1, k, k).clone()


class _Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class SkeletonMapNet(nn.Module):
    """RGB crop ``(N, 3, S, S)`` in [0, 1] -> ``{"levels": [logits finest first], "maps": logits (N, 6H, S/4, S/4)}``
    (module docstring). ``widths`` / ``map_size`` / ``box_scale`` are those of the lifter whose maps it draws;
    ``image_size`` = 4 x ``map_size``."""

    def __init__(self, widths: Sequence[float] = (1.5, 3.0, 4.5), map_size: int = 48, box_scale: float = 1.2,
                 backbone: str = "efficientnet_lite0", pretrained: bool = False, features: int = 64):
        super().__init__()
        self.widths = [float(w) for w in widths]
        if not self.widths or min(self.widths) <= 0:
            raise ValueError(f"one positive stick width per hypothesis needed, got {list(widths)}")
        self.map_size, self.box_scale = int(map_size), float(box_scale)
        self.image_size = 4 * self.map_size
        self.kind = "image"
        self.backbone_name, self.features = str(backbone), int(features)
        self._cfg = dict(kind="image", widths=self.widths, map_size=self.map_size, box_scale=self.box_scale,
                         backbone=self.backbone_name, features=self.features)
        self.backbone = create_backbone(backbone, pretrained=pretrained)
        by_stride = self.backbone.taps_by_stride()
        want = []
        for st in (4, 8, 16, 32):  # the taps at stride 4 and every coarser one up to 32 (the paper: res2c..res5c)
            if st not in by_stride:
                break
            want.append(st)
        if not want:
            raise ValueError(f"backbone {backbone!r} has no tap at stride 4 (taps: {self.backbone.describe_taps()})")
        self.taps = [by_stride[s].name for s in want]
        mean, std = self.backbone.normalization()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        f, out = self.features, 6 * len(self.widths)
        self.lateral = nn.ModuleList(nn.Conv2d(by_stride[s].channels, f, 1) for s in want)
        self.blocks = nn.ModuleList(_Residual(f) for _ in want)
        self.up = nn.ModuleList(nn.ConvTranspose2d(f, f, 4, 2, 1, groups=f, bias=False) for _ in want[1:])
        for u in self.up:
            with torch.no_grad():
                u.weight.copy_(bilinear_kernel(f))
        self.heads = nn.ModuleList(nn.Sequential(_Residual(f), nn.Conv2d(f, out, 1)) for _ in want)
        for h in self.heads:  # start near the all-background answer (sigmoid(-4) ~ 0.02): most pixels are empty
            nn.init.normal_(h[1].weight, std=0.001)
            nn.init.constant_(h[1].bias, -4.0)

    def config(self) -> dict:
        return dict(self._cfg)

    @property
    def hypotheses(self) -> int:
        return len(self.widths)

    def forward(self, image: torch.Tensor) -> Dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W), got {tuple(image.shape)}")
        feats = self.backbone((image - self.mean) / self.std)
        taps = [feats[t] for t in self.taps]
        x = self.blocks[-1](self.lateral[-1](taps[-1]))
        levels = [x]
        for k in range(len(taps) - 2, -1, -1):
            lat = self.lateral[k](taps[k])
            x = self.up[k](x)
            if x.shape[-2:] != lat.shape[-2:]:
                x = F.interpolate(x, size=lat.shape[-2:], mode="bilinear", align_corners=False)
            x = self.blocks[k](x + lat)
            levels.append(x)
        levels = levels[::-1]                                       # finest first
        logits = [h(lv) for h, lv in zip(self.heads, levels)]
        return {"levels": logits, "maps": logits[0]}

    def maps(self, image: torch.Tensor) -> torch.Tensor:
        """``(N, H, 6, S, S)`` skeleton maps in [0, 1] (per hypothesis: front RGB, back RGB)."""
        m = torch.sigmoid(self.forward(image)["maps"].float())
        return m.view(m.shape[0], self.hypotheses, 6, *m.shape[-2:])


def map_loss(levels: List[torch.Tensor], target: torch.Tensor, weight: Optional[torch.Tensor] = None
             ) -> Dict[str, torch.Tensor]:
    """Sigmoid cross entropy of every level (finest first) against ``target`` ``(N, 6H, S, S)`` in [0, 1],
    average-pooled to the level's size: ``{"l0": ..., "l1": ...}`` (mean over pixels and channels). ``weight``
    ``(N, 1, S, S)`` (optional, pooled the same way) weighs the pixels (0: not counted)."""
    out = {}
    for k, lg in enumerate(levels):
        same = lg.shape[-2:] == target.shape[-2:]
        t = target if same else F.adaptive_avg_pool2d(target, lg.shape[-2:])
        w = None
        if weight is not None:
            w = (weight if same else F.adaptive_avg_pool2d(weight, lg.shape[-2:])).expand_as(t)
        out[f"l{k}"] = F.binary_cross_entropy_with_logits(lg.float(), t, weight=w)
    return out
