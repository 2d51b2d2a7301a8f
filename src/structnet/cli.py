"""``structnet`` command line: ``structnet train|eval|predict <task> ...`` and ``structnet demo``.

Each task module contributes its subcommands through ``add_<verb>_parser`` functions; this file only
wires them (explicit imports, no string lookups).
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import __version__
from .pose2d import cli as pose2d_cli
from .skeleton import cli as skeleton_cli

TASKS = {"skeleton": skeleton_cli, "pose2d": pose2d_cli}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="structnet", description="Deep multi-scale structure extraction.")
    p.add_argument("--version", action="version", version=f"structnet {__version__}")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="{train,eval,predict,demo}")
    for verb in ("train", "eval", "predict"):
        vp = verbs.add_parser(verb, help=f"{verb} a task's model")
        tasks = vp.add_subparsers(dest="task", required=True, metavar="{" + ",".join(TASKS) + "}")
        for name, mod in TASKS.items():
            getattr(mod, f"add_{verb}_parser")(tasks)
    dp = verbs.add_parser("demo", help="run the bundled models on sample photos that need no download")
    dp.add_argument("--out", default="structnet-demo", help="output folder (default: ./structnet-demo)")
    dp.add_argument("--precision", default="auto", choices=["auto", "float32", "bfloat16"])
    dp.set_defaults(func=_demo)
    return p


def _demo(args) -> int:
    from .demo import run_demo

    return run_demo(args.out, precision=args.precision)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, KeyError, ValueError) as e:  # user errors: one line, no traceback
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"structnet: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
