"""The toy task's typed config: the sections every task has, with the toy's own fields."""
from dataclasses import dataclass, field

from structnet.engine.config import OptimConfig, ScheduleConfig, TrainConfig
from structnet.tasks.options import PredictOptions, option


@dataclass
class ToyModelConfig:
    width: int = 8
    init: str = ""


@dataclass
class ToyDataConfig:
    n: int = 64
    size: int = 24
    seed: int = 0


@dataclass
class ToyEvalConfig:
    n: int = 16
    seed: int = 1
    threshold: float = 0.5


@dataclass
class ToyConfig:
    model: ToyModelConfig = field(default_factory=ToyModelConfig)
    data: ToyDataConfig = field(default_factory=ToyDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="adam", lr=2e-2))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(name="constant"))
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: ToyEvalConfig = field(default_factory=ToyEvalConfig)


@dataclass
class ToyPredictOptions(PredictOptions):
    threshold: float = option(0.5, "mask where the probability >= this", low=0.0, high=1.0)
