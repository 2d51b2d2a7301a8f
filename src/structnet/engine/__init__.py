"""Task-agnostic training engine: typed YAML configs, optimizers and schedules, the training loop with hooks,
atomic checkpoints with exact resume, and torchrun DDP helpers. See ``docs/engine.md``.

Weights files (safetensors), unwrap/freeze and precision live below the engine, in ``structnet.nn.weights``,
``structnet.nn.modules`` and ``structnet.nn.precision``: inference code uses them without importing the engine."""
from .checkpoint import CheckpointError, CheckpointHook, load_checkpoint, load_latest_checkpoint, save_checkpoint
from .config import (ConfigError, OptimConfig, ScheduleConfig, TrainConfig, apply_overrides, config_from_dict,
                     config_to_dict, load_config, save_config)
from .distributed import (all_reduce_mean, barrier, init_distributed, is_distributed, is_main_process, rank,
                          world_size)
from .logging import CSVLogHook, HookBase, ProgressBarHook, TensorBoardHook
from .optim import build_optimizer, build_scheduler
from .trainer import KeyBatchSampler, NonFiniteLossError, Trainer, collate_samples

__all__ = [
    "Trainer", "HookBase", "KeyBatchSampler", "collate_samples", "NonFiniteLossError",
    "OptimConfig", "ScheduleConfig", "TrainConfig", "ConfigError",
    "load_config", "config_from_dict", "config_to_dict", "save_config", "apply_overrides",
    "build_optimizer", "build_scheduler",
    "CheckpointError", "CheckpointHook", "save_checkpoint", "load_checkpoint", "load_latest_checkpoint",
    "CSVLogHook", "TensorBoardHook", "ProgressBarHook",
    "init_distributed", "is_distributed", "is_main_process", "rank", "world_size", "barrier", "all_reduce_mean",
]
