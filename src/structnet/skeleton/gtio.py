"""Reading and resizing skeleton ground truth.

Formats (see ``shared/data/sk-large/README.md``):

* SK-LARGE PNG scale maps: 8-bit grey, 0 = background, ``v > 0`` = skeleton pixel with scale ``v`` pixels
  (``v = min(255, max(2, round(2 d)))``, d = distance to the object boundary; about the local object width);
* binary skeleton PNGs: values {0, 255} or {0, 1} (or PIL mode ``1``): skeleton only, no scale;
* original SK-LARGE ``.mat`` files (``scipy.io.loadmat``): fields ``symmetry`` and ``edge``, at the top level or
  inside a ``groundTruth`` struct / cell (BSDS style).  ``skeleton = symmetry > 0``; when ``symmetry`` is not
  binary it carries the distance d and ``scale = 2 * symmetry``.

A format without scale gives ``scale = NaN`` on skeleton pixels (``has_scale = False``); off-skeleton scale is 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

__all__ = ["SkeletonGT", "read_skeleton_gt", "resize_skeleton_gt"]


@dataclass
class SkeletonGT:
    """Skeleton ground truth of one image.

    ``skeleton``: bool (H, W); ``scale``: float32 (H, W) in pixels (diameter), 0 off-skeleton, NaN on skeleton
    pixels when the source carries no scale; ``edge``: optional bool (H, W) object boundary (``.mat`` only);
    ``source``: file it was read from."""
    skeleton: np.ndarray
    scale: np.ndarray
    has_scale: bool
    edge: Optional[np.ndarray] = None
    source: str = ""

    @property
    def shape(self) -> Tuple[int, int]:
        return tuple(self.skeleton.shape)  # type: ignore[return-value]


def _from_values(v: np.ndarray, kind: str, path: Path) -> SkeletonGT:
    """Integer map -> SkeletonGT; ``kind`` auto/scale/binary."""
    sk = v > 0
    if kind == "auto":
        u = np.unique(v)
        kind = "binary" if (set(u.tolist()) <= {0, 1} or set(u.tolist()) <= {0, 255}) else "scale"
    if kind == "binary":
        scale = np.where(sk, np.float32(np.nan), np.float32(0)).astype(np.float32)
        return SkeletonGT(sk, scale, False, None, str(path))
    return SkeletonGT(sk, np.where(sk, v, 0).astype(np.float32), True, None, str(path))


def _read_png(path: Path, kind: str) -> SkeletonGT:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            a = np.asarray(im)
    except Exception as e:  # noqa: BLE001 -- any decoder error becomes a one-line message
        raise ValueError(f"{path}: cannot read image ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                         ) from None
    if mode == "1":
        return _from_values(a.astype(np.uint8), "binary" if kind == "auto" else kind, path)
    if mode == "P":
        raise ValueError(f"{path}: palette image is not a skeleton ground truth (expected 8-bit grey)")
    if a.ndim == 3:
        if a.shape[2] == 2:  # LA
            a = a[..., 0]
        elif a.shape[2] in (3, 4) and (a[..., 0] == a[..., 1]).all() and (a[..., 0] == a[..., 2]).all():
            a = a[..., 0]
        else:
            raise ValueError(f"{path}: expected a single-channel ground-truth map, got mode {mode}")
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{path}: expected a 2-D ground-truth map, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{path}: expected an integer-valued ground-truth map, got dtype {a.dtype}")
    return _from_values(a.astype(np.int64), kind, path)


def _get(obj, name):
    """Field ``name`` of a loadmat struct (dict, mat_struct, structured ndarray or object array), or None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    if isinstance(obj, np.ndarray):
        if obj.dtype.names and name in obj.dtype.names:
            v = obj[name]
            while isinstance(v, np.ndarray) and v.dtype == object and v.size == 1:
                v = v.ravel()[0]
            return v
        if obj.dtype == object:
            for item in obj.ravel():
                v = _get(item, name)
                if v is not None:
                    return v
        return None
    return getattr(obj, name, None)


def _read_mat(path: Path) -> SkeletonGT:
    import scipy.io

    try:
        m = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except NotImplementedError:
        raise ValueError(f"{path}: MATLAB v7.3 (HDF5) .mat files are not supported; re-save with -v7") from None
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{path}: cannot read .mat file ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    sym = m.get("symmetry")
    edge = m.get("edge")
    holder = m.get("groundTruth")
    if sym is None and holder is not None:
        sym = _get(holder, "symmetry")
        edge = _get(holder, "edge") if edge is None else edge
    if sym is None:
        keys = sorted(k for k in m if not k.startswith("__"))
        raise ValueError(f"{path}: no 'symmetry' field (top level or in 'groundTruth'); fields: {keys}")
    try:
        s = np.asarray(sym, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: 'symmetry' is not a numeric map") from None
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"{path}: 'symmetry' must be a 2-D map, got shape {s.shape}")
    s = np.nan_to_num(s, nan=0.0)
    sk = s > 0
    binary = bool(np.isin(s[sk], (1.0,)).all())
    if binary:
        scale = np.where(sk, np.nan, 0).astype(np.float32)
    else:
        scale = np.where(sk, 2 * s, 0).astype(np.float32)
    e = None
    if edge is not None:
        e = np.asarray(edge)
        e = (e > 0) if (e.ndim == 2 and e.shape == s.shape) else None
    return SkeletonGT(sk, scale, not binary, e, str(path))


def read_skeleton_gt(path: Union[str, Path], kind: str = "auto") -> SkeletonGT:
    """Read one skeleton ground truth (``.png`` / ``.mat``, see the module docstring) -> :class:`SkeletonGT`.

    ``kind`` (PNG only): ``"auto"`` (values within {0, 1} or {0, 255} -> binary, else a scale map),
    ``"scale"`` or ``"binary"`` to force.  Missing/corrupt files and unusable contents raise a one-line
    ``FileNotFoundError`` / ``ValueError`` naming the file."""
    path = Path(path)
    if kind not in ("auto", "scale", "binary"):
        raise ValueError(f"read_skeleton_gt: kind must be auto, scale or binary, got {kind!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ground-truth file not found")
    if path.suffix.lower() == ".mat":
        return _read_mat(path)
    return _read_png(path, kind)


def resize_skeleton_gt(gt: SkeletonGT, out_hw: Tuple[int, int]) -> SkeletonGT:
    """Resize a ground truth to ``out_hw = (H', W')``.

    Each skeleton pixel (y, x) is placed at ``(floor((y + 0.5) fy), floor((x + 0.5) fx))``, ``fy = H'/H``,
    ``fx = W'/W`` (nearest-neighbour placement; when several land on one pixel it keeps the largest scale).
    Scales are multiplied by ``sqrt(fy * fx)`` (= f for isotropic resizing).  Upsampling therefore leaves gaps of
    about f pixels along the skeleton (no pixels are invented); downsampling keeps every skeleton as a connected
    chain.  ``edge`` is resized with the same placement rule."""
    oh, ow = (int(v) for v in out_hw)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"resize_skeleton_gt: output size must be positive, got {out_hw}")
    h, w = gt.skeleton.shape
    fy, fx = oh / h, ow / w
    f = float(np.sqrt(fy * fx))

    def place(mask: np.ndarray):
        ys, xs = np.nonzero(mask)
        ty = np.minimum(np.floor((ys + 0.5) * fy).astype(np.int64), oh - 1)
        tx = np.minimum(np.floor((xs + 0.5) * fx).astype(np.int64), ow - 1)
        return ys, xs, ty, tx

    ys, xs, ty, tx = place(gt.skeleton)
    sk = np.zeros((oh, ow), bool)
    sk[ty, tx] = True
    scale = np.zeros((oh, ow), np.float32)
    vals = gt.scale[ys, xs].astype(np.float32) * np.float32(f)
    if gt.has_scale:
        np.maximum.at(scale, (ty, tx), vals)
    else:
        scale[sk] = np.nan
    edge = None
    if gt.edge is not None:
        _, _, ey, ex = place(gt.edge)
        edge = np.zeros((oh, ow), bool)
        edge[ey, ex] = True
    return SkeletonGT(sk, scale, gt.has_scale, edge, gt.source)
