"""Training wiring of the hypercolumn task: config checks and the network from the config (the loss:
:mod:`.losses`)."""
from __future__ import annotations

from ..errors import UserError
from .config import TASKS, HypercolumnConfig
from .model import HypercolumnNet

__all__ = ["build_model", "check_config"]


def check_config(cfg: HypercolumnConfig) -> None:
    m = cfg.model
    if m.task not in TASKS:
        raise UserError(f"model.task must be one of {', '.join(TASKS)}, got {m.task!r}")
    if m.grid < 1 or m.grid > 20:
        raise UserError(f"model.grid must be in 1..20, got {m.grid}")
    if m.input_size % 4 or m.input_size < 32:
        raise UserError(f"model.input_size must be a multiple of 4 and >= 32, got {m.input_size}")
    if not cfg.loss.pos_weight > 0:
        raise UserError(f"loss.pos_weight must be > 0, got {cfg.loss.pos_weight}")
    if not 0.0 <= cfg.data.flip_prob <= 1.0:
        raise UserError("data.flip_prob is a probability in [0, 1]")


def build_model(cfg: HypercolumnConfig, pretrained=None) -> HypercolumnNet:
    m = cfg.model
    try:
        return HypercolumnNet(classes=TASKS[m.task], kind=m.task, grid=m.grid, taps=list(m.taps), kernels=m.kernels,
                              global_feature=m.global_feature, backbone=m.backbone,
                              pretrained=m.pretrained if pretrained is None else pretrained,
                              input_size=m.input_size)
    except (KeyError, ValueError) as e:
        raise UserError(f"model: {e}") from None
