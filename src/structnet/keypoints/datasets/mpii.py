"""MPII Human Pose (Andriluka et al. 2014) readers, to ``mpii16`` records, in every form the annotations are
published in: the official ``mpii_human_pose_v1_u12_1.mat`` (struct ``RELEASE``; :func:`read_mpii_release`), the
Tompson validation split as ../shared/data/mpii-valid/valid.npz (:func:`read_mpii_npz`), pose-hg-train's
``annot/*.h5`` (:func:`read_mpii_h5`), and the json lists of pytorch-pose / CPM (``mpii_annotations.json``) and of
HRNet / mmpose (``train.json`` / ``valid.json``; :func:`read_mpii_json`); :func:`read_mpii` picks the reader by
suffix and :class:`MPIIDataset` wraps it. Coordinates are shifted from MATLAB's 1-based pixels to 0-based
(``one_based=True``). Conventions: package docstring (:mod:`structnet.keypoints.datasets`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from ._common import PathLike, _build, _check_split, _clean, _need_dir, _need_file
from .base import PoseDataset, Transform
from .records import PoseRecord

#: PCKh normaliser = 0.6 x head-box diagonal (SC_BIAS of the official MPII eval_PCKh).
MPII_HEAD_FACTOR = 0.6
#: pose-hg-train / pytorch-pose / HRNet: crop centre = objpos + (0, 15 s) ...
MPII_CENTER_SHIFT = 15.0
#: ... and crop scale = 1.25 s.
MPII_SCALE_FACTOR = 1.25


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
    d = _need_dir(image_dir, "MPII image folder") if image_dir is not None else None
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
    ann = ~(part == 0).all(-1)                          # all False without "part"
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



class MPIIDataset(PoseDataset):
    """MPII from any supported annotation file (:func:`read_mpii`: valid.npz, pose-hg h5, pytorch-pose /
    HRNet json, official RELEASE .mat); ``kwargs`` go to the reader (``split``, ``one_based``, ...). Without
    ``image_dir`` the samples carry annotations only (no ``image``)."""

    def __init__(self, path: PathLike, image_dir: Optional[PathLike] = None, transform: Optional[Transform] = None,
                 load_images: bool = True, **kwargs):
        super().__init__(read_mpii(path, image_dir=image_dir, **kwargs), transform, load_images)


