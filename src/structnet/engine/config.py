"""Typed configs: YAML files mapped onto (nested) dataclasses, plus ``a.b=value`` command-line overrides.

A task config is a dataclass whose fields are sections (dataclasses themselves), e.g.::

    @dataclass
    class MyTaskConfig:
        model: MyModelConfig = field(default_factory=MyModelConfig)
        optim: OptimConfig = field(default_factory=OptimConfig)
        schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
        train: TrainConfig = field(default_factory=TrainConfig)

    cfg = load_config(MyTaskConfig, "configs/my.yaml", ["optim.lr=1e-4", "train.max_iters=100"])

Rules: a key that is not a field is an error naming the full dotted key and the valid keys at that level;
values are coerced to the field's annotated type (so YAML's ``1e-6``, which PyYAML reads as a string, becomes
a float) and a value that does not fit names its key. There is no inheritance between files (no ``_base_``):
one YAML file is the whole picture, overrides are the only other source.
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

__all__ = ["ConfigError", "OptimConfig", "ScheduleConfig", "TrainConfig", "load_config", "config_from_dict",
           "config_to_dict", "save_config", "apply_overrides"]


class ConfigError(ValueError):
    """A config file or override that does not fit the config's dataclasses (message names the key)."""


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
    return _from_dict(cls, d, "")


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


def load_config(cls, path: Union[str, os.PathLike, None] = None, overrides: Sequence[str] = ()):
    """``cls`` from a YAML file (optional; defaults otherwise) with ``a.b=value`` overrides applied on top.

    Values of overrides are parsed with ``yaml.safe_load`` (``1e-6``, ``true``, ``[1, 2]``, ``{fuse: 5}``).
    Raises :class:`ConfigError` (a ValueError) naming the file and the full dotted key on any mismatch.
    """
    d: Dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML ({' '.join(str(e).split())})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: top level must be a mapping of sections, got {type(d).__name__}")
    try:
        config_from_dict(cls, d)  # the file alone must be valid: its errors name the file
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None
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
    from ..data.io import atomic_write

    return atomic_write(path, lambda f: f.write(text.encode()))
