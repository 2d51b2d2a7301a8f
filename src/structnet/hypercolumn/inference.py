"""Image -> hypercolumn labels: the box (default: the whole image) warped to the network's square input with
``grid_sample``, the grid classifiers' interpolated probabilities, pasted back into the image at its size."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from ..nn.precision import inference_context
from ..nn.boxes import crop_boxes, paste_probabilities
from .model import HypercolumnNet

__all__ = ["box_probabilities", "predict_image", "check_box", "keypoints_from_maps"]


def check_box(box: Optional[Sequence[float]], hw) -> np.ndarray:
    """The box as float64 (x1, y1, x2, y2); None -> the whole image. ValueError for an empty or non-finite box or
    one that misses the image."""
    h, w = int(hw[0]), int(hw[1])
    if box is None:
        return np.array([0.0, 0.0, float(w), float(h)])
    b = np.asarray(box, np.float64).reshape(-1)
    if b.shape != (4,) or not np.isfinite(b).all():
        raise ValueError(f"box must be 4 finite numbers x1,y1,x2,y2, got {list(np.asarray(box).reshape(-1))}")
    if not (b[2] > b[0] and b[3] > b[1]):
        raise ValueError(f"box {','.join(f'{v:g}' for v in b)}: x2 > x1 and y2 > y1 needed")
    if b[2] <= 0 or b[3] <= 0 or b[0] >= w or b[1] >= h:
        raise ValueError(f"box {','.join(f'{v:g}' for v in b)} lies outside the {w}x{h} image")
    return b


@torch.no_grad()
def box_probabilities(net: HypercolumnNet, image: np.ndarray, box: Optional[Sequence[float]] = None,
                      flip: bool = False, precision: str = "auto") -> torch.Tensor:
    """``(C', h, w)`` interpolated probabilities of the box's output grid (channel 0 = background), for an RGB
    uint8 ``image`` (H, W, 3)."""
    b = check_box(box, image.shape[:2])
    dev = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(dev).float() / 255.0
    crop = crop_boxes(x, torch.as_tensor(b, dtype=torch.float32, device=dev)[None], net.input_size)
    if flip:
        crop = torch.cat([crop, crop.flip(-1)])
    crop = crop.contiguous(memory_format=torch.channels_last)
    with inference_context(dev, precision):
        scores = net(crop)
    p = net.probs(scores.float())
    if flip:
        q = p[1:2].flip(-1)
        if net.kind == "keypoints":                     # the mirrored crop's left joints are the right ones
            from ..keypoints.layouts import get_layout

            q = q[:, :, torch.as_tensor(get_layout("lsp14").flip_permutation())]
        p = 0.5 * (p[0:1] + q)
    return p[0].cpu()


def keypoints_from_maps(heat: np.ndarray, box) -> Dict[str, Any]:
    """Keypoint maps ``(C, h, w)`` of a box -> ``keypoints`` (C, 2) image pixels at each map's most probable pixel
    (its centre), ``scores`` (C,) the probability there, ``heatmaps``, ``box``, ``task``."""
    c, h, w = heat.shape
    flat = heat.reshape(c, -1).argmax(1)
    v, u = np.divmod(flat, w)
    x1, y1, x2, y2 = [float(t) for t in box]
    kp = np.stack([x1 + (u + 0.5) / w * (x2 - x1), y1 + (v + 0.5) / h * (y2 - y1)], 1)
    return {"keypoints": kp, "scores": heat.reshape(c, -1).max(1).astype(np.float64), "heatmaps": heat,
            "box": [x1, y1, x2, y2], "task": "keypoints"}


def predict_image(net: HypercolumnNet, image: np.ndarray, box: Optional[Sequence[float]] = None,
                  flip: bool = False, precision: str = "auto") -> Dict[str, Any]:
    """One image -> ``probs`` (C', H, W) float32 at the image's size, ``labels`` (H, W) uint8 (parts: the most
    probable class; figure-ground: 1 where the object's probability is > 0.5), ``box`` [x1, y1, x2, y2],
    ``task``; keypoints: :func:`keypoints_from_maps` of the box."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"an RGB uint8 image (H, W, 3) is needed, got {img.dtype} {img.shape}")
    b = check_box(box, img.shape[:2])
    p = box_probabilities(net, img, b, flip=flip, precision=precision)
    if net.kind == "keypoints":
        return keypoints_from_maps(p[1].numpy(), b)
    full = paste_probabilities(p, b, img.shape[:2]).numpy()
    labels = (full[1] > 0.5) if net.classes == 1 else full.argmax(0)
    return {"probs": full.astype(np.float32), "labels": labels.astype(np.uint8), "box": [float(v) for v in b],
            "task": net.kind}
