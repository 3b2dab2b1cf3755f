"""Arrows point down: no two packages of kvitt import each other, core knows no feature, formats nothing.

Every import counts, also one inside a function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "kvitt"
# The program's entry points put the features together; they may import anything, nothing imports them
# but each other (and the job runner, which features reach through core.outbox.runner_for).
ENTRY_POINTS = {"app", "cli", "worker", "startup", "check", "demo", "metrics", "models", "__main__", "serving"}
# Core may read the schema's version to tell an operator to run `kvitt migrate` (core.readiness);
# the migrations import core's column types. Neither is a feature.
CORE_MAY_IMPORT = {"migrations"}
# Still pointing up, with the reason; remove an entry when its arrow is turned round.
KNOWN_UPWARD: set[tuple[str, str]] = set()  # none left: core.api's authenticator is provided by tenants


def _imports() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the files that import it."""
    edges: dict[str, dict[str, set[str]]] = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).parts
        package = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kvitt."):
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names if alias.name.startswith("kvitt.")]
            else:
                continue
            for module in modules:
                target = module.split(".")[1]
                if target != package:
                    edges.setdefault(package, {}).setdefault(target, set()).add(str(path.relative_to(SOURCE)))
    return edges


def test_no_two_packages_import_each_other() -> None:
    edges = _imports()
    cycles = sorted(
        (a, b, sorted(edges[a][b]), sorted(edges[b][a]))
        for a in edges
        for b in edges[a]
        if a < b and a in edges.get(b, {}) and (a, b) not in KNOWN_UPWARD and not {a, b} & {"migrations"}
    )
    assert cycles == [], cycles


def test_core_imports_no_feature_and_formats_import_nothing() -> None:
    edges = _imports()
    allowed = CORE_MAY_IMPORT | {b for a, b in KNOWN_UPWARD if a == "core"}
    assert set(edges.get("core", {})) <= allowed, edges.get("core")
    assert not edges.get("formats"), edges.get("formats")


def test_no_feature_imports_an_entry_point() -> None:
    edges = _imports()
    # A feature's cli.py is a piece of the command line and may use its helpers (kvitt.startup).
    upward = {
        (package, target): sorted(f for f in files if not f.endswith("/cli.py"))
        for package, targets in edges.items()
        if package not in ENTRY_POINTS | {"migrations"}
        for target, files in targets.items()
        if target in ENTRY_POINTS
    }
    upward = {pair: files for pair, files in upward.items() if files}
    assert upward == {}, upward
