"""3D pose of a person in a photo. Two ways to the skeleton maps:

* the paper's (:func:`predict_image` with a ``maps_net``): the image crop around the person -> the image -> maps
  network (:class:`~structnet.pose3d.maps_net.SkeletonMapNet`) -> each hypothesis' maps -> its regressor;
* from 2D joints (:func:`predict_from_2d`): the joints drawn as maps (depth order from a first, order-free pass).

Either way the 2D joints of a pose2d model give the person box and choose the hypothesis: the one whose
weak-perspective projection best matches them (no camera intrinsics are known for a photo)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .hypotheses import select_hypotheses, weak_perspective_error
from .model import Lifter, normalise_2d
from .skeleton import lsp_to_h36m
from .train import lift

__all__ = ["predict_from_2d", "predict_from_maps", "crop_person", "predict_image"]


def predict_from_2d(net: Lifter, joints2d: np.ndarray, depth_order: str = "estimated", flip: bool = False
                    ) -> Dict[str, Any]:
    """One person's 17 H36M joints ``(17, 2)`` in image pixels -> ``joints3d`` (17, 3) mm (root-relative, camera
    frame), ``hypothesis`` (its index), ``hypotheses`` ([{width, crop, reprojection_px}]), ``maps`` (6, S, S) of
    the chosen hypothesis (the ones its regressor read), ``all_joints3d`` (H, 17, 3). ``flip``: test-time
    mirroring (:func:`~structnet.pose3d.train.lift`; ``structnet eval pose3d --flip``)."""
    j2 = np.asarray(joints2d, np.float64)[None]
    if j2.shape != (1, 17, 2) or not np.isfinite(j2).all():
        raise ValueError(f"17 finite 2D joints needed, got shape {j2.shape[1:]}")
    hyps, used = lift(net, j2, None, depth_order, return_depth=True, flip=flip)
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


def crop_person(image: np.ndarray, center: Sequence[float], side: float, size: int) -> np.ndarray:
    """The square crop ``center`` / ``side`` (image pixels) of an ``(H, W, 3)`` uint8 image resized to ``size``:
    ``(3, size, size)`` float32 in [0, 1]; outside the image is black. Same geometry as
    :func:`~structnet.pose3d.render.crop_to_map` (crop edges on the outer pixel edges)."""
    import cv2

    s = size / float(side)
    x0, y0 = float(center[0]) - side / 2.0, float(center[1]) - side / 2.0
    # output pixel (u, v) centre <- image point ((u + 0.5) / s + x0, ...) (pixel centres at integers)
    m = np.array([[1 / s, 0, x0 + 0.5 / s], [0, 1 / s, y0 + 0.5 / s]], np.float64)
    out = cv2.warpAffine(np.ascontiguousarray(image), m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out.astype(np.float32).transpose(2, 0, 1) / 255.0


@torch.no_grad()
def predict_from_maps(net: Lifter, maps_net, image: np.ndarray, joints2d: np.ndarray) -> Dict[str, Any]:
    """The paper's pipeline on one person: the crop of the person box of ``joints2d`` (17, 2) (the lifter's box)
    -> ``maps_net`` -> every hypothesis' maps -> its regressor; the hypothesis chosen by weak-perspective
    reprojection against ``joints2d``. Keys as :func:`predict_from_2d`, ``maps`` the chosen hypothesis' maps as
    the network drew them."""
    from .render import person_box

    j2 = np.asarray(joints2d, np.float64)[None]
    if j2.shape != (1, 17, 2) or not np.isfinite(j2).all():
        raise ValueError(f"17 finite 2D joints needed, got shape {j2.shape[1:]}")
    if maps_net.widths != list(net.widths) or maps_net.map_size != net.map_size:
        raise ValueError(f"the maps model draws widths {maps_net.widths} at {maps_net.map_size} px, the lifter "
                         f"reads {list(net.widths)} at {net.map_size} px")
    center, side = person_box(j2, maps_net.box_scale)
    crop = torch.from_numpy(crop_person(image, center[0], float(side[0]), maps_net.image_size))[None]
    maps_net.eval()
    net.eval()
    maps = maps_net.maps(crop.contiguous(memory_format=torch.channels_last))[0]          # (H, 6, S, S)
    hyps = torch.stack([net.nets[h](maps[h:h + 1].contiguous(memory_format=torch.channels_last))[0]
                        for h in range(net.hypotheses)]).numpy().astype(np.float64)   # (H, 17, 3)
    errs = np.array([weak_perspective_error(hyps[h:h + 1], j2)[0] for h in range(len(hyps))])
    chosen = int(select_hypotheses(errs[None])[0])
    return {"joints3d": hyps[chosen], "joints2d": j2[0], "hypothesis": chosen, "all_joints3d": hyps,
            "maps": maps[chosen].numpy(), "maps_from": "image",
            "hypotheses": [{"width": w, "crop": c, "reprojection_px": float(e)}
                           for w, c, e in zip(net.widths, net.crops, errs)]}


def predict_image(net: Lifter, pose2d_model, image: np.ndarray, box: Optional[Sequence[float]] = None,
                  maps_net=None, flip: bool = True, members: Sequence[Tuple[str, Lifter]] = (),
                  name: str = "lifter") -> Dict[str, Any]:
    """A photo ``(H, W, 3)`` uint8 -> the 3D pose of the person whose LSP joints ``pose2d_model`` finds (the whole
    image then the box of its joints, or ``box``): :func:`predict_from_maps` with ``maps_net``, else
    :func:`predict_from_2d` (test-time mirroring ``flip``, as ``structnet eval pose3d``); plus ``scores_2d`` (the
    14 LSP joint scores). ``members``: ``(name, lifter)`` pairs that lift the same 17 joints
    (:func:`predict_from_2d`); ``joints3d`` is then the mean of every lifter's chosen pose (``structnet eval pose3d
    --ensemble``), ``ensemble`` the names (``name``, this lifter's, first) and ``joints3d_members`` ``(M, 17, 3)``
    the poses."""
    from ..pose2d.inference import predict_pose, predict_pose_auto

    if box is None:
        r = predict_pose_auto(pose2d_model, image)
    else:
        r = predict_pose(pose2d_model, image, box=box)
    j17 = lsp_to_h36m(np.asarray(r["keypoints"], np.float64))
    if maps_net is not None:
        out = predict_from_maps(net, maps_net, image, j17)
    else:
        out = predict_from_2d(net, j17, flip=flip)
        out["maps_from"] = "2d joints"
        out["flip_test"] = bool(flip)
    out["scores_2d"] = np.asarray(r["scores"], np.float64)
    if members:
        poses = [out["joints3d"]] + [predict_from_2d(m, j17, flip=flip)["joints3d"] for _, m in members]
        out["joints3d_members"] = np.stack(poses)
        out["joints3d"] = out["joints3d_members"].mean(axis=0)
        out["ensemble"] = [str(name)] + [str(n) for n, _ in members]
    return out
