"""Training checkpoints (atomic, with RNG states, for exact resume) and exported safetensors weights.

Layout of a run directory (``TrainConfig.out_dir``)::

    out_dir/ckpt_000100.pt      one file per saved step: model, optimizer, scheduler, step, RNG states, config
    out_dir/last_checkpoint     text file: the file name of the newest complete checkpoint
    out_dir/config.yaml         the run's config (rank 0, at start)
    out_dir/log.csv, tb/        logs (see ``engine/logging.py``)

Every file is written to a temporary file in the same directory, fsynced, then ``os.replace``-d, so a
kill leaves either the old or the new file, never half of one. No symlinks.
"""
from __future__ import annotations

import json
import os
import random
import re
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..data.io import atomic_write
from .logging import HookBase

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "checkpoint_path", "list_checkpoints",
           "load_latest_checkpoint", "prune_checkpoints", "capture_rng", "restore_rng", "CheckpointHook",
           "export_weights", "load_weights", "read_weights_metadata"]

FORMAT = "structnet-checkpoint-1"
LAST = "last_checkpoint"
_NAME = re.compile(r"^ckpt_(\d+)\.pt$")
PathLike = Union[str, os.PathLike]


class CheckpointError(RuntimeError):
    """A checkpoint or weights file that cannot be read (the message names the file)."""


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
    """The dict saved by :func:`save_checkpoint`; CheckpointError (one line, naming the file) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, garbage bytes, unpickling errors, ...
        msg = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {msg})") from None
    missing = [k for k in ("format", "step", "model", "optimizer", "scheduler", "rng") if not
               (isinstance(state, dict) and k in state)]
    if missing:
        raise CheckpointError(f"{path}: not a structnet checkpoint (missing {', '.join(missing)})")
    if state["format"] != FORMAT:
        raise CheckpointError(f"{path}: unsupported checkpoint format {state['format']!r} (expected {FORMAT})")
    return state


def list_checkpoints(out_dir: PathLike) -> List[Path]:
    """Checkpoints in ``out_dir``, newest first: the one named by ``last_checkpoint``, then by step."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = sorted((p for p in out_dir.iterdir() if _NAME.match(p.name)),
                   key=lambda p: int(_NAME.match(p.name).group(1)), reverse=True)
    last = out_dir / LAST
    if last.is_file():
        name = last.read_text().strip()
        if _NAME.match(name) and (out_dir / name) in found:
            found.remove(out_dir / name)
            found.insert(0, out_dir / name)
    return found


def load_latest_checkpoint(out_dir: PathLike) -> Optional[Tuple[Path, dict]]:
    """``(path, state)`` of the newest readable checkpoint in ``out_dir`` (None when there is none).

    An unreadable newest checkpoint falls back to the next older one with a warning; when none can be
    read, the error of the newest is raised.
    """
    paths = list_checkpoints(out_dir)
    first_error = None
    for i, p in enumerate(paths):
        try:
            state = load_checkpoint(p)
        except CheckpointError as e:
            first_error = first_error or e
            if i + 1 < len(paths):
                warnings.warn(f"{e}; falling back to {paths[i + 1].name}")
            continue
        return p, state
    if first_error is not None:
        raise first_error
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


# ----------------------------------------------------------------------------------------------- weights
def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


def export_weights(model: nn.Module, path: PathLike, metadata: Optional[Dict[str, object]] = None) -> Path:
    """Model state (parameters + buffers) as safetensors, atomically. ``metadata`` values that are not
    strings are stored as JSON strings (config dicts, metric values); read them with
    :func:`read_weights_metadata` (``decode=True`` parses them back)."""
    from safetensors.torch import save_model

    meta = {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in (metadata or {}).items()}
    import tempfile

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:  # save_model writes a path; then one atomic copy onto ``path``
        tmp_file = Path(tmp) / "weights.safetensors"
        save_model(_unwrap(model), str(tmp_file), metadata=meta)  # drops duplicate names of tied weights
        data = tmp_file.read_bytes()
    return atomic_write(path, lambda f: f.write(data))


def read_weights_metadata(path: PathLike, decode: bool = False) -> Dict[str, object]:
    """The metadata dict of a safetensors file (strings; with ``decode`` JSON values parsed where possible)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({type(e).__name__}: "
                              f"{(str(e).splitlines() or [''])[0][:200]})") from None
    if decode:
        for k, v in meta.items():
            try:
                meta[k] = json.loads(v)
            except ValueError:
                pass
    return meta


def load_weights(model: nn.Module, path: PathLike, strict: bool = True, decode: bool = False) -> Dict[str, object]:
    """Loads a file written by :func:`export_weights` into ``model`` (in place) and returns its metadata.

    ``strict``: missing or unexpected tensor names raise a ValueError that lists them; shape mismatches too.
    """
    from safetensors.torch import load_file

    meta = read_weights_metadata(path, decode=decode)
    net = _unwrap(model)
    try:
        sd = load_file(str(path), device="cpu")
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read tensors ({type(e).__name__}: {str(e)[:200]})") from None
    own = net.state_dict()
    groups: Dict[object, List[str]] = {}  # tied weights are stored once: any alias present is enough
    for k, v in own.items():
        groups.setdefault((v.data_ptr(), v.numel(), tuple(v.shape)) if v.numel() else k, []).append(k)
    missing = [g[0] for g in groups.values() if not any(a in sd for a in g)]
    unexpected = [k for k in sd if k not in own]
    bad_shape = [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in sd
                 if k in own and tuple(sd[k].shape) != tuple(own[k].shape)]
    if strict and (missing or unexpected or bad_shape):
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", bad_shape)):
            if keys:
                parts.append(f"{what} ({len(keys)}): {', '.join(keys[:10])}{' ...' if len(keys) > 10 else ''}")
        raise ValueError(f"{path}: weights do not fit {type(net).__name__}: " + "; ".join(parts))
    with torch.no_grad():
        for k, v in sd.items():
            if k in own and tuple(v.shape) == tuple(own[k].shape):
                own[k].copy_(v)
    return meta
