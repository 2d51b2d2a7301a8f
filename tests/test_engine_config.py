"""Engine configs (YAML -> dataclasses, overrides, errors, ``_base_`` files, packaged configs by name, the
``${data}`` root), optimizer param groups and LR schedules."""
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch
from torch import nn

from structnet.engine import (ConfigError, OptimConfig, ScheduleConfig, TrainConfig, build_optimizer,
                              build_scheduler, config_from_dict, config_to_dict, load_config, save_config)
from structnet.engine import config as cfgmod
from structnet.engine.config import expand_data_root, list_configs, load_config_dict, resolve_config_path
from structnet.errors import UserError
from structnet.pose2d.config import Pose2DConfig
from structnet.skeleton.config import SkeletonConfig

TESTS = Path(__file__).resolve().parent


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
    with pytest.raises(UserError, match=r"config file not found: .*nope\.yaml$"):
        load_config(TaskConfig, tmp_path / "nope.yaml")
    assert issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)


# ----------------------------------------------------------------------------------------------- _base_ files
def test_base_files_deep_merge(tmp_path, monkeypatch):
    (tmp_path / "common").mkdir()
    _write(tmp_path / "common", "model:\n  width: 16\n  taps: [a, b]\noptim:\n  name: adam\n  lr: 0.1\n"
                                "  lr_mult: {fuse: 5, side: 2}\ntrain:\n  max_iters: 50\n", "base.yaml")
    _write(tmp_path / "common", "_base_: base.yaml\ntrain:\n  max_iters: 70\n  seed: 3\nextra: {a: 1}\n", "mid.yaml")
    _write(tmp_path, "optim:\n  momentum: 0.5\ntrain:\n  seed: 9\n", "other.yaml")
    child = _write(tmp_path, "_base_: [common/mid.yaml, other]\nmodel:\n  taps: [c]\noptim:\n  lr: 0.2\n"
                             "  lr_mult: {side: 3}\nextra: {b: 2}\n", "child.yaml")
    monkeypatch.chdir(tmp_path / "common")  # bases are found relative to the including file, not the cwd
    cfg = load_config(TaskConfig, child, ["optim.lr_mult.x=4"])
    assert cfg.model.width == 16 and cfg.model.taps == ["c"]  # dicts merge key by key, lists replace
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("adam", 0.2, 0.5)
    assert cfg.optim.lr_mult == {"fuse": 5.0, "side": 3.0, "x": 4.0}
    assert (cfg.train.max_iters, cfg.train.seed) == (70, 9)  # later bases override earlier ones, the file both
    assert cfg.extra == {"a": 1.0, "b": 2.0}
    assert load_config_dict(TaskConfig, child)["train"] == {"max_iters": 70, "seed": 9}
    # a scalar (or null) replaces a section of the base; the result must still fit the dataclass
    bad = _write(tmp_path, "_base_: common/base.yaml\noptim: 3\n", "bad.yaml")
    with pytest.raises(ConfigError, match=r"bad\.yaml: config key 'optim' is a section"):
        load_config(TaskConfig, bad)


def test_base_errors_name_the_files(tmp_path):
    a = _write(tmp_path, "_base_: b.yaml\n", "a.yaml")
    _write(tmp_path, "_base_: [c.yaml]\n", "b.yaml")
    _write(tmp_path, "_base_: a\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"^_base_ cycle: \S*a\.yaml -> \S*b\.yaml -> \S*c\.yaml -> \S*a\.yaml$"):
        load_config(TaskConfig, a)
    me = _write(tmp_path, "_base_: me.yaml\n", "me.yaml")
    with pytest.raises(ConfigError, match=r"_base_ cycle: \S*me\.yaml -> \S*me\.yaml$"):
        load_config(TaskConfig, me)
    # a file reached twice without a cycle (diamond) is fine
    _write(tmp_path, "train: {seed: 1}\n", "root.yaml")
    _write(tmp_path, "_base_: root.yaml\ntrain: {max_iters: 5}\n", "left.yaml")
    _write(tmp_path, "_base_: root.yaml\ntrain: {log_every: 7}\n", "right.yaml")
    cfg = load_config(TaskConfig, _write(tmp_path, "_base_: [left.yaml, right.yaml]\n", "diamond.yaml"))
    assert (cfg.train.seed, cfg.train.max_iters, cfg.train.log_every) == (1, 5, 7)
    with pytest.raises(ConfigError, match=r"miss\.yaml: _base_ 'nowhere\.yaml' not found in "):
        load_config(TaskConfig, _write(tmp_path, "_base_: nowhere.yaml\n", "miss.yaml"))
    with pytest.raises(ConfigError, match=r"typ\.yaml: _base_ must be a file name or a list of file names, got 3"):
        load_config(TaskConfig, _write(tmp_path, "_base_: 3\n", "typ.yaml"))
    # an unknown key in a base names the base file, not the including one
    _write(tmp_path, "optim:\n  lrr: 1\n", "badbase.yaml")
    with pytest.raises(ConfigError, match=r"badbase\.yaml: unknown config key 'optim\.lrr'"):
        load_config(TaskConfig, _write(tmp_path, "_base_: badbase.yaml\n", "inc.yaml"))


def test_base_falls_back_to_a_packaged_config_of_the_task(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTNET_DATA", "/data")
    f = _write(tmp_path, "_base_: ladder_lspet_cpu_base\ntrain:\n  out_dir: mine\n", "mine.yaml")
    cfg = load_config(Pose2DConfig, f)  # task from the class (structnet.pose2d.config)
    assert cfg == load_config(Pose2DConfig, "ladder_lspet_cpu_base", ["train.out_dir=mine"], task="pose2d")
    assert (cfg.data.input_size, cfg.data.sigma, cfg.data.root) == (128, 2.0, "/data/lspet")
    with pytest.raises(ConfigError, match=r"_base_ 'ladder_lspet_cpu_base' not found in \S+$"):
        load_config(TaskConfig, f)  # no task: nothing packaged to fall back to


def test_shipped_rungs_and_stages_are_short(monkeypatch):
    """The ladder rungs / stages say only what differs from their base."""
    import yaml

    for n in ("1_hourglass", "2_mss", "3_msr", "4_struct", "5_masking"):
        bench = BENCH_CONFIGS / "pose2d" / f"ladder_lspet_cpu_{n}.yaml"
        d = yaml.safe_load(resolve_config_path("pose2d", bench if bench.is_file() else f"ladder_lspet_cpu_{n}")
                           .read_text())
        assert d.pop("_base_") == "ladder_lspet_cpu_base.yaml"
        assert {k: sorted(v) for k, v in d.items()} == {"model": ["msr", "mss"], "loss": ["alpha"],
                                                         "data": ["keypoint_masking"], "train": ["out_dir"]}
    for family in ("lspet_cpu", "mpii_paper"):
        for k in (1, 2, 3):
            d = yaml.safe_load(resolve_config_path("pose2d", f"{family}_stage{k}").read_text())
            assert d["_base_"] == f"{family}_base.yaml" and len(yaml.safe_dump(d).splitlines()) <= 25


# ----------------------------------------------------------------------------------------------- benchmark configs
BENCH_CONFIGS = TESTS.parent / "benchmarks" / "configs"


def test_benchmark_config_on_a_packaged_base_loads_by_path(monkeypatch, tmp_path):
    """A config of benchmarks/configs/<task>/ whose ``_base_`` is a packaged config of the task resolves it (the
    task from the config class), from any working directory, through the CLI's loader too."""
    monkeypatch.setenv("STRUCTNET_DATA", "/data")
    monkeypatch.chdir(tmp_path)
    hed = BENCH_CONFIGS / "skeleton" / "hed_lite0_cpu.yaml"
    assert not (hed.parent / "lmsds_lite0_cpu.yaml").exists()  # the base is only in the package
    cfg = load_config(SkeletonConfig, hed)
    assert cfg == load_config(SkeletonConfig, "lmsds_lite0_cpu",
                              ["model.method=hed", "loss.lam=0.0", "train.out_dir=runs/skeleton/hed_lite0_cpu"])
    # a chain across the two places: horse (benchmarks) -> hed_lite0_cpu (benchmarks) -> lmsds_lite0_cpu (package)
    horse = load_config(SkeletonConfig, BENCH_CONFIGS / "skeleton" / "hed_lite0_horse_cpu.yaml")
    assert (horse.model.method, horse.loss.lam, horse.data.root, horse.train.max_iters) == \
        ("hed", 0.0, "/data/weizmann-horse", 500)
    from structnet.tasks import get
    from structnet.tasks.run import load_stage_configs

    ext = get("extraction")
    stages = load_stage_configs(ext, ["separate_duts_cpu", str(BENCH_CONFIGS / "extraction" / "separate_duts_cpu_ft.yaml")])
    assert stages[1].model.init == "previous" and stages[1].train.out_dir != stages[0].train.out_dir
    # structnet train <task> --config benchmarks/configs/<task>/x.yaml (made tiny by overrides)
    from structnet.cli import main

    assert main(["train", "skeleton", "--config", str(BENCH_CONFIGS / "skeleton" / "hed_lite0_horse_cpu.yaml"),
                 "model.backbone=vgg_tiny", "model.pretrained=false", "model.init=", "data.dataset=synthetic",
                 "data.synthetic_n=2", "data.synthetic_size=32", "train.max_iters=1", "train.num_workers=0",
                 f"train.out_dir={tmp_path / 'run'}", "train.progress_bar=false", "train.tensorboard=false",
                 "--threads", "1"]) == 0
    saved = load_config(SkeletonConfig, tmp_path / "run" / "config.yaml")
    assert (saved.model.method, saved.loss.lam, saved.train.max_iters) == ("hed", 0.0, 1)


def test_no_config_is_both_packaged_and_a_benchmark():
    """A benchmark config never shadows a packaged name (``--config NAME`` means one file)."""
    for d in BENCH_CONFIGS.iterdir():
        assert {p.stem for p in d.glob("*.yaml")}.isdisjoint(list_configs(d.name))


# ----------------------------------------------------------------------------------------------- packaged configs
def test_resolve_and_list_packaged_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert list_configs("skeleton") == ["fsds_vgg16_paper", "hed_vgg16_paper", "lmsds_lite0_cpu", "lmsds_lite0_cpu_distill",
                                        "lmsds_lite0_cpu_finetune", "lmsds_lite0_cpu_finetune2", "lmsds_vgg16_paper"]
    packaged = cfgmod.CONFIGS_DIR / "skeleton" / "lmsds_lite0_cpu.yaml"
    assert packaged.is_file() and cfgmod.CONFIGS_DIR.parent.name == "structnet"
    assert resolve_config_path("skeleton", "lmsds_lite0_cpu") == packaged
    assert resolve_config_path("skeleton", "lmsds_lite0_cpu.yaml") == packaged
    # an existing file wins over the packaged name
    (tmp_path / "lmsds_lite0_cpu.yaml").write_text("train: {max_iters: 3}\n")
    assert resolve_config_path("skeleton", "lmsds_lite0_cpu.yaml") == Path("lmsds_lite0_cpu.yaml")
    assert load_config(SkeletonConfig, "lmsds_lite0_cpu.yaml").train.max_iters == 3
    assert load_config(SkeletonConfig, "lmsds_lite0_cpu").train.max_iters == 6000  # task from the class
    assert load_config(TaskConfig, str(tmp_path / "lmsds_lite0_cpu.yaml")).train.max_iters == 3
    with pytest.raises(UserError, match=r"^config 'lmsds_lite' not found: no such file, and no packaged skeleton "
                                        r"config of that name \(available: fsds_vgg16_paper, .*lmsds_vgg16_paper\)$"):
        resolve_config_path("skeleton", "lmsds_lite")
    with pytest.raises(UserError, match=r"not found: no such file, and no packaged skeleton config"):
        resolve_config_path("skeleton", "../skeleton/lmsds_lite0_cpu")  # names are bare names
    assert "joint_duts_cpu" in list_configs("extraction")
    with pytest.raises(UserError, match=r"no packaged configs for task 'nosuch' \(tasks with configs: "
                                        r"extraction, hypercolumn, pose2d, pose3d, skeleton\)"):
        list_configs("nosuch")
    with pytest.raises(UserError, match=r"^config file not found: lmsds_lite0_cpu$"):
        resolve_config_path(None, "lmsds_lite0_cpu")
    with pytest.raises(UserError, match=r"available: .*lspet_cpu_stage1"):
        load_config(Pose2DConfig, "lspet_stage1")


# ----------------------------------------------------------------------------------------------- data root
def _tree(tmp_path, with_data=True):
    """tmp/repo/src/structnet/configs (a checkout) next to tmp/shared/data."""
    repo = tmp_path / "repo"
    (repo / "src" / "structnet" / "configs").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    if with_data:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    return repo


def test_expand_data_root_known_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("STRUCTNET_DATA", "/srv/data")
    assert expand_data_root("${data}/lspet") == "/srv/data/lspet"
    assert expand_data_root("${data}/mpii-valid/valid.npz") == "/srv/data/mpii-valid/valid.npz"
    assert expand_data_root("${data}") == "/srv/data"
    for s in ("x/${data}/y", "${database}/x", "../shared/data/lspet", "", "$data/x"):
        assert expand_data_root(s) == s
    monkeypatch.setenv("STRUCTNET_DATA", "~/d")
    assert expand_data_root("${data}/a") == os.path.join(os.path.expanduser("~"), "d", "a")
    monkeypatch.delenv("STRUCTNET_DATA")
    repo = _tree(tmp_path)
    # 1. ../shared/data relative to the current directory: kept relative (what the configs used to say)
    monkeypatch.chdir(repo)
    monkeypatch.setattr(cfgmod, "CONFIGS_DIR", tmp_path / "elsewhere" / "structnet" / "configs")
    assert expand_data_root("${data}/lspet") == "../shared/data/lspet"
    # 2. relative to the repository holding the package source (editable install), from any directory
    monkeypatch.chdir(tmp_path)
    assert expand_data_root("${data}/lspet") == "${data}/lspet"  # not a checkout: nothing found, left as is
    monkeypatch.setattr(cfgmod, "CONFIGS_DIR", repo / "src" / "structnet" / "configs")
    assert expand_data_root("${data}/lspet") == str(tmp_path / "shared" / "data" / "lspet")
    # 3. $STRUCTNET_DATA wins even when it does not exist
    monkeypatch.setenv("STRUCTNET_DATA", "rel/data")
    assert expand_data_root("${data}/lspet") == "rel/data/lspet"
    # nothing exists: unchanged
    monkeypatch.delenv("STRUCTNET_DATA")
    monkeypatch.setattr(cfgmod, "CONFIGS_DIR", _tree(tmp_path / "t2", with_data=False) / "src" / "structnet" / "configs")
    assert expand_data_root("${data}/lspet") == "${data}/lspet"


def test_data_root_is_expanded_in_defaults_files_and_overrides(tmp_path, monkeypatch):
    @dataclass
    class Data:
        root: str = "${data}/sk"
        roots: List[str] = field(default_factory=lambda: ["${data}/a", "b"])
        named: Dict[str, str] = field(default_factory=dict)
        other: Optional[str] = None

    @dataclass
    class Cfg:
        data: Data = field(default_factory=Data)

    monkeypatch.setenv("STRUCTNET_DATA", "/D")
    assert load_config(Cfg) == Cfg(Data(root="/D/sk", roots=["/D/a", "b"]))
    f = _write(tmp_path, "data:\n  root: ${data}/x\n  named: {v: '${data}/v'}\n")
    cfg = load_config(Cfg, f, ["data.other=${data}/o"])
    assert (cfg.data.root, cfg.data.named, cfg.data.other) == ("/D/x", {"v": "/D/v"}, "/D/o")
    saved = save_config(cfg, tmp_path / "saved.yaml")  # saved expanded: the run's record says where the data was
    monkeypatch.setenv("STRUCTNET_DATA", "/elsewhere")
    assert load_config(Cfg, saved) == cfg
    # the task defaults use it: `eval pose2d` without --root no longer depends on the current directory
    monkeypatch.setenv("STRUCTNET_DATA", "/D")
    pose, skel = load_config(Pose2DConfig), load_config(SkeletonConfig)
    assert (pose.data.root, pose.eval.root, skel.data.root, skel.eval.root) == ("/D/lspet",) * 2 + ("/D/sk-large",) * 2


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
