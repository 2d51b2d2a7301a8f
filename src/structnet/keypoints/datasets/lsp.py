"""Leeds Sports Pose readers: LSP-extended as prepared in ../shared/data/lspet (``joints.npy`` + ``train.txt`` /
``val.txt`` + ``images/``; :func:`read_lspet`) and the original ``joints.mat`` of the LSP (Johnson & Everingham
2010, ``(3, 14, 2000)``, flag = occluded) and LSP-extended (2011, ``(14, 3, 10000)``, flag = visible) releases
(:func:`read_lsp_mat`), both to ``lsp14`` records; with their datasets :class:`LSPETDataset` and
:class:`LSPMatDataset`. Conventions: package docstring (:mod:`structnet.keypoints.datasets`).
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np

from ._common import PathLike, _build, _check_split, _clean, _need_dir, _need_file
from .base import PoseDataset, Transform
from .records import BOX_PADDING, PoseRecord, box_to_center_scale, joint_boxes, torso_norm


def _lsp_records(names, paths, kp, visible, annotated, padding: float) -> List[PoseRecord]:
    box = joint_boxes(kp, annotated)
    center, scale = box_to_center_scale(box, padding=padding)
    norm = torso_norm(kp, annotated, "lsp14")
    return _build(names, paths, kp, visible, annotated, "lsp14", center, scale, box, norm, "torso")



def _read_joints(jf: Path) -> np.ndarray:
    try:
        joints = np.load(jf)
    except Exception as e:  # not an npy file
        raise ValueError(f"cannot read {str(jf)!r}: {' '.join(str(e).split())}") from None
    if joints.ndim != 3 or joints.shape[1:] != (14, 3):
        raise ValueError(f"{jf}: expected joints of shape (N, 14, 3), got {joints.shape}")
    return joints


def _names(f: Path) -> List[str]:
    return [ln.strip() for ln in f.read_text().splitlines() if ln.strip()]


LSPET_SPLITS = ("train", "val", "all", "extra", "train+extra")


def read_lspet(root: PathLike, split: str = "train", padding: float = BOX_PADDING) -> List[PoseRecord]:
    """LSP-extended in the form of ../shared/data/lspet: ``root/joints.npy`` float ``(N, 14, 3)`` = (x, y,
    visible), rows in the order of ``train.txt`` then ``val.txt`` (names without extension, one per line),
    images ``root/images/<name>.jpg``; optional extra training images ``extra.txt`` + ``joints_extra.npy`` (row k =
    line k). ``split``: ``train``, ``val``, ``all`` (train + val), ``extra`` or ``train+extra``. Layout ``lsp14``;
    annotated = visible (LSPET's other coordinates are meaningless); person box = tight box of the annotated joints,
    centre / scale from it with ``padding`` (:func:`box_to_center_scale`); norm = torso (left shoulder - right hip,
    the layout's pair)."""
    _check_split(split, LSPET_SPLITS, "LSPET")
    r = _need_dir(root, "LSPET folder")
    jf = _need_file(r / "joints.npy", "LSPET joints file")
    img_dir = _need_dir(r / "images", "LSPET image folder")
    joints = _read_joints(jf)
    lists = {s: _names(_need_file(r / f"{s}.txt", "LSPET split file")) for s in ("train", "val")}
    order = lists["train"] + lists["val"]
    if len(order) != len(joints):
        raise ValueError(f"{r}: train.txt + val.txt list {len(order)} names but joints.npy has {len(joints)} rows")
    parts = []
    if split in ("train", "all", "train+extra"):
        parts.append((lists["train"], joints[:len(lists["train"])], jf))
    if split in ("val", "all"):
        parts.append((lists["val"], joints[len(lists["train"]):], jf))
    if split in ("extra", "train+extra"):
        ef = _need_file(r / "joints_extra.npy", "LSPET extra joints file")
        extra = _read_joints(ef)
        names = _names(_need_file(r / "extra.txt", "LSPET extra list"))
        if len(names) != len(extra):
            raise ValueError(f"{r}: extra.txt lists {len(names)} names but joints_extra.npy has {len(extra)} rows")
        parts.append((names, extra, ef))
    recs: List[PoseRecord] = []
    for names, j, src in parts:
        j = j.astype(np.float64)
        flag = j[..., 2]
        if not np.isin(flag[np.isfinite(flag)], (0, 1)).all():
            raise ValueError(f"{src}: visibility flags must be 0 or 1")
        vis = flag == 1
        kp, vis, ann = _clean(j[..., :2], vis, vis.copy(), src)
        recs += _lsp_records(names, [img_dir / f"{n}.jpg" for n in names], kp, vis, ann, padding)
    return recs


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


