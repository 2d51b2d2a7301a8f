"""2D pose inference: person crop -> network -> heatmaps -> keypoints in image coordinates, with the flip test,
the multi-scale test and the conditional testing of Ke et al. 2018 (Sec. 4.1), plus the saved-model format and
the per-image outputs (``<stem>_pose2d.json``, ``<stem>_pose2d_overlay.png``).

Conventions
-----------
Coordinates everywhere: ``x`` = column (to the right), ``y`` = row (down), origin at the top-left, **pixel centres
at integer coordinates** (the top-left pixel spans ``[-0.5, 0.5]``), as in :mod:`structnet.data.transforms`. The
image is ``uint8`` RGB ``(H, W, 3)`` (greyscale ``(H, W)`` is accepted and replicated); the network sees
``float`` ``(B, 3, 256, 256)`` in ``[0, 1]`` (:func:`structnet.data.io.image_to_tensor`), as in training.

Person window
-------------
A person is a square window ``(center, scale)`` of side ``scale * 200`` px (:mod:`structnet.pose2d.augment`,
MPII convention), mapped onto the ``input_size`` crop (256 x 256) by :func:`~structnet.pose2d.augment.crop_matrix`.

* ``box = (x1, y1, x2, y2)``: :func:`~structnet.pose2d.augment.center_scale_from_box` with ``padding``
  (default :data:`BOX_PADDING` = 1.25, the HRNet / mmpose enlargement that the LSP-extended training records use):
  ``center`` = box centre, window side = ``1.25 x`` the longer box side, so a tight person box fills 80 % of the
  crop, as in training.
* No box: the whole image, i.e. the box ``(-0.5, -0.5, W - 0.5, H - 0.5)`` (pixel edge to pixel edge) with
  ``padding`` :data:`WHOLE_IMAGE_PADDING` = 1.0: the longer image side exactly fills the crop, nothing is cut off
  and the shorter side is padded with black (zeros) symmetrically. A person who fills the photo then appears
  1.25x larger than in training, inside the 0.75-1.25 scale augmentation. This is the paper's "we first test pose
  estimation in the original scale assuming the subject appears at the image center".
* ``center`` / ``scale`` may be given directly instead of a box (e.g. MPII's annotated person centre and scale).

Crops are sampled from the image by bilinear interpolation (``torch.nn.functional.grid_sample``,
``align_corners=False``, which has exactly this pixel-centre convention) with zeros outside the image, the same
geometry as the training crops (:func:`~structnet.pose2d.augment.person_crop`, ``cv2.warpAffine``) but batched on
the model's device and without OpenCV's 1/32-pixel quantisation of the sampling positions. When every crop of a
call shrinks the image by more than 2x (zoom < :data:`ANTIALIAS_BELOW`), the image is first reduced with an
antialiased bilinear resize to the largest zoom of the crops, so large photos are not aliased.

Decoding
--------
The network's ``"final"`` heatmaps (MSR-net output, or the last stack's) are decoded by
:meth:`~structnet.pose2d.codec.HeatmapCodec.decode` (``refine="dark"`` by default; ``"quarter"``, ``"none"``) in
crop pixels and mapped back to the image with the inverse of the crop matrix. The score of a joint is the
(averaged) heatmap value at its integer argmax.

Flip test
---------
The mirrored crop ``x -> W' - 1 - x`` is run too; its heatmaps are mirrored back and their left/right channels
swapped with the layout's flip permutation (:func:`~structnet.pose2d.codec.flip_heatmaps`, no pixel shift thanks to
the codec's centre-aligned mapping) and averaged with the heatmaps of the unmirrored crop
(:func:`~structnet.pose2d.codec.average_flip`), before decoding.

Multi-scale test (``scales``)
-----------------------------
``scales`` are factors of the window: factor ``f`` crops the window ``(center, f * scale)`` (``f > 1`` shows more
context and a smaller person, the meaning of the training scale augmentation). Each scale's heatmaps (after its
flip test) are **warped into the frame of the factor-1 window and averaged there, then decoded once**, as the
convolutional pose machines test code (Wei et al. 2016) averages belief maps of several scales in one frame. In
centre-aligned normalised map coordinates ``u = (2 x + 1) / w - 1`` the factor-``f`` map sees ``u_f = u_1 / f``,
so the warp is one batched ``grid_sample`` (zeros outside) with ``theta = diag(1/f, 1/f)``; factor 1 is copied
without resampling. The interpolation is bicubic (:data:`SCALE_WARP_MODE`): a sigma-1 Gaussian stretched by
``f = 1.25`` bilinearly is no longer log-quadratic and DARK misplaces its peak by up to 0.14 map px (0.027 with
DARK's default smoothing), bicubically by 0.017 (0.0014); for ``f = 2``: 0.10 (0.015) vs 0.027 (0.011); for
``f = 0.8`` both stay near 0.02 map px (200 random sub-pixel peaks each; 1 map px = 4 crop px). The
average is weighted by coverage: pixel value = ``sum_f warp(M_f) / sum_f warp(1)``, so where a zoomed-in crop
(``f < 1``) does not reach, the other scales are averaged alone instead of with zeros; pixels with a summed
coverage below :data:`MIN_COVERAGE` (only possible when every factor is < 1) are 0, which also keeps bicubic
overshoot at coverage edges from being divided by near-zero weights. Averaging heatmaps rather than decoded
points keeps the consensus mode when one scale locks onto a wrong limb (a point average would land between the
two). The common frame is always the factor-1 window at the network's heatmap resolution, whether or not 1 is
among ``scales``; joints outside it are not found (as with the single-scale test). :data:`SIX_SCALES` are six
factors for the paper's "6 scales" comparison (the paper does not list them: ours span the 0.75-1.25 training
scale range in steps of 0.1).

Conditional testing (:class:`ConditionalTesting`, Ke et al. 2018 Sec. 4.1)
--------------------------------------------------------------------------
The paper: "We first test pose estimation in the original scale assuming the subject appears at the image center.
We then check if the detected body keypoint confidence is lower then a specific threshold. If so, no successful
human pose is found. We then perturb the putative person location, and repeat the pose finding [...]. The keypoint
confidence thresholds tau_c can be keypoint-dependent [...]. For the case multiple pose estimation test trials are
performed, only the results with scores higher than a threshold tau_s are selected for the fusion of the pose
output." It gives no values and no fusion formula; ours:

1. Trial 0 is the given window (with the flip / multi-scale settings of the call). Joint ``k`` is *low* when its
   score is below ``thresholds[k]`` (tau_c; a scalar is used for every joint). Without low joints, trial 0 is the
   answer and nothing else runs.
2. Otherwise every perturbation ``(dx, dy, f)`` of ``perturbations`` is a re-trial (all in one batched forward):
   centre ``+ (dx, dy) * scale * 200`` (shifts in units of the window side) and scale ``* f``. Defaults
   (:data:`DEFAULT_PERTURBATIONS`): shifts of 0.1 window side left / right / up / down and scale factors 0.8 and
   1.25: six re-trials, fixed order, deterministic.
3. Fusion (:func:`fuse_trials`), per joint: joints that were not low keep trial 0's result. For a low joint the
   trials (trial 0 included) whose score for that joint exceeds ``fuse_threshold`` (tau_s) are fused: position =
   score-weighted mean of their image positions, score = mean of their scores. When no trial exceeds tau_s the
   trial with the highest score for that joint is taken (the MPII practice of keeping the best-scoring trial that
   the paper's introduction describes). Trials are fused as decoded points in image coordinates, not as heatmaps:
   shifted windows cover different image regions (a joint found only by a shifted window may lie outside the
   original one), and points need no common frame.

Default thresholds: tau_c = tau_s = 0.2 (:data:`DEFAULT_KEYPOINT_THRESHOLD`, :data:`DEFAULT_FUSE_THRESHOLD`),
HRNet's keypoint-confidence threshold for heatmap peaks of unit-height Gaussian targets; the paper tunes both on a
validation set.

Models
------
``net`` is a :class:`~structnet.pose2d.model.PoseNet` (or any module returning ``{"final": heatmaps}``) with
``layout`` / ``codec`` passed explicitly, or a :class:`structnet.hub.LoadedModel` (``structnet.hub.load``) whose
layout and codec are used. Saved models and their metadata: :mod:`structnet.pose2d.task`; per-image files:
:mod:`structnet.pose2d.writer`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_window_scales, finite_number
from ..data.io import image_to_tensor
from ..keypoints.layouts import KeypointLayout, get_layout, list_layouts
from ..nn.precision import inference_context
from .augment import PIXEL_STD, center_scale_from_box, crop_matrix
from .codec import DEFAULT_REFINE, REFINEMENTS, HeatmapCodec, average_flip
from .config import DEFAULT_MODEL

__all__ = [
    "DEFAULT_POSE_MODEL", "BOX_PADDING", "AUTO_BOX_PADDING", "PERSON_PADDING", "PERSON_SECOND_PADDING",
    "WHOLE_IMAGE_PADDING", "SIX_SCALES",
    "ANTIALIAS_BELOW", "SCALE_WARP_MODE", "MIN_COVERAGE", "DEFAULT_KEYPOINT_THRESHOLD", "DEFAULT_FUSE_THRESHOLD",
    "DEFAULT_PERTURBATIONS", "DEFAULT_DRAW_THRESHOLD", "DEFAULT_BATCH_SIZE", "ConditionalTesting",
    "predict_pose", "predict_pose_auto", "predict_batch", "fuse_scales", "fuse_trials", "WINDOWS",
    "AUTO_MIN_JOINTS", "AUTO_SCORE", "joint_box",
]

#: Name of the bundled default model (MSS + MSR on an ImageNet-pretrained EfficientNet-Lite0, trained on LSPET).
DEFAULT_POSE_MODEL = DEFAULT_MODEL  # pose2d/config.py

#: Window side / longer person-box side for a given box (HRNet / mmpose; the LSPET training records use it).
BOX_PADDING = 1.25
#: Window side / longer image side when no box is given: the whole image fits the crop exactly.
WHOLE_IMAGE_PADDING = 1.0
#: Six window factors for the multi-scale test (our choice: the 0.75-1.25 training scale range, step 0.1).
SIX_SCALES = (0.75, 0.85, 0.95, 1.05, 1.15, 1.25)
#: Interpolation of the multi-scale heatmap warp (``grid_sample`` mode; see the module docstring).
SCALE_WARP_MODE = "bicubic"
#: Pixels of the multi-scale average whose summed coverage is below this are set to 0.
MIN_COVERAGE = 0.5
#: Pre-shrink the image (antialiased) when every crop of a call has a zoom (crop px per image px) below this.
ANTIALIAS_BELOW = 0.5
#: Conditional testing tau_c (per-keypoint confidence threshold) and tau_s (fusion threshold); see the docstring.
DEFAULT_KEYPOINT_THRESHOLD = 0.2
DEFAULT_FUSE_THRESHOLD = 0.2
#: Re-trial windows ``(dx, dy, scale factor)``: shifts in units of the window side, then window scale factors.
DEFAULT_PERTURBATIONS: Tuple[Tuple[float, float, float], ...] = (
    (0.1, 0.0, 1.0), (-0.1, 0.0, 1.0), (0.0, 0.1, 1.0), (0.0, -0.1, 1.0), (0.0, 0.0, 0.8), (0.0, 0.0, 1.25))
#: Joints with a lower score are not drawn on the overlay (same value as tau_c).
DEFAULT_DRAW_THRESHOLD = 0.2
#: Crops per forward pass.
DEFAULT_BATCH_SIZE = 32
#: Person windows of ``predict`` / ``eval``: the dataset's annotation, the whole image, or the whole image followed by
#: a second pass on the box of the joints it found (:func:`predict_pose_auto`).
WINDOWS = ("annotation", "image", "auto")
#: :func:`predict_pose_auto`: joints needed above :data:`AUTO_SCORE` in the whole-image pass for a second pass.
AUTO_MIN_JOINTS = 4
#: 0: the box of all joints of the whole-image pass. On 300 LSPET val persons 0.0 and 0.2 score alike (53.1 and
#: 53.2 %); on photos cut at the waist (the demo's astronaut and cameraman) the box of the few confident joints
#: is the head and shoulders alone, and the second pass then reads a face as a whole body; the box of all joints
#: keeps the frame.
AUTO_SCORE = 0.0
#: :func:`predict_pose_auto`: window side / longer side of the joint box in the second pass. Chosen on 300 LSPET val
#: persons with the bundled encoder model (benchmarks/results/pose2d_window_tuning.json): 1.4 and 1.25 within
#: 0.7 points; keeping the second pass always (53 %) instead of only when its mean score is not lower (41 %) was
#: the big difference.
AUTO_BOX_PADDING = 1.4
#: :func:`predict_pose_auto` with a person-box model: window side / longer side of its box in the first pass, and of
#: the joints' box in the second. Chosen on the first 300 LSPET val persons (benchmarks/tune_pose2d_person_window.py,
#: benchmarks/results/pose2d_person_window_tuning.json): 1.4 then 1.25 scored 63.0 % against 61.4-61.7 % for the
#: other pairs of 1.25 / 1.4, 61.4 % for the person box alone and 64.1 % in the annotated windows; keeping the
#: whole-image two-pass result instead when its mean score was higher lowered it (61.1 %).
PERSON_PADDING = 1.4
PERSON_SECOND_PADDING = 1.25


# --------------------------------------------------------------------------------------------- validation
def _check_refine(refine: str) -> str:
    if refine not in REFINEMENTS:
        raise ValueError(f"refine must be one of {', '.join(REFINEMENTS)}, got {refine!r}")
    return refine


def _check_batch_size(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


# ----------------------------------------------------------------------------------- conditional testing
@dataclass(frozen=True)
class ConditionalTesting:
    """Settings of the paper's conditional testing (see the module docstring for the procedure).

    thresholds: tau_c, one confidence threshold per joint (a sequence in the layout's joint order) or one number
    for all joints. perturbations: re-trial windows ``(dx, dy, f)``: centre ``+ (dx, dy) * window side``, scale
    ``* f``. fuse_threshold: tau_s; trials scoring above it for a low joint are fused (:func:`fuse_trials`).
    """

    thresholds: Union[float, Tuple[float, ...]] = DEFAULT_KEYPOINT_THRESHOLD
    perturbations: Tuple[Tuple[float, float, float], ...] = DEFAULT_PERTURBATIONS
    fuse_threshold: float = DEFAULT_FUSE_THRESHOLD

    def __post_init__(self):
        th = self.thresholds
        if np.isscalar(th):
            th = finite_number(th, "ConditionalTesting.thresholds")
        else:
            try:
                th = tuple(finite_number(t, "ConditionalTesting.thresholds entry") for t in th)
            except TypeError:
                raise ValueError(f"ConditionalTesting.thresholds must be a number or a sequence of numbers, "
                                 f"got {self.thresholds!r}") from None
            if not th:
                raise ValueError("ConditionalTesting.thresholds must not be empty")
        object.__setattr__(self, "thresholds", th)
        try:
            pert = tuple(tuple(p) for p in self.perturbations)
        except TypeError:
            pert = ()
        if not pert or any(len(p) != 3 for p in pert):
            raise ValueError(f"ConditionalTesting.perturbations must be a non-empty sequence of (dx, dy, scale "
                             f"factor) triples, got {self.perturbations!r}")
        pert = tuple((finite_number(p[0], "perturbation dx"), finite_number(p[1], "perturbation dy"),
                      finite_number(p[2], "perturbation scale factor", positive=True)) for p in pert)
        object.__setattr__(self, "perturbations", pert)
        object.__setattr__(self, "fuse_threshold", finite_number(self.fuse_threshold, "ConditionalTesting.fuse_threshold"))

    def thresholds_for(self, num_joints: int) -> np.ndarray:
        """tau_c as a ``(num_joints,)`` array (ValueError when a sequence has another length)."""
        if isinstance(self.thresholds, float):
            return np.full(num_joints, self.thresholds)
        if len(self.thresholds) != num_joints:
            raise ValueError(f"ConditionalTesting.thresholds has {len(self.thresholds)} values but the model "
                             f"predicts {num_joints} joints")
        return np.asarray(self.thresholds, dtype=np.float64)


def fuse_trials(keypoints, scores, low, fuse_threshold: float = DEFAULT_FUSE_THRESHOLD):
    """Fusion of conditional-testing trials (the rule of the module docstring, step 3).

    keypoints ``(T, K, 2)`` image coordinates of every trial (trial 0 = the original window), scores ``(T, K)``,
    low ``(K,)`` bool (joints below tau_c in trial 0), fuse_threshold tau_s. Returns ``(keypoints (K, 2),
    scores (K,), accepted (T, K) bool)``: ``accepted[t, k]`` says trial t was fused for joint k (always False for
    joints that were not low, whose result is trial 0's). A low joint with no trial above tau_s takes the
    best-scoring trial (first on ties); its ``accepted`` column is all False.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    sc = np.asarray(scores, dtype=np.float64)
    lo = np.asarray(low, dtype=bool)
    if kp.ndim != 3 or kp.shape[-1] != 2 or kp.shape[0] < 1:
        raise ValueError(f"keypoints must be (T, K, 2) with T >= 1, got shape {kp.shape}")
    if sc.shape != kp.shape[:2]:
        raise ValueError(f"scores must have shape {kp.shape[:2]} (trials, joints), got {sc.shape}")
    if lo.shape != (kp.shape[1],):
        raise ValueError(f"low must have shape ({kp.shape[1]},) (one flag per joint), got {lo.shape}")
    tau = finite_number(fuse_threshold, "fuse_threshold")
    accepted = (sc > tau) & lo[None, :]
    w = np.where(accepted, sc, 0.0)
    wsum = w.sum(axis=0)
    n_acc = accepted.sum(axis=0)
    any_acc = n_acc > 0
    safe = np.where(wsum > 0, wsum, 1.0)
    fused_pts = (w[..., None] * kp).sum(axis=0) / safe[:, None]
    # all accepted scores > tau; with tau < 0 they may sum to <= 0: fall back to the plain mean of the points
    plain = (accepted[..., None] * kp).sum(axis=0) / np.maximum(n_acc, 1)[:, None]
    fused_pts = np.where((wsum > 0)[:, None], fused_pts, plain)
    fused_sc = np.where(accepted, sc, 0.0).sum(axis=0) / np.maximum(n_acc, 1)
    best = sc.argmax(axis=0)
    cols = np.arange(kp.shape[1])
    best_pts, best_sc = kp[best, cols], sc[best, cols]
    out_pts = np.where(lo[:, None], np.where(any_acc[:, None], fused_pts, best_pts), kp[0])
    out_sc = np.where(lo, np.where(any_acc, fused_sc, best_sc), sc[0])
    return out_pts, out_sc, accepted


# -------------------------------------------------------------------------------------- model resolution
def _device_of(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    if p is None:
        p = next(net.buffers(), None)
    return p.device if p is not None else torch.device("cpu")


def unpack_model(net, layout=None, codec: Optional[HeatmapCodec] = None):
    """``(module, layout, codec)`` of a :class:`~structnet.hub.LoadedModel` (explicit arguments win over the
    model's) or of a bare module (layout / codec as given)."""
    from ..tasks.loading import LoadedModel

    if isinstance(net, LoadedModel):
        return net.network, (layout if layout is not None else net.layout), (codec if codec is not None else net.codec)
    return net, layout, codec


def _resolve_codec(codec: Optional[HeatmapCodec]) -> HeatmapCodec:
    if codec is not None:
        if not isinstance(codec, HeatmapCodec):
            raise ValueError(f"codec must be a HeatmapCodec, got {type(codec).__name__}")
        return codec
    return HeatmapCodec()


def _resolve_layout(layout, num_joints: int) -> KeypointLayout:
    """Explicit layout > the only built-in layout with ``num_joints`` joints."""
    if layout is None:
        fits = [get_layout(n) for n in list_layouts()]
        fits = [l for l in fits if l.num_joints == num_joints]
        if len(fits) != 1:
            raise ValueError(f"cannot tell the keypoint layout of a {num_joints}-joint model; pass layout= "
                             f"(built-in: {', '.join(list_layouts())})")
        return fits[0]
    lay = get_layout(layout)
    if lay.num_joints != num_joints:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints but the model predicts {num_joints}")
    return lay


# ------------------------------------------------------------------------------------------ core passes
def _heatmaps_of(out) -> torch.Tensor:
    hm = out["final"] if isinstance(out, Mapping) else out
    if not isinstance(hm, torch.Tensor) or hm.ndim != 4:
        raise ValueError("the model must return a dict with 'final' heatmaps (B, K, h, w) or such a tensor")
    return hm


def _is_channels_last(net: nn.Module) -> bool:
    """Whether the first 4-D parameter (a convolution kernel) of ``net`` is in channels_last layout (the hub loads
    pose models so); the crops are then fed in that layout too."""
    w = next((p for p in net.parameters() if p.dim() == 4), None)
    return w is not None and not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last)


def _forward(net: nn.Module, x: torch.Tensor, batch_size: int, precision: str) -> torch.Tensor:
    """``net`` on ``x`` (N, 3, H, W) in chunks, eval mode, no autograd; float32 heatmaps (N, K, h, w)."""
    device = x.device
    if _is_channels_last(net):
        x = x.contiguous(memory_format=torch.channels_last)
    outs = []
    with torch.no_grad(), inference_context(device, precision):
        for i in range(0, x.shape[0], batch_size):
            outs.append(_heatmaps_of(net(x[i:i + batch_size])).float())
    return torch.cat(outs, 0)


def _forward_flip(net: nn.Module, x: torch.Tensor, flip_test: bool, layout_fn, batch_size: int,
                  precision: str) -> torch.Tensor:
    """Heatmaps of crops ``x`` (N, 3, H, W); with ``flip_test`` the mirrored crops run in the same passes
    (interleaved) and are averaged in with :func:`average_flip`. ``layout_fn(K)`` gives the layout."""
    n = x.shape[0]
    if not flip_test:
        return _forward(net, x, batch_size, precision)
    both = torch.stack([x, x.flip(-1)], dim=1).reshape(2 * n, *x.shape[1:])
    hm = _forward(net, both, batch_size, precision)
    hm = hm.reshape(n, 2, *hm.shape[1:])
    lay = layout_fn(hm.shape[2])
    return average_flip(hm[:, 0], hm[:, 1], lay.flip_permutation())


def _decode(codec: HeatmapCodec, heatmaps: torch.Tensor, refine: str, dark_sigma: Optional[float]):
    """Decode on the CPU in float64: crop coordinates (N, K, 2) and scores (N, K) as numpy float64."""
    pts, sc = codec.decode(heatmaps.detach().to("cpu", torch.float64), refine=refine, dark_sigma=dark_sigma)
    return pts.numpy(), sc.numpy()


def fuse_scales(heatmaps: torch.Tensor, factors: Sequence[float]) -> torch.Tensor:
    """Multi-scale fusion (module docstring): ``heatmaps (S, N, K, h, w)``, map ``s`` from the window of factor
    ``factors[s]``, all with the same centre -> ``(N, K, h, w)`` float32 in the factor-1 window's frame: the
    coverage-weighted mean ``sum_s warp(M_s) / sum_s warp(1)`` of the maps warped there (``u_f = u_1 / f`` in
    centre-aligned normalised coordinates, :data:`SCALE_WARP_MODE` interpolation, zeros outside; factor 1 is not
    resampled). Pixels whose summed coverage is below :data:`MIN_COVERAGE` (reached by no scale) are 0."""
    if not isinstance(heatmaps, torch.Tensor) or heatmaps.ndim != 5:
        raise ValueError(f"heatmaps must be a tensor (S, N, K, h, w), got "
                         f"{tuple(heatmaps.shape) if isinstance(heatmaps, torch.Tensor) else type(heatmaps)}")
    fac = check_window_scales(factors)
    s, n, k, h, w = heatmaps.shape
    if len(fac) != s:
        raise ValueError(f"factors has {len(fac)} entries but heatmaps has {s} scales")
    hm = heatmaps.float()
    if all(f == 1.0 for f in fac):
        return hm.mean(0)
    inp = torch.cat([hm.reshape(s, n * k, h, w), torch.ones(s, 1, h, w, dtype=hm.dtype, device=hm.device)], 1)
    theta = torch.zeros(s, 2, 3, dtype=hm.dtype, device=hm.device)
    inv = torch.tensor([1.0 / f for f in fac], dtype=hm.dtype, device=hm.device)
    theta[:, 0, 0], theta[:, 1, 1] = inv, inv
    grid = F.affine_grid(theta, [s, n * k + 1, h, w], align_corners=False)
    warped = F.grid_sample(inp, grid, mode=SCALE_WARP_MODE, padding_mode="zeros", align_corners=False)
    ident = torch.tensor([f == 1.0 for f in fac], device=hm.device).view(s, 1, 1, 1)
    warped = torch.where(ident, inp, warped)
    total = warped[:, :-1].sum(0).reshape(n, k, h, w)
    cover = warped[:, -1:].sum(0)                                   # (1, h, w)
    return torch.where(cover >= MIN_COVERAGE, total / cover.clamp_min(MIN_COVERAGE), torch.zeros_like(total))


def _image_tensor(image) -> torch.Tensor:
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.shape[0] < 1 or img.shape[1] < 1 or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {img.shape}")
    return torch.from_numpy(image_to_tensor(img))


def _sample_crops(img: torch.Tensor, matrices: np.ndarray, out_hw: Tuple[int, int]) -> torch.Tensor:
    """Bilinear crops (N, 3, H', W') of ``img`` (3, H, W) for image->crop 2x3 ``matrices`` (N, 2, 3); zeros
    outside the image; antialiased pre-shrink when every zoom is below :data:`ANTIALIAS_BELOW`."""
    oh, ow = out_hw
    _, h, w = img.shape
    m = np.asarray(matrices, np.float64)
    n = m.shape[0]
    full = np.concatenate([m, np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1)
    inv = np.linalg.inv(full)[:, :2]                                # crop -> image
    zoom = float(np.sqrt(np.abs(np.linalg.det(m[:, :, :2]))).max())
    if zoom < ANTIALIAS_BELOW:
        # normalised sampling coordinates do not depend on the resolution, so the grid below stays valid
        nh, nw = max(1, round(h * zoom)), max(1, round(w * zoom))
        img = F.interpolate(img[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)[0]
    vv, uu = np.mgrid[0:oh, 0:ow]
    uv1 = np.stack([uu, vv, np.ones_like(uu)], axis=-1).reshape(-1, 3).astype(np.float64)
    src = np.einsum("pc,nrc->npr", uv1, inv)                        # (N, H'W', 2) image x, y
    grid = np.empty_like(src)
    grid[..., 0] = (2.0 * src[..., 0] + 1.0) / w - 1.0
    grid[..., 1] = (2.0 * src[..., 1] + 1.0) / h - 1.0
    g = torch.from_numpy(grid.reshape(1, n * oh, ow, 2)).to(img.device, img.dtype)
    out = F.grid_sample(img[None], g, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[0].reshape(3, n, oh, ow).permute(1, 0, 2, 3).contiguous()


def _window(image_hw: Tuple[int, int], box, center, scale, padding) -> Tuple[np.ndarray, float, Optional[tuple]]:
    h, w = image_hw
    if center is not None or scale is not None:
        if box is not None:
            raise ValueError("give either box or (center, scale), not both")
        if center is None or scale is None:
            raise ValueError("center and scale must be given together")
        c = np.asarray(center, dtype=np.float64)
        if c.shape != (2,) or not np.isfinite(c).all():
            raise ValueError(f"center must be a finite (x, y), got {center!r}")
        return c, finite_number(scale, "scale", positive=True), None
    if box is None:
        b = (-0.5, -0.5, w - 0.5, h - 0.5)
        pad = WHOLE_IMAGE_PADDING if padding is None else padding
    else:
        b = box
        pad = BOX_PADDING if padding is None else padding
    c, s = center_scale_from_box(b, padding=pad, pixel_std=PIXEL_STD)     # validates the box (ValueError)
    return c, float(s), tuple(float(v) for v in np.asarray(b, dtype=np.float64).reshape(-1))


def _run_trials(net, img: torch.Tensor, centers: np.ndarray, scales_: np.ndarray, factors: Tuple[float, ...],
                flip_test: bool, layout_fn, codec: HeatmapCodec, refine: str, dark_sigma, batch_size: int,
                precision: str):
    """Trials t (windows ``centers[t]``, ``scales_[t]``) x scale factors: one batched pass.
    Returns fused heatmaps (T, K, h, w) float32 tensor, image keypoints (T, K, 2), scores (T, K)."""
    oh, ow = codec.input_size
    t_n, s_n = len(centers), len(factors)
    mats = np.stack([crop_matrix(centers[t], scales_[t] * f, (oh, ow), pixel_std=PIXEL_STD)
                     for t in range(t_n) for f in factors])          # (T*S, 2, 3), trial-major
    x = _sample_crops(img, mats, (oh, ow))
    hm = _forward_flip(net, x, flip_test, layout_fn, batch_size, precision)   # (T*S, K, h, w)
    hm = hm.reshape(t_n, s_n, *hm.shape[1:]).transpose(0, 1)                 # (S, T, K, h, w)
    fused = fuse_scales(hm, factors)
    crop_pts, scores = _decode(codec, fused, refine, dark_sigma)
    ref = np.stack([crop_matrix(centers[t], scales_[t], (oh, ow), pixel_std=PIXEL_STD) for t in range(t_n)])
    full = np.concatenate([ref, np.tile([[[0.0, 0.0, 1.0]]], (t_n, 1, 1))], axis=1)
    inv = np.linalg.inv(full)[:, :2]
    pts = np.einsum("tkc,trc->tkr", np.concatenate([crop_pts, np.ones(crop_pts.shape[:2] + (1,))], -1), inv)
    return fused, pts, scores


class _EvalMode:
    """Puts ``net`` in eval mode for the block and restores its previous mode."""

    def __init__(self, net: nn.Module):
        self.net, self.was = net, net.training

    def __enter__(self):
        self.net.eval()
        return self.net

    def __exit__(self, *exc):
        self.net.train(self.was)
        return False


def predict_pose(net, image: np.ndarray, box=None, flip_test: bool = True,
                 scales: Sequence[float] = (1.0,), refine: str = DEFAULT_REFINE,
                 conditional: Optional[ConditionalTesting] = None, *, center=None, scale: Optional[float] = None,
                 padding: Optional[float] = None, layout=None, codec: Optional[HeatmapCodec] = None,
                 dark_sigma: Optional[float] = None, precision: str = "auto",
                 batch_size: int = DEFAULT_BATCH_SIZE) -> Dict[str, Any]:
    """Pose of one person in one image (see the module docstring for every step and convention).

    net: a :class:`~structnet.hub.LoadedModel` of a pose model, or a :class:`~structnet.pose2d.model.PoseNet` (or
    any module returning ``{"final": (B, K, h, w)}`` or that tensor), run in eval mode without autograd on its own device (its train/eval mode is restored afterwards).
    image: ``(H, W, 3)`` uint8 RGB (or ``(H, W)`` grey). box: ``(x1, y1, x2, y2)`` person box (None: the whole
    image); or ``center`` + ``scale`` (window side ``scale * 200`` px). padding: window side / longer box side
    (default 1.25 for a box, 1.0 for the whole image). flip_test: average with the mirrored crop. scales: window
    factors of the multi-scale test (``(1.0,)`` = single scale). refine / dark_sigma: heatmap decoding
    (:meth:`HeatmapCodec.decode`). conditional: a :class:`ConditionalTesting` to enable the paper's conditional
    testing. layout: keypoint layout for the flip test (default: the loaded model's, else the built-in layout with
    the model's joint count); codec: default the loaded model's, else ``HeatmapCodec()``. precision: ``"auto"``,
    ``"float32"``, ``"bfloat16"`` (:func:`structnet.nn.precision.inference_context`).

    Returns a dict: ``keypoints`` (K, 2) image px, ``scores`` (K,), ``center`` (2,), ``scale`` and ``box`` (None
    when center/scale were given) of the window, ``heatmaps`` (K, h, w) float32 (trial 0, flip- and scale-fused, in
    its crop frame), ``trials``: a list with one dict per trial (``center``, ``scale``, ``perturbation``
    ``(dx, dy, f)`` (``(0, 0, 1)`` for trial 0), ``keypoints``, ``scores``), and for conditional testing
    ``low`` (K,) bool (joints below tau_c in trial 0; None without it) and ``accepted`` (T, K) bool (trials fused
    per joint; None when no re-trial ran).
    """
    img = _image_tensor(image)
    factors = check_window_scales(scales)
    refine = _check_refine(refine)
    batch_size = _check_batch_size(batch_size)
    if conditional is not None and not isinstance(conditional, ConditionalTesting):
        raise ValueError(f"conditional must be a ConditionalTesting or None, got {type(conditional).__name__}")
    net, layout, codec = unpack_model(net, layout, codec)
    codec = _resolve_codec(codec)
    h, w = img.shape[1:]
    c0, s0, box_used = _window((h, w), box, center, scale, padding)
    device = _device_of(net)
    img = img.to(device)

    def layout_fn(k: int) -> KeypointLayout:
        return _resolve_layout(layout, k)

    with _EvalMode(net):
        heat, pts, sc = _run_trials(net, img, c0[None], np.array([s0]), factors, flip_test, layout_fn, codec,
                                    refine, dark_sigma, batch_size, precision)
        trials = [{"center": c0.copy(), "scale": s0, "perturbation": (0.0, 0.0, 1.0), "keypoints": pts[0],
                   "scores": sc[0]}]
        result: Dict[str, Any] = {"keypoints": pts[0], "scores": sc[0], "center": c0, "scale": s0, "box": box_used,
                                  "heatmaps": heat[0].cpu().numpy().astype(np.float32), "trials": trials,
                                  "low": None, "accepted": None}
        if conditional is None:
            return result
        k = pts.shape[1]
        low = sc[0] < conditional.thresholds_for(k)
        result["low"] = low
        if not low.any():
            return result
        side = s0 * PIXEL_STD
        pert = np.asarray(conditional.perturbations, dtype=np.float64)
        centers = c0[None] + pert[:, :2] * side
        scales_ = s0 * pert[:, 2]
        _, pts_r, sc_r = _run_trials(net, img, centers, scales_, factors, flip_test, layout_fn, codec, refine,
                                     dark_sigma, batch_size, precision)
    for i, p in enumerate(conditional.perturbations):
        trials.append({"center": centers[i], "scale": float(scales_[i]), "perturbation": p,
                       "keypoints": pts_r[i], "scores": sc_r[i]})
    all_pts = np.concatenate([pts, pts_r], 0)
    all_sc = np.concatenate([sc, sc_r], 0)
    fused_pts, fused_sc, accepted = fuse_trials(all_pts, all_sc, low, conditional.fuse_threshold)
    result.update(keypoints=fused_pts, scores=fused_sc, accepted=accepted)
    return result


def predict_batch(net, crops, flip_test: bool = True, refine: str = DEFAULT_REFINE, *, layout=None,
                  codec: Optional[HeatmapCodec] = None, dark_sigma: Optional[float] = None, precision: str = "auto",
                  batch_size: int = DEFAULT_BATCH_SIZE) -> Dict[str, np.ndarray]:
    """Batched inference on crops that a dataset pipeline already made (evaluation).

    crops: ``(B, 3, H, W)`` tensor or array, float in ``[0, 1]`` (uint8 is divided by 255), ``(H, W)`` = the
    codec's ``input_size``; moved to the model's device. Flip test as :func:`predict_pose`. Returns numpy
    ``heatmaps`` (B, K, h, w) float32 (flip-averaged), ``keypoints`` (B, K, 2) float64 **crop** pixel coordinates
    (map them to the image with the crop's inverse matrix, e.g. :meth:`PoseCrop.to_image`) and ``scores`` (B, K).
    """
    x = crops if isinstance(crops, torch.Tensor) else torch.as_tensor(np.asarray(crops))
    net, layout, codec = unpack_model(net, layout, codec)
    codec = _resolve_codec(codec)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"crops must be (B, 3, H, W), got shape {tuple(x.shape)}")
    if tuple(x.shape[-2:]) != tuple(codec.input_size):
        raise ValueError(f"crops are {x.shape[-2]}x{x.shape[-1]} but the model input is "
                         f"{codec.input_size[0]}x{codec.input_size[1]}")
    refine = _check_refine(refine)
    batch_size = _check_batch_size(batch_size)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    x = x.to(_device_of(net))
    with _EvalMode(net):
        hm = _forward_flip(net, x, flip_test, lambda k: _resolve_layout(layout, k), batch_size, precision)
    pts, sc = _decode(codec, hm, refine, dark_sigma)
    return {"heatmaps": hm.cpu().numpy().astype(np.float32), "keypoints": pts, "scores": sc}


def predict_pose_auto(net, image: np.ndarray, *, person=None, person_padding: float = PERSON_PADDING,
                      second_pass: bool = True, min_joints: int = AUTO_MIN_JOINTS,
                      score_threshold: float = AUTO_SCORE, box_padding: Optional[float] = None,
                      **kwargs) -> Dict[str, Any]:
    """Pose of one person without a given box: find the person window, then the joints in it.

    With a person-box network ``person`` (:mod:`structnet.pose2d.person`, a ``LoadedModel`` or the bare
    :class:`~structnet.nn.localization.LocalizationNet`; ``predict``'s default): its flip-averaged box of the
    whole photo, enlarged by ``person_padding`` (:data:`PERSON_PADDING`), is the first window.
    Without one: :func:`predict_pose` on the whole image (the window ``--window image`` uses).
    Then, when ``second_pass`` and at least ``min_joints`` joints of the first pass score ``>= score_threshold``
    (:data:`AUTO_SCORE`, 0: every joint), the bounding box of those joints (clipped to the image) becomes the
    window of a second :func:`predict_pose` (side = ``box_padding`` x the longer box side; None:
    :data:`PERSON_SECOND_PADDING` after a person box, :data:`AUTO_BOX_PADDING` after the whole image), whose result
    is returned.

    The result is :func:`predict_pose`'s dict plus ``window`` (``"auto"`` when a second pass ran, else
    ``"person"`` or ``"image"``: the first pass's window), ``person_box`` (the person network's box in pixels, or
    None) and ``first_pass`` (the first pass's keypoints and scores). One person: with several people the person
    network picks one (and the whole-image pass locks onto one of them or mixes them); give ``--box`` per person
    for crowds. ``kwargs`` go to every pass (``box`` / ``center`` / ``scale`` / ``padding`` are not allowed: they
    fix the window)."""
    if any(k in kwargs for k in ("box", "center", "scale", "padding")):
        raise ValueError("predict_pose_auto chooses the window itself: use predict_pose for a given box / window")
    person_box = None
    if person is not None:
        from ..nn.localization import locate

        size = (getattr(person, "settings", None) or {}).get("input_size")
        person_box = tuple(float(v) for v in locate(getattr(person, "network", person), image, input_size=size))
        first = predict_pose(net, image, box=person_box, padding=person_padding, **kwargs)
        first["window"] = "person"
    else:
        first = predict_pose(net, image, **kwargs)
        first["window"] = "image"
    first_pass = {"keypoints": np.asarray(first["keypoints"], np.float64).copy(),
                  "scores": np.asarray(first["scores"], np.float64).copy()}
    first.update(first_pass=first_pass, person_box=person_box)
    if not second_pass:
        return first
    box = joint_box(first_pass["keypoints"], first_pass["scores"], np.asarray(image).shape[:2], min_joints,
                    score_threshold)
    if box is None:
        return first
    if box_padding is None:
        box_padding = PERSON_SECOND_PADDING if person is not None else AUTO_BOX_PADDING
    second = predict_pose(net, image, box=box, padding=box_padding, **kwargs)
    second.update(window="auto", first_pass=first_pass, person_box=person_box)
    return second


def joint_box(keypoints, scores, image_hw: Tuple[int, int], min_joints: int = AUTO_MIN_JOINTS,
              score_threshold: float = AUTO_SCORE) -> Optional[Tuple[float, float, float, float]]:
    """The person box :func:`predict_pose_auto` takes from a first pass: ``(x1, y1, x2, y2)``, the bounding box of
    the joints with a finite position and score ``>= score_threshold``, clipped to the image ``(H, W)``; None when
    fewer than ``min_joints`` qualify or the box is degenerate (longer side under 2 px)."""
    kp, sc = np.asarray(keypoints, np.float64), np.asarray(scores, np.float64)
    ok = np.isfinite(kp).all(axis=1) & np.isfinite(sc) & (sc >= float(score_threshold))
    if int(ok.sum()) < int(min_joints):
        return None
    h, w = image_hw
    lo = np.clip(kp[ok].min(axis=0), -0.5, [w - 0.5, h - 0.5])
    hi = np.clip(kp[ok].max(axis=0), -0.5, [w - 0.5, h - 0.5])
    if max(hi - lo) < 2.0:  # the joints collapse onto one point
        return None
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])
