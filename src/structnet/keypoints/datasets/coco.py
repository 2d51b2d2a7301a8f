"""COCO person keypoints (Lin et al. 2014; ``person_keypoints_{train,val}2017.json``) to ``coco17`` records, one
per person annotation (:func:`coco_to_records`), and their dataset :class:`COCOKeypointsDataset`. Conventions:
package docstring (:mod:`structnet.keypoints.datasets`).
"""
from __future__ import annotations

import json
import warnings
from typing import List, Optional

import numpy as np

from ..layouts import get_layout
from ._common import PathLike, _build, _clean, _need_dir, _need_file
from .base import PoseDataset, Transform
from .records import BOX_PADDING, PoseRecord, box_to_center_scale


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



class COCOKeypointsDataset(PoseDataset):
    """COCO person keypoints (:func:`coco_to_records`), one sample per person annotation."""

    def __init__(self, json_path: PathLike, image_dir: Optional[PathLike] = None,
                 transform: Optional[Transform] = None, load_images: bool = True, min_keypoints: int = 1,
                 include_crowd: bool = False, padding: float = BOX_PADDING):
        super().__init__(coco_to_records(json_path, image_dir, min_keypoints=min_keypoints,
                                         include_crowd=include_crowd, padding=padding), transform, load_images)
