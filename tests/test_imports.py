"""The package's import graph: task folders are leaves on a shared floor, nothing imports upwards, no cycles.

Every module of ``src/structnet`` is parsed with :mod:`ast`; module-level and function-local imports count alike,
relative imports are resolved. Task folders are the subpackages of ``structnet`` that hold a ``task.py``; the
floor is :data:`FLOOR`. The rules are those of docs/architecture.md.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

PKG = Path(__file__).resolve().parents[1] / "src" / "structnet"
FLOOR = ("backbones", "nn", "data", "engine", "keypoints", "checks", "errors", "runtime", "atomic", "bundled")
#: floor packages that stand below ``data`` and ``engine`` (layers and networks need no file formats or trainer)
LOWEST = ("backbones", "nn")


def _module_name(path: Path) -> str:
    parts = ("structnet",) + path.relative_to(PKG).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(name: str, path: Path, known: Set[str]) -> Set[str]:
    """The package modules ``name`` imports anywhere in its source (``from a import b`` counts as ``a.b`` when
    that is a module, else as ``a``)."""
    is_pkg = path.name == "__init__.py"
    out: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:          # `import structnet.x.y` names a module; strip attributes
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _graph() -> Dict[str, Set[str]]:
    mods = _modules()
    known = set(mods)
    return {n: _imports(n, p, known) for n, p in mods.items()}


def _task_folders() -> Set[str]:
    return {p.parent.name for p in PKG.glob("*/task.py")}


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_graph_is_read():
    g = _graph()
    tasks = _task_folders()
    assert {"skeleton", "pose2d", "pose3d", "hypercolumn", "extraction"} <= tasks
    assert "structnet.tasks.run" in g and g["structnet.tasks.run"]


def test_no_imports_between_task_folders():
    tasks = _task_folders()
    bad: List[Tuple[str, str]] = [(a, b) for a, deps in _graph().items() for b in deps
                                  if _top(a) in tasks and _top(b) in tasks and _top(a) != _top(b)]
    assert not bad, "imports between task folders:\n" + "\n".join(f"{a} -> {b}" for a, b in sorted(bad))


def test_no_upward_imports():
    tasks = _task_folders()
    bad = []
    for a, deps in _graph().items():
        for b in deps:
            if _top(a) in FLOOR and (_top(b) in tasks or _top(b) in ("tasks", "hub", "cli")):
                bad.append((a, b))
            if _top(a) in tasks and _top(b) in ("hub", "cli"):
                bad.append((a, b))
            if _top(a) in LOWEST and _top(b) in ("data", "engine"):
                bad.append((a, b))
    assert not bad, "upward imports:\n" + "\n".join(f"{a} -> {b}" for a, b in sorted(bad))


def _cycles(g: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    g = _graph()
    # a package's __init__ importing its own submodules (re-exports) and those importing siblings through the
    # package is one unit, not a cycle between modules
    edges = {a: {b for b in deps if not (a.startswith(b + ".") and _modules()[b].name == "__init__.py")}
             for a, deps in g.items()}
    cycles = _cycles(edges)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_read_at_every_level_and_resolved(tmp_path):
    f = tmp_path / "inference.py"
    f.write_text("from . import writer\nfrom ..keypoints.layouts import get_layout\n\n\n"
                 "def g():\n    from .. import hub\n    import structnet.pose2d.model\n")
    known = {"structnet.pose3d.writer", "structnet.keypoints.layouts", "structnet.hub", "structnet.pose2d.model",
             "structnet.pose3d.inference"}
    assert _imports("structnet.pose3d.inference", f, known) == {
        "structnet.pose3d.writer", "structnet.keypoints.layouts", "structnet.hub", "structnet.pose2d.model"}
