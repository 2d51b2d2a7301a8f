"""A sixth task for the tests, built the way a task is added to structnet: this folder (config, data, model,
metrics, task) and one line that registers it (``structnet.tasks.register(TASK)``; a built-in task adds its line
to ``structnet.tasks.BUILTIN``). Nothing else in structnet knows about it: the CLI's verbs, the training and
evaluation loops, the hub and the registry suite take it as it is. It learns the mask of a bright square."""
from .task import TASK, ToyTask

__all__ = ["TASK", "ToyTask"]
