"""2D pose dataset readers: LSP / LSP-extended, MPII (four annotation layouts) and COCO keypoints, all giving one
per-person record (:class:`PoseRecord`), plus torch ``Dataset`` wrappers that yield sample dicts.

Conventions (every reader)
--------------------------
* **Coordinates**: pixels of the original image, ``x`` = column (to the right), ``y`` = row (down), origin at the
  top-left, **pixel centres at integer coordinates** (the centre of the top-left pixel is ``(0, 0)``), the
  convention of :mod:`structnet.data.transforms`.

  - MPII annotations come from MATLAB, whose top-left pixel centre is ``(1, 1)``: with ``one_based=True`` (the
    default) the MPII readers subtract 1 from keypoints, centres and head boxes, as HRNet / mmpose do when they
    load the same files (and add 1 back before the official evaluation). PCKh is unaffected (both prediction and
    ground truth move), but compare raw file values with ``record.keypoints + 1``.
  - LSP / LSPET coordinates are used unchanged: they are continuous clicks, and the shared lspet README checks
    them against ``0 <= x <= W - 1`` (all but 4 of 61,577 visible joints inside, the 4 at most 1.17 px outside).
  - COCO keypoints are used unchanged (integer labels; HRNet / mmpose use them as pixel indices). COCO's boxes
    are continuous ``[x, y, w, h]``; the record box is ``(x, y, x + w, y + h)`` unchanged. Strictly, COCO's
    continuous frame has pixel centres at ``+0.5``; the difference (< 0.5 px) is left alone, as everyone does.

* **Joint masks**: ``annotated`` (K,) bool = the joint's location is known (use it for training targets and
  evaluation; the official PCKh counts every annotated joint, occluded ones included); ``visible`` (K,) bool =
  annotated **and** marked visible by the dataset (a subset of ``annotated``). Coordinates of joints that are not
  annotated are meaningless in every source and are set to 0.

  ================  ==========================================  ===========================================
  source            ``visible``                                 ``annotated``
  ================  ==========================================  ===========================================
  LSPET (npy/mat)   flag == 1                                   = visible (other coordinates meaningless)
  LSP joints.mat    flag == 0 (the flag means *occluded*)        all joints (occluded ones are estimated)
  MPII valid.npz    ``visible`` == 1                            ``jnt_missing`` == 0
  pose-hg h5        ``visible`` == 1                            ``part`` != (0, 0)
  pytorch-pose json ``joint_self[:, 2]`` == 1                   ``joint_self[:, :2]`` != (0, 0)
  HRNet/mmpose json = annotated (the file drops occlusion)       ``joints_vis`` == 1
  MPII RELEASE .mat ``is_visible`` == 1 (empty counts as 1)      a ``point`` with that ``id`` exists
  COCO json         v == 2                                      v >= 1 (v = 1 labelled but occluded)
  ================  ==========================================  ===========================================

  The LSP flag semantics: the original LSP ``joints.mat`` is ``(3, 14, 2000)`` and its third row is 1 for an
  *occluded* joint (all 14 locations are annotated); LSPET's ``joints.mat`` is ``(14, 3, 10000)`` and its third
  column is 1 for a *visible* joint, 0 for one that was not annotated (those coordinates lie outside the image or
  at (0, 0)). This is how the CPM / pytorch-pose preparation script ``gen_lsp.m`` reads them (it sets
  ``v = 1 - v`` for LSP only and keeps LSPET's flag); the shared lspet README confirms LSPET's meaning on the data.

* **NaN / inf coordinates** of a joint make it not annotated (and not visible), coordinates 0; each reader emits
  one ``UserWarning`` per file with the count. Wrong array shapes or contents raise a one-line ``ValueError``
  naming the file; missing files and folders raise ``FileNotFoundError`` naming the path.

* **Person centre and scale** (:attr:`PoseRecord.center`, :attr:`PoseRecord.scale`) follow the *hourglass crop*
  convention of pose-hg-train / pytorch-pose / HRNet: the person sits in a square of side ``200 * scale`` px
  centred on ``center``. For MPII that is ``center = objpos + (0, 15 s)`` and ``scale = 1.25 s`` with ``s`` the
  MPII annotation scale (person height ~ ``200 s`` px), exactly the ``center`` / ``scale`` of pose-hg-train's
  h5 files and of ../shared/data/mpii-valid; the raw ``s`` and ``objpos`` are kept in ``meta``. Sources with a
  person box (COCO ``bbox``; LSP: the box of the annotated joints, since LSP annotates no person box) use
  :func:`box_to_center_scale`: ``center`` = box centre, ``scale = padding * max(w, h) / 200`` with
  ``padding = 1.25`` (HRNet's / mmpose's box padding). Undefined values are NaN.

* **Evaluation normaliser** (:attr:`PoseRecord.norm`, kind in :attr:`PoseRecord.norm_kind`): MPII ``"head"`` =
  ``0.6 x`` head-box diagonal (SC_BIAS of the official eval_PCKh); LSP ``"torso"`` = distance between the
  torso pair of the layout (lsp14: left shoulder - right hip, as the published eval_pck.m), NaN unless both are annotated; COCO ``"none"`` (NaN;
  COCO's OKS uses the area, kept in ``meta["area"]``).

Dataset wrappers (:class:`PoseDataset` and one subclass per source) follow the structnet key convention
(``ds[i]`` or ``ds[(i, seed)]``, see :func:`structnet.data.keys.parse_key`) and call an optional
``transform(sample, rng)`` with ``rng = np.random.default_rng(seed)`` (``seed = i`` for a plain int key), so a
sample is a pure function of its key. Augmentation and heatmap encoding are not done here.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
from torch.utils.data import Dataset

from ..data.io import read_image
from ..data.keys import parse_key
from .layouts import get_layout

__all__ = [
    "PoseRecord", "PIXEL_STD", "BOX_PADDING", "MPII_HEAD_FACTOR", "MPII_CENTER_SHIFT", "MPII_SCALE_FACTOR",
    "box_to_center_scale", "joint_boxes", "torso_norm", "records_to_arrays",
    "read_lspet", "read_lsp_mat", "read_mpii", "read_mpii_npz", "read_mpii_h5", "read_mpii_json",
    "read_mpii_release", "coco_to_records",
    "PoseDataset", "LSPETDataset", "LSPMatDataset", "MPIIDataset", "COCOKeypointsDataset",
]

PathLike = Union[str, os.PathLike]

#: Pixels per unit of person scale (MPII: person height ~ 200 * s px).
PIXEL_STD = 200.0
#: Box -> crop padding of HRNet / mmpose (crop side = 1.25 x the longer box side).
BOX_PADDING = 1.25
#: PCKh normaliser = 0.6 x head-box diagonal (SC_BIAS of the official MPII eval_PCKh).
MPII_HEAD_FACTOR = 0.6
#: pose-hg-train / pytorch-pose / HRNet: crop centre = objpos + (0, 15 s) ...
MPII_CENTER_SHIFT = 15.0
#: ... and crop scale = 1.25 s.
MPII_SCALE_FACTOR = 1.25


# ------------------------------------------------------------------------------------------------- record
@dataclass
class PoseRecord:
    """One annotated person (see the module docstring for every convention).

    - ``name``: image file name (MPII, COCO) or stem (LSP ``im00001``);
    - ``image_path``: ``Path`` of the image, or None for annotation-only sources (``image_dir`` not given);
    - ``keypoints``: float32 ``(K, 2)`` ``(x, y)`` in image pixels, 0 where not annotated;
    - ``visible`` / ``annotated``: bool ``(K,)``, ``visible`` a subset of ``annotated``;
    - ``layout``: ``"lsp14"``, ``"mpii16"`` or ``"coco17"`` (:func:`structnet.pose2d.layouts.get_layout`);
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


# ------------------------------------------------------------------------------------------------ helpers
def _need_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {str(p)!r}" + (" (is a folder)" if p.is_dir() else ""))
    return p


def _need_dir(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} not found: {str(p)!r}")
    return p


def _clean(kp: np.ndarray, visible: np.ndarray, annotated: np.ndarray, source) -> Tuple[np.ndarray, ...]:
    """Non-finite coordinates -> not annotated (one warning with the count); visible &= annotated; coordinates
    of non-annotated joints -> 0. Vectorised over ``(N, K)``."""
    kp = np.asarray(kp, dtype=np.float64)
    bad = ~np.isfinite(kp).all(-1)
    nbad = int((bad & annotated).sum())
    if nbad:
        warnings.warn(f"{source}: {nbad} joint(s) with NaN/inf coordinates treated as not annotated", UserWarning,
                      stacklevel=3)
    annotated = np.asarray(annotated, bool) & ~bad
    visible = np.asarray(visible, bool) & annotated
    kp = np.where(annotated[..., None], kp, 0.0).astype(np.float32)
    return kp, visible, annotated


def _build(names: Sequence[str], image_paths: Sequence[Optional[Path]], kp, visible, annotated, layout: str,
           center, scale, box, norm, norm_kind: str, image_sizes=None, metas=None) -> List[PoseRecord]:
    n = len(names)
    center = np.asarray(center, np.float32).reshape(n, 2)
    box = np.asarray(box, np.float32).reshape(n, 4)
    scale = np.asarray(scale, np.float64).reshape(n)
    norm = np.asarray(norm, np.float64).reshape(n)
    return [PoseRecord(name=str(names[i]), image_path=image_paths[i], keypoints=kp[i], visible=visible[i],
                       annotated=annotated[i], layout=layout, center=center[i], scale=float(scale[i]), box=box[i],
                       norm=float(norm[i]), norm_kind=norm_kind,
                       image_size=None if image_sizes is None else image_sizes[i],
                       meta={} if metas is None else metas[i]) for i in range(n)]


def _lsp_records(names, paths, kp, visible, annotated, padding: float) -> List[PoseRecord]:
    box = joint_boxes(kp, annotated)
    center, scale = box_to_center_scale(box, padding=padding)
    norm = torso_norm(kp, annotated, "lsp14")
    return _build(names, paths, kp, visible, annotated, "lsp14", center, scale, box, norm, "torso")


def _check_split(split: str, valid: Sequence[str], what: str) -> None:
    if split not in valid:
        raise ValueError(f"{what}: unknown split {split!r}; valid: {', '.join(valid)}")


# --------------------------------------------------------------------------------------------------- LSP
def read_lspet(root: PathLike, split: str = "train", padding: float = BOX_PADDING) -> List[PoseRecord]:
    """LSP-extended in the form of ../shared/data/lspet: ``root/joints.npy`` float ``(N, 14, 3)`` = (x, y,
    visible), rows in the order of ``train.txt`` then ``val.txt`` (names without extension, one per line),
    images ``root/images/<name>.jpg``. ``split``: ``train``, ``val`` or ``all``. Layout ``lsp14``; annotated =
    visible (LSPET's other coordinates are meaningless); person box = tight box of the annotated joints, centre /
    scale from it with ``padding`` (:func:`box_to_center_scale`); norm = torso (left shoulder - right hip, the layout's pair)."""
    _check_split(split, ("train", "val", "all"), "LSPET")
    r = _need_dir(root, "LSPET folder")
    jf = _need_file(r / "joints.npy", "LSPET joints file")
    img_dir = _need_dir(r / "images", "LSPET image folder")
    try:
        joints = np.load(jf)
    except Exception as e:  # not an npy file
        raise ValueError(f"cannot read {str(jf)!r}: {' '.join(str(e).split())}") from None
    if joints.ndim != 3 or joints.shape[1:] != (14, 3):
        raise ValueError(f"{jf}: expected joints of shape (N, 14, 3), got {joints.shape}")
    lists = {}
    for s in ("train", "val"):
        f = _need_file(r / f"{s}.txt", "LSPET split file")
        lists[s] = [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]
    order = lists["train"] + lists["val"]
    if len(order) != len(joints):
        raise ValueError(f"{r}: train.txt + val.txt list {len(order)} names but joints.npy has {len(joints)} rows")
    idx = {"train": np.arange(len(lists["train"])), "val": np.arange(len(lists["train"]), len(order)),
           "all": np.arange(len(order))}[split]
    j = joints[idx].astype(np.float64)
    flag = j[..., 2]
    if not np.isin(flag[np.isfinite(flag)], (0, 1)).all():
        raise ValueError(f"{jf}: visibility flags must be 0 or 1")
    vis = flag == 1
    kp, vis, ann = _clean(j[..., :2], vis, vis.copy(), jf)
    names = [order[i] for i in idx]
    return _lsp_records(names, [img_dir / f"{n}.jpg" for n in names], kp, vis, ann, padding)


def read_lsp_mat(path: PathLike, image_dir: Optional[PathLike] = None, split: str = "all", kind: str = "auto",
                 padding: float = BOX_PADDING, name_format: Optional[str] = None) -> List[PoseRecord]:
    """The original ``joints.mat`` of LSP or LSPET (variable ``joints``), read with :func:`scipy.io.loadmat`.

    - ``(3, 14, N)`` [(x, y, flag), joint, image] is LSP's layout, ``(14, 3, N)`` [joint, (x, y, flag), image]
      LSPET's; ``kind="auto"`` takes the flag meaning from the shape: LSP's flag is 1 = *occluded* (all joints
      annotated), LSPET's is 1 = visible (0 = not annotated). ``kind="lsp"`` / ``"lspet"`` forces a meaning.
    - ``split``: ``all``; for LSP (N = 2000) also ``train`` = images 1-1000 and ``test`` = 1001-2000 (the
      standard LSP split).
    - images: ``image_dir / name_format % i`` (1-based ``i``), default ``im%04d.jpg`` for LSP and
      ``im%05d.jpg`` for LSPET (the releases' names); ``image_dir=None`` gives records without image paths.
    Layout ``lsp14``; box / centre / scale / torso norm as in :func:`read_lspet`."""
    _check_split(kind, ("auto", "lsp", "lspet"), "LSP joints.mat kind")
    from scipy.io import loadmat

    p = _need_file(path, "LSP joints file")
    try:
        m = loadmat(p)
    except Exception as e:
        raise ValueError(f"cannot read {str(p)!r} as a MATLAB file: {' '.join(str(e).split())}") from None
    if "joints" not in m:
        raise ValueError(f"{p}: no variable 'joints' (found: {', '.join(k for k in m if not k.startswith('__'))})")
    J = np.asarray(m["joints"], dtype=np.float64)
    if J.ndim == 3 and J.shape[:2] == (3, 14):
        j = J.transpose(2, 1, 0)                  # (N, 14, 3)
        auto = "lsp"
    elif J.ndim == 3 and J.shape[:2] == (14, 3):
        j = J.transpose(2, 0, 1)
        auto = "lspet"
    else:
        raise ValueError(f"{p}: 'joints' must have shape (3, 14, N) (LSP) or (14, 3, N) (LSPET), got {J.shape}")
    kind = auto if kind == "auto" else kind
    n = len(j)
    if split in ("train", "test"):
        if kind != "lsp" or n != 2000:
            raise ValueError(f"{p}: split {split!r} exists only for LSP's 2000 images; use split='all'")
        sel = np.arange(1000) if split == "train" else np.arange(1000, 2000)
    else:
        _check_split(split, ("all", "train", "test"), "LSP joints.mat")
        sel = np.arange(n)
    j = j[sel]
    flag = j[..., 2]
    if not np.isin(flag[np.isfinite(flag)], (0, 1)).all():
        raise ValueError(f"{p}: visibility flags must be 0 or 1")
    if kind == "lsp":
        vis, ann = flag == 0, np.ones(flag.shape, bool)
    else:
        vis = flag == 1
        ann = vis.copy()
    kp, vis, ann = _clean(j[..., :2], vis, ann, p)
    fmt = name_format or ("im%04d.jpg" if kind == "lsp" else "im%05d.jpg")
    files = [fmt % (i + 1) for i in sel]
    if image_dir is not None:
        d = _need_dir(image_dir, "LSP image folder")
        paths = [d / f for f in files]
    else:
        paths = [None] * len(files)
    return _lsp_records([Path(f).stem for f in files], paths, kp, vis, ann, padding)


# -------------------------------------------------------------------------------------------------- MPII
def _mpii_records(source, imgname, part, visible, annotated, center, scale, image_dir, one_based: bool,
                  norm=None, headbox=None, index=None, person=None, image_sizes=None, raw=None) -> List[PoseRecord]:
    """Shared MPII builder. ``center`` / ``scale`` already in the hourglass crop convention, file coordinates."""
    n = len(imgname)
    off = 1.0 if one_based else 0.0
    part = np.asarray(part, np.float64)
    if part.shape != (n, 16, 2):
        raise ValueError(f"{source}: joints must have shape (N, 16, 2) with N = {n}, got {part.shape}")
    for nm, a, shp in (("visible", visible, (n, 16)), ("annotated", annotated, (n, 16)),
                       ("center", center, (n, 2)), ("scale", scale, (n,))):
        if np.shape(a) != shp:
            raise ValueError(f"{source}: {nm} must have shape {shp}, got {np.shape(a)}")
    kp, vis, ann = _clean(part - off, np.asarray(visible, bool), np.asarray(annotated, bool), source)
    center = np.asarray(center, np.float64) - off
    hb = None
    if headbox is not None:
        hb = np.asarray(headbox, np.float64)
        if hb.shape != (n, 2, 2):
            raise ValueError(f"{source}: head boxes must have shape (N, 2, 2), got {hb.shape}")
        hb = hb - off
        if norm is None:
            norm = MPII_HEAD_FACTOR * np.linalg.norm(hb[:, 1] - hb[:, 0], axis=-1)
    if norm is None:
        norm = np.full(n, np.nan)
    norm = np.asarray(norm, np.float64)
    if norm.shape != (n,):
        raise ValueError(f"{source}: normalize must have shape (N,), got {norm.shape}")
    d = Path(image_dir) if image_dir is not None else None
    if d is not None:
        _need_dir(d, "MPII image folder")
    metas = []
    for i in range(n):
        mt: Dict[str, Any] = {}
        if index is not None and int(index[i]) >= 0:
            mt["index"] = int(index[i])
        if person is not None and int(person[i]) >= 0:
            mt["person"] = int(person[i])
        if hb is not None:
            mt["headbox"] = hb[i].astype(np.float32)
        if raw is not None:
            mt.update(raw[i])
        metas.append(mt)
    paths = [d / str(nm) if d is not None else None for nm in imgname]
    return _build([str(s) for s in imgname], paths, kp, vis, ann, "mpii16", center, scale,
                  np.full((n, 4), np.nan), norm, "head", image_sizes, metas)


def _decode_names(a, source) -> List[str]:
    """imgname arrays: str / bytes arrays, or uint8 character codes ``(N, L)`` padded with zeros (Lua h5)."""
    a = np.asarray(a)
    if a.dtype.kind in "US":
        return [x.decode() if isinstance(x, bytes) else str(x) for x in a.tolist()]
    if a.dtype.kind == "O":
        return [x.decode() if isinstance(x, bytes) else str(x) for x in a.ravel().tolist()]
    if a.dtype.kind in "iuf" and a.ndim == 2:
        return ["".join(chr(int(c)) for c in row if int(c) != 0) for row in a]
    raise ValueError(f"{source}: cannot decode image names of dtype {a.dtype} and shape {a.shape}")


def read_mpii_npz(path: PathLike, image_dir: Optional[PathLike] = None, one_based: bool = True,
                  keypoints: str = "joints") -> List[PoseRecord]:
    """../shared/data/mpii-valid/valid.npz (Tompson validation split, 2958 persons): keys ``imgname``,
    ``center``, ``scale`` (already the hourglass crop convention), ``joints`` ``(N, 16, 2)``, ``visible``, and
    optionally ``jnt_missing`` (annotated = 0; else annotated = joint != (0, 0)), ``normalize`` (PCKh norm; else
    from ``headbox``), ``headbox``, ``joints_eval``, ``index``, ``person``. ``keypoints="joints_eval"`` takes the
    official PCKh ground truth (``pos_gt_src``, sub-pixel) instead of the integer-truncated ``joints``."""
    _check_split(keypoints, ("joints", "joints_eval"), "MPII npz keypoints")
    p = _need_file(path, "MPII annotation file")
    try:
        z = dict(np.load(p, allow_pickle=False))
    except Exception as e:
        raise ValueError(f"cannot read {str(p)!r} as an npz file: {' '.join(str(e).split())}") from None
    miss = [k for k in ("imgname", "center", "scale", keypoints, "visible") if k not in z]
    if miss:
        raise ValueError(f"{p}: missing key(s) {', '.join(miss)} (found: {', '.join(sorted(z))})")
    part = np.asarray(z[keypoints], np.float64)
    if "jnt_missing" in z:
        ann = np.asarray(z["jnt_missing"]) == 0
    else:
        ann = ~(np.asarray(z["joints"], np.float64) == 0).all(-1)
    return _mpii_records(p, _decode_names(z["imgname"], p), part, np.asarray(z["visible"]) == 1, ann,
                         z["center"], z["scale"], image_dir, one_based, norm=z.get("normalize"),
                         headbox=z.get("headbox"), index=z.get("index"), person=z.get("person"))


def read_mpii_h5(path: PathLike, image_dir: Optional[PathLike] = None, one_based: bool = True) -> List[PoseRecord]:
    """pose-hg-train ``annot/{train,valid,test}.h5`` (needs the optional package ``h5py``): datasets ``imgname``,
    ``center``, ``scale`` (hourglass crop convention already: ``objpos + (0, 15 s)``, ``1.25 s``), ``part``
    ``(N, 16, 2)`` (``(0, 0)`` = not annotated), ``visible`` ``(N, 16)``, optional ``normalize`` (PCKh norm),
    ``index``, ``person``. A file without ``part`` (test.h5) gives records with no annotated joint."""
    p = _need_file(path, "MPII annotation file")
    try:
        import h5py
    except ImportError:
        raise ImportError("reading pose-hg-train .h5 annotations needs the optional package 'h5py' "
                          "(pip install h5py)") from None
    try:
        with h5py.File(p, "r") as f:
            z = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
    except OSError as e:
        raise ValueError(f"cannot read {str(p)!r} as an HDF5 file: {' '.join(str(e).split())}") from None
    miss = [k for k in ("imgname", "center", "scale") if k not in z]
    if miss:
        raise ValueError(f"{p}: missing dataset(s) {', '.join(miss)} (found: {', '.join(sorted(z))})")
    names = _decode_names(z["imgname"], p)
    n = len(names)
    part = np.asarray(z["part"], np.float64) if "part" in z else np.zeros((n, 16, 2))
    vis = (np.asarray(z["visible"]) == 1) if "visible" in z else np.zeros((n, 16), bool)
    ann = ~(part == 0).all(-1) if "part" in z else np.zeros((n, 16), bool)
    return _mpii_records(p, names, part, vis, ann, z["center"], np.asarray(z["scale"]).reshape(-1), image_dir,
                         one_based, norm=z.get("normalize"), index=z.get("index"), person=z.get("person"))


def read_mpii_json(path: PathLike, image_dir: Optional[PathLike] = None, split: Optional[str] = None,
                   one_based: bool = True) -> List[PoseRecord]:
    """MPII json lists, flavour detected from the fields of the first entry:

    - pytorch-pose / CPM ``mpii_annotations.json`` (``img_paths``, ``objpos``, ``scale_provided``, ``joint_self``
      (16, 3) = (x, y, visible), ``isValidation``, ``img_width``, ``img_height``, ``annolist_index``,
      ``people_index`` 1-based): ``split`` None or ``"all"``, ``"train"`` (isValidation 0) or ``"valid"`` (1);
    - HRNet / mmpose ``train.json`` / ``valid.json`` (= mmpose ``mpii_train.json`` / ``mpii_val.json``:
      ``image``, ``center``, ``scale``, ``joints`` (16, 2), ``joints_vis``): one file per split, ``split`` must
      be None. ``joints_vis`` marks *labelled* joints (occlusion was dropped), so ``visible = annotated`` here.

    Both store the raw MPII ``objpos`` / ``s``; the record gets ``objpos + (0, 15 s)`` and ``1.25 s`` (centre
    ``(-1, -1)``, HRNet's "no centre", gives NaN). No head boxes in these files: ``norm`` is NaN."""
    p = _need_file(path, "MPII annotation file")
    try:
        data = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot parse {str(p)!r} as JSON: {' '.join(str(e).split())}") from None
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), list):
        data = next(iter(data.values()))      # jsonlab root wrapper {"root": [...]}
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ValueError(f"{p}: expected a non-empty JSON list of person entries")
    first = data[0]
    if "joint_self" in first:
        flavour = "pytorch-pose"
        _check_split(split or "all", ("all", "train", "valid"), f"{p}")
        if split in ("train", "valid"):
            want = 1 if split == "valid" else 0
            data = [a for a in data if int(bool(a.get("isValidation", 0))) == want]
    elif "joints_vis" in first or "joints" in first:
        flavour = "hrnet"
        if split not in (None, "all"):
            raise ValueError(f"{p}: HRNet/mmpose MPII json files hold one split each; pass split=None")
    else:
        raise ValueError(f"{p}: unknown MPII json flavour (first entry fields: {', '.join(sorted(first))}); "
                         "expected pytorch-pose 'joint_self' or HRNet/mmpose 'joints' + 'joints_vis'")
    n = len(data)
    try:
        if flavour == "pytorch-pose":
            names = [a["img_paths"] for a in data]
            js = np.zeros((n, 16, 3))
            for i, a in enumerate(data):
                e = np.asarray(a["joint_self"], np.float64)
                if e.shape != (16, 3):
                    raise ValueError(f"{p}: entry {i}: joint_self must be (16, 3), got {e.shape}")
                js[i] = e
            part, vis = js[..., :2], js[..., 2] == 1
            ann = ~(part == 0).all(-1)
            objpos = np.array([np.asarray(a["objpos"], np.float64).reshape(2) for a in data])
            s = np.array([float(a["scale_provided"]) for a in data])
            sizes = [(int(a["img_width"]), int(a["img_height"])) if "img_width" in a and "img_height" in a
                     else None for a in data]
            index = [int(a["annolist_index"]) - 1 if "annolist_index" in a else -1 for a in data]
            person = [int(a["people_index"]) - 1 if "people_index" in a else -1 for a in data]
        else:
            names = [a["image"] for a in data]
            part, ann = np.zeros((n, 16, 2)), np.zeros((n, 16), bool)
            for i, a in enumerate(data):
                e, ev = np.asarray(a["joints"], np.float64), np.asarray(a["joints_vis"], np.float64)
                if e.shape != (16, 2) or ev.shape != (16,):
                    raise ValueError(f"{p}: entry {i}: joints must be (16, 2) and joints_vis (16,), "
                                     f"got {e.shape} and {ev.shape}")
                part[i], ann[i] = e, ev > 0
            vis = ann.copy()
            objpos = np.array([np.asarray(a["center"], np.float64).reshape(2) for a in data])
            s = np.array([float(a["scale"]) for a in data])
            sizes, index, person = None, None, None
    except KeyError as e:
        raise ValueError(f"{p}: an entry lacks the field {e.args[0]!r} ({flavour} flavour)") from None
    center = objpos + np.stack([np.zeros(n), MPII_CENTER_SHIFT * s], axis=1)
    center[objpos[:, 0] == -1] = np.nan
    raw = [{"objpos": (objpos[i] - (1.0 if one_based else 0.0)).astype(np.float32), "s": float(s[i])}
           for i in range(n)]
    return _mpii_records(p, names, part, vis, ann, center, MPII_SCALE_FACTOR * s, image_dir, one_based,
                         index=index, person=person, image_sizes=sizes, raw=raw)


def _as_list(x) -> list:
    """loadmat(squeeze_me=True) gives a struct, an object array of structs or an empty array."""
    if x is None:
        return []
    if isinstance(x, np.ndarray):
        return list(x.ravel())
    return [x]


def _num(x) -> Optional[float]:
    """A MATLAB scalar (number, 1-element array or numeric string) or None for missing / empty fields."""
    if x is None:
        return None
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return None
        x = x.ravel()[0]
    if isinstance(x, (str, bytes)):
        x = x.decode() if isinstance(x, bytes) else x
        return float(x) if x.strip() else None
    return float(x)


def _field(st, name):
    v = getattr(st, name, None)
    if isinstance(v, np.ndarray) and v.size == 0:
        return None
    return v


def read_mpii_release(path: PathLike, image_dir: Optional[PathLike] = None, split: str = "train",
                      select: Optional[Iterable[Tuple[int, int]]] = None, one_based: bool = True,
                      head_factor: float = MPII_HEAD_FACTOR) -> List[PoseRecord]:
    """The official ``mpii_human_pose_v1_u12_1.mat`` (struct ``RELEASE``), read with
    ``loadmat(squeeze_me=True, struct_as_record=False)``.

    Per image ``annolist(i)``: ``image.name`` and ``annorect`` (persons) with ``annopoints.point`` (``id`` 0-15,
    ``x``, ``y``, ``is_visible``; an empty ``is_visible`` counts as visible, as in CPM's genJSON.m), ``objpos.x/y``,
    ``scale`` and the head box ``x1, y1, x2, y2``; ``img_train`` marks training images.

    - ``split="train"``: persons of training images with at least one annotated point (as the hourglass / CPM
      preparation scripts); ``"test"``: persons of test images with ``objpos`` and ``scale`` (no joints);
      ``"all"``: both.
    - ``select``: 0-based ``(image index, person index)`` pairs (e.g. valid.npz ``index`` / ``person`` for the
      Tompson split); records come in that order, whatever ``split`` says.
    Record: centre ``objpos + (0, 15 s)``, scale ``1.25 s`` (NaN without objpos / scale), norm
    ``head_factor x`` head-box diagonal (NaN without a head box), ``meta`` ``index``, ``person``, ``headbox``,
    ``objpos``, ``s``, ``img_train``. Tested on a small file that mimics the struct (the real 12 MB file is not
    available here)."""
    _check_split(split, ("train", "test", "all"), "MPII RELEASE")
    from scipy.io import loadmat

    p = _need_file(path, "MPII annotation file")
    try:
        m = loadmat(p, squeeze_me=True, struct_as_record=False)
    except Exception as e:
        raise ValueError(f"cannot read {str(p)!r} as a MATLAB file: {' '.join(str(e).split())}") from None
    if "RELEASE" not in m:
        raise ValueError(f"{p}: no struct 'RELEASE' (found: {', '.join(k for k in m if not k.startswith('__'))})")
    R = m["RELEASE"]
    if not hasattr(R, "annolist") or not hasattr(R, "img_train"):
        raise ValueError(f"{p}: RELEASE lacks the field 'annolist' or 'img_train'")
    annolist = _as_list(R.annolist)
    img_train = np.atleast_1d(np.asarray(R.img_train)).ravel()
    if len(img_train) != len(annolist):
        raise ValueError(f"{p}: img_train has {len(img_train)} entries for {len(annolist)} images")
    rects = [_as_list(getattr(a, "annorect", None)) for a in annolist]
    if select is not None:
        pairs = [(int(i), int(q)) for i, q in select]
        for i, q in pairs:
            if not (0 <= i < len(annolist) and 0 <= q < len(rects[i])):
                raise ValueError(f"{p}: select pair ({i}, {q}) is out of range")
    else:
        pairs = [(i, q) for i in range(len(annolist)) for q in range(len(rects[i]))]
    off = 1.0 if one_based else 0.0
    names, part, vis, ann, objpos, s, hbs, raw = [], [], [], [], [], [], [], []
    for i, q in pairs:
        r = rects[i][q]
        train = bool(img_train[i])
        pts = _as_list(_field(_field(r, "annopoints"), "point"))
        op = _field(r, "objpos")
        ox, oy = _num(_field(op, "x")), _num(_field(op, "y"))
        sc = _num(_field(r, "scale"))
        if select is None:
            if split == "train" and not (train and pts):
                continue
            if split == "test" and not (not train and ox is not None and sc is not None):
                continue
            if split == "all" and not ((train and pts) or (not train and ox is not None and sc is not None)):
                continue
        xy = np.zeros((16, 2))
        v = np.zeros(16, bool)
        a = np.zeros(16, bool)
        for pt in pts:
            jid = _num(_field(pt, "id"))
            if jid is None or not (0 <= jid <= 15) or jid != int(jid):
                raise ValueError(f"{p}: image {i} person {q}: joint id {jid!r} outside 0..15")
            jid = int(jid)
            x, y = _num(_field(pt, "x")), _num(_field(pt, "y"))
            xy[jid] = (np.nan if x is None else x, np.nan if y is None else y)
            a[jid] = True
            ivn = _num(_field(pt, "is_visible"))
            v[jid] = True if ivn is None else ivn == 1
        hb = [_num(_field(r, k)) for k in ("x1", "y1", "x2", "y2")]
        hb = np.array([np.nan if h is None else h for h in hb]).reshape(2, 2)
        img = _field(annolist[i], "image")
        nm = _field(img, "name") if img is not None else None
        names.append("" if nm is None else str(nm))
        part.append(xy)
        vis.append(v)
        ann.append(a)
        objpos.append((np.nan, np.nan) if ox is None or oy is None else (ox, oy))
        s.append(np.nan if sc is None else sc)
        hbs.append(hb)
        raw.append({"index": i, "person": q, "img_train": train, "s": np.nan if sc is None else sc,
                    "objpos": (np.asarray(objpos[-1]) - off).astype(np.float32)})
    if not names:
        raise ValueError(f"{p}: no persons for split {split!r}")
    objpos = np.array(objpos, np.float64)
    s = np.array(s, np.float64)
    center = objpos + np.stack([np.zeros(len(s)), MPII_CENTER_SHIFT * s], axis=1)
    hbs = np.array(hbs)
    norm = head_factor * np.linalg.norm(hbs[:, 1] - hbs[:, 0], axis=-1)
    recs = _mpii_records(p, names, np.array(part), np.array(vis), np.array(ann), center, MPII_SCALE_FACTOR * s,
                         image_dir, one_based, norm=norm, headbox=hbs, raw=raw)
    for r in recs:  # a head box with NaNs is no head box
        if not np.isfinite(r.meta["headbox"]).all():
            del r.meta["headbox"]
    return recs


def read_mpii(path: PathLike, image_dir: Optional[PathLike] = None, **kwargs) -> List[PoseRecord]:
    """Any MPII annotation file by its suffix: ``.npz`` (:func:`read_mpii_npz`), ``.h5`` / ``.hdf5``
    (:func:`read_mpii_h5`), ``.json`` (:func:`read_mpii_json`), ``.mat`` (:func:`read_mpii_release`)."""
    p = Path(path)
    readers = {".npz": read_mpii_npz, ".h5": read_mpii_h5, ".hdf5": read_mpii_h5, ".json": read_mpii_json,
               ".mat": read_mpii_release}
    fn = readers.get(p.suffix.lower())
    if fn is None:
        raise ValueError(f"MPII annotation file {str(p)!r}: unknown suffix {p.suffix!r}; "
                         f"valid: {', '.join(sorted(readers))}")
    return fn(p, image_dir=image_dir, **kwargs)


# -------------------------------------------------------------------------------------------------- COCO
def coco_to_records(json_path: PathLike, image_dir: Optional[PathLike] = None, min_keypoints: int = 1,
                    include_crowd: bool = False, padding: float = BOX_PADDING) -> List[PoseRecord]:
    """COCO person-keypoints json (``person_keypoints_*.json``) -> ``coco17`` records, one per annotation.

    Keeps annotations of the person category with ``iscrowd == 0`` (unless ``include_crowd``) and at least
    ``min_keypoints`` labelled keypoints (v > 0; default 1 = HRNet / mmpose, which drop persons without any);
    annotations whose ``bbox`` has ``w <= 0`` or ``h <= 0`` are dropped with one warning. Keypoints
    ``[x1, y1, v1, ...]`` (51 numbers): v = 2 visible, v = 1 labelled but occluded (annotated, used for training
    and evaluation like the COCO evaluator does), v = 0 not labelled. The category's keypoint names must be the
    coco17 names in order. Box ``(x, y, x + w, y + h)``; centre / scale by :func:`box_to_center_scale` with
    ``padding``; ``norm`` NaN (kind ``"none"``), ``meta``: ``id``, ``image_id``, ``area``, ``iscrowd``.
    Images: ``image_dir / file_name`` (no image paths when ``image_dir`` is None)."""
    p = _need_file(json_path, "COCO annotation file")
    if int(min_keypoints) < 0:
        raise ValueError(f"coco_to_records: min_keypoints must be >= 0, got {min_keypoints}")
    try:
        d = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot parse {str(p)!r} as JSON: {' '.join(str(e).split())}") from None
    if not isinstance(d, dict) or not all(k in d for k in ("images", "annotations", "categories")):
        raise ValueError(f"{p}: a COCO file needs the keys images, annotations and categories")
    lay = get_layout("coco17")
    cats = [c for c in d["categories"] if c.get("keypoints")]
    person = [c for c in cats if c.get("name") == "person"] or cats
    if not person:
        raise ValueError(f"{p}: no category with keypoints")
    cat = person[0]
    if tuple(cat["keypoints"]) != lay.joints:
        raise ValueError(f"{p}: category {cat.get('name')!r} keypoints {cat['keypoints']} differ from the coco17 "
                         f"layout {list(lay.joints)}")
    images = {im["id"]: im for im in d["images"]}
    d_img = _need_dir(image_dir, "COCO image folder") if image_dir is not None else None
    anns = [a for a in d["annotations"] if a.get("category_id") == cat["id"]
            and (include_crowd or not a.get("iscrowd", 0))]
    kps, boxes, names, paths, sizes, metas = [], [], [], [], [], []
    nbox = 0
    for a in anns:
        k = np.asarray(a.get("keypoints", []), np.float64)
        if k.shape != (3 * lay.num_joints,):
            raise ValueError(f"{p}: annotation {a.get('id')}: expected {3 * lay.num_joints} keypoint numbers, "
                             f"got {k.size}")
        k = k.reshape(lay.num_joints, 3)
        if not np.isin(k[:, 2], (0, 1, 2)).all():
            raise ValueError(f"{p}: annotation {a.get('id')}: visibility flags must be 0, 1 or 2, "
                             f"got {sorted(set(k[:, 2].tolist()))}")
        if int((k[:, 2] > 0).sum()) < int(min_keypoints):
            continue
        bb = np.asarray(a.get("bbox", []), np.float64)
        if bb.shape != (4,):
            raise ValueError(f"{p}: annotation {a.get('id')}: bbox must be [x, y, w, h], got {a.get('bbox')!r}")
        if not (bb[2] > 0 and bb[3] > 0):
            nbox += 1
            continue
        im = images.get(a.get("image_id"))
        if im is None:
            raise ValueError(f"{p}: annotation {a.get('id')}: unknown image_id {a.get('image_id')!r}")
        kps.append(k)
        boxes.append((bb[0], bb[1], bb[0] + bb[2], bb[1] + bb[3]))
        names.append(str(im["file_name"]))
        paths.append(d_img / im["file_name"] if d_img is not None else None)
        sizes.append((int(im["width"]), int(im["height"])) if "width" in im and "height" in im else None)
        metas.append({"id": a.get("id"), "image_id": a.get("image_id"), "area": float(a.get("area", np.nan)),
                      "iscrowd": int(a.get("iscrowd", 0))})
    if nbox:
        warnings.warn(f"{p}: {nbox} annotation(s) with an empty bbox (w or h <= 0) dropped", UserWarning,
                      stacklevel=2)
    n = len(kps)
    if n == 0:
        return []
    k = np.array(kps)
    kp, vis, ann = _clean(k[..., :2], k[..., 2] == 2, k[..., 2] > 0, p)
    box = np.array(boxes)
    center, scale = box_to_center_scale(box, padding=padding)
    return _build(names, paths, kp, vis, ann, "coco17", center, scale, box, np.full(n, np.nan), "none",
                  sizes, metas)


# ------------------------------------------------------------------------------------------------ Datasets
Transform = Callable[[Dict[str, Any], np.random.Generator], Any]


class PoseDataset(Dataset):
    """Torch dataset over :class:`PoseRecord` s. ``ds[i]`` / ``ds[(i, seed)]`` -> ``record.to_sample()`` plus
    ``"index"`` (image loaded when ``load_images`` and the record has an image path), then, if given,
    ``transform(sample, rng)`` with ``rng = np.random.default_rng(seed if given else i)``; its return value is
    the item. Augmentation and target encoding belong in ``transform``."""

    def __init__(self, records: Sequence[PoseRecord], transform: Optional[Transform] = None,
                 load_images: bool = True):
        self.records = list(records)
        if not self.records:
            raise ValueError(f"{type(self).__name__}: no records")
        if transform is not None and not callable(transform):
            raise ValueError(f"{type(self).__name__}: transform must be callable, got {type(transform).__name__}")
        self.transform = transform
        self.load_images = bool(load_images)
        self.layout = self.records[0].layout

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key):
        index, seed = parse_key(key, len(self))
        sample = self.records[index].to_sample(load_image=self.load_images)
        sample["index"] = index
        if self.transform is None:
            return sample
        return self.transform(sample, np.random.default_rng(index if seed is None else seed))


class LSPETDataset(PoseDataset):
    """LSP-extended as in ../shared/data/lspet (:func:`read_lspet`): train 4000 / val 1000 / all."""

    def __init__(self, root: PathLike, split: str = "train", transform: Optional[Transform] = None,
                 load_images: bool = True, padding: float = BOX_PADDING):
        super().__init__(read_lspet(root, split, padding=padding), transform, load_images)


class LSPMatDataset(PoseDataset):
    """The original LSP / LSPET ``joints.mat`` with its image folder (:func:`read_lsp_mat`)."""

    def __init__(self, path: PathLike, image_dir: Optional[PathLike] = None, split: str = "all",
                 kind: str = "auto", transform: Optional[Transform] = None, load_images: bool = True,
                 padding: float = BOX_PADDING, name_format: Optional[str] = None):
        super().__init__(read_lsp_mat(path, image_dir, split=split, kind=kind, padding=padding,
                                      name_format=name_format), transform, load_images)


class MPIIDataset(PoseDataset):
    """MPII from any supported annotation file (:func:`read_mpii`: valid.npz, pose-hg h5, pytorch-pose /
    HRNet json, official RELEASE .mat); ``kwargs`` go to the reader (``split``, ``one_based``, ...). Without
    ``image_dir`` the samples carry annotations only (no ``image``)."""

    def __init__(self, path: PathLike, image_dir: Optional[PathLike] = None, transform: Optional[Transform] = None,
                 load_images: bool = True, **kwargs):
        super().__init__(read_mpii(path, image_dir=image_dir, **kwargs), transform, load_images)


class COCOKeypointsDataset(PoseDataset):
    """COCO person keypoints (:func:`coco_to_records`), one sample per person annotation."""

    def __init__(self, json_path: PathLike, image_dir: Optional[PathLike] = None,
                 transform: Optional[Transform] = None, load_images: bool = True, min_keypoints: int = 1,
                 include_crowd: bool = False, padding: float = BOX_PADDING):
        super().__init__(coco_to_records(json_path, image_dir, min_keypoints=min_keypoints,
                                         include_crowd=include_crowd, padding=padding), transform, load_images)
