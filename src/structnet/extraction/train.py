"""Joint training of the localization and segmentation networks (Wang et al. 2014, Sec. 4): an EM-type loop run
per mini-batch. For each batch:

* **E-step** (no gradients, both nets in eval mode): every image's latent adjustment ``dL_i`` is estimated by
  :mod:`~structnet.extraction.latent` (``latent.search``: ``mcmc`` = K Metropolis-Hastings moves with the
  Gaussian x superpixel proposal; ``exhaustive`` = the arg-min over all 625 adjustments; ``none`` = 0, the
  separate training). The joint cost of a candidate (Eq. 4-6) is the squared distance (units^2) of the
  localization output to the adjusted box plus the summed pixel-wise logistic loss of the segmentation, scored on
  a fixed frame per image (the ground-truth box widened by the largest adjustment; object pixels outside the
  candidate box count as background): :func:`structnet.extraction.losses.joint_costs`. Scored inside each candidate's own crop instead (Eq. 6
  read literally) the E-step shrinks boxes into the object, whose crops are all foreground (on synthetic shapes
  every edge moves inward on average, and joint training loses to separate training).
* **M-step**: one optimizer step on both nets with the references fixed (:class:`~structnet.extraction.losses.JointLoss`
  computes both steps' losses): the localization net regresses
  ``L_i + dL_i``, the segmentation net learns the mask of that box's crop.

Adjusted boxes are clipped to the image (as boxes are at inference). The per-image history of optimal adjustments
(the proposal's mean and covariance) is saved next to the checkpoints (``latent_history.npz``) and read back when
training resumes; ``latent_log.csv`` records, every ``train.log_every`` steps, the E-step's seconds, candidates
evaluated per image, MH acceptance and the share of non-zero adjustments.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from .config import ExtractionConfig
from .latent import adjustment_grid, zero_index
from .losses import JointLoss
from .model import ExtractionNet

__all__ = ["build_model", "check_config", "LatentHook"]


def check_config(cfg: ExtractionConfig) -> None:
    m, lat = cfg.model, cfg.latent
    if m.loc_input < 32 or m.seg_input < 16 or m.mask_size < 4:
        raise UserError("model: loc_input must be >= 32, seg_input >= 16 and mask_size >= 4")
    if lat.moves < 1:
        raise UserError(f"latent.moves must be >= 1, got {lat.moves}")
    if lat.edge_points < 4:
        raise UserError(f"latent.edge_points must be >= 4, got {lat.edge_points}")
    if not lat.temperature > 0:
        raise UserError(f"latent.temperature must be > 0, got {lat.temperature}")
    if not 0 < lat.pc_floor <= 1:
        raise UserError(f"latent.pc_floor must be in (0, 1], got {lat.pc_floor}")
    try:
        zero_index(adjustment_grid(lat.steps))
    except ValueError as e:
        raise UserError(f"latent.steps: {e}") from None
    if cfg.loss.loc_weight < 0 or cfg.loss.seg_weight < 0 or cfg.loss.loc_weight + cfg.loss.seg_weight <= 0:
        raise UserError("loss.loc_weight and loss.seg_weight must be >= 0, not both 0")


def build_model(cfg: ExtractionConfig, pretrained: Optional[bool] = None) -> ExtractionNet:
    m = cfg.model
    try:
        return ExtractionNet(arch=m.arch, backbone=m.backbone, pretrained=m.pretrained if pretrained is None
                             else pretrained, loc_input=m.loc_input, seg_input=m.seg_input, mask_size=m.mask_size,
                             width=m.width, hidden=m.hidden)
    except (KeyError, ValueError) as e:
        raise UserError(f"model: {e}") from None


class LatentHook:
    """Keeps :class:`JointLoss`'s adjustment history with the checkpoints (read on resume) and writes the E-step
    statistics to ``out_dir/latent_log.csv``."""

    def __init__(self, loss: JointLoss, out_dir, every: int, log_every: int):
        self.loss, self.out = loss, Path(out_dir)
        self.every, self.log_every = int(every), max(1, int(log_every))

    @property
    def path(self) -> Path:
        return self.out / "latent_history.npz"

    def before_train(self, trainer) -> None:
        self.loss.calls = int(trainer.step) * int(trainer.cfg.iter_size)
        if trainer.step > 0 and self.path.is_file():
            with np.load(self.path) as d:
                self.loss.history.load_state_dict(dict(d))

    def _save(self) -> None:
        from ..atomic import atomic_write

        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda f: np.savez(f, **self.loss.history.state_dict()))

    def after_step(self, trainer, step, losses) -> None:
        if step % self.log_every == 0:
            s = self.loss.take_stats()
            if s["images"]:
                f = self.out / "latent_log.csv"
                new = not f.is_file()
                with open(f, "a", encoding="utf-8") as fh:
                    if new:
                        fh.write("step,images,estep_seconds_per_image,evaluated_per_image,acceptance,nonzero\n")
                    fh.write(f"{step},{int(s['images'])},{s['seconds'] / s['images']:.5f},"
                             f"{s['evaluated'] / s['images']:.2f},"
                             f"{(s['accepted'] / s['moves']) if s['moves'] else float('nan'):.4f},"
                             f"{s['nonzero'] / s['images']:.4f}\n")
        if self.every > 0 and step % self.every == 0:
            self._save()

    def after_train(self, trainer) -> None:
        self._save()
