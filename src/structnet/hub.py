"""The model hub, the one way for users to load any structnet model, bundled or a user's file.

``structnet.hub.load(name_or_path)`` returns a :class:`LoadedModel`: the network (eval mode), the task it belongs
to, its codec / keypoint layout where the task has them, task settings (e.g. the skeleton model's ODS threshold)
and the file's metadata. Bundled models are the ``*.safetensors`` files in ``structnet/weights/``
(:data:`structnet.bundled.WEIGHTS_DIR`); their names are the file stems (``structnet models`` lists them). Every
weights file written by ``structnet train`` carries what is needed to rebuild its network in its safetensors
metadata (``structnet_task``, ``model_config``, ...), so a user's file loads the same way as a bundled one. Nothing
is ever downloaded or unpickled.

The hub is a facade for users above the tasks: loading is :func:`structnet.tasks.loading.load` (which tasks use
themselves), the bundled-weights table is :mod:`structnet.bundled`; no task imports this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from .bundled import WEIGHTS_DIR, bundled_path
from .tasks.loading import LoadedModel, load, task_of

__all__ = ["LoadedModel", "ModelInfo", "WEIGHTS_DIR", "load", "models", "bundled_path", "task_of"]


@dataclass
class ModelInfo:
    """A row of ``structnet models``: name, task, file, size in MB and the headline score from its metadata."""

    name: str
    task: str
    path: Path
    size_mb: float
    headline: str

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "task": self.task, "path": str(self.path), "size_mb": round(self.size_mb, 1),
                "headline": self.headline}


def models(task: Optional[str] = None) -> List[ModelInfo]:
    """The bundled models (optionally of one task) with their size and headline score."""
    from . import tasks
    from .bundled import bundled_weights
    from .nn.weights import read_metadata

    out = []
    for name, path in bundled_weights().items():
        meta = read_metadata(path, decode=True)
        owner = task_of(meta, path)
        if task is not None and owner != task:
            continue
        headline = tasks.get(owner).headline(meta) if owner in tasks.names() else ""
        out.append(ModelInfo(name, owner, path, path.stat().st_size / 2 ** 20, headline))
    return out
