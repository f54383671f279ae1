"""One cached workspace connection per dashboard process, and a cheap data version for caches.

DuckDB allows one writing process per file, so the dashboard process owns the connection (cached with
``st.cache_resource``) and every query and background job takes its own cursor from it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import streamlit as st

from app.errors import WinnowError
from app.workspace import Workspace, default_workspace


def workspace_from_argv(argv: list[str] | None = None) -> str | None:
    """``--workspace WS`` after the ``--`` of ``streamlit run main.py -- --workspace WS``."""
    args = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(args):
        if a in ("--workspace", "-w") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--workspace="):
            return a.split("=", 1)[1]
    return None


def default_path() -> str:
    """The workspace to open when the URL names none: ``--workspace``, ``$WINNOW_WORKSPACE`` or ``data/default``."""
    return str(Path(workspace_from_argv() or default_workspace()).resolve())


@st.cache_resource(show_spinner=False, max_entries=8)
def _open(path: str) -> Workspace:
    return Workspace.open(path, create=True)


def open_workspace(path: str, *, create: bool = False) -> Workspace:
    """The process-wide open workspace at ``path`` (raises WinnowError with a one-line message)."""
    if not create and not (Path(path) / "winnow.duckdb").exists():
        raise WinnowError(f"no workspace at {path}")
    return _open(str(Path(path).resolve()))


def forget(path: str) -> None:
    """Drop a cached connection (after a failed open or to release the file)."""
    _open.clear()


def data_version(ws: Workspace) -> str:
    """Changes whenever documents, parts (signals, map) or labels change: the key of every cached query."""
    cur = ws.cursor()
    try:
        a = cur.execute("SELECT count(*), max(ingested_at)::VARCHAR, sum(n_docs) FROM sources").fetchone()
        b = cur.execute("SELECT count(*), max(registered_at)::VARCHAR FROM _parts").fetchone()
        return f"{a}|{b}"
    finally:
        cur.close()


def query_df(ws: Workspace, sql: str, params: list[Any] | None = None):
    """Run a parameterised query on its own cursor and return a pandas frame (small results only)."""
    cur = ws.cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()
