"""The per-person record every keypoint reader returns (:class:`PoseRecord`), the geometry that derives its person
window and PCK normaliser from joints or boxes, and the file check for missing images. Reads no published format
itself: the readers are :mod:`.lsp`, :mod:`.mpii` and :mod:`.coco`; the conventions they share are in the
package docstring (:mod:`structnet.keypoints.datasets`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ...data.io import read_image
from ..layouts import get_layout

#: Pixels per unit of person scale (MPII: person height ~ 200 * s px).
PIXEL_STD = 200.0
#: Box -> crop padding of HRNet / mmpose (crop side = 1.25 x the longer box side).
BOX_PADDING = 1.25


# ------------------------------------------------------------------------------------------------- record
@dataclass
class PoseRecord:
    """One annotated person (see the module docstring for every convention).

    - ``name``: image file name (MPII, COCO) or stem (LSP ``im00001``);
    - ``image_path``: ``Path`` of the image, or None for annotation-only sources (``image_dir`` not given);
    - ``keypoints``: float32 ``(K, 2)`` ``(x, y)`` in image pixels, 0 where not annotated;
    - ``visible`` / ``annotated``: bool ``(K,)``, ``visible`` a subset of ``annotated``;
    - ``layout``: ``"lsp14"``, ``"mpii16"`` or ``"coco17"`` (:func:`structnet.keypoints.layouts.get_layout`);
    - ``center``: float32 ``(2,)`` and ``scale``: float, hourglass crop convention (square of side ``200 * scale``);
    - ``box``: float32 ``(4,)`` person box ``(x1, y1, x2, y2)`` (COCO bbox; LSP annotated-joint box), NaN if none;
    - ``norm`` / ``norm_kind``: evaluation normaliser in px and ``"head"`` / ``"torso"`` / ``"none"``;
    - ``image_size``: ``(W, H)`` when the annotation file gives it, else None;
    - ``meta``: source-specific extras (MPII ``index`` / ``person`` 0-based, ``headbox``, ``objpos``, ``s``;
      COCO ``id``, ``image_id``, ``area``, ``iscrowd``).
    """

    name: str
    image_path: Optional[Path]
    keypoints: np.ndarray
    visible: np.ndarray
    annotated: np.ndarray
    layout: str
    center: np.ndarray
    scale: float
    box: np.ndarray
    norm: float
    norm_kind: str
    image_size: Optional[Tuple[int, int]] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[0])

    def load_image(self) -> np.ndarray:
        """The image as uint8 RGB ``(H, W, 3)`` via :func:`structnet.data.io.read_image` (read on each call)."""
        if self.image_path is None:
            raise ValueError(f"pose record {self.name!r} has no image path (annotation-only source; pass image_dir)")
        return read_image(self.image_path)

    def to_sample(self, load_image: bool = True) -> Dict[str, Any]:
        """Sample dict (fixed keys, collatable by :func:`structnet.engine.trainer.collate_samples`):
        ``image`` (uint8 ``(H, W, 3)``, only when ``load_image`` and an image path exist), ``keypoints``,
        ``visible``, ``annotated``, ``center``, ``scale``, ``box``, ``norm`` (float32), ``name``, ``layout``,
        ``image_path`` (str, "" if none). Arrays are copies."""
        s: Dict[str, Any] = {}
        if load_image and self.image_path is not None:
            s["image"] = self.load_image()
        s.update(keypoints=self.keypoints.copy(), visible=self.visible.copy(), annotated=self.annotated.copy(),
                 center=self.center.copy(), scale=np.float32(self.scale), box=self.box.copy(),
                 norm=np.float32(self.norm), name=self.name, layout=self.layout,
                 image_path="" if self.image_path is None else str(self.image_path))
        return s


# ------------------------------------------------------------------------------------------------ geometry
def box_to_center_scale(box: np.ndarray, padding: float = BOX_PADDING,
                        pixel_std: float = PIXEL_STD) -> Tuple[np.ndarray, np.ndarray]:
    """Person box(es) ``(..., 4)`` ``(x1, y1, x2, y2)`` -> ``center (..., 2)`` = box centre and
    ``scale (...)`` = ``padding * max(x2 - x1, y2 - y1) / pixel_std`` (square crop of side ``pixel_std * scale``;
    HRNet's ``_xywh2cs`` for a square input). A box with a NaN or a non-positive longer side gives NaN."""
    b = np.asarray(box, dtype=np.float64)
    if b.shape[-1:] != (4,):
        raise ValueError(f"box_to_center_scale: boxes must have shape (..., 4), got {b.shape}")
    if not padding > 0 or not pixel_std > 0:
        raise ValueError(f"box_to_center_scale: padding and pixel_std must be > 0, got {padding}, {pixel_std}")
    center = np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2], axis=-1)
    side = np.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])
    with np.errstate(invalid="ignore"):
        scale = np.where(side > 0, padding * side / pixel_std, np.nan)
    center = np.where(np.isfinite(scale)[..., None], center, np.nan)
    return center, scale


def joint_boxes(keypoints: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Tight boxes ``(N, 4)`` ``(x1, y1, x2, y2)`` of the joints where ``mask`` ``(N, K)`` is True; NaN rows for
    persons without any masked joint. ``keypoints``: ``(N, K, 2)``."""
    kp = np.asarray(keypoints, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if kp.ndim != 3 or kp.shape[-1] != 2 or m.shape != kp.shape[:2]:
        raise ValueError(f"joint_boxes: need keypoints (N, K, 2) and mask (N, K), got {kp.shape} and {m.shape}")
    x, y = kp[..., 0], kp[..., 1]
    box = np.stack([np.where(m, x, np.inf).min(1), np.where(m, y, np.inf).min(1),
                    np.where(m, x, -np.inf).max(1), np.where(m, y, -np.inf).max(1)], axis=1)
    box[~m.any(1)] = np.nan
    return box


def torso_norm(keypoints: np.ndarray, mask: np.ndarray, layout="lsp14",
               torso: Optional[Tuple[str, str]] = None) -> np.ndarray:
    """PCK torso normaliser ``(N,)``: distance between the layout's ``torso`` joints (lsp14: left shoulder to right
    hip, as the published LSP eval_pck.m) or the named ``torso`` pair, where both are masked, else NaN.
    ``keypoints`` ``(N, K, 2)``, ``mask`` ``(N, K)``."""
    lay = get_layout(layout)
    if torso is not None:
        torso_idx = (lay.index(torso[0]), lay.index(torso[1]))
    elif lay.torso is None:
        raise ValueError(f"layout {lay.name!r} defines no torso joints")
    else:
        torso_idx = lay.torso
    kp = np.asarray(keypoints, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if kp.ndim != 3 or kp.shape[1:] != (lay.num_joints, 2) or m.shape != kp.shape[:2]:
        raise ValueError(f"torso_norm: need keypoints (N, {lay.num_joints}, 2) and mask (N, {lay.num_joints}), "
                         f"got {kp.shape} and {m.shape}")
    a, b = torso_idx
    d = np.linalg.norm(kp[:, a] - kp[:, b], axis=-1)
    return np.where(m[:, a] & m[:, b], d, np.nan)


def records_to_arrays(records: Sequence[PoseRecord]) -> Dict[str, Any]:
    """Stack records of one layout: ``keypoints`` float32 ``(N, K, 2)``, ``visible`` / ``annotated`` bool
    ``(N, K)``, ``center`` float32 ``(N, 2)``, ``scale`` ``(N,)``, ``box`` float32 ``(N, 4)``, ``norm`` ``(N,)``
    (float64; NaN where undefined), ``names`` list, ``layout`` str. Handy for the metrics."""
    if len(records) == 0:
        raise ValueError("records_to_arrays: no records")
    layouts = {r.layout for r in records}
    if len(layouts) != 1:
        raise ValueError(f"records_to_arrays: records mix layouts {sorted(layouts)}")
    return {
        "keypoints": np.stack([r.keypoints for r in records]).astype(np.float32),
        "visible": np.stack([r.visible for r in records]).astype(bool),
        "annotated": np.stack([r.annotated for r in records]).astype(bool),
        "center": np.stack([r.center for r in records]).astype(np.float32),
        "scale": np.array([r.scale for r in records], dtype=np.float64),
        "box": np.stack([r.box for r in records]).astype(np.float32),
        "norm": np.array([r.norm for r in records], dtype=np.float64),
        "names": [r.name for r in records],
        "layout": layouts.pop(),
    }




def missing_images(records: Iterable[PoseRecord]) -> List[Tuple[str, Path]]:
    """``(name, image_path)`` of every record whose image file is not there, without opening or decoding any
    file (one ``os.stat`` per distinct path): a path that does not exist, is a folder, or is a link to nothing.

    Each path is listed once, at its first record, in record order (MPII and COCO give several persons per image,
    which share the name and path). Records without an image path (annotation-only sources, synthetic figures)
    are not listed: they have no file to miss. A file that exists but cannot be decoded is not detected here
    (:func:`structnet.data.io.read_image` reports it when the image is read)."""
    out: List[Tuple[str, Path]] = []
    seen = set()
    for r in records:
        p = r.image_path
        if p is None or p in seen:
            continue
        seen.add(p)
        if not os.path.isfile(p):
            out.append((r.name, Path(p)))
    return out
