"""Stacked hourglass (Newell et al. 2016) with the multi-scale supervision (MSS-net) and multi-scale regression
(MSR-net) of Ke et al. 2018 (Sec. 3.1-3.2).

Base network: the ``hourglass`` backbone
-----------------------------------------
The stem and the stacks are the stacked-hourglass trunk of :mod:`structnet.backbones.hourglass` (the released
``pose-hg-train/src/models/hg.lua``, ``nModules = 1``; also ``princeton-vl/pytorch_stacked_hourglass``): the
backbone's :class:`~structnet.backbones.hourglass.HourglassStem` and stacks, built by
:class:`~structnet.backbones.hourglass.HourglassBackbone` and run by its forward walk
(:func:`~structnet.backbones.hourglass.run_hourglass`), so ``hourglass2`` / ``hourglass8`` as a backbone of another
task is this network's trunk. In short:

* :class:`Residual`: pre-activation bottleneck BN-ReLU-conv1x1(C_in -> C_out/2), BN-ReLU-conv3x3(C_out/2),
  BN-ReLU-conv1x1(C_out/2 -> C_out), plus the identity (or a 1x1 convolution when C_in != C_out); convolutions with
  bias, as Torch's ``SpatialConvolution``.
* Stem: conv7x7 stride 2 (3 -> 64) + BN + ReLU, Residual(64, 128), max-pool 2x2, Residual(128, 128),
  Residual(128, ``features``): a 256x256 image becomes a 64x64 map (stride 4).
* :class:`Hourglass` of ``depth`` 4: at every level an upper branch Residual(f, f) at the current resolution and
  a lower branch max-pool 2x2 -> Residual -> (inner hourglass, or one more Residual at the bottom) -> Residual
  -> nearest-neighbour upsampling x2, added to the upper branch. ``3 * depth + 1`` = 13 residual modules. Its
  level outputs are the backbone's taps ``level0`` .. ``level{depth}``.
* After each hourglass: Residual(f, f), "lin" = conv1x1 + BN + ReLU (the backbone's stack), and here
  (:class:`PoseStack`) a 1x1 convolution to the N heatmaps (``head``). Between stacks (intermediate supervision)
  the next stack's input is ``x + conv1x1(lin features) + conv1x1(heatmaps)`` (``merge_features``, part of the
  backbone, and ``merge_preds``, a pose head; both 1x1 convolutions with bias), as in the original.
* Parameter names are those of the models trained before the trunk became a backbone (``stem.*``,
  ``stacks.<i>.{hourglass,res,lin,head,mss_heads,merge_features,merge_preds}.*``, ``msr.*``), in the same order
  and with the same random initialisation for a given seed: the bundled ``mss_msr_hourglass2_lsp`` loads as it is
  and gives the same outputs bit for bit (``tests/test_pose2d_model.py``), and ``hourglass2`` loads its trunk
  from it (``create_backbone("hourglass2", pretrained=<that file>)``).
* Initialisation: PyTorch's default (uniform +-1/sqrt(fan_in) for weights and biases), the same law as
  Torch7's default that the original used; BatchNorm weight 1, bias 0.
* Input: RGB images (B, 3, H, W) with values in [0, 1], not mean-normalised (the original feeds [0, 1] images;
  the BatchNorm after the first convolution absorbs any affine normalisation). H and W must be multiples of
  ``4 * 2**depth`` (64 for the default depth 4); the paper's crops are 256x256.

MSS-net (Sec. 3.1, Eq. 1)
-------------------------
The hourglass's "deconv layers" are its upsampling levels: the merged output (upper + upsampled lower branch)
of every level. For a 64x64 hourglass of depth 4 those are 64x64, 32x32, 16x16 and 8x8 maps (the 4x4 bottom is
not an upsampling output). With ``mss=True`` every stack gets a bare 1x1 convolution (``features -> N``, with
bias) on each inner level's output (32, 16, 8); the full-resolution (64x64) heatmaps are the stack's usual head
(Residual -> lin -> 1x1), so ``mss=False`` is exactly the plain stacked hourglass and MSS adds
``stacks * (depth - 1) * (features * N + N)`` parameters. Only the full-resolution heatmaps are re-injected into
the next stack, as in the original; the coarse heads are supervision taps.

MSR-net (Sec. 3.2)
------------------
Choices the paper leaves open, made here (it gives no layer list):

* Input: the multi-scale heatmaps of the *last* stack, each brought to the full heatmap resolution by bilinear
  interpolation (``align_corners=False``: pixel centres stay aligned, see the geometry below) and concatenated
  finest first (``len(scales) * N`` channels). With ``msr_input="heatmaps+stem"`` (default) the stem's image
  features (the ``features``-channel 64x64 map that enters stack 1) are concatenated too: Sec. 3.2 says "the
  input image with the keypoint heatmaps can be seen as an attention method" and builds on the part-heatmap
  regression of Bulat & Tzimiropoulos [21], whose regression network sees the image together with the
  heatmaps, so the regression network gets image evidence besides the heatmaps. ``"heatmaps"`` feeds the
  heatmaps alone; ``"heatmaps+features"`` feeds the last stack's lin features instead of the stem's.
* Body: lin (conv1x1 + BN + ReLU) to ``msr_features`` channels, then one hourglass of ``msr_depth`` with the
  same head as a stack (Residual -> lin -> 1x1), i.e. a fully convolutional conv-deconv regression network.
* Output: Sec. 3.2 says MSR-net "takes the multi-scale heatmaps as input, and match them to the ground-truth
  keypoints at respective scales", so with ``msr_multiscale=True`` (default) it has MSS-style heads at every
  upsampling level too and returns the same scales as a stack; ``msr_multiscale=False`` returns only the
  full-resolution refined heatmaps. The refined full-resolution heatmaps are a direct regression (no residual
  connection to the input heatmaps: the paper describes none).

Output structure (:meth:`PoseNet.forward`)
------------------------------------------
A dict::

    {"stacks": [ {64: (B, N, 64, 64), 32: (B, N, 32, 32), 16: ..., 8: ...},   # one dict per stack
                 ... ],
     "msr":    {64: (B, N, 64, 64), 32: ..., 16: ..., 8: ...}  or  None,
     "final":  (B, N, 64, 64)}

Keys are the map heights (for a 256x256 input: 64, 32, 16, 8; ``model.map_sizes(H)`` lists them for any
input height), ordered finest first; without MSS a stack's dict holds only the full-resolution key, without
``msr_multiscale`` so does ``"msr"``. ``"final"`` is what inference decodes: the MSR-net's full-resolution output
when MSR is on, else the last stack's full-resolution heatmaps (the same tensor object).

Geometry
--------
Heatmap arrays are (row = y, column = x), origin top-left, pixel centres at integer coordinates. A level-k map
(height ``H / 4 / 2**k``) comes from 2x2 max-pools and nearest-neighbour upsampling, so its pixel i covers the
full-resolution pixels ``[2**k i, 2**k (i + 1))`` and its centre is at ``(i + 0.5) * 2**k - 0.5`` in
full-resolution coordinates; bilinear ``align_corners=False`` interpolation and ground-truth heatmaps built with
that mapping agree with it. Relating heatmap pixels to image pixels is the target codec's business (the stem's
7x7/2 convolution and 2x2 pool put the centre of full-resolution pixel v's receptive field at image
coordinate ``4 v + 1``; the network learns whatever mapping the targets encode).

Training stages (Sec. 4.1): stage 1 trains the stacks (``msr=False``, or MSR-net built and ``freeze("msr")``), stage 2 trains
MSR-net with the MSS-net fixed (``model.freeze("mss")``: the stem and stacks stop learning, their BatchNorm
statistics stop updating, and they run without autograd), stage 3 trains everything (``model.unfreeze("all")``).
"""
from __future__ import annotations

import contextlib
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.modules import freeze, unfreeze
from ..backbones.hourglass import (Hourglass, HourglassBackbone, HourglassStack, Residual, lin_block,
                                   run_hourglass)

__all__ = ["Residual", "Hourglass", "PoseStack", "MSRNet", "PoseNet", "build_pose_model", "MSR_INPUTS",
           "FREEZE_PARTS", "ARCHS", "PosePartsMixin"]

#: What MSR-net reads besides the last stack's multi-scale heatmaps (see the module docstring).
MSR_INPUTS = ("heatmaps+stem", "heatmaps", "heatmaps+features")
#: Pose network architectures of ``model.arch``: the stacked hourglass, or MSS / MSR on a pretrained encoder.
ARCHS = ("hourglass", "encoder")
#: Names accepted by :meth:`PoseNet.freeze` / :meth:`PoseNet.unfreeze`.
FREEZE_PARTS = ("stem", "stacks", "mss", "msr", "all")


def _mss_head(features: int, num_joints: int) -> nn.Sequential:
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
        self.mss_heads = nn.ModuleList(_mss_head(f, n) for _ in range(depth - 1)) if mss else None

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


def _check_int(name: str, v, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


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


class PoseNet(PosePartsMixin, nn.Module):
    """Stacked hourglass with optional MSS-net heads and MSR-net (see the module docstring for the layout,
    the output structure and the geometry). Build it with :func:`build_pose_model`."""

    def __init__(self, num_joints: int, stacks: int = 2, features: int = 256, depth: int = 4, mss: bool = True,
                 msr: bool = True, msr_input: str = "heatmaps+stem", msr_features: Optional[int] = None,
                 msr_depth: int = 4, msr_multiscale: bool = True):
        super().__init__()
        self.num_joints = _check_int("num_joints", num_joints, 1)
        self.num_stacks = _check_int("stacks", stacks, 1)
        self.features = _check_int("features", features, 2)
        if self.features % 2:
            raise ValueError(f"features must be even (the bottleneck halves it), got {features}")
        self.depth = _check_int("depth", depth, 1)
        self.mss, self.msr_on = bool(mss), bool(msr)
        if msr_input not in MSR_INPUTS:
            raise ValueError(f"unknown msr_input {msr_input!r}; valid: {', '.join(MSR_INPUTS)}")
        self.msr_input = msr_input
        self.msr_features = self.features if msr_features is None else _check_int("msr_features", msr_features, 2)
        if self.msr_features % 2:
            raise ValueError(f"msr_features must be even (the bottleneck halves it), got {msr_features}")
        self.msr_depth = _check_int("msr_depth", msr_depth, 1)
        self.msr_multiscale = bool(msr_multiscale)
        f, n = self.features, self.num_joints

        # The trunk is the hourglass backbone with pose stacks; its stem and stacks become this model's ``stem`` and
        # ``stacks`` (the published parameter names), its tap specs are kept in ``feature_specs``.
        trunk = HourglassBackbone(self.num_stacks, f, self.depth,
                                  stack_factory=lambda i, merge: PoseStack(f, n, self.depth, mss=self.mss, merge=merge))
        self.stem = trunk.stem
        self.stacks = trunk.stacks
        self.feature_specs = trunk.feature_specs
        self.msr: Optional[MSRNet] = None
        if self.msr_on:
            n_scales = self.depth if self.mss else 1
            extra = 0 if msr_input == "heatmaps" else f
            self.msr = MSRNet(n_scales * n + extra, self.msr_features, n, self.msr_depth, self.msr_multiscale)
        self._frozen: set = set()

    PARTS = {"stem": ["stem"], "stacks": ["stacks"]}

    # ------------------------------------------------------------------ geometry
    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this (stem stride 4 times the deepest pooling)."""
        return 4 * 2 ** max(self.depth, self.msr_depth if self.msr_on else 0)

    def map_sizes(self, height: int = 256) -> Tuple[int, ...]:
        """Keys of a stack's output dict for an input of this height, finest first (256 -> (64, 32, 16, 8))."""
        h = int(height) // 4
        return tuple(h >> k for k in range(self.depth if self.mss else 1))

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor) -> Dict[str, object]:
        self._check_images(images)
        no_grad = self._mss_frozen()
        stack_maps: List[List[torch.Tensor]] = []

        def heads(i: int, levels: List[torch.Tensor], feat: torch.Tensor) -> Optional[torch.Tensor]:
            st = self.stacks[i]
            maps = st.heatmaps(levels, feat)
            stack_maps.append(maps)
            return st.merge_preds(maps[0]) if st.merge_preds is not None else None

        with torch.no_grad() if no_grad else contextlib.nullcontext():
            _, stem, outs = run_hourglass(self.stem, self.stacks, images, inject=heads)
        stacks = [{int(t.shape[-2]): t for t in maps} for maps in stack_maps]
        extra = stem if self.msr_input == "heatmaps+stem" else outs[-1][1]
        return self._outputs(stack_maps[-1], stacks, extra)

    def config(self) -> Dict[str, object]:
        """The architecture as :func:`build_pose_model` keyword arguments (JSON-safe)."""
        return {"num_joints": self.num_joints, "stacks": self.num_stacks, "features": self.features,
                "depth": self.depth, "mss": self.mss, "msr": self.msr_on, "msr_input": self.msr_input,
                "msr_features": self.msr_features, "msr_depth": self.msr_depth,
                "msr_multiscale": self.msr_multiscale}


def build_pose_model(num_joints: int, stacks: int = 2, features: int = 256, depth: int = 4, mss: bool = True,
                     msr: bool = True, msr_input: str = "heatmaps+stem", msr_features: Optional[int] = None,
                     msr_depth: int = 4, msr_multiscale: bool = True, freeze: Iterable[str] = (),
                     arch: str = "hourglass", backbone: str = "efficientnet_lite0",
                     pretrained: bool = False, head_std: float = 0.001) -> nn.Module:
    """Factory used by configs and the CLI.

    Published settings: ``stacks=8`` (paper Sec. 4.1; 2 is the CPU-budget default here), ``features=256``,
    ``depth=4`` (Newell et al.). ``mss=False, msr=False`` is the plain stacked hourglass (the ablation
    baseline). ``msr_*`` are this implementation's choices (module docstring); ``msr_features=None`` means
    ``features``. ``freeze`` names parts to freeze right away (e.g. ``["mss"]`` for training stage 2).

    ``arch="encoder"``: the MSS / MSR heads on a pretrained ``backbone`` with an upsampling decoder
    (:class:`~structnet.pose2d.encoder.EncoderPoseNet`; ``stacks`` is ignored, ``features`` is the decoder width,
    ``depth`` the number of decoder levels, ``pretrained`` loads the backbone's ImageNet weights).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown pose model arch {arch!r}; valid: {', '.join(ARCHS)}")
    if arch == "encoder":
        from .encoder import EncoderPoseNet

        net = EncoderPoseNet(num_joints, backbone=backbone, pretrained=pretrained, features=features, depth=depth,
                             mss=mss, msr=msr, msr_input=msr_input, msr_features=msr_features, msr_depth=msr_depth,
                             msr_multiscale=msr_multiscale, head_std=head_std)
        for part in ([freeze] if isinstance(freeze, str) else freeze):
            net.freeze(part)
        return net
    net = PoseNet(num_joints, stacks=stacks, features=features, depth=depth, mss=mss, msr=msr, msr_input=msr_input,
                  msr_features=msr_features, msr_depth=msr_depth, msr_multiscale=msr_multiscale)
    if isinstance(freeze, str):
        freeze = [freeze]
    for part in freeze:
        net.freeze(part)
    return net
