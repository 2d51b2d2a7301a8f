"""Skeleton detection evaluation (the LMSDS authors' MATLAB ``skeval`` protocol) and skeleton-based
object-segmentation metrics.

Skeleton localisation, per image (``skeval`` / BSDS conventions):

1. the detection map is divided by its maximum (an all-zero map stays zero: no detections);
2. NMS (:func:`skeleton_nms`): orientation from the second derivatives of the map smoothed by Dollar's
   ``convTri`` (radius 4), then ``edgesNms`` with r = 1, s = 5, m = 1.01;
3. for each threshold of :func:`skeleton_thresholds` (``linspace(1/(n+1), 1-1/(n+1), n)``, n = 100):
   binarise with ``map >= t``, thin to one pixel (MATLAB ``bwmorph(.., 'thin', Inf)``,
   :func:`thin`), remove isolated pixels (``bwmorph 'clean'``, :func:`clean`);
4. one-to-one matching of detected to (thinned) ground-truth pixels within ``tolerance`` x image diagonal
   (:func:`match_points`), counts pooled over the dataset per threshold.

Matching.  BSDS ``correspondPixels`` (used by skeval) solves a min-cost perfect matching (CSA) on a graph whose
real edges join pixels at distance <= maxDist (cost = distance) and whose outlier edges (cost 100 x maxDist, then
scaled x100 again) let any pixel stay unmatched.  Because an outlier costs orders of magnitude more than any
real edge, the optimum is a *maximum-cardinality* matching (ties broken by total distance, which does not
change the counts).  We compute that maximum cardinality exactly, as a unit-capacity max flow (Dinic,
``scipy.sparse.csgraph.maximum_flow``), on the pairs within the radius (inclusive, d^2 <= r^2 as in BSDS
``match.cc``).  correspondPixels only connects outliers to a random sparse subset (degree 6), so it can in rare
cases fall short of the maximum; its counts are then <= ours (checked against pyEdgeEval's port in the tests).

Precision/recall conventions (BSDS ``collect_eval_bdry`` / skeval ``prScores``):
``R = cntR / (sumR + (sumR == 0))``, ``P = cntP / (sumP + (sumP == 0))``: an empty ground truth gives recall 0,
an empty prediction precision 0 (not 1).  ``F = 2PR / (P + R + ((P + R) == 0))``.

* ODS: skeval's ``maxF``: P, R (and t) are linearly interpolated at 100 points ``linspace(0, 1)`` between each pair
  of neighbouring thresholds of the pooled curve; the best F (first maximum, strict improvement) is reported.
* OIS (BSDS): per image the threshold with the best (non-interpolated) F, the LAST one on ties (BSDS
  ``find(F == max(F))(end)``); the counts at those thresholds are pooled, then P, R, F computed.
* AP (BSDS): the pooled curve is made single-valued in recall (MATLAB legacy ``unique``: for equal recall the
  point of the highest threshold), precision is interpolated linearly (``interp1``) at recall 0:0.01:1, points
  outside the recall range count 0, AP = 0.01 x sum (0 when fewer than two distinct recall values).  BSDS
  quirks kept for comparability: a perfect curve spanning R = 0..1 gives 1.01 (101 samples x 0.01), and a
  curve that is a single point (e.g. a binary prediction: the same map at every threshold) gives AP = 0.

Thresholds are compared in float64 (``map >= t``, map values float32).

NMS, thinning and binarisation live in :mod:`structnet.skeleton.postprocess` (prediction uses them too);
PR plots in :mod:`structnet.skeleton.plots`.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

from .postprocess import binarize_thin, skeleton_nms, thin, thin_clean_levels

__all__ = [
    "SkeletonEvalResult", "average_precision", "correspond_pixels", "count_segments", "covering", "evaluate_dirs",
    "evaluate_segments", "evaluate_skeletons", "f_measure", "image_counts", "match_points", "max_f_interpolated",
    "max_match_distance", "pr_from_counts", "segment_f_measure", "skeleton_thresholds", "summarize_counts",
]

# ----------------------------------------------------------------------------------------------------------------
# thresholds
# ----------------------------------------------------------------------------------------------------------------


def skeleton_thresholds(n: int = 100) -> np.ndarray:
    """skeval thresholds ``linspace(1/(n+1), 1 - 1/(n+1), n)`` (float64, ascending)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"thresholds: need at least 1 threshold, got {n}")
    return np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), n)


def _as_thresholds(thresholds: Union[int, Sequence[float], np.ndarray]) -> np.ndarray:
    if isinstance(thresholds, (int, np.integer)):
        return skeleton_thresholds(int(thresholds))
    t = np.asarray(thresholds, dtype=np.float64).ravel()
    if t.size == 0 or not np.isfinite(t).all():
        raise ValueError("thresholds: expected an int or a non-empty sequence of finite values")
    return t


# ----------------------------------------------------------------------------------------------------------------
# matching
# ----------------------------------------------------------------------------------------------------------------


def max_match_distance(shape: Tuple[int, int], tolerance: float = 0.01) -> float:
    """Matching radius in pixels: ``tolerance * sqrt(H^2 + W^2)`` (BSDS ``maxDist * diag``)."""
    h, w = shape[:2]
    return float(tolerance) * math.sqrt(h * h + w * w)


def _pairs_within(a: np.ndarray, b: np.ndarray, radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """All (i, j) with ``|a_i - b_j|^2 <= radius^2`` (exact test on the coordinates, as BSDS ``match.cc``)."""
    if len(a) == 0 or len(b) == 0 or radius < 0:
        z = np.zeros(0, np.int64)
        return z, z
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), radius + 0.5, output_type="ndarray")
    ia, ib = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    d2 = ((a[ia] - b[ib]) ** 2).sum(1)
    keep = d2 <= radius * radius
    return ia[keep], ib[keep]


def _flow_network(ia: np.ndarray, ib: np.ndarray, n_a: int, n_b: int) -> Tuple[sparse.csr_matrix, int, int]:
    """Unit-capacity network ``source -> a_i -> b_j -> sink`` for the bipartite edges (ia[k], ib[k]).
    Nodes: a = 0..n_a-1, b = n_a..n_a+n_b-1, source, sink.  Returns (csr graph, source, sink)."""
    order = np.argsort(ia, kind="stable")
    ia, ib = ia[order], ib[order]
    src, snk = n_a + n_b, n_a + n_b + 1
    deg = np.bincount(ia, minlength=n_a)
    has_b = np.zeros(n_b, bool)
    has_b[ib] = True
    b_used = np.flatnonzero(has_b)
    a_used = np.flatnonzero(deg)
    row_len = np.concatenate([deg, has_b.astype(np.int64), [len(a_used), 0]])
    indptr = np.concatenate([[0], np.cumsum(row_len)]).astype(np.int32)
    indices = np.concatenate([n_a + ib, np.full(len(b_used), snk), a_used]).astype(np.int32)
    g = sparse.csr_matrix((np.ones(len(indices), np.int32), indices, indptr), shape=(snk + 1, snk + 1))
    return g, src, snk


def _max_matching_size(ia: np.ndarray, ib: np.ndarray, n_a: int, n_b: int) -> int:
    """Size of a maximum-cardinality matching of the bipartite graph with edges (ia[k], ib[k]).

    Solved as a unit-capacity max flow with Dinic's algorithm (``scipy.sparse.csgraph.maximum_flow``), which is
    O(E sqrt(V)) on such networks, like Hopcroft-Karp.  (``maximum_bipartite_matching`` is not used: its DFS can
    take exponential time on chain-like graphs, scipy issue gh-26147, and skeleton pixel chains trigger it.)"""
    if len(ia) == 0:
        return 0
    g, src, snk = _flow_network(ia, ib, n_a, n_b)
    return int(maximum_flow(g, src, snk, method="dinic").flow_value)


def match_points(pred_pts: np.ndarray, gt_pts: np.ndarray, radius: float) -> np.ndarray:
    """One-to-one matching of detected to ground-truth points within ``radius`` pixels (inclusive), maximising the
    number of matched pairs (see the module docstring for the relation to BSDS ``correspondPixels``).

    ``pred_pts`` (N, 2), ``gt_pts`` (M, 2) (row, col) -> int64 (N,): index of the matched GT point or -1."""
    pred_pts = np.asarray(pred_pts, np.float64).reshape(-1, 2)
    gt_pts = np.asarray(gt_pts, np.float64).reshape(-1, 2)
    n_a, n_b = len(pred_pts), len(gt_pts)
    out = np.full(n_a, -1, np.int64)
    ia, ib = _pairs_within(pred_pts, gt_pts, radius)
    if len(ia) == 0:
        return out
    g, src, snk = _flow_network(ia, ib, n_a, n_b)
    flow = maximum_flow(g, src, snk, method="dinic").flow.tocoo()
    sel = (flow.data > 0) & (flow.row < n_a) & (flow.col >= n_a) & (flow.col < n_a + n_b)
    out[flow.row[sel]] = flow.col[sel] - n_a
    return out


def correspond_pixels(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.01) -> Tuple[np.ndarray, np.ndarray]:
    """Binary maps (H, W) -> (pred_matched, gt_matched) bool (H, W): one-to-one matching within
    ``tolerance`` x image diagonal.  ``pred_matched.sum() == gt_matched.sum()`` is the matched count."""
    pred = np.asarray(pred, bool)
    gt = np.asarray(gt, bool)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"correspond_pixels: pred {pred.shape} and gt {gt.shape} must be equal 2-D shapes")
    pp, gp = np.argwhere(pred), np.argwhere(gt)
    m = match_points(pp, gp, max_match_distance(pred.shape, tolerance))
    pm = np.zeros(pred.shape, bool)
    gm = np.zeros(gt.shape, bool)
    ok = m >= 0
    pm[pp[ok, 0], pp[ok, 1]] = True
    gm[gp[m[ok], 0], gp[m[ok], 1]] = True
    return pm, gm


# ----------------------------------------------------------------------------------------------------------------
# per-image counts
# ----------------------------------------------------------------------------------------------------------------


def _normalize_map(pred: np.ndarray, name: str = "pred") -> np.ndarray:
    p = np.asarray(pred)
    if p.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D map (H, W), got shape {p.shape}")
    if p.dtype == bool:
        p = p.astype(np.float32)
    elif not (np.issubdtype(p.dtype, np.floating) or np.issubdtype(p.dtype, np.integer)):
        raise ValueError(f"{name}: expected a float or integer map, got dtype {p.dtype}")
    p = p.astype(np.float32)
    if p.size and not np.isfinite(p).all():
        raise ValueError(f"{name}: map contains NaN or inf")
    if p.size and p.min() < 0:
        raise ValueError(f"{name}: map has negative values (min {p.min():g}); expected [0, 1] or uint8")
    mx = float(p.max()) if p.size else 0.0
    return p / np.float32(mx) if mx > 0 else np.zeros_like(p)


def _prepare_gt(gt: np.ndarray, name: str = "gt") -> np.ndarray:
    g = getattr(gt, "skeleton", gt)
    g = np.asarray(g)
    if g.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D skeleton map (H, W), got shape {g.shape}")
    return thin(g > 0)


def _counts_reference(pmap: np.ndarray, gt_thin: np.ndarray, thr: np.ndarray, radius: float) -> np.ndarray:
    """Straightforward version: per threshold, full-image thin + clean, KD-trees and matching from scratch."""
    out = np.zeros((4, len(thr)), np.int64)
    gt_pts = np.argwhere(gt_thin)
    for k, t in enumerate(thr):
        b = binarize_thin(pmap, t)
        pts = np.argwhere(b)
        n = int((match_points(pts, gt_pts, radius) >= 0).sum())
        out[:, k] = (n, len(gt_pts), n, len(pts))
    return out


def _counts_fast(pmap: np.ndarray, gt_thin: np.ndarray, thr: np.ndarray, radius: float) -> np.ndarray:
    """Same numbers as :func:`_counts_reference`, faster:

    * work in the bounding box (+1 px) of the pixels above the lowest threshold (thinning and clean only see 3x3
      neighbourhoods and the outside counts as 0, so cropping is exact);
    * thresholds whose binary map equals another's (same number of pixels >= t: the maps are nested) share its
      counts;
    * all distinct maps are thinned and cleaned in one bit-sliced pass
      (:func:`~structnet.skeleton.postprocess.thin_clean_levels`, 64 maps per machine word);
    * candidate-to-GT pairs are computed once per image; each map's matching uses the pairs of its pixels."""
    out = np.zeros((4, len(thr)), np.int64)
    gt_pts = np.argwhere(gt_thin)
    out[1] = len(gt_pts)
    order_t = np.argsort(thr, kind="stable")
    ts = np.asarray(thr, np.float64)[order_t]
    cand = pmap >= ts[0]
    if not cand.any():
        return out
    rows_any = np.flatnonzero(cand.any(1))
    cols_any = np.flatnonzero(cand.any(0))
    y0, y1 = max(rows_any[0] - 1, 0), min(rows_any[-1] + 2, pmap.shape[0])
    x0, x1 = max(cols_any[0] - 1, 0), min(cols_any[-1] + 2, pmap.shape[1])
    crop = pmap[y0:y1, x0:x1].astype(np.float64)
    cy, cx = np.nonzero(cand[y0:y1, x0:x1])
    idx = np.full(crop.size, -1, np.int64)
    idx[cy * crop.shape[1] + cx] = np.arange(len(cy))
    ia, ib = _pairs_within(np.stack([cy + y0, cx + x0], 1), gt_pts, radius)
    order = np.argsort(ia, kind="stable")
    ia, ib = ia[order], ib[order]
    vals = np.sort(crop[cy, cx])
    n_ge = len(vals) - np.searchsorted(vals, ts, side="left")     # pixels in each map (non-increasing)
    reps = np.flatnonzero((n_ge > 0) & np.r_[True, n_ge[1:] != n_ge[:-1]])   # first threshold of each distinct map
    level, flat = thin_clean_levels(crop, ts[reps])
    bounds = np.searchsorted(level, np.arange(len(reps) + 1))
    active = np.zeros(len(cy), bool)
    res = np.zeros((len(reps), 2), np.int64)
    for r in range(len(reps)):
        a = idx[flat[bounds[r]:bounds[r + 1]]]
        active[:] = False
        active[a] = True
        m = active[ia]
        res[r] = (_max_matching_size(ia[m], ib[m], len(cy), len(gt_pts)), len(a))
    which = np.searchsorted(reps, np.arange(len(ts)), side="right") - 1   # each sorted threshold -> its map
    ok = n_ge > 0
    k = order_t[ok]
    out[0, k] = out[2, k] = res[which[ok], 0]
    out[3, k] = res[which[ok], 1]
    return out


def image_counts(pred: np.ndarray, gt: np.ndarray, thresholds: Union[int, Sequence[float]] = 100,
                 tolerance: float = 0.01, nms: bool = True, fast: bool = True) -> np.ndarray:
    """Counts of one image: int64 (4, T) rows ``cntR, sumR, cntP, sumP`` per threshold.

    ``pred`` (H, W) float in [0, 1] or uint8 (divided by its max), ``gt`` (H, W) bool skeleton."""
    p = _normalize_map(pred)
    g = getattr(gt, "skeleton", gt)
    if np.shape(g) != p.shape:
        raise ValueError(f"image_counts: pred {p.shape} and gt {np.shape(g)} sizes differ")
    g = _prepare_gt(g)
    thr = _as_thresholds(thresholds)
    if nms:
        p = skeleton_nms(p)
    radius = max_match_distance(p.shape, tolerance)
    return (_counts_fast if fast else _counts_reference)(p, g, thr, radius)


# ----------------------------------------------------------------------------------------------------------------
# P/R/F, ODS, OIS, AP
# ----------------------------------------------------------------------------------------------------------------


def f_measure(r, p):
    """``2PR / (P + R + ((P + R) == 0))`` (0 when P = R = 0); arrays broadcast."""
    r = np.asarray(r, np.float64)
    p = np.asarray(p, np.float64)
    s = p + r
    return 2 * p * r / (s + (s == 0))


def pr_from_counts(cnt_r, sum_r, cnt_p, sum_p) -> Tuple[np.ndarray, np.ndarray]:
    """``R = cntR/(sumR + (sumR==0))``, ``P = cntP/(sumP + (sumP==0))`` (BSDS guards: empty -> 0)."""
    cnt_r, sum_r, cnt_p, sum_p = (np.asarray(a, np.float64) for a in (cnt_r, sum_r, cnt_p, sum_p))
    return cnt_r / (sum_r + (sum_r == 0)), cnt_p / (sum_p + (sum_p == 0))


def max_f_interpolated(thresholds, recall, precision, n_interp: int = 100) -> Tuple[float, float, float, float]:
    """skeval/BSDS ``maxF``: best F with t, R, P linearly interpolated at ``linspace(0, 1, n_interp)`` between
    neighbouring thresholds; first maximum wins (strict improvement).  Returns (t, R, P, F)."""
    t = np.asarray(thresholds, np.float64)
    r = np.asarray(recall, np.float64)
    p = np.asarray(precision, np.float64)
    cand_t, cand_r, cand_p = [t[:1]], [r[:1]], [p[:1]]
    if len(t) > 1:
        d = np.linspace(0, 1, n_interp)[None, :]
        cand_t.append((t[1:, None] * d + t[:-1, None] * (1 - d)).ravel())
        cand_r.append((r[1:, None] * d + r[:-1, None] * (1 - d)).ravel())
        cand_p.append((p[1:, None] * d + p[:-1, None] * (1 - d)).ravel())
    ct, cr, cp = (np.concatenate(c) for c in (cand_t, cand_r, cand_p))
    f = f_measure(cr, cp)
    i = int(np.argmax(f))
    return float(ct[i]), float(cr[i]), float(cp[i]), float(f[i])


def average_precision(recall, precision) -> float:
    """BSDS AP: area under the P(R) curve, P linearly interpolated at R = 0:0.01:1 (0 outside the recall range),
    sum x 0.01.  For repeated recall values the last point (highest threshold) is used; 0 if < 2 distinct R."""
    r = np.asarray(recall, np.float64)
    p = np.asarray(precision, np.float64)
    ru, inv = np.unique(r, return_inverse=True)
    if len(ru) < 2:
        return 0.0
    last = np.zeros(len(ru), np.int64)
    last[inv] = np.arange(len(r))            # later indices overwrite -> last occurrence
    pu = p[last]
    ri = np.linspace(0, 1, 101)
    pi = np.interp(ri, ru, pu)
    pi[(ri < ru[0]) | (ri > ru[-1])] = 0.0
    return float(pi.sum() * 0.01)


@dataclass
class SkeletonEvalResult:
    """Pooled skeleton-evaluation result.  ``precision``/``recall``/``f`` are per threshold (pooled counts);
    ``cnt_r``, ``sum_r``, ``cnt_p``, ``sum_p`` are per image x threshold counts (lists of lists)."""
    ods_f: float
    ods_p: float
    ods_r: float
    ods_threshold: float
    ois_f: float
    ois_p: float
    ois_r: float
    ap: float
    thresholds: List[float]
    precision: List[float]
    recall: List[float]
    f: List[float]
    n_images: int
    tolerance: float = 0.01
    nms: bool = True
    names: List[str] = field(default_factory=list)
    cnt_r: List[List[int]] = field(default_factory=list)
    sum_r: List[List[int]] = field(default_factory=list)
    cnt_p: List[List[int]] = field(default_factory=list)
    sum_p: List[List[int]] = field(default_factory=list)

    def to_dict(self, per_image: bool = False) -> Dict[str, object]:
        """JSON-ready dict: ``ods_f, ods_p, ods_r, ois_f, ap, thresholds, precision, recall, n_images`` plus
        ``ods_threshold, ois_p, ois_r, f, tolerance, nms, n_thresholds`` (and the per-image counts when asked)."""
        d = asdict(self)
        if not per_image:
            for k in ("names", "cnt_r", "sum_r", "cnt_p", "sum_p"):
                d.pop(k)
        d["n_thresholds"] = len(self.thresholds)
        return d


def summarize_counts(counts: np.ndarray, thresholds: np.ndarray, tolerance: float = 0.01, nms: bool = True,
                     names: Optional[List[str]] = None) -> SkeletonEvalResult:
    """Per-image counts (N, 4, T) -> :class:`SkeletonEvalResult` (ODS, OIS, AP as in the module docstring)."""
    c = np.asarray(counts, np.int64).reshape(-1, 4, len(thresholds))
    tot = c.sum(0)
    r, p = pr_from_counts(*tot)
    f = f_measure(r, p)
    bt, br, bp, bf = max_f_interpolated(thresholds, r, p)
    # OIS: per image the last threshold with the best F, counts pooled
    ri, pi = pr_from_counts(c[:, 0], c[:, 1], c[:, 2], c[:, 3])
    fi = f_measure(ri, pi)
    if len(c):
        best = fi.shape[1] - 1 - np.argmax(fi[:, ::-1], axis=1)
        sel = c[np.arange(len(c)), :, best].sum(0)
    else:
        sel = np.zeros(4, np.int64)
    oir, oip = pr_from_counts(*sel)
    return SkeletonEvalResult(
        ods_f=bf, ods_p=bp, ods_r=br, ods_threshold=bt, ois_f=float(f_measure(oir, oip)), ois_p=float(oip),
        ois_r=float(oir), ap=average_precision(r, p), thresholds=[float(x) for x in thresholds],
        precision=p.tolist(), recall=r.tolist(), f=f.tolist(), n_images=len(c), tolerance=float(tolerance),
        nms=bool(nms), names=list(names or []), cnt_r=c[:, 0].tolist(), sum_r=c[:, 1].tolist(),
        cnt_p=c[:, 2].tolist(), sum_p=c[:, 3].tolist())


# ----------------------------------------------------------------------------------------------------------------
# dataset evaluation (parallel over images)
# ----------------------------------------------------------------------------------------------------------------


def _worker_init() -> None:
    cv2.setNumThreads(1)


def _n_workers(workers: Optional[int], n_items: int) -> int:
    w = (os.cpu_count() or 1) if workers is None else int(workers)
    if w < 0:
        raise ValueError(f"workers must be >= 0 or None, got {workers}")
    return max(1, min(w, n_items))


def _map(fn, items: list, workers: Optional[int], desc: str = "match") -> list:
    """``[fn(x) for x in items]`` over ``workers`` processes, with a progress bar on a terminal."""
    from ..runtime import progress

    w = _n_workers(workers, len(items))
    if w <= 1 or len(items) <= 1:
        return [fn(x) for x in progress(items, total=len(items), desc=desc)]
    import multiprocessing as mp
    chunk = max(1, min(16, len(items) // (4 * w)))
    with ProcessPoolExecutor(max_workers=w, mp_context=mp.get_context("spawn"), initializer=_worker_init) as ex:
        return list(progress(ex.map(fn, items, chunksize=chunk), total=len(items), desc=desc))


def _counts_task(args) -> np.ndarray:
    pred, gt, thr, tolerance, nms, fast = args
    return image_counts(pred, gt, thr, tolerance=tolerance, nms=nms, fast=fast)


def evaluate_skeletons(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                       thresholds: Union[int, Sequence[float]] = 100, tolerance: float = 0.01, nms: bool = True,
                       workers: Optional[int] = None, fast: bool = True) -> SkeletonEvalResult:
    """Evaluate skeleton maps against ground truth with the skeval protocol (module docstring).

    ``preds``: N maps (H_i, W_i) float in [0, 1] or uint8 (each divided by its max); ``gts``: N bool skeleton maps
    (H_i, W_i) (or :class:`~structnet.skeleton.gtio.SkeletonGT`).  ``thresholds``: number n of skeval thresholds
    or explicit values; ``tolerance``: matching radius as a fraction of the image diagonal; ``workers``: processes
    (default ``os.cpu_count()``, 1 = in-process); ``fast=False`` runs the straightforward reference path
    (identical numbers)."""
    preds, gts = list(preds), list(gts)
    if len(preds) != len(gts):
        raise ValueError(f"evaluate_skeletons: {len(preds)} predictions but {len(gts)} ground truths")
    thr = _as_thresholds(thresholds)
    for i, (p, g) in enumerate(zip(preds, gts)):
        gs = np.shape(getattr(g, "skeleton", g))
        if np.shape(p) != gs:
            raise ValueError(f"evaluate_skeletons: image {i}: prediction size {np.shape(p)} != GT size {gs}")
    counts = _map(_counts_task, [(p, g, thr, tolerance, nms, fast) for p, g in zip(preds, gts)], workers)
    return summarize_counts(np.array(counts).reshape(-1, 4, len(thr)), thr, tolerance, nms)


def _find_pred(pred_dir: Path, stem: str) -> Optional[Path]:
    for name in (f"{stem}.png", f"{stem}_skeleton.png"):
        if (pred_dir / name).is_file():
            return pred_dir / name
    return None


def _read_pred_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            a = np.asarray(im)
            mode = im.mode
    except Exception as e:  # noqa: BLE001 -- any decoder error becomes a one-line reason
        raise ValueError(f"{path}: cannot read prediction image ({type(e).__name__}: {e})") from None
    if a.ndim == 3:
        if mode == "LA" or a.shape[2] == 2:
            a = a[..., 0]
        elif a.shape[2] in (3, 4) and (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all():
            a = a[..., 0]
        else:
            raise ValueError(f"{path}: prediction must be a single-channel (grey) map, got mode {mode}")
    if mode == "P":
        raise ValueError(f"{path}: palette PNG is not a skeleton map (expected 8- or 16-bit grey)")
    return a


def _dir_task(args):
    pred_path, gt_path, thr, tolerance, nms = args
    from .gtio import read_skeleton_gt

    try:
        pred = _read_pred_png(Path(pred_path))
        gt = read_skeleton_gt(gt_path)
        if pred.shape != gt.skeleton.shape:
            return ("fail", str(pred_path),
                    f"size mismatch: prediction {pred.shape[1]}x{pred.shape[0]} (WxH) vs GT {gt_path} "
                    f"{gt.skeleton.shape[1]}x{gt.skeleton.shape[0]}")
        return ("ok", image_counts(pred, gt.skeleton, thr, tolerance=tolerance, nms=nms))
    except Exception as e:  # noqa: BLE001
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return ("fail", str(pred_path), msg)


GT_SUFFIXES = (".png", ".mat")


def evaluate_dirs(pred_dir: Union[str, Path], gt_dir: Union[str, Path], thresholds: Union[int, Sequence[float]] = 100,
                  tolerance: float = 0.01, nms: bool = True, workers: Optional[int] = None
                  ) -> Tuple[SkeletonEvalResult, List[Tuple[str, str]]]:
    """Evaluate a folder of 8- or 16-bit grey PNG skeleton maps against a GT folder (each map is divided by its
    maximum, so both scales read the same way; ``predict`` writes 16-bit maps).

    GT: ``*.png`` (SK-LARGE scale maps or binary) or ``*.mat`` (``symmetry``), read by
    :func:`structnet.skeleton.gtio.read_skeleton_gt`; when a stem has both, the PNG is used.  The prediction
    of GT ``<stem>`` is ``<pred_dir>/<stem>.png`` or ``<stem>_skeleton.png``.  A missing prediction, an
    unreadable file or a size mismatch becomes a ``(path, one-line reason)`` entry of the returned failure
    list; the other images are evaluated.  Returns ``(result, failures)``."""
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    if not gt_dir.is_dir():
        raise FileNotFoundError(f"evaluate_dirs: GT folder {gt_dir} does not exist")
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"evaluate_dirs: prediction folder {pred_dir} does not exist")
    thr = _as_thresholds(thresholds)
    gts: Dict[str, Path] = {}
    for suf in GT_SUFFIXES:
        for p in sorted(gt_dir.glob(f"*{suf}")):
            gts.setdefault(p.stem, p)
    if not gts:
        raise FileNotFoundError(f"evaluate_dirs: no .png or .mat ground truth in {gt_dir}")
    failures: List[Tuple[str, str]] = []
    tasks, names = [], []
    for stem in sorted(gts):
        pp = _find_pred(pred_dir, stem)
        if pp is None:
            failures.append((str(gts[stem]), f"no prediction {stem}.png or {stem}_skeleton.png in {pred_dir}"))
            continue
        tasks.append((str(pp), str(gts[stem]), thr, tolerance, nms))
        names.append(stem)
    results = _map(_dir_task, tasks, workers)
    counts, ok_names = [], []
    for name, res in zip(names, results):
        if res[0] == "ok":
            counts.append(res[1])
            ok_names.append(name)
        else:
            failures.append((res[1], res[2]))
    arr = np.array(counts, np.int64).reshape(-1, 4, len(thr))
    return summarize_counts(arr, thr, tolerance, nms, names=ok_names), failures


# ----------------------------------------------------------------------------------------------------------------
# object-segmentation metrics (paper Sec. IV-C, Tables VI-VII)
# ----------------------------------------------------------------------------------------------------------------


def _check_labels(pred: np.ndarray, gt: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"segment metrics: pred_labels {pred.shape} and gt_labels {gt.shape} must be equal (H, W)")
    for name, a in (("pred_labels", pred), ("gt_labels", gt)):
        if not np.issubdtype(a.dtype, np.integer) and a.dtype != bool:
            raise ValueError(f"segment metrics: {name} must be an integer label map, got dtype {a.dtype}")
        if a.size and a.min() < 0:
            raise ValueError(f"segment metrics: {name} has negative labels")
    return pred.astype(np.int64), gt.astype(np.int64)


def _overlaps(pred: np.ndarray, gt: np.ndarray):
    """Intersection matrix (n_gt+1, n_pred+1) and segment sizes (label 0 = background)."""
    ng, npd = int(gt.max(initial=0)), int(pred.max(initial=0))
    inter = np.bincount(gt.ravel() * (npd + 1) + pred.ravel(), minlength=(ng + 1) * (npd + 1))
    inter = inter.reshape(ng + 1, npd + 1)
    return inter, inter.sum(1), inter.sum(0)


def _segment_scores(pred_labels: np.ndarray, gt_labels: np.ndarray):
    """Per GT segment (present labels 1..n): size, best F, best IoU over predicted segments; and #pred segments."""
    pred, gt = _check_labels(pred_labels, gt_labels)
    inter, gsz, psz = _overlaps(pred, gt)
    gi = np.flatnonzero(gsz[1:] > 0) + 1
    pi = np.flatnonzero(psz[1:] > 0) + 1
    n_pred = len(pi)
    if len(gi) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0), n_pred
    if n_pred == 0:
        z = np.zeros(len(gi))
        return gsz[gi].astype(np.float64), z, z, 0
    it = inter[np.ix_(gi, pi)].astype(np.float64)
    gs, ps = gsz[gi][:, None].astype(np.float64), psz[pi][None, :].astype(np.float64)
    f = 2 * it / (gs + ps)                    # F of (precision it/ps, recall it/gs) = Dice
    iou = it / (gs + ps - it)
    return gsz[gi].astype(np.float64), f.max(1), iou.max(1), n_pred


def segment_f_measure(pred_labels: np.ndarray, gt_labels: np.ndarray) -> float:
    """For each GT segment the best F (= 2|g∩s|/(|g|+|s|)) over predicted segments, averaged over GT segments.
    Label maps int (H, W), 0 = background.  No GT segment -> nan."""
    _, f, _, _ = _segment_scores(pred_labels, gt_labels)
    return float(f.mean()) if len(f) else float("nan")


def covering(pred_labels: np.ndarray, gt_labels: np.ndarray) -> float:
    """Covering of the GT by the prediction, in %: ``100/N * sum_g |g| max_s IoU(g, s)``, N = sum_g |g|
    (GT segments only; background 0 is not a segment).  No GT segment -> nan."""
    sz, _, iou, _ = _segment_scores(pred_labels, gt_labels)
    return float(100.0 * (sz * iou).sum() / sz.sum()) if len(sz) else float("nan")


def count_segments(labels: np.ndarray) -> int:
    """Number of distinct non-zero labels present in a label map."""
    u = np.unique(np.asarray(labels))
    return int((u != 0).sum())


def evaluate_segments(pairs: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Dict[str, float]:
    """Dataset-level segmentation metrics over ``(pred_labels, gt_labels)`` pairs.

    ``f_measure``: best F per GT segment averaged over ALL GT segments of the dataset (the paper: "these F-scores
    are averaged over the whole dataset"); ``covering`` (%): per-image covering averaged over images with at
    least one GT segment; ``mean_segments``: mean number of predicted segments per image."""
    fs, covs, nseg = [], [], []
    for i, (p, g) in enumerate(pairs):
        try:
            sz, f, iou, n = _segment_scores(p, g)
        except ValueError as e:
            raise ValueError(f"evaluate_segments: pair {i}: {e}") from None
        fs.append(f)
        nseg.append(n)
        if len(sz):
            covs.append(100.0 * (sz * iou).sum() / sz.sum())
    allf = np.concatenate(fs) if fs else np.zeros(0)
    return {"f_measure": float(allf.mean()) if len(allf) else float("nan"),
            "covering": float(np.mean(covs)) if covs else float("nan"),
            "mean_segments": float(np.mean(nseg)) if nseg else float("nan"),
            "n_images": len(nseg), "n_gt_segments": int(len(allf))}
