"""Skeleton maps (Wan et al. 2017, Sec. 3.1-3.2): coloured sticks between neighbouring joints, a front map and a
back map by depth order, rendered for a whole batch at once.

A stick of width ``w`` covers the pixels whose centre lies within ``w / 2`` of the 2D segment between its two
joints (a capsule). Where sticks overlap, the depth along each stick (linear between its joints' camera depths,
at the point of the segment closest to the pixel) decides: the **front** map shows the colour of the nearest stick
(a z-buffer), the **back** map that of the farthest, "pretending" it occludes the others (the paper's foreground
/ background skeleton maps). Where one stick covers a pixel, both maps show it; background is 0. Colours are the
parts' (:data:`~structnet.pose3d.joints.PART_COLORS`), so a map is 3 channels and the pair 6.

Coordinates are map pixels ``(x, y)`` with pixel centres at integers (pixel ``(0, 0)`` spans ``[-0.5, 0.5]^2``);
:func:`crop_to_map` maps image pixels into a square crop around the person.
"""
from __future__ import annotations

import contextlib
import logging
import time
import warnings
from typing import Sequence, Tuple, Union

import numpy as np
import torch

from .joints import PART_COLORS, STICK_PART, STICKS

__all__ = ["render_skeleton_maps", "compiled_renderer", "COMPILE_AFTER_SECONDS", "person_box", "crop_to_map",
           "map_to_crop", "crop_person"]

#: :func:`compiled_renderer` with ``after_seconds``: how long the plain renderer draws before the compiled one takes
#: over (about what compiling costs, so that a short run never compiles and a long one loses at most this).
COMPILE_AFTER_SECONDS = 30.0

_A = [a for a, _ in STICKS]
_B = [b for _, b in STICKS]


def render_skeleton_maps(joints2d, depth, size: Union[int, Tuple[int, int]], width,
                         colors=None) -> torch.Tensor:
    """Front and back skeleton maps of a batch.

    ``joints2d`` ``(N, 17, 2)`` map pixels, ``depth`` ``(N, 17)`` (camera z, any unit; larger = farther),
    ``size`` the map's ``H`` (square) or ``(H, W)``, ``width`` the stick width in map pixels (a number or ``(N,)``
    per sample). Returns ``(N, 6, H, W)`` float32: channels 0-2 the front map's RGB, 3-5 the back map's. Sticks
    with a non-finite joint are not drawn."""
    j = torch.as_tensor(np.asarray(joints2d, dtype=np.float32) if not torch.is_tensor(joints2d) else joints2d,
                        dtype=torch.float32)
    dev = j.device
    z = torch.as_tensor(np.asarray(depth, dtype=np.float32) if not torch.is_tensor(depth) else depth,
                        dtype=torch.float32, device=dev)
    if j.ndim != 3 or j.shape[1:] != (17, 2) or z.shape != j.shape[:2]:
        raise ValueError(f"joints2d must be (N, 17, 2) and depth (N, 17); got {tuple(j.shape)} and {tuple(z.shape)}")
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    n = j.shape[0]
    half = torch.as_tensor(width, dtype=torch.float32, device=dev).reshape(-1, 1, 1, 1).expand(n, 1, 1, 1) / 2.0
    col = torch.as_tensor(PART_COLORS if colors is None else np.asarray(colors, np.float32),
                          device=dev)[list(STICK_PART)]
    a, b = j[:, _A], j[:, _B]                                   # (N, S, 2)
    za, zb = z[:, _A], z[:, _B]                                 # (N, S)
    ok = torch.isfinite(a).all(-1) & torch.isfinite(b).all(-1) & torch.isfinite(za) & torch.isfinite(zb)
    a, b = torch.nan_to_num(a), torch.nan_to_num(b)
    za, zb = torch.nan_to_num(za), torch.nan_to_num(zb)
    v = b - a
    vv = (v * v).sum(-1).clamp_min(1e-12)[..., None, None]      # (N, S, 1, 1)
    xs = torch.arange(w, dtype=torch.float32, device=dev).view(1, 1, 1, w)
    ys = torch.arange(h, dtype=torch.float32, device=dev).view(1, 1, h, 1)
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]
    vx, vy = v[..., 0, None, None], v[..., 1, None, None]
    t = (((xs - ax) * vx + (ys - ay) * vy) / vv).clamp(0.0, 1.0)  # (N, S, H, W)
    d2 = (xs - ax - t * vx) ** 2 + (ys - ay - t * vy) ** 2
    covered = (d2 <= half * half) & ok[..., None, None]
    zz = za[..., None, None] + t * (zb - za)[..., None, None]
    inf = torch.tensor(float("inf"), device=dev)
    front = torch.where(covered, zz, inf).argmin(dim=1)          # (N, H, W) stick index
    back = torch.where(covered, zz, -inf).argmax(dim=1)
    drawn = covered.any(dim=1, keepdim=True)                      # (N, 1, H, W)
    out = torch.cat([col[front].permute(0, 3, 1, 2), col[back].permute(0, 3, 1, 2)], dim=1)
    return out * drawn


@contextlib.contextmanager
def _quiet_compiler():
    """The compiler's log warnings (e.g. ``recompile_limit`` reached: that call runs uncompiled, same result) and
    Python warnings silenced."""
    loggers = [logging.getLogger(n) for n in ("torch._dynamo", "torch._inductor")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _compiled(function, dynamic: bool = False):
    """``function`` through ``torch.compile`` (quietly), falling back to the plain function for good if compiling
    or running the compiled code fails (no C++ compiler, old torch)."""
    state = {"fn": None, "failed": False}

    def fn(*args):
        if not state["failed"]:
            try:
                with _quiet_compiler():
                    if state["fn"] is None:
                        state["fn"] = torch.compile(function, dynamic=dynamic)
                    return state["fn"](*args)
            except Exception:  # noqa: BLE001 -- any compile/backend failure: same result the slow way
                state["failed"] = True
        return function(*args)

    return fn


def compiled_renderer(dynamic: bool = False, after_seconds: float = 0.0):
    """:func:`render_skeleton_maps` through ``torch.compile`` (``dynamic=True`` for batches of varying size) (one
    fused loop instead of ~20 passes over ``(N, sticks, H, W)``: 0.55 instead of 4 ms per 64 x 64 map pair on one
    core, the same maps), falling back to the plain function if compiling fails. ``after_seconds``: the plain
    function draws until it has spent that long, so that only a run long enough to repay the compile (tens of
    seconds) compiles."""
    inner = _compiled(render_skeleton_maps, dynamic)
    spent = [0.0]

    def fn(joints2d, depth, size, width, colors=None):
        if spent[0] < after_seconds:
            t0 = time.perf_counter()
            out = render_skeleton_maps(joints2d, depth, size, width, colors)
            spent[0] += time.perf_counter() - t0
            return out
        return inner(joints2d, depth, size, width, colors)

    return fn


def person_box(joints2d: np.ndarray, scale: float = 1.2) -> Tuple[np.ndarray, np.ndarray]:
    """Square crop around each person's joints: ``center`` ``(N, 2)`` of the joints' bounding box and ``side``
    ``(N,)`` = ``scale`` x its longer side (NaN joints ignored; the paper's crop scale, 1.0 indoors, multiplies
    this)."""
    j = np.asarray(joints2d, dtype=np.float64)
    lo, hi = np.nanmin(j, axis=-2), np.nanmax(j, axis=-2)
    side = np.maximum((hi - lo).max(axis=-1), 1.0) * float(scale)
    return (lo + hi) / 2.0, side


def crop_to_map(points, center, side, size: int) -> np.ndarray:
    """Image pixels ``(N, K, 2)`` -> map pixels of the ``size`` x ``size`` map of the square crop ``center``,
    ``side`` (the crop's edges land on the map's outer pixel edges, -0.5 and size - 0.5)."""
    p = np.asarray(points, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)[:, None, :]
    s = np.asarray(side, dtype=np.float64)[:, None, None]
    return (p - (c - s / 2.0)) / s * size - 0.5


def map_to_crop(points, center, side, size: int) -> np.ndarray:
    """Inverse of :func:`crop_to_map`."""
    p = np.asarray(points, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)[:, None, :]
    s = np.asarray(side, dtype=np.float64)[:, None, None]
    return (p + 0.5) / size * s + (c - s / 2.0)


def crop_person(image: np.ndarray, center: Sequence[float], side: float, size: int) -> np.ndarray:
    """The square crop ``center`` / ``side`` (image pixels) of an ``(H, W, 3)`` uint8 image resized to ``size``:
    ``(3, size, size)`` float32 in [0, 1]; outside the image is black. Same geometry as
    :func:`~structnet.pose3d.render.crop_to_map` (crop edges on the outer pixel edges)."""
    import cv2

    s = size / float(side)
    x0, y0 = float(center[0]) - side / 2.0, float(center[1]) - side / 2.0
    # output pixel (u, v) centre <- image point ((u + 0.5) / s + x0, ...) (pixel centres at integers)
    m = np.array([[1 / s, 0, x0 + 0.5 / s], [0, 1 / s, y0 + 0.5 / s]], np.float64)
    out = cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out.astype(np.float32).transpose(2, 0, 1) / 255.0
