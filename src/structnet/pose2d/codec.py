"""Heatmap target codec for 2D pose (Ke et al. 2018, Sec. 3.1), kept apart from the network heads.

**Coordinates.** x = column to the right, y = row down, pixel centres at integer coordinates, origin at the
top-left pixel centre (as :mod:`structnet.data.transforms`). The network input is ``input_size = (H, W)``
(256 x 256) and a heatmap of ``(h, w)`` pixels covers exactly the same area, pixel edge to pixel edge, so
input and map coordinates are related by the centre-aligned (OpenCV half-pixel) mapping::

    x_map = (x + 0.5) * w / W - 0.5          x = (x_map + 0.5) * W / w - 0.5
    y_map = (y + 0.5) * h / H - 0.5          y = (y_map + 0.5) * H / h - 0.5

``encode`` and ``decode`` both use it (:meth:`HeatmapCodec.to_map`, :meth:`HeatmapCodec.to_input`). With it the
left-right mirror of the input, ``x -> W - 1 - x``, is exactly the mirror of every map, ``x_map -> w - 1 - x_map``,
so flipped heatmaps need **no one-pixel shift**. (The SimpleBaseline / HRNet code shifts flipped maps one pixel
right because its mapping ``x_map = x * w / W`` is not centre-aligned: there the mirror lands ``1 - w / W`` =
0.75 map px off.)

**Scales.** ``scales = (1, 2, 4, 8)`` are down-sampling factors of the ``heatmap_size`` map (64 x 64): maps of 64,
32, 16 and 8 pixels, one per deconv level of the MSS-net (the paper's 1, 1/2, 1/4, 1/8 "down-sampled ground-truth
heatmaps"). Every map gets its own Gaussian with ``sigma = 1`` pixel *of that map* (paper: "standard deviation of
1 pixel" at each scale), centred at the sub-pixel keypoint position, unnormalised (peak value 1 when the keypoint
sits exactly on a pixel centre), not truncated.

**Weights.** A joint gets weight 1 when it is labelled (``visible`` > 0 / True), its coordinates are finite and it
lies inside the input frame ``-0.5 <= x <= W - 0.5, -0.5 <= y <= H - 0.5`` (the rule
:mod:`structnet.data.transforms` uses for keypoints leaving a crop); otherwise weight 0 and an all-zero map at every scale. ``visible`` means "has a
usable label": MPII joints annotated as occluded still have a position and are trained on by the hourglass code,
so pass them as visible. NaN coordinates are treated as unlabelled (weight 0), not an error.

**Decoding.** ``decode`` takes the integer argmax of each map (the first one on ties) and refines it to
sub-pixel precision, by name:

* ``"dark"`` (default; Zhang et al. 2020, DARK): smooth the map with a Gaussian of ``dark_sigma`` map pixels
  (default = the codec's ``sigma``, as DARK smooths with the training kernel; 0 disables; zero padding, radius
  ``ceil(3 sigma)``), take the logarithm (values clamped to >= 1e-10) and do one Newton step ``-H^-1 g`` of the
  quadratic through the 3 x 3 neighbourhood of the peak: gradient ``(L[+1] - L[-1]) / 2``, second derivatives
  ``L[+1] - 2 L[0] + L[-1]``, cross term ``(L[++] - L[+-] - L[-+] + L[--]) / 4``. These are exact for a quadratic,
  and the log of a Gaussian target is one, so targets are decoded exactly. Choices of ours: (1) DARK's code uses
  second differences of step 2 (a 5 x 5 neighbourhood); step 1 is as exact for a quadratic and leaves more of the
  8 x 8 maps refinable. (2) On a border pixel the 3 x 3 stencil is moved one pixel inward (one-sided differences,
  still exact for a quadratic) instead of skipping the refinement. (3) The smoothed map is used only where the
  peak is at least 2 pixels from every border: nearer, the zero-padded smoothing pulls the peak toward the centre
  (up to 0.7 px on a border pixel), so the raw log map is used there. (4) Where the Hessian is not negative
  definite a 1-D step is taken along each axis of negative curvature, none along the others; steps are clipped to
  +-1 pixel. Round-trip error on Gaussian targets: < 1e-6 map px without smoothing, < 0.01 map px with it.
* ``"quarter"`` (the stacked-hourglass evaluation code of Newell et al. 2016): move 0.25 px along each axis toward
  the higher of the two neighbours of the peak (no move when they are equal or the peak is on the border of that
  axis; Newell's code skips both axes when the peak touches any border). Error bound on Gaussian targets: 0.25 map
  pixels (1 input pixel on the 64 x 64 map) where the peak has both neighbours, 0.5 on the border pixels.
* ``"none"``: the integer argmax (error bound 0.5 map pixels).

DARK is the default because the Ke et al. paper does not say how it decodes and the quarter offset alone costs up
to 1 input pixel on the 64 x 64 map (4 on the 16 x 16 one), which matters for PCKh@0.1.

The score of a joint is the heatmap value at its integer argmax (before smoothing).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .config import Pose2DInferenceOptions

__all__ = ["HeatmapCodec", "REFINEMENTS", "flip_heatmaps", "average_flip", "gaussian_maps"]

REFINEMENTS = ("quarter", "dark", "none")
#: the sub-pixel decoding used when none is given: the task's option default
DEFAULT_REFINE = Pose2DInferenceOptions.refine

ArrayLike = Union[np.ndarray, torch.Tensor]


def _pair(v, name: str) -> Tuple[int, int]:
    vals = (v, v) if np.isscalar(v) else tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else ()
    ok = len(vals) == 2 and all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                                and math.isfinite(x) and float(x).is_integer() and x >= 1 for x in vals)
    if not ok:
        raise ValueError(f"{name} must be a positive int or a pair (H, W) of positive ints, got {v!r}")
    return int(vals[0]), int(vals[1])


def gaussian_maps(points: torch.Tensor, weights: torch.Tensor, map_hw: Tuple[int, int], sigma: float,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Unnormalised Gaussians ``exp(-((X - x)^2 + (Y - y)^2) / (2 sigma^2))`` on an ``(h, w)`` grid.

    points: ``(..., K, 2)`` map coordinates (pixel centres at integers); weights ``(..., K)``: maps of joints with
    weight 0 are all zero (their coordinates may be NaN). Separable: two 1-D Gaussians and an outer product, no
    loop. Returns ``(..., K, h, w)`` in ``dtype``.
    """
    h, w = map_hw
    p = torch.nan_to_num(points.double(), nan=0.0, posinf=0.0, neginf=0.0)
    xs = torch.arange(w, dtype=torch.float64, device=p.device)
    ys = torch.arange(h, dtype=torch.float64, device=p.device)
    gx = torch.exp(-(xs - p[..., 0:1]) ** 2 / (2.0 * sigma * sigma))      # (..., K, w)
    gy = torch.exp(-(ys - p[..., 1:2]) ** 2 / (2.0 * sigma * sigma))      # (..., K, h)
    maps = gy.unsqueeze(-1) * gx.unsqueeze(-2)
    return (maps * (weights.double() > 0).unsqueeze(-1).unsqueeze(-1)).to(dtype)


def _perm_of(flip_perm, k: int) -> np.ndarray:
    if hasattr(flip_perm, "flip_permutation"):
        flip_perm = flip_perm.flip_permutation()
    perm = np.asarray(flip_perm)
    if perm.shape != (k,) or not np.issubdtype(perm.dtype, np.integer) or not np.array_equal(np.sort(perm),
                                                                                               np.arange(k)):
        raise ValueError(f"flip_perm must be a permutation of range({k}) (the heatmaps' joint count), got {perm!r}")
    if not np.array_equal(perm[perm], np.arange(k)):
        raise ValueError("flip_perm must be an involution (a left/right swap): perm[perm] != identity")
    return perm


def flip_heatmaps(heatmaps: ArrayLike, flip_perm) -> ArrayLike:
    """Mirror heatmaps left-right and swap left/right joint channels.

    heatmaps: ``(..., K, h, w)`` numpy array or tensor; flip_perm: ``layout.flip_permutation()`` (or the
    :class:`~structnet.keypoints.layouts.KeypointLayout` itself). ``out[..., k, y, x] = in[..., perm[k], y, w-1-x]``.
    No pixel shift: with the centre-aligned mapping of this module the mirrored maps are exactly the maps of the
    mirrored image. Applying it twice gives the input back.
    """
    if not isinstance(heatmaps, torch.Tensor):
        heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim < 3:
        raise ValueError(f"heatmaps must be (..., K, h, w), got shape {tuple(heatmaps.shape)}")
    perm = _perm_of(flip_perm, heatmaps.shape[-3])
    if isinstance(heatmaps, torch.Tensor):
        return heatmaps[..., torch.as_tensor(perm, device=heatmaps.device), :, :].flip(-1)
    return np.ascontiguousarray(heatmaps[..., perm, :, ::-1])


def average_flip(heatmaps: ArrayLike, heatmaps_of_flipped: ArrayLike, flip_perm) -> ArrayLike:
    """Flip test: mean of the heatmaps of an image and the un-flipped heatmaps of its mirrored copy.

    ``heatmaps_of_flipped`` are the network outputs for the left-right mirrored input; they are brought back with
    :func:`flip_heatmaps` (mirror + channel swap, no shift) and averaged with ``heatmaps``. Decode the result with
    :meth:`HeatmapCodec.decode`.
    """
    if not isinstance(heatmaps, torch.Tensor):
        heatmaps, heatmaps_of_flipped = np.asarray(heatmaps), np.asarray(heatmaps_of_flipped)
    if tuple(heatmaps.shape) != tuple(heatmaps_of_flipped.shape):
        raise ValueError(f"heatmaps {tuple(heatmaps.shape)} and heatmaps_of_flipped "
                         f"{tuple(heatmaps_of_flipped.shape)} must have the same shape")
    return (heatmaps + flip_heatmaps(heatmaps_of_flipped, flip_perm)) * 0.5


def _gauss_kernel1d(sigma: float, dtype, device) -> torch.Tensor:
    r = max(1, int(math.ceil(3.0 * sigma)))
    t = torch.arange(-r, r + 1, dtype=dtype, device=device)
    k = torch.exp(-t * t / (2.0 * sigma * sigma))
    return k / k.sum()


def _blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (M, h, w) maps, zero padding (radius ceil(3 sigma))."""
    k = _gauss_kernel1d(sigma, maps.dtype, maps.device)
    r = (k.numel() - 1) // 2
    x = maps.unsqueeze(1)
    x = F.conv2d(F.pad(x, (r, r, 0, 0)), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r)), k.view(1, 1, -1, 1))
    return x.squeeze(1)


@dataclass(frozen=True)
class HeatmapCodec:
    """Keypoints <-> multi-scale Gaussian heatmaps (see the module docstring for every convention).

    input_size: network input ``(H, W)`` (paper 256 x 256). heatmap_size: full-resolution map ``(h, w)`` (64 x 64).
    sigma: Gaussian standard deviation in pixels of *each* map (paper: 1). scales: down-sampling factors of the
    full map, one map per factor (paper: 1, 1/2, 1/4, 1/8 -> ``(1, 2, 4, 8)``); each must divide ``heatmap_size``.
    """

    input_size: Tuple[int, int] = (256, 256)
    heatmap_size: Tuple[int, int] = (64, 64)
    sigma: float = 1.0
    scales: Tuple[int, ...] = (1, 2, 4, 8)

    def __post_init__(self):
        object.__setattr__(self, "input_size", _pair(self.input_size, "input_size"))
        object.__setattr__(self, "heatmap_size", _pair(self.heatmap_size, "heatmap_size"))
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a positive number of pixels, got {self.sigma!r}")
        sc = tuple(self.scales) if not np.isscalar(self.scales) else (self.scales,)
        if not sc or any(int(s) != s or s < 1 for s in sc) or len(set(sc)) != len(sc):
            raise ValueError(f"scales must be distinct positive integers, got {self.scales!r}")
        sc = tuple(int(s) for s in sc)
        h, w = self.heatmap_size
        bad = [s for s in sc if h % s or w % s]
        if bad:
            raise ValueError(f"scales {bad} do not divide heatmap_size {self.heatmap_size}")
        object.__setattr__(self, "scales", sc)

    # ------------------------------------------------------------------------------------------ geometry
    @property
    def map_sizes(self) -> Tuple[Tuple[int, int], ...]:
        """``(h, w)`` of the map at each scale, in the order of ``scales`` (64, 32, 16, 8 by default)."""
        h, w = self.heatmap_size
        return tuple((h // s, w // s) for s in self.scales)

    @property
    def keys(self) -> Tuple[int, ...]:
        """Keys of :meth:`encode`'s maps: the map height ``h`` at each scale (64, 32, 16, 8 by default)."""
        return tuple(hw[0] for hw in self.map_sizes)

    def to_map(self, points: ArrayLike, map_hw: Tuple[int, int]) -> ArrayLike:
        """Input pixel coordinates ``(..., 2)`` -> coordinates of an ``(h, w)`` map (centre-aligned)."""
        (H, W), (h, w) = self.input_size, map_hw
        sx, sy = w / W, h / H
        out = points * 1.0
        out[..., 0] = (points[..., 0] + 0.5) * sx - 0.5
        out[..., 1] = (points[..., 1] + 0.5) * sy - 0.5
        return out

    def to_input(self, points: ArrayLike, map_hw: Tuple[int, int]) -> ArrayLike:
        """Coordinates of an ``(h, w)`` map ``(..., 2)`` -> input pixel coordinates (inverse of :meth:`to_map`)."""
        (H, W), (h, w) = self.input_size, map_hw
        out = points * 1.0
        out[..., 0] = (points[..., 0] + 0.5) * (W / w) - 0.5
        out[..., 1] = (points[..., 1] + 0.5) * (H / h) - 0.5
        return out

    # -------------------------------------------------------------------------------------------- encode
    def weights(self, keypoints: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Per-joint weight 1 / 0: labelled, finite and inside the input frame (see the module docstring)."""
        H, W = self.input_size
        x, y = keypoints[..., 0], keypoints[..., 1]
        finite = torch.isfinite(x) & torch.isfinite(y)
        inside = (x >= -0.5) & (x <= W - 0.5) & (y >= -0.5) & (y <= H - 0.5)
        return (finite & inside & (visible > 0)).to(torch.float32)

    def _check(self, keypoints: torch.Tensor, visible: Optional[torch.Tensor], batched: bool):
        want = "(N, K, 2) or (N, K, 3)" if batched else "(K, 2) or (K, 3)"
        nd = 3 if batched else 2
        if keypoints.ndim != nd or keypoints.shape[-1] not in (2, 3):
            raise ValueError(f"keypoints must be {want}, got shape {tuple(keypoints.shape)}")
        if visible is None:
            visible = keypoints[..., 2] if keypoints.shape[-1] == 3 else torch.ones(
                keypoints.shape[:-1], dtype=torch.float64, device=keypoints.device)
        if tuple(visible.shape) != tuple(keypoints.shape[:-1]):
            raise ValueError(f"visible must have shape {tuple(keypoints.shape[:-1])} (one flag per keypoint), "
                             f"got {tuple(visible.shape)}")
        vis = torch.nan_to_num(visible.double(), nan=0.0)
        return keypoints[..., :2].double(), vis

    def encode_batch(self, keypoints: torch.Tensor, visible: Optional[torch.Tensor] = None,
                     dtype: torch.dtype = torch.float32) -> Dict[object, torch.Tensor]:
        """Batched torch encoder for on-the-fly targets (on the keypoints' device).

        keypoints: ``(N, K, 2)`` input pixel coordinates (or ``(N, K, 3)`` with a visibility column used when
        ``visible`` is None); visible: ``(N, K)`` bool / 0-1 (None: all labelled). Returns ``{h: (N, K, h, w)}``
        for each map height ``h`` in :attr:`keys` and ``"weights": (N, K)`` float32.
        """
        kp = torch.as_tensor(keypoints)
        vis = None if visible is None else torch.as_tensor(visible, device=kp.device)
        pts, vis = self._check(kp, vis, batched=True)
        wts = self.weights(pts, vis)
        out: Dict[object, torch.Tensor] = {}
        for hw, key in zip(self.map_sizes, self.keys):
            out[key] = gaussian_maps(self.to_map(pts, hw), wts, hw, float(self.sigma), dtype)
        out["weights"] = wts
        return out

    def encode(self, keypoints: ArrayLike, visible: Optional[ArrayLike] = None) -> Dict[object, np.ndarray]:
        """One sample: keypoints ``(K, 2)`` in input pixel coordinates (or ``(K, 3)`` with a visibility column),
        visible ``(K,)`` (None: all labelled, or the third column). Returns ``{h: (K, h, w) float32}`` for each map
        height ``h`` in :attr:`keys` (64, 32, 16, 8) and ``"weights": (K,) float32``."""
        kp = torch.as_tensor(np.asarray(keypoints, dtype=np.float64))
        if kp.ndim != 2:
            raise ValueError(f"keypoints must be (K, 2) or (K, 3), got shape {tuple(kp.shape)}")
        vis = None if visible is None else torch.as_tensor(np.asarray(visible, dtype=np.float64))
        if vis is not None and vis.ndim != 1:
            raise ValueError(f"visible must have shape ({kp.shape[0]},) (one flag per keypoint), "
                             f"got {tuple(vis.shape)}")
        self._check(kp, vis, batched=False)
        res = self.encode_batch(kp[None], None if vis is None else vis[None])
        return {k: v[0].numpy() for k, v in res.items()}

    # -------------------------------------------------------------------------------------------- decode
    def decode(self, heatmaps: ArrayLike, refine: str = DEFAULT_REFINE, dark_sigma: Optional[float] = None,
               ) -> Tuple[ArrayLike, ArrayLike]:
        """Heatmaps ``(N, K, h, w)`` (numpy or torch; any map size, e.g. any of :attr:`map_sizes`) ->
        ``keypoints (N, K, 2)`` in input pixel coordinates and ``scores (N, K)`` (peak values), same type as the
        input. ``refine``: ``"dark"`` (default; Taylor expansion of the log map, smoothed with ``dark_sigma`` map
        pixels, default = ``sigma``; 0 = no smoothing), ``"quarter"`` (hourglass) or ``"none"``.
        """
        if refine not in REFINEMENTS:
            raise ValueError(f"refine must be one of {', '.join(REFINEMENTS)}, got {refine!r}")
        is_np = not isinstance(heatmaps, torch.Tensor)
        hm = torch.as_tensor(np.asarray(heatmaps)) if is_np else heatmaps
        if hm.ndim != 4 or hm.shape[-1] < 1 or hm.shape[-2] < 1:
            raise ValueError(f"heatmaps must be (N, K, h, w), got shape {tuple(hm.shape)}")
        if not hm.is_floating_point():
            hm = hm.double()
        if is_np or hm.dtype == torch.float64:
            hm = hm.double()
        elif hm.dtype != torch.float32:
            hm = hm.float()
        if not bool(torch.isfinite(hm).all()):
            raise ValueError("heatmaps contain NaN or infinite values")
        n, k, h, w = hm.shape
        flat = hm.reshape(n * k, h * w)
        score, idx = flat.max(dim=1)                 # first maximum on ties
        px, py = idx % w, torch.div(idx, w, rounding_mode="floor")
        off = torch.zeros(n * k, 2, dtype=hm.dtype, device=hm.device)
        maps = hm.reshape(n * k, h, w)
        if refine == "quarter":
            off = self._quarter(maps, px, py)
        elif refine == "dark":
            ds = float(self.sigma) if dark_sigma is None else float(dark_sigma)
            if not (math.isfinite(ds) and ds >= 0):
                raise ValueError(f"dark_sigma must be >= 0, got {dark_sigma!r}")
            off = self._dark(maps, px, py, ds)
        pts = torch.stack([px.to(hm.dtype), py.to(hm.dtype)], dim=1) + off
        pts = self.to_input(pts, (h, w)).reshape(n, k, 2)
        score = score.reshape(n, k)
        if is_np:
            return pts.numpy(), score.numpy()
        return pts, score

    def decode_flip_test(self, heatmaps: ArrayLike, heatmaps_of_flipped: ArrayLike, flip_perm,
                         refine: str = DEFAULT_REFINE, dark_sigma: Optional[float] = None):
        """Flip test: :func:`average_flip` then :meth:`decode` (same returns)."""
        return self.decode(average_flip(heatmaps, heatmaps_of_flipped, flip_perm), refine, dark_sigma)

    @staticmethod
    def _sampler(maps: torch.Tensor, px: torch.Tensor, py: torch.Tensor):
        """``at(dx, dy)``: values at ``(cy + dy, cx + dx)`` around the stencil centre ``(cx, cy)`` = the peak clamped
        one pixel away from the borders; ``ok_x`` / ``ok_y``: the axis has the 3 pixels a stencil needs."""
        m, h, w = maps.shape
        ar = torch.arange(m, device=maps.device)
        cx = px.clamp(1, max(w - 2, 0)) if w >= 3 else px
        cy = py.clamp(1, max(h - 2, 0)) if h >= 3 else py

        def at(dx, dy):
            return maps[ar, (cy + dy).clamp(0, h - 1), (cx + dx).clamp(0, w - 1)]

        ok_x = torch.full_like(px, w >= 3, dtype=torch.bool)
        ok_y = torch.full_like(py, h >= 3, dtype=torch.bool)
        return at, cx, cy, ok_x, ok_y

    def _quarter(self, maps, px, py):
        m, h, w = maps.shape
        ar = torch.arange(m, device=maps.device)

        def at(dx, dy):
            return maps[ar, (py + dy).clamp(0, h - 1), (px + dx).clamp(0, w - 1)]

        in_x = (px >= 1) & (px <= w - 2)
        in_y = (py >= 1) & (py <= h - 2)
        ox = 0.25 * torch.sign(at(1, 0) - at(-1, 0)) * in_x
        oy = 0.25 * torch.sign(at(0, 1) - at(0, -1)) * in_y
        return torch.stack([ox, oy], dim=1).to(maps.dtype)

    def _dark(self, maps, px, py, blur_sigma: float):
        logm = torch.log(maps.clamp_min(1e-10))
        if blur_sigma > 0:
            # smoothed log map where the peak is >= 2 px from every border; nearer, the zero-padded smoothing
            # pulls the peak toward the centre (up to 0.7 px on the border pixel), so the raw log map is used
            m, h, w = maps.shape
            interior = ((px >= 2) & (px <= w - 3) & (py >= 2) & (py <= h - 3)).view(m, 1, 1)
            logm = torch.where(interior, torch.log(_blur(maps, blur_sigma).clamp_min(1e-10)), logm)
        at, cx, cy, ok_x, ok_y = self._sampler(logm, px, py)
        c = at(0, 0)
        gx = 0.5 * (at(1, 0) - at(-1, 0))
        gy = 0.5 * (at(0, 1) - at(0, -1))
        hxx = at(1, 0) - 2 * c + at(-1, 0)
        hyy = at(0, 1) - 2 * c + at(0, -1)
        hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
        zero = torch.zeros_like(c)
        one = torch.ones_like(c)
        # 2-D Newton step from the stencil centre where the Hessian is negative definite
        det = hxx * hyy - hxy * hxy
        ok2 = ok_x & ok_y & (hxx < 0) & (det > 0)
        sdet = torch.where(ok2, det, one)
        sx2 = -(hyy * gx - hxy * gy) / sdet
        sy2 = -(-hxy * gx + hxx * gy) / sdet
        # otherwise 1-D steps along each axis with negative curvature (the other axis is not moved)
        sx1 = torch.where(ok_x & (hxx < 0), -gx / torch.where(hxx < 0, hxx, -one), zero)
        sy1 = torch.where(ok_y & (hyy < 0), -gy / torch.where(hyy < 0, hyy, -one), zero)
        fx = torch.where(ok2, sx2, sx1) + (cx - px).to(c.dtype)
        fy = torch.where(ok2, sy2, sy1) + (cy - py).to(c.dtype)
        fx = torch.where(ok2 | (ok_x & (hxx < 0)), fx, zero)
        fy = torch.where(ok2 | (ok_y & (hyy < 0)), fy, zero)
        return torch.stack([fx.clamp(-1.0, 1.0), fy.clamp(-1.0, 1.0)], dim=1)
