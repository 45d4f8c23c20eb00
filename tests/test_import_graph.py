"""The modules of `hub/` and `machines/` import each other without a cycle.

Read from the source (the AST), not from `sys.modules`: every `import` and `from … import`
counts, at the top of a module, under `if TYPE_CHECKING:` and inside a function alike, so
a cycle cannot hide behind an import moved into a function. `machines/` is the pure core
and imports nothing from `hub/`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "machines")
#: The only modules that may import our own modules inside a function, and why.
LAZY_IMPORTERS = {
    # Each command loads its own wiring (the daemon, discord.py, aiohttp) only when it
    # runs: `replay`, `diagrams` and `notify` start without them.
    "hub.cli",
    # The composition root imports discord.py, the webhook's aiohttp client and the
    # status server (aiohttp, prometheus-client) only for a configuration that uses
    # them: the idle daemon's memory budget (docs/performance.md).
    "hub.app",
}


@dataclass(frozen=True, slots=True)
class Edge:
    importer: str
    imported: str
    line: int
    in_function: bool


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module under the packages, by dotted name (a package by its own name)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def edges(root: Path, packages: Iterable[str] = PACKAGES) -> list[Edge]:
    """Every import of one of the packages' modules by another of them."""
    known = modules(root, packages)
    found = []
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, in_function in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, package):
                imported = _module_of(target, known)
                if imported is not None and imported != name:
                    found.append(Edge(name, imported, node.lineno, in_function))
    return found


def _imports(tree: ast.AST,
             in_function: bool = False) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                           | ast.Lambda)
        yield from _imports(node, inside)


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The dotted names an import may load: `from a.b import c` loads `a.b`, maybe `a.b.c`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: `from . import x`, `from ..y import z`
        parts = package.split(".")
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _module_of(target: str, known: dict[str, Path]) -> str | None:
    """The module of ours that `target` names, or None (the standard library, a package)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def cycles(graph: list[Edge]) -> list[tuple[set[str], list[Edge]]]:
    """Each group of modules that import each other (Tarjan), with one cycle through it."""
    out: dict[str, list[Edge]] = {}
    for edge in graph:
        out.setdefault(edge.importer, []).append(edge)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for edge in out.get(name, []):
            if edge.imported not in index:
                connect(edge.imported)
                low[name] = min(low[name], low[edge.imported])
            elif edge.imported in stack:
                low[name] = min(low[name], index[edge.imported])
        if low[name] == index[name]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == name:
                    break
            if len(group) > 1:
                groups.append(group)

    for name in sorted(out):
        if name not in index:
            connect(name)
    return [(group, _cycle_in(group, out)) for group in groups]


def _cycle_in(group: set[str], out: dict[str, list[Edge]]) -> list[Edge]:
    """A shortest way from the group's first module back to itself, inside the group."""
    start = min(group)
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:
        following = []
        for name in frontier:
            for edge in out.get(name, []):
                if edge.imported == start:
                    return [*paths[name], edge]
                if edge.imported in group and edge.imported not in paths:
                    paths[edge.imported] = [*paths[name], edge]
                    following.append(edge.imported)
        frontier = following
    raise AssertionError(f"no cycle in {group}")  # a strongly connected group has one


def shown(group: set[str], cycle: list[Edge]) -> str:
    """`a:1 -> b:4 -> a` (the line of each import), and the rest of the group."""
    steps = [f"{e.importer}:{e.line}{' (in a function)' if e.in_function else ''}"
             for e in cycle]
    others = sorted(group - {e.importer for e in cycle})
    return " -> ".join([*steps, cycle[0].importer]) + (
        f"; also tangled: {', '.join(others)}" if others else "")


# -- the rules ----------------------------------------------------------------------------

def test_hub_and_machines_import_without_a_cycle():
    assert [shown(*found) for found in cycles(edges(ROOT))] == []


def test_machines_import_nothing_from_hub():
    imports = []
    for name, path in modules(ROOT, ["machines"]).items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node, _ in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            imports += [(name, node.lineno, target) for target in _targets(node, package)]
    assert imports, "machines/ imports nothing at all: the walk is broken"
    assert [i for i in imports if i[2].split(".")[0] == "hub"] == []


def test_only_the_command_line_imports_our_modules_inside_functions():
    # An import moved into a function to break a cycle hides the cycle from a reader.
    lazy = {f"{e.importer}:{e.line} imports {e.imported}" for e in edges(ROOT)
            if e.in_function and e.importer not in LAZY_IMPORTERS}
    assert lazy == set()


# -- the walk itself ----------------------------------------------------------------------

def test_the_walk_sees_imports_at_the_top_and_inside_functions():
    graph = edges(ROOT)
    assert Edge("hub.config", "hub.settings_table", _line_of("hub/config.py",
                "from hub.settings_table import BUILT_IN_COMPONENTS"), False) in graph
    assert any(e.importer == "hub.cli" and e.imported == "hub.app" and e.in_function
               for e in graph)


def _line_of(relative: str, text: str) -> int:
    lines = (ROOT / relative).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if line.startswith(text))


def test_a_cycle_through_a_function_level_or_relative_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from . import c\n")
    (package / "sub" / "c.py").write_text("def late():\n    from ..a import late\n")
    (package / "d.py").write_text("import pkg.a\n")  # imports into the cycle: not part of it
    (package / "e.py").write_text("import pkg.f\n")
    (package / "f.py").write_text("import pkg.a\nimport pkg.e\n")
    assert sorted(shown(*found) for found in cycles(edges(tmp_path, ["pkg"]))) == [
        "pkg.a:1 -> pkg.sub.b:4 -> pkg.sub.c:2 (in a function) -> pkg.a",
        "pkg.e:1 -> pkg.f:2 -> pkg.e"]


def test_the_client_imports_only_the_standard_library():
    # hub/client.py is copied into other apps as one file (its docstring says so).
    path = ROOT / "hub" / "client.py"
    imported = {target.split(".")[0]
                for node, _ in _imports(ast.parse(path.read_text(encoding="utf-8")))
                for target in _targets(node, "hub") if target}
    assert "json" in imported  # the walk sees its imports
    assert imported - set(sys.stdlib_module_names) == set()
