"""Choosing between 3D hypotheses by their reprojection error against 2D joints (Wan et al. 2017, Sec. 3.4).

A hypothesis is a root-relative pose ``P`` (``(17, 3)`` mm, camera frame). Its projection needs the root's
position: :func:`fit_translation` finds the translation ``t`` minimising the linearised reprojection error of
``P + t`` against the 2D joints with the camera's intrinsics (``f``, ``c``; the algebraic least squares of
``f (X + t_x) = (u - c_x)(Z + t_z)`` per joint and axis, exact when the 2D joints are the projection of ``P + t``).
Without intrinsics (a user's photo) :func:`weak_perspective_error` fits a scaled orthographic projection (scale
and 2D shift) instead. :func:`select_hypotheses` returns, per sample, the hypothesis with the smallest mean pixel
error: the paper's "minimum projection error to 2D joint detection".
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["fit_translation", "reprojection_error", "weak_perspective_error", "select_hypotheses"]


def fit_translation(pose: np.ndarray, uv: np.ndarray, f, c, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """``pose`` ``(N, J, 3)`` root-relative mm, ``uv`` ``(N, J, 2)`` pixels, ``f``, ``c`` ``(2,)`` or ``(N, 2)``
    -> ``t`` ``(N, 3)`` mm. Joints with ``valid == False`` or non-finite ``uv`` are left out."""
    p = np.asarray(pose, np.float64)
    q = np.asarray(uv, np.float64)
    n, j = p.shape[:2]
    f = np.broadcast_to(np.asarray(f, np.float64), (n, 2))
    c = np.broadcast_to(np.asarray(c, np.float64), (n, 2))
    ok = np.isfinite(q).all(-1) & np.isfinite(p).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    d = np.where(ok[..., None], q - c[:, None], 0.0)          # (N, J, 2) u - c
    pp = np.where(ok[..., None], p, 0.0)
    w = ok.astype(np.float64)
    # rows: x: f_x t_x - d_x t_z = d_x Z - f_x X ; y: f_y t_y - d_y t_z = d_y Z - f_y Y
    a = np.zeros((n, j, 2, 3))
    a[:, :, 0, 0] = f[:, None, 0]
    a[:, :, 1, 1] = f[:, None, 1]
    a[:, :, :, 2] = -d
    b = d * pp[..., 2:3] - f[:, None] * pp[..., :2]
    a = (a * w[..., None, None]).reshape(n, 2 * j, 3)
    b = (b * w[..., None]).reshape(n, 2 * j)
    ata = np.einsum("nki,nkj->nij", a, a) + 1e-9 * np.eye(3)
    atb = np.einsum("nki,nk->ni", a, b)
    return np.linalg.solve(ata, atb[..., None])[..., 0]


def reprojection_error(pose: np.ndarray, uv: np.ndarray, f, c, valid: Optional[np.ndarray] = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Mean pixel distance ``(N,)`` between ``uv`` and the projection of ``pose + fit_translation(...)``, and that
    translation ``(N, 3)``."""
    t = fit_translation(pose, uv, f, c, valid)
    p = np.asarray(pose, np.float64) + t[:, None]
    n = p.shape[0]
    f = np.broadcast_to(np.asarray(f, np.float64), (n, 2))[:, None]
    c = np.broadcast_to(np.asarray(c, np.float64), (n, 2))[:, None]
    z = np.where(p[..., 2:3] > 1e-6, p[..., 2:3], np.nan)
    proj = p[..., :2] / z * f + c
    err = np.linalg.norm(proj - np.asarray(uv, np.float64), axis=-1)
    ok = np.isfinite(err)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    return np.where(ok, err, 0.0).sum(-1) / np.maximum(ok.sum(-1), 1), t


def weak_perspective_error(pose: np.ndarray, uv: np.ndarray, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Mean pixel distance ``(N,)`` after the least-squares scaled orthographic fit ``uv ~ s * pose[:, :2] + m``
    (for photos without camera intrinsics; ``s >= 0``)."""
    p = np.asarray(pose, np.float64)[..., :2]
    q = np.asarray(uv, np.float64)
    ok = np.isfinite(q).all(-1) & np.isfinite(p).all(-1)
    if valid is not None:
        ok &= np.asarray(valid, bool)
    w = ok[..., None].astype(np.float64)
    cnt = np.maximum(w.sum(1, keepdims=True), 1.0)
    pm = (np.where(ok[..., None], p, 0.0)).sum(1, keepdims=True) / cnt
    qm = (np.where(ok[..., None], q, 0.0)).sum(1, keepdims=True) / cnt
    p0 = np.where(ok[..., None], p - pm, 0.0)
    q0 = np.where(ok[..., None], q - qm, 0.0)
    s = np.clip((p0 * q0).sum((1, 2)) / np.maximum((p0 * p0).sum((1, 2)), 1e-12), 0.0, None)
    err = np.linalg.norm(s[:, None, None] * p0 - q0, axis=-1)
    return np.where(ok, err, 0.0).sum(-1) / np.maximum(ok.sum(-1), 1)


def select_hypotheses(errors: np.ndarray) -> np.ndarray:
    """``errors`` ``(N, H)`` (non-finite = unusable) -> the index ``(N,)`` of the smallest per sample (0 where all
    are unusable)."""
    e = np.asarray(errors, np.float64)
    return np.argmin(np.where(np.isfinite(e), e, np.inf), axis=1)
