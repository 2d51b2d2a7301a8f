"""Per-image pose outputs: ``<name>_pose2d.json`` (joint names, x, y, score in image pixels) and
``<name>_pose2d_overlay.png`` (the skeleton drawn on the photo), written atomically (:mod:`structnet.data.io`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..checks import finite_number
from ..data.io import write_json, write_png
from ..keypoints.layouts import KeypointLayout, get_layout
from .inference import DEFAULT_DRAW_THRESHOLD

__all__ = ["pose_to_json", "draw_pose_overlay", "write_result", "LEFT_COLOUR", "RIGHT_COLOUR",
           "CENTRE_COLOUR"]

#: Overlay colours (RGB): the person's left side, right side, and joints / bones on neither or both sides.
LEFT_COLOUR = (40, 120, 255)
RIGHT_COLOUR = (255, 60, 40)
CENTRE_COLOUR = (40, 220, 60)


def _as_kp_scores(keypoints, scores, k: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 2 or (k is not None and kp.shape[0] != k):
        want = f"({k}, 2)" if k is not None else "(K, 2)"
        raise ValueError(f"keypoints must be {want}, got shape {kp.shape}")
    sc = np.ones(kp.shape[0]) if scores is None else np.asarray(scores, dtype=np.float64)
    if sc.shape != (kp.shape[0],):
        raise ValueError(f"scores must have shape ({kp.shape[0]},), got {sc.shape}")
    return kp, sc


def _num(v: float) -> Optional[float]:
    v = float(v)
    return v if math.isfinite(v) else None


def pose_to_json(result: Mapping[str, Any], image_path, width: int, height: int, layout) -> Dict[str, Any]:
    """The per-image pose record: ``{"image": str(image_path), "width", "height", "joints": [{"name", "x", "y",
    "score", "visibility", "visible"}, ...]}`` with one joint per layout joint, in layout order (LSP models:
    right_ankle ... head_top); ``x``, ``y`` image pixels (pixel centres at integers), plain Python floats
    (non-finite values become null). When the result has them: ``visibility`` per joint (the probability that the
    joint is in the photo, :mod:`structnet.pose2d.visibility`) and ``visible`` (its flag), and at the top level
    ``visibility`` (``"calibrated"``, or ``"score"`` for a model without a calibration), ``window`` (the window
    that gave the joints) and ``person_box`` (the person model's box, pixels)."""
    lay = get_layout(layout)
    kp, sc = _as_kp_scores(result["keypoints"], result["scores"], lay.num_joints)
    wd, ht = int(width), int(height)
    if wd < 1 or ht < 1:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    joints = [{"name": n, "x": _num(kp[i, 0]), "y": _num(kp[i, 1]), "score": _num(sc[i])}
              for i, n in enumerate(lay.joints)]
    if result.get("visibility") is not None:
        vis = np.asarray(result["visibility"], np.float64).reshape(-1)
        flag = np.asarray(result["visible"], bool).reshape(-1)
        for i, j in enumerate(joints):
            j["visibility"], j["visible"] = _num(vis[i]), bool(flag[i])
    out = {"image": str(image_path), "width": wd, "height": ht, "joints": joints}
    if result.get("visibility") is not None:
        out["visibility"] = "calibrated" if result.get("visibility_calibrated") else "score"
    if result.get("person_box") is not None:
        out["person_box"] = [_num(v) for v in result["person_box"]]
    if result.get("window") is not None:
        out["window"] = str(result["window"])
    return out


def _sides(layout: KeypointLayout) -> np.ndarray:
    """Per joint: 1 = the person's left, -1 = right, 0 = neither. From the names ("left"/"right" in them, or an
    ``l_`` / ``r_`` prefix); joints of a flip pair without such names: first = right, second = left."""
    side = np.zeros(layout.num_joints, np.int64)
    for i, n in enumerate(layout.joints):
        low = n.lower()
        if "left" in low or low.startswith("l_"):
            side[i] = 1
        elif "right" in low or low.startswith("r_"):
            side[i] = -1
    for a, b in layout.flip_pairs:
        if side[a] == 0 and side[b] == 0:
            side[a], side[b] = -1, 1
    return side


def draw_pose_overlay(image: np.ndarray, keypoints, scores, layout,
                      score_threshold: float = DEFAULT_DRAW_THRESHOLD, visible=None) -> np.ndarray:
    """A copy of ``image`` (uint8 ``(H, W, 3)`` RGB; ``(H, W)`` grey becomes RGB) with the skeleton drawn: the
    layout's edges as lines and the joints as filled circles, only for joints flagged ``visible`` (a ``(K,)`` bool
    array; None: those whose score is ``>= score_threshold``, ``scores=None``: all) and whose coordinates are finite. Colours: :data:`LEFT_COLOUR` for the
    person's left side, :data:`RIGHT_COLOUR` for the right, :data:`CENTRE_COLOUR` for the rest (an edge takes its
    joints' side when they agree). Line width ``max(1, round(min(H, W) / 160))`` px, circle radius twice that;
    anti-aliased, sub-pixel positions (OpenCV ``shift`` = 4 fractional bits)."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"image must be uint8 (H, W, 3) or (H, W), got {img.dtype} {np.asarray(image).shape}")
    lay = get_layout(layout)
    kp, sc = _as_kp_scores(keypoints, scores, lay.num_joints)
    thr = finite_number(score_threshold, "score_threshold")
    out = np.ascontiguousarray(img.copy())
    h, w = out.shape[:2]
    lw = max(1, int(round(min(h, w) / 160)))
    shift = 4
    if visible is not None:
        ok = np.isfinite(kp).all(axis=1) & np.asarray(visible, bool).reshape(-1)
    else:
        ok = np.isfinite(kp).all(axis=1) & np.isfinite(sc) & (sc >= thr)
    big = 4.0 * max(h, w)                           # keep OpenCV's int coordinates in range
    fixed = np.round(np.clip(np.nan_to_num(kp), -big, big) * (1 << shift)).astype(np.int64)
    side = _sides(lay)
    colour = {1: LEFT_COLOUR, -1: RIGHT_COLOUR, 0: CENTRE_COLOUR}
    for a, b in lay.edges:
        if ok[a] and ok[b]:
            s = side[a] if side[a] == side[b] else 0
            cv2.line(out, (int(fixed[a, 0]), int(fixed[a, 1])), (int(fixed[b, 0]), int(fixed[b, 1])), colour[s],
                     lw, cv2.LINE_AA, shift)
    for i in np.flatnonzero(ok):
        cv2.circle(out, (int(fixed[i, 0]), int(fixed[i, 1])), (2 * lw) << shift, colour[int(side[i])], -1,
                   cv2.LINE_AA, shift)
    return out


def write_result(result: Mapping[str, Any], image: np.ndarray, out_dir, name: str, layout, source=None,
                 score_threshold: float = DEFAULT_DRAW_THRESHOLD) -> List[Path]:
    """Write ``<out_dir>/<name>_pose2d.json`` (:func:`pose_to_json`; ``image`` field = ``source``) and
    ``<out_dir>/<name>_pose2d_overlay.png`` (:func:`draw_pose_overlay`) for a :func:`predict_pose` result; returns the
    paths."""
    lay = get_layout(layout)
    record = pose_to_json(result, source if source is not None else name, image.shape[1], image.shape[0], lay)
    out_dir = Path(out_dir)
    j = write_json(out_dir / f"{name}_pose2d.json", record)
    o = write_png(out_dir / f"{name}_pose2d_overlay.png",
                  draw_pose_overlay(image, result["keypoints"], result["scores"], lay, score_threshold,
                                    visible=result.get("visible")))
    return [j, o]
