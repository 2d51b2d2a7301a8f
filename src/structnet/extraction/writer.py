"""Files of ``structnet predict extraction`` per image:

* ``<name>_extraction_mask.png``: 8-bit, 0 / 255 at the input's size (255 = the object);
* ``<name>_extraction_overlay.png``: the object tinted over the photo, its box outlined;
* ``<name>_extraction.json``: ``{"box": [x1, y1, x2, y2], "score": s}`` in pixels of the input (edges on pixel
  edges; the box the mask was cut from; ``score``: the mean foreground probability over the mask's pixels), plus
  ``image``, ``size`` [width, height] and ``loc_box`` (the localization net's box after its relocation passes,
  before the segmentation refinement);
* with ``--prob``: ``<name>_extraction_prob.png``, the 8-bit foreground probability (what
  ``structnet score extraction`` reads for MAE and max F).

All files of an image are built before any is written (each atomically)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Mapping

import numpy as np

from ..data.io import write_json, write_png

__all__ = ["write_result", "overlay", "prob_to_uint8"]


def prob_to_uint8(prob: np.ndarray) -> np.ndarray:
    """[0, 1] probabilities -> 0..255 (rounded): the 8-bit map that is written and scored."""
    return np.clip(np.rint(np.asarray(prob, np.float64) * 255.0), 0, 255).astype(np.uint8)


def overlay(image: np.ndarray, mask: np.ndarray, box=None, alpha: float = 0.5) -> np.ndarray:
    from ..data.overlay import overlay as label_overlay

    return label_overlay(image, np.asarray(mask, np.uint8), box, parts=False, alpha=alpha)


def write_result(result: Mapping[str, Any], image, out_dir, name: str, source=None, prob: bool = False
                 ) -> List[Path]:
    out = Path(out_dir)
    mask = np.asarray(result["mask"], bool)
    m8 = mask.astype(np.uint8) * 255
    over = overlay(image, mask, result["box"])
    doc = {"image": str(source) if source is not None else name, "size": [int(mask.shape[1]), int(mask.shape[0])],
           "box": [float(v) for v in result["box"]], "score": float(result["score"])}
    if "loc_box" in result:
        doc["loc_box"] = [float(v) for v in result["loc_box"]]
    p8 = prob_to_uint8(result["prob"]) if prob else None
    files = [write_png(out / f"{name}_extraction_mask.png", m8),
             write_png(out / f"{name}_extraction_overlay.png", over),
             write_json(out / f"{name}_extraction.json", doc)]
    if p8 is not None:
        files.append(write_png(out / f"{name}_extraction_prob.png", p8))
    return files
