"""`machines/` stays pure: no I/O libraries, no clock, no threads (DESIGN.md, rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MACHINES = Path(__file__).resolve().parents[2] / "machines"
FORBIDDEN_MODULES = {"requests", "discord", "PIL", "time", "threading", "asyncio", "socket",
                     "aiohttp", "sqlite3", "reactivex", "hub"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "monotonic", "perf_counter", "sleep", "open"}


@pytest.mark.parametrize("path", sorted(MACHINES.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_no_io_and_reads_no_clock(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert called not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {called}()"
