"""``corpus_fast`` updated in place when parts change, instead of re-materialised from every part.

:meth:`app.workspace.Workspace.rebuild_views` builds ``corpus_fast`` (every ``corpus`` column but ``text``) by
joining the documents with every part: at 1M documents and a handful of signal families that is a rewrite of
the whole table, seconds to tens of seconds, after *every* ``winnow score``/``embed``/``map``. When only parts'
rows changed, the table already holds everything else, so :func:`try_update` rewrites just those parts'
columns (``UPDATE ... FROM part``, NULL where the part has no row), and adds the columns of a new part when they
come last in the column order. The result is the table the full rebuild would make, column for column.

The *layout* of the last build is kept in ``_meta`` (:data:`META_KEY`): every output column with its origin
(``docs`` or a part table) and type, the parts in join order, and for every source and part its table oid and its
stamp (``sources.ingested_at``, ``_parts.registered_at``: written with every new version of the table). The update
applies only when the new layout is the stored one, possibly followed by new columns of the changed parts; a part
table registered again or, within the process that stored the layout, replaced since (a new oid: ``CREATE OR
REPLACE``) counts as changed even when its caller did not name it; a part dropped has its columns dropped (a
remap drops ``emb_signals``); a source table replaced, a part reordered, a type changed: the full rebuild, as
before. DuckDB numbers tables afresh each time a database is opened, so oids are compared only by the process
(:data:`SESSION`) that stored them: compared across processes they differed for every table, and each ``winnow
score``/``map`` rebuilt the whole table (minutes at 10M documents) instead of updating it.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from app.sql import qi

META_KEY = "corpus_fast.layout"
#: this process's token in a stored layout: its table oids mean something only to the same process
SESSION = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def table_oids(con: Any, names: list[str]) -> dict[str, int | None]:
    """``{name: table oid}`` (None for a view or a missing table)."""
    if not names:
        return {}
    q = "SELECT table_name, table_oid FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN ?"
    got = {r[0]: int(r[1]) for r in con.execute(q, [list(names)]).fetchall()}
    return {n: got.get(n) for n in names}


def stamps(con: Any, sources: list[str], parts: list[str]) -> dict[str, str | None]:
    """``{table: stamp}``: when each source table was last written (``sources.ingested_at``) and each part last
    registered (``_parts.registered_at``); None where there is none."""
    got: dict[str, str | None] = {}
    if sources:
        q = "SELECT table_name, CAST(ingested_at AS VARCHAR) FROM sources WHERE table_name IN ?"
        got.update(dict(con.execute(q, [list(sources)]).fetchall()))
    if parts:
        q = "SELECT table_name, CAST(registered_at AS VARCHAR) FROM _parts WHERE table_name IN ?"
        got.update(dict(con.execute(q, [list(parts)]).fetchall()))
    return {t: got.get(t) for t in [*sources, *parts]}


def layout(con: Any, columns: list[tuple[str, str, str]], sources: list[str], parts: list[str]) -> dict[str, Any]:
    """What a build of ``corpus_fast`` is made of: ``columns`` ``[(output name, origin, type)]`` in order, the
    ``parts`` in join order, and the table oids and stamps (:func:`stamps`) of the ``sources`` and ``parts``."""
    return {
        "columns": [list(c) for c in columns],
        "sources": table_oids(con, sources),
        "parts": table_oids(con, parts),
        "order": list(parts),
        "stamps": stamps(con, sources, parts),
        "session": SESSION,
    }


def _moved(old: dict[str, Any], new: dict[str, Any], tables: list[str], kind: str) -> set[str]:
    """Which of ``tables`` have another version than in ``old``: another stamp, or (layout stored by this
    process) another oid. A layout stored before stamps existed compares oids only."""
    os_, ns = old.get("stamps"), new["stamps"]
    out = {t for t in tables if os_ is not None and os_.get(t) != ns.get(t)}
    if os_ is None or old.get("session") == SESSION:
        out |= {t for t in tables if old[kind].get(t) != new[kind].get(t)}
    return out


def save(con: Any, lay: dict[str, Any] | None) -> None:
    """Remember the layout of the ``corpus_fast`` just built (None: there is no table to update)."""
    con.execute("DELETE FROM _meta WHERE key = ?", [META_KEY])
    if lay is not None:
        con.execute("INSERT INTO _meta VALUES (?, ?)", [META_KEY, json.dumps(lay, sort_keys=True)])


def _stored(con: Any) -> dict[str, Any] | None:
    rows = con.execute("SELECT value FROM _meta WHERE key = ?", [META_KEY]).fetchall()
    try:
        return json.loads(rows[0][0]) if rows else None
    except ValueError:
        return None


def try_update(con: Any, new: dict[str, Any], changed: set[str]) -> bool:
    """Bring the ``corpus_fast`` table to ``new`` by rewriting only the changed parts' columns; False (nothing
    done) when that is not possible and the caller must rebuild it in full."""
    old = _stored(con)
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'corpus_fast' AND schema_name = 'main'"
    if not old or not con.execute(q).fetchall()[0][0]:
        return False
    # the join order (stored layouts before "order" kept it only in the parts' keys, which JSON sorted)
    before, now = list(old.get("order", old.get("parts", {}))), list(new["order"])
    if set(old.get("sources", {})) != set(new["sources"]) or _moved(old, new, list(new["sources"]), "sources"):
        return False  # a source replaced or dropped
    gone = {t for t in before if t not in now}  # parts dropped: their columns go (a remap drops emb_signals)
    before = [t for t in before if t not in gone]
    if now[: len(before)] != before:
        return False  # a part moved
    if any(t not in changed for t in now[len(before) :]):
        return False  # a new part nobody named
    changed = set(changed) | _moved(old, new, before, "parts")
    if any(new["parts"][t] is None for t in changed if t in new["parts"]):
        return False  # a view part: no oid to follow, rebuild
    kept = [c for c in old["columns"] if c[1] not in gone]
    cols = new["columns"]
    if cols[: len(kept)] != kept or any(origin not in changed for _, origin, _ in cols[len(kept) :]):
        return False  # e.g. a dropped part's column had shadowed a metadata column, now shown under its name
    for name, _origin, _typ in old["columns"]:
        if _origin in gone:
            con.execute(f"ALTER TABLE corpus_fast DROP COLUMN {qi(name)}")  # ~0.2 s at 5M rows, no rewrite
    for name, _origin, typ in cols[len(kept) :]:
        con.execute(f"ALTER TABLE corpus_fast ADD COLUMN {qi(name)} {typ}")
    n = con.execute("SELECT count(*) FROM corpus_fast").fetchall()[0][0]
    for t in sorted(changed):
        mine = [name for name, origin, _ in cols if origin == t]
        if not mine:
            continue
        sets = ", ".join(f"{qi(c)} = p.{qi(c)}" for c in mine)
        got = con.execute(f"UPDATE corpus_fast SET {sets} FROM {qi(t)} AS p WHERE p.id = corpus_fast.id").fetchall()
        if got and got[0][0] != n:  # documents the part has no row for: NULL, as the left join gives
            nulls = ", ".join(f"{qi(c)} = NULL" for c in mine)
            con.execute(
                f"UPDATE corpus_fast SET {nulls} WHERE NOT EXISTS (SELECT 1 FROM {qi(t)} AS p WHERE p.id = corpus_fast.id)"
            )
    save(con, new)
    return True
