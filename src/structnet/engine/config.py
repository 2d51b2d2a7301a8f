"""Typed configs: YAML files mapped onto (nested) dataclasses, plus ``a.b=value`` command-line overrides.

A task config is a dataclass whose fields are sections (dataclasses themselves), e.g.::

    @dataclass
    class MyTaskConfig:
        model: MyModelConfig = field(default_factory=MyModelConfig)
        optim: OptimConfig = field(default_factory=OptimConfig)
        schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
        train: TrainConfig = field(default_factory=TrainConfig)

    cfg = load_config(MyTaskConfig, "my_configs/small.yaml", ["optim.lr=1e-4", "train.max_iters=100"])
    cfg = load_config(SkeletonConfig, "lmsds_lite0_cpu", task="skeleton")   # a config shipped in the package

Rules: a key that is not a field is an error naming the full dotted key and the valid keys at that level;
values are coerced to the field's annotated type (so YAML's ``1e-6``, which PyYAML reads as a string, becomes
a float) and a value that does not fit names its key.

**Packaged configs** live in ``structnet/configs/<task>/<name>.yaml`` and are installed with the package;
:func:`resolve_config_path` turns a name into that file (an existing file path always wins), :func:`list_configs`
lists the names. Without ``task=``, :func:`load_config` takes the task from the config class's module
(``structnet.<task>.config``).

**Base files**: a top-level ``_base_: <file or name>`` (or a list of them, merged in order) is loaded first and the
file's own keys are deep-merged over it: mappings merge key by key, lists and scalars replace. A base is looked
for relative to the including file, then as a packaged config of the same task; a cycle is an error naming the
files. Every file is checked on its own, so an unknown key names the file that holds it.

**Data root**: a string value that starts with ``${data}/`` (e.g. ``root: ${data}/lspet``) is expanded when the
config is built (:func:`expand_data_root`): to ``$STRUCTNET_DATA`` if set, else to the first existing of
``../shared/data`` (relative to the current directory, kept relative) and ``<repository>/../shared/data`` (the
repository holding the package source, for editable installs); if none exists the string is left as it is, so
the dataset reader's "not found" error shows ``${data}``.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Sequence, Tuple, Union

import yaml

from ..errors import UserError

__all__ = ["ConfigError", "OptimConfig", "ScheduleConfig", "TrainConfig", "load_config", "config_from_dict",
           "config_to_dict", "save_config", "apply_overrides", "resolve_config_path", "list_configs",
           "expand_data_root", "data_root", "load_config_dict", "DATA_ENV", "DATA_TOKEN", "CONFIGS_DIR"]

#: Folder of the packaged configs: ``CONFIGS_DIR/<task>/<name>.yaml``.
CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
#: Prefix of config strings expanded to the data root, and the environment variable that sets it.
DATA_TOKEN = "${data}"
DATA_ENV = "STRUCTNET_DATA"
_BASE_KEY = "_base_"


class ConfigError(UserError):
    """A config file, name or override that does not fit the config's dataclasses (the one-line message names the
    file and the key)."""


# ----------------------------------------------------------------------------------------------- sections
@dataclass
class OptimConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.01
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0
    betas: Tuple[float, float] = (0.9, 0.999)  # Adam/AdamW only
    eps: float = 1e-8  # Adam/AdamW only
    # parameter-name prefix -> multiplier (plain string prefix of ``model.named_parameters()`` names; the
    # longest matching prefix wins), e.g. {fuse: 5.0} as Caffe's lr_mult of a fusion layer
    lr_mult: Dict[str, float] = field(default_factory=dict)
    wd_mult: Dict[str, float] = field(default_factory=dict)


@dataclass
class ScheduleConfig:
    """Per-iteration learning-rate factor ``warmup(t) * schedule(t)`` (``t`` = optimizer steps taken)."""

    name: Literal["constant", "step", "multistep", "poly", "cosine"] = "constant"
    step_size: int = 0  # step: multiply by gamma every step_size iterations
    gamma: float = 0.1  # step / multistep
    milestones: List[int] = field(default_factory=list)  # multistep: iterations where lr is multiplied by gamma
    power: float = 0.9  # poly: (1 - t / max_iters) ** power
    warmup_iters: int = 0  # linear warmup from warmup_factor to 1 over this many iterations
    warmup_factor: float = 0.001
    min_lr: float = 0.0  # floor (poly/cosine decay to it; step/multistep are clamped at it), scaled by lr_mult


@dataclass
class TrainConfig:
    max_iters: int = 1000  # optimizer steps
    batch_size: int = 1  # samples per process and micro-batch (global batch = batch_size * iter_size * world)
    num_workers: int = 0  # DataLoader worker processes
    seed: int = 0  # sample order, augmentation seeds, dropout
    out_dir: str = "runs/default"
    checkpoint_every: int = 1000  # 0: only the final checkpoint
    log_every: int = 20
    keep_checkpoints: int = 3  # newest checkpoints kept; <= 0 keeps all
    eval_every: int = 0  # run eval_fn every this many steps (0: only at the end, if an eval_fn is given)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["float32", "bfloat16", "auto"] = "float32"  # bfloat16 = torch.autocast of the forward
    channels_last: bool = False  # model and 4-D float inputs in channels_last (fast with bfloat16 on CPU/GPU)
    grad_clip: Optional[float] = None  # max global gradient L2 norm; None/0 = off
    iter_size: int = 1  # micro-batches accumulated per optimizer step (Caffe's iter_size)
    progress_bar: bool = True
    # wall-clock seconds for this invocation (None: no limit): at the first step past it training stops early with
    # a checkpoint (re-running continues) and the weights of that step (a fixed-budget run, e.g. 8 GPU minutes)
    time_limit: Optional[float] = None
    tensorboard: bool = True  # out_dir/tb event files, if the tensorboard package imports
    find_unused_parameters: bool = False  # DDP: for models whose loss does not reach every parameter


# ----------------------------------------------------------------------------------------------- coercion
def _hints(cls) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _tname(tp) -> str:
    if typing.get_origin(tp) is None and hasattr(tp, "__name__"):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` converted to the annotated type ``tp``; ConfigError naming ``key`` when it does not fit."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)

    def bad(why: str = ""):
        return ConfigError(f"config key {key!r}: expected {_tname(tp)}, got {value!r}" + (f" ({why})" if why else ""))

    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, a, key)
            except ConfigError:
                pass
        raise bad()
    if value is None:
        raise bad("null is not allowed here")
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = config_to_dict(value)
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} is a section: expected a mapping, got {value!r}")
        return _from_dict(tp, value, key + ".")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"config key {key!r}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad("use true/false")
    if tp is int:
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise bad() from None
        if not f.is_integer():
            raise bad("not an integer")
        return int(f)
    if tp is float:
        if isinstance(value, bool):
            raise bad()
        try:
            return float(value)  # YAML 1.1 reads 1e-6 (no dot) as a string
        except (TypeError, ValueError):
            raise bad() from None
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad()
    if origin in (list, collections.abc.Sequence) or tp is list:
        if not isinstance(value, (list, tuple)):
            raise bad("expected a list")
        inner = args[0] if args else Any
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is tuple or tp is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad("expected a list")
        if args and args[-1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise bad(f"expected {len(args)} items")
        return tuple(_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * len(value))))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise bad("expected a mapping")
        kt, vt = args if args else (Any, Any)
        return {_coerce(k, kt, f"{key}.{k}"): _coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise bad(f"unsupported field type {tp!r}")


def _from_dict(cls, d: Dict[str, Any], prefix: str):
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in d.items():
        if k not in names:
            raise ConfigError(f"unknown config key {prefix + str(k)!r}; valid keys: {', '.join(names)}")
        kwargs[k] = _coerce(v, hints[k], prefix + k)
    return cls(**kwargs)


def config_from_dict(cls, d: Optional[Dict[str, Any]]):
    """A ``cls`` instance from a nested dict (missing keys keep the dataclass defaults)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"config_from_dict: {cls!r} is not a dataclass")
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"config must be a mapping of sections, got {type(d).__name__}")
    return _expand_fields(_from_dict(cls, d, ""))


def _plain(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def config_to_dict(cfg) -> Dict[str, Any]:
    """Nested dict of plain YAML/JSON types (tuples become lists)."""
    if not (dataclasses.is_dataclass(cfg) and not isinstance(cfg, type)):
        raise TypeError(f"config_to_dict: expected a dataclass instance, got {type(cfg).__name__}")
    return _plain(cfg)


# ----------------------------------------------------------------------------------------------- data root
def _source_repository() -> Optional[Path]:
    """The folder holding the package source when it is a project checkout (``<repo>/src/structnet`` or
    ``<repo>/structnet`` next to a ``pyproject.toml``), e.g. an editable install; None for an installed copy."""
    pkg = CONFIGS_DIR.parent
    for d in (pkg.parent, pkg.parent.parent):
        if (d / "pyproject.toml").is_file():
            return d
    return None


def data_root() -> Optional[str]:
    """What ``${data}`` stands for: ``$STRUCTNET_DATA`` if set (as given, ``~`` expanded), else ``../shared/data``
    if that folder exists relative to the current directory (kept relative, as the configs always said), else
    ``<repository>/../shared/data`` (absolute) if the package source sits in a checkout next to it; else None."""
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return os.path.expanduser(env)
    rel = os.path.join("..", "shared", "data")
    if os.path.isdir(rel):
        return rel
    repo = _source_repository()
    if repo is not None and (repo.parent / "shared" / "data").is_dir():
        return str(repo.parent / "shared" / "data")
    return None


def expand_data_root(s: str) -> str:
    """``s`` with a leading ``${data}`` (alone or followed by ``/``) replaced by :func:`data_root`; any other
    string, or any string when no data root is known, is returned unchanged (a reader's missing-path error then
    shows ``${data}``: set STRUCTNET_DATA or pass the path)."""
    if not isinstance(s, str) or not (s == DATA_TOKEN or s.startswith(DATA_TOKEN + "/")):
        return s
    root = data_root()
    if root is None:
        return s
    rest = s[len(DATA_TOKEN):].lstrip("/")
    return os.path.join(root, rest) if rest else root


def _expand_value(v):
    if isinstance(v, str):
        return expand_data_root(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _expand_fields(v)
    if isinstance(v, list):
        return [_expand_value(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_expand_value(x) for x in v)
    if isinstance(v, dict):
        return {k: _expand_value(x) for k, x in v.items()}
    return v


def _expand_fields(cfg):
    """``cfg`` (a dataclass instance) with ``${data}`` expanded in every string field, in place; returned."""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        new = _expand_value(v)
        if new is not v:
            object.__setattr__(cfg, f.name, new)  # (works for frozen dataclasses too)
    return cfg


# ----------------------------------------------------------------------------------------------- packaged configs
def _task_dir(task: str) -> Path:
    d = CONFIGS_DIR / str(task)
    if not task or "/" in str(task) or "\\" in str(task) or not d.is_dir():
        tasks = sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir()) if CONFIGS_DIR.is_dir() else []
        raise ConfigError(f"no packaged configs for task {task!r} (tasks with configs: {', '.join(tasks) or 'none'})")
    return d


def list_configs(task: str) -> List[str]:
    """Names of the configs shipped for ``task`` (file stems in ``structnet/configs/<task>/``), sorted."""
    return sorted(p.stem for p in _task_dir(task).glob("*.yaml") if p.is_file())


def _packaged(task: str, name: str) -> Optional[Path]:
    d = _task_dir(task)
    if not name or Path(name).name != name:  # a bare name only (no folders, no ..)
        return None
    for cand in (d / name, d / f"{name}.yaml"):
        if cand.suffix == ".yaml" and cand.is_file():
            return cand
    return None


def resolve_config_path(task: Optional[str], name_or_path: Union[str, os.PathLike]) -> Path:
    """The YAML file meant by ``name_or_path``: an existing file wins; else (with a ``task``) the packaged config
    ``structnet/configs/<task>/<name>[.yaml]``. Anything else is a :class:`ConfigError` (a UserError) that lists the
    packaged names."""
    p = Path(os.path.expanduser(str(name_or_path)))
    if p.is_file():
        return p
    if task is None:
        raise ConfigError(f"config file not found: {name_or_path}")
    found = _packaged(task, str(name_or_path))
    if found is not None:
        return found
    raise ConfigError(f"config {str(name_or_path)!r} not found: no such file, and no packaged {task} config of that "
                      f"name (available: {', '.join(list_configs(task)) or 'none'})")


def _task_of(cls) -> Optional[str]:
    """``<task>`` of a config class defined in ``structnet.<task>...`` that has packaged configs, else None."""
    parts = getattr(cls, "__module__", "").split(".")
    if len(parts) >= 2 and parts[0] == CONFIGS_DIR.parent.name and (CONFIGS_DIR / parts[1]).is_dir():
        return parts[1]
    return None


def _task_of_file(path: Path) -> Optional[str]:
    """The task of a file inside the packaged configs folder (its sub-folder), else None."""
    try:
        rel = path.resolve().relative_to(CONFIGS_DIR)
    except ValueError:
        return None
    return rel.parts[0] if len(rel.parts) == 2 else None


# ----------------------------------------------------------------------------------------------- base files
def _deep_merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    """``over`` merged onto a copy of ``base``: mappings merge recursively, anything else (lists too) replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(p: Path) -> Dict[str, Any]:
    try:
        d = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({' '.join(str(e).split())})") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot be read ({e.strerror or e})") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: top level must be a mapping of sections, got {type(d).__name__}")
    return d


def _find_base(ref: str, including: Path, task: Optional[str]) -> Path:
    here = including.parent
    cands = [here / ref] + ([here / f"{ref}.yaml"] if not ref.endswith((".yaml", ".yml")) else [])
    for c in cands:
        if c.is_file():
            return c
    task = task or _task_of_file(including)
    if task is not None and (CONFIGS_DIR / task).is_dir():
        found = _packaged(task, ref)
        if found is not None:
            return found
        where = f"{here} or the packaged {task} configs ({', '.join(list_configs(task))})"
    else:
        where = str(here)
    raise ConfigError(f"{including}: _base_ {ref!r} not found in {where}")


def _load_tree(cls, path: Path, task: Optional[str], stack: Tuple[Path, ...]) -> Dict[str, Any]:
    """The merged dict of ``path`` and its bases (recursively), each file checked against ``cls`` on its own."""
    key = path.resolve()
    if key in stack:
        chain = " -> ".join(str(p) for p in stack[stack.index(key):] + (key,))
        raise ConfigError(f"_base_ cycle: {chain}")
    d = _read_yaml(path)
    refs = d.pop(_BASE_KEY, [])
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list) or not all(isinstance(r, str) and r for r in refs):
        raise ConfigError(f"{path}: _base_ must be a file name or a list of file names, got {refs!r}")
    try:
        config_from_dict(cls, d)  # this file's own keys and values: its errors name it
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    merged: Dict[str, Any] = {}
    for ref in refs:
        merged = _deep_merge(merged, _load_tree(cls, _find_base(ref, path, task), task, stack + (key,)))
    return _deep_merge(merged, d)


def load_config_dict(cls, path_or_name: Union[str, os.PathLike], task: Optional[str] = None) -> Dict[str, Any]:
    """The nested dict a config file (or packaged name, with ``task``) stands for, its ``_base_`` files merged in,
    before defaults, overrides and ``${data}`` expansion. ``task=None``: taken from ``cls`` (see the module doc)."""
    task = task if task is not None else _task_of(cls)
    return _load_tree(cls, resolve_config_path(task, path_or_name), task, ())


# ----------------------------------------------------------------------------------------------- overrides
def _set_override(cls, d: Dict[str, Any], item: str) -> None:
    if not isinstance(item, str) or "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value (e.g. optim.lr=1e-4)")
    dotted, text = item.split("=", 1)
    dotted = dotted.strip()
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {item!r}: value is not valid YAML ({str(e).splitlines()[0]})") from None
    parts = dotted.split(".")
    if not all(parts):
        raise ConfigError(f"override {item!r}: empty key part in {dotted!r}")
    tp, node = cls, d
    for i, p in enumerate(parts):
        key = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if dataclasses.is_dataclass(tp):
            names = [f.name for f in dataclasses.fields(tp)]
            if p not in names:
                raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(names)}")
            tp = _hints(tp)[p]
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            if typing.get_origin(tp) in (Union, types.UnionType) and len(inner) == 1:
                tp = inner[0]  # Optional[Section] / Optional[Dict]
        elif typing.get_origin(tp) is dict or tp is dict:
            tp = (typing.get_args(tp) or (Any, Any))[1]
        else:
            raise ConfigError(f"override {item!r}: {'.'.join(parts[:i])!r} is a value, not a section")
        if last:
            node[p] = value
        else:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]


def apply_overrides(cls, d: Dict[str, Any], overrides: Sequence[str] = ()) -> Dict[str, Any]:
    """``d`` (a nested dict for ``cls``) updated in place by ``key.sub=value`` strings, keys checked."""
    if isinstance(overrides, str):
        overrides = [overrides]
    for item in overrides:
        _set_override(cls, d, item)
    return d


def load_config(cls, path_or_name: Union[str, os.PathLike, None] = None, overrides: Sequence[str] = (),
                task: Optional[str] = None):
    """``cls`` from a YAML file or packaged config name (optional; defaults otherwise) with ``a.b=value`` overrides
    applied on top.

    ``path_or_name``: an existing file, else the name of a config shipped for ``task`` (``structnet/configs/<task>/``;
    ``task=None``: the task of ``cls``'s module ``structnet.<task>...``). ``_base_`` files are merged in (module doc).
    Values of overrides are parsed with ``yaml.safe_load`` (``1e-6``, ``true``, ``[1, 2]``, ``{fuse: 5}``);
    ``${data}/...`` strings are expanded last (:func:`expand_data_root`). Raises :class:`ConfigError` (a
    UserError) naming the file and the full dotted key on any mismatch, or listing the packaged names.
    """
    d: Dict[str, Any] = {}
    if path_or_name is not None:
        d = load_config_dict(cls, path_or_name, task)
        try:
            config_from_dict(cls, d)  # the merged files must be valid as a whole too
        except ConfigError as e:
            raise ConfigError(f"{path_or_name}: {e}") from None
    # overrides go onto the file's own dict, so a dict field (lr_mult) is updated key by key
    try:
        apply_overrides(cls, d, overrides)
        return config_from_dict(cls, d)
    except ConfigError as e:
        raise (e if str(e).startswith("override") else ConfigError(f"override: {e}")) from None


def save_config(cfg, path: Union[str, os.PathLike]) -> Path:
    """Writes ``cfg`` (a config dataclass, or a dict of sections) as YAML, atomically; :func:`load_config`
    reads it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = _plain(cfg) if isinstance(cfg, dict) else config_to_dict(cfg)
    text = yaml.safe_dump(d, sort_keys=False, default_flow_style=False)
    from ..atomic import atomic_write

    return atomic_write(path, lambda f: f.write(text.encode()))
