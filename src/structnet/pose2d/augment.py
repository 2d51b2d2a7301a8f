"""Joint image + keypoint augmentation for 2D pose: person-centred crops and keypoint masking (Ke et al. 2018).

Coordinates as in :mod:`structnet.data.transforms` (which does the warping): x = column to the right, y = row down,
pixel centres at integer ``(x, y)``, origin at the top-left pixel centre. Keypoints are ``(K, 2)`` x, y (or
``(K, 3)`` with a visibility column, used when ``visible`` is None); ``visible`` is ``(K,)`` bool / 0-1 and means
"has a usable label". **Keypoints with a NaN / infinite coordinate are treated as not visible** (not an error);
their coordinates stay NaN.

**Person crop (MPII convention).** A person is given by ``center = (x, y)`` and ``scale``, with ``scale * 200`` px
(:data:`PIXEL_STD`) the side of the square window around the person (MPII: ``scale * 200`` = person height).
:func:`crop_matrix` maps that window, rotated by ``rotation`` degrees, onto the ``out_size`` crop (256 x 256):
``center`` goes to the crop centre ``((W'-1)/2, (H'-1)/2)`` and ``scale * 200`` source pixels to ``H'`` crop pixels
(for a non-square crop the window is ``scale * 200`` high and ``scale * 200 * W'/H'`` wide). Positive rotations
turn the content counter-clockwise as displayed. A flip mirrors the crop, ``x -> W' - 1 - x``, and swaps
left/right joints by ``flip_pairs``. :func:`center_scale_from_box` turns a person box into (center, scale);
:func:`hourglass_center_scale` applies the stacked-hourglass adjustment of MPII annotations (centre moved down
``15 * scale`` px, scale x 1.25, "so cropping is less likely to take feet out").

Joints that leave the crop (outside ``-0.5 <= x <= W' - 0.5``, same for y) become **not visible** (weight 0 in the
codec) but keep their transformed coordinates. :class:`PoseCrop` carries the 2x3 matrix and its inverse so that
predictions in crop coordinates map back to the original image (:meth:`PoseCrop.to_image`).

**Random augmentation** (:func:`sample_augment_params`, :func:`random_person_crop`): the paper uses "the same data
augmentation technique as in the original hourglass work: rotation (+/- 30 degrees), and scaling (.75 to 1.25)",
plus the hourglass's horizontal flip. Defaults: rotation with probability 0.4 (the hourglass code zeroes the angle
when ``uniform() <= 0.6``), scaling always, flip with probability 0.5. ``distribution="uniform"`` (default) draws
angle and scale uniformly in the paper's ranges; ``"normal"`` follows the hourglass code's shape (normal,
clipped at 2 standard deviations) with the bounds set to the paper's ranges (std = 15 degrees and 0.125).

**Keypoint masking** (Sec. 3.4, Fig. 5; :func:`keypoint_masking`): square patches of side
``patch_frac * person_size`` (default 0.15 x the keypoint extent; the paper gives no size).
(b) *occlusion*: a background patch (one containing no keypoint) is copied over a visible keypoint;
(d) *distractor*: the patch around a visible keypoint is copied onto nearby background (a place containing no
keypoint, ``distractor_distance = (1, 2)`` patch sides away), simulating another person's joint. The paper's text
says "nearby background" for (d) while the Fig. 5 caption says "paste on another keypoint"; we follow the text.
Labels stay as they are: an occluded keypoint keeps its location and visibility (the network is trained to recover
it from its neighbours); the distractor adds no label.
"""
from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Tuple

import numpy as np

from ..checks import finite_number
from ..data import transforms as T

__all__ = [
    "PIXEL_STD", "PoseCrop", "AugmentParams", "Patch", "MaskingResult", "center_scale_from_box",
    "hourglass_center_scale", "crop_matrix", "person_crop", "sample_augment_params", "random_person_crop",
    "keypoint_masking", "DISTRIBUTIONS",
]

#: MPII scale unit: ``scale * PIXEL_STD`` pixels = person height / crop window side.
PIXEL_STD = 200.0
DISTRIBUTIONS = ("uniform", "normal")


# ------------------------------------------------------------------------------------------------ helpers
def _positive_range(v, name: str, low: str, high: str) -> Tuple[float, float]:
    """``(a, b)`` with finite ``0 < a <= b``, else a one-line ValueError naming ``name``."""
    try:
        a, b = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair ({low}, {high}), got {v!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and 0 < a <= b):
        raise ValueError(f"{name} must satisfy 0 < {low} <= {high}, got {v!r}")
    return a, b


def _prob(v, name: str) -> float:
    f = finite_number(v, name)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {v!r}")
    return f


def _size(v, name: str) -> Tuple[int, int]:
    vals = (v, v) if np.isscalar(v) else tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else ()
    if len(vals) != 2 or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 1
                                 for x in vals):
        raise ValueError(f"{name} must be a positive int or a pair (H, W) of positive ints, got {v!r}")
    return int(vals[0]), int(vals[1])


def _image(image) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    return img


def _keypoints(keypoints, visible) -> Tuple[np.ndarray, np.ndarray]:
    """(K, 2) float64 points and (K,) bool visibility (False where a coordinate is not finite)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] not in (2, 3):
        raise ValueError(f"keypoints must be (K, 2) or (K, 3), got shape {kp.shape}")
    if visible is None:
        vis = kp[:, 2] > 0 if kp.shape[1] == 3 else np.ones(len(kp), bool)
    else:
        v = np.asarray(visible)
        if v.shape != (kp.shape[0],):
            raise ValueError(f"visible must have shape ({kp.shape[0]},) (one flag per keypoint), got {v.shape}")
        vis = np.nan_to_num(v.astype(np.float64), nan=0.0) > 0
    pts = kp[:, :2].copy()
    return pts, vis & np.isfinite(pts).all(axis=1)


def _flip_pairs(flip_pairs, k: int) -> Tuple[Tuple[int, int], ...]:
    if flip_pairs is None:
        return ()
    if hasattr(flip_pairs, "flip_pairs"):          # a KeypointLayout
        if getattr(flip_pairs, "num_joints", k) != k:
            raise ValueError(f"layout {flip_pairs.name!r} has {flip_pairs.num_joints} joints but keypoints has {k}")
        flip_pairs = flip_pairs.flip_pairs
    pairs = tuple((int(a), int(b)) for a, b in flip_pairs)
    T.flip_permutation(pairs, k)                   # range check, ValueError naming the pair
    return pairs


# ------------------------------------------------------------------------------------------- person crop
def center_scale_from_box(box, padding: float = 1.25, pixel_std: float = PIXEL_STD) -> Tuple[np.ndarray, float]:
    """Person box ``(x0, y0, x1, y1)`` (pixel coordinates) -> ``center = ((x0+x1)/2, (y0+y1)/2)`` and
    ``scale = padding * max(x1 - x0, y1 - y0) / pixel_std``: the square window of side ``scale * pixel_std`` holds the
    box with a margin (``padding`` 1.25 = the hourglass enlargement of MPII scales)."""
    b = np.asarray(box, dtype=np.float64)
    if b.shape != (4,) or not np.isfinite(b).all() or b[2] < b[0] or b[3] < b[1]:
        raise ValueError(f"box must be finite (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0, got {box!r}")
    padding = finite_number(padding, "padding", positive=True)
    pixel_std = finite_number(pixel_std, "pixel_std", positive=True)
    side = max(b[2] - b[0], b[3] - b[1])
    if side <= 0:
        raise ValueError(f"box must have a positive width or height, got {box!r}")
    return np.array([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]), padding * side / pixel_std


def hourglass_center_scale(center, scale: float, y_shift: float = 15.0,
                           padding: float = 1.25) -> Tuple[np.ndarray, float]:
    """The stacked-hourglass adjustment of an MPII annotation (Newell et al. code): centre moved down by
    ``y_shift * scale`` pixels and scale multiplied by ``padding``, so that the crop keeps the feet."""
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (2,) or not np.isfinite(c).all():
        raise ValueError(f"center must be a finite (x, y), got {center!r}")
    scale = finite_number(scale, "scale", positive=True)
    return c + np.array([0.0, finite_number(y_shift, "y_shift") * scale]), scale * finite_number(
        padding, "padding", positive=True)


def crop_matrix(center, scale: float, out_size=(256, 256), rotation: float = 0.0, flip: bool = False,
                pixel_std: float = PIXEL_STD) -> np.ndarray:
    """2x3 matrix from original-image to crop coordinates (see the module docstring).

    ``zoom = H' / (scale * pixel_std)``; ``center`` -> ``((W'-1)/2, (H'-1)/2)``; rotation ``rotation`` degrees
    counter-clockwise about ``center``; with ``flip`` the crop is then mirrored, ``x -> W' - 1 - x``.
    """
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (2,) or not np.isfinite(c).all():
        raise ValueError(f"center must be a finite (x, y), got {center!r}")
    scale = finite_number(scale, "scale", positive=True)
    rotation = finite_number(rotation, "rotation")
    pixel_std = finite_number(pixel_std, "pixel_std", positive=True)
    oh, ow = _size(out_size, "out_size")
    zoom = oh / (scale * pixel_std)
    oc = ((ow - 1) / 2.0, (oh - 1) / 2.0)
    m = T.affine_matrix((c[0], c[1]), rotation, zoom, translate=(oc[0] - c[0], oc[1] - c[1]))
    if flip:
        m = np.array([[-1.0, 0.0, ow - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
    return m


class AugmentParams(NamedTuple):
    """One draw of the geometric augmentation: ``rotation`` degrees (counter-clockwise), ``scale_factor`` (the
    crop window ``scale`` is multiplied by it; > 1 shows more context, the person smaller) and ``flip``."""
    rotation: float
    scale_factor: float
    flip: bool


class PoseCrop(NamedTuple):
    """A person crop. ``image`` (H', W'[, C]); ``keypoints`` (K, 2) crop coordinates (rows swapped by the flip
    pairs when ``flipped``); ``visible`` (K,) bool (False for joints outside the crop or without a label);
    ``matrix`` / ``inverse``: 2x3 original -> crop / crop -> original; ``perm``: row permutation applied
    (identity unless flipped); ``params``: the augmentation used; ``zoom``: crop pixels per original pixel."""
    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    flipped: bool
    perm: np.ndarray
    params: AugmentParams
    zoom: float

    def to_image(self, points) -> np.ndarray:
        """Crop coordinates ``(..., K, 2)`` (e.g. decoded predictions, joints in the crop's order) -> original image
        coordinates, with the rows of a flipped crop swapped back to the original joint order."""
        p = np.asarray(points, dtype=np.float64)
        k = len(self.perm)
        if p.ndim < 2 or p.shape[-2:] != (k, 2):
            raise ValueError(f"points must be (..., {k}, 2), got shape {p.shape}")
        out = T.transform_points(p, self.inverse)
        return out[..., self.perm, :] if self.flipped else out


def person_crop(image, keypoints, visible, center, scale: float, out_size=(256, 256), rotation: float = 0.0,
                flip: bool = False, flip_pairs=None, pixel_std: float = PIXEL_STD, border_value=0,
                scale_factor: float = 1.0) -> PoseCrop:
    """Crop the person window ``(center, scale * scale_factor)`` to ``out_size``, rotated and optionally mirrored.

    image (H, W) or (H, W, C) (bilinear warp by ``transforms.affine``, ``border_value`` outside the image);
    keypoints (K, 2) / (K, 3), visible (K,) or None. ``flip_pairs``: a
    :class:`~structnet.keypoints.layouts.KeypointLayout` or ``(left, right)`` index pairs; required when ``flip``
    (pass ``()`` for a layout without left/right joints).
    """
    import cv2

    img = _image(image)
    pts, vis = _keypoints(keypoints, visible)
    k = len(pts)
    if flip and flip_pairs is None:
        raise ValueError("flip=True needs flip_pairs (a keypoint layout or (left, right) index pairs; () if none)")
    pairs = _flip_pairs(flip_pairs, k)
    s = finite_number(scale, "scale", positive=True) * finite_number(scale_factor, "scale_factor", positive=True)
    oh, ow = _size(out_size, "out_size")
    m = crop_matrix(center, s, (oh, ow), rotation, bool(flip), pixel_std)
    kp3 = np.concatenate([pts, vis[:, None].astype(np.float64)], axis=1)
    with np.errstate(invalid="ignore"):           # inf coordinates of unlabelled joints become NaN
        out = T.affine({"image": img, "keypoints": kp3}, m, out_size=(oh, ow), flip_pairs=pairs,
                       border_value=border_value, roles={"image": "image", "keypoints": "keypoints"})
    perm = T.flip_permutation(pairs, k) if flip else np.arange(k)
    return PoseCrop(out["image"], out["keypoints"][:, :2], out["keypoints"][:, 2] > 0, m,
                    cv2.invertAffineTransform(m), bool(flip), perm,
                    AugmentParams(float(rotation), float(scale_factor), bool(flip)), oh / (s * float(pixel_std)))


def sample_augment_params(rng: np.random.Generator, rotation_max: float = 30.0, rotation_prob: float = 0.4,
                          scale_range: Tuple[float, float] = (0.75, 1.25), flip_prob: float = 0.5,
                          distribution: str = "uniform") -> AugmentParams:
    """Draw rotation / scale factor / flip (defaults: the paper's ranges and the hourglass probabilities).

    Always consumes ``rng.random(2)`` (apply-rotation, flip) then ``rng.random(2)`` (``"uniform"``) or
    ``rng.standard_normal(2)`` (``"normal"``) for angle and scale, so the stream does not depend on the outcome.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    rmax = finite_number(rotation_max, "rotation_max")
    if rmax < 0:
        raise ValueError(f"rotation_max must be >= 0 degrees, got {rotation_max!r}")
    rp, fp = _prob(rotation_prob, "rotation_prob"), _prob(flip_prob, "flip_prob")
    lo, hi = _positive_range(scale_range, "scale_range", "low", "high")
    u_rot, u_flip = rng.random(2)
    if distribution == "uniform":
        a, b = rng.random(2)
        angle = (2.0 * a - 1.0) * rmax
        factor = lo + (hi - lo) * b
    else:
        za, zb = rng.standard_normal(2)
        angle = float(np.clip(za * rmax / 2.0, -rmax, rmax))
        mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
        factor = float(np.clip(mid + zb * half / 2.0, lo, hi))
    return AugmentParams(float(angle) if u_rot < rp else 0.0, float(factor), bool(u_flip < fp))


def random_person_crop(image, keypoints, visible, center, scale: float, rng: np.random.Generator, flip_pairs,
                       out_size=(256, 256), rotation_max: float = 30.0, rotation_prob: float = 0.4,
                       scale_range: Tuple[float, float] = (0.75, 1.25), flip_prob: float = 0.5,
                       distribution: str = "uniform", pixel_std: float = PIXEL_STD, border_value=0) -> PoseCrop:
    """:func:`sample_augment_params` then :func:`person_crop` (the training-time crop); deterministic given
    ``rng``. ``flip_pairs``: the layout (or its pairs) for the left/right swap."""
    p = sample_augment_params(rng, rotation_max, rotation_prob, scale_range, flip_prob, distribution)
    return person_crop(image, keypoints, visible, center, scale, out_size=out_size, rotation=p.rotation,
                       flip=p.flip, flip_pairs=flip_pairs, pixel_std=pixel_std, border_value=border_value,
                       scale_factor=p.scale_factor)


# ----------------------------------------------------------------------------------------- keypoint masking
class Patch(NamedTuple):
    """One pasted patch: ``kind`` ``"occlusion"`` or ``"distractor"``, the ``joint`` it concerns, and the
    ``src`` / ``dst`` rectangles ``(x0, y0, x1, y1)`` (half-open: columns x0..x1-1, rows y0..y1-1)."""
    kind: str
    joint: int
    src: Tuple[int, int, int, int]
    dst: Tuple[int, int, int, int]


class MaskingResult(NamedTuple):
    """Masked ``image`` (a copy), ``keypoints`` (K, 2) and ``visible`` (K,) bool (unchanged unless
    ``keep_occluded_visible=False``) and the ``patches`` pasted, in order."""
    image: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    patches: List[Patch]


def _contains_any(x0: np.ndarray, y0: np.ndarray, w: int, h: int, pix: np.ndarray) -> np.ndarray:
    """(T,) bool: rectangle t (top-left x0[t], y0[t], size w x h) contains any of the pixels ``pix`` (M, 2)."""
    if len(pix) == 0:
        return np.zeros(len(x0), bool)
    px, py = pix[None, :, 0], pix[None, :, 1]
    inside = (px >= x0[:, None]) & (px < x0[:, None] + w) & (py >= y0[:, None]) & (py < y0[:, None] + h)
    return inside.any(axis=1)


def _rect_at(px: int, py: int, side: int, w_img: int, h_img: int) -> Tuple[int, int, int, int]:
    """Square of ``side`` pixels containing pixel (px, py) near its middle, clipped to the image."""
    x0, y0 = px - side // 2, py - side // 2
    return max(x0, 0), max(y0, 0), min(x0 + side, w_img), min(y0 + side, h_img)


def keypoint_masking(image, keypoints, visible, rng: np.random.Generator, person_size: Optional[float] = None,
                     patch_frac: float = 0.15, occlusion_prob: float = 0.5, distractor_prob: float = 0.5,
                     distractor_distance: Tuple[float, float] = (1.0, 2.0), max_tries: int = 50,
                     keep_occluded_visible: bool = True) -> MaskingResult:
    """Keypoint masking (Ke et al. 2018, Sec. 3.4, Fig. 5 b and d); deterministic given ``rng``.

    image (H, W) or (H, W, C), in the frame of ``keypoints`` (usually a :class:`PoseCrop`'s). ``person_size``:
    person height in pixels (None: the larger side of the bounding box of the finite keypoints; ``min(H, W)``
    with fewer than two). The patch side is ``max(1, round(patch_frac * person_size))``.

    * With probability ``occlusion_prob``: a visible keypoint inside the image is chosen uniformly; the patch
      centred on it (clipped to the image) is overwritten by an equally sized patch from elsewhere in the image
      that contains no keypoint (the first of ``max_tries`` uniformly drawn positions; skipped when none fits).
    * With probability ``distractor_prob``: a visible, not occluded keypoint is chosen; the patch centred on it is
      pasted at a displacement of ``distractor_distance`` patch sides (uniform length and direction) where the
      destination lies inside the image and contains no keypoint (first of ``max_tries``; skipped otherwise).

    "Contains a keypoint" means the pixel holding it, ``floor(x + 0.5), floor(y + 0.5)``, lies in the patch;
    every finite keypoint counts, labelled or not. Patches are copied with slicing from the image as it is before
    each paste. Keypoints and visibility are returned unchanged: the occluded joint keeps its label (the paper
    trains the network to recover it); ``keep_occluded_visible=False`` marks it not visible instead.
    """
    img = _image(image)
    pts, vis = _keypoints(keypoints, visible)
    h_img, w_img = img.shape[:2]
    po, pd = _prob(occlusion_prob, "occlusion_prob"), _prob(distractor_prob, "distractor_prob")
    frac = finite_number(patch_frac, "patch_frac", positive=True)
    dmin, dmax = _positive_range(distractor_distance, "distractor_distance", "min", "max")
    if not isinstance(max_tries, (int, np.integer)) or max_tries < 1:
        raise ValueError(f"max_tries must be a positive int, got {max_tries!r}")
    finite = np.isfinite(pts).all(axis=1)
    if person_size is None:
        fp = pts[finite]
        person_size = float(max(np.ptp(fp[:, 0]), np.ptp(fp[:, 1]))) if len(fp) >= 2 else float(min(h_img, w_img))
        person_size = person_size if person_size > 0 else float(min(h_img, w_img))
    else:
        person_size = finite_number(person_size, "person_size", positive=True)
    side = int(max(1, round(frac * person_size)))

    pix = np.floor(pts[finite] + 0.5).astype(np.int64)            # pixels holding the finite keypoints
    pix_all = np.full((len(pts), 2), -1, np.int64)
    pix_all[finite] = pix
    in_img = finite & (pix_all[:, 0] >= 0) & (pix_all[:, 0] < w_img) & (pix_all[:, 1] >= 0) & (pix_all[:, 1] < h_img)
    chosen = vis & in_img

    out = img.copy()
    vis_out = vis.copy()
    patches: List[Patch] = []
    do_occ, do_dis = rng.random(2) < np.array([po, pd])

    occluded = -1
    if do_occ and chosen.any():
        cand = np.flatnonzero(chosen)
        j = int(cand[rng.integers(len(cand))])
        dx0, dy0, dx1, dy1 = _rect_at(int(pix_all[j, 0]), int(pix_all[j, 1]), side, w_img, h_img)
        pw, ph = dx1 - dx0, dy1 - dy0
        if pw <= w_img and ph <= h_img:
            sx = rng.integers(0, w_img - pw + 1, size=max_tries)
            sy = rng.integers(0, h_img - ph + 1, size=max_tries)
            ok = np.flatnonzero(~_contains_any(sx, sy, pw, ph, pix))
            if len(ok):
                sx0, sy0 = int(sx[ok[0]]), int(sy[ok[0]])
                out[dy0:dy1, dx0:dx1] = out[sy0:sy0 + ph, sx0:sx0 + pw].copy()
                patches.append(Patch("occlusion", j, (sx0, sy0, sx0 + pw, sy0 + ph), (dx0, dy0, dx1, dy1)))
                occluded = j
                if not keep_occluded_visible:
                    vis_out[j] = False

    if do_dis:
        avail = chosen.copy()
        if occluded >= 0:
            avail[occluded] = False
        if avail.any():
            cand = np.flatnonzero(avail)
            j = int(cand[rng.integers(len(cand))])
            sx0, sy0, sx1, sy1 = _rect_at(int(pix_all[j, 0]), int(pix_all[j, 1]), side, w_img, h_img)
            pw, ph = sx1 - sx0, sy1 - sy0
            ang = rng.uniform(0.0, 2.0 * math.pi, size=max_tries)
            dist = rng.uniform(dmin, dmax, size=max_tries) * side
            tx = sx0 + np.rint(dist * np.cos(ang)).astype(np.int64)
            ty = sy0 + np.rint(dist * np.sin(ang)).astype(np.int64)
            fits = (tx >= 0) & (ty >= 0) & (tx + pw <= w_img) & (ty + ph <= h_img)
            ok = np.flatnonzero(fits & ~_contains_any(tx, ty, pw, ph, pix))
            if len(ok):
                tx0, ty0 = int(tx[ok[0]]), int(ty[ok[0]])
                out[ty0:ty0 + ph, tx0:tx0 + pw] = out[sy0:sy1, sx0:sx1].copy()
                patches.append(Patch("distractor", j, (sx0, sy0, sx1, sy1), (tx0, ty0, tx0 + pw, ty0 + ph)))

    return MaskingResult(out, pts, vis_out, patches)
