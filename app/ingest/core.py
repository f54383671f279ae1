"""Streaming ingest into a workspace, atomically (:func:`ingest`); :func:`read_documents` (Arrow batches,
no workspace) lives in :mod:`app.ingest.reader` and is re-exported here.

Paths. JSON lines and Parquet without ``--limit`` are first read by DuckDB's own reader straight into the
workspace (the fast path, :mod:`app.ingest.fast`); the file's line count must equal the rows DuckDB returned, so
that every row's line number (its id) is known. When it does not (blank or malformed lines, invalid
UTF-8, a type the sample did not foresee), the file is read again by the Python reader, which
accounts for every line. Every other format streams Arrow batches from :mod:`app.ingest.formats`.
Both paths normalise with the same SQL (:mod:`app.ingest.normalize`).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from app.errors import IngestError
from app.ingest import fast as staging
from app.ingest import formats, jsonl, pieces
from app.ingest.formats import ROW
from app.ingest.lazy import LazyModule
from app.ingest.normalize import RESERVED
from app.ingest.reader import DocumentReader, Stats, read_documents
from app.ingest.sources import Input
from app.progress import Progress, null_progress
from app.sql import qi

pa = LazyModule("pyarrow")  # imported on first use: DuckDB's own readers never need it

__all__ = ["DocumentReader", "Stats", "ingest", "read_documents"]
_INTS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_FLOATS = {"FLOAT", "DOUBLE", "DECIMAL"}


# ====================================================================== writing into a workspace
def _supertype(a: str, b: str) -> str:
    if a == b:
        return a
    ua, ub = a.upper(), b.upper()
    if ua in _INTS and ub in _INTS:
        return "BIGINT"
    if (ua in _INTS | _FLOATS or ua.startswith("DECIMAL")) and (ub in _INTS | _FLOATS or ub.startswith("DECIMAL")):
        return "DOUBLE"
    return "VARCHAR"


def _is_nested(t: str) -> bool:
    u = t.upper()
    return u.startswith(("STRUCT", "MAP", "UNION")) or u.endswith("]")


def _cast(col: str, frm: str, to: str) -> str:
    if frm == to:
        return qi(col)
    if to == "VARCHAR" and _is_nested(frm):
        return f"CAST(to_json({qi(col)}) AS VARCHAR)"
    return f"CAST({qi(col)} AS {to})"


def _append(cur: Any, table: str, tbl: pa.Table, state: dict[str, str]) -> None:
    """Append an Arrow table to ``table`` (created on first use); new columns are added and differing
    types widened (ints -> BIGINT -> DOUBLE -> VARCHAR, nested -> JSON text): nothing is dropped."""
    view = f"_winnow_w_{uuid.uuid4().hex[:8]}"
    cur.register(view, tbl)
    try:
        bcols = {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(view)}").fetchall()}
        if not state:
            cur.execute(f"CREATE TABLE {qi(table)} AS SELECT * FROM {qi(view)}")
            state.update(bcols)
            return
        exprs = []
        for c, t in bcols.items():
            if c not in state:
                cur.execute(f"ALTER TABLE {qi(table)} ADD COLUMN {qi(c)} {t}")
                state[c] = t
            elif state[c] != t:
                sup = _supertype(state[c], t)
                if sup != state[c]:
                    cur.execute(
                        f"ALTER TABLE {qi(table)} ALTER {qi(c)} SET DATA TYPE {sup} USING {_cast(c, state[c], sup)}"
                    )
                    state[c] = sup
            exprs.append(f"{_cast(c, t, state[c])} AS {qi(c)}")
        cur.execute(f"INSERT INTO {qi(table)} BY NAME SELECT {', '.join(exprs)} FROM {qi(view)}")
    finally:
        cur.unregister(view)


def _ticker(progress: Progress, reader: DocumentReader, source: str) -> Callable[..., None]:
    """Progress for ``source`` at the reader's count of documents ingested, each time it is called (plus
    ``extra``: rows committed of a file not counted yet)."""
    return lambda extra=0: progress(reader.stats.ingested + extra, None, source)


def _sniff_csv_types(cur: Any, table: str, cols: dict[str, str], skip: set[str]) -> None:
    """CSV values arrive as text: give a column BIGINT/DOUBLE/BOOLEAN when every non-empty value casts."""
    for c, t in cols.items():
        if t != "VARCHAR" or c in skip:
            continue
        # values that would not survive the round trip (leading zeros, '+', spaces) keep the column text
        lossy = cur.execute(
            f"SELECT count(*) FROM {qi(table)} WHERE regexp_matches({qi(c)}, '^[-+]?0[0-9]|^[+ ]|\\s$')"
        ).fetchall()[0][0]
        if lossy:
            continue
        for target in ("BIGINT", "DOUBLE", "BOOLEAN"):
            ok = cur.execute(
                f"SELECT count(*) FILTER (WHERE {qi(c)} IS NOT NULL AND {qi(c)} <> '' AND "
                f"TRY_CAST({qi(c)} AS {target}) IS NULL), count(*) FILTER (WHERE {qi(c)} <> '') FROM {qi(table)}"
            ).fetchone()
            if ok[0] == 0 and ok[1] > 0:
                cur.execute(
                    f"ALTER TABLE {qi(table)} ALTER {qi(c)} SET DATA TYPE {target} USING "
                    f"TRY_CAST(NULLIF({qi(c)}, '') AS {target})"
                )
                cols[c] = target
                break


def _combine(cur: Any, target: str, stages: list[tuple[str, dict[str, str]]]) -> str:
    """One table from the per-file stage tables: the stage itself when there is one, else a typed
    ``UNION ALL`` into ``target`` (columns widened where files disagree). Returns the table's name."""
    if len(stages) == 1:
        return stages[0][0]
    final: dict[str, str] = {}
    for _t, cols in stages:
        for c, t in cols.items():
            final[c] = t if c not in final else _supertype(final[c], t)
    core = ["id", "source", "text", "text_hash"]
    order = core + [c for c in final if c not in core and c not in ("_file", ROW)] + ["_file", ROW]
    selects = []
    for t, cols in stages:
        parts = [
            f"{_cast(c, cols[c], final[c])} AS {qi(c)}" if c in cols else f"NULL::{final[c]} AS {qi(c)}" for c in order
        ]
        selects.append(f"SELECT {', '.join(parts)} FROM {qi(t)}")
    cur.execute(f"CREATE TABLE {qi(target)} AS {' UNION ALL '.join(selects)}")
    for t, _c in stages:
        cur.execute(f"DROP TABLE {qi(t)}")
    return target


def _finish(cur: Any, stage: str | None, stages: list[tuple[str, dict[str, str]]]) -> None:
    """Complete an open stage (:func:`app.ingest.fast.finish_stage`); one left empty leaves ``stages``."""
    if stage is not None and not staging.finish_stage(cur, stage):
        stages[:] = [s for s in stages if s[0] != stage]


def _drop_stages(cur: Any, pattern: str) -> None:
    """Drop stage tables matching a LIKE pattern (``_`` escaped)."""
    like = pattern.replace("_", "\\_")
    for (t,) in cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE ? ESCAPE '\\'", [like]
    ).fetchall():
        cur.execute(f"DROP TABLE IF EXISTS {qi(t)}")


def _repeated_hash(cur: Any, table: str) -> bool:
    """Whether two rows of ``table`` share ``hash(id)``: equal ids have equal hashes, so False proves every id
    unique. Grouping 64-bit hashes instead of the id strings: 0.19 against 0.29 CPU s for 1M ids, and a
    hash table a third the size (it must hold every distinct key: 10M documents in one source)."""
    return bool(cur.execute(f"SELECT 1 FROM {qi(table)} GROUP BY hash(id) HAVING count(*) > 1 LIMIT 1").fetchall())


def _check_duplicates(cur: Any, table: str, name: str, others: list[str]) -> None:
    """Raise :class:`IngestError` naming the first repeated ids of ``table`` (source ``name``), or ids it shares
    with the tables ``others``."""
    dup_ids = (
        [r[0] for r in cur.execute(f"SELECT id FROM {qi(table)} GROUP BY id HAVING count(*) > 1 LIMIT 1000").fetchall()]
        if _repeated_hash(cur, table)
        else []
    )
    if dup_ids:
        dups = cur.execute(
            f"SELECT id, count(*), arg_min(_file || ':' || _row, _row) FROM {qi(table)} WHERE list_contains(?, id) "
            "GROUP BY id ORDER BY min(_row) LIMIT 5",
            [dup_ids],
        ).fetchall()
        first = ", ".join(f"{i!r} x{n} (first at {w})" for i, n, w in dups)
        raise IngestError(f"duplicate ids in source {name!r}: {first}; ids must be unique (check --id-field)")
    for other in others:
        clash = cur.execute(
            f"SELECT a.id FROM {qi(table)} a JOIN {qi(other)} b ON a.id = b.id ORDER BY a.id LIMIT 5"
        ).fetchall()
        if clash:
            src = cur.execute(f"SELECT any_value(source) FROM {qi(other)}").fetchall()[0][0]
            ids = ", ".join(repr(r[0]) for r in clash)
            raise IngestError(f"ids of source {name!r} already exist in source {src!r}: {ids}; ids must be unique")


_LOG_DDL = """CREATE TABLE IF NOT EXISTS ingest_log (
    run_id VARCHAR, source VARCHAR, inputs JSON, started_at TIMESTAMP, seconds DOUBLE,
    "read" BIGINT, ingested BIGINT, skipped JSON, skipped_first JSON, files BIGINT, bytes BIGINT,
    options JSON, winnow_version VARCHAR)"""
_LOG_COLUMNS = (
    'run_id, source, inputs, started_at, seconds, "read", ingested, skipped, skipped_first, files, bytes, '
    "options, winnow_version, repaired"
)


def _split_by_field(
    cur: Any, ready: list[tuple[str, str, dict[str, Any]]], field: str, prefix: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """Split each staged source table into one source per value of ``field`` (``--source-field``): a file
    that mixes sources (realmix, Dolma) gets per-source retention. Rows with a NULL/empty value keep the
    name the source would have had. Ids are those of the unsplit source (stable across both ways)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for si, (name, table, spec) in enumerate(ready):
        cols = [r[0] for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall()]
        wanted = [f"orig_{field}"] if field.lower() in RESERVED else [field]  # input "source" is kept as orig_source
        col = next((c for w in wanted for c in cols if c.lower() == w.lower()), None)
        if col is None:
            raise IngestError(f"no source field {field!r} in source {name!r} (fields: {', '.join(cols)})")
        key = f"coalesce(nullif(trim(CAST({qi(col)} AS VARCHAR)), ''), ?)"
        values = [r[0] for r in cur.execute(f"SELECT DISTINCT {key} FROM {qi(table)} ORDER BY 1", [name]).fetchall()]
        if len(values) > 1000:
            raise IngestError(f"source field {field!r} has {len(values):,} distinct values (at most 1,000 sources)")
        for k, value in enumerate(values):
            part = f"{prefix}_split_{si}_{k}"
            cur.execute(
                f"CREATE TABLE {qi(part)} AS SELECT * REPLACE (CAST(? AS VARCHAR) AS source) FROM {qi(table)}"
                f" WHERE {key} = ?",
                [value, name, value],
            )
            out.append((value, part, {**spec, "source_field": col, "split_from": name}))
        cur.execute(f"DROP TABLE {qi(table)}")
    return out


def ingest(
    ws: Any,
    srcs: list[str],
    *,
    source: str | None = None,
    text_field: str | None = None,
    id_field: str | None = None,
    limit: int | None = None,
    strict: bool = False,
    full_schema: bool = False,
    source_field: str | None = None,
    sample: int | None = None,
    seed: int | None = None,
    invalid_utf8: str = "skip",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ingest ``srcs`` into workspace ``ws``: one table per source, replacing a source of the same name,
    all in one transaction (a failure leaves the workspace as it was). Returns the summary that is also
    written to ``ingest_log``.

    JSON-lines files are typed from the whole file when under 32 MB, else from a spread sample (32 slices
    of a plain file; the first 100,000 lines of a compressed one); ``full_schema`` types every file from
    all its lines (a second full parse, about twice the time) so that a field seen only outside the sample
    is kept too.

    ``sample``: keep a seeded random sample of that many documents across all inputs (see
    :mod:`app.ingest.sample`); the others are counted as skipped ``not_in_sample``. ``invalid_utf8``:
    ``"skip"`` (count the record as ``invalid_utf8``) or ``"replace"`` (keep it with U+FFFD, counted as
    ``repaired``)."""
    import json

    import duckdb

    from app import __version__
    from app.ingest.sample import KEY_DOC, check_sample, sample_tables
    from app.workspace import CORE_COLUMNS, now, source_table

    if ws.read_only:
        raise IngestError(f"workspace {ws.path} is open read-only")
    progress = progress or null_progress
    t0 = time.perf_counter()
    started = now()
    check_sample(sample, seed, limit)
    if sample is not None and seed is None:
        seed = 0
    reader = DocumentReader(
        srcs,
        source=source,
        text_field=text_field,
        id_field=id_field,
        limit=limit,
        strict=strict,
        invalid_utf8=invalid_utf8,
    )
    run_id = uuid.uuid4().hex[:12]
    by_source: dict[str, list[Input]] = {}
    for inp in reader.inputs:
        by_source.setdefault(inp.source, []).append(inp)
    cur = ws.cursor()
    cur.execute("SET enable_progress_bar = false")  # our own progress goes to stderr via `progress`
    _drop_stages(cur, "_ingest_%")  # left by a run that was killed
    prefix = f"_ingest_{run_id}"
    ready: list[tuple[str, str, dict[str, Any]]] = []  # (source, stage table, spec)
    held = contextlib.ExitStack()
    try:
        held.enter_context(staging.memory_cap(cur))  # bounded memory whatever the input's size
        # 1. each input into its own stage table, outside the final transaction (a failed DuckDB read
        #    must not abort it); nothing here is visible in `docs`/`corpus`.
        for si, (name, inputs) in enumerate(by_source.items()):
            stages: list[tuple[str, dict[str, str]]] = []
            open_stage: str | None = None  # a stage of DuckDB-read files whose skipped rows are still in it
            resume = 0  # files before it were appended side by side (jsonl.append_shards, pieces.stage_run)
            no_run = -1  # a file that failed in a run of shards
            for k, inp in enumerate(inputs):
                if k < resume:
                    continue
                if reader.remaining() == 0:
                    break
                stage = f"{prefix}_{si}_{k}"
                cols = None
                got = None
                fast = jsonl.takes(inp, limit=limit)
                if fast and inp.fmt == "jsonl" and k != no_run:
                    tick = _ticker(progress, reader, name)
                    n, cut = 0, False
                    if open_stage is not None:
                        n, cut = jsonl.append_shards(
                            cur, reader, inputs[k:], open_stage, full_schema=full_schema, progress=tick
                        )
                    if not n and not cut:
                        opened = jsonl.start_shards(
                            cur, reader, inputs[k:], stage, full_schema=full_schema, progress=tick
                        )
                        if opened is not None:
                            _finish(cur, open_stage, stages)  # another schema: the earlier stage is complete
                            open_stage = stage
                            stages.append((stage, opened[0]))
                            n, cut = opened[1:]
                    if cut:
                        no_run = k + n  # it failed in a run: taken on its own
                    if n:
                        resume = k + n
                        continue
                if fast and (inp.fmt == "jsonl" or not formats.sniff_json_array(inp)):
                    got = jsonl.stage_file(cur, reader, inp, stage, full_schema=full_schema, into=open_stage)
                elif pieces.takes(inp, limit=limit):
                    ran = None if k == no_run else pieces.stage_run(
                        cur, reader, inputs[k:], stage, into=open_stage, progress=_ticker(progress, reader, name)
                    )  # fmt: skip
                    if ran is not None:
                        cols, used, n, cut = ran
                        if used != open_stage:
                            _finish(cur, open_stage, stages)  # another schema: the earlier stage is complete
                            open_stage = used
                            stages.append((used, cols))
                        no_run = k + n if cut else no_run  # it failed in a run: taken on its own
                        resume = k + n
                        continue
                    got = staging.fast_parquet(cur, reader, inp, stage, into=open_stage)
                if got is not None:
                    cols, deferred = got
                    if deferred is not None and deferred == open_stage:  # appended to the open stage
                        progress(reader.stats.ingested, None, name)
                        continue
                    if deferred is not None:
                        _finish(cur, open_stage, stages)  # another schema: the earlier stage is complete
                        open_stage = deferred
                        stages.append((deferred, cols))
                        progress(reader.stats.ingested, None, name)
                        continue
                if cols is None:
                    state: dict[str, str] = {}
                    cur.execute("BEGIN TRANSACTION")
                    try:
                        for tbl in reader.iter_input(inp, con=cur):
                            _append(cur, stage, tbl, state)
                            progress(reader.stats.ingested, None, name)
                        if state and inp.fmt in ("csv", "tsv"):
                            _sniff_csv_types(cur, stage, state, set(CORE_COLUMNS) | {"_file", ROW})
                    except BaseException:
                        cur.execute("ROLLBACK")
                        raise
                    cur.execute("COMMIT")
                    if not state:
                        continue
                    cols = state
                elif not cols:
                    continue  # DuckDB read it and every row was skipped (counted): nothing to stage
                _finish(cur, open_stage, stages)  # later files start a new stage: the rows keep the files' order
                open_stage = None
                stages.append((stage, cols))
                progress(reader.stats.ingested, None, name)
            _finish(cur, open_stage, stages)
            if not stages and limit is not None and reader.remaining() == 0:
                continue
            if not stages:
                raise IngestError(
                    f"no documents could be read for source {name!r} from {', '.join(i.rel or i.path for i in inputs)}"
                    f" (skipped: {dict(reader.source_stats[name].skipped) or 'nothing found'})"
                )
            table = _combine(cur, f"{prefix}_{si}", stages)
            spec = {
                "kind": "ingest",
                "inputs": sorted({i.path for i in inputs}),
                "text": reader.plans.get(name, []),
                "text_field": text_field,
                "id_field": id_field or None,
                "limit": limit,
                "run_id": run_id,
            }
            if invalid_utf8 != "skip":
                spec["invalid_utf8"] = invalid_utf8
            ready.append((name, table, spec))
        total = reader.stats.ingested  # before sampling
        if sample is not None:
            removed = sample_tables(cur, [(n, t) for n, t, _s in ready], n=sample, seed=seed or 0)
            for name, n_out in removed.items():
                reader.source_stats[name].drop("not_in_sample", n_out)
                reader.stats.drop("not_in_sample", n_out)
            for _n, _t, spec in ready:
                spec["sample"] = {"n": sample, "seed": seed, "key": KEY_DOC, "of": total}
        parents = {n: sp["inputs"] for n, _t, sp in ready}  # the log has one row per source as read
        if source_field:
            ready = _split_by_field(cur, ready, source_field, prefix)
        # 2. ids: unique within each new source, and against every other source
        new_names = {n for n, _t, _s in ready}
        existing = [
            t
            for n, t in cur.execute("SELECT name, table_name FROM sources").fetchall()
            if n not in new_names and ws.has_table(t, cur)
        ]
        for i, (name, table, _spec) in enumerate(ready):
            _check_duplicates(cur, table, name, existing + [t for _n, t, _s in ready[:i]])
        # 3. swap in, all or nothing
        with ws.transaction() as tx:
            tx.execute(_LOG_DDL)
            tx.execute("ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS repaired JSON")
            for name, table, spec in ready:
                dest = source_table(name)
                tx.execute(f"DROP TABLE IF EXISTS {qi(dest)}")
                tx.execute(f"ALTER TABLE {qi(table)} RENAME TO {qi(dest)}")
                ws.register_source(name, con=tx, spec=spec)
            # the log keeps one row per source as read, so read = ingested + skipped holds per row
            options = {"text_field": text_field, "id_field": id_field, "limit": limit, "strict": strict}
            options.update(invalid_utf8=invalid_utf8, sample=sample, seed=seed)
            for name, inputs in parents.items():
                st = reader.source_stats[name]
                tx.execute(
                    f"INSERT INTO ingest_log ({_LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        name,
                        json.dumps(inputs),
                        started,
                        round(time.perf_counter() - t0, 3),
                        st.read,
                        st.ingested,
                        json.dumps(dict(st.skipped)),
                        json.dumps(st.examples),
                        st.files,
                        st.bytes,
                        json.dumps(options),
                        __version__,
                        json.dumps(dict(st.repaired)),
                    ],
                )
            ws.rebuild_views(con=tx)
    except duckdb.Error as e:
        raise IngestError(f"ingest failed: {str(e).splitlines()[0]}") from e
    finally:
        _drop_stages(cur, prefix + "%")
        held.close()
        cur.close()
    secs = time.perf_counter() - t0
    out = {
        "workspace": str(ws.path),
        "run_id": run_id,
        "sources": [
            {"source": n, "table": source_table(n), **reader.source_stats[n].as_dict(), "text": reader.plans.get(n)}
            for n in by_source
        ],
        **reader.stats.as_dict(),
        "created_sources": sorted(n for n, _t, _s in ready),
        "sample": {"n": sample, "seed": seed, "key": KEY_DOC, "of": total} if sample is not None else None,
        "ignored_files": reader.ignored,
        "seconds": round(secs, 3),
        "docs_per_s": round(reader.stats.read / secs, 1) if secs else None,
        "mb_per_s": round(reader.stats.bytes / 1e6 / secs, 2) if secs else None,
    }
    return out
