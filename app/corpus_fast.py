"""``corpus_fast`` updated in place when parts change, instead of re-materialised from every part.

:meth:`app.workspace.Workspace.rebuild_views` builds ``corpus_fast`` (every ``corpus`` column but ``text``) by
joining the documents with every part: at 1M documents and a handful of signal families that is a rewrite of
the whole table, seconds to tens of seconds, after *every* ``winnow score``/``embed``/``map``. When only parts'
rows changed, the table already holds everything else, so :func:`try_update` rewrites just those parts'
columns (``UPDATE ... FROM part``, NULL where the part has no row), and adds the columns of a new part when they
come last in the column order. The result is the table the full rebuild would make, column for column.

The *layout* of the last build is kept in ``_meta`` (:data:`META_KEY`): every output column with its origin
(``docs`` or a part table) and type, and the table oid of every source and part. The update applies only when
the new layout is the stored one, possibly followed by new columns of the changed parts; a part table replaced
since (a new oid: ``CREATE OR REPLACE``, a detached run's commit) counts as changed even when its caller did not
name it; a source table replaced, a part dropped or reordered, a type changed: the full rebuild, as before.
"""

from __future__ import annotations

import json
from typing import Any

from app.sql import qi

META_KEY = "corpus_fast.layout"


def table_oids(con: Any, names: list[str]) -> dict[str, int | None]:
    """``{name: table oid}`` (None for a view or a missing table)."""
    if not names:
        return {}
    q = "SELECT table_name, table_oid FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN ?"
    got = {r[0]: int(r[1]) for r in con.execute(q, [list(names)]).fetchall()}
    return {n: got.get(n) for n in names}


def layout(con: Any, columns: list[tuple[str, str, str]], sources: list[str], parts: list[str]) -> dict[str, Any]:
    """What a build of ``corpus_fast`` is made of: ``columns`` ``[(output name, origin, type)]`` in order, and
    the table oids of the ``sources`` and ``parts`` it read."""
    return {
        "columns": [list(c) for c in columns],
        "sources": table_oids(con, sources),
        "parts": table_oids(con, parts),
    }


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
    before, now = list(old.get("parts", {})), list(new["parts"])
    if old.get("sources") != new["sources"] or now[: len(before)] != before:
        return False  # a source replaced, a part dropped or moved
    if any(t not in changed for t in now[len(before) :]):
        return False  # a new part nobody named
    changed = set(changed) | {t for t, oid in new["parts"].items() if old["parts"].get(t) != oid}
    if any(new["parts"][t] is None for t in changed if t in new["parts"]):
        return False  # a view part: no oid to follow, rebuild
    n_old = len(old["columns"])
    cols = new["columns"]
    if cols[:n_old] != old["columns"] or any(origin not in changed for _, origin, _ in cols[n_old:]):
        return False
    for name, _origin, typ in cols[n_old:]:
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
