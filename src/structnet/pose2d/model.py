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
from torch import nn

from ..backbones.hourglass import Hourglass, HourglassBackbone, Residual, run_hourglass
from ..checks import check_int
from .heads import MSR_INPUTS, MSRNet, PosePartsMixin, PoseStack

__all__ = ["Residual", "Hourglass", "PoseNet", "build_pose_model", "ARCHS"]

#: Pose network architectures of ``model.arch``: the stacked hourglass, or MSS / MSR on a pretrained encoder.
ARCHS = ("hourglass", "encoder")


class PoseNet(PosePartsMixin, nn.Module):
    """Stacked hourglass with optional MSS-net heads and MSR-net (see the module docstring for the layout,
    the output structure and the geometry). Build it with :func:`build_pose_model`."""

    def __init__(self, num_joints: int, stacks: int = 2, features: int = 256, depth: int = 4, mss: bool = True,
                 msr: bool = True, msr_input: str = "heatmaps+stem", msr_features: Optional[int] = None,
                 msr_depth: int = 4, msr_multiscale: bool = True):
        super().__init__()
        self.num_joints = check_int("num_joints", num_joints, 1)
        self.num_stacks = check_int("stacks", stacks, 1)
        self.features = check_int("features", features, 2)
        if self.features % 2:
            raise ValueError(f"features must be even (the bottleneck halves it), got {features}")
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
