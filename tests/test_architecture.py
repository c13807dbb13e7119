"""The layout shows the architecture: imports point one way, no import circles, the demo
generators are a client of the library, and ``import ruralnet`` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "ruralnet"
#: Floors, ground first: a module may import from its own floor or the floors below.
FLOORS = ["model", "sources", "network", "analysis", "buses", "outputs", "jobs", "demo", "cli"]


def _floor(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else ""
    if head in ("__init__", "_version", ""):
        return -1  # the package's front door and its version: imported lazily by name
    return FLOORS.index(head)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported ruralnet module, at module level) for every import in a file."""
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    pkg = parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = pkg[: len(pkg) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if not node.module:
                out += [(f"{target}.{a.name}", id(node) in top) for a in node.names]
            else:
                out.append((target, id(node) in top))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ruralnet"):
            out.append((node.module, id(node) in top))
    return out


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def test_imports_point_down_the_floors():
    wrong = []
    for name, path in _modules():
        if _floor(name) < 0:
            continue
        for target, _ in _imports(path):
            if _floor(target) > _floor(name):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_only_the_command_line_uses_the_demo_generators():
    users = {
        name
        for name, path in _modules()
        if not name.startswith("ruralnet.demo")
        for target, _ in _imports(path)
        if target.startswith("ruralnet.demo")
    }
    assert users <= {"ruralnet.cli"}


def test_no_import_circles():
    g = nx.DiGraph()
    for name, path in _modules():
        for target, at_top in _imports(path):
            if at_top and target != name:
                g.add_edge(name, target)
    assert list(nx.simple_cycles(g)) == []


def test_import_ruralnet_is_light():
    code = (
        "import sys, ruralnet; "
        "print(sorted(m for m in ('folium', 'geopandas', 'pyvrp', 'matplotlib', 'dask') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_function_of_the_library_is_longer_than_80_lines():
    long = []
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{name}.{node.name} ({length} lines)")
    assert long == []
