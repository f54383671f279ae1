"""Labels: tags a person puts on documents (good/bad, toxic, edu, ...), read and written here.

Tags go to the workspace's ``labels`` table (``id, label, note, created_at, created_by``); the table is part of
the data version, so cached views refresh after a write. Reads and writes stay apart from
:mod:`app.explore.queries`, which only reads. The dashboard pages use :func:`add_label` / :func:`add_labels`;
``winnow labels`` uses the headless functions :func:`import_labels`, :func:`label_counts`,
:func:`export_labels` and :func:`remove_labels`, each one transaction (nothing half-written).
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from app.errors import LearnError

__all__ = [
    "add_label",
    "add_labels",
    "check_label",
    "current_user",
    "export_labels",
    "import_labels",
    "label_counts",
    "labels_of",
    "remove_labels",
]

#: a label name: letters (any script), digits, ``_ . -``; at most 64 characters, so it can name a selector
#: (``label:L``) and a column suffix without quoting
LABEL_RE = re.compile(r"^[^\W][\w.\-]{0,63}$", re.UNICODE)
#: unknown ids quoted in a report
SHOW_UNKNOWN = 5
FORMATS = {".jsonl": "json", ".json": "json", ".ndjson": "json", ".csv": "csv", ".parquet": "parquet"}
_COLS = "(id, label, note, created_at, created_by)"


def current_user() -> str | None:
    """``$USER`` (or the login name), stored as who put a label; None when unknown."""
    try:
        return os.environ.get("USER") or getpass.getuser() or None
    except (OSError, KeyError):
        return None


def check_label(label: Any) -> str:
    """The label name, stripped, or a one-line :class:`LearnError` saying what a name may contain."""
    name = str(label).strip() if label is not None else ""
    if not LABEL_RE.match(name):
        raise LearnError(
            f"bad label name {str(label)[:80]!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit"
        )
    return name


def add_label(con: Any, doc_id: str, label: str, note: str | None = None, *, by: str | None = None) -> None:
    """Store one tag in ``labels``."""
    con.execute(
        f"INSERT INTO labels {_COLS} VALUES (?, ?, ?, now()::TIMESTAMP, ?)",
        [doc_id, check_label(label), note, by or current_user()],
    )


def labels_of(con: Any, doc_id: str) -> pd.DataFrame:
    """The tags of one document, newest first."""
    return con.execute(
        "SELECT label, note, created_at FROM labels WHERE id = ? ORDER BY created_at DESC", [doc_id]
    ).df()


def add_labels(con: Any, ids: list[str], label: str, note: str | None = None, *, by: str | None = None) -> int:
    """Tag many documents at once (a map selection); returns how many rows were added."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return 0
    con.execute(
        f"INSERT INTO labels {_COLS} SELECT unnest(?::VARCHAR[]), ?, ?, now()::TIMESTAMP, ?",
        [ids, check_label(label), note, by or current_user()],
    )
    return len(ids)


def _reader(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LearnError(f"{path}: unknown label file type {path.suffix!r}; use .jsonl, .json, .csv or .parquet")
    return {"json": "read_json_auto", "csv": "read_csv_auto", "parquet": "read_parquet"}[fmt]


def import_labels(ws: Any, path: str | os.PathLike, *, by: str | None = None, strict: bool = False) -> dict[str, Any]:
    """Add the labels of a JSONL/JSON/CSV/Parquet file with ``id,label[,note]`` to the workspace.

    Rows whose ``id`` is not a document of the workspace are not stored (a label on nothing teaches nothing)
    but counted and quoted (the first :data:`SHOW_UNKNOWN`); with ``strict`` they make the whole import fail.
    Rows without an id or a label are counted as skipped. A bad label name fails the import with the line.
    All or nothing: one transaction. Returns ``{"file", "rows", "added", "labels": {label: n}, "unknown_ids",
    "unknown_examples", "skipped_empty", "by"}``."""
    p = Path(path)
    if not p.is_file():
        raise LearnError(f"label file {p} does not exist")
    if ws.read_only:
        raise LearnError(f"workspace {ws.path} is open read-only")
    reader = _reader(p)
    who = by or current_user()
    with ws.transaction() as cur:
        try:
            cols = [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [str(p)]).fetchall()]
        except Exception as e:  # duckdb parse/IO errors: one line naming the file
            raise LearnError(f"cannot read label file {p}: {str(e).splitlines()[0]}") from e
        missing = [c for c in ("id", "label") if c not in cols]
        if missing:
            raise LearnError(
                f"{p}: no {' or '.join(repr(c) for c in missing)} column (columns: {', '.join(cols[:12])})"
            )
        note = "CAST(note AS VARCHAR)" if "note" in cols else "NULL"
        try:
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE _lab_in AS SELECT row_number() OVER () AS line, "
                f"trim(CAST(id AS VARCHAR)) AS id, trim(CAST(label AS VARCHAR)) AS label, {note} AS note "
                f"FROM {reader}(?)",
                [str(p)],
            )
        except Exception as e:
            raise LearnError(f"cannot read label file {p}: {str(e).splitlines()[0]}") from e
        try:
            return _import_rows(cur, p, who=who, strict=strict)
        finally:
            cur.execute("DROP TABLE IF EXISTS _lab_in")


def _import_rows(cur: Any, p: Path, *, who: str | None, strict: bool) -> dict[str, Any]:
    rows = int(cur.execute("SELECT count(*) FROM _lab_in").fetchone()[0])
    empty = int(cur.execute("SELECT count(*) FROM _lab_in WHERE coalesce(id, '') = '' OR coalesce(label, '') = ''")
                .fetchone()[0])  # fmt: skip
    for line, label in cur.execute(
        "SELECT min(line), label FROM _lab_in WHERE coalesce(label, '') <> '' GROUP BY label ORDER BY 1"
    ).fetchall():
        try:
            check_label(label)
        except LearnError as e:
            raise LearnError(f"{p}: row {line}: {e}") from e
    valid = "coalesce(id, '') <> '' AND coalesce(label, '') <> ''"
    unknown_q = f"FROM _lab_in WHERE {valid} AND id NOT IN (SELECT id FROM docs)"
    n_unknown = int(cur.execute(f"SELECT count(*) {unknown_q}").fetchone()[0])
    examples = [r[0] for r in cur.execute(f"SELECT id {unknown_q} ORDER BY line LIMIT {SHOW_UNKNOWN}").fetchall()]
    if n_unknown and strict:
        raise LearnError(
            f"{p}: {n_unknown:,} rows name ids that are not in the workspace (e.g. {', '.join(examples)}); "
            "nothing imported"
        )
    keep = f"FROM _lab_in WHERE {valid} AND id IN (SELECT id FROM docs)"
    cur.execute(f"INSERT INTO labels {_COLS} SELECT id, label, note, now()::TIMESTAMP, ? {keep} ORDER BY line", [who])
    per = dict(cur.execute(f"SELECT label, count(*) {keep} GROUP BY label ORDER BY label").fetchall())
    return {"file": str(p), "rows": rows, "added": int(sum(per.values())), "labels": per,
            "unknown_ids": n_unknown, "unknown_examples": examples, "skipped_empty": empty, "by": who}  # fmt: skip


def label_counts(con: Any) -> list[dict[str, Any]]:
    """Per label: rows, distinct documents, the latest time and who labelled (``created_by`` values)."""
    rows = con.execute(
        "SELECT label, count(*), count(DISTINCT id), max(created_at), "
        "list(DISTINCT created_by ORDER BY created_by) FILTER (WHERE created_by IS NOT NULL) "
        "FROM labels GROUP BY label ORDER BY count(DISTINCT id) DESC, label"
    ).fetchall()
    return [{"label": r[0], "rows": int(r[1]), "documents": int(r[2]), "latest": r[3], "by": list(r[4] or [])}
            for r in rows]  # fmt: skip


def export_labels(con: Any, path: str | os.PathLike, *, label: str | None = None) -> int:
    """Write ``id, label, note, created_at, created_by`` (one label or all) to JSONL/CSV/Parquet by suffix."""
    p = Path(path)
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise LearnError(f"{p}: unknown export type {p.suffix!r}; use .jsonl, .csv or .parquet")
    where, params = ("WHERE label = ?", [label]) if label else ("", [])
    n = int(con.execute(f"SELECT count(*) FROM labels {where}", params).fetchone()[0])
    if label and not n:
        raise LearnError(f"no document carries the label {label!r}")
    opt = {"json": "FORMAT json", "csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet"}[fmt]
    tmp = p.with_name(p.name + ".tmp")
    lit = "'" + str(tmp).replace("'", "''") + "'"
    try:
        con.execute(
            f"COPY (SELECT id, label, note, created_at, created_by FROM labels {where} ORDER BY created_at, id, label) "
            f"TO {lit} ({opt})",
            params,
        )
        tmp.replace(p)
    except Exception as e:
        tmp.unlink(missing_ok=True)
        raise LearnError(f"cannot write {p}: {str(e).splitlines()[0]}") from e
    return n


def remove_labels(ws: Any, label: str, *, ids: list[str] | None = None) -> int:
    """Delete the label ``label`` (from the documents ``ids`` only, when given); returns the rows removed."""
    with ws.transaction() as cur:
        if not cur.execute("SELECT count(*) FROM labels WHERE label = ?", [label]).fetchone()[0]:
            known = [r[0] for r in cur.execute("SELECT DISTINCT label FROM labels ORDER BY 1").fetchall()]
            raise LearnError(f"no document carries the label {label!r}; labels: {', '.join(known) or 'none'}")
        q, params = "FROM labels WHERE label = ?", [label]
        if ids:
            q += " AND id IN (SELECT unnest(?::VARCHAR[]))"
            params.append(list(ids))
        n = int(cur.execute(f"SELECT count(*) {q}", params).fetchone()[0])
        cur.execute(f"DELETE {q}", params)
    return n
