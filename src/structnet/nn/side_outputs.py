"""Shared layers for heads that read backbone taps: padding, upsampling, side outputs, fusion."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> Tuple[torch.Tensor, Tuple[int, int]]:
    """Pad ``x`` (B, C, H, W) at the bottom/right to a multiple of ``multiple``; returns (padded, (H, W))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def upsample(x: torch.Tensor, stride: int, out_hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of a stride-``stride`` map (B, C, h, w) to the padded input size
    (h * stride, w * stride), then crop to ``out_hw``.

    Interpolation replaces Caffe's fixed bilinear ``Deconvolution`` + ``Crop``: same geometry
    (pixel centres align, ``align_corners=False``), several times cheaper on CPU in bfloat16.
    """
    if stride > 1:
        x = F.interpolate(x, size=(x.shape[-2] * stride, x.shape[-1] * stride), mode="bilinear", align_corners=False)
    return x[..., : out_hw[0], : out_hw[1]]


class SideOutput(nn.Module):
    """A 1x1 convolution from one tap to ``out_channels`` maps (a side output in HED terms).

    ``init="zero"`` follows the LMSDS paper ("initialization of the nested filters: 0").
    """

    def __init__(self, in_channels: int, out_channels: int, init: str = "zero"):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)
        if init == "zero":
            nn.init.zeros_(self.conv.weight)
        elif init == "normal":
            nn.init.normal_(self.conv.weight, std=0.01)
        else:
            raise ValueError(f"unknown side-output init {init!r}; valid: zero, normal")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class WeightedFusion(nn.Module):
    """A 1x1 weight layer over ``n`` maps (B, n, H, W) -> (B, 1, H, W), weights initialised to 1/n, no bias
    (HED's fusion layer; one per quantised scale in LMSDS's scale-specific fusion, Eq. 9)."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = nn.Parameter(torch.full((n,), 1.0 / n))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bnhw,n->bhw", maps, self.weight.to(maps.dtype)).unsqueeze(1)
