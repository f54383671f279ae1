"""Import boundaries of ``app``, read from the source with ``ast`` (nothing is imported to check them):

- only ``app/ui/`` and ``pages/`` import streamlit, and every module of ``app/ui/`` does (its other files are the
  Thresholds panel's JS/CSS): the dashboard is one room, the headless library another;
- nothing outside ``app/ui/`` (``app.explore``, ``app.recipes``, ``app.search``, ``app.export``, ``app.report``,
  the CLI, ...) imports ``app.ui``, not even inside a function;
- no import cycle inside a package (``app.recipes.*``, ``app.embed.*``, ...) among the imports a module runs when it
  is loaded; a cycle closed only by an import inside a function is listed in :data:`KNOWN_LAZY_CYCLES` or fails.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

UI_DIRS = {ROOT / "app" / "ui", ROOT / "pages"}
#: the only files of app/ui/ that are not Python: the Thresholds panel's browser code
UI_ASSETS = {".js", ".css"}
#: cycles closed by a function-level import (lazy: they work, but the two modules are one unit in disguise).
#: Issue 12 asks to remove them; delete an entry when its cycle is gone (the test says so).
KNOWN_LAZY_CYCLES: set[frozenset[str]] = {
    frozenset({"app.ingest.csvfmt", "app.ingest.formats"}),  # formats dispatches to the CSV reader lazily
}


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_modules_do_not_import_streamlit():
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        if any(d in path.parents for d in UI_DIRS):
            continue
        if any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"core modules import streamlit: {offenders}"


def test_cli_starts_without_heavy_imports():
    code = (
        "import sys, app.cli; app.cli.build_parser();"
        "bad=[m for m in ('streamlit','torch','sentence_transformers','umap','datasets') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------- the module import graph
@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line``; ``lazy`` when the import sits inside a function."""

    source: str
    target: str
    line: int
    lazy: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(body: list[ast.stmt], lazy: bool = False):
    """``(node, lazy)`` for every import a module can run; ``if TYPE_CHECKING:`` bodies never run."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, lazy
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _import_nodes(node.body, True)
        elif isinstance(node, ast.If) and _type_checking(node.test):
            yield from _import_nodes(node.orelse, lazy)
        else:  # class bodies, if/try/with/for blocks run with the module
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, field, None) or []:
                    yield from _import_nodes([child] if isinstance(child, ast.stmt) else child.body, lazy)


def import_graph(root: Path = ROOT) -> dict[str, list[Edge]]:
    """``{module: [edges to app modules]}`` for every ``.py`` under ``root/app``.

    ``from app.pkg import name`` points at the submodule ``app.pkg.name`` when there is one, else at ``app.pkg``
    (its ``__init__``); relative imports are resolved; imports of anything outside ``app`` are left out."""
    files = {module_name(p, root): p for p in sorted((root / "app").rglob("*.py"))}
    graph: dict[str, list[Edge]] = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        edges = []
        for node, lazy in _import_nodes(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for t in dict.fromkeys(targets):
                if t == "app" or t.startswith("app."):
                    edges.append(Edge(mod, t, node.lineno, lazy))
        graph[mod] = edges
    return graph


def _package(mod: str) -> str:
    """The package of ``app`` a module belongs to (``app.recipes.rules.range`` -> ``app.recipes``)."""
    return ".".join(mod.split(".")[:2])


def package_cycles(graph: dict[str, list[Edge]], *, lazy: bool) -> list[frozenset[str]]:
    """Import cycles whose modules share a package (strongly connected components of more than one module, or a
    module importing itself), over the imports run at load time, plus the lazy ones when ``lazy``."""
    nxt = {
        m: sorted(
            {e.target for e in es if e.target in graph and _package(e.target) == _package(m) and (lazy or not e.lazy)}
        )
        for m, es in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in nxt[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in nxt[v]:
                out.append(frozenset(comp))

    for m in sorted(nxt):
        if m not in index:
            visit(m)
    return sorted(out, key=sorted)


def _describe(graph: dict[str, list[Edge]], cycle: frozenset[str]) -> str:
    edges = [e for m in sorted(cycle) for e in graph[m] if e.target in cycle]
    return "; ".join(f"{e.source}:{e.line} -> {e.target}{' (in a function)' if e.lazy else ''}" for e in edges)


def ui_offenders(graph: dict[str, list[Edge]]) -> list[str]:
    """Imports of ``app.ui`` from modules outside it."""
    return [
        f"{e.source}:{e.line} imports {e.target}"
        for m, es in graph.items()
        if not (m == "app.ui" or m.startswith("app.ui."))
        for e in es
        if e.target == "app.ui" or e.target.startswith("app.ui.")
    ]


def test_ui_holds_only_streamlit_code():
    """Every module of app/ui/ imports streamlit (a package ``__init__`` may be a bare docstring); nothing else
    lives there but the panel's JS/CSS."""
    ui = ROOT / "app" / "ui"
    headless, strays = [], []
    for path in sorted(p for p in ui.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = str(path.relative_to(ROOT))
        if path.suffix == ".py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            bare = path.name == "__init__.py" and all(
                isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in tree.body
            )
            if not bare and not any(m == "streamlit" or m.startswith("streamlit.") for m in _imports(path)):
                headless.append(rel)
        elif path.suffix not in UI_ASSETS:
            strays.append(rel)
    assert headless == [], f"headless modules in app/ui/ (move them to app/explore or another package): {headless}"
    assert strays == [], f"files in app/ui/ that are neither Streamlit code nor the panel's assets: {strays}"


#: a page stays short: layout and widgets calling typed functions; anything longer moves to an app/ui module
PAGE_LINES = 225


def test_pages_stay_short():
    long = {
        p.name: n for p in sorted((ROOT / "pages").glob("*.py")) if (n := len(p.read_text().splitlines())) > PAGE_LINES
    }
    assert long == {}, f"pages over {PAGE_LINES} lines (move their parts to app/ui/): {long}"


def test_headless_layer_does_not_import_ui():
    assert ui_offenders(import_graph()) == []


def test_no_import_cycles_inside_a_package():
    graph = import_graph()
    cycles = package_cycles(graph, lazy=False)
    assert cycles == [], "\n".join(_describe(graph, c) for c in cycles)


def test_lazy_import_cycles_are_only_the_known_ones():
    graph = import_graph()
    cycles = set(package_cycles(graph, lazy=True))
    new = [_describe(graph, c) for c in sorted(cycles - KNOWN_LAZY_CYCLES, key=sorted)]
    assert new == [], "new import cycles (closed inside a function):\n" + "\n".join(new)
    gone = [sorted(c) for c in KNOWN_LAZY_CYCLES - cycles]
    assert gone == [], f"these cycles are gone: delete them from KNOWN_LAZY_CYCLES: {gone}"


# ---------------------------------------------------------------- the checks themselves catch violations
def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("y_src", "top", "lazy"),
    [
        ("from app.pkg import x\n", [{"app.pkg.x", "app.pkg.y"}], [{"app.pkg.x", "app.pkg.y"}]),
        ("from . import x\n", [{"app.pkg.x", "app.pkg.y"}], [{"app.pkg.x", "app.pkg.y"}]),
        ("import app.pkg.x\n", [{"app.pkg.x", "app.pkg.y"}], [{"app.pkg.x", "app.pkg.y"}]),
        ("class C:\n    from .x import f\n", [{"app.pkg.x", "app.pkg.y"}], [{"app.pkg.x", "app.pkg.y"}]),
        ("def g():\n    from app.pkg.x import f\n", [], [{"app.pkg.x", "app.pkg.y"}]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.pkg import x\n", [], []),
        ("from app.other import x\n", [], []),  # another package: not a cycle inside one
    ],
)
def test_cycle_detection(tmp_path, y_src, top, lazy):
    root = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/pkg/__init__.py": '"""pkg"""\n',
            "app/pkg/x.py": "from app.pkg.y import g\n",
            "app/pkg/y.py": y_src,
            "app/other/__init__.py": "from app.pkg.x import g\n",
            "app/other/x.py": "",
        },
    )
    graph = import_graph(root)
    assert package_cycles(graph, lazy=False) == [frozenset(c) for c in top]
    assert package_cycles(graph, lazy=True) == [frozenset(c) for c in lazy]


def test_ui_import_detection(tmp_path):
    root = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/ui/__init__.py": "",
            "app/ui/widgets.py": "from app.explore import q\n",
            "app/explore/__init__.py": "",
            "app/explore/q.py": "def f():\n    from app.ui import widgets\n",
            "app/report.py": "import app.ui\n",
        },
    )
    assert ui_offenders(import_graph(root)) == [
        "app.explore.q:2 imports app.ui.widgets",
        "app.report:1 imports app.ui",
    ]
