"""The 3D pose task's two model kinds built from a config, and the config's checks: a lifter (2D joints -> skeleton
maps -> 3D, :class:`~structnet.pose3d.model.Lifter`; ``model.kind`` ``maps`` or ``keypoints``) or the image ->
skeleton-map network (:class:`~structnet.pose3d.maps_net.SkeletonMapNet`; ``model.kind: image``). Their datasets
are in :mod:`.data` (lifter) and :mod:`.maps_data` (maps network), their losses in :mod:`.losses`.
"""
from __future__ import annotations

from ..errors import UserError
from .config import Pose3DConfig
from .model import Lifter

__all__ = ["check_config", "build_model", "build_image_model"]


def check_config(cfg: Pose3DConfig) -> None:
    m, d = cfg.model, cfg.data
    if m.crops is not None and len(m.crops) != len(m.widths):
        raise UserError(f"model.crops has {len(m.crops)} values for {len(m.widths)} model.widths (one per hypothesis)")
    if not m.widths or min(m.widths) <= 0:
        raise UserError(f"model.widths: one positive stick width per hypothesis, got {m.widths}")
    if m.map_size % 16:
        raise UserError(f"model.map_size must be a multiple of 16, got {m.map_size}")
    if not all(0.0 <= v <= 1.0 for v in (d.flip_prob, d.no_order_prob, d.sh_prob)):
        raise UserError(f"data.flip_prob, data.no_order_prob and data.sh_prob are probabilities in [0, 1], got "
                        f"{d.flip_prob}, {d.no_order_prob} and {d.sh_prob}")
    if d.noise_px < 0 or d.every < 1:
        raise UserError("data.noise_px must be >= 0 and data.every >= 1")
    if not 0.0 <= d.outlier_prob <= 1.0 or d.outlier_sigma < 0:
        raise UserError(f"data.outlier_prob must be in [0, 1] and data.outlier_sigma >= 0, got {d.outlier_prob} and "
                        f"{d.outlier_sigma}")
    if m.kind == "image" and (m.crops is not None and any(c != 1.0 for c in m.crops)):
        raise UserError("model.kind image draws the maps of crop scale 1 (model.crops must be unset or all 1.0)")
    if d.jitter < 0:
        raise UserError(f"data.jitter must be >= 0, got {d.jitter}")
    if not 0.0 <= d.real_prob <= 1.0:
        raise UserError(f"data.real_prob is a probability in [0, 1], got {d.real_prob}")
    if d.real_prob > 0 and d.real_root is None:
        raise UserError("data.real_prob > 0 needs data.real_root (an LSP-extended folder)")


def build_model(cfg: Pose3DConfig):
    m = cfg.model
    if m.kind == "image":
        return build_image_model(cfg)
    return Lifter(kind=m.kind, widths=m.widths, crops=m.crops, map_size=m.map_size, box_scale=m.box_scale,
                  depth_order=m.depth_order, regressor_width=m.regressor_width, hidden=m.hidden, dropout=m.dropout)


def build_image_model(cfg: Pose3DConfig):
    """The image -> skeleton-map network (:class:`~structnet.pose3d.maps_net.SkeletonMapNet`) of ``cfg.model``."""
    from .maps_net import SkeletonMapNet

    m = cfg.model
    return SkeletonMapNet(widths=m.widths, map_size=m.map_size, box_scale=m.box_scale, backbone=m.backbone,
                          pretrained=m.pretrained, features=m.features)
