"""Joint geometric transforms: one parameter set applied to an image and everything aligned with it.

A *sample* here is a dict of arrays. Each key has a **role** (``roles`` argument, default
:data:`DEFAULT_ROLES`, matched by key name); keys without a role are passed through untouched:

==============  ===============================================================================================
role            meaning and how it is transformed
==============  ===============================================================================================
``"image"``     continuous values ``(H, W)`` or ``(H, W, C)`` (**channels last**, any dtype OpenCV resizes):
                area / bilinear interpolation (``cv2.resize``, ``cv2.warpAffine``)
``"label"``     label / mask map ``(H, W)`` of any dtype (bool, int): nearest neighbour, never blended
``"skeleton"``  thin structure ``bool (H, W)``: every ``True`` source pixel is *forward-mapped* to the destination
                pixel containing its transformed centre, so no skeleton pixel is smeared or dropped by sampling
                (two may merge when shrinking; pixels mapped outside the output are dropped). After a resize,
                a skeleton pixel of a 1-2 px thin part can land just outside the nearest-resized ``"label"`` mask
``"scale"``     per-pixel scale map ``float (H, W)`` in pixels, > 0 on the skeleton, 0 elsewhere: forward-mapped
                like ``"skeleton"`` (collisions keep the maximum) and **multiplied by the geometric scale factor**
``"keypoints"`` ``(..., K, 2)`` ``x, y`` or ``(..., K, 3)`` ``x, y, visibility``: transformed by the same matrix;
                after a mirror (any flip, or an affine with negative determinant) the rows are permuted by
                ``flip_pairs`` (left/right joint swap); with a visibility column, points that leave the output
                frame get visibility 0 (crop / affine only)
==============  ===============================================================================================

Coordinates: pixel centres at integer ``(x, y)``, x = column to the right, y = row down, origin at the top-left
pixel centre. So resizing by ``f`` maps ``x -> (x + 0.5) f - 0.5`` (OpenCV's half-pixel convention), the
left-right flip ``x -> W - 1 - x`` and ``rot90(k=1)`` (counter-clockwise, as :func:`numpy.rot90`)
``(x, y) -> (y, W - 1 - x)``.

The skeleton augmentation of LMSDS (Shen et al. 2017, Sec. IV-A c): 4 rotations (0, 90, 180, 270 deg) x 3 flips
(none, up-down, left-right) x 3 resize factors (0.8, 1.0, 1.2) = 36 variants, applied in that order (rotate, flip,
resize); scales of skeleton pixels are multiplied by the resize factor.
"""
from __future__ import annotations

import math
from typing import Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "DEFAULT_ROLES", "SKELETON_ROTATIONS", "SKELETON_FLIPS", "SKELETON_FACTORS", "SkeletonAug",
    "flip_permutation", "rot90", "flip", "resize", "max_side_factor", "resize_max_side", "crop", "random_crop",
    "affine", "affine_matrix", "rotate", "all_skeleton_augs", "sample_skeleton_aug", "apply_skeleton_aug",
    "random_skeleton_aug", "transform_points",
]

#: Key name -> role, used when ``roles`` is not given.
DEFAULT_ROLES: Dict[str, str] = {
    "image": "image", "mask": "label", "labels": "label", "parts": "label", "ignore": "label",
    "skeleton": "skeleton", "scale": "scale", "keypoints": "keypoints", "joints": "keypoints",
}
_ROLES = ("image", "label", "skeleton", "scale", "keypoints")

SKELETON_ROTATIONS: Tuple[int, ...] = (0, 1, 2, 3)          # multiples of 90 degrees, counter-clockwise
SKELETON_FLIPS: Tuple[Optional[str], ...] = (None, "ud", "lr")
SKELETON_FACTORS: Tuple[float, ...] = (0.8, 1.0, 1.2)

Sample = Dict[str, object]
FlipPairs = Optional[Iterable[Tuple[int, int]]]


# ----------------------------------------------------------------------------------------------- helpers
def _roles_of(sample: Mapping, roles: Optional[Mapping[str, str]]) -> Dict[str, str]:
    table = DEFAULT_ROLES if roles is None else roles
    out = {}
    for k, v in sample.items():
        r = table.get(k)
        if r is None or v is None:
            continue
        if r not in _ROLES:
            raise ValueError(f"unknown role {r!r} for key {k!r}; valid roles: {', '.join(_ROLES)}")
        out[k] = r
    return out


def _hw(sample: Mapping, roles: Dict[str, str]) -> Tuple[int, int]:
    """Common (H, W) of all map-like roles; ValueError naming the keys when they disagree."""
    hw = None
    first = None
    for k, r in roles.items():
        if r == "keypoints":
            continue
        a = np.asarray(sample[k])
        if a.ndim < 2:
            raise ValueError(f"sample[{k!r}] (role {r}) must be at least 2-D (H, W), got shape {a.shape}")
        if r != "image" and a.ndim != 2:
            raise ValueError(f"sample[{k!r}] (role {r}) must be (H, W), got shape {a.shape}")
        if hw is None:
            hw, first = a.shape[:2], k
        elif a.shape[:2] != hw:
            raise ValueError(f"sample[{k!r}] has size {a.shape[:2]} but sample[{first!r}] has {hw}")
    if hw is None:
        raise ValueError("sample has no image / label / skeleton / scale array to take the size from")
    return int(hw[0]), int(hw[1])


def flip_permutation(flip_pairs: FlipPairs, k: int) -> np.ndarray:
    """Permutation of ``k`` keypoint rows that swaps every ``(i, j)`` pair (identity elsewhere)."""
    perm = np.arange(k)
    for i, j in (flip_pairs or ()):
        if not (0 <= i < k and 0 <= j < k):
            raise ValueError(f"flip_pairs entry ({i}, {j}) out of range for {k} keypoints")
        perm[i], perm[j] = j, i
    return perm


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to ``(..., 2)`` x, y points (float64 result)."""
    p = np.asarray(points, np.float64)
    m = np.asarray(matrix, np.float64)
    return p @ m[:, :2].T + m[:, 2]


def _keypoints(kp, matrix, out_hw, mirrored: bool, flip_pairs: FlipPairs, mark_outside: bool):
    a = np.asarray(kp)
    if a.ndim < 2 or a.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must be (..., K, 2) or (..., K, 3), got shape {a.shape}")
    out = a.astype(np.float64 if not np.issubdtype(a.dtype, np.floating) else a.dtype, copy=True)
    out[..., :2] = transform_points(a[..., :2], matrix)
    if mirrored and flip_pairs:
        out = out[..., flip_permutation(flip_pairs, a.shape[-2]), :]
    if mark_outside and a.shape[-1] == 3:
        h, w = out_hw
        x, y = out[..., 0], out[..., 1]
        outside = (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)
        out[..., 2] = np.where(outside, 0, out[..., 2])
    return out


def _forward_map(arr: np.ndarray, matrix: np.ndarray, out_hw: Tuple[int, int], factor: float) -> np.ndarray:
    """Move every non-zero pixel of ``arr`` (H, W) to the output pixel containing its transformed centre.

    bool maps stay bool; numeric maps keep the maximum on collisions and are multiplied by ``factor``.
    """
    a = np.asarray(arr)
    ys, xs = np.nonzero(a)
    out = np.zeros(out_hw, a.dtype)
    if ys.size == 0:
        return out
    pts = transform_points(np.stack([xs, ys], axis=1), matrix)
    xi = np.floor(pts[:, 0] + 0.5).astype(np.int64)
    yi = np.floor(pts[:, 1] + 0.5).astype(np.int64)
    keep = (xi >= 0) & (xi < out_hw[1]) & (yi >= 0) & (yi < out_hw[0])
    xi, yi = xi[keep], yi[keep]
    if a.dtype == np.bool_:
        out[yi, xi] = True
        return out
    vals = a[ys[keep], xs[keep]]
    if factor != 1.0:
        vals = (vals * factor).astype(a.dtype)
        out = out.astype(vals.dtype)
    np.maximum.at(out, (yi, xi), vals)
    return out


def _cv2_image(fn, a: np.ndarray) -> np.ndarray:
    """Run an OpenCV resize/warp ``fn`` on (H, W) or (H, W, C) of any channel count / dtype."""
    dt = a.dtype
    work = a
    if dt not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        work = a.astype(np.float32)
    if work.ndim == 2:
        out = fn(np.ascontiguousarray(work))
    else:
        chunks = [fn(np.ascontiguousarray(work[..., i:i + 4])) for i in range(0, work.shape[2], 4)]
        chunks = [c[..., None] if c.ndim == 2 else c for c in chunks]
        out = np.concatenate(chunks, axis=2)
    if out.dtype != dt:
        out = np.rint(out).astype(dt) if not np.issubdtype(dt, np.floating) and dt != np.bool_ else out.astype(dt)
    return out


def _nearest_gather(a: np.ndarray, src_x: np.ndarray, src_y: np.ndarray, fill) -> np.ndarray:
    """out[i, j] = a[src_y[i, j], src_x[i, j]] with integer sources; out-of-range -> fill."""
    h, w = a.shape[:2]
    inside = (src_x >= 0) & (src_x < w) & (src_y >= 0) & (src_y < h)
    out = a[np.clip(src_y, 0, h - 1), np.clip(src_x, 0, w - 1)]
    if not inside.all():
        out = np.where(inside, out, np.asarray(fill, dtype=a.dtype))
    return out


# ---------------------------------------------------------------------------------------------- rot / flip
def _rot90_matrix(k: int, hw: Tuple[int, int]) -> np.ndarray:
    h, w = hw
    m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    for _ in range(k % 4):
        # (x, y) -> (y, W - 1 - x) on the current frame, whose width then becomes the old height
        step = np.array([[0.0, 1, 0], [-1, 0, w - 1], [0, 0, 1]])
        m = (step @ np.vstack([m, [0, 0, 1]]))[:2]
        h, w = w, h
    return m


def rot90(sample: Mapping, k: int, roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Rotate by ``k * 90`` degrees counter-clockwise (as :func:`numpy.rot90`); exact for every role."""
    rl = _roles_of(sample, roles)
    hw = _hw(sample, rl)
    k = int(k) % 4
    out = dict(sample)
    if k == 0:
        return out
    m = _rot90_matrix(k, hw)
    out_hw = hw if k % 2 == 0 else (hw[1], hw[0])
    for key, r in rl.items():
        if r == "keypoints":
            out[key] = _keypoints(sample[key], m, out_hw, False, None, False)
        else:
            out[key] = np.ascontiguousarray(np.rot90(np.asarray(sample[key]), k, axes=(0, 1)))
    return out


def flip(sample: Mapping, axis: Optional[str], flip_pairs: FlipPairs = None,
         roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Mirror: ``axis="lr"`` (left-right, ``x -> W-1-x``), ``"ud"`` (up-down, ``y -> H-1-y``) or ``None`` (copy).

    Keypoint rows are swapped by ``flip_pairs`` for both axes: any mirror image turns a left limb into one that
    looks like a right limb (an up-down flip is a left-right flip plus a 180-degree rotation).
    """
    if axis not in (None, "lr", "ud"):
        raise ValueError(f"flip axis must be None, 'lr' or 'ud', got {axis!r}")
    rl = _roles_of(sample, roles)
    h, w = _hw(sample, rl)
    out = dict(sample)
    if axis is None:
        return out
    ax = 1 if axis == "lr" else 0
    m = np.array([[-1.0, 0, w - 1], [0, 1, 0]]) if axis == "lr" else np.array([[1.0, 0, 0], [0, -1, h - 1]])
    for key, r in rl.items():
        if r == "keypoints":
            out[key] = _keypoints(sample[key], m, (h, w), True, flip_pairs, False)
        else:
            out[key] = np.ascontiguousarray(np.flip(np.asarray(sample[key]), axis=ax))
    return out


# -------------------------------------------------------------------------------------------------- resize
def resize(sample: Mapping, factor: Optional[float] = None, size: Optional[Tuple[int, int]] = None,
           roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Resize by ``factor`` (output ``round(H f) x round(W f)``, at least 1) or to ``size = (H', W')``.

    Images: ``cv2.INTER_AREA`` when shrinking, ``cv2.INTER_LINEAR`` when enlarging. Labels: nearest (half-pixel
    centres). Skeleton / scale: forward mapping, ``(x, y) -> floor((x + 0.5) W'/W), floor((y + 0.5) H'/H)``;
    scale values are multiplied by ``factor`` (or by ``sqrt(H'/H * W'/W)`` when ``size`` is given).
    """
    import cv2

    if (factor is None) == (size is None):
        raise ValueError("resize: give exactly one of factor or size")
    rl = _roles_of(sample, roles)
    h, w = _hw(sample, rl)
    if factor is not None:
        factor = float(factor)
        if not (factor > 0 and math.isfinite(factor)):
            raise ValueError(f"resize: factor must be a positive number, got {factor!r}")
        nh, nw = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
        sfac = factor
    else:
        nh, nw = int(size[0]), int(size[1])
        if nh < 1 or nw < 1:
            raise ValueError(f"resize: size must be positive (H, W), got {size!r}")
        sfac = math.sqrt(nh / h * nw / w)
    out = dict(sample)
    if (nh, nw) == (h, w) and sfac == 1.0:
        return out
    fx, fy = nw / w, nh / h
    m = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5]])
    interp = cv2.INTER_AREA if nh * nw < h * w else cv2.INTER_LINEAR
    src_x = np.floor((np.arange(nw) + 0.5) / fx).astype(np.int64)
    src_y = np.floor((np.arange(nh) + 0.5) / fy).astype(np.int64)
    for key, r in rl.items():
        a = sample[key]
        if r == "image":
            out[key] = _cv2_image(lambda x: cv2.resize(x, (nw, nh), interpolation=interp), np.asarray(a))
        elif r == "label":
            out[key] = _nearest_gather(np.asarray(a), src_x[None, :], src_y[:, None], 0)
        elif r in ("skeleton", "scale"):
            out[key] = _forward_map(np.asarray(a), m, (nh, nw), sfac if r == "scale" else 1.0)
        else:
            out[key] = _keypoints(a, m, (nh, nw), False, None, False)
    return out


def max_side_factor(h: int, w: int, max_side: Optional[int]) -> float:
    """The resize factor that brings the longer side of an ``h x w`` image down to ``max_side``: ``max_side /
    max(h, w)`` when that side is longer, else 1.0 (also for ``max_side`` None or 0)."""
    if not max_side or max(h, w) <= max_side:
        return 1.0
    return max_side / max(h, w)


def resize_max_side(sample: Mapping, max_side: Optional[int], upscale: bool = False,
                    roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Resize so that ``max(H, W) <= max_side`` (aspect kept; scales multiplied by the factor).

    Smaller samples are left as they are unless ``upscale``. ``max_side=None`` returns a copy.
    """
    if max_side is None:
        return dict(sample)
    if int(max_side) < 1:
        raise ValueError(f"resize_max_side: max_side must be >= 1, got {max_side!r}")
    h, w = _hw(sample, _roles_of(sample, roles))
    f = int(max_side) / max(h, w)
    if f >= 1.0 and not upscale or f == 1.0:
        return dict(sample)
    return resize(sample, factor=f, roles=roles)


# ---------------------------------------------------------------------------------------------------- crop
def crop(sample: Mapping, y0: int, x0: int, height: int, width: int, pad_value=0, label_fill=0,
         roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Crop rows ``y0 : y0+height``, columns ``x0 : x0+width``; parts outside the input are padded
    (images with ``pad_value``, labels with ``label_fill``, skeleton False, scale 0). Scale values are unchanged;
    keypoints shift by ``(-x0, -y0)`` and get visibility 0 outside the crop."""
    rl = _roles_of(sample, roles)
    h, w = _hw(sample, rl)
    if height < 1 or width < 1:
        raise ValueError(f"crop: size must be positive, got {height}x{width}")
    out = dict(sample)
    ys0, ys1 = max(y0, 0), min(y0 + height, h)
    xs0, xs1 = max(x0, 0), min(x0 + width, w)
    m = np.array([[1.0, 0, -x0], [0, 1, -y0]])
    for key, r in rl.items():
        if r == "keypoints":
            out[key] = _keypoints(sample[key], m, (height, width), False, None, True)
            continue
        a = np.asarray(sample[key])
        fill = pad_value if r == "image" else (label_fill if r == "label" else 0)
        o = np.full((height, width) + a.shape[2:], fill, dtype=a.dtype)
        if ys1 > ys0 and xs1 > xs0:
            o[ys0 - y0:ys1 - y0, xs0 - x0:xs1 - x0] = a[ys0:ys1, xs0:xs1]
        out[key] = o
    return out


def random_crop(sample: Mapping, size: Union[int, Tuple[int, int]], rng: np.random.Generator, pad_value=0,
                label_fill=0, roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Crop a random ``size = (h, w)`` (or ``s`` for ``s x s``) window, offsets uniform from ``rng``.

    Where the input is smaller than the window along an axis, the input sits at offset 0 and the rest is padded
    (see :func:`crop`). Scale maps keep their values (cropping does not change object sizes).
    """
    ch, cw = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    h, w = _hw(sample, _roles_of(sample, roles))
    y0 = int(rng.integers(0, max(h - ch, 0) + 1))
    x0 = int(rng.integers(0, max(w - cw, 0) + 1))
    return crop(sample, y0, x0, ch, cw, pad_value=pad_value, label_fill=label_fill, roles=roles)


# -------------------------------------------------------------------------------------------------- affine
def affine_matrix(center: Tuple[float, float], angle: float = 0.0, scale: float = 1.0,
                  translate: Tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """2x3 matrix: rotate by ``angle`` degrees counter-clockwise (as displayed, y down) and scale by ``scale``
    about ``center = (x, y)``, then translate by ``(tx, ty)`` pixels. Same as ``cv2.getRotationMatrix2D``."""
    a = math.radians(angle)
    c, s = scale * math.cos(a), scale * math.sin(a)
    cx, cy = center
    return np.array([[c, s, (1 - c) * cx - s * cy + translate[0]],
                     [-s, c, s * cx + (1 - c) * cy + translate[1]]], np.float64)


def affine(sample: Mapping, matrix: np.ndarray, out_size: Optional[Tuple[int, int]] = None,
           flip_pairs: FlipPairs = None, border_value=0, label_fill=0,
           roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Warp every role by the 2x3 ``matrix`` (source (x, y) -> output (x, y)) into ``out_size = (H', W')``
    (default: the input size).

    Images: ``cv2.warpAffine`` bilinear, constant ``border_value`` outside. Labels: nearest (the output pixel
    takes the label at the rounded inverse-mapped position), ``label_fill`` outside. Skeleton / scale: forward
    mapping; scales multiplied by ``sqrt(|det A|)``. Keypoints: transformed by ``matrix``; rows permuted by
    ``flip_pairs`` when ``det A < 0``; visibility 0 outside the output.
    """
    import cv2

    rl = _roles_of(sample, roles)
    h, w = _hw(sample, rl)
    nh, nw = (h, w) if out_size is None else (int(out_size[0]), int(out_size[1]))
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 3) or not np.isfinite(m).all():
        raise ValueError(f"affine: matrix must be a finite 2x3 array, got shape {m.shape}")
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    if abs(det) < 1e-12:
        raise ValueError("affine: matrix is singular")
    sfac = math.sqrt(abs(det))
    inv = cv2.invertAffineTransform(m)
    out = dict(sample)
    grid = None
    for key, r in rl.items():
        a = sample[key]
        if r == "image":
            bv = border_value if np.isscalar(border_value) else tuple(border_value)
            out[key] = _cv2_image(
                lambda x: cv2.warpAffine(x, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                         borderValue=bv), np.asarray(a))
        elif r == "label":
            if grid is None:
                yy, xx = np.mgrid[0:nh, 0:nw]
                src = transform_points(np.stack([xx, yy], axis=-1), inv)
                grid = (np.floor(src[..., 0] + 0.5).astype(np.int64), np.floor(src[..., 1] + 0.5).astype(np.int64))
            out[key] = _nearest_gather(np.asarray(a), grid[0], grid[1], label_fill)
        elif r in ("skeleton", "scale"):
            out[key] = _forward_map(np.asarray(a), m, (nh, nw), sfac if r == "scale" else 1.0)
        else:
            out[key] = _keypoints(a, m, (nh, nw), det < 0, flip_pairs, True)
    return out


def rotate(sample: Mapping, angle: float, scale: float = 1.0, center: Optional[Tuple[float, float]] = None,
           out_size: Optional[Tuple[int, int]] = None, flip_pairs: FlipPairs = None, border_value=0,
           label_fill=0, roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Rotate by ``angle`` degrees counter-clockwise and scale by ``scale`` about ``center`` (default: the image
    centre ``((W-1)/2, (H-1)/2)``) with :func:`affine`; output size ``out_size`` (default: the input size)."""
    h, w = _hw(sample, _roles_of(sample, roles))
    c = ((w - 1) / 2.0, (h - 1) / 2.0) if center is None else center
    return affine(sample, affine_matrix(c, angle, scale), out_size=out_size, flip_pairs=flip_pairs,
                  border_value=border_value, label_fill=label_fill, roles=roles)


# ---------------------------------------------------------------------------------- skeleton augmentation
class SkeletonAug(NamedTuple):
    """One of the 36 LMSDS augmentations: ``k`` x 90 deg CCW rotation, then ``flip``, then resize by ``factor``."""
    k: int
    flip: Optional[str]
    factor: float


def all_skeleton_augs(factors: Optional[Sequence[float]] = None) -> List[SkeletonAug]:
    """The 36 augmentations (4 rotations x 3 flips x 3 factors) in a fixed order; index 0 is the identity.
    ``factors``: other resize factors than the paper's :data:`SKELETON_FACTORS` (4 x 3 x len(factors) augmentations;
    a list without 1.0 has no identity)."""
    factors = tuple(SKELETON_FACTORS if factors is None else factors)
    if not factors or any(not (float(f) > 0) for f in factors):
        raise ValueError(f"skeleton augmentation factors must be positive numbers, got {list(factors)!r}")
    factors = sorted((float(f) for f in factors), key=lambda f: (f != 1.0, f))  # identity factor first
    return [SkeletonAug(k, f, s) for k in SKELETON_ROTATIONS for f in SKELETON_FLIPS for s in factors]


def sample_skeleton_aug(rng: np.random.Generator, factors: Optional[Sequence[float]] = None) -> SkeletonAug:
    """Draw one of the 36 augmentations uniformly with a single ``rng.integers(36)`` call (with ``factors``: one of
    the ``12 * len(factors)``)."""
    augs = all_skeleton_augs(factors)
    return augs[int(rng.integers(len(augs)))]


def apply_skeleton_aug(sample: Mapping, aug: SkeletonAug, flip_pairs: FlipPairs = None,
                       roles: Optional[Mapping[str, str]] = None) -> Sample:
    """Apply ``aug`` in the paper's order: rotate, flip, resize (scales x factor)."""
    s = rot90(sample, aug.k, roles=roles)
    s = flip(s, aug.flip, flip_pairs=flip_pairs, roles=roles)
    if aug.factor != 1.0:
        s = resize(s, factor=aug.factor, roles=roles)
    return s


def random_skeleton_aug(sample: Mapping, rng: np.random.Generator, flip_pairs: FlipPairs = None,
                        roles: Optional[Mapping[str, str]] = None,
                        factors: Optional[Sequence[float]] = None) -> Sample:
    """:func:`apply_skeleton_aug` with an augmentation drawn by :func:`sample_skeleton_aug` from ``rng``."""
    return apply_skeleton_aug(sample, sample_skeleton_aug(rng, factors), flip_pairs=flip_pairs, roles=roles)
