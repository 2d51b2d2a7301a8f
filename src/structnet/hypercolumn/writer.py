"""Files of ``structnet predict hypercolumn``:

* ``--task parts``: ``<name>_hypercolumn_parts.png`` (8-bit label map at the input's size: 0 background, 1 head,
  2 torso, 3 upper arm, 4 lower arm, 5 upper leg, 6 lower leg) and ``<name>_hypercolumn_overlay.png`` (the parts
  in colour over the photo, the box drawn when it is not the whole image);
* ``--task figure-ground``: ``<name>_hypercolumn_mask.png`` (0 / 255 at the input's size) and
  ``<name>_hypercolumn_overlay.png``;
* ``--task keypoints``: ``<name>_hypercolumn_keypoints.json`` (``box``, ``layout`` lsp14, ``joints``:
  [{name, x, y, score}] in input pixels) and ``<name>_hypercolumn_overlay.png`` (joints and limbs drawn).

Both files of an image are built before either is written (atomically), so a failure writes nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping

import numpy as np

from ..data.io import write_png
from ..data.overlay import PART_COLOURS, overlay

__all__ = ["write_result"]

def _keypoints(result: Mapping[str, Any], image, out: Path, name: str, source) -> List[Path]:
    import cv2

    from ..data.io import write_json
    from ..keypoints.layouts import get_layout

    lay = get_layout("lsp14")
    kp, sc = np.asarray(result["keypoints"], np.float64), np.asarray(result["scores"], np.float64)
    doc = {"image": str(source) if source is not None else name, "box": [round(v, 2) for v in result["box"]],
           "layout": "lsp14", "joints": [{"name": n, "x": round(float(x), 2), "y": round(float(y), 2),
                                          "score": round(float(s), 5)} for n, (x, y), s in zip(lay.joints, kp, sc)]}
    img = np.ascontiguousarray(np.asarray(image, np.uint8).copy())
    r = max(2, int(round(0.01 * max(img.shape[:2]))))
    for a, b in lay.edges:
        cv2.line(img, tuple(int(round(v)) for v in kp[a]), tuple(int(round(v)) for v in kp[b]), (255, 255, 255), 1)
    for j, (x, y) in enumerate(kp):
        cv2.circle(img, (int(round(x)), int(round(y))), r, tuple(int(c) for c in PART_COLOURS[1 + j % 6]), -1)
    x1, y1, x2, y2 = [int(round(v)) for v in result["box"]]
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 1)
    return [write_json(out / f"{name}_hypercolumn_keypoints.json", doc),
            write_png(out / f"{name}_hypercolumn_overlay.png", img)]


def write_result(result: Mapping[str, Any], image, out_dir, name: str, source=None) -> List[Path]:
    if result["task"] == "keypoints":
        return _keypoints(result, image, Path(out_dir), name, source)
    lab = np.asarray(result["labels"], np.uint8)
    over = overlay(image, lab, result.get("box"), parts=result["task"] == "parts")
    out = Path(out_dir)
    if result["task"] == "parts":
        first = write_png(out / f"{name}_hypercolumn_parts.png", lab)
    else:
        first = write_png(out / f"{name}_hypercolumn_mask.png", (lab > 0).astype(np.uint8) * 255)
    return [first, write_png(out / f"{name}_hypercolumn_overlay.png", over)]
