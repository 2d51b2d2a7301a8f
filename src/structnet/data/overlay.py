"""Label maps drawn over a photo: parts in one colour each, or one colour for the object, the box outlined."""
from __future__ import annotations

import numpy as np

__all__ = ["PART_COLOURS", "FG_COLOUR", "overlay"]

#: RGB per label (background black; the usual PASCAL-Person-Part palette order)
PART_COLOURS = np.array([[0, 0, 0], [220, 20, 60], [255, 165, 0], [60, 180, 75], [0, 130, 200], [145, 30, 180],
                         [240, 230, 40]], np.uint8)
FG_COLOUR = np.array([255, 60, 60], np.uint8)


def overlay(image: np.ndarray, labels: np.ndarray, box=None, parts: bool = True, alpha: float = 0.55) -> np.ndarray:
    """The labels in colour (``parts``: one colour per part, else one for the object) blended over the RGB image
    (label 0 leaves the photo as it is); the box outlined when it is not the whole image."""
    import cv2

    img = np.asarray(image, np.uint8)
    lab = np.asarray(labels).astype(np.int64)
    col = (PART_COLOURS[np.clip(lab, 0, len(PART_COLOURS) - 1)] if parts
           else np.where((lab > 0)[..., None], FG_COLOUR, 0).astype(np.uint8))
    out = img.astype(np.float32)
    on = lab > 0
    out[on] = (1 - alpha) * out[on] + alpha * col[on]
    out = out.round().astype(np.uint8)
    if box is not None:
        h, w = lab.shape
        x1, y1, x2, y2 = [int(round(v)) for v in box]
        if (x1, y1, x2, y2) != (0, 0, w, h):
            out = cv2.rectangle(np.ascontiguousarray(out), (x1, y1), (x2 - 1, y2 - 1), (255, 255, 255), 1)
    return out
