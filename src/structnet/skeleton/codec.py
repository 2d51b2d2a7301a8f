"""Scale quantisation and scale-associated targets (LMSDS, Shen et al. 2017, Sec. III-B).

Notation follows the paper. ``fields`` = (r_1, ..., r_M): receptive fields of the M stages that
carry scale-associated side outputs, read from the backbone contract.

* Eq. 1: the quantised scale of a skeleton pixel with scale s > 0 is the first stage whose field is
  larger than rho * s: ``z = argmin_i  r_i > rho * s``; z = 0 off the skeleton.
* Stage i is supervised with ``Z(i) = Z o 1(Z <= i)``: pixels whose scale it cannot see become
  background for that stage, so its softmax has K(i) + 1 = i + 1 classes.
* Eq. 6: stage i regresses the normalised scale ``2 s / r_i - 1`` on the pixels with 0 < Z(i).

**Scales beyond the last field** (rho * s >= r_M) have no stage by Eq. 1; the paper assumes r_M is
large enough. ``beyond="clamp"`` (default) puts them in the last class M (the deepest stage, whose
field comes closest to seeing them), and their regression target is ``2 s / r_M - 1 >= 1``, left
unclamped so Eq. 14 can still return the true scale. ``beyond="ignore"`` marks them
:data:`IGNORE` (-1): they count in no classification or regression term (their pixels are neither
skeleton nor background for the losses). The published PyTorch port silently puts them in class 1,
the smallest scale, which teaches the shallowest stage that the largest parts are skeleton.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np
import torch

IGNORE = -1
BEYOND_MODES = ("clamp", "ignore")


def quantize_scales(scale, fields: Sequence[float], rho: float = 1.2, beyond: str = "clamp"):
    """Eq. 1. ``scale``: (..., H, W) array/tensor of scales in pixels (0 = not skeleton).

    Returns int64 quantised scales Z in {0, 1, ..., M} (or -1 = :data:`IGNORE` for scales beyond
    the last field when ``beyond="ignore"``), same type (numpy/torch) as the input.
    """
    if beyond not in BEYOND_MODES:
        raise ValueError(f"beyond must be one of {BEYOND_MODES}, got {beyond!r}")
    if rho <= 1:
        raise ValueError(f"rho must be > 1 (paper: 1.2), got {rho}")
    r = [float(f) for f in fields]
    if not r or any(b <= a for a, b in zip(r, r[1:])):
        raise ValueError(f"fields must be a non-empty increasing sequence, got {list(fields)}")
    if isinstance(scale, torch.Tensor):
        if torch.isnan(scale).any() or (scale < 0).any():
            raise ValueError("scale map has NaN or negative values")
        bounds = torch.tensor(r, dtype=torch.float64, device=scale.device)
        # first i with r_i > rho*s  <=>  1 + number of fields <= rho*s
        idx = torch.bucketize(rho * scale.double(), bounds, right=True)
        z = idx + 1
        z = torch.where(idx >= len(r), torch.full_like(z, len(r) if beyond == "clamp" else IGNORE), z)
        return torch.where(scale <= 0, torch.zeros_like(z), z)
    s = np.asarray(scale)
    if np.isnan(s).any() or (s < 0).any():
        raise ValueError("scale map has NaN or negative values")
    idx = np.searchsorted(np.asarray(r), rho * s.astype(np.float64), side="right")  # 0..M; M = beyond
    z = idx.astype(np.int64) + 1
    z[idx >= len(r)] = len(r) if beyond == "clamp" else IGNORE
    z[s <= 0] = 0
    return z


def stage_target(z, stage: int):
    """``Z(i) = Z o 1(Z <= i)`` for the 1-based ``stage`` i; :data:`IGNORE` stays ignored."""
    if isinstance(z, torch.Tensor):
        return torch.where(z > stage, torch.zeros_like(z), z)
    return np.where(z > stage, 0, z)


def regression_target(scale, z_stage, field: float):
    """Eq. 6 target for one stage: ``2 s / r_i - 1`` where ``Z(i) > 0``, 0 elsewhere (masked out)."""
    if isinstance(scale, torch.Tensor):
        return torch.where(z_stage > 0, 2.0 * scale / field - 1.0, torch.zeros_like(scale))
    return np.where(z_stage > 0, 2.0 * scale / field - 1.0, 0.0).astype(np.float32)


@dataclass(frozen=True)
class SkeletonCodec:
    """Target codec: GT (skeleton, scale) <-> quantised / scale-associated targets.

    ``encode`` builds the training targets, ``decode`` turns (fused class probabilities, per-stage
    normalised scale predictions) back into a skeleton map and a scale map (Eq. 12-14). Kept apart
    from the network heads so it can be tested on its own (round trip).
    """

    fields: tuple
    rho: float = 1.2
    beyond: str = "clamp"

    @property
    def num_stages(self) -> int:
        return len(self.fields)

    def encode(self, scale) -> Dict[str, object]:
        """scale: (..., H, W) GT scale map (0 off skeleton). Returns ``{"z": Z, "z_stages": [Z(1)..Z(M)],
        "reg_targets": [S(1)..S(M)]}`` (same array type as the input)."""
        z = quantize_scales(scale, self.fields, self.rho, self.beyond)
        zs = [stage_target(z, i + 1) for i in range(self.num_stages)]
        regs = [regression_target(scale, zs[i], self.fields[i]) for i in range(self.num_stages)]
        return {"z": z, "z_stages": zs, "reg_targets": regs}

    def decode(self, fused_prob: torch.Tensor, stage_scale=None):
        """Eq. 12-14 (LMSDS) or the FSDS coarse scale.

        fused_prob: (B, M+1, H, W) fused class probabilities. stage_scale: (B, M, H, W) normalised
        scale predictions of the M ScalePred-SSOs, or None (FSDS: scale = sum_i r_i P(z = i)).
        Returns (skeleton (B, H, W) = 1 - P(z=0), scale (B, H, W) in pixels).
        """
        skel = 1.0 - fused_prob[:, 0]
        r = torch.as_tensor(self.fields, dtype=fused_prob.dtype, device=fused_prob.device)
        if stage_scale is None:
            scale = (fused_prob[:, 1:] * r.view(1, -1, 1, 1)).sum(1)
        else:
            best = fused_prob[:, 1:].argmax(1, keepdim=True)  # i* - 1
            s_hat = stage_scale.gather(1, best).squeeze(1)
            scale = (s_hat + 1.0) / 2.0 * r[best.squeeze(1)]
        return skel, scale
