"""The 2D pose task wired to the engine: the network and codec from the config, the named loss terms, the stage
checks and the reduce-on-plateau schedule (datasets and the sample pipeline: :mod:`.data`). Training runs through
:func:`structnet.tasks.run.train` (one stage) and :func:`structnet.tasks.run.train_stages` (stages chained).

Training stages (Ke et al. 2018, Sec. 4.1)
------------------------------------------
Each stage is one config file; :func:`structnet.tasks.run.train_stages` runs several in order and resolves ``model.init: previous``
to the previous stage's ``model.safetensors``. The paper's stages:

1. MSS-net: ``model.msr: false`` (the model has no MSR-net, so no parameter is left without a gradient, which
   DistributedDataParallel would reject), ``loss.supervise: [stacks]``.
2. MSR-net with the MSS-net fixed: ``model.msr: true``, ``model.freeze: [mss]``, ``loss.supervise: [msr]``,
   ``model.init: previous``. Weights without an MSR-net may initialise a model with one; every other mismatch is
   an error. Frozen parameters are not handed to the optimizer nor to DDP, and their BatchNorm statistics stay
   fixed (:meth:`PoseNet.freeze`).
3. All together with keypoint masking: ``model.freeze: []``, ``loss.supervise: [stacks, msr]``,
   ``data.keypoint_masking: true``, ``model.init: previous``.

Consistency checks (:func:`check_config`) refuse combinations that would train nothing or leave a trainable part
without a loss (e.g. an MSR-net that is built but neither supervised nor frozen).

Reduce on plateau (:class:`PlateauHook`)
----------------------------------------
The paper divides the learning rate by 5 "when the performance does not improve after 8 epochs". The engine's
schedules are functions of the step, so this is a task hook: with ``plateau.enabled`` the validation score
(``mean`` of :func:`evaluate_pose2d`) is computed every ``train.eval_every`` steps (set it to one epoch); after
``patience`` evaluations without an improvement larger than ``threshold`` every group's base learning rate is
divided by ``factor`` (not below ``min_lr x lr_mult``). The base rates live in the scheduler's state, so they are
checkpointed; the hook's counters are rebuilt on resume from ``out_dir/metrics.jsonl``.

Evaluation (:func:`evaluate_pose2d`)
------------------------------------
Each person is predicted by :func:`structnet.pose2d.inference.predict_pose` (the same code as ``structnet
predict``: crop, flip test, multi-scale fusion, DARK decoding) in the window of its record (or the whole image,
``window="image"``) and scored in original image pixels: PCK@0.2 normalised by the torso (LSP's ``eval_pck.m``:
``<=``, pooled mean, torso = left shoulder - right hip; persons whose torso is not measurable are skipped) with
the AUC over thresholds 0..0.2 (step 0.01), or MPII PCKh@0.5 (head normaliser, ``official`` protocol by default)
with the AUC over 0..0.5.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, Union

import numpy as np
import torch

from ..engine.logging import HookBase, get_logger
from ..errors import UserError
from ..keypoints.layouts import KeypointLayout, get_layout
from .codec import HeatmapCodec
from .config import PlateauConfig, Pose2DConfig
from .data import layout_of
from .heads import FREEZE_PARTS
from .losses import pose2d_losses
from .model import PoseNet, build_pose_model
from .person import PERSON_BOX, build_person_model

__all__ = ["build_model", "make_codec", "load_init_weights", "check_config", "make_loss_fn", "PlateauHook",
           "PREVIOUS"]

from ..tasks.run import PREVIOUS  # noqa: E402  (``model.init: previous``)


# ------------------------------------------------------------------------------------------------ model
def _levels(cfg) -> int:
    """Number of map scales the model's outputs have (targets are needed for each)."""
    m = cfg
    return max(m.depth if m.mss else 1, m.msr_depth if (m.msr and m.msr_multiscale) else 1)


def make_codec(cfg: Pose2DConfig) -> HeatmapCodec:
    """Codec of the config: input ``data.input_size`` square, heatmaps of a quarter of it, ``data.sigma``, one
    scale per output level of the model (``1, 2, 4, 8`` for depth 4 with MSS)."""
    s = int(cfg.data.input_size)
    levels = _levels(cfg.model)
    mult = 4 * 2 ** max(cfg.model.depth, cfg.model.msr_depth if cfg.model.msr else 0)
    if s < mult or s % mult:
        raise ValueError(f"data.input_size must be a positive multiple of {mult} for depth {cfg.model.depth} "
                         f"(stride 4 x 2**depth), got {s}")
    return HeatmapCodec(input_size=(s, s), heatmap_size=(s // 4, s // 4), sigma=float(cfg.data.sigma),
                        scales=tuple(2 ** k for k in range(levels)))


def build_model(cfg: Pose2DConfig) -> PoseNet:
    """:func:`build_pose_model` of ``cfg.model`` for the joint layout of ``cfg.data.dataset`` (not frozen yet), or
    the person-box network of ``model.arch: person_box`` (:mod:`structnet.pose2d.person`)."""
    m = cfg.model
    if m.arch == PERSON_BOX:
        return build_person_model(m.backbone, m.pretrained, int(cfg.data.input_size))
    lay = get_layout(layout_of(cfg.data.dataset))
    return build_pose_model(lay.num_joints, stacks=m.stacks, features=m.features, depth=m.depth, mss=m.mss,
                            msr=m.msr, msr_input=m.msr_input, msr_features=m.msr_features, msr_depth=m.msr_depth,
                            msr_multiscale=m.msr_multiscale, arch=m.arch, backbone=m.backbone,
                            pretrained=m.pretrained, head_std=m.head_std)


def load_init_weights(net: PoseNet, path: Union[str, Path]) -> Dict[str, object]:
    """Initialise ``net`` from a safetensors file of a PoseNet. Tensors must match by name and shape, except that
    a file without MSR-net tensors may initialise a model with an MSR-net (stage 1 -> stage 2); the MSR-net then
    keeps its fresh initialisation. Anything else (missing stack tensors, unexpected names, other shapes) is a
    ValueError naming the file. Returns the file's metadata."""
    from ..nn.weights import load_weights, read_tensor_shapes

    p = Path(path)
    if not p.is_file():
        raise UserError(f"model.init weights not found: {p}")
    shapes = read_tensor_shapes(p)
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    unexpected = sorted(set(shapes) - set(own))
    missing = sorted(set(own) - set(shapes))
    bad = sorted(k for k in set(own) & set(shapes) if own[k] != shapes[k])
    not_msr = [k for k in missing if not k.startswith("msr.")]
    if unexpected or bad or not_msr:
        parts = []
        for what, keys in (("unexpected", unexpected), ("shape mismatch", bad), ("missing", not_msr)):
            if keys:
                parts.append(f"{what} ({len(keys)}): {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}")
        raise UserError(f"model.init {p}: weights do not fit this model: " + "; ".join(parts))
    meta = load_weights(net, p, strict=not missing)
    if missing:
        get_logger().info(f"model.init {p}: no MSR-net in the file; MSR-net starts from its fresh initialisation")
    return meta


def check_config(cfg: Pose2DConfig) -> None:
    """Refuse stage settings that train nothing or leave trainable parameters without a loss (one-line
    ValueError naming the keys). Supervising a part the model lacks (``msr`` with ``model.msr: false``) is
    allowed and does nothing, as in :func:`~structnet.pose2d.losses.pose2d_losses`, so that ablation configs can
    differ only in their switches."""
    m, sup = cfg.model, list(cfg.loss.supervise)
    if m.arch == PERSON_BOX:
        if m.freeze:
            raise ValueError("model.freeze: a person-box model (model.arch: person_box) has no parts to freeze")
        if int(cfg.data.input_size) < 32:
            raise ValueError(f"data.input_size must be >= 32 for a person-box model, got {cfg.data.input_size}")
        return
    bad = [p for p in m.freeze if p not in FREEZE_PARTS]
    if bad:
        raise ValueError(f"model.freeze: unknown part(s) {bad}; valid: {', '.join(FREEZE_PARTS)}")
    bad = [p for p in sup if p not in ("stacks", "msr")]
    if bad or not sup:
        raise ValueError(f"loss.supervise must be a non-empty subset of [stacks, msr], got {sup}")
    frozen = set()
    for p in m.freeze:
        frozen |= {"all": {"stem", "stacks", "msr"}, "mss": {"stem", "stacks"}}.get(p, {p})
    if "msr" in frozen and not m.msr:
        raise ValueError("model.freeze names 'msr' but model.msr is false")
    if "stacks" in sup and "stacks" in frozen:
        raise ValueError("loss.supervise includes 'stacks' but model.freeze fixes them: their loss terms could not "
                         "train anything (stage 2 uses loss.supervise=[msr])")
    if "msr" in sup and "msr" in frozen:
        raise ValueError("loss.supervise includes 'msr' but model.freeze fixes it")
    if m.msr and "msr" not in sup and "msr" not in frozen:
        raise ValueError("model.msr is true but the MSR-net is neither supervised nor frozen: its parameters would "
                         "get no gradient (DDP fails); add msr to loss.supervise, freeze it, or set model.msr=false")
    if "stacks" not in sup and not {"stem", "stacks"} <= frozen:
        raise ValueError("loss.supervise lacks 'stacks' but the MSS-net is not frozen: it would learn only "
                         "through the MSR-net; freeze it (model.freeze=[mss]) as the paper's stage 2 does, or "
                         "supervise the stacks")
    if cfg.plateau.enabled and cfg.train.eval_every <= 0:
        raise ValueError("plateau.enabled needs train.eval_every > 0 (evaluations to watch; one epoch of steps)")
    if cfg.plateau.enabled and not (cfg.plateau.factor > 1 and cfg.plateau.patience >= 1):
        raise ValueError(f"plateau.factor must be > 1 and plateau.patience >= 1, got {cfg.plateau.factor}, "
                         f"{cfg.plateau.patience}")


def make_loss_fn(cfg: Pose2DConfig, layout: Union[str, KeypointLayout]):
    """``loss_fn(model, batch)`` for the trainer: :func:`pose2d_losses` of the model's outputs against
    ``batch["targets"]`` with ``batch["weights"]`` (terms ``ms_<part>_s<h>`` and ``struct_<part>_s<h>``)."""
    lc = cfg.loss
    lay = get_layout(layout)
    supervise = tuple(lc.supervise)

    def loss_fn(model, batch) -> Dict[str, torch.Tensor]:
        out = model(batch["image"])
        return pose2d_losses(out, batch["targets"], lay, batch["weights"], alpha=lc.alpha, combine=lc.combine,
                             reduction=lc.reduction, supervise=supervise)

    return loss_fn


# ------------------------------------------------------------------------------------------ plateau
class PlateauHook(HookBase):
    """Reduce-on-plateau of the base learning rates (module docstring). Watches ``metrics[key]`` (higher is
    better) after every evaluation."""

    def __init__(self, cfg: PlateauConfig, key: str = "mean"):
        self.cfg, self.key = cfg, key
        self.best = -math.inf
        self.bad = 0
        self.reductions = 0

    def _update(self, value: float) -> bool:
        """Counts ``value``; True when the learning rate is to be reduced now."""
        if value is None or not np.isfinite(value):
            self.bad += 1
        elif value > self.best + self.cfg.threshold:
            self.best, self.bad = float(value), 0
        else:
            self.bad += 1
        if self.bad >= self.cfg.patience:
            self.bad = 0
            return True
        return False

    def before_train(self, trainer) -> None:
        """Rebuild best / counter from the evaluations logged up to the resumed step (the reduced rates
        themselves come back with the scheduler state)."""
        self.best, self.bad, self.reductions = -math.inf, 0, 0
        f = Path(trainer.out_dir) / "metrics.jsonl"
        if trainer.start_step <= 0 or not f.is_file():
            return
        by_step: Dict[int, float] = {}
        for line in f.read_text().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and int(d.get("step", -1)) <= trainer.start_step and self.key in d:
                by_step[int(d["step"])] = d[self.key]  # a repeated step (re-run after a kill): the last one
        for s in sorted(by_step):
            if self._update(by_step[s]):
                self.reductions += 1

    def after_eval(self, trainer, step: int, metrics: Dict[str, float]) -> None:
        if not self._update(metrics.get(self.key)):
            return
        sched, opt = trainer.scheduler, trainer.optimizer
        changed = []
        for i, g in enumerate(opt.param_groups):
            old = float(sched.base_lrs[i])
            new = max(old / self.cfg.factor, self.cfg.min_lr * float(g.get("lr_mult", 1.0)))
            if new < old:
                sched.base_lrs[i] = new
                g["lr"] = g["lr"] * new / old
                changed.append((old, new))
        self.reductions += 1
        if changed:
            get_logger().info(f"plateau at step {step}: no {self.key} improvement for {self.cfg.patience} "
                              f"evaluation(s); base lr {changed[0][0]:.3g} -> {changed[0][1]:.3g}")
