"""Object segments reconstructed from a skeleton with scales (paper Sec. IV-C).

For each skeleton pixel x_j with scale s_j (a diameter, pixels) the disk ``D_j = {p : |p - x_j| <= s_j / 2}``
(pixel centres) is drawn; one segment per 8-connected skeleton part is the union of its pixels' disks.
Where disks of different parts overlap, a pixel goes to the part whose disk is nearest *relative to its radius*,
i.e. the part minimising ``|p - x_j| / r_j`` over its skeleton pixels (ties -> the smaller label).  This is the
multiplicatively weighted nearest-disk rule: a pixel deep inside a large disk is not taken by the rim of a
small one.

A skeleton that breaks into pieces gives one segment per piece (the paper's construction; our CPU model makes 8.6
per Weizmann horse against the paper's 1.3).  :func:`group_segments` is the documented post-processing that
``predict`` and ``eval --segments`` apply on top (``--segments-mode parts`` turns it off): segments whose
reconstructed regions touch (8-adjacent pixels, which includes overlapping disks) are one object -- the predicted
scales close the gaps between the pieces -- and objects smaller than ``min_area`` x the largest one are dropped.
:func:`bridge_skeleton` joins the pieces of one object in the thin skeleton by straight lines between their closest
pixels, so that the drawn skeleton is connected too.  Neither changes the skeleton map, so ODS/OIS/AP do not
move; the segment metrics of both constructions are in docs/skeleton.md.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
from scipy import ndimage as ndi

from .config import SkeletonInferenceOptions

__all__ = ["SEGMENT_MODES", "bridge_skeleton", "group_segments", "object_segments", "segments_from_skeleton"]

SEGMENT_MODES = ("objects", "parts")
DEFAULT_MIN_AREA = SkeletonInferenceOptions.min_segment_area  # chosen on the Weizmann train split (docs/skeleton.md)

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


def _touching_pairs(labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs (a, b) of different non-zero labels that are 8-adjacent somewhere in the map."""
    L = labels
    a = np.concatenate([L[:, :-1].ravel(), L[:-1, :].ravel(), L[:-1, :-1].ravel(), L[1:, :-1].ravel()])
    b = np.concatenate([L[:, 1:].ravel(), L[1:, :].ravel(), L[1:, 1:].ravel(), L[:-1, 1:].ravel()])
    k = (a > 0) & (b > 0) & (a != b)
    return a[k], b[k]


def group_segments(labels: np.ndarray, min_area: float = DEFAULT_MIN_AREA) -> Tuple[np.ndarray, np.ndarray]:
    """Merge segments whose regions touch and drop small objects.

    ``labels`` int (H, W), 0 = background, 1..n segments (e.g. :func:`segments_from_skeleton`).  Segments that are
    8-adjacent anywhere (transitively) become one object; objects whose area is below ``min_area`` x the largest
    object's are set to 0 (``min_area`` in [0, 1]; 0 keeps all).  Returns ``(objects, group)``: int32 (H, W)
    objects numbered 1..m in the order of their smallest segment label, and int32 (n + 1,) the object of each
    input label (0 for background and dropped segments)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    L = np.asarray(labels)
    if L.ndim != 2 or not (np.issubdtype(L.dtype, np.integer) or L.dtype == bool):
        raise ValueError(f"group_segments: expected an integer label map (H, W), got {L.dtype} {L.shape}")
    if not 0.0 <= float(min_area) <= 1.0:
        raise ValueError(f"group_segments: min_area must be in [0, 1], got {min_area}")
    L = L.astype(np.int64)
    if L.size and L.min() < 0:
        raise ValueError("group_segments: labels must be >= 0")
    n = int(L.max(initial=0))
    group = np.zeros(n + 1, np.int32)
    if n == 0:
        return np.zeros(L.shape, np.int32), group
    a, b = _touching_pairs(L)
    g = coo_matrix((np.ones(len(a)), (a, b)), shape=(n + 1, n + 1))
    _, comp = connected_components(g, directed=False)
    area_by_label = np.bincount(L.ravel(), minlength=n + 1).astype(np.float64)
    area_by_label[0] = 0
    present = area_by_label > 0
    # objects in the order of their smallest present label; area per object
    comp_of = comp[1:]
    labels_present = np.flatnonzero(present[1:]) + 1
    objs, first = np.unique(comp[labels_present], return_index=True)
    objs = objs[np.argsort(labels_present[first], kind="stable")]
    area = np.bincount(comp, weights=area_by_label, minlength=comp.max() + 1)
    keep = objs[area[objs] >= float(min_area) * area[objs].max()]
    new_id = np.zeros(comp.max() + 1, np.int32)
    new_id[keep] = np.arange(1, len(keep) + 1, dtype=np.int32)
    group[1:] = np.where(present[1:], new_id[comp_of], 0)
    return group[L].astype(np.int32), group


def bridge_skeleton(thin: np.ndarray, parts: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Join the skeleton pieces of each object by straight 8-connected lines between their closest pixels.

    ``thin`` bool (H, W); ``parts`` int (H, W): the 8-connected piece of each skeleton pixel (1..n, as
    :func:`segments_from_skeleton` numbers them: ``scipy.ndimage.label`` with a 3x3 structure); ``group`` (n + 1,)
    the object of each piece (from :func:`group_segments`, 0 = dropped).  Within an object the pieces are joined
    along a minimum spanning tree of their closest-pixel distances.  Pieces of dropped objects are removed.
    Returns bool (H, W).

    The closest pair of pixels between two sets of pieces is always an edge of the Delaunay triangulation of all
    pixels (no other pixel lies in the disk on that pair as diameter), so the spanning tree is computed on the
    Delaunay edges that join different pieces of one object: O(n log n) in the pixels, whatever the number of
    pieces."""
    import cv2
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay

    sk = np.asarray(thin, bool)
    P = np.asarray(parts)
    if sk.shape != P.shape or sk.ndim != 2:
        raise ValueError(f"bridge_skeleton: thin {sk.shape} and parts {P.shape} must be equal (H, W) maps")
    grp = np.asarray(group)
    out = (sk & (grp[P] > 0)).astype(np.uint8)
    ys, xs = np.nonzero(out)
    pid = P[ys, xs]
    if len(np.unique(pid)) < 2:
        return out.view(bool)
    pts = np.stack([ys, xs], 1).astype(np.float64)
    if len(pts) < 3:
        a, b = np.array([0]), np.array([1])
    else:
        tri = Delaunay(pts, qhull_options="QJ").simplices          # QJ: collinear pixels triangulate too
        a = np.concatenate([tri[:, 0], tri[:, 1], tri[:, 2]])
        b = np.concatenate([tri[:, 1], tri[:, 2], tri[:, 0]])
    keep = (pid[a] != pid[b]) & (grp[pid[a]] == grp[pid[b]])
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return out.view(bool)
    d = np.hypot(*(pts[a] - pts[b]).T)
    # the shortest edge of each pair of pieces
    pa, pb = np.minimum(pid[a], pid[b]), np.maximum(pid[a], pid[b])
    order = np.lexsort((d, pb, pa))
    first = order[np.r_[True, (np.diff(pa[order]) != 0) | (np.diff(pb[order]) != 0)]]
    n = int(P.max()) + 1
    mst = minimum_spanning_tree(coo_matrix((d[first], (pa[first], pb[first])), shape=(n, n))).tocoo()
    edge_of = {(int(u), int(v)): k for u, v, k in zip(pa[first], pb[first], first)}
    for u, v in zip(mst.row, mst.col):
        k = edge_of[(min(u, v), max(u, v))]
        cv2.line(out, (int(xs[a[k]]), int(ys[a[k]])), (int(xs[b[k]]), int(ys[b[k]])), 1, thickness=1,
                 lineType=cv2.LINE_8)
    return out.view(bool)


def object_segments(thin: np.ndarray, scale: np.ndarray, mode: str = "objects", min_area: float = DEFAULT_MIN_AREA
                    ) -> Tuple[np.ndarray, np.ndarray, int]:
    """Segments of a thin skeleton with scales, as ``predict`` and ``eval --segments`` build them.

    ``mode="parts"``: the paper's construction, one segment per 8-connected skeleton piece
    (:func:`segments_from_skeleton`), thin skeleton unchanged.  ``mode="objects"`` (default): then
    :func:`group_segments` (touching segments merged, objects under ``min_area`` x the largest dropped) and
    :func:`bridge_skeleton` (the pieces of an object joined).  Returns ``(labels int32 (H, W), thin bool (H, W),
    pieces)``, ``pieces`` = the number of skeleton pieces (segments of the paper's construction)."""
    if mode not in SEGMENT_MODES:
        raise ValueError(f"segments mode must be one of {', '.join(SEGMENT_MODES)}, got {mode!r}")
    sk = np.asarray(thin, bool)
    labels = segments_from_skeleton(sk, scale)
    pieces = int(labels.max(initial=0))
    if mode == "parts" or pieces == 0:
        return labels, sk, pieces
    objects, group = group_segments(labels, min_area)
    parts, _ = ndi.label(sk, structure=np.ones((3, 3), int))     # the same numbering as segments_from_skeleton
    return objects, bridge_skeleton(sk, parts, group), pieces
