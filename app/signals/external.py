"""External signals: join precomputed per-document scores (Parquet / JSONL / JSON / CSV, optionally gzipped)
as columns of ``corpus``, e.g. FineWeb-Edu classifier scores, Dolma attribute files, DataTrove or
Data-Juicer stats.

Numeric, boolean and text (categorical) columns are imported; one level of struct fields is flattened
(``attrs.score`` -> ``attrs_score``); lists and deeper nesting are skipped and reported. Ids that are not in
the workspace are counted and reported (with the first few), never silently dropped; ``strict`` makes them
an error. Duplicate ids keep their first row and are counted. The part is table ``import_<slug>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from app.errors import SignalError
from app.sql import is_number_type, qi, slug

_SCALAR = re.compile(r"^(BOOLEAN|VARCHAR|DATE|TIMESTAMP.*)$")


def _reader(path: Path) -> str:
    name = path.name.lower()
    for ext in (".gz", ".zst"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    if name.endswith(".parquet"):
        return "read_parquet(?)"
    if name.endswith((".jsonl", ".ndjson")):
        return "read_json_auto(?, format='newline_delimited')"
    if name.endswith(".json"):
        return "read_json_auto(?)"
    if name.endswith((".csv", ".tsv")):
        return "read_csv_auto(?)"
    raise SignalError(f"cannot import {path.name}: use a .parquet, .jsonl, .json or .csv file (optionally .gz)")


def _kind(typ: str) -> str | None:
    t = typ.upper()
    if is_number_type(t) and t != "BOOLEAN":  # a boolean is imported as a scalar, below
        return "numeric"
    if _SCALAR.match(t):
        return "categorical" if t == "VARCHAR" else "scalar"
    return None


def import_signals(
    ws: Any,
    path: str | Path,
    *,
    id_field: str,
    prefix: str = "",
    name: str | None = None,
    strict: bool = False,
    examples: int = 5,
) -> dict[str, Any]:
    """Import the per-document columns of ``path`` keyed by ``id_field`` as part ``import_<name>``.

    Returns ``{table, rows, matched, unknown_ids, unknown_examples, duplicate_ids, null_ids, columns, skipped}``.
    """
    import duckdb

    if ws.read_only:
        raise SignalError(f"workspace {ws.path} is open read-only")
    p = Path(path)
    if not p.exists():
        raise SignalError(f"no such file: {p}")
    table = f"import_{slug(name or p.name.split('.')[0])}"
    src = _reader(p)
    cur = ws.cursor()
    try:
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE _imp_raw AS SELECT *, row_number() OVER () AS _imp_rn FROM {src}", [str(p)]
        )
    except duckdb.Error as e:
        raise SignalError(f"cannot read {p.name}: {str(e).splitlines()[0]}") from e
    cols = {r[0]: r[1] for r in cur.execute("DESCRIBE _imp_raw").fetchall() if r[0] != "_imp_rn"}
    if id_field not in cols:
        raise SignalError(f"{p.name} has no id field {id_field!r}; its fields are: {', '.join(list(cols)[:20])}")
    select: list[str] = []
    out_cols: list[dict[str, str]] = []
    skipped: list[str] = []
    taken = {"id"}

    def add(expr: str, raw_name: str, typ: str) -> None:
        kind = _kind(typ)
        if kind is None:
            skipped.append(f"{raw_name} ({typ})")
            return
        out = prefix + slug(raw_name, maxlen=60)
        if out in taken:
            skipped.append(f"{raw_name} (name clash as {out})")
            return
        taken.add(out)
        select.append(f"{expr} AS {qi(out)}")
        out_cols.append({"column": out, "from": raw_name, "type": typ, "kind": kind})

    for c, typ in cols.items():
        if c == id_field:
            continue
        if typ.upper().startswith("STRUCT("):
            sub = {r[0]: r[1] for r in cur.execute(f"DESCRIBE SELECT {qi(c)}.* FROM _imp_raw").fetchall()}
            for f, ft in sub.items():
                add(f"{qi(c)}.{qi(f)}", f"{c}_{f}", ft)
        else:
            add(qi(c), c, typ)
    if not select:
        raise SignalError(f"{p.name} has no numeric, boolean or text column besides {id_field!r} to import")
    # collisions with columns other parts already put in corpus
    existing = {k for k in ws.signal_columns() if not ws.has_table(table) or k not in ws.columns(table)}
    clash = [c["column"] for c in out_cols if c["column"] in existing]
    if clash:
        raise SignalError(f"columns {', '.join(clash[:5])} already exist in corpus; choose a --prefix")
    idq = qi(id_field)
    stats = cur.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE {idq} IS NULL),
        count(*) FILTER (WHERE {idq} IS NOT NULL) - count(DISTINCT {idq}) FROM _imp_raw"""
    ).fetchall()[0]
    rows, null_ids, dup_ids = (int(x) for x in stats)
    unknown = cur.execute(
        f"SELECT DISTINCT CAST({idq} AS VARCHAR) AS i FROM _imp_raw WHERE {idq} IS NOT NULL"
        f" AND CAST({idq} AS VARCHAR) NOT IN (SELECT id FROM docs) ORDER BY i"
    ).fetchall()
    if strict and unknown:
        raise SignalError(f"{len(unknown)} ids in {p.name} are not in the workspace, e.g. {unknown[0][0]!r}")
    cur.execute("BEGIN TRANSACTION")
    try:
        cur.execute(
            f"""CREATE OR REPLACE TABLE {qi(table)} AS
            SELECT CAST({idq} AS VARCHAR) AS id, {", ".join(select)} FROM _imp_raw
            WHERE {idq} IS NOT NULL AND CAST({idq} AS VARCHAR) IN (SELECT id FROM docs)
            QUALIFY row_number() OVER (PARTITION BY {idq} ORDER BY _imp_rn) = 1"""
        )
        matched = cur.execute(f"SELECT count(*) FROM {qi(table)}").fetchall()[0][0]
        ws.register_part(table, kind="import", con=cur)
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")
    cur.execute("DROP TABLE IF EXISTS _imp_raw")
    cur.close()
    return {
        "table": table,
        "rows": rows,
        "matched": int(matched),
        "unknown_ids": len(unknown),
        "unknown_examples": [u[0] for u in unknown[:examples]],
        "duplicate_ids": dup_ids,
        "null_ids": null_ids,
        "columns": out_cols,
        "skipped": skipped,
    }
