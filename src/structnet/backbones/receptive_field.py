"""Receptive fields and strides computed from the layers, never typed in.

A layer that moves the sampling grid is described by ``(kernel, stride, dilation)`` (pixels of its
own input). Walking the layers in forward order with the standard recursion (``r`` the receptive
field in input pixels, ``j`` the jump = total stride so far, both starting at 1)::

    r += (k - 1) * d * j
    j *= s

gives the theoretical receptive field and stride after each layer. Padding (symmetric, ceil-mode or
TensorFlow "same") shifts where a field lies but not its size, so it is ignored. Pointwise layers
(1x1 convs, norms, activations) leave ``r`` and ``j`` unchanged. On a branching block (residual
add) the walk follows every conv of the block in turn, which is the field of the longest path (exact when the
other branch is the identity or a 1x1 convolution and the convs are padded symmetrically).

Encoder-decoders (the hourglass) need more: nearest-neighbour upsampling makes neighbouring pixels share one
coarse pixel, so the field is no longer the same for every pixel of a map (pixel ``i + 1``'s field is not
pixel ``i``'s shifted by the stride), and a sum of an upper and a lower branch has a field that depends on
where the two branches' fields lie (padding). :class:`GridField` computes these exactly, in one dimension
(square layers act alike on rows and columns): the input-pixel interval ``[lo, hi]`` that each pixel of a map
depends on, which is periodic in the pixel index, through convolutions and pools (with their padding),
nearest-neighbour upsampling (``floor(o / f)``) and sums of branches (the hull of the branches' intervals,
pixel by pixel). A tap's receptive field is the largest interval over its pixels (:attr:`GridField.size`;
:attr:`GridField.min_size` is the smallest); for a plain chain of layers every pixel has the same field and it
equals the recursion above. ``tests/test_backbone_hourglass.py`` checks both against the support of the input
gradient of small hourglasses, pixel by pixel over a period.

Backbones use :func:`module_layers` to read ``kernel_size``/``stride``/``dilation`` off their own
``Conv2d``/``MaxPool2d``/``AvgPool2d`` modules (in registration order, which the backbones in this
package keep equal to forward order) and :func:`tap_fields` to get the field at the end of each
segment of modules between two taps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple, Union

from torch import nn

IntOrPair = Union[int, Tuple[int, int], Sequence[int]]
Layer = Tuple[int, int, int]  # (kernel, stride, dilation), pixels

_GRID_MODULES = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _square(v: IntOrPair, what: str, where: str) -> int:
    if isinstance(v, int):
        out = v
    else:
        vals = tuple(int(x) for x in v)
        if len(vals) == 0 or any(x != vals[0] for x in vals):
            raise ValueError(f"{where}: {what}={tuple(v)} is not square; receptive fields here are for square layers")
        out = vals[0]
    if out < 1:
        raise ValueError(f"{where}: {what}={v} must be >= 1")
    return out


def receptive_fields(layers: Iterable[Sequence[IntOrPair]]) -> List[Tuple[int, int]]:
    """Receptive field and total stride after each layer.

    layers: iterable of ``(kernel, stride, dilation)`` (or ``(kernel, stride)``, dilation 1); each entry
    an int or a square pair. Returns ``[(rf, stride), ...]`` in input pixels, one per layer.

    >>> receptive_fields([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)])
    [(3, 1), (5, 1), (6, 2), (10, 2)]
    """
    r, j = 1, 1
    out: List[Tuple[int, int]] = []
    for i, layer in enumerate(layers):
        layer = tuple(layer)
        if len(layer) not in (2, 3):
            raise ValueError(f"layer {i}: expected (kernel, stride[, dilation]), got {layer!r}")
        where = f"layer {i}"
        k = _square(layer[0], "kernel", where)
        s = _square(layer[1], "stride", where)
        d = _square(layer[2], "dilation", where) if len(layer) == 3 else 1
        r += (k - 1) * d * j
        j *= s
        out.append((r, j))
    return out


def module_layers(module: nn.Module) -> List[Layer]:
    """``(kernel, stride, dilation)`` of every Conv2d / MaxPool2d / AvgPool2d inside ``module`` (itself
    included), in registration order. Pooling layers have dilation 1 unless they say otherwise. A module holding
    an ``nn.Upsample`` is refused: a serial walk cannot cross one (use :class:`GridField`)."""
    return [(k, s, d) for _, _, k, s, d in _grid_layers(module, "a serial walk cannot cross it; compute its "
                                                                 "fields with GridField")]


def _grid_layers(module: nn.Module, upsample_hint: str):
    """``(layer, where, kernel, stride, dilation)`` of every Conv2d / MaxPool2d / AvgPool2d in ``module``, in
    registration order; ValueError (with ``upsample_hint``) at an ``nn.Upsample``."""
    for name, m in module.named_modules():
        if isinstance(m, nn.Upsample):
            raise ValueError(f"module {name or type(module).__name__!r} holds an nn.Upsample: {upsample_hint}")
        if not isinstance(m, _GRID_MODULES):
            continue
        where = f"module {name or type(module).__name__!r} ({type(m).__name__})"
        k = _square(m.kernel_size, "kernel_size", where)
        stride = m.stride if m.stride is not None else m.kernel_size  # pools: stride None means kernel_size
        yield m, where, k, _square(stride, "stride", where), _square(getattr(m, "dilation", 1), "dilation", where)


def tap_fields(segments: Sequence[Union[nn.Module, Sequence[nn.Module]]]) -> List[Tuple[int, int]]:
    """Receptive field and stride at the end of each segment.

    segments: segment ``i`` holds the modules run between tap ``i - 1`` and tap ``i`` (one module or a
    sequence of modules, in forward order). Returns ``[(rf, stride), ...]``, one per segment, in input
    pixels. A segment without grid-moving layers repeats the previous value.
    """
    layers: List[Layer] = []
    ends: List[int] = []
    for seg in segments:
        mods = [seg] if isinstance(seg, nn.Module) else list(seg)
        for m in mods:
            layers.extend(module_layers(m))
        ends.append(len(layers))
    fields = receptive_fields(layers)
    return [fields[e - 1] if e > 0 else (1, 1) for e in ends]


@dataclass(frozen=True)
class GridField:
    """Exact receptive fields of every pixel of a feature map, in one dimension.

    Pixel ``i`` of the map (a map of stride ``stride`` w.r.t. the input) depends on the input pixels
    ``[lo(i), hi(i)]`` (hull), with ``lo(i + p) = lo(i) + p * stride`` for the period ``p = len(lo)``; ``lo``/``hi``
    hold one period. Input pixel indices are absolute (the input's pixel 0 is index 0), on an unbounded plane: the
    image border (zero or replicate padding) is ignored, as in the theoretical receptive field.

    >>> f = GridField.image().conv(3, padding=1).conv(2, stride=2).conv(3, padding=1)
    >>> (f.size, f.stride), receptive_fields([(3, 1), (2, 2), (3, 1)])[-1]
    ((10, 2), (10, 2))
    """

    stride: int
    lo: Tuple[int, ...]
    hi: Tuple[int, ...]

    def __post_init__(self):
        if self.stride < 1 or not self.lo or len(self.lo) != len(self.hi):
            raise ValueError(f"GridField: bad stride {self.stride} or bounds {self.lo}, {self.hi}")

    @classmethod
    def image(cls) -> "GridField":
        """The input itself: pixel i depends on pixel i."""
        return cls(1, (0,), (0,))

    @property
    def period(self) -> int:
        return len(self.lo)

    def bounds(self, i: int) -> Tuple[int, int]:
        """``(lo, hi)`` of pixel ``i`` (any integer)."""
        q, r = divmod(int(i), self.period)
        shift = q * self.period * self.stride
        return self.lo[r] + shift, self.hi[r] + shift

    @property
    def sizes(self) -> Tuple[int, ...]:
        """Field size of each pixel of one period."""
        return tuple(h - l + 1 for l, h in zip(self.lo, self.hi))

    @property
    def size(self) -> int:
        """The receptive field: the largest field of any pixel."""
        return max(self.sizes)

    @property
    def min_size(self) -> int:
        """The smallest field of any pixel (equal to :attr:`size` when every pixel sees as much)."""
        return min(self.sizes)

    def conv(self, kernel: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> "GridField":
        """A convolution or pool: output pixel o reads pixels ``o * stride - padding + t * dilation``,
        ``t = 0 .. kernel - 1``."""
        for v, what, low in ((kernel, "kernel", 1), (stride, "stride", 1), (dilation, "dilation", 1),
                             (padding, "padding", 0)):
            if isinstance(v, bool) or int(v) != v or v < low:
                raise ValueError(f"GridField.conv: {what} must be an integer >= {low}, got {v!r}")
        p = self.period
        period = p // math.gcd(p, stride)
        lo, hi = [], []
        for o in range(period):
            b = [self.bounds(o * stride - padding + t * dilation) for t in range(kernel)]
            lo.append(min(x for x, _ in b))
            hi.append(max(x for _, x in b))
        return GridField(self.stride * stride, tuple(lo), tuple(hi))

    def upsample(self, factor: int) -> "GridField":
        """Nearest-neighbour upsampling by the integer ``factor``: output pixel o copies pixel ``floor(o / factor)``
        (PyTorch's ``mode="nearest"``). The stride must be divisible by ``factor``."""
        if isinstance(factor, bool) or int(factor) != factor or factor < 1:
            raise ValueError(f"GridField.upsample: factor must be an integer >= 1, got {factor!r}")
        factor = int(factor)
        if self.stride % factor:
            raise ValueError(f"GridField.upsample: stride {self.stride} is not divisible by {factor}")
        b = [self.bounds(o // factor) for o in range(self.period * factor)]
        return GridField(self.stride // factor, tuple(x for x, _ in b), tuple(x for _, x in b))

    def merge(self, *others: "GridField") -> "GridField":
        """Sum (or concatenation) of branches on the same grid: pixel by pixel, the hull of the branches' fields."""
        fields = (self,) + others
        if len({f.stride for f in fields}) != 1:
            raise ValueError(f"GridField.merge: branches on different grids (strides {[f.stride for f in fields]})")
        period = 1
        for f in fields:
            period = period * f.period // math.gcd(period, f.period)
        b = [[f.bounds(o) for f in fields] for o in range(period)]
        return GridField(self.stride, tuple(min(x for x, _ in bo) for bo in b), tuple(max(x for _, x in bo) for bo in b))

    def through(self, *modules: nn.Module) -> "GridField":
        """Walk the Conv2d / MaxPool2d / AvgPool2d layers of ``modules`` in registration order (as
        :func:`module_layers`; so a residual block's convs are walked in turn: its longest path), with their
        symmetric padding."""
        f = self
        for module in modules:
            for m, where, k, s, d in _grid_layers(module, "GridField.through cannot cross it; walk its branches "
                                                          "with upsample() and merge()"):
                pad = m.padding
                if isinstance(pad, str):
                    raise ValueError(f"{where}: padding={pad!r}; GridField needs explicit integer padding")
                pad = pad if isinstance(pad, int) else tuple(int(v) for v in pad)
                if not isinstance(pad, int):
                    if any(v != pad[0] for v in pad):
                        raise ValueError(f"{where}: padding={pad} is not square")
                    pad = pad[0]
                f = f.conv(k, s, d, pad)
        return f
