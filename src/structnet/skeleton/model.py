"""LMSDS / FSDS / HED skeleton networks on any backbone of the feature contract.

* LMSDS (Shen et al. 2017): per stage i a Loc-SSO (softmax over K(i)+1 = i+1 quantised scales) and a
  ScalePred-SSO (regression of the normalised scale, Eq. 6), fused by one 1x1 weight layer per
  quantised scale over the stages that see it (Eq. 9-10), weights initialised to 1/n.
* FSDS: the same without the ScalePred-SSOs (lambda = 0); at test time its scale is the coarse
  ``sum_i r_i P(z = i)``.
* HED (Xie & Tu 2015) as the paper's baseline: one binary side output per tap (all stages), one
  fusion layer, class-balanced sigmoid losses.

Stage receptive fields come from the backbone's :class:`~structnet.backbones.FeatureSpec`.
By default LMSDS/FSDS omit the backbone's first tap (the paper drops conv1_2, field 5: too small to
see any skeleton), and HED uses all taps (as HED does).

Fusion detail the paper leaves open: Eq. 9 is written over the side outputs' probabilities, but the
authors' Caffe network slices and fuses the side outputs' *activations* (scores before softmax) and
applies the softmax of Eq. 10 to the fused scores. We fuse activations, as the released network does
(fusing probabilities and applying a softmax again would bound every fused score to [0, 1]).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch import nn

from ..backbones import Backbone, create_backbone
from ..nn.modules import freeze
from ..nn.side_outputs import SideOutput, WeightedFusion, pad_to_multiple, upsample
from .codec import SkeletonCodec

METHODS = ("lmsds", "fsds", "hed")


class SkeletonNet(nn.Module):
    """Skeleton network. ``forward(images)`` takes RGB images (B, 3, H, W) in [0, 1] (the model
    carries its normalisation) and returns a dict of full-resolution outputs:

    * ``side_logits``: list over stages of (B, K(i)+1, H, W) scores (HED: (B, 1, H, W))
    * ``side_scale``: list over stages of (B, 1, H, W) normalised scale predictions (LMSDS only)
    * ``fuse_logits``: (B, M+1, H, W) fused scores (HED: (B, 1, H, W))
    """

    def __init__(self, backbone: Backbone, method: str = "lmsds", taps: Optional[Sequence[str]] = None,
                 rho: float = 1.2, beyond: str = "clamp", side_init: str = "zero", freeze_bn: bool = True):
        super().__init__()
        self.freeze_bn = freeze_bn
        if method not in METHODS:
            raise ValueError(f"unknown skeleton method {method!r}; valid: {', '.join(METHODS)}")
        self.method = method
        self.backbone = backbone
        if freeze_bn:  # the backbone's BatchNorm keeps its (ImageNet) statistics: the paper trains with batch 1
            freeze(self.backbone, parameters=False)
        if taps is None:
            # LMSDS / FSDS quantise scales by the taps' receptive fields, which must increase: taps whose field
            # ties with a later one (hourglass decoder levels) are left out (Backbone.increasing_field_taps)
            taps = backbone.tap_names if method == "hed" else backbone.increasing_field_taps(backbone.tap_names[1:])
        self.taps = list(taps)
        specs = [backbone.spec(t) for t in self.taps]
        self.strides = [s.stride for s in specs]
        self.fields = tuple(float(s.receptive_field) for s in specs)
        self.codec = SkeletonCodec(self.fields, rho, beyond)
        mean, std = backbone.normalization()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        m = len(specs)
        self.pad_multiple = max(self.strides)
        if method == "hed":
            self.loc = nn.ModuleList(SideOutput(s.channels, 1, side_init) for s in specs)
            self.fuse = WeightedFusion(m)
        else:
            self.loc = nn.ModuleList(SideOutput(s.channels, i + 2, side_init) for i, s in enumerate(specs))
            # class k is fused over stages i = max(k, 1) .. M  (1-based)  -> n_k = M - max(k, 1) + 1 maps
            self.fuse = nn.ModuleList(WeightedFusion(m - max(k, 1) + 1) for k in range(m + 1))
            self.scale = (nn.ModuleList(SideOutput(s.channels, 1, side_init) for s in specs)
                          if method == "lmsds" else None)


    @property
    def num_stages(self) -> int:
        return len(self.taps)

    def forward(self, images: torch.Tensor) -> Dict[str, object]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        x = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        x, hw = pad_to_multiple(x, self.pad_multiple)
        feats = self.backbone(x)
        side = [upsample(head(feats[t]), st, hw) for head, t, st in zip(self.loc, self.taps, self.strides)]
        out: Dict[str, object] = {"side_logits": side}
        if self.method == "hed":
            out["fuse_logits"] = self.fuse(torch.cat(side, 1))
            return out
        m = self.num_stages
        fused = []
        for k in range(m + 1):
            maps = torch.stack([side[i - 1][:, k] for i in range(max(k, 1), m + 1)], 1)
            fused.append(self.fuse[k](maps))
        out["fuse_logits"] = torch.cat(fused, 1)
        if self.scale is not None:
            out["side_scale"] = [upsample(head(feats[t]), st, hw)
                                 for head, t, st in zip(self.scale, self.taps, self.strides)]
        return out

    @torch.no_grad()
    def decode(self, out: Dict[str, object]) -> Dict[str, torch.Tensor]:
        """Network outputs -> ``{"skeleton": (B, H, W) in [0, 1], "scale": (B, H, W) pixels}``
        (Eq. 12-14 for LMSDS, the coarse scale for FSDS, NaN scale for HED)."""
        fuse = out["fuse_logits"].float()
        if self.method == "hed":
            skel = torch.sigmoid(fuse[:, 0])
            return {"skeleton": skel, "scale": torch.full_like(skel, float("nan"))}
        prob = torch.softmax(fuse, 1)
        stage_scale = torch.cat(out["side_scale"], 1).float() if "side_scale" in out else None
        skel, scale = self.codec.decode(prob, stage_scale)
        return {"skeleton": skel, "scale": scale.clamp_min(0)}

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        """images (B, 3, H, W) in [0, 1] -> decoded maps (see :meth:`decode`)."""
        return self.decode(self(images))

    def config(self) -> Dict[str, object]:
        return {"method": self.method, "taps": self.taps, "fields": list(self.fields),
                "rho": self.codec.rho, "beyond": self.codec.beyond}


def build_skeleton_model(method: str = "lmsds", backbone: str = "efficientnet_lite0", pretrained: bool = True,
                         taps: Optional[Sequence[str]] = None, rho: float = 1.2, beyond: str = "clamp",
                         side_init: str = "zero", freeze_bn: bool = True) -> SkeletonNet:
    """Factory used by configs and the CLI."""
    bb = create_backbone(backbone, pretrained=pretrained)
    return SkeletonNet(bb, method=method, taps=taps, rho=rho, beyond=beyond, side_init=side_init,
                       freeze_bn=freeze_bn)
