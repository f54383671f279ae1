"""The headless core never imports streamlit: only app/ui/ and pages/ may."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

UI_DIRS = {ROOT / "app" / "ui", ROOT / "pages"}


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
