"""Generated tables in the docs: the report scripts (benchmarks/report_<task>.py) print their tables, and with
``--write`` put each one into docs/<task>.md between two marker comments::

    <!-- benchmarks/report_skeleton.py: accuracy -->
    | method | ... |
    <!-- end: benchmarks/report_skeleton.py: accuracy -->

Only the text between a block's markers is replaced; a block whose markers are not in the doc is named on stderr
and left out (tables edited by hand carry no markers). ``--check`` compares instead of writing (exit 1 on a
difference).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Callable, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
Block = Tuple[str, str]  # (name, text without a trailing newline)


def start_marker(script: str, name: str) -> str:
    return f"<!-- benchmarks/{script}: {name} -->"


def end_marker(script: str, name: str) -> str:
    return f"<!-- end: benchmarks/{script}: {name} -->"


def printed_blocks(print_all: Callable[[], None]) -> List[Block]:
    """The paragraphs (separated by blank lines) that ``print_all`` prints, named ``table 1``, ``table 2``, ..."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_all()
    paras = [p.strip("\n") for p in buf.getvalue().split("\n\n") if p.strip()]
    return [(f"table {i}", p) for i, p in enumerate(paras, 1)]


def replace_blocks(text: str, script: str, blocks: Sequence[Block]) -> Tuple[str, List[str], List[str]]:
    """``text`` with every block that has markers in it replaced; returns (new text, changed names, unmarked
    names)."""
    changed, unmarked = [], []
    for name, body in blocks:
        a, b = start_marker(script, name), end_marker(script, name)
        i, j = text.find(a), text.find(b)
        if i < 0 or j < i:
            unmarked.append(name)
            continue
        new = f"{a}\n{body}\n"
        if text[i:j] != new:
            changed.append(name)
            text = text[:i] + new + text[j:]
    return text, changed, unmarked


def marked_blocks(text: str, script: str) -> List[Block]:
    """The blocks of ``script`` that ``text`` holds between markers, in order of appearance."""
    out, pos, head = [], 0, f"<!-- benchmarks/{script}: "
    while (i := text.find(head, pos)) >= 0:
        name = text[i + len(head): text.index(" -->", i)]
        body_start = text.index("\n", i) + 1
        j = text.index(end_marker(script, name), body_start)
        out.append((name, text[body_start:j].rstrip("\n")))
        pos = j
    return out


def main(script: str, doc: str, blocks: Callable[[], List[Block]], argv=None) -> int:
    """The command line of a report script: print the blocks (default), ``--write`` them into ``doc`` or
    ``--check`` that ``doc`` holds them."""
    ap = argparse.ArgumentParser(description=f"tables of {doc} from benchmarks/results/")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help=f"replace the marked tables in {doc}")
    g.add_argument("--check", action="store_true", help=f"exit 1 if a marked table in {doc} differs")
    args = ap.parse_args(argv)
    got = blocks()
    if not (args.write or args.check):
        for name, body in got:
            print(f"<!-- {name} -->\n{body}\n")
        return 0
    path = ROOT / doc
    text, changed, unmarked = replace_blocks(path.read_text(), script, got)
    if unmarked:
        print(f"not marked in {doc} (left out): {', '.join(unmarked)}", file=sys.stderr)
    if args.check:
        if changed:
            print(f"{doc}: differs from the results in: {', '.join(changed)}", file=sys.stderr)
        return 1 if changed else 0
    if changed:
        path.write_text(text)
    print(f"{doc}: {len(changed)} table(s) rewritten" + (f" ({', '.join(changed)})" if changed else ""))
    return 0
