"""The 3D pose evaluator: Protocol #1 and #2 errors per action over Human3.6M test sequences, for the chosen
hypothesis and for the baselines every multi-hypothesis model gives at no extra cost (each hypothesis alone, their
average pose, the oracle that picks the hypothesis nearest the ground truth)."""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from ..tasks.base import Evaluator
from .metrics import PROTOCOLS, mpjpe, n_mpjpe, p_mpjpe, per_action, scale_to_gt

__all__ = ["Pose3DEvaluator"]


class Pose3DEvaluator(Evaluator):
    """``process(sample, prediction)`` with a :class:`~structnet.pose3d.data.SequenceDataset` sample and a
    :func:`~structnet.pose3d.inference.predict_sequence` result. ``summarize()``: ``mpjpe_mm`` and ``p_mpjpe_mm``
    (the unweighted mean over actions, the "Avg" of Human3.6M tables), ``per_action`` ({action: mpjpe_mm}),
    ``per_action_p_mpjpe``, ``mpjpe_mm_frames`` (pooled over frames), ``n_frames``, ``protocol``, and per
    hypothesis / average / oracle MPJPE (of the first lifter where the prediction is an ensemble; then also
    ``ensemble_members``: [{model, mpjpe_mm}], each lifter's own chosen pose, names from the setting
    ``ensemble``)."""

    def __init__(self, settings: Dict[str, Any], hypotheses: List[Dict[str, Any]]):
        self.settings, self.hyp_info = dict(settings), list(hypotheses)
        self.reset()

    def reset(self) -> None:
        self._e1: List[np.ndarray] = []
        self._e2: List[np.ndarray] = []
        self._en: List[np.ndarray] = []
        self._scale: List[np.ndarray] = []
        self._hyp: List[np.ndarray] = []
        self._avg: List[np.ndarray] = []
        self._oracle: List[np.ndarray] = []
        self._actions: List[np.ndarray] = []
        self._chosen: List[np.ndarray] = []
        self._reproj: List[np.ndarray] = []
        self._iou: List[np.ndarray] = []
        self._members: List[np.ndarray] = []
        self.sequences = 0

    def process(self, sample: Dict[str, Any], prediction: Dict[str, np.ndarray]) -> None:
        gt = np.asarray(sample["joints_cam"], np.float64)
        hyps = np.asarray(prediction["hypotheses"], np.float64)
        n, nh = hyps.shape[:2]
        if gt.shape != (n, 17, 3):
            raise ValueError(f"{sample.get('name', 'sample')}: {n} predictions for ground truth of shape {gt.shape}")
        self._e1.append(mpjpe(prediction["pose"], gt))
        self._e2.append(p_mpjpe(prediction["pose"], gt))
        self._en.append(n_mpjpe(prediction["pose"], gt))
        self._scale.append(scale_to_gt(prediction["pose"], gt))
        per_h = np.stack([mpjpe(hyps[:, h], gt) for h in range(nh)], axis=1)
        self._hyp.append(per_h)
        self._oracle.append(per_h.min(axis=1))
        self._avg.append(mpjpe(hyps.mean(axis=1), gt))
        self._actions.append(np.full(n, sample["action"], dtype=object))
        self._chosen.append(np.asarray(prediction["chosen"]))
        self._reproj.append(np.asarray(prediction["errors_px"])[np.arange(n), prediction["chosen"]])
        if "members" in prediction:
            m = np.asarray(prediction["members"], np.float64)
            self._members.append(np.stack([mpjpe(m[:, k], gt) for k in range(m.shape[1])], axis=1))
        if "maps_iou" in prediction:
            self._iou.append(np.asarray(prediction["maps_iou"], np.float64))
        self.sequences += 1

    def summarize(self) -> Dict[str, Any]:
        if not self._e1:
            return {"n": 0, "n_frames": 0}
        e1, e2 = np.concatenate(self._e1), np.concatenate(self._e2)
        act = np.concatenate(self._actions)
        hyp = np.concatenate(self._hyp)
        pa1, pa2 = per_action(e1, act), per_action(e2, act)
        chosen = np.concatenate(self._chosen)
        out: Dict[str, Any] = {
            "n": self.sequences, "n_frames": int(len(e1)),
            "protocol": f"{PROTOCOLS['mpjpe_mm']}; {PROTOCOLS['p_mpjpe_mm']}; mpjpe_mm / p_mpjpe_mm = unweighted "
                        f"mean over actions (per_action), mpjpe_mm_frames = mean over frames",
            "mpjpe_mm": pa1.pop("Avg"), "p_mpjpe_mm": pa2.pop("Avg"),
            "mpjpe_mm_frames": float(e1.mean()), "p_mpjpe_mm_frames": float(e2.mean()),
            # the size diagnostic: MPJPE once each frame's pose is scaled by its least-squares factor, and the
            # median of that factor (> 1: the predicted people are too small)
            "n_mpjpe_mm": per_action(np.concatenate(self._en), act)["Avg"],
            "scale_to_gt_median": float(np.median(np.concatenate(self._scale))),
            "per_action": pa1, "per_action_p_mpjpe": pa2,
            "selection": "minimum reprojection error against the input 2D joints",
            "reprojection_px": float(np.concatenate(self._reproj).mean()),
            "hypotheses": [dict(info, mpjpe_mm=per_action(hyp[:, h], act)["Avg"],
                                chosen_fraction=float((chosen == h).mean()))
                           for h, info in enumerate(self.hyp_info[:hyp.shape[1]])],
            "average_pose_mpjpe_mm": per_action(np.concatenate(self._avg), act)["Avg"],
            "oracle_mpjpe_mm": per_action(np.concatenate(self._oracle), act)["Avg"],
        }
        if self._members:
            mem = np.concatenate(self._members)
            names = list(self.settings.get("ensemble") or [])
            out["ensemble_members"] = [{"model": names[k] if k < len(names) else f"member {k}",
                                        "mpjpe_mm": per_action(mem[:, k], act)["Avg"]} for k in range(mem.shape[1])]
        if self._iou:
            out["maps_iou"] = float(np.concatenate(self._iou).mean())
            out["maps_iou_definition"] = ("IoU of the drawn pixels (front map, the middle stick width) of the maps "
                                          "model's output (> 0.5) and of the maps rendered from the GT joints")
        out.update(self.settings)
        return out

    def format(self, s: Dict[str, Any]) -> str:
        if not s.get("n_frames"):
            return "no frames evaluated"
        offsets = f", detector offsets {s['sh_offsets']}" if s.get("sh_offsets", "none") != "none" else ""
        lines = [f"{s['n_frames']} frames of {s['n']} sequences; input {s.get('input')}{offsets}, depth order "
                 f"{s.get('depth_order')}",
                 f"MPJPE {s['mpjpe_mm']:.1f} mm (protocol #1, mean over actions; over frames "
                 f"{s['mpjpe_mm_frames']:.1f}), P-MPJPE {s['p_mpjpe_mm']:.1f} mm (protocol #2)",
                 f"scale-aligned N-MPJPE {s['n_mpjpe_mm']:.1f} mm; the prediction's size x "
                 f"{s['scale_to_gt_median']:.3f} (median) would fit the ground truth"]
        if "maps_iou" in s:
            lines.append(f"skeleton maps drawn by the maps model: IoU {s['maps_iou']:.3f} with the GT maps")
        if s.get("ensemble_members"):
            lines.append("ensemble (mean of the chosen poses) of " + ", ".join(
                f"{m['model']} {m['mpjpe_mm']:.1f}" for m in s["ensemble_members"]))
        if len(s["hypotheses"]) > 1:
            lines.append("hypotheses: " + ", ".join(f"w{h.get('width', '?'):g}/c{h.get('crop', 1):g} "
                                                    f"{h['mpjpe_mm']:.1f} ({100 * h['chosen_fraction']:.0f} %)"
                                                    for h in s["hypotheses"])
                         + f"; average pose {s['average_pose_mpjpe_mm']:.1f}; oracle {s['oracle_mpjpe_mm']:.1f}")
        lines.append("per action: " + ", ".join(f"{a} {v:.1f}" for a, v in s["per_action"].items()))
        return "\n".join(lines)
