"""Keypoint evaluation as pure numpy functions: PCK, MPII PCKh (four published variants by name), LSP torso PCK,
AUC of the PCK curve and per-joint tables for READMEs.

Conventions (all functions)
---------------------------
* Coordinates are pixels ``(x, y)``: x = column (to the right), y = row (down), origin top-left, pixel centres at
  integer coordinates. ``pred`` and ``gt`` must be in the same frame. The raw MPII annotations (annolist,
  ``pos_gt_src``, ``valid.h5``) are 1-based MATLAB coordinates: HRNet and mmpose add 1 to their 0-based predictions
  before scoring, and so must a caller that scores 0-based predictions against raw MPII ground truth.
* Shapes: ``pred``, ``gt`` ``(N, K, 2)`` (N persons, K joints); ``visible`` ``(N, K)`` bool, True for the joints
  that are *scored* (for MPII: annotated, i.e. ``~jnt_missing``; occluded but annotated joints are scored);
  ``norm`` ``(N,)`` the per-person normaliser in pixels.
* Distance: ``d = ||pred - gt||_2``; the normalised distance ``d / norm`` is formed by division, as the reference
  scripts do, so boundary cases round the same way. A joint is correct when ``d / norm < t`` (``strict=True``) or
  ``d / norm <= t`` (``strict=False``). The comparison is always a named argument; each protocol below states
  which one its reference script uses.
* Joints with ``visible == False`` are left out of numerator and denominator. A NaN prediction of a scored joint
  counts as wrong (MPII's ``evaluatePCKh.m`` replaces NaN predictions by inf). A scored joint needs a finite GT
  position, and every person with at least one scored joint a finite normaliser > 0 (else ``ValueError``).
* Results are fractions in [0, 1] (the reference scripts print percent; :func:`per_joint_table` scales by 100).
* Per joint: ``correct / scored`` over persons; NaN for a joint with no scored instance.
* Mean (``average=``): ``"joints"``: the unweighted mean of the per-joint values over the joints that count (those in
  ``mean_over`` with at least one scored instance); ``"pooled"``: all scored (person, joint) pairs of those joints
  together, which equals the mean of the per-joint values weighted by their counts (``jnt_count``).

Protocols
---------
* **MPII PCKh** (:func:`pckh`): normaliser ``0.6 x`` the head-box diagonal (:func:`head_normalizer`; ``SC_BIAS =
  0.6`` of ``util_get_head_size.m``), thresholds 0.5 (PCKh@0.5) and 0.1; pelvis and thorax are never in the mean.
  ``protocol=`` picks the reference implementation (see :data:`PCKH_PROTOCOLS`).
* **LSP PCK@0.2** (:func:`pck_torso`): normaliser = torso size, the distance between the two GT joints of the
  layout's ``torso`` pair; ``<=`` and the pooled mean, as in the LSP ``eval_pck.m`` (Sapp & Taskar definition).
  That script measures the torso between ``joints.mat`` joints 10 and 3 (1-based), i.e. ``left_shoulder`` and
  ``right_hip`` of the ``lsp14`` order; ``torso=("left_shoulder", "right_hip")`` reproduces it whatever the
  layout file says (the two torso diagonals differ for people not facing the camera).
* **AUC** (:func:`auc`): the area under the mean-PCK curve over thresholds ``0 .. max_threshold``, divided by
  ``max_threshold`` (so in [0, 1]): MPII's ``area_under_curve(scale01(range), pck)`` with ``range = 0:0.01:0.5``
  (51 thresholds, linear interpolation = the trapezoid rule). LSP's ``eval_pck.m`` uses ``0:0.01:0.2``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .layouts import KeypointLayout, get_layout

__all__ = [
    "AVERAGES", "PCKH_PROTOCOLS", "PCKhProtocol", "MPII_EXCLUDED", "TABLE_GROUPS", "DEFAULT_HEAD_JOINTS",
    "normalized_distances", "correct_mask", "pck", "pck_curve", "area_under_curve", "auc", "head_normalizer",
    "pckh", "pckh_summary", "torso_normalizer", "pck_torso", "per_joint_table", "markdown_table",
]

LayoutLike = Union[str, KeypointLayout]

#: How a mean over joints is formed (see the module docstring).
AVERAGES = ("joints", "pooled")


@dataclass(frozen=True)
class PCKhProtocol:
    """One reference implementation of MPII PCKh: comparison, averaging and the joints of the ``Head`` column."""
    name: str
    strict: bool            # True: d / norm < t; False: d / norm <= t
    average: str            # "joints" (unweighted over joints) or "pooled" (= weighted by joint counts)
    head: Tuple[str, ...]   # joints averaged into the "Head" column of the summary table
    source: str


#: The MPII PCKh variants, verified against their code. All use the 0.6 x head-diagonal normaliser, score the
#: annotated joints (``jnt_visible = 1 - jnt_missing``; occluded-but-annotated joints are scored) and leave pelvis
#: and thorax out of the mean. Shoulder..Ankle columns are always ``0.5 * (left + right)``.
#:
#: * ``official``: ``eval_PCKh.py`` (Tompson's ``evaluate.m`` ported to Python; the script distributed with the
#:   stacked-hourglass code bases, e.g. bearpaw/pytorch-pose ``evaluation/eval_PCKh.py``,
#:   anibali/pytorch-stacked-hourglass): ``scaled_uv_err < threshold`` (strict), ``Mean = np.mean(PCKh)`` with
#:   pelvis and thorax masked, i.e. the *unweighted* mean of the 14 per-joint values (upper neck is in the mean but
#:   in no column); ``Head`` = head top only.
#: * ``matlab``: the MPII benchmark's own ``evaluatePCKh.m`` / ``computePCK.m`` / ``genTablePCK.m`` (evalMPII
#:   toolkit, Andriluka et al.; its GT matrix has the 14 joints without pelvis and thorax): ``dist <= range(k)``,
#:   ``Total`` pooled over all 14 joints, ``Head = (upper neck + head top) / 2``; its AUC is over the pooled curve
#:   at ``range = 0:0.01:0.5``.
#: * ``hrnet``: HRNet ``lib/dataset/mpii.py::evaluate`` (also mmpose 0.x ``TopDownMpiiDataset``):
#:   ``scaled_uv_err <= threshold``, ``Mean = sum(PCKh * jnt_ratio)`` with ``jnt_ratio = jnt_count / sum`` over the
#:   14 joints (= pooled); ``Head`` = head top. Its printed ``Mean@0.1`` is ``pckAll[11]`` of
#:   ``np.arange(0, 0.51, 0.01)``, i.e. taken at threshold **0.11**; pass ``threshold=0.11`` to reproduce that
#:   number (this module does not copy the off-by-one).
#: * ``mmpose``: mmpose 1.x ``MpiiPCKAccuracy`` (``keypoint_pck_accuracy`` / ``_distance_acc``): ``distance < thr``
#:   (strict), ``PCKh`` weighted by ``jnt_count`` over the 14 joints (= pooled), ``PCKh@0.1`` at 0.10 exactly;
#:   ``Head`` = head top; its mask is the annotation's ``keypoints_visible`` (mmpose drops persons whose
#:   normaliser is 0 where this module raises ``ValueError``).
PCKH_PROTOCOLS: Dict[str, PCKhProtocol] = {
    "official": PCKhProtocol("official", True, "joints", ("head_top",), "eval_PCKh.py (Tompson / stacked hourglass)"),
    "matlab": PCKhProtocol("matlab", False, "pooled", ("upper_neck", "head_top"), "MPII evalMPII evaluatePCKh.m"),
    "hrnet": PCKhProtocol("hrnet", False, "pooled", ("head_top",), "HRNet lib/dataset/mpii.py evaluate"),
    "mmpose": PCKhProtocol("mmpose", True, "pooled", ("head_top",), "mmpose 1.x MpiiPCKAccuracy"),
}

#: Joints every MPII protocol leaves out of the mean (``PCKh.mask[6:8] = True``).
MPII_EXCLUDED = ("pelvis", "thorax")

#: Columns of :func:`per_joint_table` after ``Head``: (column, joint names averaged), the order of the MPII table.
TABLE_GROUPS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("Shoulder", ("left_shoulder", "right_shoulder")),
    ("Elbow", ("left_elbow", "right_elbow")),
    ("Wrist", ("left_wrist", "right_wrist")),
    ("Hip", ("left_hip", "right_hip")),
    ("Knee", ("left_knee", "right_knee")),
    ("Ankle", ("left_ankle", "right_ankle")),
)

#: Joints of the ``Head`` column per built-in layout: MPII's eval_PCKh.py / HRNet / mmpose use the head top; the LSP
#: ``eval_pck.m`` averages the symmetric pair (neck, head top); for COCO (no published PCK table) the five face
#: keypoints.
DEFAULT_HEAD_JOINTS: Dict[str, Tuple[str, ...]] = {
    "mpii16": ("head_top",),
    "lsp14": ("neck", "head_top"),
    "coco17": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
}


# ----------------------------------------------------------------------------------------------- checks
def _as_points(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 2:
        raise ValueError(f"{name} must have shape (N, K, 2), got {a.shape}")
    return a


def _check(pred, gt, visible, norm=None) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    pred = _as_points("pred", pred)
    gt = _as_points("gt", gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must have the same shape (N, K, 2)")
    vis = np.asarray(visible)
    if vis.shape != gt.shape[:2]:
        raise ValueError(f"visible must have shape (N, K) = {gt.shape[:2]}, got {vis.shape}")
    if vis.dtype != bool:
        if not np.isin(vis, (0, 1)).all():
            raise ValueError("visible must be boolean (or 0/1): True for the joints that are scored")
        vis = vis.astype(bool)
    bad_gt = vis & ~np.isfinite(gt).all(-1)
    if bad_gt.any():
        n, k = np.argwhere(bad_gt)[0]
        raise ValueError(f"gt has a non-finite position for a scored joint (person {n}, joint {k}); "
                         f"mark missing joints visible=False")
    if norm is None:
        return pred, gt, vis, None
    norm = np.asarray(norm, dtype=np.float64)
    if norm.ndim == 0:
        norm = np.full(gt.shape[0], float(norm))
    if norm.shape != (gt.shape[0],):
        raise ValueError(f"norm must have shape (N,) = ({gt.shape[0]},), got {norm.shape}")
    bad = vis.any(1) & ~(np.isfinite(norm) & (norm > 0))
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(f"norm must be finite and > 0 for every person with a scored joint; person(s) "
                         f"{', '.join(map(str, idx[:5]))}{' ...' if idx.size > 5 else ''} have {norm[idx[0]]!r}")
    return pred, gt, vis, norm


def _check_threshold(t, name: str = "threshold") -> float:
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {t!r}")
    return t


def _check_average(average: str) -> str:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {', '.join(AVERAGES)}, got {average!r}")
    return average


def _joint_mask(k: int, mean_over) -> np.ndarray:
    sel = np.zeros(k, bool)
    if mean_over is None:
        sel[:] = True
        return sel
    idx = np.asarray(list(mean_over), dtype=np.int64)
    if idx.size and (idx.min() < -k or idx.max() >= k):
        raise ValueError(f"mean_over: joint index out of range for {k} joints: {list(mean_over)}")
    sel[idx] = True
    return sel


# ----------------------------------------------------------------------------------------------- core
def normalized_distances(pred, gt, visible, norm) -> np.ndarray:
    """``(N, K)`` float64: ``||pred - gt|| / norm`` for scored joints (inf where the prediction is NaN), NaN for
    joints with ``visible == False``."""
    pred, gt, vis, norm = _check(pred, gt, visible, norm)
    d = np.sqrt(((pred - gt) ** 2).sum(-1))
    d = np.where(np.isnan(d), np.inf, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d / norm[:, None]
    return np.where(vis, out, np.nan)


def _correct(dist: np.ndarray, thresholds: np.ndarray, strict: bool) -> np.ndarray:
    """dist (N, K) with NaN = not scored; thresholds (T,) -> (T, N, K) bool (NaN compares False)."""
    t = thresholds[:, None, None]
    with np.errstate(invalid="ignore"):
        return dist[None] < t if strict else dist[None] <= t


def correct_mask(pred, gt, visible, norm, threshold: float = 0.2, *, strict: bool = False) -> np.ndarray:
    """``(N, K)`` bool: scored joints within ``threshold x norm`` (False for joints that are not scored)."""
    t = _check_threshold(threshold)
    return _correct(normalized_distances(pred, gt, visible, norm), np.array([t]), bool(strict))[0]


def _summarise(ok: np.ndarray, scored: np.ndarray, average: str, sel: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """ok (T, N, K), scored (N, K), sel (K,) -> per_joint (T, K) with NaN for unscored joints, mean (T,)."""
    n_ok = ok.sum(1).astype(np.float64)                      # (T, K)
    n = scored.sum(0).astype(np.float64)                     # (K,)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_joint = np.where(n > 0, n_ok / np.maximum(n, 1), np.nan)
    counted = sel & (n > 0)
    if not counted.any():
        return per_joint, np.full(ok.shape[0], np.nan)
    if average == "joints":
        mean = per_joint[:, counted].mean(1)
    else:
        mean = n_ok[:, counted].sum(1) / n[counted].sum()
    return per_joint, mean


def pck(pred, gt, visible, norm, threshold: float = 0.2, *, strict: bool = False, average: str = "joints",
        mean_over: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, float]:
    """Percentage of correct keypoints.

    pred, gt: ``(N, K, 2)``; visible: ``(N, K)`` bool (scored joints); norm: ``(N,)`` normaliser in px (a scalar is
    broadcast). ``threshold`` (default 0.2, the PCK@0.2 of LSP/FLIC): a joint is correct when ``d / norm <= t``
    (``strict=False``, default, the LSP / FLIC ``eval_pck.m`` convention) or ``< t`` (``strict=True``, MPII's
    ``eval_PCKh.py``). ``average``: ``"joints"`` (default; the unweighted mean over the joints that have a scored
    instance, as mmpose's ``keypoint_pck_accuracy``) or ``"pooled"`` (all scored instances together = per-joint
    values weighted by counts). ``mean_over``: joint indices that enter the mean (default all; per-joint values are
    returned for every joint).

    Returns ``(per_joint (K,), mean)`` as fractions in [0, 1]; per-joint NaN for a joint without a scored instance,
    mean NaN when no joint counts.
    """
    t = _check_threshold(threshold)
    average = _check_average(average)
    dist = normalized_distances(pred, gt, visible, norm)
    per_joint, mean = _summarise(_correct(dist, np.array([t]), bool(strict)), ~np.isnan(dist), average,
                                 _joint_mask(dist.shape[1], mean_over))
    return per_joint[0], float(mean[0])


def pck_curve(pred, gt, visible, norm, thresholds: Sequence[float], *, strict: bool = False,
              average: str = "pooled", mean_over: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """PCK at several thresholds: ``(per_joint (T, K), mean (T,))`` (same rules as :func:`pck`; ``average``
    defaults to ``"pooled"``, the curve MPII and LSP integrate for their AUC)."""
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if th.size == 0:
        raise ValueError("thresholds must not be empty")
    for t in th:
        _check_threshold(t, "thresholds")
    average = _check_average(average)
    dist = normalized_distances(pred, gt, visible, norm)
    return _summarise(_correct(dist, th, bool(strict)), ~np.isnan(dist), average,
                      _joint_mask(dist.shape[1], mean_over))


def area_under_curve(thresholds: Sequence[float], values: Sequence[float]) -> float:
    """Normalised area under a curve sampled at increasing ``thresholds``: the trapezoid rule (= the integral of
    the linear interpolation, MPII's ``area_under_curve`` with ``quadgk(interp1(..))``) divided by the threshold
    range, so a curve that is 1 everywhere has area 1. NaN values give NaN."""
    x = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"thresholds {x.shape} and values {y.shape} must have the same length")
    if x.size < 2 or not (np.diff(x) > 0).all():
        raise ValueError("thresholds must be at least two strictly increasing values")
    return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2.0 / (x[-1] - x[0]))


def auc(pred, gt, visible, norm, max_threshold: float = 0.5, num_thresholds: int = 51, *, strict: bool = False,
        average: str = "pooled", mean_over: Optional[Sequence[int]] = None) -> float:
    """Area under the mean-PCK curve over ``num_thresholds`` evenly spaced thresholds ``0 .. max_threshold``
    (defaults 0.5 and 51, i.e. steps of 0.01: MPII's ``range = 0:0.01:0.5``; LSP's ``eval_pck.m`` uses 0.2 and 21),
    normalised by ``max_threshold`` (:func:`area_under_curve`): a fraction in [0, 1]. Defaults (``<=``, pooled
    mean) are those of MPII's ``evaluatePCKh.m``; pass ``mean_over`` to leave joints out (MPII: pelvis, thorax)."""
    m = _check_threshold(max_threshold, "max_threshold")
    if m <= 0:
        raise ValueError(f"max_threshold must be > 0, got {m!r}")
    if int(num_thresholds) != num_thresholds or num_thresholds < 2:
        raise ValueError(f"num_thresholds must be an integer >= 2, got {num_thresholds!r}")
    th = np.linspace(0.0, m, int(num_thresholds))
    _, mean = pck_curve(pred, gt, visible, norm, th, strict=strict, average=average, mean_over=mean_over)
    return area_under_curve(th, mean)


# ----------------------------------------------------------------------------------------------- MPII PCKh
def head_normalizer(headbox, sc_bias: float = 0.6) -> np.ndarray:
    """PCKh normaliser ``sc_bias x ||(x2 - x1, y2 - y1)||`` (MPII ``util_get_head_size.m``, ``SC_BIAS = 0.6``).

    headbox: ``(N, 2, 2)`` ``[[x1, y1], [x2, y2]]`` (top-left and bottom-right corners; ``valid.npz`` ``headbox``,
    the transposed ``headboxes_src``) or ``(N, 4)`` ``x1, y1, x2, y2`` (annolist ``annorect``). Returns ``(N,)``."""
    hb = np.asarray(headbox, dtype=np.float64)
    if hb.ndim == 2 and hb.shape[1] == 4:
        hb = hb.reshape(-1, 2, 2)
    if hb.ndim != 3 or hb.shape[1:] != (2, 2):
        raise ValueError(f"headbox must have shape (N, 2, 2) [[x1, y1], [x2, y2]] or (N, 4), got {hb.shape}")
    sc_bias = float(sc_bias)
    if not np.isfinite(sc_bias) or sc_bias <= 0:
        raise ValueError(f"sc_bias must be a finite number > 0, got {sc_bias!r}")
    return sc_bias * np.sqrt(((hb[:, 1] - hb[:, 0]) ** 2).sum(-1))


def _protocol(protocol: str) -> PCKhProtocol:
    if protocol not in PCKH_PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PCKH_PROTOCOLS)}, got {protocol!r}")
    return PCKH_PROTOCOLS[protocol]


def _layout_for(layout: LayoutLike, k: int) -> KeypointLayout:
    lay = get_layout(layout)
    if lay.num_joints != k:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints but the keypoints have {k}")
    return lay


def _pckh_norm(headbox, norm, sc_bias: float) -> np.ndarray:
    if (headbox is None) == (norm is None):
        raise ValueError("pass exactly one of headbox (head boxes) or norm (precomputed PCKh normaliser)")
    return head_normalizer(headbox, sc_bias) if norm is None else np.asarray(norm, dtype=np.float64)


def pckh(pred, gt, visible, headbox=None, threshold: float = 0.5, *, protocol: str = "official",
         norm=None, sc_bias: float = 0.6, layout: LayoutLike = "mpii16",
         exclude: Sequence[str] = MPII_EXCLUDED) -> Tuple[np.ndarray, float]:
    """MPII PCKh@``threshold`` (0.5 default; 0.1 is the other published threshold).

    pred, gt ``(N, 16, 2)`` in the MPII joint order (``layout``); visible ``(N, 16)``: the annotated joints
    (``~jnt_missing``; **not** MPII's ``is_visible`` flag, which also marks occluded joints 0: every protocol scores
    occluded joints); headbox ``(N, 2, 2)`` or ``(N, 4)`` (:func:`head_normalizer` with ``sc_bias`` 0.6), or
    ``norm=`` ``(N,)`` the precomputed normaliser (``valid.npz`` ``normalize``). ``protocol``: ``"official"``
    (default: ``eval_PCKh.py``, strict ``<``, unweighted mean), ``"matlab"``, ``"hrnet"`` or ``"mmpose"`` (see
    :data:`PCKH_PROTOCOLS` for what each one does). ``exclude``: joint names left out of the mean (pelvis, thorax).

    Returns ``(per_joint (16,), mean)``: per-joint values for all 16 joints (pelvis and thorax included, NaN for a
    joint never annotated), the mean over the others formed as the protocol does.
    """
    p = _protocol(protocol)
    gt = _as_points("gt", gt)
    lay = _layout_for(layout, gt.shape[1])
    excl = {lay.index(n) for n in exclude}
    keep = [k for k in range(lay.num_joints) if k not in excl]
    return pck(pred, gt, visible, _pckh_norm(headbox, norm, sc_bias), threshold, strict=p.strict,
               average=p.average, mean_over=keep)


def pckh_summary(pred, gt, visible, headbox=None, *, protocol: str = "official", norm=None, sc_bias: float = 0.6,
                 thresholds: Tuple[float, float] = (0.5, 0.1), auc_max: float = 0.5, auc_thresholds: int = 51,
                 layout: LayoutLike = "mpii16", exclude: Sequence[str] = MPII_EXCLUDED) -> Dict[str, float]:
    """The MPII results table of a protocol, as fractions: ``Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle`` and
    ``Mean`` at ``thresholds[0]`` (0.5), ``Mean@0.1`` at ``thresholds[1]`` (key named after the value) and ``AUC``
    over ``0 .. auc_max`` (51 thresholds, step 0.01; :func:`auc` with the protocol's comparison and averaging, the
    excluded joints left out; under ``"matlab"`` this is exactly the MPII benchmark AUC)."""
    p = _protocol(protocol)
    gt = _as_points("gt", gt)
    lay = _layout_for(layout, gt.shape[1])
    nrm = _pckh_norm(headbox, norm, sc_bias)
    excl = {lay.index(n) for n in exclude}
    keep = [k for k in range(lay.num_joints) if k not in excl]
    if len(thresholds) != 2:
        raise ValueError(f"thresholds must be two values (main, secondary), got {thresholds!r}")
    per_joint, mean = pck(pred, gt, visible, nrm, thresholds[0], strict=p.strict, average=p.average,
                          mean_over=keep)
    _, mean2 = pck(pred, gt, visible, nrm, thresholds[1], strict=p.strict, average=p.average, mean_over=keep)
    out = dict(per_joint_table(per_joint, lay, mean, head=p.head, scale=1.0))
    out[f"Mean@{thresholds[1]:g}"] = mean2
    out["AUC"] = auc(pred, gt, visible, nrm, auc_max, auc_thresholds, strict=p.strict, average=p.average,
                     mean_over=keep)
    return out


# ----------------------------------------------------------------------------------------------- LSP torso PCK
def _torso_pair(lay: KeypointLayout, torso) -> Tuple[int, int]:
    if torso is None:
        if lay.torso is None:
            raise ValueError(f"layout {lay.name!r} defines no torso pair; pass torso=(joint_a, joint_b)")
        return lay.torso
    if len(torso) != 2:
        raise ValueError(f"torso must be two joints (names or indices), got {torso!r}")
    return tuple(lay.index(j) if isinstance(j, str) else int(j) for j in torso)  # type: ignore[return-value]


def torso_normalizer(gt, visible=None, *, layout: LayoutLike = "lsp14", torso=None) -> np.ndarray:
    """Torso size per person, ``(N,)``: the GT distance between the two joints of ``torso`` (names or indices;
    default the layout's ``torso`` pair). NaN where either joint is not visible (when ``visible`` is given), a
    position is not finite, or the two coincide (no usable normaliser)."""
    gt = _as_points("gt", gt)
    lay = _layout_for(layout, gt.shape[1])
    a, b = _torso_pair(lay, torso)
    size = np.sqrt(((gt[:, a] - gt[:, b]) ** 2).sum(-1))
    ok = np.isfinite(size) & (size > 0)
    if visible is not None:
        vis = np.asarray(visible)
        if vis.shape != gt.shape[:2]:
            raise ValueError(f"visible must have shape (N, K) = {gt.shape[:2]}, got {vis.shape}")
        vis = vis.astype(bool)
        ok &= vis[:, a] & vis[:, b]
    return np.where(ok, size, np.nan)


def pck_torso(pred, gt, visible, threshold: float = 0.2, *, layout: LayoutLike = "lsp14", torso=None,
              strict: bool = False, average: str = "pooled", missing_torso: str = "skip"
              ) -> Tuple[np.ndarray, float]:
    """LSP PCK@``threshold`` (0.2) normalised by torso size (:func:`torso_normalizer`, the layout's torso pair).

    Defaults follow the LSP ``eval_pck.m``: ``<=`` (``strict=False``) and the pooled mean over all joints; its
    torso is ``norm(gt(:,10) - gt(:,3))`` = ``lsp14`` ``left_shoulder`` to ``right_hip`` (pass ``torso=`` to choose
    the pair explicitly; None takes the layout's ``torso``).
    ``missing_torso``: what to do with persons whose torso cannot be measured (a torso joint not visible, or zero
    length; LSP-extended has many): ``"skip"`` (default) leaves all their joints out, ``"error"`` raises.
    Returns ``(per_joint (K,), mean)`` as :func:`pck`.
    """
    if missing_torso not in ("skip", "error"):
        raise ValueError(f"missing_torso must be 'skip' or 'error', got {missing_torso!r}")
    pred, gt, vis, _ = _check(pred, gt, visible)
    nrm = torso_normalizer(gt, vis, layout=layout, torso=torso)
    bad = np.isnan(nrm) & vis.any(1)
    if bad.any():
        if missing_torso == "error":
            idx = np.flatnonzero(bad)
            raise ValueError(f"torso size not measurable for person(s) {', '.join(map(str, idx[:5]))}"
                             f"{' ...' if idx.size > 5 else ''} (torso joint not visible or zero length)")
        vis = vis & ~bad[:, None]
    return pck(pred, gt, vis, nrm, threshold, strict=strict, average=average)


# ----------------------------------------------------------------------------------------------- tables
def per_joint_table(per_joint, layout: LayoutLike, mean: Optional[float] = None, *,
                    head: Optional[Sequence[str]] = None, scale: float = 100.0) -> List[Tuple[str, float]]:
    """README rows ``[("Head", v), ("Shoulder", v), ("Elbow", v), ("Wrist", v), ("Hip", v), ("Knee", v),
    ("Ankle", v), ("Mean", v)]`` from per-joint values (K,) of ``layout``, multiplied by ``scale`` (100: percent).

    Each column averages its joints (left and right: ``0.5 * (L + R)`` as every reference script; NaN members are
    skipped, NaN if all are). ``head``: joint names of the Head column (default :data:`DEFAULT_HEAD_JOINTS` of the
    layout: MPII head top, LSP neck + head top). A column whose joints the layout lacks is left out. ``mean``: the
    protocol's mean (from :func:`pck` / :func:`pckh`); None: the unweighted mean of all non-NaN per-joint values.
    """
    lay = get_layout(layout)
    v = np.asarray(per_joint, dtype=np.float64)
    if v.shape != (lay.num_joints,):
        raise ValueError(f"per_joint must have shape ({lay.num_joints},) for layout {lay.name!r}, got {v.shape}")
    if head is None:
        if lay.name not in DEFAULT_HEAD_JOINTS:
            raise ValueError(f"layout {lay.name!r} has no default Head joints; pass head=(joint names)")
        head = DEFAULT_HEAD_JOINTS[lay.name]
    rows: List[Tuple[str, float]] = []
    names = set(lay.joints)
    for col, members in (("Head", tuple(head)),) + TABLE_GROUPS:
        if col == "Head":
            for j in members:
                lay.index(j)  # unknown head joint names are an error (KeyError naming the joint)
        elif not set(members) <= names:
            continue
        vals = v[[lay.index(j) for j in members]]
        vals = vals[~np.isnan(vals)]
        rows.append((col, float(vals.mean()) * scale if vals.size else float("nan")))
    if mean is None:
        finite = v[~np.isnan(v)]
        mean = float(finite.mean()) if finite.size else float("nan")
    rows.append(("Mean", float(mean) * scale))
    return rows


def markdown_table(tables: Mapping[str, Sequence[Tuple[str, float]]], decimals: int = 1,
                   first_column: str = "Model") -> str:
    """A Markdown table, one row per entry of ``tables`` (name -> rows of :func:`per_joint_table`, all with the same
    columns), values with ``decimals`` decimals (NaN printed as ``-``)."""
    if not tables:
        raise ValueError("tables must not be empty")
    cols = None
    lines = []
    for name, rows in tables.items():
        c = [r[0] for r in rows]
        if cols is None:
            cols = c
            lines.append("| " + " | ".join([first_column] + cols) + " |")
            lines.append("|" + "---|" * (len(cols) + 1))
        elif c != cols:
            raise ValueError(f"table {name!r} has columns {c}, expected {cols}")
        cells = ["-" if np.isnan(x) else f"{x:.{int(decimals)}f}" for _, x in rows]
        lines.append("| " + " | ".join([str(name)] + cells) + " |")
    return "\n".join(lines)
