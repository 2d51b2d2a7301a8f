"""Task-agnostic training engine: typed YAML configs, optimizers and schedules, the training loop with hooks,
atomic checkpoints with exact resume, and torchrun DDP helpers. See ``docs/engine.md``.

Weights files (safetensors), unwrap/freeze and precision live below the engine, in ``structnet.nn.weights``,
``structnet.nn.modules`` and ``structnet.nn.precision``: inference code uses them without importing the engine.

The names below are imported lazily (PEP 562), so ``import structnet.engine.config`` (task configs, loaded by
inference too) does not import the trainer, checkpoints or torch.distributed helpers."""
from __future__ import annotations

import importlib

_LAZY = {
    "checkpoint": ("CheckpointError", "CheckpointHook", "load_checkpoint", "load_latest_checkpoint", "save_checkpoint"),
    "config": ("ConfigError", "OptimConfig", "ScheduleConfig", "TrainConfig", "apply_overrides", "config_from_dict",
               "config_to_dict", "load_config", "save_config"),
    "distributed": ("all_reduce_mean", "barrier", "init_distributed", "is_distributed", "is_main_process", "rank",
                    "world_size"),
    "logging": ("CSVLogHook", "HookBase", "ProgressBarHook", "TensorBoardHook"),
    "optim": ("build_optimizer", "build_scheduler"),
    "trainer": ("KeyBatchSampler", "NonFiniteLossError", "Trainer", "TrainingInterrupted", "collate_samples"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "Trainer", "HookBase", "KeyBatchSampler", "collate_samples", "NonFiniteLossError",
    "OptimConfig", "ScheduleConfig", "TrainConfig", "ConfigError",
    "load_config", "config_from_dict", "config_to_dict", "save_config", "apply_overrides",
    "build_optimizer", "build_scheduler",
    "CheckpointError", "CheckpointHook", "save_checkpoint", "load_checkpoint", "load_latest_checkpoint",
    "CSVLogHook", "TensorBoardHook", "ProgressBarHook",
    "init_distributed", "is_distributed", "is_main_process", "rank", "world_size", "barrier", "all_reduce_mean",
]
