"""Receptive fields and strides computed from the layers, never typed in.

A layer that moves the sampling grid is described by ``(kernel, stride, dilation)`` (pixels of its
own input). Walking the layers in forward order with the standard recursion (``r`` the receptive
field in input pixels, ``j`` the jump = total stride so far, both starting at 1)::

    r += (k - 1) * d * j
    j *= s

gives the theoretical receptive field and stride after each layer. Padding (symmetric, ceil-mode or
TensorFlow "same") shifts where a field lies but not its size, so it is ignored. Pointwise layers
(1x1 convs, norms, activations) leave ``r`` and ``j`` unchanged. On a branching block (residual
add) the walk follows every conv of the block in turn, which is the field of the longest path.

Backbones use :func:`module_layers` to read ``kernel_size``/``stride``/``dilation`` off their own
``Conv2d``/``MaxPool2d``/``AvgPool2d`` modules (in registration order, which the backbones in this
package keep equal to forward order) and :func:`tap_fields` to get the field at the end of each
segment of modules between two taps.
"""
from __future__ import annotations

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
    included), in registration order. Pooling layers have dilation 1 unless they say otherwise."""
    layers: List[Layer] = []
    for name, m in module.named_modules():
        if not isinstance(m, _GRID_MODULES):
            continue
        where = f"module {name or type(module).__name__!r} ({type(m).__name__})"
        k = _square(m.kernel_size, "kernel_size", where)
        stride = m.stride if m.stride is not None else m.kernel_size  # pools: stride None means kernel_size
        s = _square(stride, "stride", where)
        d = _square(getattr(m, "dilation", 1), "dilation", where)
        layers.append((k, s, d))
    return layers


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
