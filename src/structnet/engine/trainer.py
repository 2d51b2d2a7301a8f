"""The task-agnostic training loop: data keys -> batch -> ``loss_fn`` -> named terms -> optimizer step -> hooks.

A task gives the trainer a model, a dataset following the key convention (``ds[(index, seed)]`` is a pure
function of its key; a sample is a dict of numpy arrays / scalars) and ``loss_fn(model, batch)`` returning a
dict of named scalar terms. The trainer sums the terms, backpropagates, steps, logs each term, checkpoints and
resumes exactly: the data stream is a pure function of (seed, position), so resuming at step k regenerates it
from position k without loading what was consumed before. Ctrl-C (KeyboardInterrupt) during training saves a
checkpoint of the last completed step (single process) and raises :class:`TrainingInterrupted` saying where; the
same command run again resumes from it.
"""
from __future__ import annotations

import contextlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from ..errors import UserError
from ..nn.modules import unwrap
from ..nn.precision import resolve_precision
from ..nn.weights import state_dict_mismatch
from . import distributed as du
from .checkpoint import (CheckpointHook, capture_rng, checkpoint_path, list_checkpoints,
                         load_checkpoint, load_latest_checkpoint, prune_checkpoints, restore_rng, save_checkpoint)
from .config import OptimConfig, ScheduleConfig, TrainConfig, config_to_dict, save_config
from .logging import CSVLogHook, ProgressBarHook, TensorBoardHook, get_logger
from .optim import build_optimizer, build_scheduler

__all__ = ["Trainer", "KeyBatchSampler", "collate_samples", "resolve_device", "NonFiniteLossError", "INIT_ONLY_KEYS",
           "TrainingInterrupted", "show_progress"]

#: ``model`` config keys that only choose the starting weights (a resume replaces them): not compared on resume.
INIT_ONLY_KEYS = ("init", "pretrained")


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C; the message says which checkpoint holds the last completed step."""


def show_progress(wanted: bool, stream=None) -> bool:
    """Whether to draw the training progress bar: ``train.progress_bar`` and ``stream`` (default stderr) is a
    terminal; a redirected log gets the CSV log's lines instead."""
    stream = sys.stderr if stream is None else stream
    return bool(wanted) and bool(getattr(stream, "isatty", lambda: False)())


class NonFiniteLossError(UserError, FloatingPointError):
    """A NaN/Inf loss term or gradient: training stopped before the update, the last checkpoint is kept."""


class KeyBatchSampler(Sampler):
    """Batches of dataset keys ``(index, seed)`` from an endless stream of epochs.

    Stream position ``p`` lies in epoch ``e, pos = divmod(p, n)``; its index is ``perm_e[pos]`` with ``perm_e``
    drawn from ``default_rng([seed, e])`` and its sample seed is ``SeedSequence([seed, e, pos])``. Micro-batch
    ``b`` of rank ``r`` takes positions ``(b * world + r) * batch_size + j``: ranks share one global stream
    (so the global batch is the same on 1 process of batch B*W as on W processes of batch B). Yields
    micro-batches ``start .. stop-1``; starting at ``start`` costs nothing (positions are computed).
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 start: int = 0, stop: Optional[int] = None):
        if n <= 0:
            raise ValueError(f"KeyBatchSampler: dataset is empty (len {n})")
        self.n, self.bs, self.seed, self.rank, self.world = int(n), int(batch_size), int(seed), rank, world_size
        self.start, self.stop = int(start), stop
        self._perms: Dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            if len(self._perms) > 2:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._perms[epoch]

    def batch_keys(self, b: int) -> List[tuple]:
        first = (b * self.world + self.rank) * self.bs
        keys = []
        for p in range(first, first + self.bs):
            e, pos = divmod(p, self.n)
            s = int(np.random.SeedSequence([self.seed, e, pos]).generate_state(1)[0])
            keys.append((int(self._perm(e)[pos]), s))
        return keys

    def __iter__(self):
        b = self.start
        while self.stop is None or b < self.stop:
            yield self.batch_keys(b)
            b += 1

    def __len__(self) -> int:
        if self.stop is None:
            raise TypeError("KeyBatchSampler without stop is endless")
        return max(self.stop - self.start, 0)


def _collate_field(key: str, values: list):
    v0 = values[0]
    if isinstance(v0, dict):
        return collate_samples(values)
    if isinstance(v0, torch.Tensor) and all(isinstance(v, torch.Tensor) for v in values):
        same = all(v.shape == v0.shape and v.dtype == v0.dtype for v in values)
        return torch.stack(values) if same else list(values)
    if isinstance(v0, (np.ndarray, np.generic, bool, int, float)) and not isinstance(v0, (np.str_, np.bytes_)):
        arrs = [np.asarray(v) for v in values]
        if any(a.dtype.kind not in "biufc" for a in arrs):
            return list(values)
        if all(a.shape == arrs[0].shape for a in arrs):
            return torch.from_numpy(np.stack(arrs))
        return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrs]  # ragged: a list of tensors
    return list(values)


def collate_samples(samples: Sequence) -> dict:
    """Sample dicts -> batch dict. Numeric numpy arrays / scalars of one shape are stacked into a tensor
    ``(B, ...)`` (dtype kept; Python floats become float64, ints int64, as in torch's default_collate);
    arrays whose shapes differ become a list of B tensors (ragged items: keypoints, boxes, full-size
    images); strings and other objects a list. Nested dicts are collated key by key."""
    if not samples:
        raise ValueError("collate_samples: empty batch")
    if not all(isinstance(s, dict) for s in samples):
        raise TypeError(f"collate_samples: samples must be dicts (dataset convention), got {type(samples[0]).__name__}")
    keys = list(samples[0])
    for s in samples[1:]:
        if set(s) != set(keys):
            raise ValueError(f"collate_samples: samples have different keys: {sorted(keys)} vs {sorted(s)}")
    return {k: _collate_field(k, [s[k] for s in samples]) for k in keys}


def _to_device(x, device: torch.device, channels_last: bool):
    if isinstance(x, torch.Tensor):
        x = x.to(device, non_blocking=True)
        if channels_last and x.dim() == 4 and x.is_floating_point():
            x = x.contiguous(memory_format=torch.channels_last)
        return x
    if isinstance(x, dict):
        return {k: _to_device(v, device, channels_last) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_to_device(v, device, channels_last) for v in x)
    return x


def resolve_device(name: str) -> torch.device:
    """``auto``: ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UserError("train.device: 'cuda' requested but CUDA is not available (use auto or cpu)")
        return torch.device("cuda", du.local_rank())
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"train.device: unknown device {name!r}; valid: auto, cpu, cuda")


def _task_name(config) -> Optional[str]:
    """``SkeletonConfig`` -> ``skeleton``: the task a config dataclass belongs to (None for a dict of sections)."""
    if config is None or isinstance(config, dict):
        return None
    name = type(config).__name__
    return (name[:-len("Config")] if name.endswith("Config") and len(name) > 6 else name).lower()


class Trainer:
    """``Trainer(model, loss_fn, dataset, cfg, optim_cfg, sched_cfg).train(resume=True)``.

    ``loss_fn(model, batch) -> {name: scalar tensor}``: ``model`` may be the DDP wrapper (use
    ``model.module`` for attributes); ``batch`` is the collated dict on the training device. ``eval_fn(model)
    -> {metric: float}`` runs on rank 0 every ``cfg.eval_every`` steps and at the end, with the global RNG
    states saved and restored around it. ``config`` (the task's full config dataclass) is stored in
    checkpoints and ``out_dir/config.yaml``; ``task`` (default: from the config class, ``SkeletonConfig`` ->
    ``skeleton``) too. Resuming compares the task and the ``model`` section (but :data:`INIT_ONLY_KEYS`) with the
    checkpoint's and refuses a run of another model with a UserError. Hooks see ``trainer.step``, ``.model``, ...
    """

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, dict], Dict[str, torch.Tensor]], dataset,
                 cfg: TrainConfig, optim_cfg: Optional[OptimConfig] = None, sched_cfg: Optional[ScheduleConfig] = None,
                 collate_fn: Optional[Callable] = None, hooks: Iterable = (), eval_fn: Optional[Callable] = None,
                 config=None, task: Optional[str] = None):
        for k in ("max_iters", "batch_size", "iter_size"):
            if getattr(cfg, k) < 1:
                raise UserError(f"train.{k} must be >= 1, got {getattr(cfg, k)}")
        if cfg.num_workers < 0:
            raise UserError(f"train.num_workers must be >= 0, got {cfg.num_workers}")
        if len(dataset) == 0:
            raise UserError("Trainer: the dataset is empty (check data.root and data.split)")
        self.cfg, self.max_iters = cfg, cfg.max_iters
        self.optim_cfg, self.sched_cfg = optim_cfg or OptimConfig(), sched_cfg or ScheduleConfig()
        du.init_distributed()
        self.rank, self.world = du.rank(), du.world_size()
        self.device = resolve_device(cfg.device)
        dtype = resolve_precision(self.device, cfg.precision, name="train.precision")
        self.amp_dtype = None if dtype == torch.float32 else dtype  # None: no autocast
        self.model = unwrap(model).to(self.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(self.model, self.optim_cfg)
        self.scheduler = build_scheduler(self.optimizer, self.sched_cfg, cfg.max_iters)
        self.net = self.model
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters)
        self.loss_fn, self.dataset, self.eval_fn = loss_fn, dataset, eval_fn
        self.collate_fn = collate_fn or collate_samples
        self.config = config if config is not None else {"train": cfg, "optim": self.optim_cfg,
                                                         "schedule": self.sched_cfg}
        self.config_dict = (config_to_dict(config) if config is not None else
                            {k: config_to_dict(v) for k, v in self.config.items()})
        self.task = task if task is not None else _task_name(config)
        self.out_dir = Path(cfg.out_dir)
        self.step = self.start_step = self.last_saved_step = 0
        self.last_checkpoint: Optional[Path] = None  # the checkpoint this run saved or resumed from last
        self._rng_at_step: Optional[dict] = None  # RNG states before the running step (None: between steps)
        self._updating = False  # inside optimizer/scheduler step: the weights are between two steps
        self.elapsed, self.completed, self.metrics, self.lr, self.grad_norm = 0.0, False, {}, self.optim_cfg.lr, 0.0
        self.log = get_logger()
        main = du.is_main_process()
        bar = show_progress(cfg.progress_bar)
        builtin = [CSVLogHook(self.out_dir / "log.csv", cfg.log_every, echo=not bar)] if main else []
        builtin += [TensorBoardHook(self.out_dir / "tb", cfg.log_every)] if main and cfg.tensorboard else []
        builtin += [ProgressBarHook()] if main and bar else []
        self.hooks = builtin + [CheckpointHook(cfg.checkpoint_every)] + list(hooks)

    # ------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Checkpoint contents (collective under DDP: RNG states are gathered from every rank)."""
        return {"step": self.step, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": du.all_gather_object(capture_rng()),
                "config": self.config_dict, "task": self.task, "elapsed": self.elapsed,
                "data": {"seed": self.cfg.seed, "batch_size": self.cfg.batch_size, "iter_size": self.cfg.iter_size,
                         "world_size": self.world, "dataset_len": len(self.dataset)}}

    def check_same_run(self, state: dict, where: str) -> None:
        """UserError when ``state`` (a checkpoint) is a run of another task or model than this trainer's: the task
        and the ``model`` config section are compared (but :data:`INIT_ONLY_KEYS`)."""
        diffs = []
        old_task = state.get("task")
        if old_task and self.task and old_task != self.task:
            diffs.append(f"task {old_task!r} (this run: {self.task!r})")
        saved = state.get("config") if isinstance(state.get("config"), dict) else {}
        a, b = saved.get("model"), self.config_dict.get("model")
        if isinstance(a, dict) and isinstance(b, dict):
            missing = object()
            for k in sorted(set(a) | set(b)):
                if k in INIT_ONLY_KEYS or a.get(k, missing) == b.get(k, missing):
                    continue
                diffs.append(f"model.{k}={a.get(k)!r} (this run: {b.get(k)!r})" if k in a and k in b else
                             f"model.{k} {'only in the saved run' if k in a else 'only in this run'}")
        if diffs:
            more = f" and {len(diffs) - 4} more" if len(diffs) > 4 else ""
            raise UserError(f"{where} holds a run of {', '.join(diffs[:4])}{more}; use another train.out_dir or "
                            f"--no-resume")

    def load_state_dict(self, state: dict, source: str = "checkpoint", where: Optional[str] = None) -> None:
        """Restores a checkpoint's state. ``where`` (default ``source``) names it in errors: a model or optimizer
        that does not fit is a UserError (``<where> holds a run of another model (...); use another train.out_dir
        or --no-resume``)."""
        where = where or source
        fix = "use another train.out_dir or --no-resume"
        problem = state_dict_mismatch(self.model.state_dict(), state["model"])
        if problem:
            raise UserError(f"{where} holds a run of another model ({source}: {problem}); {fix}")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            msg = " ".join((str(e).strip().splitlines() or [""])[0].split())[:200]
            raise UserError(f"{where} holds a run whose model/optimizer state does not fit this one ({source}: "
                            f"{msg}); {fix}") from None
        self.scheduler.load_state_dict(state["scheduler"])
        for g, base, f in zip(self.optimizer.param_groups, self.scheduler.base_lrs, self.scheduler.lr_lambdas):
            g["lr"] = base * f(self.scheduler.last_epoch)  # this run's schedule applies from the next step
        self.step = self.start_step = self.last_saved_step = int(state["step"])
        self.elapsed = float(state.get("elapsed", 0.0))
        now = {"seed": self.cfg.seed, "batch_size": self.cfg.batch_size, "iter_size": self.cfg.iter_size,
               "world_size": self.world, "dataset_len": len(self.dataset)}
        changed = {k: (v, now[k]) for k, v in state.get("data", {}).items() if now.get(k) != v}
        if changed:
            self.log.warning(f"{source}: data settings changed since the checkpoint, the data stream differs "
                             f"from an uninterrupted run: {changed}")
        rngs = state["rng"]
        if len(rngs) == self.world:
            restore_rng(rngs[self.rank])
        else:
            self._seed(self.step)
            self.log.warning(f"{source}: saved with {len(rngs)} process(es), now {self.world}: RNG reseeded")

    def _seed(self, salt: int) -> None:
        s = np.random.SeedSequence([self.cfg.seed, self.rank, salt]).generate_state(2)
        torch.manual_seed(int(s[0]))
        np.random.seed(int(s[1]))
        random.seed(int(s[1]))

    def save_checkpoint(self, rng: Optional[dict] = None) -> Optional[Path]:
        """Save the state of ``self.step`` (``rng``: the RNG states to store instead of the current ones)."""
        state = self.state_dict()  # every rank (collective); rank 0 writes
        if rng is not None:
            state["rng"] = [rng]
        self.last_saved_step = self.step
        self.last_checkpoint = checkpoint_path(self.out_dir, self.step)
        if not du.is_main_process():
            return None
        path = save_checkpoint(self.last_checkpoint, state)
        prune_checkpoints(self.out_dir, self.cfg.keep_checkpoints, self.step)
        return path

    def _resume(self, resume: Union[bool, str, Path, None]) -> None:
        found = None
        if resume is True:
            found = load_latest_checkpoint(self.out_dir)
        elif resume:
            found = (Path(resume), load_checkpoint(resume))
        if found is None:
            old = list_checkpoints(self.out_dir)
            if old and du.is_main_process():
                self.log.warning(f"starting afresh in {self.out_dir}: its {len(old)} existing checkpoint(s) "
                                 f"will be replaced or pruned as this run saves its own")
            self._seed(0)
            return
        path, state = found
        where = f"out_dir {self.out_dir}" if resume is True else f"checkpoint {path}"
        self.check_same_run(state, where)
        self.load_state_dict(state, str(path), where)
        self.last_checkpoint = path
        if du.is_main_process():
            self.log.info(f"resumed from {path} at step {self.step}")

    # ------------------------------------------------------------------------------------------ loop
    def train(self, resume: Union[bool, str, Path, None] = True) -> dict:
        """Trains to ``cfg.max_iters``. ``resume=True``: continue from ``out_dir``'s newest checkpoint if
        any; a path: from that checkpoint; False: from scratch. Returns ``{"step", "losses", "metrics"}``."""
        if du.is_main_process():
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self._resume(resume)
        losses: Dict[str, float] = {}
        if self.step >= self.max_iters:
            self.log.info(f"nothing to do: step {self.step} >= max_iters {self.max_iters}")
            return {"step": self.step, "losses": losses, "metrics": self.metrics}
        if du.is_main_process():
            save_config(self.config, self.out_dir / "config.yaml")
        k = self.cfg.iter_size
        sampler = KeyBatchSampler(len(self.dataset), self.cfg.batch_size, self.cfg.seed, self.rank, self.world,
                                  start=self.step * k, stop=self.max_iters * k)
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.cfg.num_workers,
                            collate_fn=self.collate_fn, pin_memory=self.device.type == "cuda",
                            generator=torch.Generator())  # own generator: the global RNG stays untouched
        self.model.train()
        self.completed, self.stopped_early = False, False
        limit = self.cfg.time_limit
        if limit is not None and not limit > 0:
            raise ValueError(f"train.time_limit must be a positive number of seconds or null, got {limit!r}")
        started = time.perf_counter()
        self._call("before_train")
        try:
            batches = iter(loader)
            while self.step < self.max_iters:
                if limit is not None and self._past_limit(time.perf_counter() - started > limit):
                    self.stopped_early = True
                    self.log.info(f"train.time_limit of {limit:g} s reached: stopping at step {self.step} of "
                                  f"{self.max_iters} (checkpoint kept; run again to continue)")
                    if self.last_saved_step != self.step:
                        self.save_checkpoint()
                    break
                t0 = time.perf_counter()
                losses = self.run_step(batches)
                self.elapsed += time.perf_counter() - t0
                if self.eval_fn is not None and ((self.cfg.eval_every > 0 and self.step % self.cfg.eval_every == 0)
                                                 or self.step == self.max_iters):
                    self.evaluate()
                self._call("after_step", self.step, losses)
            self.completed = not self.stopped_early
        except KeyboardInterrupt as e:
            raise self._interrupted() from e
        finally:
            self._call("after_train")
        return {"step": self.step, "losses": losses, "metrics": self.metrics}

    def _interrupted(self) -> TrainingInterrupted:
        """After Ctrl-C: save the last completed step (single process, not in the middle of a weight update) and
        say where it is."""
        again = "run the same command again to continue"
        if self.last_saved_step != self.step and self.world == 1 and not self._updating:
            self.save_checkpoint(rng=self._rng_at_step)
            self.log.info(f"interrupted: step {self.step} saved to {self.last_checkpoint}")
        if self.last_checkpoint is not None:
            return TrainingInterrupted(f"training stopped at step {self.step} of {self.max_iters}; checkpoint of "
                                       f"step {self.last_saved_step}: {self.last_checkpoint} ({again})")
        return TrainingInterrupted(f"training stopped at step {self.step} of {self.max_iters}; no checkpoint written")

    def _past_limit(self, mine: bool) -> bool:
        """Whether to stop at the time limit now: at least one step done here and, under DDP, any rank past it
        (every rank stops at the same step)."""
        if self.step <= self.start_step:
            return False
        if du.is_distributed():
            return any(du.all_gather_object(bool(mine)))
        return bool(mine)

    def run_step(self, batches) -> Dict[str, float]:
        """One optimizer step over ``iter_size`` micro-batches; returns the mean of each term and ``total``."""
        t, k = self.step + 1, self.cfg.iter_size
        self._rng_at_step = capture_rng() if self.world == 1 else None  # what an interrupted step saves
        self.optimizer.zero_grad(set_to_none=True)
        sums = None
        for m in range(k):
            batch = _to_device(next(batches), self.device, self.cfg.channels_last)
            sync = m == k - 1 or self.net is self.model
            with (contextlib.nullcontext() if sync else self.net.no_sync()):
                with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                                    enabled=self.amp_dtype is not None):
                    terms = self.loss_fn(self.net, batch)
                names = self._check_terms(terms)
                total = sum(terms[n].float() for n in names)
                vec = du.all_reduce_mean(torch.stack([total.detach()] + [terms[n].detach().float() for n in names]))
                vals = vec.double().cpu().tolist()
                bad = [f"{n}={v}" for n, v in zip(names, vals[1:]) if not np.isfinite(v)]
                if bad or not np.isfinite(vals[0]):
                    where = f" (micro-batch {m + 1}/{k})" if k > 1 else ""
                    raise NonFiniteLossError(
                        f"non-finite loss at step {t}{where}: {', '.join(bad or [f'total={vals[0]}'])}; the model "
                        f"was not updated and {self._kept()}; lower optim.lr (or set train.grad_clip) and check the "
                        f"data for NaN/Inf")
                (total / k).backward()
            sums = vals if sums is None else [a + b for a, b in zip(sums, vals)]
        grads = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.grad_clip:
            norm = nn.utils.clip_grad_norm_(grads, self.cfg.grad_clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad.detach().float())
                                                         for p in grads])) if grads else torch.zeros(())
        self.grad_norm = float(norm)  # before clipping
        if not np.isfinite(self.grad_norm):
            raise NonFiniteLossError(f"non-finite gradient norm at step {t} (the loss was finite); the model was not "
                                     f"updated and {self._kept()}; lower optim.lr (or set train.grad_clip) and check "
                                     f"the loss for operations without a finite gradient (sqrt/log at 0)")
        self.lr = self.optimizer.param_groups[0]["lr"]  # the lr this step used (logged by hooks)
        self._updating = True
        self.optimizer.step()
        self.scheduler.step()
        self.step = t
        self._updating, self._rng_at_step = False, None
        return {name: v / k for name, v in zip(["total"] + names, sums)}

    def _kept(self) -> str:
        if self.last_checkpoint is not None:
            return (f"the last checkpoint ({self.last_checkpoint}, step {self.last_saved_step}) is kept, nothing "
                    f"was written over it")
        return "no checkpoint was written"

    def _check_terms(self, terms) -> List[str]:
        if not isinstance(terms, dict) or not terms:
            raise TypeError(f"loss_fn must return a non-empty dict of named scalar tensors, got {type(terms).__name__}")
        for n, v in terms.items():
            if n == "total":
                raise ValueError("loss_fn: 'total' is reserved for the sum of the terms; rename that term")
            if not (isinstance(v, torch.Tensor) and v.numel() == 1):
                raise TypeError(f"loss_fn: term {n!r} must be a scalar tensor, got "
                                f"{type(v).__name__}{tuple(v.shape) if isinstance(v, torch.Tensor) else ''}")
        return [str(n) for n in terms]

    def evaluate(self) -> dict:
        """Runs ``eval_fn(model)`` on rank 0 (others wait) without disturbing the training RNG streams."""
        metrics = {}
        if du.is_main_process():
            state = capture_rng()
            try:
                metrics = dict(self.eval_fn(self.model) or {})
            finally:
                restore_rng(state)
                self.model.train()
            with (self.out_dir / "metrics.jsonl").open("a") as f:
                f.write(json.dumps({"step": self.step, **metrics}, default=float) + "\n")
        metrics = du.all_gather_object(metrics)[0]
        self.metrics = metrics
        self._call("after_eval", self.step, metrics)
        return metrics

    def _call(self, name: str, *args) -> None:
        for h in self.hooks:
            fn = getattr(h, name, None)
            if fn is not None:
                fn(self, *args)
