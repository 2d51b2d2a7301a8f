"""Hypercolumn pixel classifiers with a K x K grid of location-specific classifiers (Hariharan et al. 2015, Sec. 3).

The hypercolumn of a pixel is the vector of the activations above it in every tapped layer, each layer's feature map
upsampled bilinearly to the output grid (Eq. 1). A linear classifier on it splits into one block per layer
(Eq. 4-5), and because upsampling is linear the classifier can run *before* the upsampling: per tapped layer an
``n x n`` convolution with ``K^2 x C`` output channels (one classifier per grid cell and class; ``n = 1`` is the
paper's "unit directly above", ``n = 3`` its "neighbourhood" for the lower layers), then bilinear upsampling of the
scores to the output grid, then the sum over layers ("classify, then upsample"). A global feature (the top tap,
average-pooled over the box: our counterpart of the paper's fc7, a 1 x 1 map) adds an instance-specific bias to each
grid cell. Each grid cell's scores become probabilities (a sigmoid for one class, as the paper's figure-ground and
keypoints; a softmax over the classes for our mutually exclusive parts), and the probability at pixel ``i`` is the
bilinear interpolation of the ``K^2`` classifiers' probabilities at that pixel (Eq. 3: ``p_i = sum_k a_ik p_ik``),
with ``a_ik`` the bilinear weights of pixel ``i``'s position in the box relative to the grid-cell centres.

Training minimises the negative log-likelihood of the *interpolated* probability (the paper's end-to-end version:
"the sigmoids, the linear combination and the log likelihood as a single composite function"), computed stably as
``log p_i = logsumexp_k(log a_ik + log p_ik)``.

Everything works on box crops: :func:`structnet.nn.boxes.crop_boxes` resamples boxes of images to the network's
input square, :func:`structnet.nn.boxes.paste_probabilities` puts the box's probabilities back into the image.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import create_backbone

__all__ = ["HypercolumnNet", "grid_weights", "interpolate_grid", "log_interpolated"]


def grid_weights(k: int, size: int, device=None) -> torch.Tensor:
    """1D bilinear weights ``(size, k)`` of ``size`` output pixels over ``k`` grid cells: pixel ``x`` sits at
    ``(x + 0.5) / size`` of the box, cell ``j``'s classifier at its cell centre ``(j + 0.5) / k``; each pixel mixes
    the two cells whose centres bracket it (linearly), and pixels beyond the outer centres take the outer cell alone.
    Rows sum to 1. The 2D weight of cell ``(a, b)`` at pixel ``(y, x)`` is ``Wy[y, a] * Wx[x, b]``."""
    if k < 1 or size < 1:
        raise ValueError(f"grid size and output size must be >= 1, got k={k}, size={size}")
    g = (torch.arange(size, dtype=torch.float64, device=device) + 0.5) / size * k - 0.5
    g = g.clamp(0.0, k - 1.0)
    lo = g.floor().clamp(max=max(k - 2, 0)).long()
    t = g - lo
    w = torch.zeros(size, k, dtype=torch.float64, device=device)
    w.scatter_(1, lo[:, None], (1.0 - t)[:, None])
    if k > 1:
        w.scatter_add_(1, (lo + 1)[:, None], t[:, None])
    return w.float()


def interpolate_grid(probs: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``probs`` ``(N, K, K, ..., H, W)`` (cell ``(a, b)``'s classifier run at every pixel) ->
    ``(N, ..., H, W)`` with ``p[..., y, x] = sum_ab Wy[y, a] Wx[x, b] probs[a, b, ..., y, x]``."""
    return torch.einsum("nab...hw,ha,wb->n...hw", probs, wy.to(probs.dtype), wx.to(probs.dtype))


def log_interpolated(logp: torch.Tensor, wy: torch.Tensor, wx: torch.Tensor) -> torch.Tensor:
    """``log`` of :func:`interpolate_grid` from log-probabilities ``(N, K, K, ..., H, W)``, stably
    (``logsumexp`` over the cells of ``log a + log p``; cells with zero weight drop out)."""
    la = torch.log(wy)[:, None, :, None] + torch.log(wx)[None, :, None, :]        # (H, W, Ka, Kb)
    la = la.permute(2, 3, 0, 1)                                                     # (Ka, Kb, H, W)
    extra = logp.ndim - 5
    la = la.reshape(la.shape[:2] + (1,) * extra + la.shape[2:]).to(logp.dtype)
    return torch.logsumexp((logp + la).flatten(1, 2), dim=1)


class HypercolumnNet(nn.Module):
    """Box crop ``(N, 3, S, S)`` RGB in [0, 1] -> per grid cell scores ``(N, K, K, C, S/4, S/4)``
    (``forward``); :meth:`log_probs` / :meth:`probs` give the interpolated ``(N, C, S/4, S/4)`` output.

    ``kind``: ``parts`` (a softmax over the C classes per grid cell), ``figure-ground`` (C = 1 sigmoid heat map) or
    ``keypoints`` (C independent sigmoid heat maps, one per keypoint); default from ``classes`` (1: figure-ground,
    else parts).
    ``taps``: the backbone taps whose hypercolumn blocks are used (``head`` = EfficientNet's last 1x1 conv, our top
    layer); ``kernels``: the ``n`` of each tap's ``n x n`` classifier convolution (default 3 at strides <= 8, else 1,
    as the paper's pool2 3 x 3 / conv4 1 x 1); ``global_feature``: add the average-pooled top tap (fc7's role).
    ``grid``: K. ``out_stride``: the output grid's stride in crop pixels (4: 56 x 56 for a 224 crop; the paper 50 x
    50)."""

    def __init__(self, classes: int = 7, grid: int = 5, taps: Sequence[str] = ("stage2", "stage3", "stage4", "head"),
                 kernels: Optional[Sequence[int]] = None, global_feature: bool = True,
                 backbone: str = "efficientnet_lite0", pretrained: bool = False, input_size: int = 224,
                 out_stride: int = 4, global_tap: Optional[str] = None, kind: Optional[str] = None):
        super().__init__()
        kind = kind or ("figure-ground" if classes == 1 else "parts")
        if kind not in ("parts", "figure-ground", "keypoints") or (kind == "figure-ground") != (classes == 1):
            raise ValueError(f"kind must be parts (C >= 2), figure-ground (C = 1) or keypoints, got {kind!r} with "
                             f"{classes} classes")
        if classes < 1 or grid < 1:
            raise ValueError(f"classes and grid must be >= 1, got {classes}, {grid}")
        if input_size % out_stride or input_size < 32:
            raise ValueError(f"input_size must be a multiple of out_stride and >= 32, got {input_size}")
        taps = [str(t) for t in taps]
        if not taps and not global_feature:
            raise ValueError("at least one tap or the global feature is needed")
        self.classes, self.grid = int(classes), int(grid)
        self.input_size, self.out_stride = int(input_size), int(out_stride)
        self.out_size = self.input_size // self.out_stride
        self.kind = kind
        self.sigmoid = kind != "parts"
        kw = {"with_head": True} if backbone.startswith("efficientnet") else {}
        self.backbone = create_backbone(backbone, pretrained=pretrained, **kw)
        names = self.backbone.tap_names
        for t in taps:
            self.backbone.spec(t)  # KeyError naming the taps
        self.global_tap = global_tap or names[-1]
        self.backbone.spec(self.global_tap)
        if kernels is None:
            kernels = [3 if self.backbone.spec(t).stride <= 8 else 1 for t in taps]
        kernels = [int(k) for k in kernels]
        if len(kernels) != len(taps) or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(f"one odd kernel size per tap needed, got {kernels} for taps {taps}")
        self.taps, self.kernels, self.global_feature = taps, kernels, bool(global_feature)
        out = self.grid * self.grid * self.classes
        self.heads = nn.ModuleDict({t: nn.Conv2d(self.backbone.spec(t).channels, out, k, padding=k // 2)
                                    for t, k in zip(taps, kernels)})
        self.global_head = nn.Linear(self.backbone.spec(self.global_tap).channels, out) if global_feature else None
        # the last tap any head reads: the backbone stops there
        used = set(taps) | ({self.global_tap} if global_feature else set())
        self._last = max(names.index(t) for t in used)
        mean, std = self.backbone.normalization()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        wy = grid_weights(self.grid, self.out_size)
        self.register_buffer("wy", wy, persistent=False)
        self.register_buffer("wx", wy.clone(), persistent=False)
        self._cfg = dict(classes=self.classes, grid=self.grid, taps=list(taps), kernels=list(kernels),
                         global_feature=self.global_feature, backbone=str(backbone), input_size=self.input_size,
                         out_stride=self.out_stride, global_tap=self.global_tap, kind=self.kind)
        self._init_heads()

    def _init_heads(self) -> None:
        for m in list(self.heads.values()) + ([self.global_head] if self.global_head is not None else []):
            nn.init.normal_(m.weight, std=0.01)
            nn.init.zeros_(m.bias)

    def config(self) -> dict:
        return dict(self._cfg)

    def set_class_prior(self, prior: Sequence[float]) -> None:
        """Bias the classifiers so that the untrained net outputs ``prior`` (class frequencies; one value: the
        foreground fraction): the biases of the first head (or the global head) get the log prior."""
        p = torch.as_tensor(prior, dtype=torch.float64).clamp(1e-4, 1 - 1e-4)
        if self.sigmoid:
            b = torch.log(p / (1 - p)).reshape(self.classes)
        else:
            b = torch.log(p / p.sum())
        b = b.float().repeat(self.grid * self.grid)
        target = self.global_head if self.global_head is not None else next(iter(self.heads.values()))
        with torch.no_grad():
            target.bias.copy_(b)

    def features(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            raise ValueError(f"crops must be (N, 3, {self.input_size}, {self.input_size}), got {tuple(x.shape)}")
        f = self.features(x)
        size = (self.out_size, self.out_size)
        total = None
        for t in self.taps:
            s = self.heads[t](f[t])                                         # classify ...
            if s.shape[-2:] != size:                                        # ... then upsample (Eq. 5)
                s = F.interpolate(s, size=size, mode="bilinear", align_corners=False)
            total = s if total is None else total + s
        if self.global_head is not None:
            g = self.global_head(f[self.global_tap].float().mean(dim=(2, 3)))[:, :, None, None]
            total = g.expand(-1, -1, *size) if total is None else total + g
        n = total.shape[0]
        return total.float().view(n, self.grid, self.grid, self.classes, *size)

    def cell_log_probs(self, scores: torch.Tensor) -> torch.Tensor:
        """Per cell log-probabilities: parts ``(N, K, K, C, h, w)`` (softmax); figure-ground ``(N, K, K, 2, h, w)``
        (background, object); keypoints ``(N, K, K, 2, C, h, w)`` (no / yes per keypoint)."""
        if not self.sigmoid:
            return F.log_softmax(scores, dim=3)
        s = scores[:, :, :, 0] if self.kind == "figure-ground" else scores
        return torch.stack([F.logsigmoid(-s), F.logsigmoid(s)], dim=3)

    def log_probs(self, scores: torch.Tensor) -> torch.Tensor:
        """``log`` of the interpolated probabilities, :meth:`cell_log_probs` without the two grid axes."""
        return log_interpolated(self.cell_log_probs(scores), self.wy, self.wx)

    def probs(self, scores: torch.Tensor) -> torch.Tensor:
        """Interpolated probabilities (shapes as :meth:`log_probs`); they sum to 1 over axis 1 at every pixel."""
        return interpolate_grid(self.cell_log_probs(scores).exp(), self.wy, self.wx)
