"""MSS-net and MSR-net on a pretrained encoder (``model.arch: encoder``): the paper's multi-scale supervision and
multi-scale regression on an ImageNet-pretrained backbone with an upsampling decoder, for CPU budgets.

Why: a stacked hourglass from scratch does not learn in a few CPU epochs (the ladder's 2-stack models stay near 20 %
PCK@0.2 after 4 epochs), while an ImageNet encoder with a light decoder does (docs/pose2d.md). The paper's ideas do
not depend on the hourglass: MSS supervises every upsampling level of a conv-deconv network, MSR refines the
multi-scale heatmaps, the structure-aware loss and keypoint masking act on the targets and the input.

Network (:class:`EncoderPoseNet`)
---------------------------------
* Encoder: any registered backbone (:func:`structnet.backbones.create_backbone`; default ``efficientnet_lite0``
  with its offline ImageNet weights), read through its taps at strides 4, 8, ..., ``4 * 2**(depth-1)`` (Lite0:
  ``stage2`` .. ``stage5`` for depth 4). The model carries the backbone's input normalisation: it takes RGB images
  in [0, 1] like every structnet model.
* Decoder (U-Net / FPN style, this implementation's choice): the coarsest tap goes through a 1x1 lateral
  convolution to ``features`` channels and a 3x3 conv + BN + ReLU; each finer level upsamples the previous level
  bilinearly x2, adds the 1x1 lateral of its tap and applies a 3x3 conv + BN + ReLU. Level k has stride
  ``4 * 2**k``: for a 192 input the maps are 48, 24, 12 and 6 pixels high, the codec's scales 1, 2, 4, 8.
* Heads: the finest level gets a 3x3 conv + BN + ReLU + 1x1 conv to the N heatmaps (``head``); with ``mss`` every
  coarser level gets an MSS head (BN + ReLU + 1x1, :func:`structnet.pose2d.heads.mss_head`), so each decoder
  level is supervised at its own scale (Sec. 3.1). Every heatmap-output 1x1 convolution (heads, MSS heads, MSR-net
  heads) starts from N(0, ``head_std``) weights and zero bias (0.001, as SimpleBaseline / HRNet; ``head_std=0`` keeps
  PyTorch's default): with the default init the first run's outputs started O(1) everywhere and the 48x48 heads
  were still at the all-zero loss after 520 steps.
* MSR-net (Sec. 3.2): the same :class:`~structnet.pose2d.heads.MSRNet` as the hourglass model, reading the
  multi-scale heatmaps brought to the finest resolution plus (``msr_input``) the decoder's finest features.

Output: the :class:`~structnet.pose2d.model.PoseNet` structure (``{"stacks": [{h: maps}], "msr": {h: maps} or
None, "final": maps}``, one "stack"), so losses, codec, training stages, inference and evaluation are shared.
Freezing parts: ``stem`` = the encoder, ``stacks`` = decoder and heads, ``mss`` = both, ``msr``, ``all``.
"""
from __future__ import annotations

import contextlib
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import create_backbone
from ..checks import check_int
from .heads import MSR_INPUTS, MSRNet, PosePartsMixin, mss_head

__all__ = ["EncoderPoseNet", "ENCODER_BACKBONES"]

#: Backbones whose taps reach stride 4 .. 32 (the encoder variants of the CPU recipes).
ENCODER_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "vgg16", "vgg_tiny")


def _conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class _Decoder(nn.Module):
    """Top-down decoder over taps of strides 4 * 2**k (finest first in ``channels``); ``forward(taps)`` returns the
    level features finest first."""

    def __init__(self, channels: List[int], features: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, features, 1) for c in channels)
        self.smooth = nn.ModuleList(_conv_bn_relu(features, features) for _ in channels)

    def forward(self, taps: List[torch.Tensor]) -> List[torch.Tensor]:
        x = self.smooth[-1](self.lateral[-1](taps[-1]))
        levels = [x]
        for k in range(len(taps) - 2, -1, -1):
            lat = self.lateral[k](taps[k])
            x = F.interpolate(x, size=lat.shape[-2:], mode="bilinear", align_corners=False) + lat
            x = self.smooth[k](x)
            levels.append(x)
        return levels[::-1]


class _Heads(nn.Module):
    """The full-resolution head and the MSS heads of the coarser levels."""

    def __init__(self, features: int, num_joints: int, depth: int, mss: bool):
        super().__init__()
        self.head = nn.Sequential(_conv_bn_relu(features, features), nn.Conv2d(features, num_joints, 1))
        self.mss_heads = nn.ModuleList(mss_head(features, num_joints) for _ in range(depth - 1)) if mss else None

    def forward(self, levels: List[torch.Tensor]) -> List[torch.Tensor]:
        maps = [self.head(levels[0])]
        if self.mss_heads is not None:
            maps += [h(lv) for h, lv in zip(self.mss_heads, levels[1:])]
        return maps


class EncoderPoseNet(PosePartsMixin, nn.Module):
    """MSS / MSR heads on a pretrained encoder + upsampling decoder (module docstring). Build it with
    :func:`structnet.pose2d.model.build_pose_model` (``arch="encoder"``). Parts: ``stem`` = the encoder, ``stacks`` =
    decoder and heads."""

    PARTS = {"stem": ["backbone"], "stacks": ["decoder", "heads"]}

    def __init__(self, num_joints: int, backbone: str = "efficientnet_lite0", pretrained: bool = False,
                 features: int = 128, depth: int = 4, mss: bool = True, msr: bool = True,
                 msr_input: str = "heatmaps+stem", msr_features: Optional[int] = None, msr_depth: int = 3,
                 msr_multiscale: bool = True, head_std: float = 0.001):
        super().__init__()
        self.num_joints = check_int("num_joints", num_joints, 1)
        self.features = check_int("features", features, 2)
        self.depth = check_int("depth", depth, 1)
        self.mss, self.msr_on = bool(mss), bool(msr)
        if msr_input not in MSR_INPUTS:
            raise ValueError(f"unknown msr_input {msr_input!r}; valid: {', '.join(MSR_INPUTS)}")
        self.msr_input = msr_input
        self.msr_features = self.features if msr_features is None else check_int("msr_features", msr_features, 2)
        if self.msr_features % 2:
            raise ValueError(f"msr_features must be even (the bottleneck halves it), got {msr_features}")
        self.msr_depth = check_int("msr_depth", msr_depth, 1)
        self.msr_multiscale = bool(msr_multiscale)
        self.backbone_name = str(backbone)
        self.backbone = create_backbone(backbone, pretrained=pretrained)
        by_stride = self.backbone.taps_by_stride()
        want = [4 * 2 ** k for k in range(self.depth)]
        missing = [s for s in want if s not in by_stride]
        if missing:
            raise ValueError(f"backbone {backbone!r} has no taps at stride(s) {missing} (taps: "
                             f"{self.backbone.describe_taps()}); "
                             f"depth {self.depth} needs strides {want}")
        self.taps = [by_stride[s].name for s in want]
        mean, std = self.backbone.normalization()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        f, n = self.features, self.num_joints
        self.decoder = _Decoder([by_stride[s].channels for s in want], f)
        self.heads = _Heads(f, n, self.depth, self.mss)
        self.msr: Optional[MSRNet] = None
        if self.msr_on:
            n_scales = self.depth if self.mss else 1
            extra = 0 if msr_input == "heatmaps" else f
            self.msr = MSRNet(n_scales * n + extra, self.msr_features, n, self.msr_depth, self.msr_multiscale)
        self.head_std = float(head_std)
        if self.head_std > 0:  # SimpleBaseline / HRNet: heatmap outputs start near 0 (PyTorch's default gives O(1))
            for conv in self._output_convs():
                nn.init.normal_(conv.weight, std=self.head_std)
                nn.init.zeros_(conv.bias)
        self._frozen: set = set()

    def _output_convs(self) -> List[nn.Conv2d]:
        """The 1x1 convolutions that output heatmaps (decoder heads, MSS heads, MSR-net heads)."""
        convs = [self.heads.head[-1]] + ([h[-1] for h in self.heads.mss_heads] if self.heads.mss_heads else [])
        if self.msr is not None:
            st = self.msr.stack
            convs += [st.head] + ([h[-1] for h in st.mss_heads] if st.mss_heads is not None else [])
        return convs

    # ------------------------------------------------------------------ geometry
    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 4 * 2 ** max(self.depth - 1, self.msr_depth if self.msr_on else 0)

    def map_sizes(self, height: int = 256) -> Tuple[int, ...]:
        h = int(height) // 4
        return tuple(h >> k for k in range(self.depth if self.mss else 1))

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor) -> Dict[str, object]:
        self._check_images(images)
        with torch.no_grad() if self._mss_frozen() else contextlib.nullcontext():
            feats = self.backbone((images - self.mean) / self.std)
            levels = self.decoder([feats[t] for t in self.taps])
            maps = self.heads(levels)
        return self._outputs(maps, [{int(t.shape[-2]): t for t in maps}], levels[0])

    def config(self) -> Dict[str, object]:
        """The architecture as :func:`~structnet.pose2d.model.build_pose_model` keyword arguments (JSON-safe)."""
        return {"arch": "encoder", "num_joints": self.num_joints, "backbone": self.backbone_name,
                "features": self.features, "depth": self.depth, "mss": self.mss, "msr": self.msr_on,
                "msr_input": self.msr_input, "msr_features": self.msr_features, "msr_depth": self.msr_depth,
                "msr_multiscale": self.msr_multiscale, "head_std": self.head_std}
