"""Boxes of images by ``grid_sample`` (no torchvision): crop boxes to a square, crop label maps, paste a box's
probabilities back into the whole image.

Boxes are ``(x1, y1, x2, y2)`` in pixels with edges on pixel edges: ``(0, 0, W, H)`` is the whole image. Sampling
follows ``align_corners=False``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["box_sample_grid", "crop_boxes", "crop_labels", "paste_probabilities"]


def box_sample_grid(boxes: torch.Tensor, size: int, image_hw) -> torch.Tensor:
    """``grid_sample`` grid ``(N, size, size, 2)`` that samples the boxes ``(N, 4)`` (x1, y1, x2, y2 in pixels, edges
    on pixel edges: the box (0, 0, W, H) is the whole image) of an image of ``image_hw`` at the centres of a
    ``size x size`` grid (``align_corners=False`` convention)."""
    h, w = image_hw
    b = boxes.to(torch.float32)
    u = (torch.arange(size, dtype=torch.float32, device=b.device) + 0.5) / size        # fractions of the box
    xs = b[:, 0:1] + u[None] * (b[:, 2:3] - b[:, 0:1])                                  # (N, size) pixels
    ys = b[:, 1:2] + u[None] * (b[:, 3:4] - b[:, 1:2])
    gx = xs / w * 2.0 - 1.0
    gy = ys / h * 2.0 - 1.0
    return torch.stack([gx[:, None, :].expand(-1, size, -1), gy[:, :, None].expand(-1, -1, size)], dim=-1)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """Boxes of ``images`` ``(N, C, H, W)`` resampled to ``(N, C, size, size)`` (the box warped to the square, as
    R-CNN's crops); outside the image is 0."""
    grid = box_sample_grid(boxes, size, images.shape[-2:]).to(images.dtype)
    return F.grid_sample(images, grid, mode=mode, padding_mode="zeros", align_corners=False)


def crop_labels(labels: torch.Tensor, boxes: torch.Tensor, size: int, ignore: int = 255) -> torch.Tensor:
    """Label maps ``(N, H, W)`` (integers) in the boxes at ``size x size`` (nearest); outside the image:
    ``ignore``."""
    x = (labels.to(torch.float32) + 1.0)[:, None]
    out = crop_boxes(x, boxes, size, mode="nearest")[:, 0].round().long() - 1
    return torch.where(out < 0, torch.full_like(out, ignore), out)


def paste_probabilities(probs: torch.Tensor, box, image_hw) -> torch.Tensor:
    """One box's probabilities ``(C, h, w)`` (channel 0 = background) -> ``(C, H, W)`` over the whole image:
    resampled bilinearly at every image pixel inside the box; outside the box background has probability 1."""
    h, w = int(image_hw[0]), int(image_hw[1])
    x1, y1, x2, y2 = [float(v) for v in box]
    # image pixel centres in the box's normalised coordinates [-1, 1] (align_corners=False over the box)
    gx = ((torch.arange(w, dtype=torch.float32) + 0.5) - x1) / (x2 - x1) * 2.0 - 1.0
    gy = ((torch.arange(h, dtype=torch.float32) + 0.5) - y1) / (y2 - y1) * 2.0 - 1.0
    grid = torch.stack([gx[None, :].expand(h, -1), gy[:, None].expand(-1, w)], dim=-1)[None]
    p = probs[None].float()
    out = F.grid_sample(p, grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
    inside = ((gx.abs() <= 1.0)[None, :] & (gy.abs() <= 1.0)[:, None])
    bg = torch.zeros_like(out)
    bg[0] = 1.0
    return torch.where(inside[None], out, bg)
