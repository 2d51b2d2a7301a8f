"""The typed feature contract every backbone follows.

A backbone is an ``nn.Module`` whose ``forward(x)`` takes a normalised image batch
``(B, 3, H, W)`` and returns a ``dict`` mapping tap names to feature maps
``(B, C_tap, ceil(H / stride), ceil(W / stride))`` (up to the rounding of its padding).
It declares each tap with a :class:`FeatureSpec`. The receptive field in a spec is
*computed* from the layers (kernel, stride, dilation) by
:func:`structnet.backbones.receptive_field.receptive_fields`, never typed in.
Heads (side outputs, hypercolumns) read only this contract.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import torch
from torch import nn


@dataclass(frozen=True)
class FeatureSpec:
    """One tap of a backbone.

    name: tap name (e.g. ``"conv3_3"``).
    channels: number of channels of the tap's output.
    stride: total stride of the tap w.r.t. the input image (pixels).
    receptive_field: theoretical receptive field size in input pixels, computed from the layers.
    """

    name: str
    channels: int
    stride: int
    receptive_field: int


class Backbone(nn.Module):
    """Base class: subclasses set ``self.feature_specs`` and the input normalisation.

    ``mean``/``std`` are per-channel values applied to RGB images scaled to [0, 1]
    (``x_norm = (x - mean) / std``); a model carries them so that ``predict`` can take
    images as they come.
    """

    feature_specs: List[FeatureSpec]
    mean: Sequence[float] = (0.485, 0.456, 0.406)
    std: Sequence[float] = (0.229, 0.224, 0.225)

    def spec(self, name: str) -> FeatureSpec:
        for s in self.feature_specs:
            if s.name == name:
                return s
        raise KeyError(f"backbone {type(self).__name__} has no tap {name!r}; taps: {[s.name for s in self.feature_specs]}")

    @property
    def tap_names(self) -> List[str]:
        return [s.name for s in self.feature_specs]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError


_BACKBONES: Dict[str, Callable[..., Backbone]] = {}


def register_backbone(fn: Callable[..., Backbone]) -> Callable[..., Backbone]:
    """Decorator: register a backbone factory under its function name."""
    if fn.__name__ in _BACKBONES:
        raise ValueError(f"backbone {fn.__name__!r} registered twice")
    _BACKBONES[fn.__name__] = fn
    return fn


def list_backbones() -> List[str]:
    return sorted(_BACKBONES)


def create_backbone(name: str, pretrained: bool = False, **kwargs) -> Backbone:
    """Build a registered backbone. ``pretrained=True`` loads ImageNet weights (offline sources only)."""
    if name not in _BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; valid names: {', '.join(list_backbones())}")
    return _BACKBONES[name](pretrained=pretrained, **kwargs)
