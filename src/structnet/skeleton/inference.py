"""Inference: run a skeleton model on images of any size/mode.

* :func:`predict_maps`: the network's skeleton and scale maps at the input size (what evaluation uses);
* :func:`predict_image`: maps plus the post-processed results (thin skeleton, object segments).  With ``max_side``
  the network *and the post-processing* (NMS, thinning, union of disks) run at the network's resolution; only
  the final maps are brought to the input size.

Models load with :func:`structnet.tasks.loading.load` (``structnet.hub.load(..., task="skeleton")``); files are
written by the task's writer (:mod:`structnet.skeleton.writer`, through :func:`structnet.tasks.run.predict`).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_scales
from ..data.io import image_to_tensor
from ..data.transforms import max_side_factor
from ..nn.precision import inference_context
from .model import SkeletonNet
from .postprocess import resize_nearest, thin_skeleton, upscale_thin
from .segments import DEFAULT_MIN_AREA, object_segments

DEFAULT_THRESHOLD = 0.5  # when neither the caller nor the weights give one


def _unpack(net, threshold: Optional[float]):
    """``(module, threshold)`` of a LoadedModel (its stored threshold unless one is given) or a bare module."""
    from ..tasks.loading import LoadedModel

    if isinstance(net, LoadedModel):
        return net.network, (threshold if threshold is not None else net.settings.get("threshold"))
    return net, threshold


def _unpack_tta(net, threshold, scales, flip):
    """``(module, threshold, scales, flip)``: a LoadedModel's stored test-time augmentation unless given."""
    from ..tasks.loading import LoadedModel

    settings = net.settings if isinstance(net, LoadedModel) else {}
    module, threshold = _unpack(net, threshold)
    if scales is None:
        scales = settings.get("scales") or (1.0,)
    if flip is None:
        flip = bool(settings.get("flip", False))
    return module, threshold, check_scales(scales), bool(flip)


def _network_input(image: np.ndarray, max_side: Optional[int], fast: bool) -> Tuple[torch.Tensor, float]:
    """The network's input (1, 3, h, w) float32 and the resize factor f = h / H.

    The reduction is an antialiased bilinear resize either way; ``fast`` (uint8 RGB input) resizes the uint8
    image and converts only the small copy to float (differences <= 1/255 from resizing in float, 80x less time
    and memory on a 20-megapixel photo); otherwise the whole image is converted to float first (what
    :func:`predict_maps`, and so the evaluation, has always done)."""
    h, w = image.shape[:2]
    f = max_side_factor(h, w, max_side)
    size = (max(1, round(h * f)), max(1, round(w * f)))
    if f != 1.0 and fast and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        a = np.ascontiguousarray(image)
        if not a.flags.writeable:       # torch.from_numpy warns on read-only arrays (it never writes here)
            a = a.copy()
        u = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0)           # channels_last view, no copy
        small = F.interpolate(u, size=size, mode="bilinear", align_corners=False, antialias=True)
        return torch.from_numpy(image_to_tensor(small[0].permute(1, 2, 0).numpy())).unsqueeze(0), f
    x = torch.from_numpy(image_to_tensor(image)).unsqueeze(0)
    if f != 1.0:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x, f


def _decode_at(net: SkeletonNet, x: torch.Tensor, device, precision: str):
    with inference_context(device, precision):
        out = net(x.contiguous(memory_format=torch.channels_last))
    dec = net.decode(out)
    return dec["skeleton"][:, None], dec["scale"][:, None]


@torch.no_grad()
def _network_maps(net: SkeletonNet, image: np.ndarray, max_side: Optional[int], precision: str, fast: bool = False,
                  scales: Sequence[float] = (1.0,), flip: bool = False) -> Tuple[torch.Tensor, torch.Tensor, float]:
    """Skeleton and scale maps (1, 1, h, w) at the network's resolution, and the resize factor f = h / H.

    Test-time augmentation: with ``scales`` other than ``(1.0,)`` the network also runs on copies of its input
    enlarged or reduced by each factor (bilinear, antialiased when reducing), and with ``flip`` on left-right mirrored
    copies; every output is brought back to (h, w) (bilinear; scales divided by the factor, flips undone) and the
    skeleton maps are averaged, the scale maps averaged with the skeleton probabilities as weights."""
    scales = check_scales(scales)
    x, f = _network_input(image, max_side, fast)
    device = next(net.parameters()).device
    x = x.to(device)
    h, w = x.shape[-2:]
    if scales == (1.0,) and not flip:
        skel, scale = _decode_at(net, x, device, precision)
        return skel, scale, f
    skel_sum = torch.zeros((1, 1, h, w), dtype=torch.float32, device=device)
    wscale_sum = torch.zeros_like(skel_sum)
    scale_sum = torch.zeros_like(skel_sum)
    n = 0
    for s in scales:
        size = (max(1, round(h * s)), max(1, round(w * s)))
        xs = x if size == (h, w) else F.interpolate(x, size=size, mode="bilinear", align_corners=False,
                                                    antialias=s < 1)
        for mirrored in ((False, True) if flip else (False,)):
            sk, sc = _decode_at(net, xs.flip(-1) if mirrored else xs, device, precision)
            if mirrored:
                sk, sc = sk.flip(-1), sc.flip(-1)
            sk, sc = sk.float(), sc.float() * (h / size[0])         # diameters in pixels of the (h, w) input
            if sk.shape[-2:] != (h, w):
                sk = F.interpolate(sk, size=(h, w), mode="bilinear", align_corners=False)
                sc = F.interpolate(sc, size=(h, w), mode="bilinear", align_corners=False)
            skel_sum += sk
            wscale_sum += sk * sc
            scale_sum += sc
            n += 1
    skel = skel_sum / n
    # probability-weighted mean scale; where every pass says "no skeleton" (weights 0) the plain mean
    scale = torch.where(skel_sum > 1e-6, wscale_sum / skel_sum.clamp_min(1e-6), scale_sum / n)
    return skel, scale, f


def _skeleton_to_input(skel: torch.Tensor, size: Tuple[int, int], f: float) -> np.ndarray:
    if f != 1.0:
        skel = F.interpolate(skel, size=size, mode="bilinear", align_corners=False)
    return skel[0, 0].clamp_(0, 1).cpu().numpy().astype(np.float32, copy=False)


@torch.no_grad()
def predict_maps(net, image: np.ndarray, max_side: Optional[int] = None,
                 precision: str = "auto", scales: Optional[Sequence[float]] = None,
                 flip: Optional[bool] = None) -> Dict[str, np.ndarray]:
    """One RGB uint8 image (H, W, 3) -> ``{"skeleton": float32 (H, W) in [0, 1], "scale": float32 (H, W) pixels}``.

    With ``max_side`` the network runs on a copy whose longer side is ``max_side``; maps come back at
    the input size (scales divided by the resize factor). ``scales`` / ``flip``: test-time augmentation (see
    :func:`_network_maps`); ``None`` takes a LoadedModel's stored defaults (a bare network: ``(1.0,)``, no flip)."""
    net, _, scales, flip = _unpack_tta(net, None, scales, flip)
    h, w = image.shape[:2]
    skel, scale, f = _network_maps(net, image, max_side, precision, scales=scales, flip=flip)
    if f != 1.0:
        scale = F.interpolate(scale, size=(h, w), mode="nearest") / f
    return {"skeleton": _skeleton_to_input(skel, (h, w), f),
            "scale": scale[0, 0].cpu().numpy().astype(np.float32)}


def _segments(thin: np.ndarray, scale: np.ndarray, mode: str, min_area: float):
    if not np.isfinite(scale).all():
        return np.zeros(thin.shape, np.int32), thin, 0
    return object_segments(thin, scale, mode, min_area)


@torch.no_grad()
def predict_image(net, image: np.ndarray, *, max_side: Optional[int] = None, precision: str = "auto",
                  threshold: Optional[float] = None, segments: str = "objects",
                  min_segment_area: float = DEFAULT_MIN_AREA, scales: Optional[Sequence[float]] = None,
                  flip: Optional[bool] = None) -> Dict[str, object]:
    """Skeleton, scale, thin skeleton and object segments of one RGB uint8 image (H, W, 3).

    ``threshold``: binarisation threshold of the thin skeleton (on the map divided by its maximum), normally the
    model's ODS threshold (a LoadedModel's ``settings["threshold"]``, used when ``None``; for a bare network
    ``None`` means ``DEFAULT_THRESHOLD``, 0.5).  With
    ``max_side`` the network runs on a copy whose longer side is ``max_side`` (a uint8 image is reduced in uint8,
    see ``_network_input``) and so do NMS, thinning and the union-of-disks segments; only then are the maps
    brought to the input size: the skeleton map bilinearly, the scale map by nearest neighbour times the resize
    factor H / h, the segment labels by nearest neighbour, and the thin skeleton by mapping its pixels up and
    joining neighbours (:func:`~.postprocess.upscale_thin`, still one pixel wide).

    ``segments``: ``"objects"`` (default) merges the segments whose regions touch, drops objects under
    ``min_segment_area`` x the largest and joins the skeleton pieces of each object; ``"parts"`` keeps the paper's
    one segment per skeleton piece (:func:`~.segments.object_segments`).

    ``scales`` / ``flip``: test-time augmentation (the maps of enlarged / mirrored copies averaged, see
    :func:`_network_maps`); ``None`` takes a LoadedModel's stored defaults (a bare network: ``(1.0,)``, no flip).

    Returns ``skeleton`` float32 (H, W) in [0, 1], ``scale`` float32 (H, W) diameters in input pixels, ``thin``
    bool (H, W), ``labels`` int32 (H, W) (0 = background, one segment per connected skeleton part), ``height``,
    ``width``, ``threshold``, ``skeleton_pixels`` (of ``thin``), ``segments`` (number of labels), ``pieces``
    (8-connected pieces of the thresholded skeleton, before any joining) and
    ``network_height``, ``network_width`` (the resolution the network and the post-processing ran at)."""
    net, threshold, scales, flip = _unpack_tta(net, threshold, scales, flip)
    t = float(DEFAULT_THRESHOLD if threshold is None else threshold)
    H, W = image.shape[:2]
    skel_t, scale_t, f = _network_maps(net, image, max_side, precision, fast=True, scales=scales, flip=flip)
    skel_n = skel_t[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32)
    scale_n = scale_t[0, 0].cpu().numpy().astype(np.float32)
    h, w = skel_n.shape
    thin_n = thin_skeleton(skel_n, t)
    labels_n, thin_n, pieces = _segments(thin_n, scale_n, segments, min_segment_area)
    if f == 1.0:
        skel, scale, thin, labels = skel_n, scale_n, thin_n, labels_n
    else:
        skel = _skeleton_to_input(skel_t, (H, W), f)
        del skel_t
        scale = resize_nearest(scale_n, (H, W))
        scale *= np.float32(1.0 / f)   # diameters in input pixels
        thin = upscale_thin(thin_n, (H, W))
        labels = resize_nearest(labels_n, (H, W))
    return {"skeleton": skel, "scale": scale, "thin": thin, "labels": labels.astype(np.int32, copy=False),
            "height": int(H), "width": int(W), "threshold": t, "skeleton_pixels": int(thin.sum()),
            "segments": int(labels_n.max(initial=0)), "pieces": pieces, "network_height": int(h),
            "network_width": int(w)}
