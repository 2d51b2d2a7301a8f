"""Whether each joint is in the photo: a calibrated visibility from the heatmap peak.

A pose model trained with ``data.absent_weight > 0`` learns an all-zero heatmap for a joint its window does not
show (LSP / LSPET mark exactly the joints outside the photo as not visible), so the peak value (the joint's
``score``) says how likely the joint is in the photo. :func:`fit_calibration` fits ``p = sigmoid(a * score + b)``
(logistic regression, Newton's method) on a validation split's peaks against "this joint is annotated in the
photo"; :func:`choose_threshold` picks the flag's threshold on that probability: the highest that still keeps
:data:`KEEP_VISIBLE` (90 %) of the visible joints (with 1 absent joint in 8 and a weak peak, a flag at
``p >= 0.5`` would call every joint visible, and the threshold of Youden's J hid 30 % of the visible ones). The
pose model's metadata stores ``{"a", "b", "threshold"}`` under ``visibility`` and predictions then carry ``visibility`` (the probability) and ``visible`` (``p >= threshold``) per joint. Overlays
draw only visible joints.

Models without a stored calibration report ``visibility = score`` (clipped to [0, 1]) and call a joint visible
when its score is at least :data:`UNCALIBRATED_THRESHOLD` (the overlay's earlier drawing rule).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

__all__ = ["VISIBLE_AT", "KEEP_VISIBLE", "UNCALIBRATED_THRESHOLD", "fit_calibration", "choose_threshold",
           "joint_visibility", "flag_metrics", "calibration_from_metadata"]

#: A joint is reported visible when its calibrated visibility is at least this (a calibration without a threshold).
VISIBLE_AT = 0.5
#: :func:`choose_threshold`: the fraction of visible joints the flag keeps on the calibration joints.
KEEP_VISIBLE = 0.9
#: Without a calibration: a joint is visible when its heatmap peak is at least this.
UNCALIBRATED_THRESHOLD = 0.2


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_calibration(scores, labels, iterations: int = 50, ridge: float = 1e-6) -> Dict[str, float]:
    """``{"a", "b"}`` of the logistic regression ``P(label) = sigmoid(a * score + b)`` (maximum likelihood,
    Newton's method with a tiny ridge so that separable data stays finite). scores, labels: same-shape arrays
    (labels 0 / 1 or bool); non-finite scores are left out. ValueError when a class is missing."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, np.float64).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same size, got {s.size} and {y.size}")
    ok = np.isfinite(s)
    s, y = s[ok], y[ok]
    if s.size == 0 or y.min() == y.max():
        raise ValueError("fit_calibration needs both visible and absent joints")
    x = np.stack([s, np.ones_like(s)], 1)
    w = np.zeros(2)
    for _ in range(iterations):
        p = _sigmoid(x @ w)
        g = x.T @ (p - y) + ridge * w
        h = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"a": float(w[0]), "b": float(w[1])}


def choose_threshold(probabilities, labels, keep: float = KEEP_VISIBLE) -> float:
    """The flag threshold on calibrated probabilities: the highest value that keeps at least ``keep`` of the
    visible joints (labels True) at or above it. ValueError without visible joints or with ``keep`` outside
    (0, 1]."""
    p = np.asarray(probabilities, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    ok = np.isfinite(p)
    p, y = p[ok], y[ok]
    if not y.any():
        raise ValueError("choose_threshold needs visible joints")
    if not 0.0 < float(keep) <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    v = np.sort(p[y])[::-1]                     # visible probabilities, highest first
    return float(v[max(0, int(np.ceil(float(keep) * len(v))) - 1)])


def calibration_from_metadata(meta: Mapping[str, Any]) -> Optional[Dict[str, float]]:
    """The ``visibility`` calibration of a model's metadata, or None when it has none (or a malformed one)."""
    v = meta.get("visibility") if isinstance(meta, Mapping) else None
    if not isinstance(v, Mapping):
        return None
    try:
        a, b, t = float(v["a"]), float(v["b"]), float(v.get("threshold", VISIBLE_AT))
    except (KeyError, TypeError, ValueError):
        return None
    return {"a": a, "b": b, "threshold": t} if np.isfinite([a, b, t]).all() else None


def joint_visibility(scores, calibration: Optional[Mapping[str, float]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(visibility, visible)`` per joint from the peak scores: the calibrated probability and ``>=`` its
    ``threshold`` (default :data:`VISIBLE_AT`), or without a calibration the clipped score and ``>=``
    :data:`UNCALIBRATED_THRESHOLD`.
    Non-finite scores give visibility 0 (not visible)."""
    s = np.asarray(scores, np.float64)
    finite = np.isfinite(s)
    s0 = np.where(finite, s, 0.0)
    if calibration is None:
        vis = np.clip(s0, 0.0, 1.0)
        flag = finite & (s0 >= UNCALIBRATED_THRESHOLD)
    else:
        vis = _sigmoid(float(calibration["a"]) * s0 + float(calibration["b"]))
        flag = finite & (vis >= float(calibration.get("threshold", VISIBLE_AT)))
    vis = np.where(finite, vis, 0.0)
    return vis, flag


def flag_metrics(flags, labels) -> Dict[str, float]:
    """Precision and recall of the ``visible`` flags against the labels (True = the joint is in the photo), and
    the same for the absent class (``absent_precision`` / ``absent_recall``: a flag of "not in the photo")."""
    f = np.asarray(flags, bool).ravel()
    y = np.asarray(labels, bool).ravel()

    def pr(pred, true):
        tp = float(np.sum(pred & true))
        return (tp / max(float(pred.sum()), 1.0), tp / max(float(true.sum()), 1.0))

    p, r = pr(f, y)
    ap, ar = pr(~f, ~y)
    return {"precision": p, "recall": r, "absent_precision": ap, "absent_recall": ar,
            "n_visible": int(y.sum()), "n_absent": int((~y).sum())}
