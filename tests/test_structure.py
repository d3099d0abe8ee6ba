"""The package's shape: no import cycle, nothing below the tap imports it, small classes, and a
one-sentence opening docstring in every module."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

from tap_rest.client import TapRestStream
from tap_rest.tap import TapRest
from tests.conftest import ROOT

PACKAGE = ROOT / "tap_rest"
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING") or (
        isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
    )


def runtime_imports(path: Path) -> set[str]:
    """Return the tap_rest modules a module imports when it runs (TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text())
    known = {module_name(p) for p in MODULES}
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("tap_rest"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tap_rest"):
                base = t if (t := node.module or "") else ""
                for alias in node.names:
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
            for field in ("body", "orelse", "finalbody", "handlers"):
                visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])

    visit(tree.body)
    return found & known


GRAPH = {module_name(p): runtime_imports(p) for p in MODULES}


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}

    def walk(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(GRAPH.get(module, ())):
            if state.get(imported) == 1:
                cycle = [*path[path.index(imported) :], imported]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if imported not in state:
                walk(imported, [*path, imported])
        state[module] = 2

    for module in GRAPH:
        if module not in state:
            walk(module, [module])


def test_only_the_entry_points_import_the_tap() -> None:
    importers = {m for m, imported in GRAPH.items() if "tap_rest.tap" in imported}
    # The entry points: the tap's command line, and the SCHEMA writer orchestration runs.
    assert importers <= {"tap_rest.__main__", "tap_rest.orchestration.schemas"}, importers


def test_importing_a_stream_does_not_import_the_tap() -> None:
    code = "import sys, tap_rest.client, tap_rest.streams; print('tap_rest.tap' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_two_central_classes_stay_small() -> None:
    for cls in (TapRest, TapRestStream):
        lines = len(inspect.getsourcelines(cls)[0])
        assert lines < 250, f"{cls.__name__} has {lines} lines"


def test_every_module_opens_with_one_sentence() -> None:
    for path in MODULES:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path.relative_to(ROOT)} has no docstring"
        summary = doc.split("\n\n")[0]
        assert "\n" not in summary, f"{path.relative_to(ROOT)}: the summary is not one line"
        assert summary.endswith("."), f"{path.relative_to(ROOT)}: the summary is not a sentence"
