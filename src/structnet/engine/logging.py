"""Hooks that observe the training loop, and the built-in logging ones: CSV, TensorBoard, progress bar.

A hook may define any of ``before_train(trainer)``, ``after_step(trainer, step, losses)``,
``after_eval(trainer, step, metrics)``, ``after_train(trainer)``. ``step`` counts completed optimizer steps
(1 after the first), ``losses`` maps term names (and ``"total"``) to Python floats, averaged over the
step's micro-batches and over ranks. Hooks must not draw random numbers (that would break exact resume).
"""
from __future__ import annotations

import csv
import io
import logging
import time
import warnings
from pathlib import Path
from typing import Dict, List, Optional

from ..atomic import atomic_write

__all__ = ["HookBase", "CSVLogHook", "TensorBoardHook", "ProgressBarHook", "get_logger"]


def get_logger() -> logging.Logger:
    """The ``structnet`` logger, given a stderr handler (INFO) unless the application configured logging."""
    log = logging.getLogger("structnet")
    if not log.handlers and not logging.getLogger().handlers:
        h = logging.StreamHandler()
        h.setFormatter(logging.Formatter("[%(asctime)s %(name)s] %(message)s", "%H:%M:%S"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
    return log


class HookBase:
    """No-op hook; subclass and override what you need."""

    def before_train(self, trainer) -> None:
        pass

    def after_step(self, trainer, step: int, losses: Dict[str, float]) -> None:
        pass

    def after_eval(self, trainer, step: int, metrics: Dict[str, float]) -> None:
        pass

    def after_train(self, trainer) -> None:
        pass


class _Window:
    """Running means of the loss terms since the last log line."""

    def __init__(self):
        self.sums: Dict[str, float] = {}
        self.n = 0
        self.t0 = time.perf_counter()

    def add(self, losses: Dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1

    def pop(self):
        means = {k: v / max(self.n, 1) for k, v in self.sums.items()}
        sec = (time.perf_counter() - self.t0) / max(self.n, 1)
        self.__init__()
        return means, sec


class CSVLogHook(HookBase):
    """``out_dir/log.csv`` every ``log_every`` steps: step, lr (the lr that step used, first param group),
    total, each term (means over the window), seconds (wall seconds per step, mean over the window).
    On resume, rows past the resumed step are dropped, so each step appears once. Also writes a log line
    per row when there is no progress bar."""

    def __init__(self, path, log_every: int, echo: bool = False):
        self.path, self.every, self.echo = Path(path), max(int(log_every), 1), echo
        self.columns: Optional[List[str]] = None
        self.win = _Window()

    def before_train(self, trainer) -> None:
        self.win = _Window()
        self.columns = None
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8", errors="replace") as f:  # a damaged log is no error
                rows = list(csv.reader(f))
            if rows:
                self.columns = rows[0]
                keep = [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= trainer.start_step]
                buf = io.StringIO(newline="")
                csv.writer(buf).writerows([rows[0]] + keep)
                data = buf.getvalue().encode("utf-8")
                atomic_write(self.path, lambda f: f.write(data))  # a kill now leaves the old log, not half of it

    def after_step(self, trainer, step, losses) -> None:
        self.win.add(losses)
        if step % self.every and step != trainer.max_iters:
            return
        means, sec = self.win.pop()
        lr = trainer.lr
        terms = [k for k in means if k != "total"]
        cols = ["step", "lr", "total"] + terms + ["seconds"]
        if self.columns != cols:
            if self.columns is not None:
                warnings.warn(f"{self.path}: loss terms changed, starting a new header")
            self.columns = cols
            with self.path.open("a", newline="") as f:
                csv.writer(f).writerow(cols)
        row = [step, f"{lr:.6g}", f"{means['total']:.6g}"] + [f"{means[k]:.6g}" for k in terms] + [f"{sec:.4g}"]
        with self.path.open("a", newline="") as f:
            csv.writer(f).writerow(row)
        if self.echo:
            parts = " ".join(f"{k}={means[k]:.4g}" for k in terms)
            get_logger().info(f"step {step}/{trainer.max_iters} lr={lr:.3g} total={means['total']:.4g} "
                              f"{parts} ({sec:.3g} s/step)")


_TB_WARNED = False


class TensorBoardHook(HookBase):
    """Scalars ``loss/<term>``, ``lr``, ``grad_norm`` (of the window's last step), ``eval/<metric>`` under
    ``out_dir/tb`` (skipped, with a one-time warning, when the tensorboard package does not import)."""

    def __init__(self, log_dir, log_every: int):
        self.log_dir, self.every, self.writer = Path(log_dir), max(int(log_every), 1), None
        self.win = _Window()

    def before_train(self, trainer) -> None:
        global _TB_WARNED
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception as e:  # ImportError, or a broken tensorboard install
            if not _TB_WARNED:
                warnings.warn(f"TensorBoard logging skipped: {type(e).__name__}: {e} (pip install tensorboard)")
                _TB_WARNED = True
            return
        self.writer = SummaryWriter(str(self.log_dir), purge_step=trainer.start_step + 1)

    def after_step(self, trainer, step, losses) -> None:
        if self.writer is None:
            return
        self.win.add(losses)
        if step % self.every and step != trainer.max_iters:
            return
        means, sec = self.win.pop()
        for k, v in means.items():
            self.writer.add_scalar(f"loss/{k}", v, step)
        self.writer.add_scalar("lr", trainer.lr, step)
        self.writer.add_scalar("grad_norm", trainer.grad_norm, step)
        self.writer.add_scalar("seconds_per_step", sec, step)

    def after_eval(self, trainer, step, metrics) -> None:
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)):
                    self.writer.add_scalar(f"eval/{k}", v, step)

    def after_train(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ProgressBarHook(HookBase):
    """A tqdm bar over the steps (rank 0 only), showing the latest total loss; the trainer adds it only when
    stderr is a terminal (:func:`structnet.engine.trainer.show_progress`)."""

    def __init__(self):
        self.bar = None

    def before_train(self, trainer) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.max_iters, initial=trainer.start_step, desc="train", dynamic_ncols=True)

    def after_step(self, trainer, step, losses) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{losses['total']:.4g}", refresh=False)

    def after_train(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
