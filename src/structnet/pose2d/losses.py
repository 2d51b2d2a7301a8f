"""Heatmap losses of Ke et al. 2018 as dicts of named terms: the multi-scale supervision loss (Eq. 1) and the
structure-aware loss (Eq. 2), for every stack and every scale of :class:`~structnet.pose2d.model.PoseNet`.

Heatmaps are ``(B, K, H, W)`` tensors (row = y, column = x); ``weight`` is ``(B, K)`` (or ``(K,)``), 1 for a joint
with a usable label and 0 for one without (the codec's ``"weights"``); soft values scale the terms.

Eq. 1, at scale i (``keypoint_loss``)::

    L_MS^i = 1/N  sum_n  w_n  sum_{x,y} (P_n(x, y) - G_n(x, y))^2

The paper writes ``||P_n(x,y) - G_n(x,y)||_2`` and calls it "the L2 loss ... similar to [11, 12]"; those (CPM,
stacked hourglass) use the squared error, and so do we. N is the number of joint channels: an unlabelled joint
contributes 0 but still counts in 1/N (as Eq. 1 and HRNet's ``JointsMSELoss`` with target weights), so the
loss of an image does not grow when joints are missing. ``reduction="sum"`` (default) is Eq. 1 literally: the
squared error summed over the pixels of a map. Because every scale's target has sigma = 1 pixel *of that map*,
a peak error costs about the same at 64x64 and at 8x8, so the scales are balanced without extra weights.
``reduction="mean"`` divides each map's sum by H x W (``nn.MSELoss``, the hourglass code's criterion), which
weights an 8x8 map 64 times more per pixel than a 64x64 one. Images are averaged over the batch.

Eq. 2, at scale i (``structure_aware_loss``)::

    L_SA^i = L_MS^i + alpha * 1/N  sum_n  w_{S_n}  sum_{x,y} (P_{S_n}(x, y) - G_{S_n}(x, y))^2

with ``S_n = layout.structure_groups[n]`` (joint n and its neighbours in the skeletal graph: pairs such as
head-thorax and hip-hip, triplets shoulder-elbow-wrist and hip-knee-ankle). Choices the paper leaves open:

* **Combination** ``P_{S_n}``: "the combination of the heatmaps from keypoint n and its neighbours".
  ``combine="sum"`` (default) adds the group's heatmaps into one map, ``P_{S_n} = sum_{m in S_n} P_m``. Its
  error ``||sum_m (P_m - G_m)||^2 = sum_m ||P_m - G_m||^2 + sum_{m != m'} <P_m - G_m, P_m' - G_m'>`` couples the
  joints of a group through the cross terms: the group map is compared as one configuration (the whole limb),
  which is the "second-order", pairwise matching the paper describes. ``combine="concat"`` stacks the group's
  maps as channels; then ``||P_{S_n} - G_{S_n}||^2 = sum_{m in S_n} ||P_m - G_m||^2`` and the structure term is
  only Eq. 1 re-weighted by how many groups contain each joint (no coupling); it is kept for ablations.
* **Normalisation**: the group term is averaged over the N groups (1/N, like the first term; the paper's second
  sum has no factor and lets alpha absorb it), with the same pixel reduction and batch mean.
* **alpha** (not given in the paper): default 0.5. When the errors of a group's joints do not overlap the cross
  terms vanish and the group term is about ``mean_n |S_n|`` times the keypoint term (2.29 for ``lsp14``, 2.25
  for ``mpii16``); alpha = 0.5 gives the structural term about the weight of the per-keypoint term, so neither
  dominates. ``alpha = 0`` is exactly Eq. 1.
* **Missing joints**: a group term is masked (weight ``w_{S_n} = min_{m in S_n} w_m``, i.e. 0) when any member is
  unlabelled: its ground-truth group map would lack that joint's peak while the prediction may rightly show it.

:func:`pose2d_losses` applies Eq. 2 to every stack's every scale (intermediate supervision) and to the MSR-net's
outputs and returns ``{"ms_<part>_s<h>": ..., "struct_<part>_s<h>": ...}`` (part = ``stack0``, ``stack1``, ...,
``msr``; h = map height), already weighted by alpha, to be summed by the trainer: the total is the sum over
stacks and scales (the paper's "summing ... across all scales").
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch

from ..keypoints.layouts import KeypointLayout, get_layout

__all__ = ["REDUCTIONS", "COMBINES", "DEFAULT_ALPHA", "group_matrix", "keypoint_loss", "structure_loss",
           "structure_aware_loss", "pose2d_losses"]

REDUCTIONS = ("sum", "mean")
COMBINES = ("sum", "concat")
#: Default weight of the structural term (the paper gives none; see the module docstring).
DEFAULT_ALPHA = 0.5

GroupsLike = Union[str, KeypointLayout, Sequence[Sequence[int]]]


def group_matrix(groups: GroupsLike, num_joints: Optional[int] = None) -> torch.Tensor:
    """Membership matrix ``A`` ``(G, K)`` float32 with ``A[n, m] = 1`` iff joint m is in group ``S_n``.

    groups: a layout (object or name: its ``structure_groups``, one per joint) or a sequence of index groups.
    num_joints: K (default: the layout's joint count, or 1 + the largest index)."""
    if isinstance(groups, (str, KeypointLayout)):
        lay = get_layout(groups)
        idx = [list(g) for g in lay.structure_groups]
        k = lay.num_joints if num_joints is None else int(num_joints)
        if k != lay.num_joints:
            raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints, not {k}")
    else:
        idx = [[int(m) for m in g] for g in groups]
        if not idx or any(len(g) == 0 for g in idx):
            raise ValueError("groups must be a non-empty sequence of non-empty joint index groups")
        k = max(max(g) for g in idx) + 1 if num_joints is None else int(num_joints)
    a = torch.zeros(len(idx), k)
    for n, g in enumerate(idx):
        if min(g) < 0 or max(g) >= k:
            raise ValueError(f"group {n} {g} has a joint index outside 0..{k - 1}")
        a[n, g] = 1.0
    return a


def _check_maps(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.dim() != 4:
        raise ValueError(f"pred heatmaps must be (B, K, H, W), got shape {tuple(pred.shape)}")
    if pred.shape != target.shape:
        raise ValueError(f"pred heatmaps {tuple(pred.shape)} and target {tuple(target.shape)} must have the same "
                         f"shape (B, K, H, W)")


def _weight(weight, like: torch.Tensor) -> torch.Tensor:
    """weight (B, K) / (K,) / None -> (B, K) in the dtype and on the device of ``like`` (B, K, H, W)."""
    b, k = like.shape[:2]
    if weight is None:
        return torch.ones(b, k, device=like.device, dtype=like.dtype)
    w = torch.as_tensor(weight, device=like.device).to(like.dtype)
    if w.dim() == 1:
        w = w.expand(b, -1)
    if w.shape != (b, k):
        raise ValueError(f"weight must have shape (B, K) = ({b}, {k}) or (K,), got {tuple(w.shape)}")
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError("weight must be finite and >= 0 (1 = labelled joint, 0 = no label)")
    return w


def _f32(t: torch.Tensor) -> torch.Tensor:
    """Half / bfloat16 maps (autocast) are upcast to float32; float32 and float64 are kept."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) or not t.is_floating_point() else t


def _map_sq(diff: torch.Tensor, reduction: str) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): squared error summed over pixels ("sum") or averaged ("mean")."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    s = diff.pow(2).flatten(2).sum(-1)
    return s / (diff.shape[-1] * diff.shape[-2]) if reduction == "mean" else s


def keypoint_loss(pred: torch.Tensor, target: torch.Tensor, weight=None, *, reduction: str = "sum") -> torch.Tensor:
    """Eq. 1 at one scale: ``mean_b 1/K sum_k w_bk sum_{x,y} (P - G)^2`` (``reduction="mean"``: per-map mean over
    pixels instead of the sum). pred, target ``(B, K, H, W)``; weight ``(B, K)`` / ``(K,)`` / None (all 1)."""
    _check_maps(pred, target)
    diff = _f32(pred) - _f32(target)
    w = _weight(weight, diff)
    per_map = _map_sq(diff, reduction)                                     # (B, K)
    return (per_map * w).sum(1).div(diff.shape[1]).mean()


def _group_weight(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """(B, K), (G, K) -> (B, G): min over each group's members."""
    big = torch.full_like(w, float("inf"))
    return torch.where(a[None] > 0, w[:, None, :], big[:, None, :]).amin(-1)


def structure_loss(pred: torch.Tensor, target: torch.Tensor, groups: GroupsLike, weight=None, *,
                   combine: str = "sum", reduction: str = "sum") -> torch.Tensor:
    """The structural term of Eq. 2 at one scale, without alpha:
    ``mean_b 1/G sum_n w_{S_n} sum_{x,y} (P_{S_n} - G_{S_n})^2`` with ``P_{S_n} = sum_{m in S_n} P_m``
    (``combine="sum"``) or the group's maps stacked (``"concat"``: ``sum_{m in S_n} sum_{x,y} (P_m - G_m)^2``);
    ``w_{S_n}`` = the smallest weight of the group's members (0 when any member is unlabelled)."""
    _check_maps(pred, target)
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {', '.join(COMBINES)}, got {combine!r}")
    diff = _f32(pred) - _f32(target)
    a = group_matrix(groups, diff.shape[1]).to(device=diff.device, dtype=diff.dtype)   # (G, K)
    w = _weight(weight, diff)
    if combine == "sum":
        per_group = _map_sq(torch.einsum("gk,bkhw->bghw", a, diff), reduction)   # (B, G)
    else:
        per_group = _map_sq(diff, reduction) @ a.t()                             # (B, G)
    return (per_group * _group_weight(w, a)).sum(1).div(a.shape[0]).mean()


def structure_aware_loss(pred: torch.Tensor, target: torch.Tensor, groups: GroupsLike, weight=None, *,
                         alpha: float = DEFAULT_ALPHA, combine: str = "sum", reduction: str = "sum") -> torch.Tensor:
    """Eq. 2 at one scale: :func:`keypoint_loss` + ``alpha`` x :func:`structure_loss` (alpha = 0: Eq. 1)."""
    alpha = _check_alpha(alpha)
    loss = keypoint_loss(pred, target, weight, reduction=reduction)
    if alpha > 0:
        loss = loss + alpha * structure_loss(pred, target, groups, weight, combine=combine, reduction=reduction)
    return loss


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (alpha >= 0 and alpha < float("inf")):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return alpha


PARTS = ("stacks", "msr")


def _as_scale_dict(name: str, maps) -> Dict[int, torch.Tensor]:
    if isinstance(maps, torch.Tensor):
        maps = [maps]
    if isinstance(maps, Mapping):
        items = list(maps.values())
    elif isinstance(maps, (list, tuple)):
        items = list(maps)
    else:
        raise ValueError(f"outputs of {name}: expected a dict {{height: heatmaps}} or a list of heatmaps, "
                         f"got {type(maps).__name__}")
    out: Dict[int, torch.Tensor] = {}
    for t in items:
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise ValueError(f"outputs of {name}: every heatmap must be a (B, K, H, W) tensor")
        h = int(t.shape[-2])
        if h in out:
            raise ValueError(f"outputs of {name}: two heatmaps of height {h}")
        out[h] = t
    return out


def _parts(outputs, supervise: Sequence[str]) -> List[Tuple[str, Dict[int, torch.Tensor]]]:
    bad = [p for p in supervise if p not in PARTS]
    if bad:
        raise ValueError(f"supervise: unknown part(s) {', '.join(map(repr, bad))}; valid: {', '.join(PARTS)}")
    if isinstance(outputs, Mapping) and "stacks" in outputs:       # PoseNet.forward output
        stacks, msr = outputs["stacks"], outputs.get("msr")
    elif isinstance(outputs, Mapping):
        named = [(str(n), _as_scale_dict(str(n), m)) for n, m in outputs.items()]
        return [(n, m) for n, m in named if ("msr" if n == "msr" else "stacks") in supervise]
    else:                                                          # a list of stacks
        stacks, msr = outputs, None
    parts: List[Tuple[str, Dict[int, torch.Tensor]]] = []
    if "stacks" in supervise and stacks is not None:
        for i, m in enumerate(stacks):
            parts.append((f"stack{i}", _as_scale_dict(f"stack{i}", m)))
    if "msr" in supervise and msr is not None:
        parts.append(("msr", _as_scale_dict("msr", msr)))
    return parts


def pose2d_losses(outputs, targets: Mapping, layout: GroupsLike, weight=None, *, alpha: float = DEFAULT_ALPHA,
                  combine: str = "sum", reduction: str = "sum", supervise: Sequence[str] = PARTS
                  ) -> Dict[str, torch.Tensor]:
    """All loss terms of a pose model, as a dict of named scalars for the trainer.

    outputs: :meth:`PoseNet.forward`'s dict (``{"stacks": [{h: maps}, ...], "msr": {h: maps} or None, ...}``), a
    list with one entry per stack (each ``{h: maps}`` or a list of maps), or ``{name: {h: maps}}``.
    targets: ``{h: (B, K, h, w)}`` per map height (the codec's ``encode_batch``), optionally with ``"weights":
    (B, K)`` used when ``weight`` is None. layout: the joint layout whose ``structure_groups`` define S_n (or
    explicit index groups). supervise: which parts get losses, ``("stacks", "msr")`` (default; a part that the
    outputs lack is skipped) -- stage 2 of the paper, MSR-net with the MSS-net frozen, uses ``("msr",)``.

    Returns ``{"ms_<part>_s<h>": Eq. 1, "struct_<part>_s<h>": alpha x structural term}`` (no ``struct_`` terms
    when ``alpha == 0``), parts ``stack0, stack1, ..., msr`` and heights finest first.
    """
    alpha = _check_alpha(alpha)
    if not isinstance(targets, Mapping):
        raise ValueError(f"targets must be a dict {{height: (B, K, h, w)}}, got {type(targets).__name__}")
    if weight is None:
        weight = targets.get("weights")
    parts = _parts(outputs, tuple(supervise))
    if not parts:
        raise ValueError(f"no outputs to supervise for parts {tuple(supervise)}")
    available = sorted(k for k in targets if isinstance(k, int))
    losses: Dict[str, torch.Tensor] = {}
    for name, maps in parts:
        for h in sorted(maps, reverse=True):
            if h not in targets:
                raise ValueError(f"no target for the {h}-pixel maps of {name}; target heights: {available}")
            pred, tgt = maps[h], targets[h]
            losses[f"ms_{name}_s{h}"] = keypoint_loss(pred, tgt, weight, reduction=reduction)
            if alpha > 0:
                losses[f"struct_{name}_s{h}"] = alpha * structure_loss(pred, tgt, layout, weight, combine=combine,
                                                                       reduction=reduction)
    return losses
