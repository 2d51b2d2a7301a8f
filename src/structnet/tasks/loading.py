"""Loading a model, bundled or a user's file: :func:`load` (offered to users as ``structnet.hub.load``).

``load(name_or_path)`` returns a :class:`LoadedModel`: the network (eval mode), the task it belongs
to, its codec / keypoint layout where the task has them, task settings (e.g. the skeleton model's ODS threshold)
and the file's metadata. Bundled models are the ``*.safetensors`` files in ``structnet/weights/``; their names
are the file stems (``structnet models`` lists them). Every weights file written by ``structnet train`` carries
what is needed to rebuild its network in its safetensors metadata (``structnet_task``, ``model_config``, ...), so
a user's file loads the same way as a bundled one. Nothing is ever downloaded or unpickled.

The loader finds the task by the ``structnet_task`` (or older ``task``) metadata key through the task registry
(:mod:`structnet.tasks`) and lets the task rebuild its network (:meth:`structnet.tasks.Task.model_from_metadata`).
Tasks use it to load a model of their own or of another task (through the registry, never another task's modules).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Union

from ..bundled import bundled_path
from ..errors import UserError, a_or_an

__all__ = ["LoadedModel", "load", "task_of"]

PathLike = Union[str, os.PathLike]


@dataclass
class LoadedModel:
    """A network with everything needed to run and describe it.

    network: the ``nn.Module`` in eval mode. task: the task name (``structnet.tasks.get(task)``). name: the bundled
    name or the file stem. source: the weights file. metadata: the file's metadata, JSON values decoded. codec,
    layout: the task's target codec and keypoint layout where it has them (``None`` otherwise). settings: task
    defaults stored with the model (skeleton: ``threshold``, the ODS threshold of its evaluation).
    """

    network: Any
    task: str
    name: str
    source: Path
    metadata: Dict[str, Any] = field(default_factory=dict)
    codec: Any = None
    layout: Any = None
    settings: Dict[str, Any] = field(default_factory=dict)
    backend: str = "torch"

    def to(self, device) -> "LoadedModel":
        import torch

        if self.backend != "torch" and torch.device(device).type != "cpu":
            raise UserError(f"{self.name}: the {self.backend} backend runs on the CPU, not on {device}")
        self.network = self.network.to(device)
        return self

    @property
    def device(self):
        import torch

        p = next(self.network.parameters(), None)
        return p.device if p is not None else torch.device("cpu")


def task_of(metadata: Dict[str, Any], path: PathLike) -> str:
    """The task name a weights file belongs to (metadata key ``structnet_task``, or ``task`` in older files)."""
    task = metadata.get("structnet_task") or metadata.get("task")
    if not task:
        raise UserError(f"{path}: not a structnet model (its metadata names no task); weights of a bare network "
                        f"load with structnet.nn.weights.load_weights")
    return str(task)


def _resolve(name_or_path: Optional[PathLike], task: Optional[str]) -> Path:
    if name_or_path is None or str(name_or_path) == "":
        if task is None:
            raise UserError("no model given: pass a bundled name or a weights file (see 'structnet models')")
        from .. import tasks

        default = tasks.get(task).default_model
        if not default:
            raise UserError(f"task {task!r} has no bundled model yet: pass --model with a weights file from "
                            f"'structnet train {task}'")
        return bundled_path(default)
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.exists():
        raise UserError(f"{p}: is a folder, not a weights file")
    if p.suffix or os.sep in str(name_or_path) or "/" in str(name_or_path):
        raise UserError(f"weights file not found: {p}")
    return bundled_path(str(name_or_path))


def load(name_or_path: Optional[PathLike] = None, *, task: Optional[str] = None, device=None,
         backend: str = "torch", precision: str = "auto") -> LoadedModel:
    """Load a bundled model by name or a weights file by path (``None``: the task's default bundled model).

    ``task``: when given, the model must belong to it (UserError otherwise). ``device``: where to put the
    network (default CPU). ``backend``: ``"torch"`` (default), ``"onnxruntime"`` or ``"auto"`` (ONNX Runtime
    where it can run the model at ``precision``; :mod:`structnet.nn.onnx_backend`). Errors (missing / corrupt /
    foreign files, a model of another task, a backend that cannot run) are one-line
    :class:`~structnet.errors.UserError` messages naming the file."""
    from .. import tasks
    from ..nn.onnx_backend import onnx_network, resolve_backend
    from ..nn.weights import read_metadata

    path = _resolve(name_or_path, task)
    meta = read_metadata(path, decode=True)
    owner = task_of(meta, path)
    if owner not in tasks.names():
        raise UserError(f"{path}: a model of task {owner!r}, which this structnet does not have "
                        f"(tasks: {', '.join(tasks.names())})")
    if task is not None and owner != task:
        raise UserError(f"{path}: {a_or_an(owner)} {owner} model, not {a_or_an(task)} {task} model")
    model = tasks.get(owner).model_from_metadata(meta, path)
    model.metadata = meta
    if not model.name:
        model.name = str(meta.get("name") or path.stem)
    if device is not None:
        model.to(device)
    model.network.eval()
    spec = tasks.get(owner).onnx_spec(model)
    if resolve_backend(backend, spec_available=spec is not None, task=owner, device=device,
                       precision=precision) == "onnxruntime":
        model.network = onnx_network(model.network, path, spec)
        model.backend = "onnxruntime"
    return model
