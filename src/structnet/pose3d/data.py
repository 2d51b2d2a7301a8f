"""Datasets of the 3D pose lifter: the lifting dataset (Human3.6M poses, 2D joints projected with the real
cameras) and the per-sequence evaluation dataset (with the cross-subject offsets of detected 2D joints).

Training samples follow the engine's key convention (``ds[(index, seed)]`` is a pure function of its key): one
frame seen by one camera, 2D joints (projected GT, or with probability ``data.sh_prob`` the frame's Stacked
Hourglass detection) normalised to their person box (:func:`~structnet.pose3d.model.normalise_2d`), the GT camera
depths, and the root-relative camera-frame 3D joints as the target; the choice of input and the augmentation
(left-right mirror, 2D noise, order-free maps) are drawn from the sample's seed.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, List, Optional

import numpy as np

from ..errors import UserError
from .config import Pose3DConfig, Pose3DEvalConfig
from .h36m import H36M
from .joints import FLIP_PERM, ROOT, apply_detection_offsets, fit_detection_offsets, sh_to_h36m
from .model import normalise_2d

__all__ = ["LiftingDataset", "SequenceDataset", "cross_subject_offsets"]


def _root_relative(joints_cam: np.ndarray) -> np.ndarray:
    return (joints_cam - joints_cam[:, ROOT:ROOT + 1]).astype(np.float32)


class LiftingDataset:
    """Frames x cameras of ``cfg.data.subjects`` (module docstring). Sample keys: ``kp`` (17, 2) normalised 2D,
    ``depth`` (17,) camera z in mm, ``order`` (bool: maps drawn with depth order), ``target`` (17, 3) mm. With
    ``data.sh_prob > 0`` every frame needs its detection (a UserError names the first sequence without one)."""

    def __init__(self, cfg: Pose3DConfig):
        d = cfg.data
        h = H36M(d.root)
        a = h.arrays(list(d.subjects), every=d.every)
        self.kp, _, self.side = normalise_2d(a["joints_2d"], cfg.model.box_scale)
        self.sh_prob = float(d.sh_prob)
        self.kp_sh = self.side_sh = None
        if self.sh_prob > 0:
            missing = np.isnan(a["detections"]).any(axis=(1, 2))
            if missing.any():
                i = int(np.argmax(missing))
                raise UserError(f"data.sh_prob {self.sh_prob:g}: no Stacked Hourglass detections of "
                                f"{a['subject'][i]}/{a['sequence'][i]} camera {a['camera'][i]} in {h.root} (training "
                                f"on detections needs them for every training frame: detections_sh_train.npz)")
            self.kp_sh, _, self.side_sh = normalise_2d(sh_to_h36m(a["detections"]), cfg.model.box_scale)
        self.depth = a["joints_cam"][..., 2].astype(np.float32)
        self.target = _root_relative(a["joints_cam"])
        self.flip_prob, self.noise_px, self.no_order_prob = d.flip_prob, d.noise_px, d.no_order_prob
        self.outlier_prob, self.outlier_sigma = d.outlier_prob, d.outlier_sigma
        self.box_scale = cfg.model.box_scale
        self.perm = np.asarray(FLIP_PERM)

    def __len__(self) -> int:
        return len(self.kp)

    def __getitem__(self, key) -> Dict[str, Any]:
        i, seed = key if isinstance(key, tuple) else (key, 0)
        rng = np.random.default_rng(seed)
        z, t = self.depth[i].copy(), self.target[i].copy()
        if self.sh_prob > 0 and rng.random() < self.sh_prob:
            kp, side = self.kp_sh[i].copy(), self.side_sh[i]
        else:
            kp, side = self.kp[i].copy(), self.side[i]
        if self.noise_px > 0:
            kp += rng.normal(0.0, self.noise_px, size=kp.shape).astype(np.float32) / side
        if self.outlier_prob > 0:                              # kp is in units of the box side already
            hit = rng.random(len(kp)) < self.outlier_prob
            kp += (hit[:, None] * rng.normal(0.0, self.outlier_sigma, size=kp.shape)).astype(np.float32)
            # the box of the moved joints, as at test time (in pixels: person_box keeps sides >= 1 px)
            kp = normalise_2d(kp[None] * side, self.box_scale)[0][0]
        if rng.random() < self.flip_prob:
            kp, z, t = kp[self.perm], z[self.perm], t[self.perm]
            kp[:, 0] *= -1.0
            t[:, 0] *= -1.0
        order = bool(rng.random() >= self.no_order_prob)
        return {"kp": kp.astype(np.float32), "depth": z, "order": np.bool_(order), "target": t}


def cross_subject_offsets(h: H36M, subjects: List[str]) -> Dict[str, np.ndarray]:
    """Per subject the SH detections' per-joint offsets (:func:`~.joints.fit_detection_offsets`) fitted on every
    frame of the *other* subjects of ``h`` that have detections: the evaluated subject never enters its own fit."""
    out = {}
    for subj in subjects:
        others = [s for s in h.subjects_with_detections() if s != subj]
        if not others:
            raise UserError(f"eval.sh_offsets=cross-subject: no other subject than {subj} with Stacked Hourglass "
                            f"detections in {h.root} to fit the offsets on")
        a = h.arrays(others, need_detections=True)
        out[subj] = fit_detection_offsets(sh_to_h36m(a["detections"]), a["joints_2d"])
    return out


class SequenceDataset:
    """One sample per (subject, sequence, camera) of ``cfg.eval.subjects``: ``joints_2d`` (N, 17, 2) input
    pixels (projected GT, or the SH detections mapped to 17 joints), ``joints_cam`` (N, 17, 3) mm,
    ``f``, ``c`` (2,), ``action``, ``name``. With ``input: sh`` the pairs without detections are skipped."""

    def __init__(self, e: Pose3DEvalConfig, max_items: Optional[int] = None):
        self.e = e
        h = H36M(e.root)
        subjects = [s for s in e.subjects]
        self.items = list(h.iter_sequences(subjects, need_detections=(e.input == "sh")))
        if max_items is not None:
            self.items = self.items[:int(max_items)]
        self.records = [SimpleNamespace(name=f"{s.subject}/{s.sequence}/{s.camera.name}") for s in self.items]
        self.offsets: Dict[str, np.ndarray] = {}
        if e.input == "sh" and getattr(e, "sh_offsets", "none") == "cross-subject":
            self.offsets = cross_subject_offsets(h, sorted({s.subject for s in self.items}))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        s = self.items[i]
        ev = self.e.every
        j2 = sh_to_h36m(s.detections) if self.e.input == "sh" else s.joints_2d
        if s.subject in self.offsets:
            j2 = apply_detection_offsets(j2, self.offsets[s.subject])
        return {"joints_2d": np.asarray(j2[::ev], np.float32), "joints_cam": s.joints_cam[::ev],
                "f": s.camera.f, "c": s.camera.c, "action": s.action, "name": self.records[i].name}
