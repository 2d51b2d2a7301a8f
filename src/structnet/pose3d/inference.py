"""3D pose of a person in a photo: 2D joints from a pose2d model -> skeleton maps -> hypotheses -> the one whose
weak-perspective projection best matches the 2D joints (no camera intrinsics are known for a photo)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from .hypotheses import select_hypotheses, weak_perspective_error
from .model import Lifter, normalise_2d
from .skeleton import lsp_to_h36m
from .train import lift

__all__ = ["predict_from_2d", "predict_image"]


def predict_from_2d(net: Lifter, joints2d: np.ndarray, depth_order: str = "estimated") -> Dict[str, Any]:
    """One person's 17 H36M joints ``(17, 2)`` in image pixels -> ``joints3d`` (17, 3) mm (root-relative, camera
    frame), ``hypothesis`` (its index), ``hypotheses`` ([{width, crop, reprojection_px}]), ``maps`` (6, S, S) of
    the chosen hypothesis (the ones its regressor read), ``all_joints3d`` (H, 17, 3)."""
    j2 = np.asarray(joints2d, np.float64)[None]
    if j2.shape != (1, 17, 2) or not np.isfinite(j2).all():
        raise ValueError(f"17 finite 2D joints needed, got shape {j2.shape[1:]}")
    hyps, used = lift(net, j2, None, depth_order, return_depth=True)
    hyps = hyps[0]                                                             # (H, 17, 3)
    errs = np.array([weak_perspective_error(hyps[h:h + 1], j2)[0] for h in range(len(hyps))])
    chosen = int(select_hypotheses(errs[None])[0])
    maps = None
    if net.kind == "maps":
        kp, _, _ = normalise_2d(j2, net.box_scale)
        z = None if used is None else torch.from_numpy(used[:, chosen])        # the order its maps were drawn in
        maps = net.maps(torch.from_numpy(kp), z, chosen)[0].numpy()
    return {"joints3d": hyps[chosen], "joints2d": j2[0], "hypothesis": chosen, "all_joints3d": hyps, "maps": maps,
            "hypotheses": [{"width": w, "crop": c, "reprojection_px": float(e)}
                           for w, c, e in zip(net.widths, net.crops, errs)]}


def predict_image(net: Lifter, pose2d_model, image: np.ndarray, box: Optional[Sequence[float]] = None
                  ) -> Dict[str, Any]:
    """A photo ``(H, W, 3)`` uint8 -> :func:`predict_from_2d` of the LSP joints ``pose2d_model`` finds (the whole
    image then the box of its joints, or ``box``), plus ``scores_2d`` (the 14 LSP joint scores)."""
    from ..pose2d.inference import predict_pose, predict_pose_auto

    if box is None:
        r = predict_pose_auto(pose2d_model, image)
    else:
        r = predict_pose(pose2d_model, image, box=box)
    out = predict_from_2d(net, lsp_to_h36m(np.asarray(r["keypoints"], np.float64)))
    out["scores_2d"] = np.asarray(r["scores"], np.float64)
    return out
