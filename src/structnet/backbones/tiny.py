"""``vgg_tiny``: a small VGG-style conv stack for tests, smoke runs and quick CPU experiments.

Four stages of two 3x3 convs (widths ``width * (1, 2, 4, 4)``), max-pools between stages; taps
``stage1``..``stage4`` at strides 1, 2, 4, 8. Receptive fields are computed from the layers
(5, 14, 32, 68). No pretrained weights exist: ``pretrained=True`` is an error.
"""
from __future__ import annotations

from typing import Dict

import torch
from torch import nn

from .base import Backbone, FeatureSpec, register_backbone
from .receptive_field import tap_fields


class VGGTiny(Backbone):
    def __init__(self, width: int = 8):
        super().__init__()
        chans = [width, 2 * width, 4 * width, 4 * width]
        stages, cin = [], 3
        for i, c in enumerate(chans):
            layers = [nn.MaxPool2d(2, 2, ceil_mode=True)] if i else []
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)]
            stages.append(nn.Sequential(*layers))
            cin = c
        self.stages = nn.ModuleList(stages)
        fields = tap_fields(list(self.stages))
        self.feature_specs = [FeatureSpec(f"stage{i + 1}", c, st, rf) for i, (c, (rf, st)) in enumerate(zip(chans, fields))]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"vgg_tiny: expected input (B, 3, H, W), got {tuple(x.shape)}")
        out = {}
        for spec, stage in zip(self.feature_specs, self.stages):
            x = stage(x)
            out[spec.name] = x
        return out


@register_backbone
def vgg_tiny(pretrained: bool = False, width: int = 8) -> VGGTiny:
    if pretrained:
        raise ValueError("vgg_tiny has no pretrained weights; use pretrained=False")
    return VGGTiny(width)
