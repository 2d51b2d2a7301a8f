"""Object extraction on one photo (the paper's test procedure, Sec. 3): the image resized to the localization net's
square gives the box; the box's crop, resized to the segmentation net's square, gives the ``m x m`` mask
probabilities; they are pasted back into the box at the input's size (bilinear) and thresholded at 0.5 (outside the
box: background).

``refine`` (ours, not in the paper; ``0`` = the paper's procedure): the tight box of the thresholded mask, widened
by ``refine_margin`` units on each side, becomes the box of one more segmentation pass, as many times as asked. It
corrects boxes that cut the object or hold much background. Default: one pass, 6 units.

``relocate`` (ours, not in the paper; ``0`` = the paper's single look): the localization net looks again at the
window of its own box widened by ``relocate_context`` of the box's width and height on each side (clipped to the
image), resized to its square, and that box, mapped back, replaces the first, as many times as asked. The net sees
the object larger and in more detail; it works for a net trained with random crops (``data.crop_prob``), which show
it objects at such scales. Default: one pass, context 0.08.

``flip_seg`` (ours, on by default): each mask is the mean of the box's crop's and the mirrored crop's (mirrored
back); the box is not mirrored. It gains as much as full mirroring for a fraction of its time.

``flip`` (ours, test-time mirroring, off by default): the box is the mean of the image's and the mirrored image's
(mirrored back), and each mask the mean of the box's and the mirrored box's; twice the compute.

The options' values were chosen on DUTS-TR-2k's held-out ids, never on a test set (the measurements:
docs/extraction.md, "Choices the paper leaves open").

Large photos are first reduced (area interpolation) so that their longer side is at most :data:`WORK_SIDE` pixels:
both nets see small squares, and crops of a reduced copy do not alias. The mask is pasted at the input's size.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import max_side_factor
from ..errors import UserError
from ..nn.localization import mirror_boxes
from .config import ExtractionInferenceOptions as _Defaults
from .model import ExtractionNet, clamp_boxes, units_to_pixels

__all__ = ["extract", "paste_mask", "WORK_SIDE", "REFINE", "REFINE_MARGIN", "RELOCATE", "RELOCATE_CONTEXT", "FLIP",
           "FLIP_SEG"]

WORK_SIDE = 512
#: defaults of the number of refinement passes and their margin (units of 1/224 of the image side), of the number
#: of relocation passes and their context (fraction of the box's size added on each side) and of the mirrorings:
#: those of the task's options (config.ExtractionInferenceOptions)
REFINE = _Defaults.refine
REFINE_MARGIN = _Defaults.refine_margin
RELOCATE = _Defaults.relocate
RELOCATE_CONTEXT = _Defaults.relocate_context
FLIP = _Defaults.flip
FLIP_SEG = _Defaults.flip_seg
THRESHOLD = _Defaults.threshold


def paste_mask(prob: torch.Tensor, box, hw) -> torch.Tensor:
    """The box's ``(m, m)`` probabilities resampled (bilinear) at every pixel centre of an ``hw`` image inside the
    box (x1, y1, x2, y2 in pixels); 0 outside it."""
    h, w = int(hw[0]), int(hw[1])
    x1, y1, x2, y2 = [float(v) for v in box]
    gx = ((torch.arange(w, dtype=torch.float32) + 0.5) - x1) / max(x2 - x1, 1e-6) * 2.0 - 1.0
    gy = ((torch.arange(h, dtype=torch.float32) + 0.5) - y1) / max(y2 - y1, 1e-6) * 2.0 - 1.0
    grid = torch.stack([gx[None, :].expand(h, -1), gy[:, None].expand(-1, w)], dim=-1)[None]
    out = F.grid_sample(prob[None, None].float(), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)[0, 0]
    inside = (gx.abs() <= 1.0)[None, :] & (gy.abs() <= 1.0)[:, None]
    return torch.where(inside, out, torch.zeros_like(out))


def _refined_box(prob: torch.Tensor, box: torch.Tensor, threshold: float, margin: float):
    """The tight box (units) of the box's mask ``prob`` (m, m) above ``threshold``, widened by ``margin``; None when
    the mask is empty."""
    m = prob > threshold
    if not bool(m.any()):
        return None
    ys = torch.nonzero(m.any(1))[:, 0]
    xs = torch.nonzero(m.any(0))[:, 0]
    n = prob.shape[-1]
    x1, y1, x2, y2 = [float(v) for v in box[0]]
    sx, sy = (x2 - x1) / n, (y2 - y1) / n                                       # units per mask cell
    t = torch.tensor([[x1 + sx * float(xs.min()), y1 + sy * float(ys.min()), x1 + sx * float(xs.max() + 1),
                       y1 + sy * float(ys.max() + 1)]])
    return clamp_boxes(t + torch.tensor([-margin, -margin, margin, margin]))


def _locate(net: ExtractionNet, x: torch.Tensor, flip: bool) -> torch.Tensor:
    b = net.locate(x).float()
    if flip:
        b = (b + mirror_boxes(net.locate(x.flip(-1)).float())) / 2
    return clamp_boxes(b).cpu()


def _relocate(net: ExtractionNet, x: torch.Tensor, box: torch.Tensor, context: float, flip: bool) -> torch.Tensor:
    """One more look of the localization net at the window of ``box`` (units, (1, 4)) widened by ``context`` of its
    size on each side, clipped to the image; the window's box mapped back to the image's units."""
    from .model import UNITS

    h, w = x.shape[-2:]
    x1, y1, x2, y2 = [float(v) for v in box[0]]
    bw, bh = x2 - x1, y2 - y1
    wx1, wy1 = max(0.0, x1 - context * bw), max(0.0, y1 - context * bh)
    wx2, wy2 = min(float(UNITS), x2 + context * bw), min(float(UNITS), y2 + context * bh)
    c0, r0 = int(round(wx1 / UNITS * w)), int(round(wy1 / UNITS * h))
    c1, r1 = max(int(round(wx2 / UNITS * w)), c0 + 2), max(int(round(wy2 / UNITS * h)), r0 + 2)
    c1, r1 = min(c1, w), min(r1, h)
    c0, r0 = min(c0, c1 - 2), min(r0, r1 - 2)
    if c0 < 0 or r0 < 0:  # an image under 2 pixels a side: nothing to zoom into
        return box
    # the window actually cut (whole pixels), in units, so that the mapping back is exact
    wx1, wx2, wy1, wy2 = c0 / w * UNITS, c1 / w * UNITS, r0 / h * UNITS, r1 / h * UNITS
    b = _locate(net, x[..., r0:r1, c0:c1], flip)[0]
    sx, sy = (wx2 - wx1) / UNITS, (wy2 - wy1) / UNITS
    return clamp_boxes(torch.tensor([[wx1 + float(b[0]) * sx, wy1 + float(b[1]) * sy, wx1 + float(b[2]) * sx,
                                      wy1 + float(b[3]) * sy]]))


def _segment(net: ExtractionNet, x: torch.Tensor, box: torch.Tensor, flip: bool) -> torch.Tensor:
    dev = x.device
    p = torch.sigmoid(net.segment(x, box.to(dev)).float())[0]
    if flip:
        p = (p + torch.sigmoid(net.segment(x.flip(-1), mirror_boxes(box).to(dev)).float())[0].flip(-1)) / 2
    return p.cpu()


def extract(net: ExtractionNet, image: np.ndarray, precision: str = "auto", threshold: float = THRESHOLD,
            refine: int = REFINE, refine_margin: float = REFINE_MARGIN, flip: bool = FLIP,
            relocate: int = RELOCATE, relocate_context: float = RELOCATE_CONTEXT,
            flip_seg: bool = FLIP_SEG) -> Dict[str, Any]:
    """``image`` RGB uint8 ``(H, W, 3)`` -> ``box`` [x1, y1, x2, y2] (input pixels; the box of the last
    segmentation pass), ``score`` (the mean probability over the mask's pixels; 0 for an empty mask), ``prob``
    (H, W) float32, ``mask`` (H, W) bool, ``loc_box`` (the localization net's box after its relocation passes,
    input pixels)."""
    from ..nn.precision import inference_context

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise UserError(f"an RGB uint8 image (H, W, 3) is needed, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    if min(h, w) < 2:
        raise UserError(f"image of {w}x{h} pixels is too small to extract an object from")
    work = img
    s = max_side_factor(h, w, WORK_SIDE)
    if s != 1.0:
        import cv2

        work = cv2.resize(img, (max(2, round(w * s)), max(2, round(h * s))), interpolation=cv2.INTER_AREA)
    work = work if work.flags.writeable and work.flags.c_contiguous else np.array(work, copy=True)
    x = torch.from_numpy(work).permute(2, 0, 1)[None].float() / 255.0
    dev = next(net.parameters()).device
    x = x.to(dev)
    was = net.training
    net.eval()
    try:
        with torch.no_grad(), inference_context(dev, precision):
            box_u = _locate(net, x, flip)
            for _ in range(int(relocate)):
                box_u = _relocate(net, x, box_u, float(relocate_context), flip)
            loc_u = box_u
            mirror_seg = bool(flip or flip_seg)
            prob = _segment(net, x, box_u, mirror_seg)
            for _ in range(int(refine)):
                nb = _refined_box(prob, box_u, threshold, float(refine_margin))
                if nb is None:
                    break
                box_u = nb
                prob = _segment(net, x, box_u, mirror_seg)
    finally:
        net.train(was)
    box_px = units_to_pixels(box_u[0], (h, w))
    full = paste_mask(prob, box_px.tolist(), (h, w)).numpy()
    mask = full > float(threshold)
    score = float(full[mask].mean()) if mask.any() else 0.0
    return {"box": [round(float(v), 2) for v in box_px.tolist()], "score": round(score, 5), "prob": full,
            "mask": mask, "loc_box": [round(float(v), 2) for v in units_to_pixels(loc_u[0], (h, w)).tolist()]}
