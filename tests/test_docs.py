"""The docs: the README is a front page whose links resolve, and every results table that a benchmarks/report_*.py
script generates is, between its markers in docs/<task>.md, exactly what the script makes of the committed JSON."""
import importlib
import re
import sys
from pathlib import Path

import pytest

import structnet.tasks

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def test_readme_is_a_front_page_whose_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    for task in structnet.tasks.BUILTIN:
        assert f"structnet predict {task} " in text and f"(docs/{task}.md)" in text
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target:
                assert (doc.parent / target).exists(), f"{doc.name}: link to {target}"


@pytest.fixture()
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    yield
    for name in [n for n in sys.modules if n.startswith("report_") or n == "_docblocks"]:
        sys.modules.pop(name)


@pytest.mark.parametrize("task", sorted(structnet.tasks.BUILTIN))
def test_generated_tables_match_the_benchmark_json(task, bench_on_path):
    docblocks = importlib.import_module("_docblocks")
    report = importlib.import_module(f"report_{task}")
    script = f"report_{task}.py"
    made = dict(report.blocks())
    marked = docblocks.marked_blocks((ROOT / "docs" / f"{task}.md").read_text(), script)
    assert marked, f"docs/{task}.md has no table of benchmarks/{script}"
    for name, body in marked:
        assert body == made[name], f"docs/{task}.md, {name}: differs from what benchmarks/{script} makes"


def test_replace_blocks_rewrites_only_between_markers(bench_on_path):
    d = importlib.import_module("_docblocks")
    text = f"intro\n{d.start_marker('r.py', 'a')}\nold\n{d.end_marker('r.py', 'a')}\nkeep\n"
    new, changed, unmarked = d.replace_blocks(text, "r.py", [("a", "| new |"), ("b", "x")])
    assert (changed, unmarked) == (["a"], ["b"])
    assert new == f"intro\n{d.start_marker('r.py', 'a')}\n| new |\n{d.end_marker('r.py', 'a')}\nkeep\n"
    assert d.replace_blocks(new, "r.py", [("a", "| new |")])[1] == []


def test_speed_and_serve_tables_match_the_benchmark_json(bench_on_path):
    report = importlib.import_module("report_speed")
    assert report.main(["--check"]) == 0
