"""Training checkpoints (atomic, with RNG states, for exact resume). Final weights (safetensors) are written and
read by :mod:`structnet.nn.weights`, below the tasks and the engine.

Layout of a run directory (``TrainConfig.out_dir``)::

    out_dir/ckpt_000100.pt      one file per saved step: model, optimizer, scheduler, step, RNG states, config
    out_dir/last_checkpoint     text file: the file name of the newest complete checkpoint
    out_dir/config.yaml         the run's config (rank 0, at start)
    out_dir/log.csv, tb/        logs (see ``engine/logging.py``)

Every file is written by :func:`structnet.atomic.atomic_write` (temporary file in the same directory, fsynced,
``os.replace``-d; mode 0666 minus the umask), so a kill leaves either the old or the new file, never half of one.
No symlinks.

Checkpoints are read with ``torch.load(weights_only=True)``: tensors, numbers, strings and containers only, so a
file holding other pickled objects (code that would run on load) is refused with a :class:`CheckpointError`, never
executed. Every problem is a :class:`CheckpointError` (a :class:`~structnet.errors.UserError`) whose one-line
message names the file and the fix (delete it or use ``--no-resume``).
"""
from __future__ import annotations

import os
import pickle
import random
import re
import warnings
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import UserError
from .logging import HookBase

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "checkpoint_path", "list_checkpoints",
           "load_latest_checkpoint", "prune_checkpoints", "capture_rng", "restore_rng", "CheckpointHook"]

FORMAT = "structnet-checkpoint-1"
LAST = "last_checkpoint"
_NAME = re.compile(r"^ckpt_(\d+)\.pt$")
PathLike = Union[str, os.PathLike]


FIX = "delete it or use --no-resume"


class CheckpointError(UserError):
    """A checkpoint that cannot be used (one line naming the file and the fix). ``problem`` is the message without
    the fix (what is wrong with ``path``)."""

    def __init__(self, path: PathLike, problem: str, fix: str = FIX):
        self.path, self.problem = Path(path), " ".join(str(problem).split())
        super().__init__(f"{self.path} {self.problem}; {fix}" if fix else f"{self.path} {self.problem}")


# ----------------------------------------------------------------------------------------------- RNG
def capture_rng() -> dict:
    """RNG states of torch (CPU and every CUDA device), numpy's global RNG and Python's ``random``."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                      "has_gauss": int(has_gauss), "cached": float(cached)},
            "python": random.getstate()}


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))


# ----------------------------------------------------------------------------------------------- checkpoints
def checkpoint_path(out_dir: PathLike, step: int) -> Path:
    return Path(out_dir) / f"ckpt_{step:06d}.pt"


def save_checkpoint(path: PathLike, state: dict) -> Path:
    """Atomically ``torch.save``-s ``state`` (must hold ``step``) and points ``last_checkpoint`` at it."""
    path = Path(path)
    state = {"format": FORMAT, **state}
    atomic_write(path, lambda f: torch.save(state, f))
    atomic_write(path.parent / LAST, lambda f: f.write(path.name.encode() + b"\n"))
    return path


def load_checkpoint(path: PathLike) -> dict:
    """The dict saved by :func:`save_checkpoint`; CheckpointError (one line, naming the file) otherwise. Loaded
    with ``torch.load(weights_only=True)``: pickled objects other than tensors and plain data are refused."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "not found", "check the path, or use --no-resume")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "is truncated/corrupt (0 bytes)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        glob = re.search(r"GLOBAL (\S+) was not an allowed global", msg)
        if glob or "Unsupported global" in msg:
            what = f" ({glob.group(1)})" if glob else ""
            raise CheckpointError(path, f"holds pickled Python objects{what} that are not tensors or plain data: "
                                        f"refused, not executed (checkpoints are loaded with torch.load("
                                        f"weights_only=True))") from None
        detail = msg.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler error:" in msg else msg
        raise CheckpointError(path, f"is truncated/corrupt (not a checkpoint: {_first_line(detail)})") from None
    except Exception as e:  # noqa: BLE001 - truncated zip, garbage bytes, ...: one line naming the file
        raise CheckpointError(path, f"is truncated/corrupt ({type(e).__name__}: {_first_line(e)})") from None
    missing = [k for k in ("format", "step", "model", "optimizer", "scheduler", "rng") if not
               (isinstance(state, dict) and k in state)]
    if missing:
        raise CheckpointError(path, f"is not a structnet checkpoint (missing {', '.join(missing)})")
    if state["format"] != FORMAT:
        raise CheckpointError(path, f"has an unsupported checkpoint format {state['format']!r} (expected {FORMAT})")
    return state


def _first_line(e: BaseException) -> str:
    return (" ".join((str(e).strip().splitlines() or [""])[0].split()))[:160]


def list_checkpoints(out_dir: PathLike) -> List[Path]:
    """Checkpoints in ``out_dir``, newest first: the one named by ``last_checkpoint``, then by step."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = sorted((p for p in out_dir.iterdir() if _NAME.match(p.name)),
                   key=lambda p: int(_NAME.match(p.name).group(1)), reverse=True)
    last = out_dir / LAST
    if last.is_file():
        name = last.read_bytes()[:256].decode("utf-8", "replace").strip()  # a corrupt pointer is ignored
        if _NAME.match(name) and (out_dir / name) in found:
            found.remove(out_dir / name)
            found.insert(0, out_dir / name)
    return found


def load_latest_checkpoint(out_dir: PathLike) -> Optional[Tuple[Path, dict]]:
    """``(path, state)`` of the newest readable checkpoint in ``out_dir`` (None when there is none).

    An unreadable newest checkpoint (truncated, corrupt, refused) falls back to the next older readable one with
    a warning naming it; when none can be read, the CheckpointError of the newest is raised
    (``out_dir/ckpt_000100.pt is truncated/corrupt (...); delete it or use --no-resume``).
    """
    paths = list_checkpoints(out_dir)
    errors: List[CheckpointError] = []
    for p in paths:
        try:
            state = load_checkpoint(p)
        except CheckpointError as e:
            errors.append(e)
            continue
        for e in errors:
            warnings.warn(f"{e.path} {e.problem}; resuming from the older {p.name} instead", UserWarning,
                          stacklevel=2)
        return p, state
    if errors:
        raise errors[0]
    return None


def prune_checkpoints(out_dir: PathLike, keep: int, current_step: int) -> List[Path]:
    """Deletes checkpoints beyond the newest ``keep`` with step <= ``current_step``, and stale ones with a
    larger step (left by an earlier run that this run restarted). ``keep <= 0`` keeps all. Returns deleted."""
    paths = [p for p in list_checkpoints(out_dir)]
    steps = {p: int(_NAME.match(p.name).group(1)) for p in paths}
    current = sorted((p for p in paths if steps[p] <= current_step), key=steps.get, reverse=True)
    doomed = [p for p in paths if steps[p] > current_step]
    if keep > 0:
        doomed += current[keep:]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


class CheckpointHook(HookBase):
    """Saves ``trainer.save_checkpoint()`` every ``every`` steps (0: never) and at the last step of a run
    that completes (not after an error: a half-done step has no consistent RNG state)."""

    def __init__(self, every: int):
        self.every = int(every)

    def after_step(self, trainer, step, losses) -> None:
        if self.every > 0 and step % self.every == 0:
            trainer.save_checkpoint()

    def after_train(self, trainer) -> None:
        if trainer.completed and trainer.last_saved_step != trainer.step and trainer.step > trainer.start_step:
            trainer.save_checkpoint()
