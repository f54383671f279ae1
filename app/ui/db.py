"""One shared workspace object per dashboard process, and a cheap data version for caches.

DuckDB allows one writing process per file and no readers beside it, so the dashboard holds its connection only
while it uses it: :class:`app.shared_workspace.SharedWorkspace` opens it on use, closes it when idle or when a
``winnow`` command waits for the file, and reopens it on the next interaction (docs/concurrency.md). Every
query and background job takes its own cursor from it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from app.errors import WinnowError
from app.shared_workspace import SharedWorkspace
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


_shared_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _registry() -> dict[str, SharedWorkspace]:
    """The process's shared workspaces by resolved path (one object each: its connection comes and goes)."""
    return {}


def open_workspace(path: str, *, create: bool = False) -> Workspace:
    """The process-wide workspace at ``path``, open now (raises WinnowError with a one-line message; a workspace
    another process is writing is :class:`app.errors_io.WorkspaceBusy` after a short wait)."""
    if not create and not (Path(path) / "winnow.duckdb").exists():
        raise WinnowError(f"no workspace at {path}")
    key = str(Path(path).resolve())
    with _shared_lock:
        reg = _registry()
        ws = reg.get(key)
        if ws is None:
            ws = reg[key] = SharedWorkspace(Path(key))
    _ = ws.con  # open (or reopen) here, so a lock or a broken file is said where the page asks for it
    return ws


def forget(path: str | None = None) -> None:
    """Close and drop the shared workspace at ``path`` (every one when None): releases the file now."""
    with _shared_lock:
        reg = _registry()
        keys = list(reg) if path is None else [str(Path(path).resolve())]
        for key in keys:
            if (ws := reg.pop(key, None)) is not None:
                ws.close()


def data_version(ws: Workspace) -> str:
    """Changes whenever documents, parts (signals, map) or labels change: the key of every cached query."""
    cur = ws.cursor()
    try:
        a = cur.execute("SELECT count(*), max(ingested_at)::VARCHAR, sum(n_docs) FROM sources").fetchone()
        b = cur.execute("SELECT count(*), max(registered_at)::VARCHAR FROM _parts").fetchone()
        c = cur.execute("SELECT count(*), max(created_at)::VARCHAR FROM labels").fetchone()
        return f"{a}|{b}|{c}"
    finally:
        cur.close()


def query_df(ws: Workspace, sql: str, params: list[Any] | None = None):
    """Run a parameterised query on its own cursor and return a pandas frame (small results only)."""
    cur = ws.cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()
