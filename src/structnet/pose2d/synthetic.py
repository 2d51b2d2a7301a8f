"""Synthetic "stick figure" pose data drawn by the project (``lsp14`` layout), for tests and training demos.

Each figure is a front-facing person seen in 2D: a torso quadrilateral, a round head, and thick limbs (upper
arm, forearm, thigh, shin) whose lengths are fixed fractions of the torso length ``T`` (neck to pelvis) with
jitter, and whose angles are drawn from plausible ranges, on a noisy, cluttered background.

Conventions
-----------
* Coordinates: pixels, ``x`` = column (to the right), ``y`` = row (down), origin top-left, pixel centres at
  integer coordinates (OpenCV's drawing convention, used with sub-pixel ``shift``).
* Left / right are the person's own, and every figure faces the camera: the person's **left** joints lie on
  the **image-right** side of the torso axis (as for a person facing the viewer). A horizontal flip with the
  left/right label swap maps a figure onto another valid front-facing figure, so the flip augmentation is
  consistent with the data.
* Proportions (multiples of ``T``): head top ``0.45-0.6`` above the neck, shoulders ``0.3-0.42`` to each side
  of a point ``0.12`` below the neck, hips ``0.18-0.26`` to each side of the pelvis, upper arm ``0.5-0.6``,
  forearm ``0.45-0.55``, thigh ``0.8-0.95``, shin ``0.75-0.9``. Angles (degrees from "straight down" along the
  body axis, positive = away from the body midline): upper arm ``-20..170``, elbow bend ``+-0..140``, thigh
  ``-20..70``, knee bend ``-110..20``; body tilt ``N(0, 12)`` clipped to ``+-30``, head tilt ``+-20``.
* Size: the figure's joint box has its longer side ``0.5-0.8 x`` the image side and lies fully inside the
  image, so all 14 joints are labelled (``visible = annotated = True``).
* Appearance: each limb type has its own colour (torso blue, head skin, upper arm orange, forearm yellow,
  thigh green, shin cyan; +-0.08 jitter per channel, both sides alike), drawn anti-aliased; the background is
  a smooth random colour field with 0-3 clutter strokes and ellipses of random colours; Gaussian pixel noise
  (std 0.03) over everything.
* Determinism: geometry draws from ``default_rng([seed, index, 0])``, appearance from
  ``default_rng([seed, index, 1])``: figure ``i`` of a seed is a pure function of ``(seed, i)``.

:class:`SyntheticFigures` holds the geometry of ``n`` figures and renders images on demand;
:class:`SyntheticPoseDataset` wraps it as a :class:`~structnet.keypoints.datasets.PoseDataset` (same sample dict
as the real readers, ``transform(sample, rng)`` hook, key convention); :func:`write_lspet_folder` writes
figures to disk in the layout of ``../shared/data/lspet`` (``joints.npy``, ``train.txt``, ``val.txt``,
``images/*.jpg``) so that the real LSPET reader and the command line can be exercised on them.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np

from ..data.keys import parse_key
from ..keypoints.datasets import (BOX_PADDING, PoseDataset, PoseRecord, Transform, box_to_center_scale, joint_boxes,
                                  torso_norm)
from ..keypoints.layouts import get_layout

__all__ = ["LAYOUT", "PALETTE", "figure_keypoints", "render_figure", "SyntheticFigures", "SyntheticPoseDataset",
           "write_lspet_folder"]

PathLike = Union[str, os.PathLike]

#: Joint layout of the figures.
LAYOUT = "lsp14"
#: RGB colours in [0, 1] of the parts (jittered by +-0.08 per channel per figure).
PALETTE = {
    "torso": (0.20, 0.35, 0.80),
    "head": (0.95, 0.75, 0.60),
    "upper_arm": (0.90, 0.50, 0.10),
    "forearm": (0.95, 0.85, 0.15),
    "thigh": (0.15, 0.70, 0.30),
    "shin": (0.10, 0.75, 0.80),
}

_LAY = get_layout(LAYOUT)
_J = {name: i for i, name in enumerate(_LAY.joints)}


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 32:
        raise ValueError(f"synthetic figure size must be an integer >= 32 pixels, got {size!r}")
    return int(size)


def figure_keypoints(rng: np.random.Generator, size: int) -> np.ndarray:
    """Joint positions ``(14, 2)`` float64 (lsp14 order, image pixels) of one random figure in a ``size`` x
    ``size`` image (proportions, angle ranges and placement: see the module docstring)."""
    size = _check_size(size)
    deg = math.pi / 180.0
    tilt = float(np.clip(rng.normal(0.0, 12.0), -30.0, 30.0)) * deg
    up = np.array([math.sin(tilt), -math.cos(tilt)])           # body axis, pelvis -> neck
    side = np.array([math.cos(tilt), math.sin(tilt)])          # image-right for an upright figure
    kp = np.zeros((14, 2))
    pelvis = np.zeros(2)
    neck = pelvis + up
    kp[_J["neck"]] = neck
    ht = rng.uniform(-20.0, 20.0) * deg
    head_dir = math.cos(ht) * up + math.sin(ht) * side
    kp[_J["head_top"]] = neck + rng.uniform(0.45, 0.6) * head_dir
    sh_c = neck - 0.12 * up
    sw, hw = rng.uniform(0.3, 0.42), rng.uniform(0.18, 0.26)

    def direction(phi: float, s: float) -> np.ndarray:  # phi from "down", positive = away from the midline
        return math.cos(phi) * (-up) + math.sin(phi) * (s * side)

    for s, prefix in ((-1.0, "right_"), (1.0, "left_")):      # person's left = image right (front-facing)
        sh = sh_c + s * sw * side
        kp[_J[prefix + "shoulder"]] = sh
        a1 = rng.uniform(-20.0, 170.0) * deg
        elbow = sh + rng.uniform(0.5, 0.6) * direction(a1, s)
        a2 = a1 + rng.choice((-1.0, 1.0)) * rng.uniform(0.0, 140.0) * deg
        kp[_J[prefix + "elbow"]] = elbow
        kp[_J[prefix + "wrist"]] = elbow + rng.uniform(0.45, 0.55) * direction(a2, s)
        hip = pelvis + s * hw * side
        kp[_J[prefix + "hip"]] = hip
        l1 = rng.uniform(-20.0, 70.0) * deg
        knee = hip + rng.uniform(0.8, 0.95) * direction(l1, s)
        l2 = l1 + rng.uniform(-110.0, 20.0) * deg
        kp[_J[prefix + "knee"]] = knee
        kp[_J[prefix + "ankle"]] = knee + rng.uniform(0.75, 0.9) * direction(l2, s)
    # scale and place: joint box (with a head / limb margin of 0.25 T) inside the image
    lo, hi = kp.min(0) - 0.25, kp.max(0) + 0.25
    extent = float((hi - lo).max())
    px = rng.uniform(0.5, 0.8) * size / extent                  # pixels per T
    kp = (kp - lo) * px
    span = (hi - lo) * px
    off = rng.uniform(0.0, 1.0, 2) * np.maximum(size - 1 - span, 0.0)
    return kp + off


def _colour(rng: np.random.Generator, base) -> Tuple[int, int, int]:
    c = np.clip(np.asarray(base) + rng.uniform(-0.08, 0.08, 3), 0.0, 1.0)
    return tuple(int(v) for v in np.round(c * 255))


def _pt(p: np.ndarray, shift: int = 4) -> Tuple[int, int]:
    return int(round(p[0] * (1 << shift))), int(round(p[1] * (1 << shift)))


def render_figure(keypoints: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB ``(size, size, 3)`` image of the figure with ``keypoints`` (14, 2) (module docstring)."""
    import cv2

    size = _check_size(size)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (14, 2) or not np.isfinite(kp).all():
        raise ValueError(f"render_figure: keypoints must be finite (14, 2), got shape {kp.shape}")
    # background: smooth colour field (bicubic upsampling of a 3x3 random grid) + clutter
    grid = rng.uniform(0.05, 0.95, (3, 3, 3)).astype(np.float32)
    bg = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    img = np.ascontiguousarray(np.clip(bg, 0.0, 1.0) * 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            p0, p1 = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
            cv2.line(img, _pt(p0), _pt(p1), col, int(rng.integers(1, max(2, size // 16) + 1)), cv2.LINE_AA, 4)
        else:
            c = rng.uniform(0, size, 2)
            axes = (int(rng.uniform(2, size / 6) * 16), int(rng.uniform(2, size / 6) * 16))
            cv2.ellipse(img, _pt(c), axes, float(rng.uniform(0, 180)), 0.0, 360.0, col, -1, cv2.LINE_AA, 4)
    j = {n: kp[i] for n, i in _J.items()}
    torso_len = float(np.linalg.norm(j["neck"] - 0.5 * (j["left_hip"] + j["right_hip"])))
    thick = max(2, int(round(0.14 * torso_len)))
    cols = {k: _colour(rng, v) for k, v in PALETTE.items()}
    poly = np.array([_pt(j["right_shoulder"]), _pt(j["left_shoulder"]), _pt(j["left_hip"]), _pt(j["right_hip"])],
                    np.int32)
    cv2.fillPoly(img, [poly], cols["torso"], cv2.LINE_AA, 4)
    cv2.line(img, _pt(j["right_shoulder"]), _pt(j["left_shoulder"]), cols["torso"], thick, cv2.LINE_AA, 4)
    cv2.line(img, _pt(j["right_hip"]), _pt(j["left_hip"]), cols["torso"], thick, cv2.LINE_AA, 4)
    for s in ("right_", "left_"):
        cv2.line(img, _pt(j[s + "hip"]), _pt(j[s + "knee"]), cols["thigh"], thick, cv2.LINE_AA, 4)
        cv2.line(img, _pt(j[s + "knee"]), _pt(j[s + "ankle"]), cols["shin"], thick, cv2.LINE_AA, 4)
    for s in ("right_", "left_"):
        cv2.line(img, _pt(j[s + "shoulder"]), _pt(j[s + "elbow"]), cols["upper_arm"], thick, cv2.LINE_AA, 4)
        cv2.line(img, _pt(j[s + "elbow"]), _pt(j[s + "wrist"]), cols["forearm"], thick, cv2.LINE_AA, 4)
    head = j["head_top"] - j["neck"]
    hl = float(np.linalg.norm(head))
    r = 0.45 * hl
    centre = j["head_top"] - head / max(hl, 1e-9) * r
    cv2.line(img, _pt(j["neck"]), _pt(centre), cols["head"], max(1, thick // 2 + 1), cv2.LINE_AA, 4)
    cv2.circle(img, _pt(centre), int(round(r * 16)), cols["head"], -1, cv2.LINE_AA, 4)
    noisy = img.astype(np.float32) + rng.normal(0.0, 0.03 * 255, img.shape).astype(np.float32)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


class SyntheticFigures:
    """Geometry of ``n`` figures of ``size`` x ``size`` pixels for ``seed`` (computed at construction, cheap);
    images are rendered on demand by :meth:`image`. ``keypoints``: float32 ``(n, 14, 2)``."""

    def __init__(self, n: int, size: int = 96, seed: int = 0):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"SyntheticFigures: n must be a positive integer, got {n!r}")
        self.n, self.size, self.seed = int(n), _check_size(size), int(seed)
        self.keypoints = np.stack([figure_keypoints(np.random.default_rng([self.seed, i, 0]), self.size)
                                   for i in range(self.n)]).astype(np.float32)
        self.names = [f"synth_{self.seed}_{i:05d}" for i in range(self.n)]

    def __len__(self) -> int:
        return self.n

    def image(self, index: int) -> np.ndarray:
        """uint8 RGB ``(size, size, 3)`` of figure ``index``."""
        i = parse_key(int(index), self.n)[0]
        return render_figure(self.keypoints[i], self.size, np.random.default_rng([self.seed, i, 1]))

    def records(self, padding: float = BOX_PADDING) -> List[PoseRecord]:
        """One :class:`PoseRecord` per figure, as :func:`~structnet.keypoints.datasets.read_lspet` would give it
        (box = joint box, centre / scale with ``padding``, torso normaliser), ``image_path`` None."""
        k = self.keypoints.astype(np.float64)
        ann = np.ones(k.shape[:2], bool)
        box = joint_boxes(k, ann)
        center, scale = box_to_center_scale(box, padding=padding)
        norm = torso_norm(k, ann, LAYOUT)
        return [PoseRecord(name=self.names[i], image_path=None, keypoints=self.keypoints[i].copy(),
                           visible=ann[i].copy(), annotated=ann[i].copy(), layout=LAYOUT,
                           center=center[i].astype(np.float32), scale=float(scale[i]),
                           box=box[i].astype(np.float32), norm=float(norm[i]), norm_kind="torso",
                           image_size=(self.size, self.size)) for i in range(self.n)]


class SyntheticPoseDataset(PoseDataset):
    """:class:`SyntheticFigures` as a :class:`~structnet.keypoints.datasets.PoseDataset`: ``ds[i]`` /
    ``ds[(i, seed)]`` gives the same sample dict as the real readers (``image`` uint8 ``(H, W, 3)``,
    ``keypoints``, ``visible``, ``annotated``, ``center``, ``scale``, ``box``, ``norm``, ``name``, ``layout``,
    ``image_path`` = "", ``index``), then ``transform(sample, rng)`` if given."""

    def __init__(self, n: int, size: int = 96, seed: int = 0, transform: Optional[Transform] = None,
                 padding: float = BOX_PADDING):
        self.figures = SyntheticFigures(n, size, seed)
        super().__init__(self.figures.records(padding), transform, load_images=True)

    def __getitem__(self, key):
        index, seed = parse_key(key, len(self))
        sample = self.records[index].to_sample(load_image=False)
        sample = {"image": self.figures.image(index), **sample, "index": index}
        if self.transform is None:
            return sample
        return self.transform(sample, np.random.default_rng(index if seed is None else seed))


def write_lspet_folder(root: PathLike, n_train: int = 16, n_val: int = 8, size: int = 96, seed: int = 0,
                       quality: int = 95) -> Path:
    """Write ``n_train + n_val`` figures to ``root`` in the LSPET folder layout read by
    :func:`~structnet.keypoints.datasets.read_lspet`: ``joints.npy`` float64 ``(N, 14, 3)`` = (x, y, 1),
    ``train.txt`` / ``val.txt`` (names ``im00001`` ...; the first ``n_train`` are train) and
    ``images/<name>.jpg`` (JPEG ``quality``). Figure ``i`` is ``SyntheticFigures(N, size, seed)`` figure i.
    Returns ``root``."""
    import cv2

    if int(n_train) < 1 or int(n_val) < 1:
        raise ValueError(f"write_lspet_folder: n_train and n_val must be >= 1, got {n_train}, {n_val}")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    figs = SyntheticFigures(int(n_train) + int(n_val), size, seed)
    names = [f"im{i + 1:05d}" for i in range(figs.n)]
    for i, name in enumerate(names):
        ok, buf = cv2.imencode(".jpg", figs.image(i)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError(f"write_lspet_folder: JPEG encoding failed for {name}")
        (root / "images" / f"{name}.jpg").write_bytes(buf.tobytes())
    joints = np.concatenate([figs.keypoints.astype(np.float64), np.ones((figs.n, 14, 1))], axis=2)
    np.save(root / "joints.npy", joints)
    (root / "train.txt").write_text("\n".join(names[:n_train]) + "\n")
    (root / "val.txt").write_text("\n".join(names[n_train:]) + "\n")
    return root
