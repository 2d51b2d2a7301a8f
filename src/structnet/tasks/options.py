"""Typed task options: one dataclass field per flag, the CLI flags generated from them.

A task declares its ``predict`` / ``score`` options as a dataclass whose fields are made with :func:`option` (the
default, the help text, the choices and the numeric range of the flag, all written once), and marks the fields of
its config's ``eval`` section that ``structnet eval`` exposes the same way. :func:`add_arguments` turns such a
dataclass into argparse flags:

* ``--<field-name>`` (``_`` -> ``-``) or the ``flag`` given; bool fields become a ``--x`` / ``--no-x`` pair of which
  at most one may be given;
* numbers are checked against ``low`` / ``high`` by argparse (one line naming the flag, before any work);
* comma-separated numbers (``count`` given, or a list/tuple default) parse into a tuple or list; a value such as
  ``-100,5,200,300`` after its flag is taken as the value, not as a flag (:func:`join_negative_values`).

:func:`from_args` builds the dataclass from parsed flags (flags not given keep the dataclass default) and
:func:`apply_args` copies the flags given into an existing instance (the config's ``eval`` section). In Python the
same dataclasses are built directly, e.g. ``SkeletonPredictOptions(threshold=0.3)``.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import typing
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ..checks import MAX_SCALE, MIN_SCALE

__all__ = ["PredictOptions", "MIN_SCALE", "MAX_SCALE", "option", "OptionSpec", "option_fields", "add_arguments", "from_args", "apply_args", "numeric_fields",
           "join_negative_values", "check_box", "check"]


@dataclass(frozen=True)
class OptionSpec:
    """What :func:`option` stores in a field's metadata (``metadata["option"]``)."""

    help: str
    flag: Optional[str] = None  # the option string (default: --<field name with - for _>)
    dest: Optional[str] = None  # the argparse dest (default: the field name)
    choices: Optional[Tuple[Any, ...]] = None
    kind: Optional[type] = None  # int | float for numbers (default: from the field's default)
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False  # low itself refused
    high_open: bool = False
    count: Optional[int] = None  # comma-separated numbers: exactly this many (None with a list default: 1 or more)
    many: bool = False  # comma-separated numbers, one or more
    repeat: bool = False  # the flag may be repeated, each value appended (a list field)
    words: bool = False  # comma-separated words -> a list
    parse: Optional[Callable[[str], Any]] = None  # a custom argparse type (the value as given otherwise)
    metavar: Optional[str] = None
    required: bool = False
    show_default: bool = True


@dataclass
class PredictOptions:
    """Base of every task's predict options: ``precision`` (the common ``--precision`` flag) of inference."""

    precision: str = "auto"  # auto | float32 | bfloat16 (structnet.nn.precision)


def option(default: Any = MISSING, help: str = "", **spec) -> Any:
    """A dataclass field that is also a flag (:class:`OptionSpec` for ``spec``). List defaults are copied per
    instance; no default makes a required flag."""
    meta = {"option": OptionSpec(help=help, required=default is MISSING, **spec)}
    if isinstance(default, list):
        value = list(default)
        return dataclasses.field(default_factory=lambda: list(value), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def option_fields(cls) -> Iterator[Tuple[dataclasses.Field, OptionSpec]]:
    """The fields of dataclass ``cls`` made with :func:`option`, in order."""
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("option")
        if spec is not None:
            yield f, spec


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _kind(f: dataclasses.Field, spec: OptionSpec) -> Optional[type]:
    if spec.kind is not None:
        return spec.kind
    d = _default(f)
    if isinstance(d, bool):
        return None
    if isinstance(d, (int, float)):
        return type(d)
    if isinstance(d, (list, tuple)) and d and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d):
        return float if any(isinstance(v, float) for v in d) else int
    return None


def _is_bool(f: dataclasses.Field, spec: OptionSpec) -> bool:
    if isinstance(_default(f), bool):
        return True
    return str(f.type).replace(" ", "") in ("bool", "Optional[bool]")


def _range_text(spec: OptionSpec, kind: type) -> str:
    lo = "" if spec.low is None else f"{spec.low:g}"
    hi = "" if spec.high is None else f"{spec.high:g}"
    what = "an integer" if kind is int else "a number"
    if spec.low is not None and spec.high is not None:
        return f"{what} in {'(' if spec.low_open else '['}{lo}, {hi}{')' if spec.high_open else ']'}"
    if spec.low is not None:
        return f"{what} {'>' if spec.low_open else '>='} {lo}"
    if spec.high is not None:
        return f"{what} {'<' if spec.high_open else '<='} {hi}"
    return what


def in_range(spec: OptionSpec, v: float) -> bool:
    if spec.low is not None and (v < spec.low or (spec.low_open and v == spec.low)):
        return False
    if spec.high is not None and (v > spec.high or (spec.high_open and v == spec.high)):
        return False
    return True


def number(spec: OptionSpec, kind: type) -> Callable[[str], Any]:
    """argparse type: one number of ``kind`` within the spec's range."""

    def parse(text: str):
        try:
            v = kind(str(text).strip())
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {_range_text(spec, kind)}, got {text!r}") from None
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if not in_range(spec, v):
            raise argparse.ArgumentTypeError(f"must be {_range_text(spec, kind)}, got {text}")
        return v

    return parse


def numbers(spec: OptionSpec, kind: type, as_list: bool) -> Callable[[str], Any]:
    """argparse type: comma-separated numbers (``spec.count`` of them when set), each within the range."""
    one = number(spec, kind)
    n = spec.count

    def parse(text: str):
        parts = [t for t in str(text).split(",") if t.strip()]
        if not parts or (n is not None and len(parts) != n):
            raise argparse.ArgumentTypeError(f"expected {n or 'one or more'} comma-separated numbers, got {text!r}")
        try:
            vals = [one(t) for t in parts]
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"each comma-separated value must be {_range_text(spec, kind)}, got "
                                             f"{text}") from None
        return vals if as_list else tuple(vals)

    return parse


def _words(text: str) -> List[str]:
    out = [t.strip() for t in str(text).split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return out


def is_numeric(f: dataclasses.Field, spec: OptionSpec) -> bool:
    return spec.parse is None and not _is_bool(f, spec) and _kind(f, spec) is not None and not spec.choices


def _flag(f: dataclasses.Field, spec: OptionSpec) -> str:
    return spec.flag or "--" + f.name.replace("_", "-")


def _dest(f: dataclasses.Field, spec: OptionSpec) -> str:
    return spec.dest or f.name


def _literal_choices(cls, name: str) -> Optional[Tuple[Any, ...]]:
    try:
        hint = typing.get_type_hints(cls)[name]
    except Exception:  # noqa: BLE001 -- unresolvable annotations: no choices from the type
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) is typing.Literal:
        return tuple(typing.get_args(hint))
    if len(args) == 1 and typing.get_origin(args[0]) is typing.Literal:
        return tuple(typing.get_args(args[0]))
    return None


def add_arguments(parser: argparse.ArgumentParser, cls, *, keep_defaults: bool = True,
                  defaults_note: str = "") -> None:
    """Add a flag for every :func:`option` field of dataclass ``cls`` to ``parser``.

    ``keep_defaults``: the flags' defaults are the fields' (predict, score); False: flags not given are None and
    leave the target alone (:func:`apply_args`; eval, whose defaults are the config's). ``defaults_note`` is shown
    after the default in the help (e.g. "of the eval section")."""
    for f, spec in option_fields(cls):
        flag, dest = _flag(f, spec), _dest(f, spec)
        default = _default(f) if keep_defaults else None
        shown = _default(f)
        help_text = spec.help
        if spec.show_default and shown is not None and not spec.required and not (isinstance(shown, list) and not shown):
            text = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in shown) \
                if isinstance(shown, (list, tuple)) else (f"{shown:g}" if isinstance(shown, float) else str(shown))
            if isinstance(shown, bool):
                text = flag if shown else "--no-" + flag[2:]
            help_text = f"{help_text} (default: {text}{defaults_note})" if help_text else f"default: {text}"
        help_text = help_text.replace("%", "%%")
        if _is_bool(f, spec):
            group = parser.add_mutually_exclusive_group()
            group.add_argument(flag, dest=dest, action="store_true", default=default, help=help_text)
            group.add_argument("--no-" + flag[2:], dest=dest, action="store_false", default=default,
                               help=f"the opposite of {flag}")
            continue
        kw: Dict[str, Any] = dict(dest=dest, default=default, help=help_text)
        if spec.metavar:
            kw["metavar"] = spec.metavar
        if spec.required and keep_defaults:
            kw["required"] = True
        choices = spec.choices or _literal_choices(cls, f.name)
        kind = _kind(f, spec)
        if spec.parse is not None:
            kw["type"] = spec.parse
        elif spec.words:
            kw["type"] = _words
        elif kind is not None and (spec.count is not None or spec.many or isinstance(shown, (list, tuple))):
            kw["type"] = numbers(spec, kind, as_list=isinstance(shown, list) or (shown is None and spec.many))
            kw.setdefault("metavar", ",".join(["N"] * spec.count) if spec.count else "N[,N...]")
        elif kind is not None and not choices:
            kw["type"] = number(spec, kind)
        if choices:
            kw["choices"] = list(choices)
        if spec.repeat:
            kw["action"] = "append"
            kw["default"] = None
        parser.add_argument(flag, **kw)


def from_args(cls, args: argparse.Namespace, **fixed):
    """An instance of dataclass ``cls`` from parsed flags: every field whose dest is in ``args`` with a value other
    than None (fields without :func:`option` too, e.g. the common ``precision``); the rest keep their defaults."""
    values = dict(fixed)
    ns = vars(args)
    for f in dataclasses.fields(cls):
        if f.name in values or not f.init:
            continue
        spec = f.metadata.get("option")
        dest = _dest(f, spec) if spec is not None else f.name
        if dest in ns and ns[dest] is not None:
            values[f.name] = ns[dest]
    return cls(**values)


def apply_args(target, args: argparse.Namespace) -> None:
    """Copy the :func:`option` flags given (not None) in ``args`` into the dataclass instance ``target``."""
    ns = vars(args)
    for f, spec in option_fields(type(target)):
        v = ns.get(_dest(f, spec))
        if v is not None:
            setattr(target, f.name, v)


def numeric_fields(cls) -> List[Tuple[dataclasses.Field, OptionSpec, type]]:
    """The :func:`option` fields of ``cls`` that take numbers, with their kind (int or float); for tests and help."""
    return [(f, s, _kind(f, s)) for f, s in option_fields(cls) if is_numeric(f, s)]


def flag_of(f: dataclasses.Field, spec: OptionSpec) -> str:
    return _flag(f, spec)


_NEGATIVE = re.compile(r"^-(\d|\.\d)")


def join_negative_values(argv: Sequence[str], flags: Sequence[str]) -> List[str]:
    """``--box -100,5,200,300`` -> ``--box=-100,5,200,300`` for the value-taking ``flags`` (argparse would read a
    value that starts with ``-`` as a flag)."""
    out: List[str] = []
    wanted = set(flags)
    i = 0
    argv = list(argv)
    while i < len(argv):
        tok = argv[i]
        if tok in wanted and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def negative_flags(cls) -> List[str]:
    """The flags of ``cls`` whose values may start with ``-`` (numbers with a range below 0 or none)."""
    return [_flag(f, s) for f, s, _ in numeric_fields(cls) if s.low is None or s.low < 0]


def check_box(box: Optional[Sequence[float]], image_shape: Optional[Tuple[int, ...]] = None,
              flag: str = "--box") -> None:
    """UserError for a box ``x1,y1,x2,y2`` that is empty, or (with ``image_shape``) that lies outside the image."""
    from ..errors import UserError

    if box is None:
        return
    text = ",".join(f"{v:g}" for v in box)
    if not (box[2] > box[0] and box[3] > box[1]):
        raise UserError(f"{flag}: x2 > x1 and y2 > y1 needed, got {text}")
    if image_shape is not None:
        h, w = image_shape[:2]
        if box[2] <= -0.5 or box[3] <= -0.5 or box[0] >= w - 0.5 or box[1] >= h - 0.5:
            raise UserError(f"{flag} {text} lies outside the {w}x{h} image")


def check(obj) -> None:
    """UserError (one line naming the flag) for a value of an :func:`option` field of dataclass instance ``obj``
    that the flag would refuse: a number out of its range, a wrong count of numbers, a value not in the choices.
    Options built in Python go through this; parsed flags are already checked by argparse."""
    from ..errors import UserError

    cls = type(obj)
    for f, spec in option_fields(cls):
        v = getattr(obj, f.name)
        if v is None:
            continue
        flag = _flag(f, spec)
        choices = spec.choices or _literal_choices(cls, f.name)
        if choices and not _is_bool(f, spec) and not spec.repeat and v not in choices:
            raise UserError(f"{flag}: must be one of {', '.join(map(str, choices))}, got {v!r}")
        if not is_numeric(f, spec):
            continue
        kind = _kind(f, spec)
        vals = list(v) if isinstance(v, (list, tuple)) else [v]
        if spec.count is not None and len(vals) != spec.count:
            raise UserError(f"{flag}: expected {spec.count} numbers, got {len(vals)}")
        for x in vals:
            ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))
            if not ok or (kind is int and float(x) != int(x)) or not in_range(spec, float(x)):
                raise UserError(f"{flag}: must be {_range_text(spec, kind)}, got {x!r}")
