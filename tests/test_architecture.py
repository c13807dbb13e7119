"""The layout shows the architecture: imports point one way, no import circles, the demo
generators are a client of the library, and ``import ruralnet`` stays light."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "ruralnet"
#: Floors, ground first: a module may import from its own floor or the floors below.
FLOORS = [
    "model",
    "sources",
    "network",
    "analysis",
    "buses",
    "study",
    "outputs",
    "jobs",
    "demo",
    "cli",
]


def _floor(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else ""
    if head in ("__init__", "_version", "maps", "datasets", ""):
        # the package's front door, its version and the README's short names (each the
        # module of its floor, outputs.maps or sources.datasets, itself)
        return -1
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
    """Every import counts, also those inside functions (a circle hidden by a late import
    is still a circle); only the command line imports lazily, for its start-up time."""
    g = nx.DiGraph()
    for name, path in _modules():
        for target, _ in _imports(path):
            if target != name:
                g.add_edge(name, _module_of(target))
    assert list(nx.simple_cycles(g)) == []


def _module_of(target: str) -> str:
    """``ruralnet.analysis.rules`` for ``from ruralnet.analysis import rules`` too."""
    return target.removesuffix(".__init__")


def test_own_imports_are_at_the_top_of_each_module():
    late = [
        f"{name} imports {target} inside a function"
        for name, path in _modules()
        if name != "ruralnet.cli"
        for target, at_top in _imports(path)
        if not at_top
    ]
    assert late == []


def _imported_objects(path: Path, prefixes: tuple[str, ...]) -> list[tuple[str, object]]:
    """(name as written, object) for every name a file takes from modules under
    ``prefixes``, and every attribute it reads of such a module (``rules.WALK``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = list(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    modules, out = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(
                pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else [])
            )
            if not base.startswith(prefixes):
                continue
            mod = importlib.import_module(base)
            for a in node.names:
                obj = getattr(mod, a.name, None) or importlib.import_module(f"{base}.{a.name}")
                if inspect.ismodule(obj):
                    modules[a.asname or a.name] = obj
                else:
                    out.append((f"{base}.{a.name}", obj))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            mod = modules.get(node.value.id)
            if mod is not None:
                out.append((f"{mod.__name__}.{node.attr}", getattr(mod, node.attr)))
    return out


def test_outputs_only_format():
    """The writers call nothing of the analysis or the buses: they take constants and
    classes from there, never a function that computes (the study did that)."""
    calls = [
        f"{name} uses {what}"
        for name, path in _modules()
        if name.startswith("ruralnet.outputs")
        for what, obj in _imported_objects(path, ("ruralnet.analysis", "ruralnet.buses"))
        if inspect.isfunction(obj)
    ]
    assert calls == []


def test_docstrings_name_modules_that_exist():
    """Every ``ruralnet.x.y`` a docstring or comment names can be imported or looked up."""
    wrong = []
    for name, path in _modules():
        for ref in set(re.findall(r"`~?(ruralnet(?:\.\w+)+)`", path.read_text(encoding="utf-8"))):
            if not _resolves(ref):
                wrong.append(f"{name}: {ref}")
    assert wrong == []


def _resolves(ref: str) -> bool:
    parts = ref.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


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
