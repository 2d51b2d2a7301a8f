"""Inference precision: float32, or bfloat16 autocast where the hardware runs it fast.

:func:`resolve_precision` is the one precision resolution of structnet: inference (``--precision``) and the
trainer (``train.precision``) both use it. ``precision="auto"`` picks bfloat16 only where it is native:

* CPU: the CPU has AMX (``amx_bf16``/``amx_tile``) or AVX512-BF16 (``avx512_bf16``). Detected at run
  time from PyTorch's CPU feature probes (``torch.cpu._is_amx_tile_supported`` /
  ``_is_avx512_bf16_supported``) and, where those are absent, ``/proc/cpuinfo`` flags. Without them
  bfloat16 matmuls/convs are emulated and usually slower than float32, so "auto" stays float32.
* CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and newer).
* anything else: float32.

``"float32"`` disables autocast (also an enclosing one); ``"bfloat16"`` forces bfloat16 autocast (it works
on any CPU, just slowly without native support; on a CUDA device without bf16 it raises).

For CNN inference on CPU also put the model and input in channels_last
(``model.to(memory_format=torch.channels_last)``, ``x.contiguous(memory_format=torch.channels_last)``):
oneDNN's bfloat16 convolutions are fastest in that layout. Outputs of autocast regions may be bfloat16;
call ``.float()`` before numerics that need float32.
"""
from __future__ import annotations

import contextlib
import functools
from typing import ContextManager, Union

import torch

from ..errors import UserError

PRECISIONS = ("auto", "float32", "bfloat16")
_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def _cpuinfo_flags() -> set:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True if this CPU computes bfloat16 natively (AMX-BF16 or AVX512-BF16)."""
    probes = [getattr(torch.cpu, n, None) for n in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    probes = [p for p in probes if callable(p)]
    if probes:
        try:
            return bool(any(p() for p in probes))
        except Exception:  # noqa: BLE001 - fall back to the flags below
            pass
    return bool(_cpuinfo_flags() & set(_CPU_FLAGS))


def _as_device(device: Union[str, torch.device, None]) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise UserError(f"device={device!r}: not a torch device ({e})") from None


def device_has_fast_bf16(device: Union[str, torch.device, None] = "cpu") -> bool:
    """True if bfloat16 is native on ``device`` (see the module docstring)."""
    dev = _as_device(device)
    if dev.type == "cpu":
        return cpu_has_fast_bf16()
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return False


def resolve_precision(device: Union[str, torch.device, None], precision: str = "auto",
                      name: str = "precision") -> torch.dtype:
    """``"auto"``/``"float32"``/``"bfloat16"`` -> the compute dtype used on ``device``: the one precision
    resolution of structnet (inference and the trainer's ``train.precision``). ``name`` is the setting named in
    error messages (e.g. ``"train.precision"``); errors are :class:`~structnet.errors.UserError`."""
    if precision not in PRECISIONS:
        raise UserError(f"{name}={precision!r}: expected one of {', '.join(PRECISIONS)}")
    dev = _as_device(device)
    if precision == "float32":
        return torch.float32
    if precision == "bfloat16":
        if dev.type == "cuda" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise UserError(f"{name}='bfloat16': device {dev} does not support bfloat16; use float32 or auto")
        return torch.bfloat16
    return torch.bfloat16 if device_has_fast_bf16(dev) else torch.float32


def inference_context(device: Union[str, torch.device, None] = "cpu", precision: str = "auto") -> ContextManager:
    """Context manager for a forward pass on ``device`` at ``precision``: ``torch.autocast`` with bfloat16,
    or autocast disabled for float32 (devices without autocast get a no-op context for float32).

    >>> with inference_context("cpu", "float32"):
    ...     pass
    """
    dev = _as_device(device)
    dtype = resolve_precision(dev, precision)
    enabled = dtype == torch.bfloat16
    try:
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=enabled)
    except RuntimeError as e:
        if not enabled:
            return contextlib.nullcontext()
        raise UserError(f"precision={precision!r}: autocast is not available on device {dev} ({e})") from None
