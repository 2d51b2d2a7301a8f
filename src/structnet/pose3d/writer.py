"""Per-image 3D pose outputs: ``<name>_pose3d.json`` and ``<name>_pose3d.png``, written atomically
(:mod:`structnet.data.io`).

Result
------
The functions here take a *result* dict (one person in one image):

* ``joints3d`` ``(17, 3)``: the 3D joints in mm, camera frame (x right, y down, z forward), in
  :data:`~structnet.pose3d.joints.JOINTS` order;
* ``joints2d`` ``(17, 2)``: the 2D joints in image pixels (pixel centres at integers);
* ``maps`` (optional) ``(6, S, S)`` float in [0, 1]: the front skeleton map's RGB, then the back map's
  (:func:`~structnet.pose3d.render.render_skeleton_maps`);
* ``hypothesis`` (optional) ``int``: the index of the chosen hypothesis;
* ``hypotheses`` (optional) list of ``{"width": float, "reprojection_px": float or None}``, one per hypothesis
  (the stick width of its skeleton maps and its 2D reprojection error in pixels), each with an optional
  ``"crop"`` (the crop scale of its maps), which the JSON keeps when given.

Arrays may be numpy arrays, nested lists or CPU torch tensors.

JSON (``<name>_pose3d.json``, :func:`pose3d_to_json`)
------------------------------------------------------
::

    {"image": "photo.jpg", "width": 640, "height": 480, "units": "mm",
     "frame": "camera frame, root-relative (hip at 0): x right, y down, z forward",
     "joints": [{"name": "hip", "x": 0.0, "y": 0.0, "z": 0.0}, ...],      # the 17 JOINTS, in order
     "joints_2d": [{"name": "hip", "x": 321.5, "y": 240.0}, ...],          # image pixels
     "hypothesis": 2,                                                       # or null
     "hypotheses": [{"width": 4.0, "reprojection_px": 3.1}, ...],          # or []; "crop" too if given
     "maps_from": "image",                       # only where the result says: "image" (the image -> maps
                                                 # network) or "2d joints" (drawn from the 2D joints)
     "flip_test": true,                          # only where the result says: lifted with test-time mirroring
     "ensemble": ["skeleton_map_lifter_h36m", "keypoint_lifter_h36m"]}  # only for an ensemble: the lifters
                                                 # whose chosen poses "joints" averages ("hypothesis": the first's)

``joints`` are made root-relative (the hip subtracted) when the hip is finite, so a result in absolute camera
coordinates is written in the frame the file states; every number is a plain float, non-finite values become
``null``.

PNG (``<name>_pose3d.png``, :func:`draw_panel`)
------------------------------------------------
One RGB picture of ``height`` rows, panels side by side with :data:`PANEL_GAP` white columns between them:
the photo with the 2D skeleton, the front and the back skeleton map (if the result has ``maps``; nearest-neighbour
upscaling, black background as the network sees them), and a 3D view of the pose (:func:`draw_pose3d`: azimuth
45 degrees, elevation 15 degrees, on a 2 x 2 m ground grid). Bones are drawn in their part's colour
(:data:`~structnet.pose3d.joints.PART_COLORS`) with a thin dark outline, so the head's white and the lighter
colours stay visible on a white background or a bright photo.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..checks import finite_number, positive_int
from ..data.io import write_json, write_png
from .joints import JOINTS, PART_COLORS, ROOT, STICK_PART, STICKS

__all__ = ["pose3d_to_json", "project_pose3d", "draw_pose3d", "draw_panel", "write_result", "FRAME",
           "PANEL_GAP", "GRID_COLOUR", "JOINT_COLOUR", "OUTLINE_COLOUR"]

#: The coordinate frame stated in the JSON file.
FRAME = "camera frame, root-relative (hip at 0): x right, y down, z forward"
#: White columns between the panels of :func:`draw_panel`.
PANEL_GAP = 4
#: the photo panel of a picture is at most this many times as wide as it is high (wider photos are scaled down)
MAX_PHOTO_ASPECT = 4
#: Ground grid of :func:`draw_pose3d` (RGB).
GRID_COLOUR = (205, 205, 205)
#: Joint dots (RGB).
JOINT_COLOUR = (40, 40, 40)
#: Outline around every bone (RGB), so light part colours show on white.
OUTLINE_COLOUR = (60, 60, 60)

_K = len(JOINTS)
_STICK_A = np.array([a for a, _ in STICKS])
_STICK_B = np.array([b for _, b in STICKS])
#: Colour (0-255 RGB ints) of every stick, in STICKS order.
_STICK_RGB = [tuple(int(c) for c in np.round(PART_COLORS[p] * 255.0)) for p in STICK_PART]
_FEET = (JOINTS.index("right_foot"), JOINTS.index("left_foot"))
_CUBE_MM = 2000.0            # the volume a 3D view always shows: a 2 m cube centred on the root
_GRID_MM = 1000.0            # ground grid: cells of 1 m, 2 x 2 m in all
_FILL = 0.9                  # the cube's projection spans this fraction of the view
_SHIFT = 4                   # OpenCV fractional bits: sub-pixel positions


# ------------------------------------------------------------------------------------------------ helpers
def _num(v) -> Optional[float]:
    v = float(v)
    return v if math.isfinite(v) else None


def _array(v, what: str) -> np.ndarray:
    if hasattr(v, "detach"):                         # a torch tensor (any device)
        v = v.detach().cpu().numpy()
    try:
        return np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a numeric array, got {type(v).__name__}") from None


def _joints(v, dims: int, what: str) -> np.ndarray:
    a = _array(v, what)
    if a.shape != (_K, dims):
        raise ValueError(f"{what} must have shape ({_K}, {dims}), got {a.shape}")
    return a


def _field(result: Mapping[str, Any], key: str, dims: int) -> np.ndarray:
    if not isinstance(result, Mapping):
        raise ValueError(f"result must be a dict, got {type(result).__name__}")
    if key not in result or result[key] is None:
        raise ValueError(f"result has no {key!r} (want a ({_K}, {dims}) array)")
    return _joints(result[key], dims, f"result[{key!r}]")


def _maps(result: Mapping[str, Any]) -> Optional[np.ndarray]:
    m = result.get("maps")
    if m is None:
        return None
    a = _array(m, "result['maps']")
    if a.ndim != 3 or a.shape[0] != 6 or a.shape[1] < 1 or a.shape[2] < 1:
        raise ValueError(f"result['maps'] must have shape (6, S, S) (front RGB, back RGB), got {a.shape}")
    return a


def _rgb(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"image must be uint8 (H, W, 3) or (H, W), got {img.dtype} {np.asarray(image).shape}")
    return img


def _root_relative(j3: np.ndarray) -> np.ndarray:
    """The hip subtracted (if finite; else the mean of the finite joints; no finite joint: as given)."""
    if np.isfinite(j3[ROOT]).all():
        return j3 - j3[ROOT]
    ok = np.isfinite(j3).all(axis=1)
    return j3 - j3[ok].mean(axis=0) if ok.any() else j3


def _fixed(pts: np.ndarray, limit: float) -> np.ndarray:
    """Pixel positions -> OpenCV fixed-point ints (clipped, so far-off points cannot overflow)."""
    return np.round(np.clip(np.nan_to_num(pts), -limit, limit) * (1 << _SHIFT)).astype(np.int64)


def _draw_sticks(out: np.ndarray, pts: np.ndarray, lw, order=None) -> None:
    """Bones between finite 2D points ``pts`` (17, 2) in part colours with a dark outline, then the joints as
    dots, in place. ``lw``: one line width or one per stick; ``order``: stick drawing order (painter's)."""
    import cv2

    h, w = out.shape[:2]
    fx = _fixed(pts, 4.0 * max(h, w))
    ok = np.isfinite(pts).all(axis=1)
    lws = np.broadcast_to(np.asarray(lw, dtype=np.int64), (len(STICKS),))
    drawn = np.zeros(_K, dtype=bool)
    for s in (range(len(STICKS)) if order is None else order):
        a, b = int(_STICK_A[s]), int(_STICK_B[s])
        if not (ok[a] and ok[b]):
            continue
        pa, pb = (int(fx[a, 0]), int(fx[a, 1])), (int(fx[b, 0]), int(fx[b, 1]))
        t = int(lws[s])
        cv2.line(out, pa, pb, OUTLINE_COLOUR, t + 2, cv2.LINE_AA, _SHIFT)
        cv2.line(out, pa, pb, _STICK_RGB[s], t, cv2.LINE_AA, _SHIFT)
        drawn[a] = drawn[b] = True
    r = max(1, int(np.max(lws)) // 2 + 1)
    for i in np.flatnonzero(drawn):
        cv2.circle(out, (int(fx[i, 0]), int(fx[i, 1])), r << _SHIFT, JOINT_COLOUR, -1, cv2.LINE_AA, _SHIFT)


# ------------------------------------------------------------------------------------------------ JSON
def pose3d_to_json(result: Mapping[str, Any], image_path, width: int, height: int) -> Dict[str, Any]:
    """The per-image 3D pose record (format in the module docstring): ``image``, ``width``, ``height``,
    ``units`` (``"mm"``), ``frame`` (:data:`FRAME`), ``joints`` (17 x ``{"name", "x", "y", "z"}``, root-relative),
    ``joints_2d`` (17 x ``{"name", "x", "y"}``, image pixels), ``hypothesis`` (int or None) and ``hypotheses``
    (list of ``{"width", "reprojection_px"}``, + ``"crop"`` where the result gives one; possibly empty). Plain
    Python numbers; non-finite -> None.

    Raises ValueError naming the key for a missing / wrongly shaped ``joints3d`` / ``joints2d``, a malformed
    ``hypotheses`` list or a ``hypothesis`` that is not an index into it."""
    j3 = _root_relative(_field(result, "joints3d", 3))
    j2 = _field(result, "joints2d", 2)
    wd, ht = positive_int(width, "width"), positive_int(height, "height")
    hyps_in = result.get("hypotheses")
    hyps: List[Dict[str, Optional[float]]] = []
    if hyps_in is not None:
        if isinstance(hyps_in, (str, bytes, Mapping)) or not hasattr(hyps_in, "__iter__"):
            raise ValueError(f"result['hypotheses'] must be a list of dicts, got {type(hyps_in).__name__}")
        for i, h in enumerate(hyps_in):
            if not isinstance(h, Mapping) or "width" not in h:
                raise ValueError(f"result['hypotheses'][{i}] must be a dict with 'width' (and 'reprojection_px'), "
                                 f"got {h!r}")
            rep = h.get("reprojection_px")
            rec = {"width": _num(h["width"]), "reprojection_px": None if rep is None else _num(rep)}
            if h.get("crop") is not None:
                rec["crop"] = _num(h["crop"])
            hyps.append(rec)
    hyp = result.get("hypothesis")
    if hyp is not None:
        if isinstance(hyp, bool) or not isinstance(hyp, (int, np.integer)):
            raise ValueError(f"result['hypothesis'] must be an int or None, got {hyp!r}")
        hyp = int(hyp)
        if hyp < 0 or (hyps and hyp >= len(hyps)):
            raise ValueError(f"result['hypothesis'] = {hyp} is not an index into the {len(hyps)} hypotheses")
    rec = {
        "image": str(image_path), "width": wd, "height": ht, "units": "mm", "frame": FRAME,
        "joints": [{"name": n, "x": _num(j3[i, 0]), "y": _num(j3[i, 1]), "z": _num(j3[i, 2])}
                   for i, n in enumerate(JOINTS)],
        "joints_2d": [{"name": n, "x": _num(j2[i, 0]), "y": _num(j2[i, 1])} for i, n in enumerate(JOINTS)],
        "hypothesis": hyp,
        "hypotheses": hyps,
    }
    if result.get("maps_from") is not None:
        rec["maps_from"] = str(result["maps_from"])
    if result.get("flip_test") is not None:
        rec["flip_test"] = bool(result["flip_test"])
    if result.get("ensemble"):
        rec["ensemble"] = [str(n) for n in result["ensemble"]]
    return rec


# ------------------------------------------------------------------------------------------------ 3D view
def _view(azimuth: float, elevation: float) -> np.ndarray:
    """Rows: the view's right, down and forward (depth) axes in camera coordinates. The viewer starts at the
    camera and moves around the subject by ``azimuth`` degrees about the vertical axis (positive: towards +x, so
    +z points to the right of the view at 90) and up by ``elevation`` degrees (positive: looking down)."""
    t, p = math.radians(azimuth), math.radians(elevation)
    st, ct, sp, cp = math.sin(t), math.cos(t), math.sin(p), math.cos(p)
    return np.array([[ct, 0.0, st],
                     [sp * st, cp, -sp * ct],
                     [-cp * st, sp, cp * ct]])


def _view_scale(size: int, rot: np.ndarray) -> float:
    """Pixels per mm such that the 2 m cube around the root spans :data:`_FILL` of the view in its longer
    projected extent."""
    extent = _CUBE_MM * np.abs(rot[:2]).sum(axis=1).max()     # projected width / height of the cube
    return _FILL * size / extent


def project_pose3d(joints3d, size: int = 400, azimuth: float = 45.0,
                   elevation: float = 15.0) -> Tuple[np.ndarray, np.ndarray]:
    """Where :func:`draw_pose3d` puts the joints: ``(17, 2)`` pixel positions (x right, y down; pixel centres at
    integers; the root at the centre ``((size - 1) / 2, (size - 1) / 2)``) and ``(17,)`` depths in mm along the
    view direction (larger = farther). Orthographic, scaled so that a 2 m cube centred on the root fits the view.
    Non-finite joints give non-finite positions."""
    size = positive_int(size, "size")
    rot = _view(finite_number(azimuth, "azimuth"), finite_number(elevation, "elevation"))
    j = _root_relative(_joints(joints3d, 3, "joints3d"))
    v = j @ rot.T
    c = (size - 1) / 2.0
    return c + _view_scale(size, rot) * v[:, :2], v[:, 2]


def draw_pose3d(joints3d, size: int = 400, azimuth: float = 45.0, elevation: float = 15.0) -> np.ndarray:
    """A 3D view of a pose: ``(size, size, 3)`` uint8 RGB on white.

    ``joints3d`` ``(17, 3)`` mm in the camera frame (x right, y down, z forward; made root-relative here). The
    view (:func:`project_pose3d`) turns about the vertical axis by ``azimuth`` degrees (90: the camera's +z points
    right) and looks down by ``elevation`` degrees; ``azimuth = elevation = 0`` is the camera's own view (x to
    the right, y down). A light-grey 2 x 2 m ground grid with 1 m cells lies under the root at the level of the
    lower foot (of the lowest joint when neither foot is finite); bones are lines in their part's colour, far
    ones first and near ones thicker; joints are small dark dots. Bones with a non-finite joint are skipped."""
    import cv2

    size = positive_int(size, "size")
    j = _root_relative(_joints(joints3d, 3, "joints3d"))
    pts, depth = project_pose3d(j, size, azimuth, elevation)
    rot = _view(float(azimuth), float(elevation))
    scale = _view_scale(size, rot)
    c = (size - 1) / 2.0
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    lw = max(1, int(round(size / 130)))

    ok = np.isfinite(j).all(axis=1)
    feet = [f for f in _FEET if ok[f]]
    ground = j[feet, 1].max() if feet else (j[ok, 1].max() if ok.any() else 0.0)
    g = np.arange(-_GRID_MM, _GRID_MM + 1.0, _GRID_MM)                 # -1 m, 0, +1 m
    lo, hi = np.full_like(g, -_GRID_MM), np.full_like(g, _GRID_MM)
    ends = np.stack([np.stack([g, lo], 1), np.stack([g, hi], 1),        # lines of constant x
                     np.stack([lo, g], 1), np.stack([hi, g], 1)])       # lines of constant z: (4, 3, 2)
    xyz = np.concatenate([ends[..., :1], np.full(ends.shape[:-1] + (1,), ground), ends[..., 1:]], axis=-1)
    gp = _fixed(c + scale * (xyz @ rot.T)[..., :2], 4.0 * size)
    gw = max(1, lw // 2)
    for k in (0, 2):
        for i in range(len(g)):
            cv2.line(out, (int(gp[k, i, 0]), int(gp[k, i, 1])), (int(gp[k + 1, i, 0]), int(gp[k + 1, i, 1])),
                     GRID_COLOUR, gw, cv2.LINE_AA, _SHIFT)

    sd = 0.5 * (depth[_STICK_A] + depth[_STICK_B])                    # stick depth (mm, root = 0)
    order = np.argsort(-np.nan_to_num(sd, nan=0.0), kind="stable")    # far first: near bones drawn on top
    widths = np.clip(np.round(lw * (1.0 - 0.5 * np.nan_to_num(sd) / _GRID_MM)), max(1, lw - 1), lw + 2)
    _draw_sticks(out, pts, widths.astype(np.int64), order)
    return out


# ------------------------------------------------------------------------------------------------ panel
def draw_panel(image, result: Mapping[str, Any], height: int = 400) -> np.ndarray:
    """The picture of a result (uint8 RGB, ``height`` rows): the photo (``image``, uint8 ``(H, W, 3)`` or grey
    ``(H, W)``) scaled to ``height`` rows with the 2D skeleton (``result["joints2d"]``, image pixels) drawn in part
    colours; the front and back skeleton maps (``result["maps"]``, if present) each scaled to ``height`` rows
    nearest-neighbour; and :func:`draw_pose3d` of ``result["joints3d"]`` at ``height`` x ``height``. Panels are
    separated by :data:`PANEL_GAP` white columns. A photo wider than :data:`MAX_PHOTO_ASPECT` x ``height`` columns
    is scaled to that width instead (centred on white rows), so the picture stays small for any input."""
    import cv2

    img = _rgb(image)
    height = positive_int(height, "height")
    j2 = _field(result, "joints2d", 2)
    j3 = _field(result, "joints3d", 3)
    maps = _maps(result)

    h, w = img.shape[:2]
    new_w = max(1, int(round(w * height / h)))
    if new_w <= MAX_PHOTO_ASPECT * height:
        new_h, top = height, 0
    else:  # a very wide photo: scaled to MAX_PHOTO_ASPECT x height columns, centred on white rows
        new_w = MAX_PHOTO_ASPECT * height
        new_h = max(1, int(round(h * new_w / w)))
        top = (height - new_h) // 2
    interp = cv2.INTER_AREA if new_h < h else cv2.INTER_LINEAR
    small = np.ascontiguousarray(cv2.resize(img, (new_w, new_h), interpolation=interp))
    if new_h == height:
        photo = small
    else:
        photo = np.full((height, new_w, 3), 255, np.uint8)
        photo[top:top + new_h] = small
    scaled = (j2 + 0.5) * np.array([new_w / w, new_h / h]) - 0.5 + np.array([0.0, top])  # pixel centres at integers
    _draw_sticks(photo, scaled, max(1, int(round(height / 130))))
    panels = [photo]

    if maps is not None:
        rgb = np.round(np.clip(np.nan_to_num(maps, nan=0.0), 0.0, 1.0) * 255.0).astype(np.uint8)
        mw = max(1, int(round(maps.shape[2] * height / maps.shape[1])))
        for part in (rgb[:3], rgb[3:]):
            panels.append(cv2.resize(np.ascontiguousarray(part.transpose(1, 2, 0)), (mw, height),
                                     interpolation=cv2.INTER_NEAREST))
    panels.append(draw_pose3d(j3, height))

    gap = np.full((height, PANEL_GAP, 3), 255, dtype=np.uint8)
    parts: List[np.ndarray] = [panels[0]]
    for p in panels[1:]:
        parts += [gap, p]
    return np.ascontiguousarray(np.concatenate(parts, axis=1))


# ------------------------------------------------------------------------------------------------ files
def write_result(result: Mapping[str, Any], image, out_dir, name: str, source=None) -> List[Path]:
    """Write ``<out_dir>/<name>_pose3d.json`` (:func:`pose3d_to_json`; its ``image`` field = ``source``, else
    ``name``) and ``<out_dir>/<name>_pose3d.png`` (:func:`draw_panel`), each atomically; ``out_dir`` is created if
    needed. Both are built before either is written, so a bad result writes nothing. Returns the two paths."""
    img = _rgb(image)
    record = pose3d_to_json(result, source if source is not None else name, img.shape[1], img.shape[0])
    panel = draw_panel(img, result)
    out_dir = Path(out_dir)
    j = write_json(out_dir / f"{name}_pose3d.json", record)
    p = write_png(out_dir / f"{name}_pose3d.png", panel)
    return [j, p]
