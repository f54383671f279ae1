"""Long writers compute beside the workspace, then hold it only for a short commit.

DuckDB lets one process write a file and refuses every other process meanwhile, plain read-only readers
included (docs/concurrency.md). A command that held the workspace for its whole run (``winnow score`` on
realmix: minutes) locked notebooks and ``duckdb FILE -c ...`` out for that long. A :class:`Detached` run instead

1. **snapshots** what the computation reads into a scratch DuckDB file beside the workspace
   (``scratch-<purpose>.duckdb``): the documents as one ``docs`` table, ``_meta``, ``_parts``, ``sources`` and the
   tables the caller names (its previous results, caches). The workspace is attached *read-only* for that copy,
   so other readers keep reading; only a writer waits (about a second at 54k documents);
2. lets the caller **compute** on a :class:`ScratchWorkspace` over that file (any code written against a
   :class:`~app.workspace.Workspace`: the signal engine runs unchanged) while the workspace is free;
3. **commits** what changed, in one transaction on the workspace opened read-write (waiting like any command):
   tables created, replaced, grown or dropped during the computation, ``_meta`` keys that changed, and the parts
   registered, with one view rebuild. This is the only time readers are refused.

Two long writers of one kind on one workspace take turns: the second waits on an ``flock`` of
``scratch-<purpose>.lock`` (saying so once) until the first has committed. The scratch file is removed after a
successful commit and left after a failure: the next run keeps its staged batches (the signal engine's
``_stage_*``: an interrupted score resumes where it stopped) and replaces the rest. If the documents changed
between the snapshot and the commit (an ingest ran meanwhile), nothing is committed and :class:`~app.errors.WorkspaceError` says to run again: results
computed for documents that no longer exist must not be joined to the new ones.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from app.errors import WorkspaceError
from app.errors_io import storage_error
from app.locks import attach, connect, default_wait, say_waiting
from app.sql import qi
from app.workspace import DB_FILE, Workspace, bound_memory, now

#: always copied: what every Workspace method and the engines read
BASE_TABLES = ("_meta", "_parts", "sources")
#: small registries several writers update row by row: committed as the rows the run changed (by their key), so
#: a concurrent writer's rows for other keys (another family scored from the dashboard meanwhile) survive
MERGE_KEYS = {"_signal_runs": "family"}
#: ``_meta`` keys that belong to the scratch run (staging bookkeeping), never committed
PRIVATE_META = ("signals.stage.*",)
#: tables of work in progress (the signal engine's per-batch staging): never committed, and kept from a failed
#: run's scratch file so the next run resumes where it stopped
RESUMABLE = ("_stage_*",)


class ScratchWorkspace(Workspace):
    """A :class:`Workspace` over the scratch copy: ``docs`` is a table, ``path`` is the real workspace (messages
    and files beside it), and view rebuilds are left to the commit (the scratch has no ``corpus``)."""

    def rebuild_views(self, *, con: Any = None, force: bool = False, changed: set[str] | None = None) -> None:
        """Nothing to do here: :meth:`Detached.commit` rebuilds the workspace's views once."""


def _tables(con: Any, schema: str = "main", catalog: str | None = None) -> dict[str, tuple[int, int]]:
    """``{table: (oid, estimated rows)}``: a table replaced since has a new oid, one grown or cut a new size."""
    q = "SELECT table_name, table_oid, estimated_size FROM duckdb_tables() WHERE schema_name = ?"
    params: list[Any] = [schema]
    if catalog:
        q += " AND database_name = ?"
        params.append(catalog)
    return {r[0]: (int(r[1]), int(r[2])) for r in con.execute(q, params).fetchall()}


def _clone(con: Any, catalog: str, table: str) -> None:
    """Copy ``catalog.main.table`` into the connection's default database under the same name, replacing it,
    with its constraints (a primary key that ``INSERT OR REPLACE`` relies on survives)."""
    q = "SELECT sql FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' AND table_name = ?"
    ddl = con.execute(q, [catalog, table]).fetchall()[0][0]
    if not ddl.startswith("CREATE TABLE "):
        raise WorkspaceError(f"cannot copy table {table}: unexpected definition {ddl[:60]!r}")
    con.execute("CREATE OR REPLACE TABLE " + ddl.removeprefix("CREATE TABLE "))
    con.execute(f"INSERT INTO {qi(table)} SELECT * FROM {catalog}.main.{qi(table)}")


def _rows(con: Any, table: str, key: str) -> dict[Any, tuple]:
    """``{key: row}`` of a small registry table."""
    cols = [r[0] for r in con.execute(f"DESCRIBE {qi(table)}").fetchall()]
    i = cols.index(key)
    return {r[i]: tuple(r) for r in con.execute(f"SELECT * FROM {qi(table)}").fetchall()}


def _merge(cur: Any, table: str, key: str, keys: list[Any]) -> None:
    """Replace the rows of ``keys`` in ``table`` by the scratch copy's (deleting those it no longer has); a table
    the workspace lacks is copied whole."""
    q = "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?"
    if not cur.execute(q, [table]).fetchone()[0]:  # (ws.has_table would also see the attached scratch's)
        _clone(cur, "scratch", table)
        return
    cur.execute(f"DELETE FROM {qi(table)} WHERE {qi(key)} IN (SELECT unnest(?))", [keys])
    cur.execute(
        f"INSERT INTO {qi(table)} SELECT * FROM scratch.main.{qi(table)} WHERE {qi(key)} IN (SELECT unnest(?))", [keys]
    )


def _doc_state(con: Any, prefix: str = "") -> list[tuple]:
    """What identifies the documents' version: every source's name, table, count and ingest time."""
    return con.execute(f"SELECT name, table_name, n_docs, ingested_at FROM {prefix}sources ORDER BY name").fetchall()


class Detached:
    """Snapshot, compute, commit (module docstring). Use as a context manager::

    with Detached(root, purpose="score", tables=["sig_*", "_signal_runs"]) as sw:
        engine.score(sw, ...)
    # committed here when the block ends without an exception
    """

    def __init__(self, root: str | Path, *, purpose: str, tables: Iterable[str] = (), wait: float | None = None):
        self.root = Path(root)
        self.purpose = purpose
        self.patterns = tuple(tables)
        self.wait = default_wait() if wait is None else wait
        self.scratch_path = self.root / f"scratch-{purpose}.duckdb"
        self.ws: ScratchWorkspace | None = None
        self.timings: dict[str, float] = {}
        self.committed: list[str] = []
        self._before: dict[str, tuple[int, int]] = {}
        self._meta_before: dict[str, str] = {}
        self._parts_before: dict[str, Any] = {}
        self._docs_before: list[tuple] = []
        self._queue: Any = None
        self._rows_before: dict[str, dict[Any, tuple]] = {}
        self._merges: dict[str, list[Any]] = {}

    # ------------------------------------------------------------------ snapshot
    def __enter__(self) -> ScratchWorkspace:
        if not (self.root / DB_FILE).exists():
            Workspace.open(self.root).close()  # the usual one-line "no workspace at ..." error
        t0 = time.monotonic()
        self._queue = _take_queue(self.root / f"scratch-{self.purpose}.lock", wait=self.wait, what=self.purpose)
        try:
            try:
                con = connect(self.scratch_path, read_only=False, wait=0)
            except duckdb.Error as e:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise storage_error(e) or WorkspaceError(f"cannot write {self.scratch_path}: {msg}") from e
            bound_memory(con)  # the scratch run computes as a workspace command does: under WINNOW_MEMORY
            try:
                kept = self._keep_resumable(con)
                self._snapshot(con)
                for k, v in kept.items():
                    con.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [k, v])
            except BaseException:
                con.close()
                raise
        except BaseException:
            self._release_queue()
            raise
        self.ws = ScratchWorkspace(self.root, con, read_only=False)
        self.timings["snapshot_s"] = round(time.monotonic() - t0, 3)
        return self.ws

    def _keep_resumable(self, con: Any) -> dict[str, str]:
        """A failed run's scratch file (we hold the queue: nobody else uses it): keep its staged work
        (:data:`RESUMABLE` tables, :data:`PRIVATE_META` keys) so this run resumes it, drop the rest."""
        existing = _tables(con)
        meta: dict[str, str] = {}
        if "_meta" in existing:
            meta = {k: v for k, v in con.execute("SELECT key, value FROM _meta").fetchall() if _private(k)}
        for t in existing:
            if not _resumable(t):
                con.execute(f"DROP TABLE {qi(t)}")
        return meta

    def _snapshot(self, con: Any) -> None:
        con.execute("SET enable_progress_bar = false")  # the command's own progress goes to stderr
        attach(con, self.root / DB_FILE, alias="src", read_only=True, wait=self.wait)
        try:
            names = _tables(con, catalog="src")
            wanted = [t for t in names if t in BASE_TABLES or any(fnmatch.fnmatchcase(t, p) for p in self.patterns)]
            con.execute("BEGIN TRANSACTION")
            con.execute("CREATE TABLE docs AS SELECT * FROM src.main.docs")
            for t in wanted:
                _clone(con, "src", t)
            con.execute("COMMIT")
        finally:
            con.execute("DETACH src")
        self._before = _tables(con)
        self._meta_before = dict(con.execute("SELECT key, value FROM _meta").fetchall())
        self._rows_before = {t: _rows(con, t, k) for t, k in MERGE_KEYS.items() if t in self._before}
        self._parts_before = {
            r[0]: r[1] for r in con.execute("SELECT table_name, registered_at FROM _parts").fetchall()
        }
        self._docs_before = _doc_state(con)

    # ------------------------------------------------------------------ commit
    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if self.ws is None:
            return
        try:
            if exc_type is not None:
                self.ws.close()  # the scratch file stays: the next run resumes its staged work
                return
            self.commit()
        finally:
            self._release_queue()

    def _release_queue(self) -> None:
        if self._queue is not None:
            with contextlib.suppress(OSError):
                self._queue.close()  # closing the file drops its lock
            self._queue = None

    def _changes(self, con: Any) -> tuple[list[str], list[str], dict[str, str | None], list[tuple[str, str, int]]]:
        """(tables to copy, tables to drop, meta keys to set (None: delete), parts to register) since the snapshot."""
        after = _tables(con)
        skip = {"docs", "_meta", "_parts", "sources", *MERGE_KEYS}
        copy = [t for t, v in after.items() if t not in skip and not _resumable(t) and self._before.get(t) != v]
        drop = [t for t in self._before if t not in after and t not in skip]
        meta = dict(con.execute("SELECT key, value FROM _meta").fetchall())
        changed: dict[str, str | None] = {
            k: v for k, v in meta.items() if self._meta_before.get(k) != v and not _private(k)
        }
        changed.update({k: None for k in self._meta_before if k not in meta and not _private(k)})
        rows = con.execute(
            "SELECT table_name, kind, ord, registered_at FROM _parts ORDER BY ord, table_name"
        ).fetchall()
        parts = [(r[0], r[1], int(r[2])) for r in rows if self._parts_before.get(r[0]) != r[3]]
        self._merges = {}
        for t, key in MERGE_KEYS.items():
            if t not in after:
                continue
            now_rows, before = _rows(con, t, key), self._rows_before.get(t, {})
            keys = [k for k, row in now_rows.items() if before.get(k) != row] + [k for k in before if k not in now_rows]
            if keys:
                self._merges[t] = keys
        return copy, drop, changed, parts

    def commit(self) -> list[str]:
        """Write what the computation changed into the workspace (one transaction, one view rebuild); returns the
        tables written. Removes the scratch file afterwards."""
        assert self.ws is not None
        copy, drop, meta, parts = self._changes(self.ws.con)
        self.ws.close()
        self.ws = None
        if not (copy or drop or meta or parts or self._merges):
            self._remove_scratch()
            self.timings["commit_s"] = 0.0
            return []
        t0 = time.monotonic()
        ws = Workspace.open(self.root, wait=self.wait)
        try:
            attach(ws.con, self.scratch_path, alias="scratch", read_only=True, wait=self.wait)
            try:
                if _doc_state(ws.con) != self._docs_before:
                    raise WorkspaceError(
                        f"the documents of {self.root} changed while {self.purpose} ran (an ingest or a source removal);"
                        f" nothing was written: run winnow {self.purpose} again"
                    )
                t_open = time.monotonic()
                with ws.transaction() as cur:
                    for t in copy:
                        _clone(cur, "scratch", t)
                    t_copy = time.monotonic()
                    for t, keys in self._merges.items():
                        _merge(cur, t, MERGE_KEYS[t], keys)
                    for t in drop:
                        cur.execute(f"DROP TABLE IF EXISTS {qi(t)}")
                    for k, v in meta.items():
                        cur.execute("DELETE FROM _meta WHERE key = ?", [k])
                        if v is not None:
                            cur.execute("INSERT INTO _meta VALUES (?, ?)", [k, v])
                    ws.register_parts(parts, con=cur)
                    t_views = time.monotonic()
                t_end = time.monotonic()
                self.timings.update(
                    open_s=round(t_open - t0, 3),
                    copy_s=round(t_copy - t_open, 3),
                    views_s=round(t_views - t_copy, 3),
                    write_s=round(t_end - t_views, 3),  # DuckDB's commit (and checkpoint) of the transaction
                )
            finally:
                with contextlib.suppress(Exception):
                    ws.con.execute("DETACH scratch")
        finally:
            ws.close()
        self.timings["commit_s"] = round(time.monotonic() - t0, 3)
        self.committed = copy
        self._remove_scratch()
        return copy

    def _remove_scratch(self) -> None:
        for p in (self.scratch_path, self.scratch_path.with_name(self.scratch_path.name + ".wal")):
            with contextlib.suppress(OSError):
                p.unlink()


def _take_queue(path: Path, *, wait: float, what: str) -> Any:
    """An exclusive ``flock`` on ``path``: one long writer of this kind per workspace at a time; waits up to
    ``wait`` seconds for the one ahead (saying so once), then raises :class:`WorkspaceBusy`."""
    import fcntl

    from app.errors_io import WorkspaceBusy

    try:
        fh = open(path, "a+")  # noqa: SIM115 - held until the run ends
    except OSError as e:
        raise storage_error(e) or WorkspaceError(f"cannot write {path} beside the workspace: {e.strerror}") from e
    start, said = time.monotonic(), False
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fh
        except OSError:
            waited = time.monotonic() - start
            if waited >= wait:
                fh.close()
                raise WorkspaceBusy(
                    f"another winnow {what} is running on {path.parent} (waited {waited:.0f} s); try again when it ends"
                ) from None
            if not said:
                say_waiting(f"waiting for another winnow {what} on {path.parent} to finish (up to {wait:.0f} s) ...")
                said = True
            time.sleep(0.2)


def _resumable(table: str) -> bool:
    return any(fnmatch.fnmatchcase(table, p) for p in RESUMABLE)


def _private(key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in PRIVATE_META)


@contextlib.contextmanager
def detached(root: str | Path, *, purpose: str, tables: Iterable[str] = ()) -> Iterator[ScratchWorkspace]:
    """:class:`Detached` as a function: ``with detached(ws_path, purpose="score", tables=[...]) as sw: ...``."""
    with Detached(root, purpose=purpose, tables=tables) as sw:
        yield sw


__all__ = ["Detached", "ScratchWorkspace", "detached", "now"]
