"""Object segments reconstructed from a skeleton with scales (paper Sec. IV-C).

For each skeleton pixel x_j with scale s_j (a diameter, pixels) the disk ``D_j = {p : |p - x_j| <= s_j / 2}``
(pixel centres) is drawn; one segment per 8-connected skeleton part is the union of its pixels' disks.
Where disks of different parts overlap, a pixel goes to the part whose disk is nearest *relative to its radius*,
i.e. the part minimising ``|p - x_j| / r_j`` over its skeleton pixels (ties -> the smaller label).  This is the
multiplicatively weighted nearest-disk rule: a pixel deep inside a large disk is not taken by the rim of a
small one.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["segments_from_skeleton"]

_CHUNK = 4_000_000  # (pixel, offset) pairs per vectorised block


def _disk_offsets(R: int) -> np.ndarray:
    """Integer offsets (dy, dx) with dy^2 + dx^2 < (R + 1)^2, shape (K, 2): every offset of a disk of radius
    r in [R, R + 1)."""
    d = np.arange(-R, R + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    m = dy * dy + dx * dx < (R + 1) * (R + 1)
    return np.stack([dy[m], dx[m]], 1)


def segments_from_skeleton(thin: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Label map of object segments from a (thin) skeleton and its scale map.

    ``thin``: bool (H, W) skeleton; ``scale``: float (H, W) diameter in pixels, read at skeleton pixels
    (values <= 0 give a disk of the pixel alone; NaN/inf on a skeleton pixel is an error).  Returns int32
    (H, W): 0 = background, 1..n = one segment per 8-connected skeleton part (in scan order of the parts)."""
    sk = np.asarray(thin, bool)
    sc = np.asarray(scale, np.float64)
    if sk.ndim != 2 or sc.shape != sk.shape:
        raise ValueError(f"segments_from_skeleton: thin {sk.shape} and scale {sc.shape} must be equal (H, W) maps")
    h, w = sk.shape
    parts, n = ndi.label(sk, structure=np.ones((3, 3), int))
    out = np.zeros((h, w), np.int32)
    if n == 0:
        return out
    ys, xs = np.nonzero(sk)
    r = sc[ys, xs] / 2.0
    if not np.isfinite(r).all():
        raise ValueError("segments_from_skeleton: scale is NaN/inf on skeleton pixels")
    r = np.maximum(r, 0.0)
    lab = parts[ys, xs].astype(np.int32)
    big = np.iinfo(np.int32).max
    best = np.full(h * w, np.inf)            # smallest |p - x_j| / r_j so far
    best_lab = np.zeros(h * w, np.int32)
    blk_best = np.full(h * w, np.inf)        # scratch, reset on touched pixels after each block
    blk_lab = np.full(h * w, big, np.int32)
    mark = np.zeros(h * w, bool)
    R = np.floor(r).astype(np.int64)       # group by floor(radius); membership tested exactly below
    for Rv in np.unique(R):
        sel = np.flatnonzero(R == Rv)
        off = _disk_offsets(int(Rv))
        d2 = (off ** 2).sum(1).astype(np.float64)
        dist = np.sqrt(d2)
        step = max(1, _CHUNK // len(off))
        for s0 in range(0, len(sel), step):
            j = sel[s0:s0 + step]
            py = ys[j, None] + off[None, :, 0]
            px = xs[j, None] + off[None, :, 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.where(dist[None, :] == 0, 0.0, dist[None, :] / r[j, None])
            ok = (d2[None, :] <= r[j, None] ** 2) & (py >= 0) & (py < h) & (px >= 0) & (px < w)
            lin = (py * w + px)[ok]
            vv = v[ok]
            ll = np.broadcast_to(lab[j, None], ok.shape)[ok]
            np.minimum.at(blk_best, lin, vv)
            tie = vv == blk_best[lin]
            np.minimum.at(blk_lab, lin[tie], ll[tie])
            mark[lin] = True
            t = np.flatnonzero(mark)
            mark[t] = False
            better = blk_best[t] < best[t]
            equal = blk_best[t] == best[t]
            tb, te = t[better], t[equal]
            best[tb] = blk_best[tb]
            best_lab[tb] = blk_lab[tb]
            best_lab[te] = np.minimum(best_lab[te], blk_lab[te])
            blk_best[t] = np.inf
            blk_lab[t] = big
    out = best_lab.reshape(h, w)
    out[~np.isfinite(best.reshape(h, w))] = 0
    return out
