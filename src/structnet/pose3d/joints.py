"""The 17-joint Human3.6M skeleton, its 15 body parts and their colours (Wan et al. 2017, Sec. 3.1).

Joints are the 17 of the 3d-pose-baseline layout (Martinez et al. 2017), hip (pelvis) first; "left" and "right"
are the subject's own. The paper draws 15 body parts, each in its own colour, between neighbouring joints of the
skeleton of Sun et al. [42]. The 17-joint tree has 16 bones; the paper does not list its parts, so here the two
bones of the neck and head (thorax -> neck/nose -> head) are one part, ``head``, drawn as two sticks of one colour.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

import numpy as np

__all__ = ["JOINTS", "PARENTS", "ROOT", "BONES", "PARTS", "STICKS", "STICK_PART", "PART_COLORS", "ACTIONS",
           "FLIP_PERM", "SH_TO_H36M", "LSP_TO_H36M", "action_of", "sh_to_h36m", "joint_spread",
           "fit_detection_offsets", "apply_detection_offsets",
           "lsp_to_h36m"]

#: The 17 joint names, index = position in every (..., 17, D) array.
JOINTS: Tuple[str, ...] = (
    "hip", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine", "thorax",
    "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist")
#: Parent of each joint in the kinematic tree (-1: the root).
PARENTS: Tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
#: The root joint: the hip (pelvis). Protocol #1 aligns poses here.
ROOT = 0
#: The 16 bones (parent, child).
BONES: Tuple[Tuple[int, int], ...] = tuple((p, c) for c, p in enumerate(PARENTS) if p >= 0)

#: The 15 body parts and the sticks (joint pairs) each one draws.
PARTS: Dict[str, Tuple[Tuple[int, int], ...]] = {
    "right_pelvis": ((0, 1),), "right_thigh": ((1, 2),), "right_shin": ((2, 3),),
    "left_pelvis": ((0, 4),), "left_thigh": ((4, 5),), "left_shin": ((5, 6),),
    "lower_spine": ((0, 7),), "upper_spine": ((7, 8),), "head": ((8, 9), (9, 10)),
    "left_clavicle": ((8, 11),), "left_upper_arm": ((11, 12),), "left_forearm": ((12, 13),),
    "right_clavicle": ((8, 14),), "right_upper_arm": ((14, 15),), "right_forearm": ((15, 16),),
}
#: Every stick (joint pair) drawn, in one order, and the index of its part in :data:`PARTS`.
STICKS: Tuple[Tuple[int, int], ...] = tuple(s for sticks in PARTS.values() for s in sticks)
STICK_PART: Tuple[int, ...] = tuple(i for i, sticks in enumerate(PARTS.values()) for _ in sticks)

#: One RGB colour in [0, 1] per part (background is black): left limbs warm, right limbs cool, the trunk grey-green,
#: every pair of parts at least 0.35 apart (Euclidean), so a network's colour regression can tell them apart.
PART_COLORS = np.array([
    [0.0, 0.4, 1.0], [0.0, 0.8, 1.0], [0.0, 1.0, 0.6],      # right pelvis, thigh, shin
    [1.0, 0.4, 0.0], [1.0, 0.8, 0.0], [1.0, 0.0, 0.4],      # left pelvis, thigh, shin
    [0.5, 0.5, 0.5], [0.4, 1.0, 0.0], [1.0, 1.0, 1.0],      # lower spine, upper spine, head
    [1.0, 0.0, 1.0], [0.6, 0.0, 0.2], [1.0, 0.6, 0.6],      # left clavicle, upper arm, forearm
    [0.4, 0.0, 1.0], [0.0, 0.2, 0.5], [0.6, 0.6, 1.0],      # right clavicle, upper arm, forearm
], dtype=np.float32)

#: Joint permutation of a left-right mirror image.
FLIP_PERM: Tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)

#: The 15 Human3.6M actions as named in the data files (subaction numbers stripped).
ACTIONS: Tuple[str, ...] = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                            "Purchases", "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking",
                            "WalkTogether")

#: Stacked Hourglass (MPII 16-joint order) -> H36M 17 joints. Limbs, hip and head map one to one (MPII pelvis ->
#: hip, head top -> head); MPII upper neck -> H36M thorax. The H36M spine and neck have no MPII counterpart:
#: :func:`sh_to_h36m` puts the spine midway between MPII pelvis and thorax and the neck midway between thorax and
#: head. Measured on S11 (every 25th frame, 4 cameras), median distance to the projected GT joint: thorax 6.3 px
#: (MPII thorax: 10.7), spine 9.3 px (Martinez et al.'s MPII thorax -> spine: 44.5 px), neck 9.3 px, head 20.9 px.
SH_TO_H36M: Dict[int, int] = {0: 3, 1: 2, 2: 1, 3: 4, 4: 5, 5: 6, 6: 0, 8: 8, 9: 10,
                              10: 16, 11: 15, 12: 14, 13: 11, 14: 12, 15: 13}

#: LSP 14 joints (pose2d's ``lsp14`` layout) -> H36M 17: limbs one to one, hip = mid-hips, thorax = LSP neck,
#: head = head top, spine = midway between hip and mid-shoulders, neck = midway between thorax and head.
LSP_TO_H36M: Dict[int, int] = {0: 3, 1: 2, 2: 1, 3: 4, 4: 5, 5: 6, 6: 16, 7: 15, 8: 14, 9: 11, 10: 12, 11: 13,
                               12: 8, 13: 10}


def action_of(sequence: str) -> str:
    """The action of a sequence name: ``"Directions 1"`` -> ``"Directions"``, ``"WalkDog_1"`` -> ``"WalkDog"``;
    ``"TakingPhoto"`` / ``"WalkingDog"`` (the original release's spellings) -> ``"Photo"`` / ``"WalkDog"``."""
    name = re.sub(r"[ _]?\d+$", "", sequence.strip())
    return {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}.get(name, name)


def _remap(x: np.ndarray, mapping: Dict[int, int], n_in: int, what: str) -> np.ndarray:
    """``(..., n_in, 2)`` -> ``(..., 17, 2)`` with ``out[mapping[i]] = x[i]`` (the other joints left to fill)."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-2:] != (n_in, 2):
        raise ValueError(f"{what} must have shape (..., {n_in}, 2), got {x.shape}")
    out = np.empty(x.shape[:-2] + (17, 2), dtype=np.float32)
    src = list(mapping)
    out[..., [mapping[i] for i in src], :] = x[..., src, :]
    return out


def sh_to_h36m(det: np.ndarray) -> np.ndarray:
    """Stacked Hourglass detections ``(..., 16, 2)`` in MPII order -> ``(..., 17, 2)`` in :data:`JOINTS` order
    (:data:`SH_TO_H36M`; spine and neck interpolated)."""
    out = _remap(det, SH_TO_H36M, 16, "Stacked Hourglass detections")
    det = np.asarray(det, dtype=np.float32)
    out[..., 7, :] = 0.5 * (det[..., 6, :] + det[..., 7, :])
    out[..., 9, :] = 0.5 * (out[..., 8, :] + out[..., 10, :])
    return out


def joint_spread(j: np.ndarray) -> np.ndarray:
    """``(..., 17, 2)`` joints -> ``(..., 1, 1)`` their RMS distance to their centroid (pixels): the person's size
    in the image, from the 2D joints alone."""
    j = np.asarray(j, dtype=np.float32)
    c = j.mean(-2, keepdims=True)
    return np.sqrt(((j - c) ** 2).sum(-1).mean(-1))[..., None, None]


def fit_detection_offsets(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """A 2D detector's systematic per-joint offset from the projected GT joints: the median over frames of
    ``(det - gt) / joint_spread(det)``, ``(17, 2)``. ``det``, ``gt``: ``(N, 17, 2)`` pixels (frames with a NaN are
    skipped). Subtract it with :func:`apply_detection_offsets`: it moves each joint by the same fraction of the
    person's size, so the table fits every camera distance."""
    det, gt = np.asarray(det, np.float32), np.asarray(gt, np.float32)
    if det.shape != gt.shape or det.shape[-2:] != (17, 2) or det.ndim != 3:
        raise ValueError(f"det and gt must both be (N, 17, 2), got {det.shape} and {gt.shape}")
    ok = np.isfinite(det).all((1, 2)) & np.isfinite(gt).all((1, 2))
    if not ok.any():
        raise ValueError("no frame with every detected and GT joint finite")
    det, gt = det[ok], gt[ok]
    return np.median((det - gt) / np.maximum(joint_spread(det), 1e-6), axis=0).astype(np.float32)


def apply_detection_offsets(det: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``det`` ``(..., 17, 2)`` pixels less ``offsets`` ``(17, 2)`` (:func:`fit_detection_offsets`) times each
    frame's joint spread."""
    det = np.asarray(det, np.float32)
    return (det - np.asarray(offsets, np.float32) * joint_spread(det)).astype(np.float32)


def lsp_to_h36m(kp: np.ndarray) -> np.ndarray:
    """LSP 14-joint keypoints ``(..., 14, 2)`` -> ``(..., 17, 2)`` in :data:`JOINTS` order (:data:`LSP_TO_H36M`;
    hip, spine and neck interpolated). A missing (NaN) joint stays NaN in every joint made from it."""
    out = _remap(kp, LSP_TO_H36M, 14, "LSP keypoints")
    kp = np.asarray(kp, dtype=np.float32)
    out[..., 0, :] = 0.5 * (kp[..., 2, :] + kp[..., 3, :])
    out[..., 7, :] = 0.5 * (out[..., 0, :] + 0.5 * (kp[..., 8, :] + kp[..., 9, :]))
    out[..., 9, :] = 0.5 * (out[..., 8, :] + out[..., 10, :])
    return out


def _check() -> List[str]:  # pragma: no cover - import-time consistency of the tables above
    problems = []
    if len(STICKS) != len(BONES) or set(STICKS) != set(BONES):
        problems.append("STICKS must draw every bone once")
    if len(PART_COLORS) != len(PARTS):
        problems.append("one colour per part")
    return problems


assert not _check(), _check()
