"""Writing skeleton predictions: the PNGs and the NPZ of one :func:`~structnet.skeleton.inference.predict_image`
result (all files written atomically, through :mod:`structnet.data.io`)."""
from __future__ import annotations

import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..atomic import atomic_write
from ..data.io import write_png

__all__ = ["colorize_labels", "map_to_png16", "overlay", "write_result"]


def map_to_png16(skeleton: np.ndarray) -> np.ndarray:
    """A skeleton map in [0, 1] (H, W) float -> uint16 ``round(map * 65535)``, what ``<name>_skeleton.png`` holds.

    16 bits, not the BSDS 8: the evaluation divides a map by its maximum and thresholds it at 100 levels, and a
    model whose maps crowd near 1 (the bundled one's ODS threshold is 0.88) loses the ranking that NMS and the
    thresholds need when the map has 256 levels: the SK-LARGE test ODS F of the same maps was 0.528 as floats and
    0.496 as 8-bit PNGs.  With 65536 levels the written file scores as the float map does.  ``structnet score`` and
    ``eval`` read 8- and 16-bit grey PNGs (each divided by its own maximum)."""
    a = np.asarray(skeleton, np.float32)
    if a.ndim != 2:
        raise ValueError(f"map_to_png16: expected a 2-D map, got shape {a.shape}")
    return np.round(np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0) * 65535.0).astype(np.uint16)


def colorize_labels(labels: np.ndarray) -> np.ndarray:
    """int label map (H, W) -> uint8 RGB (H, W, 3), 0 = black, segments in distinct colours (a fixed random
    palette: label k has the same colour in every image)."""
    import cv2

    labels = np.asarray(labels)
    rng = np.random.default_rng(12345)
    n = int(labels.max(initial=0))
    palette = np.concatenate([np.zeros((1, 3), np.uint8), rng.integers(60, 256, (max(n, 1), 3), dtype=np.uint8)])
    if n <= 255 and labels.ndim == 2 and labels.size and labels.min() >= 0:
        # table look-up in uint8 (OpenCV): same result as palette[labels], ~10x faster on large maps
        l8 = labels.astype(np.uint8)
        lut = np.zeros((256, 3), np.uint8)
        lut[:n + 1] = palette[:n + 1]
        return cv2.LUT(cv2.merge([l8, l8, l8]), lut[None])
    return palette[labels]


def overlay(image: np.ndarray, thin: np.ndarray, labels: np.ndarray, colors: Optional[np.ndarray] = None
            ) -> np.ndarray:
    """Image (H, W, 3) uint8 darkened to 60 %, segments tinted with their colour (half image, half colour) and the
    thin skeleton drawn in red (dilated to 3 px for visibility) -> uint8 (H, W, 3).  Works in uint8 (a few bytes
    per pixel), so that large photos stay cheap.  ``colors``: ``colorize_labels(labels)`` when already computed."""
    import cv2

    img = np.ascontiguousarray(image, dtype=np.uint8)
    out = cv2.convertScaleAbs(img, alpha=0.6)
    seg = labels > 0
    if seg.any():
        col = colorize_labels(labels) if colors is None else colors
        tinted = cv2.addWeighted(img, 0.3, col, 0.5, 0.0)
        np.copyto(out, tinted, where=seg[..., None])
        del tinted
    thick = cv2.dilate(np.asarray(thin, bool).view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out[thick] = (255, 20, 20)
    return out


def _write_npz(path: Path, stored: Dict[str, np.ndarray], deflated: Dict[str, np.ndarray]) -> Path:
    """An ``.npz`` (read by ``np.load``) written atomically: ``stored`` arrays uncompressed, ``deflated`` ones
    compressed.  A float map resized bilinearly does not compress (zlib saves ~12 % of a 20-megapixel skeleton
    map in ~6 s), while label-like maps (nearest-resized scales, binary skeletons) shrink 30-100x in well under a
    second."""
    def write(f):
        with zipfile.ZipFile(f, "w", allowZip64=True) as z:
            for items, comp in ((stored, zipfile.ZIP_STORED), (deflated, zipfile.ZIP_DEFLATED)):
                for key, arr in items.items():
                    info = zipfile.ZipInfo(f"{key}.npy")
                    info.compress_type = comp
                    with z.open(info, "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)

    return atomic_write(path, write)


def write_result(result: Dict[str, object], image: np.ndarray, out_dir: Path, name: str) -> List[Path]:
    """Write one prediction: ``<name>_skeleton.png`` (16-bit grey skeleton map, see :func:`map_to_png16`),
    ``<name>_skeleton_overlay.png``, ``<name>_skeleton_segments.png`` (colour-coded labels) and
    ``<name>_skeleton.npz`` (``skeleton`` float32, ``scale`` float32, ``thin`` bool, all (H, W); ``skeleton``
    stored uncompressed, see :func:`_write_npz`) into ``out_dir`` (created).  ``result``: a ``predict_image`` dict;
    ``image``: the RGB uint8 image it was computed from; ``name``: the file-name stem, chosen by the caller (so that
    inputs with the same stem can be kept apart).
    The four files are encoded in parallel threads (PNG and zlib encoders release the GIL).  Returns the paths."""
    out_dir = Path(out_dir)
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"write_result: name must be a plain file-name stem, got {name!r}")
    skel, thin, labels = result["skeleton"], result["thin"], result["labels"]
    if np.shape(image)[:2] != np.shape(skel) or np.shape(thin) != np.shape(skel) or np.shape(labels) != np.shape(skel):
        raise ValueError(f"write_result: image {np.shape(image)[:2]}, skeleton {np.shape(skel)}, thin "
                         f"{np.shape(thin)} and labels {np.shape(labels)} must have the same (H, W)")
    out_dir.mkdir(parents=True, exist_ok=True)
    colors = colorize_labels(labels)
    jobs = [
        lambda: write_png(out_dir / f"{name}_skeleton.png", map_to_png16(skel)),
        lambda: write_png(out_dir / f"{name}_skeleton_overlay.png", overlay(image, thin, labels, colors)),
        lambda: write_png(out_dir / f"{name}_skeleton_segments.png", colors),
        lambda: _write_npz(out_dir / f"{name}_skeleton.npz", {"skeleton": np.asarray(skel, np.float32)},
                           {"scale": np.asarray(result["scale"], np.float32), "thin": np.asarray(thin, bool)}),
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as ex:
        futures = [ex.submit(job) for job in jobs]
        return [fut.result() for fut in futures]
