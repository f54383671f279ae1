"""A workspace: one directory holding one DuckDB file with a corpus and everything computed about it.

Layout inside ``winnow.duckdb``:

- ``docs__<slug>`` one table per source: ``id, source, text, text_hash`` then the source's metadata
  columns. Re-ingesting a source replaces its table; it never doubles it.
- ``sources`` one row per source (name, table, counts, ingest spec).
- ``_parts`` the tables joined onto the documents by ``id`` to form ``corpus`` (signal families,
  imported signals, the map, embedding-based signals). Any area adds a part with
  :meth:`Workspace.register_part`; the view is rebuilt at once.
- ``labels``, ``recipes``, ``_meta`` and whatever tables the areas add (``ingest_log``, ...).
- Views: ``docs`` (all sources, ``UNION ALL BY NAME``) and ``corpus`` (``docs`` left-joined with
  every part). Anyone can ``duckdb data/ws/winnow.duckdb -c 'select * from corpus'``.
- ``corpus_fast``: a table with every ``corpus`` column except ``text``, rebuilt whenever a source or a
  part is registered. Aggregations that need no text (histograms, retention, selections) should read it:
  at 1M documents it answers in ~70 ms where the joined view takes ~10x longer. Writers must go through
  :meth:`Workspace.register_part` / :meth:`Workspace.rebuild_views` after changing a part's rows.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app import __version__
from app.errors import WorkspaceError
from app.errors_io import storage_error
from app.sql import qi, slug

DB_FILE = "winnow.duckdb"
#: DuckDB's memory limit for a writing workspace connection when ``WINNOW_MEMORY`` is unset: this share of the
#: machine's memory, and at most :data:`MEMORY_CAP` bytes (DuckDB's own default, 80% of the machine, let one ``winnow score``
#: hold 3.2 GB at 1M documents in near dedup's hash aggregates, where a limit spills them to disk instead)
MEMORY_SHARE = 0.25
MEMORY_CAP = 4 << 30
SCHEMA_VERSION = 1
DEFAULT_HOME = Path("data")
#: Columns every docs table starts with, in this order.
CORE_COLUMNS = ("id", "source", "text", "text_hash")

_BOOTSTRAP = [
    "CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS sources (
        name VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, n_docs BIGINT, n_chars BIGINT,
        spec JSON, ingested_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS _parts (
        table_name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, ord INTEGER NOT NULL,
        registered_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS labels (
        id VARCHAR NOT NULL, label VARCHAR NOT NULL, note VARCHAR, created_at TIMESTAMP)""",
    # who put the label (added for labels import; older workspaces gain the column on open)
    "ALTER TABLE labels ADD COLUMN IF NOT EXISTS created_by VARCHAR",
    """CREATE TABLE IF NOT EXISTS recipes (
        name VARCHAR PRIMARY KEY, yaml VARCHAR NOT NULL, updated_at TIMESTAMP)""",
]


def memory_limit() -> str:
    """DuckDB's memory limit for workspace connections: ``WINNOW_MEMORY`` (e.g. ``4GB``), else
    :data:`MEMORY_SHARE` of physical memory capped at :data:`MEMORY_CAP`. Past it DuckDB spills its sorts, joins
    and aggregates to ``winnow.duckdb.tmp`` next to the database, so a stage's peak RSS does not grow with the
    corpus (README, "Scale")."""
    env = os.environ.get("WINNOW_MEMORY", "").strip()
    if env:
        return env
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): the cap
        total = MEMORY_CAP / MEMORY_SHARE
    return f"{int(min(MEMORY_CAP, total * MEMORY_SHARE)) >> 20}MB"


def bound_memory(con: Any) -> None:
    """Set :func:`memory_limit` on a writing connection (a workspace's or a scratch copy's); a malformed
    ``WINNOW_MEMORY`` closes it and is one :class:`WorkspaceError` line."""
    import duckdb

    try:
        con.execute(f"SET memory_limit = '{memory_limit()}'")
    except duckdb.Error as e:
        con.close()
        raise WorkspaceError(f"WINNOW_MEMORY: {str(e).splitlines()[0]}") from e


def now() -> _dt.datetime:
    """Naive UTC timestamp, the form stored in every ``*_at`` column."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def default_workspace() -> Path:
    """``$WINNOW_WORKSPACE`` or ``data/default``."""
    return Path(os.environ.get("WINNOW_WORKSPACE", DEFAULT_HOME / "default"))


def fast_relation(con: Any) -> str:
    """``corpus_fast`` (every ``corpus`` column but ``text``; a table once parts exist, else a plain view over
    the documents), or ``corpus`` in a file made before it existed. For aggregations that need no text."""
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'corpus_fast' AND schema_name = 'main'"
    q2 = "SELECT count(*) FROM duckdb_views() WHERE view_name = 'corpus_fast' AND NOT internal"
    return "corpus_fast" if con.execute(q).fetchall()[0][0] or con.execute(q2).fetchall()[0][0] else "corpus"


def source_table(name: str) -> str:
    """The docs table name for a source: readable slug plus a short hash so names never clash."""
    return f"docs__{slug(name)}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


class Workspace:
    """An open workspace. Use :meth:`open`; close it (or use ``with``) to release the file lock."""

    def __init__(self, path: Path, con: Any, *, read_only: bool):
        self.path = path
        self.con = con
        self.read_only = read_only
        self._defer = 0
        self._pending = False
        self._pending_changed: set[str] | None = set()  # parts changed during deferral (None: rebuild in full)

    # ---------------------------------------------------------------- opening
    @classmethod
    def open(
        cls, path: str | os.PathLike, *, create: bool = False, read_only: bool = False, wait: float | None = None
    ) -> Workspace:
        """Open the workspace at ``path`` (a directory). ``create`` makes it if missing. While another process
        holds the file, wait up to ``wait`` seconds (default :func:`app.locks.default_wait`: 0, or the CLI's
        wait) saying once whom for, then raise :class:`app.errors_io.WorkspaceBusy` (docs/concurrency.md)."""
        import duckdb

        from app.locks import connect

        root = Path(path)
        db = root / DB_FILE
        if not db.exists():
            if not create:
                raise WorkspaceError(
                    f"no workspace at {root} (expected {db}); create one with: winnow ingest SRC --workspace {root}"
                )
            if read_only:
                raise WorkspaceError(f"cannot create workspace {root} read-only")
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise storage_error(e) or WorkspaceError(
                    f"cannot create workspace directory {root}: {e.strerror}"
                ) from e
        try:
            con = connect(db, read_only=read_only, wait=wait)
        except duckdb.IOException as e:
            msg = str(e).splitlines()[0]
            raise storage_error(e) or WorkspaceError(f"cannot open workspace {root}: {msg}") from e
        except duckdb.Error as e:
            raise WorkspaceError(f"{db} is not a readable DuckDB file: {str(e).splitlines()[0]}") from e
        if not read_only:  # a writer (a command, the dashboard) is bounded; a read-only reader keeps DuckDB's default
            bound_memory(con)
        ws = cls(root, con, read_only=read_only)
        if not read_only:
            ws._bootstrap()
        elif not ws.has_table("_meta"):
            con.close()
            raise WorkspaceError(f"{db} is not a Winnow workspace")
        return ws

    def _bootstrap(self) -> None:
        for stmt in _BOOTSTRAP:
            self.con.execute(stmt)
        rows = self.con.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchall()
        row = rows[0] if rows else None
        if row is None:
            self.con.execute(
                "INSERT INTO _meta VALUES ('schema_version', ?), ('created_at', ?), ('created_by', ?)",
                [str(SCHEMA_VERSION), now().isoformat(), f"winnow {__version__}"],
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise WorkspaceError(
                f"workspace {self.path} has schema {row[0]}, newer than this Winnow ({SCHEMA_VERSION}); upgrade Winnow"
            )
        if not self.has_view("corpus"):
            self.rebuild_views()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db_path(self) -> Path:
        return self.path / DB_FILE

    def cursor(self) -> Any:
        """A new cursor on the same database (one per query/thread)."""
        return self.con.cursor()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """``BEGIN`` ... ``COMMIT``, or ``ROLLBACK`` on any exception: writes are all or nothing."""
        cur = self.con.cursor()
        cur.execute("BEGIN TRANSACTION")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    # ---------------------------------------------------------------- catalog
    def has_table(self, name: str, con: Any = None) -> bool:
        c = con or self.con
        q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
        return c.execute(q, [name]).fetchall()[0][0] > 0

    def has_view(self, name: str, con: Any = None) -> bool:
        c = con or self.con
        q = "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal"
        return c.execute(q, [name]).fetchall()[0][0] > 0

    def columns(self, relation: str, con: Any = None) -> dict[str, str]:
        """``{column: duckdb type}`` of a table or view, in order."""
        c = con or self.con
        rows = c.execute(f"DESCRIBE {qi(relation)}").fetchall()
        return {r[0]: r[1] for r in rows}

    def sources(self) -> list[dict[str, Any]]:
        cur = self.cursor()
        rows = cur.execute(
            "SELECT name, table_name, n_docs, n_chars, spec, ingested_at FROM sources ORDER BY name"
        ).fetchall()
        keys = ["name", "table_name", "n_docs", "n_chars", "spec", "ingested_at"]
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def parts(self, con: Any = None) -> list[tuple[str, str]]:
        """``[(table_name, kind)]`` joined into ``corpus``, in join order."""
        c = con or self.con
        return [tuple(r) for r in c.execute("SELECT table_name, kind FROM _parts ORDER BY ord, table_name").fetchall()]

    # ---------------------------------------------------------------- writes
    def register_source(self, name: str, *, con: Any, spec: dict[str, Any]) -> None:
        """Record (or replace) a source whose table ``source_table(name)`` ``con`` has just written.

        Call inside the same transaction as the table write, then :meth:`rebuild_views` with that ``con``.
        """
        table = source_table(name)
        n_docs, n_chars = con.execute(f"SELECT count(*), coalesce(sum(length(text)), 0) FROM {qi(table)}").fetchall()[0]
        con.execute("DELETE FROM sources WHERE name = ?", [name])
        con.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?)",
            [name, table, n_docs, n_chars, json.dumps(spec, default=str), now()],
        )

    def write_source(self, name: str, table: Any, *, spec: dict[str, Any] | None = None) -> int:
        """Replace source ``name`` with an in-memory table (pyarrow Table or pandas DataFrame with at
        least ``id`` and ``text``), atomically. Used by tests and small imports; streaming ingest has
        its own path. Returns the number of documents."""
        if self.read_only:
            raise WorkspaceError(f"workspace {self.path} is open read-only")
        dest = source_table(name)
        with self.transaction() as cur:
            cur.register("_winnow_src", table)
            cols = [c for c in self.columns("_winnow_src", cur) if c not in CORE_COLUMNS]
            extra = "".join(f", {qi(c)}" for c in cols)
            cur.execute(
                f"CREATE OR REPLACE TABLE {qi(dest)} AS SELECT CAST(id AS VARCHAR) AS id, ?::VARCHAR AS source,"
                f" CAST(text AS VARCHAR) AS text, md5(CAST(text AS VARCHAR)) AS text_hash{extra} FROM _winnow_src",
                [name],
            )
            cur.unregister("_winnow_src")
            self.register_source(name, con=cur, spec=spec or {"kind": "in-memory"})
            self.rebuild_views(con=cur)
            return int(cur.execute(f"SELECT count(*) FROM {qi(dest)}").fetchall()[0][0])

    def drop_source(self, name: str, *, con: Any = None) -> None:
        c = con or self.con
        c.execute(f"DROP TABLE IF EXISTS {qi(source_table(name))}")
        c.execute("DELETE FROM sources WHERE name = ?", [name])
        self.rebuild_views(con=c)

    def register_part(self, table: str, *, kind: str, con: Any = None, order: int = 100) -> None:
        """Join ``table`` (keyed by a unique ``id``) into ``corpus``. Idempotent; rebuilds the views.

        ``kind`` is free text used for display and grouping: ``signal``, ``import``, ``map``, ``embed``...
        Its non-``id`` columns appear in ``corpus`` under their own names (they win over a metadata
        column of the same name, which is then shown as ``meta_<name>``).
        """
        c = con or self.con
        c.execute("DELETE FROM _parts WHERE table_name = ?", [table])
        c.execute("INSERT INTO _parts VALUES (?, ?, ?, ?)", [table, kind, order, now()])
        self.rebuild_views(con=c, changed={table})

    def register_parts(self, parts: list[tuple[str, str, int]], *, con: Any = None) -> None:
        """:meth:`register_part` for several ``(table, kind, order)`` at once, with one view rebuild (a commit of
        many signal tables, :mod:`app.detached`). Nothing to register: nothing is rebuilt."""
        if not parts:
            return
        c = con or self.con
        last = {t: (t, kind, order) for t, kind, order in parts}  # one row per table (a statement costs ~1 ms)
        at = now()
        c.execute(f"DELETE FROM _parts WHERE table_name IN ({', '.join('?' * len(last))})", list(last))
        rows = [v for t, kind, order in last.values() for v in (t, kind, order, at)]
        c.execute(f"INSERT INTO _parts VALUES {', '.join(['(?, ?, ?, ?)'] * len(last))}", rows)
        self.rebuild_views(con=c, changed=set(last))

    def unregister_part(self, table: str, *, con: Any = None, drop: bool = True) -> None:
        c = con or self.con
        c.execute("DELETE FROM _parts WHERE table_name = ?", [table])
        if drop:
            c.execute(f"DROP TABLE IF EXISTS {qi(table)}")
        self.rebuild_views(con=c)

    @contextlib.contextmanager
    def deferred_views(self) -> Iterator[None]:
        """Within this block ``register_part``/``register_source`` callers' view rebuilds are postponed to one
        rebuild at the end (a rebuild re-materializes ``corpus_fast``: do it once per batch of writes)."""
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
            if self._defer == 0 and self._pending:
                self._pending = False
                changed, self._pending_changed = self._pending_changed, set()
                self.rebuild_views(force=True, changed=changed)

    def rebuild_views(self, *, con: Any = None, force: bool = False, changed: set[str] | None = None) -> None:
        """(Re)create ``docs``, the ``corpus_fast`` table and the ``corpus`` view from sources and parts.

        ``corpus_fast`` holds every ``corpus`` column except ``text``, with all parts already joined: a
        slider's aggregate over it at 1M documents takes tens of milliseconds, where the same query through a
        chain of left joins on text ids takes seconds. ``corpus`` is ``corpus_fast`` plus the text (one join).
        ``changed``: the part tables whose rows changed (and nothing else): ``corpus_fast`` is then updated in
        place, only their columns rewritten (:mod:`app.corpus_fast`), when its layout allows; None rebuilds it.
        """
        if self._defer and not force:
            self._pending = True
            if changed is None or self._pending_changed is None:
                self._pending_changed = None
            else:
                self._pending_changed |= changed
            return
        from app import corpus_fast as fast

        c = con or self.con
        tables = [r[0] for r in c.execute("SELECT table_name FROM sources ORDER BY name").fetchall()]
        tables = [t for t in tables if self.has_table(t, c)]
        if tables:
            body = " UNION ALL BY NAME ".join(f"SELECT * FROM {qi(t)}" for t in tables)
        else:
            body = (
                "SELECT NULL::VARCHAR AS id, NULL::VARCHAR AS source, NULL::VARCHAR AS text,"
                " NULL::VARCHAR AS text_hash WHERE false"
            )
        c.execute(f"CREATE OR REPLACE VIEW docs AS {body}")
        doc_cols = self.columns("docs", c)
        select: list[str] = []
        joins: list[str] = []
        taken: set[str] = set(CORE_COLUMNS)
        part_cols: list[tuple[str, str, dict[str, str]]] = []
        for i, (table, _kind) in enumerate(self.parts(c)):
            if not self.has_table(table, c) and not self.has_view(table, c):
                continue
            cols = {k: v for k, v in self.columns(table, c).items() if k != "id" and k not in taken}
            taken.update(cols)
            part_cols.append((f"p{i}", table, cols))
            joins.append(f"LEFT JOIN {qi(table)} AS p{i} ON p{i}.id = d.id")
        out_cols: list[tuple[str, str, str]] = []  # (output column, origin, type): the layout of corpus_fast
        for col, typ in doc_cols.items():
            if col == "text":
                continue
            if col in CORE_COLUMNS or col not in taken:
                select.append(f"d.{qi(col)}")
                out_cols.append((col, "docs", typ))
            else:
                select.append(f"d.{qi(col)} AS {qi('meta_' + col)}")
                out_cols.append(("meta_" + col, "docs", typ))
        for alias, table, cols in part_cols:
            select.extend(f"{alias}.{qi(col)}" for col in cols)
            out_cols.extend((col, table, typ) for col, typ in cols.items())
        if not joins:
            # Nothing to join: both are plain views over the documents (no copy, no join), so an ingest
            # pays no rebuild and queries read the source tables directly.
            if self.has_table("corpus_fast", c):
                c.execute("DROP TABLE corpus_fast")
            c.execute("CREATE OR REPLACE VIEW corpus_fast AS SELECT * EXCLUDE (text) FROM docs")
            c.execute("CREATE OR REPLACE VIEW corpus AS SELECT * FROM docs")
            fast.save(c, None)
            return
        lay = fast.layout(c, out_cols, tables, [t for _, t, _ in part_cols])
        if changed is not None and fast.try_update(c, lay, changed):
            pass  # only the changed parts' columns were rewritten
        else:
            if self.has_view("corpus_fast", c):
                c.execute("DROP VIEW corpus_fast")
            sql = f"CREATE OR REPLACE TABLE corpus_fast AS SELECT {', '.join(select)} FROM docs AS d {' '.join(joins)}"
            c.execute(sql)
            fast.save(c, lay)
        c.execute(
            "CREATE OR REPLACE VIEW corpus AS SELECT f.id, f.source, t.text, f.* EXCLUDE (id, source)"
            " FROM corpus_fast AS f LEFT JOIN docs AS t ON t.id = f.id"
        )

    def set_meta(self, key: str, value: str, *, con: Any = None) -> None:
        c = con or self.con
        c.execute("INSERT OR REPLACE INTO _meta VALUES (?, ?)", [key, value])

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.cursor().execute("SELECT value FROM _meta WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else default

    # ---------------------------------------------------------------- summaries
    def signal_columns(self) -> dict[str, str]:
        """Columns of ``corpus`` that come from parts (signals, imports, map...), with their types."""
        cur = self.cursor()
        out: dict[str, str] = {}
        for table, _kind in self.parts(cur):
            if self.has_table(table, cur) or self.has_view(table, cur):
                out.update({k: v for k, v in self.columns(table, cur).items() if k != "id"})
        return out

    def fingerprint(self) -> str:
        """A stable digest of the documents (ids and text hashes), independent of row order."""
        cur = self.cursor()
        n, acc = cur.execute(
            "SELECT count(*), coalesce(bit_xor(hash_v), 0)::VARCHAR FROM "
            "(SELECT md5_number(id || chr(0) || text_hash)::UHUGEINT AS hash_v FROM docs)"
        ).fetchall()[0]
        return hashlib.sha256(f"{n}:{acc}".encode()).hexdigest()[:16]

    def info(self) -> dict[str, Any]:
        """Counts for ``winnow info``: documents, characters, sources, signal columns."""
        cur = self.cursor()
        n_docs, n_chars = cur.execute("SELECT count(*), coalesce(sum(length(text)), 0) FROM docs").fetchall()[0]
        parts = self.parts(cur)
        return {
            "workspace": str(self.path),
            "documents": int(n_docs),
            "characters": int(n_chars),
            "sources": {s["name"]: int(s["n_docs"] or 0) for s in self.sources()},
            "parts": [{"table": t, "kind": k} for t, k in parts],
            "signals": sorted(self.signal_columns()),
            "labels": int(cur.execute("SELECT count(*) FROM labels").fetchall()[0][0]),
            "recipes": [r[0] for r in cur.execute("SELECT name FROM recipes ORDER BY name").fetchall()],
            "schema_version": SCHEMA_VERSION,
        }
