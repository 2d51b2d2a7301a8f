"""The task registry: every system of structnet is a :class:`Task` that fills the same slots.

>>> import structnet.tasks
>>> structnet.tasks.names()
['extraction', 'hypercolumn', 'pose2d', 'pose3d', 'skeleton']
>>> task = structnet.tasks.get("skeleton")

A task provides its config dataclass, model builder, training dataset, loss, evaluator, predictor and writer
(:class:`~structnet.tasks.base.Task`); the generic :func:`~structnet.tasks.run.train`,
:func:`~structnet.tasks.run.evaluate` and :func:`~structnet.tasks.run.predict` drive every task through them,
and ``structnet train|eval|predict|score <task>`` is generated from this registry (``structnet/cli.py``).

Built-in tasks are imported on first use. Other packages add tasks with :func:`register` (at import time) or
through the ``structnet.tasks`` entry-point group (``name = "package.module:TASK"``), read on first use.
See docs/architecture.md, "How to add a task".
"""
from __future__ import annotations

import importlib
from typing import Dict, List

from ..errors import UserError
from .base import Evaluator, Task

__all__ = ["Task", "Evaluator", "register", "unregister", "get", "names"]

#: Built-in tasks: name -> module that defines ``TASK``.
BUILTIN: Dict[str, str] = {"skeleton": "structnet.skeleton.task", "pose2d": "structnet.pose2d.task",
                           "pose3d": "structnet.pose3d.task", "hypercolumn": "structnet.hypercolumn.task",
                           "extraction": "structnet.extraction.task"}

_registry: Dict[str, Task] = {}
_entry_points: Dict[str, str] = {}
_entry_points_read = False


def _read_entry_points() -> None:
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="structnet.tasks"):
            _entry_points.setdefault(ep.name, ep.value)
    except Exception:  # pragma: no cover - a broken third-party distribution must not break structnet
        pass


def register(task: Task, *, replace: bool = False) -> Task:
    """Add ``task`` under ``task.name``; a second task of the same name needs ``replace=True``."""
    if not isinstance(task, Task):
        raise TypeError(f"register() takes a structnet.tasks.Task, got {type(task).__name__}")
    name = str(task.name)
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"a task name is a non-empty word (letters, digits, - and _), got {name!r}")
    if name in _registry and not replace and _registry[name] is not task:
        raise ValueError(f"task {name!r} is already registered (pass replace=True to replace it)")
    task.check_slots()
    _registry[name] = task
    return task


def unregister(name: str) -> None:
    """Remove a registered task (tests; built-in tasks come back on the next :func:`get`)."""
    _registry.pop(name, None)


def names() -> List[str]:
    """Sorted names of all tasks (built-in, registered and from entry points)."""
    _read_entry_points()
    return sorted(set(BUILTIN) | set(_registry) | set(_entry_points))


def get(name: str) -> Task:
    """The task object of ``name`` (UserError listing the names when there is none)."""
    if name in _registry:
        return _registry[name]
    _read_entry_points()
    target = BUILTIN.get(name) or _entry_points.get(name)
    if target is None:
        raise UserError(f"unknown task {name!r}; tasks: {', '.join(names())}")
    module, _, attr = target.partition(":")
    task = getattr(importlib.import_module(module), attr or "TASK")
    if name not in _registry:
        register(task)
    return _registry[name]
