"""A full disk, a read-only or forbidden directory and a locked workspace are one-line errors that say what to do
(issue 11, item 9): never ``internal error`` with DuckDB's raw JSON (exit 70), never "No workspace here yet"."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
import time

import pytest

from app.cli import main
from app.errors import WorkspaceError
from app.errors_io import storage_error

# verbatim from real failures on a full 6 MB tmpfs (DuckDB 2.0, tantivy): `winnow score`, `apply`, `index`
DUCKDB_WAL = (
    'TransactionContext Error: Failed to commit: Could not write file "/mnt/ws/winnow.duckdb.wal": '
    "No space left on device"
)
DUCKDB_JSON = (
    'IO Error: Async write failed for range [offset=0, size=26]: {"exception_type":"IO","exception_message":'
    '"Could not write file \\"/mnt/.out.tmp-1/data-00000-of-00001.parquet\\": No space left on device","errno":"28"}'
)
TANTIVY = "An IO error occurred: 'No space left on device (os error 28) at path \"/mnt/ws/fts.tmp-9a/.tmpJv\"'"
DUCKDB_RO = 'IO Error: Cannot open file "/mnt/ws/winnow.duckdb": Read-only file system'


def _ingest(tmp_path, ws, n=50) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": f"document number {i} " * 20}) + "\n" for i in range(n)))
    assert main(["ingest", str(src), "-w", str(ws)]) == 0


@pytest.mark.parametrize(
    ("exc", "what", "path"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/mnt/out/x"), "no space left", "/mnt/out/x"),
        (PermissionError(errno.EACCES, "Permission denied", "/srv/ws"), "permission denied", "/srv/ws"),
        (OSError(errno.EROFS, "Read-only file system", "/ro/ws"), "read-only file system", "/ro/ws"),
        ("TransactionException", "no space left", "/mnt/ws/winnow.duckdb.wal"),
        ("IOException", "no space left", "/mnt/.out.tmp-1/data-00000-of-00001.parquet"),
        (ValueError(TANTIVY), "no space left", "/mnt/ws/fts.tmp-9a/.tmpJv"),
    ],
)
def test_storage_error_names_the_fault_the_path_and_what_to_do(exc, what, path):
    import duckdb

    if exc == "TransactionException":
        exc = duckdb.TransactionException(DUCKDB_WAL)
    elif exc == "IOException":
        exc = duckdb.IOException(DUCKDB_JSON)
    err = storage_error(exc)
    assert isinstance(err, WorkspaceError)
    msg = str(err)
    assert "\n" not in msg and msg.startswith(what) and f"({path})" in msg
    assert "then try again" in msg and "exception_type" not in msg
    # found through a chain too (``raise X(...) from e``), and nothing else is taken for one
    try:
        raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert str(storage_error(wrapped)) == msg
    assert storage_error(ValueError("bad value 28")) is None
    assert storage_error(OSError(errno.ENOENT, "No such file or directory", "x")) is None


@pytest.mark.parametrize(
    ("kind", "message"), [("TransactionException", DUCKDB_WAL), ("IOException", DUCKDB_JSON), ("ValueError", TANTIVY)]
)
def test_cli_full_disk_is_one_line_not_internal_error(tmp_path, monkeypatch, capsys, kind, message):
    """The library raises what DuckDB/tantivy raised on a real full disk; the CLI prints one line, exit 1."""
    import duckdb

    from app.signals import engine

    ws = tmp_path / "ws"
    _ingest(tmp_path, ws)
    exc_type = getattr(duckdb, kind, ValueError)

    def full(*a, **kw):
        raise exc_type(message)

    monkeypatch.setattr(engine, "score", full)
    capsys.readouterr()
    assert main(["score", "-w", str(ws)]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("winnow: error: no space left on the disk (/mnt/")
    assert "internal error" not in err and "exception_type" not in err


def test_cli_permission_error_creating_a_workspace(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    real = Path.mkdir

    def refuse(self, *a, **kw):
        if self.name == "ws":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **kw)

    src = tmp_path / "d.jsonl"
    src.write_text('{"id": "a", "text": "hello world"}\n')
    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["ingest", str(src), "-w", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"winnow: error: permission denied ({tmp_path / 'ws'}): give this user access to it or choose another"
        " directory, then try again"
    )


@pytest.fixture
def tiny_fs(tmp_path):
    """A real 4 MB tmpfs (needs root and mount rights: skips elsewhere)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("mounting a small tmpfs needs root and mount rights")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_real_full_disk_and_read_only_fs(tmp_path, tiny_fs):
    """End to end on a real file system: fill it, then make it read-only; each command says so in one line."""
    src = tmp_path / "big.jsonl"
    with src.open("w") as f:
        for i in range(6000):
            f.write(json.dumps({"id": f"d{i}", "text": f"row {i} " + os.urandom(300).hex()}) + "\n")
    ws = tiny_fs / "ws"
    r = _cli("ingest", str(src), "-w", str(ws))
    assert r.returncode == 1, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("winnow: error: no space left on the disk (") and last.endswith("then try again")
    assert "exception_type" not in r.stderr and "internal error" not in r.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    r = _cli("ingest", str(src), "-w", str(tiny_fs / "ws2"))
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"winnow: error: read-only file system ({tiny_fs / 'ws2'}): choose a writable directory (copy the workspace"
        " there to change it), then try again"
    )


@contextlib.contextmanager
def _held(ws):
    """Another process holding the workspace open (as a running dashboard or command does)."""
    code = f"from app.workspace import Workspace; w = Workspace.open({str(ws)!r}); print('ok', flush=True); input()"
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ok"
        yield p.pid
    finally:
        p.stdin.close()
        p.wait(timeout=30)


def test_locked_workspace_names_the_process(tmp_path):
    from app.workspace import Workspace

    ws = tmp_path / "ws"
    _ingest(tmp_path, ws)
    with _held(ws) as pid, pytest.raises(WorkspaceError) as e:
        Workspace.open(ws)
    msg = str(e.value)
    assert f"is in use by another process (PID {pid}: " in msg and "app.workspace" in msg
    assert f"kill {pid}" in msg and "\n" not in msg


def test_workspace_page_shows_a_lock_not_an_empty_workspace(tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    ws = tmp_path / "ws"
    _ingest(tmp_path, ws)
    with _held(ws) as pid:
        at = AppTest.from_file(str(ROOT / "app" / "ui" / "main.py"), default_timeout=60)
        at.query_params["ws"] = str(ws)
        at.run()
        assert not at.exception
        assert not any("No workspace here yet" in i.value for i in at.info)
        errors = [e.value for e in at.error]
        assert any("in use by another process" in e and str(pid) in e for e in errors), errors
    # once the other process lets go, the same session opens it
    deadline = time.time() + 10
    while time.time() < deadline:
        at.run()
        if at.metric:
            break
    assert {m.label: m.value for m in at.metric}["Documents"] == "50"


def test_dashboard_job_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    """A background job (Compute signals) failing on a full disk reports the same line, not ``internal error``."""
    import duckdb

    from app.signals import engine
    from app.ui import widgets
    from app.workspace import Workspace

    ws_dir = tmp_path / "ws"
    _ingest(tmp_path, ws_dir)

    def full(*a, **kw):
        raise duckdb.TransactionException(DUCKDB_WAL)

    monkeypatch.setattr(engine, "score", full)
    with Workspace.open(ws_dir) as ws, pytest.raises(WorkspaceError, match=r"^no space left on the disk \(/mnt/ws/"):
        widgets._job_fn("score", ws)(lambda *a, **k: None)
