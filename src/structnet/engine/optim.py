"""Optimizers with per-prefix lr / weight-decay multipliers, and per-iteration learning-rate schedules."""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from ..errors import UserError
from ..nn.modules import unwrap
from .config import OptimConfig, ScheduleConfig

__all__ = ["build_optimizer", "build_scheduler", "param_groups", "lr_factor"]


def _mult(name: str, table: Dict[str, float]) -> Tuple[float, Optional[str]]:
    """Multiplier of the longest prefix of ``name`` in ``table`` (1.0 when none matches)."""
    best = None
    for p in table:
        if name.startswith(p) and (best is None or len(p) > len(best)):
            best = p
    return (float(table[best]), best) if best is not None else (1.0, None)


def param_groups(model: nn.Module, cfg: OptimConfig) -> List[dict]:
    """Trainable parameters grouped by (lr_mult, wd_mult); each group carries ``lr``, ``weight_decay``,
    ``lr_mult``, ``wd_mult`` and the ``names`` of its parameters. A prefix matching nothing is an error."""
    model = unwrap(model)
    groups: Dict[Tuple[float, float], dict] = {}
    used = set()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lm, lp = _mult(name, cfg.lr_mult)
        wm, wp = _mult(name, cfg.wd_mult)
        used.update(x for x in (("lr_mult", lp), ("wd_mult", wp)) if x[1] is not None)
        g = groups.setdefault((lm, wm), {"params": [], "names": [], "lr": cfg.lr * lm,
                                         "weight_decay": cfg.weight_decay * wm, "lr_mult": lm, "wd_mult": wm})
        g["params"].append(p)
        g["names"].append(name)
    if not groups:
        raise UserError(f"build_optimizer: {type(model).__name__} has no trainable parameters")
    for table in ("lr_mult", "wd_mult"):
        for prefix in getattr(cfg, table):
            if (table, prefix) not in used:
                tops = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
                raise UserError(f"optim.{table}: prefix {prefix!r} matches no trainable parameter name "
                                 f"(top-level names: {', '.join(tops)})")
    return list(groups.values())


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    """SGD (momentum), Adam or AdamW over :func:`param_groups` of the (unwrapped) model."""
    groups = param_groups(model, cfg)
    if cfg.lr <= 0:
        raise UserError(f"optim.lr must be > 0, got {cfg.lr}")
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay)
    raise UserError(f"optim.name: unknown optimizer {cfg.name!r}; valid: sgd, adam, adamw")


def lr_factor(cfg: ScheduleConfig, max_iters: int, floor: float = 0.0) -> Callable[[int], float]:
    """``t -> factor`` of the base lr after ``t`` optimizer steps; ``floor`` is min_lr / base lr."""
    name = cfg.name
    if name == "step" and cfg.step_size <= 0:
        raise UserError(f"schedule.step_size must be > 0 for the step schedule, got {cfg.step_size}")
    if name == "multistep":
        ms = list(cfg.milestones)
        if not ms or any(b <= a for a, b in zip(ms, ms[1:])):
            raise UserError(f"schedule.milestones must be a non-empty increasing list for multistep, got {ms}")
    if name not in ("constant", "step", "multistep", "poly", "cosine"):
        raise UserError(f"schedule.name: unknown schedule {name!r}; valid: constant, step, multistep, poly, cosine")
    if max_iters <= 0:
        raise UserError(f"max_iters must be > 0, got {max_iters}")

    def f(t: int) -> float:
        if name == "constant":
            s = 1.0
        elif name == "step":
            s = max(cfg.gamma ** (t // cfg.step_size), floor)
        elif name == "multistep":
            s = max(cfg.gamma ** sum(t >= m for m in cfg.milestones), floor)
        else:
            x = min(t, max_iters) / max_iters
            d = (1.0 - x) ** cfg.power if name == "poly" else 0.5 * (1.0 + math.cos(math.pi * x))
            s = floor + (1.0 - floor) * d
        if t < cfg.warmup_iters:
            s *= cfg.warmup_factor + (1.0 - cfg.warmup_factor) * t / cfg.warmup_iters
        return s

    return f


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, max_iters: int):
    """A LambdaLR stepped once per optimizer step; each group's lr is ``initial lr * factor(t)``.

    ``min_lr`` is meant for the base lr (lr_mult 1) and scales with each group's lr_mult.
    """
    fns = []
    for g in optimizer.param_groups:
        base = g.get("initial_lr", g["lr"]) / g.get("lr_mult", 1.0)
        fns.append(lr_factor(cfg, max_iters, floor=min(cfg.min_lr / base, 1.0) if base > 0 else 0.0))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, fns)
