"""torch.distributed helpers for runs launched by ``torchrun`` (or any launcher that sets RANK/WORLD_SIZE).

Without those variables (or with WORLD_SIZE=1) everything here is a no-op and the process is rank 0 of 1. A
half-set environment (WORLD_SIZE without RANK / MASTER_ADDR / MASTER_PORT, a non-integer) is a
:class:`~structnet.errors.UserError`. (The model inside a DDP wrapper: :func:`structnet.nn.modules.unwrap`.)
"""
from __future__ import annotations

import os
from typing import List

import torch
import torch.distributed as dist

from ..errors import UserError

__all__ = ["init_distributed", "is_distributed", "is_main_process", "rank", "world_size", "local_rank",
           "barrier", "all_reduce_mean", "all_gather_object", "cleanup_distributed"]


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise UserError(f"environment variable {name}={v!r} is not an integer (set by torchrun; unset it to run "
                        f"in one process)") from None


def init_distributed(backend: str = "auto") -> bool:
    """Joins the process group described by RANK / WORLD_SIZE / LOCAL_RANK (set by torchrun).

    ``backend="auto"``: nccl when CUDA is available (and selects ``cuda:LOCAL_RANK``), gloo otherwise.
    Returns True when running distributed (world size > 1). Safe to call twice.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    ws = _env_int("WORLD_SIZE", 1)
    if ws <= 1:
        return False
    if not dist.is_available():
        raise UserError(f"WORLD_SIZE={ws} but this torch build has no torch.distributed; unset WORLD_SIZE")
    for var in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if var not in os.environ:
            raise UserError(f"WORLD_SIZE={ws} but {var} is not set: launch with torchrun, or unset WORLD_SIZE")
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend=backend)
    return True


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_rank() -> int:
    return _env_int("LOCAL_RANK", 0) if is_distributed() else 0


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_reduce_mean(x):
    """Mean over ranks of a tensor, or of a dict of tensors / floats (returned as floats); identity on 1 rank."""
    if isinstance(x, dict):
        keys = list(x)
        if not keys:
            return {}
        v = torch.stack([torch.as_tensor(x[k], dtype=torch.float64).detach().cpu().reshape(()) for k in keys])
        v = all_reduce_mean(v)
        return {k: float(v[i]) for i, k in enumerate(keys)}
    if not is_distributed():
        return x
    t = x.detach().clone()
    if dist.get_backend() == "nccl" and t.device.type != "cuda":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / dist.get_world_size()).to(x.device)


def all_gather_object(obj) -> List:
    """``[obj of rank 0, obj of rank 1, ...]`` (``[obj]`` when not distributed)."""
    if not is_distributed():
        return [obj]
    out: List = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
