"""Engine configs (YAML -> dataclasses, overrides, errors), optimizer param groups and LR schedules."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pytest
import torch
from torch import nn

from structnet.engine import (ConfigError, OptimConfig, ScheduleConfig, TrainConfig, build_optimizer,
                              build_scheduler, config_from_dict, config_to_dict, load_config, save_config)


@dataclass
class ModelSection:
    width: int = 8
    taps: Optional[List[str]] = None
    scale: float = 1.0


@dataclass
class TaskConfig:
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    extra: Dict[str, float] = field(default_factory=dict)


YAML = """
model:
  width: 16
  taps: [c3, c4]
optim:
  name: adam
  lr: 1e-6           # PyYAML reads this as the string '1e-6'
  betas: [0.5, 0.99]
  lr_mult: {fuse: 5}
train:
  max_iters: 2e3     # integral float string -> int
  grad_clip: 1
"""


def _write(tmp_path, text, name="c.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_yaml_and_overrides_are_typed(tmp_path):
    cfg = load_config(TaskConfig, _write(tmp_path, YAML),
                      ["optim.lr=3e-4", "optim.lr_mult.side=2", "train.progress_bar=false",
                       "schedule.milestones=[10, 20]", "model.taps=null", "train.out_dir=2024", "extra.a=1"])
    assert cfg.optim.lr == 3e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.name == "adam" and cfg.optim.betas == (0.5, 0.99)
    assert cfg.optim.lr_mult == {"fuse": 5.0, "side": 2.0} and isinstance(cfg.optim.lr_mult["fuse"], float)
    assert cfg.train.max_iters == 2000 and isinstance(cfg.train.max_iters, int)
    assert cfg.train.grad_clip == 1.0 and cfg.train.progress_bar is False and cfg.train.out_dir == "2024"
    assert cfg.schedule.milestones == [10, 20] and cfg.model.taps is None and cfg.model.width == 16
    assert cfg.extra == {"a": 1.0} and cfg.train.batch_size == TrainConfig().batch_size  # defaults kept
    # round trip through save_config
    again = load_config(TaskConfig, save_config(cfg, tmp_path / "out" / "saved.yaml"))
    assert again == cfg and config_to_dict(again)["optim"]["betas"] == [0.5, 0.99]
    assert load_config(TaskConfig) == TaskConfig()


@pytest.mark.parametrize("text, overrides, pattern", [
    ("optim:\n  lrr: 0.1\n", [], r"c\.yaml: unknown config key 'optim\.lrr'; valid keys: name, lr, momentum, "),
    ("", ["optim.lrr=0.1"], r"unknown config key 'optim\.lrr'; valid keys: name, lr, momentum"),
    ("", ["optimm.lr=0.1"], r"unknown config key 'optimm'; valid keys: model, optim, schedule, train, extra"),
    ("", ["train.max_iters=1.5"], r"'train\.max_iters': expected int, got 1\.5"),
    ("", ["optim.lr=fast"], r"'optim\.lr': expected float, got 'fast'"),
    ("", ["train.progress_bar=3"], r"'train\.progress_bar': expected bool"),
    ("", ["optim.name=rmsprop"], r"'optim\.name': 'rmsprop' is not one of sgd, adam, adamw"),
    ("", ["optim.betas=[1, 2, 3]"],
     r"'optim\.betas': expected Tuple\[float, float\], got \[1, 2, 3\] \(expected 2 items\)"),
    ("", ["train.seed"], r"not of the form key=value"),
    ("", ["train.seed.x=1"], r"'train\.seed' is a value, not a section"),
    ("", ["optim.lr_mult.fuse=big"], r"'optim\.lr_mult\.fuse': expected float"),
    ("train: 3\n", [], r"config key 'train' is a section: expected a mapping"),
    ("- 1\n- 2\n", [], r"top level must be a mapping"),
    ("optim: {lr: [\n", [], r"not valid YAML"),
    ("model:\n  width: null\n", [], r"'model\.width': expected int, got None"),
])
def test_config_errors_name_the_key(tmp_path, text, overrides, pattern):
    with pytest.raises(ConfigError, match=pattern) as e:
        load_config(TaskConfig, _write(tmp_path, text), overrides)
    assert "\n" not in str(e.value)


def test_config_from_dict_and_missing_file(tmp_path):
    cfg = config_from_dict(TrainConfig, {"batch_size": "4", "precision": "bfloat16"})
    assert cfg.batch_size == 4 and cfg.precision == "bfloat16"
    with pytest.raises(ConfigError, match="unknown config key 'max_iter'; valid keys: max_iters, batch_size"):
        config_from_dict(TrainConfig, {"max_iter": 1})
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(TaskConfig, tmp_path / "nope.yaml")


# ----------------------------------------------------------------------------------------------- optimizer
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.side1, self.side2 = nn.Linear(2, 1), nn.Linear(2, 1)
        self.fuse = nn.Linear(2, 1, bias=False)
        self.frozen = nn.Linear(2, 2)
        self.frozen.requires_grad_(False)


def test_param_groups_by_prefix():
    opt = build_optimizer(Net(), OptimConfig(lr=0.1, weight_decay=1e-3, momentum=0.8,
                                             lr_mult={"fuse": 5.0, "side": 2.0, "side2": 3.0},
                                             wd_mult={"backbone.bias": 0.0}))
    assert isinstance(opt, torch.optim.SGD)
    groups = {tuple(g["names"]): (g["lr"], g["weight_decay"], g["momentum"]) for g in opt.param_groups}
    assert groups == {("backbone.weight",): (0.1, 1e-3, 0.8), ("backbone.bias",): (0.1, 0.0, 0.8),
                      ("side1.weight", "side1.bias"): (pytest.approx(0.2), 1e-3, 0.8),
                      ("side2.weight", "side2.bias"): (pytest.approx(0.3), 1e-3, 0.8),  # longest prefix wins
                      ("fuse.weight",): (0.5, 1e-3, 0.8)}  # frozen parameters are left out
    adam = build_optimizer(Net(), OptimConfig(name="adamw", lr=1e-3, betas=(0.5, 0.9)))
    assert isinstance(adam, torch.optim.AdamW) and adam.param_groups[0]["betas"] == (0.5, 0.9)
    with pytest.raises(ValueError, match=r"optim\.lr_mult: prefix 'fusion' matches no trainable parameter.*"
                                         r"backbone, frozen, fuse, side1, side2"):
        build_optimizer(Net(), OptimConfig(lr_mult={"fusion": 5.0}))
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(nn.ReLU(), OptimConfig())


def _lrs(sched_cfg, n=10, max_iters=10, lr=1.0, lr_mult=None):
    net = nn.Linear(1, 1)
    opt = build_optimizer(net, OptimConfig(lr=lr, momentum=0.0, lr_mult=lr_mult or {}))
    s = build_scheduler(opt, sched_cfg, max_iters)
    out = []
    for _ in range(n):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        s.step()
    return out


def test_schedules_known_values():
    approx = pytest.approx
    assert [x[0] for x in _lrs(ScheduleConfig(name="constant"), 3)] == [1.0, 1.0, 1.0]
    assert [x[0] for x in _lrs(ScheduleConfig(name="step", step_size=3, gamma=0.1), 7)] == approx(
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    assert [x[0] for x in _lrs(ScheduleConfig(name="multistep", milestones=[2, 5], gamma=0.5), 6)] == approx(
        [1, 1, 0.5, 0.5, 0.5, 0.25])
    assert [x[0] for x in _lrs(ScheduleConfig(name="poly", power=2.0), 4, max_iters=4)] == approx(
        [1, 0.5625, 0.25, 0.0625])
    assert [x[0] for x in _lrs(ScheduleConfig(name="cosine", min_lr=0.2), 3, max_iters=2)] == approx([1, 0.6, 0.2])
    # warmup: linear from warmup_factor to 1 over warmup_iters, multiplied with the schedule
    assert [x[0] for x in _lrs(ScheduleConfig(name="constant", warmup_iters=4, warmup_factor=0.2), 5)] == approx(
        [0.2, 0.4, 0.6, 0.8, 1.0])
    # min_lr scales with lr_mult: the weight group (x3) floors at 3 * 0.25
    lrs = _lrs(ScheduleConfig(name="step", step_size=1, gamma=0.1, min_lr=0.25), 3, lr_mult={"weight": 3.0})
    assert lrs[-1] == approx([0.75, 0.25])


def test_schedule_errors():
    with pytest.raises(ValueError, match="schedule.step_size must be > 0"):
        _lrs(ScheduleConfig(name="step"))
    with pytest.raises(ValueError, match="milestones must be a non-empty increasing"):
        _lrs(ScheduleConfig(name="multistep", milestones=[5, 2]))
    with pytest.raises(ValueError, match="max_iters must be > 0"):
        _lrs(ScheduleConfig(), max_iters=0)
