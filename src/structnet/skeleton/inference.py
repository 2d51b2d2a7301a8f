"""Inference: load a skeleton model, run it on images of any size/mode, write the published formats."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..data.io import image_to_tensor, write_png
from ..nn.precision import inference_context
from .model import SkeletonNet, build_skeleton_model

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
BUNDLED = {"lmsds_efficientnet_lite0": WEIGHTS_DIR / "lmsds_efficientnet_lite0.safetensors"}
DEFAULT_MODEL = "lmsds_efficientnet_lite0"


def load_skeleton_model(weights: Optional[str] = None, model: Optional[str] = None) -> SkeletonNet:
    """A :class:`SkeletonNet` in eval mode from a safetensors file written by ``structnet train skeleton``
    (``weights``), or a bundled model by name (``model``, default ``lmsds_efficientnet_lite0``).

    The file's metadata carries the architecture (``model_config``) and the evaluation threshold
    (``threshold``) that is stored on the model as ``model.threshold``.
    """
    from ..engine.checkpoint import load_weights, read_weights_metadata

    if weights is None:
        name = model or DEFAULT_MODEL
        if name not in BUNDLED:
            raise KeyError(f"unknown bundled skeleton model {name!r}; valid names: {', '.join(sorted(BUNDLED))}")
        weights = str(BUNDLED[name])
        if not Path(weights).is_file():
            raise FileNotFoundError(f"bundled weights missing: {weights} (reinstall structnet)")
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    meta = read_weights_metadata(path)
    if "model_config" not in meta:
        raise ValueError(f"{path}: not a structnet skeleton weights file (no model_config in its metadata)")
    cfg = meta["model_config"]
    cfg = json.loads(cfg) if isinstance(cfg, str) else cfg
    net = build_skeleton_model(method=cfg["method"], backbone=cfg["backbone"], pretrained=False,
                               taps=cfg.get("taps"), rho=cfg.get("rho", 1.2), beyond=cfg.get("beyond", "clamp"))
    load_weights(net, path)
    net.threshold = float(meta.get("threshold", 0.5))
    net.metadata = meta
    return net.eval()


def _resize_for(img: np.ndarray, max_side: Optional[int]):
    h, w = img.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return 1.0
    return max_side / max(h, w)


@torch.no_grad()
def predict_maps(net: SkeletonNet, image: np.ndarray, max_side: Optional[int] = None,
                 precision: str = "auto") -> Dict[str, np.ndarray]:
    """One RGB uint8 image (H, W, 3) -> ``{"skeleton": float32 (H, W) in [0, 1], "scale": float32 (H, W) pixels}``.

    With ``max_side`` the network runs on a copy whose longer side is ``max_side``; maps come back at
    the input size (scales divided by the resize factor).
    """
    x = torch.from_numpy(image_to_tensor(image)).unsqueeze(0)
    h, w = image.shape[:2]
    f = _resize_for(image, max_side)
    if f != 1.0:
        x = F.interpolate(x, size=(max(1, round(h * f)), max(1, round(w * f))), mode="bilinear",
                          align_corners=False, antialias=True)
    device = next(net.parameters()).device
    x = x.to(device)
    with inference_context(device, precision):
        out = net(x.contiguous(memory_format=torch.channels_last))
    dec = net.decode(out)
    skel, scale = dec["skeleton"][:, None], dec["scale"][:, None]
    if f != 1.0:
        skel = F.interpolate(skel, size=(h, w), mode="bilinear", align_corners=False)
        scale = F.interpolate(scale, size=(h, w), mode="nearest") / f
    return {"skeleton": skel[0, 0].clamp(0, 1).cpu().numpy().astype(np.float32),
            "scale": scale[0, 0].cpu().numpy().astype(np.float32)}


def thin_skeleton(skeleton: np.ndarray, threshold: float) -> np.ndarray:
    """Skeleton map -> one-pixel-wide binary skeleton: the evaluation's NMS, ``>= threshold`` on the map
    normalised by its maximum, thinning and removal of isolated pixels (as skeval does per threshold)."""
    from .metrics import binarize_thin, skeleton_nms

    mx = float(skeleton.max())
    if mx <= 0:
        return np.zeros(skeleton.shape, bool)
    return binarize_thin(skeleton_nms(skeleton / mx), threshold)


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """int label map (H, W) -> uint8 RGB (H, W, 3), 0 = black, segments in distinct colours."""
    rng = np.random.default_rng(12345)
    n = int(labels.max())
    palette = np.concatenate([np.zeros((1, 3), np.uint8), rng.integers(60, 256, (max(n, 1), 3), dtype=np.uint8)])
    return palette[labels]


def overlay(image: np.ndarray, thin: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Image with segments tinted and the thinned skeleton drawn in red (dilated to 3 px for visibility)."""
    import cv2

    out = image.astype(np.float32) * 0.6
    seg = labels > 0
    col = colorize_labels(labels).astype(np.float32)
    out[seg] = out[seg] * 0.5 + col[seg] * 0.5
    thick = cv2.dilate(thin.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out[thick] = (255, 20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


def predict_file(net: SkeletonNet, path: Path, out_dir: Path, max_side: Optional[int] = None,
                 precision: str = "auto", threshold: Optional[float] = None) -> Dict[str, object]:
    """Run on one file and write ``<stem>_skeleton.png``, ``<stem>_overlay.png``, ``<stem>_segments.png``,
    ``<stem>.npz`` (skeleton, scale, thin). Returns a small summary dict."""
    from ..data.io import read_image
    from .segments import segments_from_skeleton

    image = read_image(path)
    maps = predict_maps(net, image, max_side=max_side, precision=precision)
    t = float(threshold if threshold is not None else getattr(net, "threshold", 0.5))
    thin = thin_skeleton(maps["skeleton"], t)
    scale = maps["scale"]
    labels = (segments_from_skeleton(thin, np.nan_to_num(scale)) if np.isfinite(scale).all()
              else np.zeros(thin.shape, np.int32))
    stem = Path(path).stem
    out_dir.mkdir(parents=True, exist_ok=True)
    write_png(out_dir / f"{stem}_skeleton.png", np.round(maps["skeleton"] * 255).astype(np.uint8))
    write_png(out_dir / f"{stem}_overlay.png", overlay(image, thin, labels))
    write_png(out_dir / f"{stem}_segments.png", colorize_labels(labels))
    np.savez_compressed(out_dir / f"{stem}.npz", skeleton=maps["skeleton"], scale=scale, thin=thin)
    return {"image": str(path), "height": image.shape[0], "width": image.shape[1],
            "skeleton_pixels": int(thin.sum()), "segments": int(labels.max()), "threshold": t}
