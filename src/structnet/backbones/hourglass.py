"""Stacked hourglass (Newell et al. 2016) as a backbone of the feature contract: ``hourglass``, ``hourglass2``,
``hourglass8``.

The building blocks are the ones of the released ``pose-hg-train/src/models/hg.lua`` (``nModules = 1``), shared with
the 2D pose network (:mod:`structnet.pose2d.model` builds its stem and stacks from this module):

* :class:`Residual`: the pre-activation bottleneck BN-ReLU-conv1x1(C_in -> C_out/2), BN-ReLU-conv3x3(C_out/2),
  BN-ReLU-conv1x1(C_out/2 -> C_out), plus the identity (or a 1x1 convolution when C_in != C_out). All convolutions
  carry a bias, as Torch's ``SpatialConvolution`` does.
* :class:`HourglassStem`: conv7x7 stride 2 (3 -> 64) + BN + ReLU, Residual(64, 128), max-pool 2x2,
  Residual(128, 128), Residual(128, ``features``): stride 4.
* :class:`Hourglass` of ``depth`` levels: at level k an upper branch Residual(f, f) at the current resolution and a
  lower branch max-pool 2x2 -> Residual -> (level k + 1, or one more Residual at the bottom) -> Residual ->
  nearest-neighbour upsampling x2, added to the upper branch.
* :class:`HourglassStack`: hourglass, Residual(f, f), "lin" (conv1x1 + BN + ReLU) and, on every stack but the last,
  the 1x1 convolution ``merge_features`` that re-injects the lin features into the next stack's input:
  ``x_next = x + merge_features(lin)``. (The pose network adds its heatmaps too, through its own
  ``merge_preds``: that is a pose head, not part of the backbone.)

Taps (:class:`HourglassBackbone`), in forward order:

===========  ===========  ===================  =======================================================
tap          channels     stride               what
===========  ===========  ===================  =======================================================
``stem2``    64           2                    conv7x7/2 + BN + ReLU
``stem4``    ``features`` 4                    the stem's output (the first stack's input)
``level{d}`` ``features`` ``4 * 2**d``         the last stack's bottom (encoder end, decoder start)
``level{k}`` ``features`` ``4 * 2**k``         the last stack's decoder output at level k = d-1 .. 0
``lin``      ``features`` 4                    the last stack's lin features (what a heatmap head reads)
===========  ===========  ===================  =======================================================

(d = ``depth``.) The decoder taps are listed from the bottom up, the order in which the network computes them, so
the receptive fields grow along the list (each decoder output contains the previous one) while the strides go down
again: the contract lists taps in forward order with non-decreasing fields, not by stride.

Receptive fields are computed from the layers, following the forward pass with
:class:`~structnet.backbones.receptive_field.GridField`: exact per pixel through the convolutions and pools (with
their padding), the nearest-neighbour upsamplings and the sums of the upper and lower branches. After an
upsampling neighbouring pixels share one coarse pixel, so the field depends on the pixel (e.g. ``hourglass2``'s
``level0``: 1289 or 1353 pixels, in a period of 16 pixels); a tap's ``receptive_field`` is the largest
(``grid_fields[tap].min_size`` the smallest). For ``hourglass2`` the taps' fields are 7, 29, 1097, 1225, 1289,
1353, 1353, 1353: from ``level1`` on the largest field no longer grows, so heads that need strictly increasing
fields (LMSDS/FSDS) take :meth:`~structnet.backbones.base.Backbone.increasing_field_taps` (``stem4, level4,
level3, level2, lin``). The serial recursion (``r += (k - 1) j``) along the longest path would give 1133 .. 1381
here, wrong for every pixel of the decoder taps.

Sizes: ``hourglass2`` = 2 stacks of width 128 (the bundled pose model ``mss_msr_hourglass2_lsp``'s trunk),
``hourglass8`` = 8 x 256 (Newell et al.'s and Ke et al.'s), ``hourglass`` takes ``stacks``, ``features``,
``depth`` (default 2, 128, 4).

Input: RGB in [0, 1], not mean-normalised (``mean = (0, 0, 0)``, ``std = (1, 1, 1)``; the BatchNorm after the first
convolution absorbs any affine normalisation), as the pose network feeds it. Any height and width: the input is
padded at the bottom/right (replicate) to a multiple of ``4 * 2**depth`` and every tap is cropped to
``ceil(H / stride) x ceil(W / stride)``.

Weights: there are no ImageNet weights for the hourglass. ``pretrained=True`` raises a
:class:`~structnet.errors.UserError` saying so; ``pretrained=<path>`` (or ``weights=<path>``) loads a local
``.safetensors`` file holding the trunk's tensors under this module's names (``stem.*``, ``stacks.<i>.hourglass.*``,
``stacks.<i>.res.*``, ``stacks.<i>.lin.*``, ``stacks.<i>.merge_features.*``): a file written from this backbone, or a
structnet pose2d model (:func:`structnet.pose2d.task.save_pose_model`, e.g. the bundled
``structnet/weights/mss_msr_hourglass2_lsp.safetensors`` for ``hourglass2``), whose other tensors (heads, MSR-net)
are ignored. Loaded from a pose model, stack 2 onwards see their input without the pose model's heatmap
re-injection, which is a pose head.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int
from ..errors import UserError
from .base import Backbone, FeatureSpec, register_backbone
from .receptive_field import GridField

__all__ = ["Residual", "Hourglass", "HourglassStem", "HourglassStack", "HourglassBackbone", "lin_block",
           "run_hourglass", "load_hourglass_weights"]

PathLike = Union[str, "os.PathLike[str]"]


def lin_block(cin: int, cout: int) -> nn.Sequential:
    """conv1x1 (with bias) + BN + ReLU: the hourglass's "lin" layer (``.0`` conv, ``.1`` BN, ``.2`` ReLU)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    """Pre-activation bottleneck residual module of the stacked hourglass (``Residual.lua``).

    ``out = conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(relu(bn(x)))))))) + skip(x)`` with widths
    C_in -> C_out/2 -> C_out/2 -> C_out; ``skip`` is the identity when C_in == C_out, else a 1x1 convolution.
    ``cout`` must be even.
    """

    def __init__(self, cin: int, cout: int):
        super().__init__()
        if cin < 1 or cout < 2 or cout % 2:
            raise ValueError(f"Residual: need cin >= 1 and an even cout >= 2, got cin={cin}, cout={cout}")
        mid = cout // 2
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + (x if self.skip is None else self.skip(x))

    def field(self, field_in: GridField) -> GridField:
        """Fields after this block: the longest path conv1 -> conv2 -> conv3 (the skip is the identity or 1x1 and
        conv2 is padded symmetrically, so the path's field holds the skip's)."""
        return field_in.through(self)


class HourglassStem(nn.Sequential):
    """conv7x7/2 (3 -> 64) + BN + ReLU (indices 0-2, tap ``stem2``), Residual(64, 128) (3), max-pool 2x2 (4),
    Residual(128, 128) (5), Residual(128, ``features``) (6): stride 4 (tap ``stem4``). The indices are the parameter
    names (``stem.0.weight`` ...) of the pose models."""

    #: index of the last module of the stride-2 part (the ReLU)
    STRIDE2_END = 2

    def __init__(self, features: int):
        super().__init__(nn.Conv2d(3, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                         Residual(64, 128), nn.MaxPool2d(2, 2), Residual(128, 128), Residual(128, features))

    def forward_taps(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x -> (stride-2 map, stride-4 map)``; the same modules in the same order as ``forward``."""
        s2 = x
        for i, m in enumerate(self):
            x = m(x)
            if i == self.STRIDE2_END:
                s2 = x
        return s2, x

    def fields(self, field_in: Optional[GridField] = None) -> Tuple[GridField, GridField]:
        """Fields ``(stem2, stem4)`` (default input: the image): a serial walk over the modules."""
        f2 = (field_in or GridField.image()).through(*list(self)[: self.STRIDE2_END + 1])
        return f2, f2.through(*list(self)[self.STRIDE2_END + 1:])


class Hourglass(nn.Module):
    """Hourglass of ``depth`` levels and constant width ``features`` (``hg.lua``'s recursive ``hourglass``,
    written as a loop). ``forward`` returns the map of every level, finest first: ``[level 0 (input resolution),
    level 1 (1/2), ..., level depth-1 (1/2**(depth-1)), level depth (the bottom, 1/2**depth)]``; levels 0 .. depth-1
    are the merged outputs (upper + upsampled lower branch) of the upsampling levels, level ``depth`` is the output of
    the extra residual at the lowest resolution, where the decoder starts.

    Parameter names: ``up.k`` (upper branch at level k), ``low1.k`` (after the pool of level k), ``low3.k``
    (before the upsampling back to level k), ``bottom`` (the extra residual at the lowest resolution). ``pool`` and
    ``upsample`` hold no parameters.
    """

    def __init__(self, depth: int, features: int):
        super().__init__()
        if depth < 1:
            raise ValueError(f"Hourglass: depth must be >= 1, got {depth}")
        self.depth = int(depth)
        self.up = nn.ModuleList(Residual(features, features) for _ in range(depth))
        self.low1 = nn.ModuleList(Residual(features, features) for _ in range(depth))
        self.low3 = nn.ModuleList(Residual(features, features) for _ in range(depth))
        self.bottom = Residual(features, features)
        self.pool = nn.MaxPool2d(2, 2)
        self.upsample = nn.Upsample(scale_factor=2.0, mode="nearest")

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        skips = []
        for k in range(self.depth):
            skips.append(self.up[k](x))
            x = self.low1[k](self.pool(x))
        x = self.bottom(x)
        outs: List[torch.Tensor] = [x] * (self.depth + 1)
        for k in reversed(range(self.depth)):
            x = skips[k] + self.upsample(self.low3[k](x))
            outs[k] = x
        return outs

    def fields(self, field_in: GridField) -> List[GridField]:
        """Fields of :meth:`forward`'s maps (same order) for an input of fields ``field_in``, following the
        forward pass: the encoder is a serial walk; at level k the upper branch (``up.k``) and the lower one (pool,
        ``low1.k``, the deeper levels, ``low3.k``, nearest upsampling) are summed (:meth:`GridField.merge`)."""
        factor = int(self.upsample.scale_factor)
        if factor != self.upsample.scale_factor or self.upsample.mode != "nearest":
            raise ValueError("Hourglass.fields: expects nearest-neighbour upsampling by an integer factor")
        x = field_in
        skips = []
        for k in range(self.depth):
            skips.append(self.up[k].field(x))
            x = self.low1[k].field(x.through(self.pool))
        x = self.bottom.field(x)
        outs: List[GridField] = [x] * (self.depth + 1)
        for k in reversed(range(self.depth)):
            x = skips[k].merge(self.low3[k].field(x).upsample(factor))
            outs[k] = x
        return outs


class HourglassStack(nn.Module):
    """One stack: hourglass, Residual (``res``), lin and, when ``merge``, the 1x1 convolution ``merge_features``
    that re-injects the lin features into the next stack's input.

    ``forward(x) -> (levels, lin features)`` with ``levels`` as :meth:`Hourglass.forward` (finest first, the bottom
    last). Subclasses that add heads (the pose network's) create them in :meth:`build_heads`, which runs between
    ``lin`` and ``merge_features`` so that their parameters keep the published order (and the same random
    initialisation for a given seed).
    """

    def __init__(self, features: int, depth: int = 4, merge: bool = True):
        super().__init__()
        self.hourglass = Hourglass(depth, features)
        self.res = Residual(features, features)
        self.lin = lin_block(features, features)
        self.build_heads()
        self.merge_features = nn.Conv2d(features, features, 1) if merge else None

    def build_heads(self) -> None:
        """Hook for subclasses: create modules reading this stack (none here)."""

    def forward(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], torch.Tensor]:
        levels = self.hourglass(x)
        feat = self.lin(self.res(levels[0]))
        return levels, feat

    def fields(self, field_in: GridField) -> Tuple[List[GridField], GridField, GridField]:
        """``(level fields as forward, lin field, next stack's input field)`` for an input of fields ``field_in``
        (the next input is ``x + merge_features(lin)``, whose 1x1 re-injections leave the lin field as it is)."""
        levels = self.hourglass.fields(field_in)
        feat = self.res.field(levels[0]).through(self.lin)
        nxt = field_in
        if self.merge_features is not None:
            nxt = field_in.merge(feat.through(self.merge_features))
        return levels, feat, nxt


#: ``inject(stack index, levels, lin features) -> tensor added to the next stack's input, or None``
Inject = Callable[[int, List[torch.Tensor], torch.Tensor], Optional[torch.Tensor]]


def run_hourglass(stem: HourglassStem, stacks: Sequence[HourglassStack], x: torch.Tensor,
                  inject: Optional[Inject] = None
                  ) -> Tuple[torch.Tensor, torch.Tensor, List[Tuple[List[torch.Tensor], torch.Tensor]]]:
    """The forward walk shared by :class:`HourglassBackbone` and the pose network.

    Returns ``(stem2, stem4, [(levels, lin features) per stack])``. Between stacks the next input is
    ``x + merge_features(lin)`` plus, when ``inject`` is given, ``inject(i, levels, lin)`` (called after every stack,
    the last included, before the merge; ``None`` adds nothing): the pose network computes its heatmap heads there
    and re-injects the heatmaps.
    """
    s2, x = stem.forward_taps(x)
    s4 = x
    outs: List[Tuple[List[torch.Tensor], torch.Tensor]] = []
    for i, st in enumerate(stacks):
        levels, feat = st(x)
        outs.append((levels, feat))
        extra = inject(i, levels, feat) if inject is not None else None
        if st.merge_features is not None:
            nxt = x + st.merge_features(feat)
            x = nxt if extra is None else nxt + extra
    return s2, s4, outs


class HourglassBackbone(Backbone):
    """Stacked hourglass trunk (stem + ``stacks`` stacks of ``depth`` levels, width ``features``); taps and layout
    in the module docstring. ``stack_factory(i, merge)`` builds stack ``i`` (default :class:`HourglassStack`): the
    pose network passes its stacks with heads."""

    mean = (0.0, 0.0, 0.0)
    std = (1.0, 1.0, 1.0)

    def __init__(self, stacks: int = 2, features: int = 128, depth: int = 4,
                 stack_factory: Optional[Callable[[int, bool], HourglassStack]] = None):
        super().__init__()
        self.num_stacks = check_int("hourglass: stacks", stacks, 1)
        self.features = check_int("hourglass: features", features, 2)
        if self.features % 2:
            raise ValueError(f"hourglass: features must be even (the bottleneck halves it), got {features}")
        self.depth = check_int("hourglass: depth", depth, 1)
        make = stack_factory or (lambda i, merge: HourglassStack(self.features, self.depth, merge=merge))
        self.stem = HourglassStem(self.features)
        self.stacks = nn.ModuleList(make(i, i < self.num_stacks - 1) for i in range(self.num_stacks))
        self.feature_specs = self._specs()

    @property
    def size_multiple(self) -> int:
        """The trunk needs heights and widths that are multiples of this (stem stride 4 x the deepest pool)."""
        return 4 * 2 ** self.depth

    def _specs(self) -> List[FeatureSpec]:
        f2, f4 = self.stem.fields()
        x = f4
        for st in self.stacks:
            levels, feat, x = st.fields(x)
        f, d = self.features, self.depth
        maps = [("stem2", self.stem[0].out_channels, f2), ("stem4", f, f4)]
        maps += [(f"level{k}", f, levels[k]) for k in range(d, -1, -1)] + [("lin", f, feat)]
        self.grid_fields = {name: g for name, _, g in maps}
        return [FeatureSpec(name, c, g.stride, g.size) for name, c, g in maps]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"hourglass: expected input (B, 3, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        m = self.size_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        s2, s4, outs = run_hourglass(self.stem, self.stacks, x)
        levels, feat = outs[-1]
        maps = [s2, s4] + [levels[k] for k in range(self.depth, -1, -1)] + [feat]
        out: Dict[str, torch.Tensor] = {}
        for spec, t in zip(self.feature_specs, maps):
            if ph or pw:
                t = t[..., : math.ceil(h / spec.stride), : math.ceil(w / spec.stride)]
            out[spec.name] = t
        return out


# ------------------------------------------------------------------------------------------------ weights
def load_hourglass_weights(model: HourglassBackbone, path: PathLike) -> HourglassBackbone:
    """Load the trunk's tensors from a local ``.safetensors`` file into ``model`` (in place; returns it).

    Every tensor of ``model.state_dict()`` must be in the file under the same name with the same shape; other
    tensors (a pose model's heads and MSR-net) are ignored. Errors are one-line :class:`UserError` s naming the file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"hourglass weights not found: {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            names = set(f.keys())
            own = model.state_dict()
            missing = sorted(k for k in own if k not in names)
            if missing:
                raise UserError(f"hourglass weights {path}: missing {len(missing)} tensors of the trunk (e.g. "
                                f"{', '.join(missing[:3])}); the file must hold stem.* and stacks.<i>.* for "
                                f"stacks={model.num_stacks}, features={model.features}, depth={model.depth}")
            state = {k: f.get_tensor(k) for k in own}
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - one clear line naming the file
        raise UserError(f"hourglass weights {path}: cannot read ({type(e).__name__}: {str(e)[:200]})") from None
    bad = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items() if state[k].shape != v.shape]
    if bad:
        k, a, b = bad[0]
        raise UserError(f"hourglass weights {path}: shape mismatch {k}: file {a} vs model {b} (stacks="
                        f"{model.num_stacks}, features={model.features}, depth={model.depth})")
    model.load_state_dict({k: state[k].to(own[k].dtype) for k in own}, strict=True)
    return model


def _build(pretrained, weights, stacks: int, features: int, depth: int, name: str) -> HourglassBackbone:
    if pretrained is True:
        raise UserError(f"{name}: there are no ImageNet weights for the hourglass; use pretrained=False, or "
                        f"pretrained=/weights= a .safetensors file with its tensors (e.g. a structnet pose2d model "
                        f"such as structnet/weights/mss_msr_hourglass2_lsp.safetensors for hourglass2)")
    if pretrained not in (False, None) and weights is not None and Path(pretrained) != Path(weights):
        raise UserError(f"{name}: give the weights file once (pretrained={pretrained!r} vs weights={weights!r})")
    src = weights if weights is not None else (pretrained if pretrained not in (False, None) else None)
    model = HourglassBackbone(stacks=stacks, features=features, depth=depth)
    if src is not None:
        load_hourglass_weights(model, src)
    return model


@register_backbone
def hourglass(pretrained: Union[bool, PathLike] = False, weights: Optional[PathLike] = None, stacks: int = 2,
              features: int = 128, depth: int = 4) -> HourglassBackbone:
    """Stacked hourglass of any size. ``pretrained``: ``False``, or a ``.safetensors`` path (as ``weights``);
    ``True`` is a :class:`UserError` (no ImageNet weights exist)."""
    return _build(pretrained, weights, stacks, features, depth, "hourglass")


@register_backbone
def hourglass2(pretrained: Union[bool, PathLike] = False, weights: Optional[PathLike] = None) -> HourglassBackbone:
    """2 stacks of width 128, depth 4: the trunk of the bundled pose model ``mss_msr_hourglass2_lsp``."""
    return _build(pretrained, weights, 2, 128, 4, "hourglass2")


@register_backbone
def hourglass8(pretrained: Union[bool, PathLike] = False, weights: Optional[PathLike] = None) -> HourglassBackbone:
    """8 stacks of width 256, depth 4: the paper-size stacked hourglass (Newell et al. 2016, Ke et al. 2018)."""
    return _build(pretrained, weights, 8, 256, 4, "hourglass8")
