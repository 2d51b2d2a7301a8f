"""Skeleton post-processing shared by prediction and evaluation: NMS, thinning, binarisation, and the resizing of
post-processed maps from the network's resolution to the input's.

* :func:`skeleton_nms`: skeval's ``nms.m`` (Dollar's ``convTri`` + ``gradient2`` + ``edgesNms``, r = 1, s = 5,
  m = 1.01);
* :func:`thin` (MATLAB ``bwmorph(.., 'thin', Inf)``), :func:`clean` (``bwmorph 'clean'``), :func:`binarize_thin`
  (``clean(thin(map >= t))``, one threshold of the protocol), :func:`thin_clean_levels` (the same for all the
  protocol's thresholds at once, bit-sliced: what the evaluation uses);
* :func:`thin_skeleton`: a skeleton map -> one-pixel-wide binary skeleton at one threshold (what ``predict`` writes);
* :func:`upscale_thin`, :func:`resize_nearest`: bring maps computed at the network's resolution to the input size
  (thin lines stay one pixel wide; labels and scales are not interpolated).

The evaluation protocol itself (thresholds, matching, ODS/OIS/AP) is in :mod:`structnet.skeleton.metrics`.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ["binarize_thin", "clean", "conv_tri", "resize_nearest", "skeleton_nms", "thin", "thin_clean_levels",
           "thin_skeleton", "upscale_thin"]

# ----------------------------------------------------------------------------------------------------------------
# NMS (Dollar's convTri + gradient2 + edgesNms semantics)
# ----------------------------------------------------------------------------------------------------------------


def conv_tri(image: np.ndarray, radius: float = 4) -> np.ndarray:
    """Dollar's ``convTri``: separable triangle filter, symmetric (edge-repeating) padding.

    ``image`` (H, W) float -> float32 (H, W).  Integer ``radius`` >= 1 uses the kernel
    ``[1 .. r+1 .. 1] / (r+1)^2``; 0 < radius <= 1 uses ``[1 p 1] / (2 + p)``, ``p = 12/r/(r+2) - 2``.
    """
    img = np.ascontiguousarray(image, dtype=np.float32)
    if radius <= 0:
        return img.copy()
    if radius <= 1:
        p = 12.0 / radius / (radius + 2) - 2
        k = np.array([1.0, p, 1.0]) / (2 + p)
    else:
        if float(radius) != int(radius):
            raise ValueError(f"conv_tri: radius must be an integer when > 1 (got {radius})")
        r = int(radius)
        k = np.concatenate([np.arange(1, r + 2), np.arange(r, 0, -1)]).astype(np.float64) / (r + 1) ** 2
    k = k.astype(np.float32)
    return cv2.sepFilter2D(img, cv2.CV_32F, k, k, borderType=cv2.BORDER_REFLECT)


def _gradient2(a: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """MATLAB ``gradient`` / Dollar ``gradient2``: central differences inside, one-sided at the border.
    Returns (Gx along columns, Gy along rows); a size-1 axis gives a zero gradient."""
    gx = np.gradient(a, axis=1) if a.shape[1] > 1 else np.zeros_like(a)
    gy = np.gradient(a, axis=0) if a.shape[0] > 1 else np.zeros_like(a)
    return gx.astype(np.float32, copy=False), gy.astype(np.float32, copy=False)


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """edgesNms' ``interp``: coordinates clamped to [0, w-1.001] x [0, h-1.001], then bilinear (float32)."""
    h, w = img.shape
    x = np.clip(x, 0, max(w - 1.001, 0)).astype(np.float32)
    y = np.clip(y, 0, max(h - 1.001, 0)).astype(np.float32)
    x0 = x.astype(np.int64)
    y0 = y.astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    dx0 = x - x0
    dy0 = y - y0
    dx1 = np.float32(1) - dx0
    dy1 = np.float32(1) - dy0
    return (img[y0, x0] * dx1 * dy1 + img[y0, x1] * dx0 * dy1
            + img[y1, x0] * dx1 * dy0 + img[y1, x1] * dx0 * dy0)


def skeleton_nms(pmap: np.ndarray, radius: float = 4, r: int = 1, s: int = 5, m: float = 1.01) -> np.ndarray:
    """Non-maximum suppression of a skeleton (ridge) map, as skeval's ``nms.m`` (Dollar's edge NMS).

    ``pmap`` (H, W) float -> float32 (H, W).  Orientation ``O = mod(atan(Oyy*sign(-Oxy)/(Oxx+1e-5)), pi)`` from
    the second derivatives (``gradient2``) of ``conv_tri(pmap, radius)``; a nonzero pixel ``e`` is zeroed when
    ``e*m`` is smaller than the bilinearly interpolated value at ``+-d`` (d = 1..r pixels) along direction
    ``(cos O, sin O)`` (x = column, y = row) of the *unsuppressed* map; finally values within ``s`` pixels of the
    border are multiplied by ``dist/s`` (dist 0 at the outermost row/column), with ``s <= min(H, W)//2``.
    Undefined orientations (NaN) never suppress.
    """
    e0 = np.asarray(pmap, dtype=np.float32)
    if e0.ndim != 2:
        raise ValueError(f"skeleton_nms: pmap must be 2-D (H, W), got shape {e0.shape}")
    h, w = e0.shape
    if h == 0 or w == 0:
        return e0.copy()
    sm = conv_tri(e0, radius)
    ox, oy = _gradient2(sm)
    oxx, _ = _gradient2(ox)
    oxy, oyy = _gradient2(oy)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = np.mod(np.arctan(oyy * np.sign(-oxy) / (oxx + np.float32(1e-5))), np.float32(np.pi))
    out = e0.copy()
    ys, xs = np.nonzero(e0)
    if len(ys):
        oo = o[ys, xs]
        co, so = np.cos(oo), np.sin(oo)
        e = e0[ys, xs] * np.float32(m)
        kill = np.zeros(len(ys), bool)
        xf, yf = xs.astype(np.float32), ys.astype(np.float32)
        for d in range(-r, r + 1):
            if d == 0:
                continue
            with np.errstate(invalid="ignore"):
                e1 = _bilinear(e0, xf + np.float32(d) * co, yf + np.float32(d) * so)
                kill |= e < e1
        out[ys[kill], xs[kill]] = 0
    s = int(min(s, w // 2, h // 2))
    if s > 0:
        ramp = np.arange(s, dtype=np.float32) / np.float32(s)
        colf = np.ones(w, np.float32)
        colf[:s] = ramp
        colf[w - s:] = ramp[::-1]
        rowf = np.ones(h, np.float32)
        rowf[:s] = ramp
        rowf[h - s:] = ramp[::-1]
        out *= colf[None, :]
        out *= rowf[:, None]
    return out


# ----------------------------------------------------------------------------------------------------------------
# thinning (MATLAB bwmorph 'thin' Inf) and 'clean'
# ----------------------------------------------------------------------------------------------------------------

# neighbour x_i (Guo & Hall / Lam-Lee-Suen numbering, counter-clockwise from East) -> bit i-1
_NB_KERNEL = np.array([[8, 4, 2], [16, 0, 1], [32, 64, 128]], dtype=np.float32)


def _thin_luts() -> Tuple[np.ndarray, np.ndarray]:
    """Deletion tables of the two sub-iterations of Guo & Hall's algorithm A1 (as given by Lam, Lee & Suen 1992,
    p. 879, which MATLAB's ``bwmorph 'thin'`` cites): delete p when G1 and G2 hold and G3 (first sub-iteration)
    resp. G3' (second) holds."""
    code = np.arange(256)
    x = [None] + [((code >> (i - 1)) & 1).astype(bool) for i in range(1, 9)]  # x[1..8]
    x.append(x[1])                                                             # x9 = x1
    # G1: exactly one i in 1..4 with x_{2i-1} = 0 and (x_{2i} or x_{2i+1})
    xh = sum((~x[2 * i - 1] & (x[2 * i] | x[2 * i + 1])).astype(int) for i in range(1, 5))
    g1 = xh == 1
    n1 = sum((x[2 * k - 1] | x[2 * k]).astype(int) for k in range(1, 5))
    n2 = sum((x[2 * k] | x[2 * k + 1]).astype(int) for k in range(1, 5))
    g2 = (np.minimum(n1, n2) >= 2) & (np.minimum(n1, n2) <= 3)
    g3 = ~((x[2] | x[3] | ~x[8]) & x[1])
    g3p = ~((x[6] | x[7] | ~x[4]) & x[5])
    return (g1 & g2 & g3).astype(np.uint8), (g1 & g2 & g3p).astype(np.uint8)


_LUT1, _LUT2 = _thin_luts()
_CLEAN_KERNEL = np.ones((3, 3), np.float32)
_CLEAN_KERNEL[1, 1] = 0


def _neigh_code(b: np.ndarray) -> np.ndarray:
    return cv2.filter2D(b, cv2.CV_8U, _NB_KERNEL, borderType=cv2.BORDER_CONSTANT)


def thin(binary: np.ndarray, max_iter: Optional[int] = None) -> np.ndarray:
    """MATLAB ``bwmorph(binary, 'thin', Inf)``: parallel two-sub-iteration thinning (Guo & Hall A1), outside of the
    image counts as background.  Same algorithm and result as ``skimage.morphology.thin`` (tested), faster.
    ``binary`` (H, W) bool -> bool (H, W)."""
    b = np.ascontiguousarray(binary, dtype=bool).view(np.uint8).copy()
    if b.ndim != 2:
        raise ValueError(f"thin: expected a 2-D map, got shape {b.shape}")
    if b.size == 0:
        return b.astype(bool)
    it = 0
    while max_iter is None or it < max_iter:
        changed = False
        for lut in (_LUT1, _LUT2):
            dele = cv2.LUT(_neigh_code(b), lut) & b
            if dele.any():
                changed = True
                b ^= dele
        it += 1
        if not changed:
            break
    return b.view(bool)


# Bit-sliced thinning of nested binary maps.  The evaluation thins ``map >= t`` for up to 100 thresholds t; those
# maps are nested, and each pixel's membership in all of them fits in a few 64-bit words (bit j = "in map j").  The
# deletion rule of a sub-iteration is then evaluated as bitwise logic on the neighbours' words: one pass thins 64
# maps at once.  A pixel is re-examined only when its 3x3 neighbourhood changed (in any map) during the two
# previous sub-iterations -- a pixel whose neighbourhood is unchanged since it was last examined under the same
# sub-iteration's rule gets the same (keep) decision -- so late iterations touch only the shrinking front.  The
# result is the same, map by map, as :func:`thin` (tested against it, and the rule against the look-up tables).

_ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def _at_least_two(a, b, c, d):
    """Bitwise: at least two of the four words have the bit set."""
    return (a & b) | (c & d) | ((a | b) & (c | d))


def _deletable_bits(x, first: bool):
    """Guo & Hall A1 deletion rule in bitwise form.  ``x[1..8]``: the words of the neighbours East, North-East,
    North, North-West, West, South-West, South, South-East (``x[0]`` unused); returns the words in which the
    centre pixel is deleted by the first (``first=True``) or second sub-iteration, if it is set.  Equal to
    ``_LUT1`` / ``_LUT2`` on every 3x3 configuration (tested)."""
    x1, x2, x3, x4, x5, x6, x7, x8 = x[1:9]
    b1, b2, b3, b4 = ~x1 & (x2 | x3), ~x3 & (x4 | x5), ~x5 & (x6 | x7), ~x7 & (x8 | x1)
    g1 = (b1 | b2 | b3 | b4) & ~_at_least_two(b1, b2, b3, b4)                 # X_H(p) == 1
    o12, o34, o56, o78 = x1 | x2, x3 | x4, x5 | x6, x7 | x8                   # N1(p) terms
    o23, o45, o67, o81 = x2 | x3, x4 | x5, x6 | x7, x8 | x1                   # N2(p) terms
    g2 = (_at_least_two(o12, o34, o56, o78) & _at_least_two(o23, o45, o67, o81)  # 2 <= min(N1, N2)
          & ~(o12 & o34 & o56 & o78 & o23 & o45 & o67 & o81))                  # min(N1, N2) <= 3
    g3 = ~((x2 | x3 | ~x8) & x1) if first else ~((x6 | x7 | ~x4) & x5)
    return g1 & g2 & g3


def _nested_words(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """values (N,) float64, ascending thresholds (K,) -> uint64 (N, ceil(K/64)): bit j set when
    ``value >= thresholds[j]`` (the maps are nested, so the set bits are the lowest ``m`` ones)."""
    k = len(thresholds)
    m = np.searchsorted(thresholds, values, side="right")
    out = np.empty((len(values), (k + 63) // 64), np.uint64)
    for w in range(out.shape[1]):
        mw = np.clip(m - 64 * w, 0, 64).astype(np.uint64)
        out[:, w] = np.where(mw == 64, _ALL_ONES, (np.uint64(1) << np.minimum(mw, np.uint64(63))) - np.uint64(1))
    return out


def thin_clean_levels(pmap: np.ndarray, thresholds) -> Tuple[np.ndarray, np.ndarray]:
    """``clean(thin(pmap >= t))`` for every threshold ``t`` at once (bit-sliced, see the comment above).

    ``pmap`` (H, W) float; ``thresholds`` ascending (K,) float64 (compared in float64, as :func:`binarize_thin`).
    Returns ``(level, flat)``: int64 arrays of equal length listing every pixel kept at every threshold, sorted by
    threshold index ``level`` (0..K-1), then by ``flat`` = row * W + column.  Same pixels as
    ``binarize_thin(pmap, thresholds[level])``, threshold by threshold."""
    p = np.asarray(pmap, np.float64)
    if p.ndim != 2:
        raise ValueError(f"thin_clean_levels: expected a 2-D map, got shape {p.shape}")
    t = np.asarray(thresholds, np.float64).ravel()
    if len(t) and (np.diff(t) < 0).any():
        raise ValueError("thin_clean_levels: thresholds must be ascending")
    h, w = p.shape
    empty = np.zeros(0, np.int64)
    if len(t) == 0 or p.size == 0:
        return empty, empty
    ys, xs = np.nonzero(p >= t[0])
    if len(ys) == 0:
        return empty, empty
    wp = w + 2                                   # zero border: every neighbour index is valid, outside = 0
    words = np.zeros(((h + 2) * wp, (len(t) + 63) // 64), np.uint64)
    pix = (ys + 1) * wp + (xs + 1)
    words[pix] = _nested_words(p[ys, xs], t)
    offs = np.array([1, 1 - wp, -wp, -wp - 1, -1, wp - 1, wp, wp + 1], np.int64)   # E NE N NW W SW S SE
    first_seen = np.empty(len(words), np.int64)
    cand, recent, sub = pix, [pix, pix], 0
    while len(cand):
        cur = words[cand]
        dele = _deletable_bits([None] + [words[cand + o] for o in offs], sub % 2 == 0) & cur
        hit = dele.any(1)
        gone = cand[hit]
        words[gone] = cur[hit] ^ dele[hit]
        recent = [recent[1], gone]
        sub += 1
        if sub < 2:                              # the second rule has not looked at any pixel yet
            continue
        nb = (np.concatenate(recent)[:, None] + offs).ravel()
        nb = nb[words[nb].any(1)]
        order = np.arange(len(nb))
        first_seen[nb] = order                   # de-duplicate in O(n): keep one occurrence per pixel
        cand = nb[first_seen[nb] == order]
    # clean: a pixel stays in map j when one of its 8 neighbours is in map j too
    cur = words[pix]
    near = np.zeros_like(cur)
    for o in offs:
        near |= words[pix + o]
    cur &= near
    bits = np.unpackbits(cur.view(np.uint8), axis=1, bitorder="little")[:, :len(t)]
    level, k = np.nonzero(bits.T)
    return level.astype(np.int64), (ys[k] * w + xs[k]).astype(np.int64)


def clean(binary: np.ndarray) -> np.ndarray:
    """MATLAB ``bwmorph(binary, 'clean')``: remove isolated pixels (no 8-neighbour).  (H, W) bool -> bool."""
    b = np.ascontiguousarray(binary, dtype=bool).view(np.uint8)
    if b.size == 0:
        return b.astype(bool)
    n = cv2.filter2D(b, cv2.CV_8U, _CLEAN_KERNEL, borderType=cv2.BORDER_CONSTANT)
    return (b > 0) & (n > 0)


def binarize_thin(pmap: np.ndarray, threshold: float) -> np.ndarray:
    """``clean(thin(pmap >= threshold))`` -- one threshold of the protocol (apply :func:`skeleton_nms` first).
    ``pmap`` (H, W) float -> bool (H, W); the comparison is done in float64."""
    p = np.asarray(pmap)
    return clean(thin(p >= np.float64(threshold)))


# ----------------------------------------------------------------------------------------------------------------
# prediction: thin skeleton at one threshold, resizing of post-processed maps
# ----------------------------------------------------------------------------------------------------------------


def thin_skeleton(skeleton: np.ndarray, threshold: float) -> np.ndarray:
    """Skeleton map -> one-pixel-wide binary skeleton: the evaluation's NMS, ``>= threshold`` on the map
    normalised by its maximum, thinning and removal of isolated pixels (as skeval does per threshold).
    ``skeleton`` (H, W) float -> bool (H, W); an all-zero map gives no skeleton."""
    mx = float(skeleton.max()) if skeleton.size else 0.0
    if mx <= 0:
        return np.zeros(skeleton.shape, bool)
    return binarize_thin(skeleton_nms(skeleton / mx), threshold)


def _nearest_index(n_out: int, n_in: int) -> np.ndarray:
    """Source index of each destination index for a nearest-neighbour resize with pixel centres aligned:
    ``floor((i + 0.5) * n_in / n_out)``, clipped to ``n_in - 1``."""
    i = np.floor((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out)).astype(np.int64)
    return np.minimum(i, n_in - 1)


def resize_nearest(array: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D map of any dtype (labels, scales) to ``shape`` = (H, W), pixel centres
    aligned (OpenCV's ``INTER_NEAREST_EXACT``); values are copied, never interpolated."""
    a = np.asarray(array)
    if a.ndim != 2:
        raise ValueError(f"resize_nearest: expected a 2-D map, got shape {a.shape}")
    H, W = (int(s) for s in shape)
    if (H, W) == a.shape:
        return a.copy()
    if a.size == 0 or H <= 0 or W <= 0:
        raise ValueError(f"resize_nearest: cannot resize {a.shape} to {(H, W)}")
    return a[_nearest_index(H, a.shape[0])[:, None], _nearest_index(W, a.shape[1])[None, :]]


# the four forward 8-neighbours: each adjacent pair of skeleton pixels is visited once
_FORWARD = ((0, 1), (1, -1), (1, 0), (1, 1))


def upscale_thin(thin_map: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """A one-pixel-wide skeleton (h, w) bool -> the same skeleton drawn at ``shape`` = (H, W), still one pixel
    wide and with the same 8-connected parts.

    The binary map is not interpolated: each skeleton pixel's centre is mapped to its destination pixel
    (``floor((y + 0.5) H / h)``, likewise x), 8-adjacent skeleton pixels are joined by 8-connected digital lines,
    and the result is thinned (:func:`thin`) where two lines meet at a corner."""
    t = np.asarray(thin_map, bool)
    if t.ndim != 2:
        raise ValueError(f"upscale_thin: expected a 2-D map, got shape {t.shape}")
    h, w = t.shape
    H, W = (int(s) for s in shape)
    if (H, W) == (h, w):
        return t.copy()
    out = np.zeros((H, W), np.uint8)
    ys, xs = np.nonzero(t)
    if len(ys) == 0:
        return out.view(bool)
    Y = np.minimum(np.floor((ys + 0.5) * (H / h)), H - 1).astype(np.int32)
    X = np.minimum(np.floor((xs + 0.5) * (W / w)), W - 1).astype(np.int32)
    idx = np.full((h, w), -1, np.int64)
    idx[ys, xs] = np.arange(len(ys))
    a_parts, b_parts = [], []
    for dy, dx in _FORWARD:
        ny, nx = ys + dy, xs + dx
        ok = (ny < h) & (nx >= 0) & (nx < w)
        j = idx[ny[ok], nx[ok]]
        m = j >= 0
        a_parts.append(np.flatnonzero(ok)[m])
        b_parts.append(j[m])
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    if len(a):
        lines = np.stack([np.stack([X[a], Y[a]], 1), np.stack([X[b], Y[b]], 1)], 1).astype(np.int32)
        cv2.polylines(out, list(lines), False, 1, thickness=1, lineType=cv2.LINE_8)
    out[Y, X] = 1
    # thin only the bounding box (+1 px): thinning sees 3x3 neighbourhoods and the outside counts as 0
    y0, y1 = max(int(Y.min()) - 1, 0), min(int(Y.max()) + 2, H)
    x0, x1 = max(int(X.min()) - 1, 0), min(int(X.max()) + 2, W)
    res = out.view(bool)
    res[y0:y1, x0:x1] = thin(res[y0:y1, x0:x1])
    return res
