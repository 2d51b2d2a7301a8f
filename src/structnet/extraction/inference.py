"""Object extraction on one photo (the paper's test procedure, Sec. 3): the image resized to the localization net's
square gives the box; the box's crop, resized to the segmentation net's square, gives the ``m x m`` mask
probabilities; they are pasted back into the box at the input's size (bilinear) and thresholded at 0.5 (outside the
box: background).

Large photos are first reduced (area interpolation) so that their longer side is at most :data:`WORK_SIDE` pixels:
both nets see small squares, and crops of a reduced copy do not alias. The mask is pasted at the input's size.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from .model import ExtractionNet, clamp_boxes, units_to_pixels

__all__ = ["extract", "paste_mask", "WORK_SIDE"]

WORK_SIDE = 512


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


def extract(net: ExtractionNet, image: np.ndarray, precision: str = "auto", threshold: float = 0.5
            ) -> Dict[str, Any]:
    """``image`` RGB uint8 ``(H, W, 3)`` -> ``box`` [x1, y1, x2, y2] (input pixels), ``score`` (the mean probability
    over the mask's pixels; 0 for an empty mask), ``prob`` (H, W) float32, ``mask`` (H, W) bool."""
    from ..nn.precision import inference_context

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise UserError(f"an RGB uint8 image (H, W, 3) is needed, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    if min(h, w) < 2:
        raise UserError(f"image of {w}x{h} pixels is too small to extract an object from")
    work = img
    if max(h, w) > WORK_SIDE:
        import cv2

        s = WORK_SIDE / max(h, w)
        work = cv2.resize(img, (max(2, round(w * s)), max(2, round(h * s))), interpolation=cv2.INTER_AREA)
    work = work if work.flags.writeable and work.flags.c_contiguous else np.array(work, copy=True)
    x = torch.from_numpy(work).permute(2, 0, 1)[None].float() / 255.0
    dev = next(net.parameters()).device
    x = x.to(dev)
    was = net.training
    net.eval()
    try:
        with torch.no_grad(), inference_context(dev, precision):
            box_u = clamp_boxes(net.locate(x).float())
            prob = torch.sigmoid(net.segment(x, box_u).float())[0].cpu()
    finally:
        net.train(was)
    box_px = units_to_pixels(box_u[0].cpu(), (h, w))
    full = paste_mask(prob, box_px.tolist(), (h, w)).numpy()
    mask = full > float(threshold)
    score = float(full[mask].mean()) if mask.any() else 0.0
    return {"box": [round(float(v), 2) for v in box_px.tolist()], "score": round(score, 5), "prob": full,
            "mask": mask}
