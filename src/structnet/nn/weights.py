"""Model weights as safetensors files: the one reader and writer of structnet's weights, below the tasks.

Training, inference, the hub and the benchmarks all go through these four functions:

* :func:`save_weights` ``(model, path, metadata=None)``: parameters + buffers, written atomically
  (:func:`structnet.atomic.atomic_write`: a kill leaves the old file or the new one; mode 0666 minus the umask);
  metadata values that are not strings are stored as JSON strings.
* :func:`read_metadata` ``(path, decode=False)``: the metadata dict, without building a model.
* :func:`load_state_dict` ``(path)``: ``{name: tensor}`` on the CPU.
* :func:`load_weights` ``(model, path, strict=True)``: into ``model`` in place; returns the metadata.

Every failure is a :class:`~structnet.errors.UserError` whose one-line message names the file and says what it
is instead: missing, empty, truncated, a PyTorch zip/pickle checkpoint, HDF5, NumPy, text (e.g. a Git LFS
pointer), or weights that do not fit the model (counts and a few names of the missing / unexpected / mis-shaped
tensors). Weights files are never unpickled: ``torch.load`` is never called on them.

This module imports nothing from ``structnet.engine`` (inference code uses it without the training engine).
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..atomic import atomic_write
from ..errors import UserError, a_or_an
from .modules import unwrap

__all__ = ["save_weights", "half_kernels", "read_metadata", "read_tensor_shapes", "load_state_dict", "load_weights",
           "state_dict_mismatch"]

PathLike = Union[str, os.PathLike]

_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit
_EXPORT_HINT = ("use the run's model.safetensors, or export with structnet.nn.weights.save_weights(model, "
                "'model.safetensors') in a Python session you trust")


def _shown(keys: List[str], n: int = 5) -> str:
    return f"({len(keys)}): {', '.join(keys[:n])}{' ...' if len(keys) > n else ''}"


# ----------------------------------------------------------------------------------------------- writing
def half_kernels(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose floating-point parameters of 2 or more dimensions (convolution kernels, linear
    weights) are float16; biases, norm parameters and buffers (BatchNorm running statistics, whose small variances
    would lose precision) stay as they are. Tied weights stay tied. For bundling: it halves a CNN's file, and
    :func:`load_weights` casts every tensor back to the model's dtype on load."""
    import copy

    out = copy.deepcopy(unwrap(model))
    with torch.no_grad():
        for p in out.parameters():
            if p.is_floating_point() and p.dim() >= 2:
                p.data = p.data.to(torch.float16)
    return out


def save_weights(model: nn.Module, path: PathLike, metadata: Optional[Mapping[str, object]] = None,
                 half: bool = False) -> Path:
    """Writes ``model``'s state (parameters + buffers; a DDP/DataParallel wrapper is unwrapped) as safetensors,
    atomically, and returns the path. Metadata values that are not strings are stored as JSON strings (config
    dicts, metric values): :func:`read_metadata` with ``decode=True`` parses them back. Tied weights are stored
    once (any of their names loads them). ``half``: store the kernels as float16 (:func:`half_kernels`; the model
    itself is not changed)."""
    from safetensors.torch import save_model

    meta = {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in (metadata or {}).items()}
    path = Path(path)
    net = half_kernels(model) if half else unwrap(model)
    with tempfile.TemporaryDirectory() as tmp:  # save_model writes a path; then one atomic write onto ``path``
        tmp_file = Path(tmp) / "weights.safetensors"
        save_model(net, str(tmp_file), metadata=meta)  # drops duplicate names of tied weights
        data = tmp_file.read_bytes()
    return atomic_write(path, lambda f: f.write(data))


# ----------------------------------------------------------------------------------------------- checking
def _what_it_is(path: Path, head: bytes) -> Optional[str]:
    """What a file that is not safetensors looks like (None when it may be safetensors)."""
    if head.startswith(b"PK\x03\x04"):
        names = head[30:400]
        if b"data.pkl" in names or b".data/" in names or b"/data/" in names:
            return (f"is a PyTorch zip/pickle checkpoint (torch.save), not safetensors; structnet never unpickles "
                    f"weights files: {_EXPORT_HINT}")
        if b".npy" in names:
            return "is a NumPy .npz archive, not safetensors; " + _EXPORT_HINT
        return "is a zip archive, not a safetensors weights file; " + _EXPORT_HINT
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return (f"is a Python pickle (legacy torch.save / pickle.dump), not safetensors; structnet never unpickles "
                f"weights files: {_EXPORT_HINT}")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "is an HDF5 file (Keras/MATLAB weights?), not safetensors; " + _EXPORT_HINT
    if head.startswith(b"\x93NUMPY"):
        return "is a NumPy .npy array, not safetensors; " + _EXPORT_HINT
    if head.startswith(b"version https://git-lfs"):
        return "is a Git LFS pointer, not the weights themselves: fetch them with 'git lfs pull'"
    if head[8:9] == b"{":  # safetensors: u64 header size, then a JSON object
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a character cut by the 512-byte read is still text
        text = head[:e.start].decode("utf-8") if e.reason == "unexpected end of data" else None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        first = " ".join(text.split())[:40]
        return f"is a text file (starts {first!r}), not a safetensors weights file"
    if len(head) > 8:
        return "is not a safetensors weights file (unrecognised content); " + _EXPORT_HINT
    return None  # a few binary bytes: reported as truncated


def _read_header(path: PathLike) -> dict:
    """The parsed safetensors header of ``path`` (tensor entries and ``__metadata__``), checked against the file
    size; UserError naming the file otherwise."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a weights file (pass the .safetensors file in it)")
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path}: is empty (0 bytes): an interrupted copy or download? copy or export it again")
    with path.open("rb") as f:
        head = f.read(512)
        what = _what_it_is(path, head)
        if what is not None:
            raise UserError(f"{path}: {what}")
        if size < 8:
            raise UserError(f"{path}: is truncated ({size} bytes): copy or export it again")
        (n,) = struct.unpack("<Q", head[:8])
        if n < 2 or n > _MAX_HEADER:
            raise UserError(f"{path}: is not a safetensors weights file (header size {n} is impossible); "
                            + _EXPORT_HINT)
        if 8 + n > size:
            raise UserError(f"{path}: is truncated ({size} bytes, its header alone needs {8 + n}): "
                            f"copy or export it again")
        f.seek(8)
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{path}: corrupt safetensors header (not JSON): copy or export it again") from None
    if not isinstance(header, dict):
        raise UserError(f"{path}: corrupt safetensors header (not a JSON object): copy or export it again")
    end = 0
    for k, v in header.items():
        if k == "__metadata__":
            if not (isinstance(v, dict) and all(isinstance(x, str) for x in v.values())):
                raise UserError(f"{path}: corrupt safetensors metadata (values must be strings)")
            continue
        offsets = v.get("data_offsets") if isinstance(v, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise UserError(f"{path}: corrupt safetensors header (tensor {k!r} has no valid data_offsets)")
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise UserError(f"{path}: is truncated ({size} bytes, its header promises {8 + n + end}): "
                        f"copy or export it again")
    return header


# ----------------------------------------------------------------------------------------------- reading
def read_tensor_shapes(path: PathLike) -> Dict[str, Tuple[int, ...]]:
    """``{tensor name: shape}`` of a safetensors file, from its header (no tensor data is read)."""
    header = _read_header(path)
    return {k: tuple(int(d) for d in v.get("shape", ())) for k, v in header.items() if k != "__metadata__"}


def read_metadata(path: PathLike, decode: bool = False) -> Dict[str, object]:
    """The metadata dict of a safetensors file (strings; with ``decode``, JSON values parsed where possible).
    UserError naming the file when it is missing, truncated or not safetensors."""
    meta: Dict[str, object] = dict(_read_header(path).get("__metadata__") or {})
    if decode:
        for k, v in meta.items():
            try:
                meta[k] = json.loads(v)
            except ValueError:
                pass
    return meta


def load_state_dict(path: PathLike) -> Dict[str, torch.Tensor]:
    """``{name: tensor}`` (CPU) of a safetensors file; UserError naming the file when it cannot be read."""
    from safetensors.torch import load_file

    _read_header(path)
    try:
        return load_file(str(path), device="cpu")
    except Exception as e:  # noqa: BLE001 - whatever safetensors finds wrong, one line naming the file
        msg = " ".join(str(e).split())[:200]
        raise UserError(f"{path}: corrupt safetensors file ({type(e).__name__}: {msg}): copy or export it "
                        f"again") from None


def state_dict_mismatch(own: Mapping[str, torch.Tensor], loaded: Mapping[str, torch.Tensor]) -> Optional[str]:
    """How ``loaded`` fails to fit a model whose state dict is ``own`` (None when it fits): counts and the first
    names of the missing, unexpected and mis-shaped tensors, in one line. Tied weights (one storage under several
    names in ``own``) need only one of their names in ``loaded``."""
    groups: Dict[object, List[str]] = {}
    for k, v in own.items():
        key = (v.data_ptr(), v.numel(), tuple(v.shape)) if isinstance(v, torch.Tensor) and v.numel() else k
        groups.setdefault(key, []).append(k)
    missing = [g[0] for g in groups.values() if not any(a in loaded for a in g)]
    unexpected = [k for k in loaded if k not in own]
    bad_shape = [f"{k} {tuple(loaded[k].shape)} vs {tuple(own[k].shape)} in the model" for k in loaded
                 if k in own and tuple(loaded[k].shape) != tuple(own[k].shape)]
    parts = [f"{what} {_shown(keys)}" for what, keys in
             (("missing", missing), ("unexpected", unexpected), ("shape mismatch", bad_shape)) if keys]
    return "; ".join(parts) or None


def load_weights(model: nn.Module, path: PathLike, strict: bool = True, decode: bool = False) -> Dict[str, object]:
    """Loads a file written by :func:`save_weights` into ``model`` (in place; a DDP wrapper is unwrapped) and
    returns its metadata (``decode``: JSON values parsed).

    ``strict``: missing or unexpected tensor names and shape mismatches raise a UserError with their counts and
    first names; otherwise the tensors that fit are loaded and the rest is left as it is.
    """
    path = Path(path)
    meta = read_metadata(path, decode=decode)
    sd = load_state_dict(path)
    net = unwrap(model)
    own = net.state_dict()
    problem = state_dict_mismatch(own, sd)
    if strict and problem:
        task = meta.get("structnet_task") or meta.get("task")
        made = f" (the file holds {a_or_an(task)} {task} model)" if isinstance(task, str) else ""
        raise UserError(f"{path}: weights do not fit {type(net).__name__}{made}: {problem}; pass weights saved "
                        f"from this architecture/method")
    with torch.no_grad():
        for k, v in sd.items():
            if k in own and tuple(v.shape) == tuple(own[k].shape):
                own[k].copy_(v)
    return meta
