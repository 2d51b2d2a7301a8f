"""What both pose networks (the stacked hourglass of :mod:`.model` and the pretrained encoder of :mod:`.encoder`)
share: the MSS heads on inner levels (:func:`mss_head`), the hourglass stack with them (:class:`PoseStack`), the
MSR-net (:class:`MSRNet`), and freezing by part name with the MSR-net pass (:class:`PosePartsMixin`). The module
docstring of :mod:`.model` describes the design.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones.hourglass import HourglassStack, lin_block
from ..nn.modules import freeze, unfreeze

__all__ = ["MSR_INPUTS", "FREEZE_PARTS", "mss_head", "PoseStack", "MSRNet", "PosePartsMixin"]

#: What MSR-net reads besides the last stack's multi-scale heatmaps (see the module docstring).
MSR_INPUTS = ("heatmaps+stem", "heatmaps", "heatmaps+features")
#: Names accepted by :meth:`PoseNet.freeze` / :meth:`PoseNet.unfreeze`.
FREEZE_PARTS = ("stem", "stacks", "mss", "msr", "all")


def mss_head(features: int, num_joints: int) -> nn.Sequential:
    """MSS head on an inner hourglass level: BatchNorm -> ReLU -> 1x1 conv to the heatmaps (``.2`` is the conv).

    The paper only says "1x1 convolution". The level outputs are unnormalised residual sums (mean |x| about 7 at
    initialisation), so a bare 1x1 conv on them starts with heatmap losses 10-100x the finest head's. On the CPU
    ladder (LSPET, 2-stack, 128 input, 2000 Adam steps at 5e-4) bare heads end *above* the loss of all-zero
    heatmaps at 16x16 (8.8 vs 2.7) and the model stays at chance (PCK@0.2 5 %). With the pre-activation BN + ReLU
    (as before the stack's own head, via ``lin``) the coarse losses are at or below the all-zero level within 300
    steps.
    """
    return nn.Sequential(nn.BatchNorm2d(features), nn.ReLU(inplace=False), nn.Conv2d(features, num_joints, 1))


class PoseStack(HourglassStack):
    """One stack of the pose network: the backbone's :class:`~structnet.backbones.hourglass.HourglassStack`
    (hourglass, ``res``, ``lin``, ``merge_features``) with the pose heads: the full-resolution heatmap head
    (``head``), the MSS heads on the inner upsampling levels (``mss_heads.k-1`` reads level k = 1 .. depth-1, the
    backbone tap ``level{k}``, when ``mss``) and, when ``merge``, the 1x1 convolution that re-injects the heatmaps
    (``merge_preds``) into the next stack's input.

    ``forward(x) -> (levels, lin features)`` as the backbone's stack; :meth:`heatmaps` applies the heads.
    """

    def __init__(self, features: int, num_joints: int, depth: int = 4, mss: bool = True, merge: bool = True):
        # read by build_heads(), which the base __init__ calls between lin and merge_features (a plain tuple may be
        # set before nn.Module.__init__)
        self._heads_cfg = (int(features), int(num_joints), int(depth), bool(mss))
        super().__init__(features, depth, merge=merge)
        self.merge_preds = nn.Conv2d(num_joints, features, 1) if merge else None

    def build_heads(self) -> None:
        f, n, depth, mss = self._heads_cfg
        self.head = nn.Conv2d(f, n, 1)
        self.mss_heads = nn.ModuleList(mss_head(f, n) for _ in range(depth - 1)) if mss else None

    def heatmaps(self, levels: List[torch.Tensor], feat: torch.Tensor) -> List[torch.Tensor]:
        """Heatmaps per level, finest first: ``head(lin)`` then the MSS heads on levels 1 .. depth-1."""
        maps = [self.head(feat)]
        if self.mss_heads is not None:
            maps += [h(lv) for h, lv in zip(self.mss_heads, levels[1:len(self.mss_heads) + 1])]
        return maps


class MSRNet(nn.Module):
    """Multi-scale regression network: lin (``in_channels -> features``) then a non-merging
    :class:`PoseStack` (its MSS heads give the multi-scale outputs when ``multiscale``).
    ``forward(x) -> heatmaps per level, finest first``."""

    def __init__(self, in_channels: int, features: int, num_joints: int, depth: int = 4, multiscale: bool = True):
        super().__init__()
        self.inp = lin_block(in_channels, features)
        self.stack = PoseStack(features, num_joints, depth, mss=multiscale, merge=False)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        levels, feat = self.stack(self.inp(x))
        return self.stack.heatmaps(levels, feat)


class PosePartsMixin:
    """What both pose networks share: freezing by part name, the input check and the MSR-net pass. A subclass sets
    ``PARTS`` = ``{"stem": [...], "stacks": [...]}`` (its top-level attribute names), ``msr`` (an MSRNet or None),
    ``msr_input``, ``size_multiple`` and ``_frozen`` (a set)."""

    PARTS: Dict[str, List[str]] = {}

    def _part_names(self, part: str) -> List[str]:
        """Top-level attribute names that make up ``part`` (validated)."""
        if part not in FREEZE_PARTS:
            raise ValueError(f"unknown part {part!r}; valid: {', '.join(FREEZE_PARTS)}")
        if part == "msr" and self.msr is None:
            raise ValueError("part 'msr': this model was built with msr=False")
        mss = self.PARTS["stem"] + self.PARTS["stacks"]
        table = {"stem": self.PARTS["stem"], "stacks": self.PARTS["stacks"], "mss": mss, "msr": ["msr"],
                 "all": mss + (["msr"] if self.msr is not None else [])}
        return list(table[part])

    def _set_trainable(self, part: str, flag: bool):
        names = self._part_names(part)
        for name in names:
            (unfreeze if flag else freeze)(getattr(self, name))
        self._frozen = (self._frozen - set(names)) if flag else (self._frozen | set(names))
        return self

    def freeze(self, part: str):
        """Stop ``part`` learning: ``requires_grad=False`` on its parameters and its BatchNorm layers kept in
        eval mode (running statistics fixed) even under ``train()``. Parts: ``stem``, ``stacks``, ``mss``
        (stem + stacks: the paper's stage 2 fixes the MSS-net), ``msr``, ``all``. When the stem and all stacks
        are frozen they run under ``torch.no_grad()`` (stage 2 backpropagates through MSR-net only)."""
        return self._set_trainable(part, False)

    def unfreeze(self, part: str):
        """Undo :meth:`freeze` for ``part`` (``"all"`` unfreezes everything)."""
        return self._set_trainable(part, True)

    @property
    def frozen(self) -> Tuple[str, ...]:
        """Frozen top-level parts, sorted (e.g. ``("stacks", "stem")`` after ``freeze("mss")``)."""
        return tuple(sorted(self._frozen))

    def _mss_frozen(self) -> bool:
        return set(self._part_names("mss")) <= self._frozen

    def _check_images(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected shape (B, 3, H, W), got {tuple(images.shape)}")
        h, w = images.shape[-2:]
        m = self.size_multiple
        if h % m or w % m or h == 0 or w == 0:
            raise ValueError(f"images: height and width must be positive multiples of {m}, got {h}x{w}")

    def _outputs(self, maps: List[torch.Tensor], stacks: List[Dict[int, torch.Tensor]],
                 extra: Optional[torch.Tensor]) -> Dict[str, object]:
        """The output dict: ``maps`` are the last stack's heatmaps finest first; the MSR-net (if any) reads them
        brought to the finest resolution plus ``extra`` features (``msr_input`` other than ``"heatmaps"``)."""
        msr, final = None, maps[0]
        if self.msr is not None:
            full = final.shape[-2:]
            inp = [final] + [F.interpolate(t, size=full, mode="bilinear", align_corners=False) for t in maps[1:]]
            if self.msr_input != "heatmaps":
                inp.append(extra)
            msr_maps = self.msr(torch.cat(inp, 1))
            msr = {int(t.shape[-2]): t for t in msr_maps}
            final = msr_maps[0]
        return {"stacks": stacks, "msr": msr, "final": final}
