"""The typed feature contract every backbone follows.

A backbone is an ``nn.Module`` whose ``forward(x)`` takes a normalised image batch
``(B, 3, H, W)`` and returns a ``dict`` mapping tap names to feature maps
``(B, C_tap, ceil(H / stride), ceil(W / stride))`` (up to the rounding of its padding).
It declares each tap with a :class:`FeatureSpec`. The receptive field in a spec is
*computed* from the layers (kernel, stride, dilation, and for encoder-decoders padding and upsampling) by
:mod:`structnet.backbones.receptive_field`, never typed in.
Heads (side outputs, hypercolumns) read only this contract.

Taps are declared in forward order (the order in which the network computes them) and their receptive fields
do not decrease along that order. Strides need not be monotone: an encoder-decoder (the hourglass) lists its
decoder outputs from the coarsest up, so its strides go down again while its fields grow. Two taps may have the
same field (an encoder-decoder's finest levels, or EfficientNet-Lite0's head); heads whose stages need strictly
increasing fields (LMSDS/FSDS's scale quantisation) pick their taps with :meth:`Backbone.increasing_field_taps`.

``pretrained``: ``True`` loads ImageNet weights from offline sources where a backbone has them; a backbone without
ImageNet weights raises a :class:`~structnet.errors.UserError` (``vgg_tiny``: ValueError) and may accept a weights
file instead (``hourglass*``: ``pretrained=<path>``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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

    def taps_by_stride(self) -> Dict[int, FeatureSpec]:
        """Stride -> the tap at that stride (the last one in the backbone's order where several share it)."""
        return {s.stride: s for s in self.feature_specs}

    def describe_taps(self) -> str:
        """``name/stride`` of every tap, for error messages."""
        return ", ".join(f"{s.name}/{s.stride}" for s in self.feature_specs)

    def normalization(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` as float32 tensors of shape ``(1, 3, 1, 1)``: what a model registers (as non-persistent
        buffers) to normalise RGB images in [0, 1] for this backbone, ``(x - mean) / std``."""
        return (torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1),
                torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1))

    def increasing_field_taps(self, names: Optional[Sequence[str]] = None) -> List[str]:
        """``names`` (default: all taps), in the backbone's order, with strictly increasing receptive fields: of a
        run of taps with the same field only the last is kept (the most processed one; in an encoder-decoder also
        the finest), and a tap whose field is smaller than an earlier kept one's is dropped.

        Example: ``hourglass2``'s taps after ``stem2`` have fields stem4 29, level4 1097, level3 1225, level2 1289,
        level1 1353, level0 1353, lin 1353, which give ``["stem4", "level4", "level3", "level2", "lin"]``.
        """
        names = self.tap_names if names is None else list(names)
        order = {n: i for i, n in enumerate(self.tap_names)}
        for n in names:
            if n not in order:
                self.spec(n)  # KeyError naming the taps
        kept: List[FeatureSpec] = []
        for n in sorted(names, key=order.__getitem__):
            s = self.spec(n)
            if kept and s.receptive_field == kept[-1].receptive_field:
                kept[-1] = s
            elif not kept or s.receptive_field > kept[-1].receptive_field:
                kept.append(s)
        return [s.name for s in kept]

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
    """Build a registered backbone. ``pretrained=True`` loads ImageNet weights (offline sources only); backbones
    without ImageNet weights refuse it (see the module docstring)."""
    if name not in _BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; valid names: {', '.join(list_backbones())}")
    return _BACKBONES[name](pretrained=pretrained, **kwargs)
