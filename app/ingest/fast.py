"""DuckDB-native staging of one input file (the fast paths of :func:`app.ingest.core.ingest`).

DuckDB reads the file, numbers its rows, normalises them (ids, text, ``text_hash``, skip reasons: the one
SELECT of :mod:`app.ingest.normalize`) and stores them in a single ``INSERT``; the per-row accounting that
must stay (every skipped row counted by reason, with the first line numbers) is then one ``GROUP BY`` over
the stage, so no row passes through Python. Two readers use it:

- JSON lines (:func:`app.ingest.jsonl.stage_file`): ``read_json``; a file that starts a stage has its rows
  numbered by their position after the ``INSERT`` (:func:`number_by_rowid`), one appended to an earlier
  file's stage by ``row_number()``; the file's line count (taken in a thread while DuckDB reads) must equal
  the rows read, else the caller falls back to the line-by-line reader, which accounts for every line.
- Parquet (:func:`fast_parquet`): ``read_parquet(file_row_number=true)``; the row count must equal the
  file's metadata.

The stage ``INSERT`` runs on one DuckDB thread (:func:`stage_threads`: with more, an ordered parallel insert
writes a Parquet file's rows twice), except a JSON-lines file that starts a stage: it is inserted on every
thread in order and numbered after by position (:func:`number_by_rowid`); the line count of a plain file is counted by
numpy from memory maps (:func:`count_lines`).

The generated ``id`` and ``text_hash`` are hex digests that no compression shrinks much, so the stage
stores them uncompressed: DuckDB then skips analysing and compressing them (about 1 CPU s per million
documents, for about 28 MB more on disk; see bench/bench_ingest.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from app.errors import IngestError
from app.ingest.formats import NONSTR, ROW
from app.ingest.formats import count_lines as count_lines_stream
from app.ingest.normalize import TextPlan, generated_id_sql, plan_text, select_sql
from app.ingest.reader import N_EXAMPLES, DocumentReader, _where
from app.ingest.sources import Input
from app.sql import amount_bytes, qi, setting, setting_held

#: columns stored without compression (random hex: compressing them costs CPU and saves little)
_HEX = ("id", "text_hash")


def insert_stage(
    cur: Any,
    reader: DocumentReader,
    inp: Input,
    table: str,
    *,
    cols: dict[str, str],
    relation: str,
    args: dict[str, Any],
    expected: Callable[[], int],
    into: str | None = None,
    unnumbered: str | None = None,
    thread_bytes: int = 0,
) -> tuple[TextPlan, int, str] | None:
    """Create ``table`` and fill it with the normalised rows of ``relation`` (which has every column of
    ``cols`` plus ``_row``) in one ``INSERT``; ``expected()`` (run in a thread meanwhile) gives the number of
    rows the input holds. Returns ``(text plan, rows, the table filled)``, or None, with nothing left behind,
    when DuckDB could not read the input or read another number of rows than ``expected()`` (the caller then
    uses the Python reader). An unreadable file (``expected`` raising :class:`IngestError`) is an error either
    way. ``into``: an earlier file's stage of the same source (its skipped rows still in, :func:`finish_stage`
    not yet run): when this file's rows have exactly its columns and types they are appended to it in one
    transaction instead, so a source of many shards is one table without a copy (:func:`app.ingest.core` used to
    copy every shard's stage into one table: 20 of the 58 CPU-s of ingesting 10M documents in 8 shards).
    ``unnumbered``: ``relation`` with ``_row`` NULL, for a new stage: its rows are inserted on every DuckDB
    thread in the input's order and numbered afterwards from their position in the table
    (:func:`number_by_rowid`); ``thread_bytes``: the memory each thread's reader holds (:func:`stage_threads`).
    An append to ``into`` stays on one thread with ``relation``'s own numbering: appended on two threads, 3
    shards of 1.25M lines took 8-11 s of wall against 12.5, at 10-12% more CPU and a file 35% larger (DuckDB's
    parallel insert writes row groups it merges and writes again), and updating the generated ids of rows
    already stored cost 1.2-1.5 s of wall per shard; a source's shards are appended side by side instead, one
    thread each, the first among them (:mod:`app.ingest.shards`): this path is for a lone file, and a file that
    failed in such a run."""
    import duckdb

    plan, sql = stage_sql(reader, inp, cols, relation)
    if into is not None and same_columns(cur, sql, args, into):
        return _append_stage(cur, into, sql, args, expected, plan)
    if unnumbered is not None:
        sql = stage_sql(reader, inp, cols, unnumbered)[1]
    with ThreadPoolExecutor(1, thread_name_prefix="winnow-count") as pool:
        counted = pool.submit(expected)  # DuckDB releases the GIL while it reads: the count is nearly free
        try:
            create_stage(cur, reader, table, sql, args)
            with stage_threads(cur, parallel=unnumbered is not None, thread_bytes=thread_bytes):
                cur.execute(f"INSERT INTO {qi(table)} {sql}", args)
        except duckdb.Error:
            cur.execute(f"DROP TABLE IF EXISTS {qi(table)}")
            counted.result()  # a file that cannot be read at all is an IngestError, not a fallback
            return None
        n_rows = cur.execute(f"SELECT count(*) FROM {qi(table)}").fetchall()[0][0]
        if n_rows != counted.result() or (
            unnumbered is not None and not number_by_rowid(cur, table, n_rows, args, generated=not reader.id_field)
        ):
            cur.execute(f"DROP TABLE {qi(table)}")
            return None
    return plan, n_rows, table


def create_stage(cur: Any, reader: DocumentReader, table: str, sql: str, args: dict[str, Any]) -> None:
    """Create the empty stage ``table`` with the columns of the stage ``SELECT`` ``sql``, generated ids and
    ``text_hash`` stored uncompressed (random hex: compressing them costs CPU and saves little; a user's own ids
    may well compress)."""
    hexcols = [c for c in _HEX if c != "id" or not reader.id_field]
    cur.execute(f"CREATE TABLE {qi(table)} AS {sql} WITH NO DATA", args)
    types = cur.execute(f"DESCRIBE {qi(table)}").fetchall()
    defs = ", ".join(f"{qi(c)} {t}" + (" USING COMPRESSION uncompressed" if c in hexcols else "") for c, t, *_ in types)
    cur.execute(f"DROP TABLE {qi(table)}")
    cur.execute(f"CREATE TABLE {qi(table)} ({defs})")


def stage_sql(reader: DocumentReader, inp: Input, cols: dict[str, str], relation: str) -> tuple[TextPlan, str]:
    """The text plan and the stage ``INSERT``'s ``SELECT`` of ``relation`` (an input's rows with ``_row``)."""
    plan = plan_text(cols, text_field=reader.text_field, where=inp.rel or inp.path)
    return plan, select_sql(cols, plan, relation=relation, id_field=reader.id_field, where=inp.rel, with_skip=True)


def same_columns(cur: Any, sql: str, args: dict[str, Any], table: str) -> bool:
    """Whether ``sql``'s output has exactly ``table``'s column names and types, in order."""
    import duckdb

    try:
        want = [tuple(r[:2]) for r in cur.execute(f"DESCRIBE {sql}", args).fetchall()]
    except duckdb.Error:
        return False
    return want == [tuple(r[:2]) for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall()]


def _append_stage(
    cur: Any, table: str, sql: str, args: dict[str, Any], expected: Callable[[], int], plan: TextPlan
) -> tuple[TextPlan, int, str] | None:
    """:func:`insert_stage`'s append to an earlier file's stage, in one transaction rolled back (nothing left
    behind) when DuckDB cannot read the file or reads another number of rows than ``expected()``."""
    import duckdb

    with ThreadPoolExecutor(1, thread_name_prefix="winnow-count") as pool:
        counted = pool.submit(expected)
        cur.execute("BEGIN TRANSACTION")
        try:
            with stage_threads(cur, parallel=False):
                n_rows = int(cur.execute(f"INSERT INTO {qi(table)} {sql}", args).fetchall()[0][0])
            ok = n_rows == counted.result()
        except duckdb.Error:
            cur.execute("ROLLBACK")
            counted.result()  # a file that cannot be read at all is an IngestError, not a fallback
            return None
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT" if ok else "ROLLBACK")
    return (plan, n_rows, table) if ok else None


def finish_stage(cur: Any, table: str, *, skipped: bool = True) -> bool:
    """Delete a stage's skipped rows (counted already by :func:`account_stage`; ``skipped``: whether there may be
    any) and drop its ``_skip`` column; False (the table dropped) when no row is left."""
    if skipped:
        cur.execute(f"DELETE FROM {qi(table)} WHERE _skip IS NOT NULL")
    cur.execute(f"ALTER TABLE {qi(table)} DROP COLUMN _skip")
    if cur.execute(f"SELECT count(*) FROM (SELECT 1 FROM {qi(table)} LIMIT 1)").fetchall()[0][0]:
        return True
    cur.execute(f"DROP TABLE {qi(table)}")
    return False


def account_stage(
    cur: Any,
    reader: DocumentReader,
    inp: Input,
    table: str,
    *,
    plan: TextPlan,
    cols: dict[str, str],
    n_rows: int,
    defer: bool = False,
) -> dict[str, str]:
    """Count the stage's flagged rows per reason (first line numbers as examples) into the reader's stats,
    delete them and drop ``_skip``: ``read = ingested + skipped`` holds as on the Python path. Returns the
    stage's columns and types, or ``{}`` (the stage dropped) when every row was skipped. Under ``--strict`` the
    first flagged row is an :class:`IngestError`. ``defer``: the stage may hold other files' rows (of
    :func:`insert_stage`'s ``into``): only this file's are counted, and the deletion waits for
    :func:`finish_stage`; the columns returned leave ``_skip`` out."""
    reader._note_plan(inp, plan, cols)
    st = reader.source_stats[inp.source]
    for s in (st, reader.stats):
        s.files += 1
        s.bytes += inp.size
    mine = "_file = $file AND " if defer else ""
    bad = cur.execute(
        f"SELECT _skip, count(*), list({qi(ROW)} ORDER BY {qi(ROW)})[1:{N_EXAMPLES}] FROM {qi(table)} "
        f"WHERE {mine}_skip IS NOT NULL GROUP BY _skip ORDER BY _skip",
        {"file": inp.rel or inp.path} if defer else None,
    ).fetchall()
    n_bad = 0
    for reason, n, rows in bad:
        if reader.strict:
            raise IngestError(f"{reason.replace('_', ' ')} at {_where(inp, rows[0])} (--strict)")
        for i, row in enumerate(rows):
            st.skip(reason, _where(inp, row), n if i == 0 else 0)
            reader.stats.skip(reason, _where(inp, row), n if i == 0 else 0)
        n_bad += n
    kept = n_rows - n_bad
    for s in (st, reader.stats):
        s.read += kept
        s.ingested += kept
    if defer:
        return {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall() if r[0] != "_skip"}
    if not finish_stage(cur, table, skipped=bool(n_bad)):  # every row skipped (and counted): no stage, as on
        return {}  # the Python path
    return {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall()}


def fast_parquet(
    cur: Any, reader: DocumentReader, inp: Input, table: str, *, into: str | None = None
) -> tuple[dict[str, str], str] | None:
    """Stage a Parquet file with DuckDB's own reader (rows numbered from 1 by ``file_row_number``, as
    :func:`app.ingest.formats.read_parquet` numbers them) into ``table``, or appended to ``into`` (see
    :func:`insert_stage`); ``(columns, the stage used)``, its skipped rows deleted by :func:`finish_stage`. None
    when the Python reader must take it (a column named like a hidden one, a file DuckDB cannot read, e.g.
    invalid UTF-8 in a string column)."""
    read = parquet_read(cur, inp)
    if read is None:
        return None
    cols, n_meta, _groups, args = read
    relation = f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {qi(ROW)} FROM " + (
        "read_parquet($path, file_row_number=true))"
    )
    if not n_meta:
        return None  # an empty file: the Python reader counts it (no stage table for it)
    staged = insert_stage(
        cur, reader, inp, table, cols=cols, relation=relation, args=args, expected=lambda: n_meta, into=into
    )
    if staged is None:
        return None
    plan, n_rows, used = staged
    return account_stage(cur, reader, inp, used, plan=plan, cols=cols, n_rows=n_rows, defer=True), used


def parquet_read(cur: Any, inp: Input) -> tuple[dict[str, str], int, int, dict[str, Any]] | None:
    """``(columns, rows and row groups in the file's metadata, the stage's parameters)`` of a Parquet file for
    DuckDB's reader;
    None when the Python reader must take it (DuckDB cannot read its schema, or a column is named like a hidden
    one)."""
    import duckdb

    args = {"path": inp.path, "src": inp.source, "file": inp.rel or inp.path}
    try:
        rows = cur.execute("DESCRIBE SELECT * FROM read_parquet($path)", {"path": inp.path}).fetchall()
        meta = cur.execute(
            "SELECT sum(num_rows), sum(num_row_groups) FROM parquet_file_metadata($path)", {"path": inp.path}
        ).fetchall()
    except duckdb.Error:
        return None
    cols = {r[0]: r[1] for r in rows}
    if not cols or {ROW, NONSTR, "file_row_number"} & {c.lower() for c in cols}:
        return None
    return cols, int(meta[0][0] or 0), int(meta[0][1] or 0), args


@contextmanager
def stage_threads(cur: Any, *, parallel: bool, thread_bytes: int = 0) -> Iterator[None]:
    """Run the stage ``INSERT`` on one DuckDB thread, or (``parallel``, JSON lines numbered by
    :func:`number_by_rowid`) on as many as half the ingest's memory limit holds ``thread_bytes`` (a thread's
    reader buffers) for, with the input's order kept (``preserve_insertion_order``). The settings are the
    database's: restored after.

    Why one thread for Parquet: with several, DuckDB inserts an order-preserving parallel read
    (``read_parquet``) batch by batch, writes each batch's rows to the file, then merges the partial row groups
    and writes them all again at the next checkpoint: the file grows to twice its size and the rows are
    compressed twice. On one thread the rows are appended and written once. 1M realmix rows from Parquet on 2
    cores: 7.9 CPU s, 32 s wall and a 601 MB workspace on two threads; 5.2 CPU s, 20 s wall and 322 MB on one
    (see bench/bench_ingest.py). JSON lines used to be numbered by a streaming ``row_number()``, which runs on
    one thread whatever the setting: the read, the md5s and the store of a whole file on one core."""
    if not parallel:
        with setting_held(cur, "threads", 1):
            yield
        return
    with (
        setting_held(cur, "preserve_insertion_order", True),
        setting_held(cur, "threads", threads_fit(cur, thread_bytes)),
    ):
        yield


def threads_fit(cur: Any, thread_bytes: int) -> int:
    """DuckDB's thread setting, or fewer: as many readers holding ``thread_bytes`` each as half the memory limit
    holds (the rest is for the rows on their way to the table)."""
    threads = int(setting(cur, "threads") or 1)
    limit = amount_bytes(setting(cur, "memory_limit")) or 0
    return max(1, min(threads, limit // (2 * thread_bytes))) if limit and thread_bytes else threads


def number_by_rowid(cur: Any, table: str, n_rows: int, args: dict[str, Any], *, generated: bool) -> bool:
    """Give the ``n_rows`` rows just inserted into ``table`` (those whose ``_row`` is NULL) their line numbers
    from their position: an ``INSERT`` keeps its input's order (DuckDB's documented order preservation: a scan
    of one file, ``SELECT``, ``WHERE``; on a table, ``rowid`` is that order), so the k-th row inserted is the
    file's k-th line, a line count equal to the rows read (checked by the caller) ruling out a skipped line.
    With ``generated`` ids, the ids (md5 of source, file and line number) are made here too. False (the caller
    drops or rolls back the rows, and the Python reader takes the file) when the rows' positions are not
    one run of ``n_rows``: never rows numbered out of order.

    Why not ``row_number() OVER ()`` in the ``INSERT``: it makes the whole statement run on one thread, whatever
    DuckDB's setting: 1M realmix lines took 4.0-4.5 s of wall on one core; on two, inserting without it and
    numbering after took about 2.8 s (bench/bench_ingest.py)."""
    base, top, n = cur.execute(
        f"SELECT min(rowid), max(rowid), count(*) FROM {qi(table)} WHERE {qi(ROW)} IS NULL"
    ).fetchall()[0]
    if n != n_rows or (n and top - base + 1 != n):
        return False
    if not n:
        return True
    row = f"(rowid - {int(base)} + 1)"
    sets = f"{qi(ROW)} = {row}" + (f", id = {generated_id_sql(row)}" if generated else "")
    cur.execute(
        f"UPDATE {qi(table)} SET {sets} WHERE {qi(ROW)} IS NULL",
        {"src": args["src"], "file": args["file"]} if generated else None,
    )
    return True


#: bytes per memory map of :func:`count_lines` (a multiple of ``mmap.ALLOCATIONGRANULARITY``)
MAP_STEP = 1 << 24
#: bytes compared at a time within a map (the comparison's result buffer, reused, stays in the CPU's cache)
CMP_STEP = 1 << 20


def count_lines(inp: Input) -> int:
    """:func:`app.ingest.formats.count_lines`, for a plain file by counting newlines with numpy in 16 MiB memory
    maps (each unmapped before the next: resident memory stays bounded), compared 1 MiB at a time into one
    reused buffer: 0.15 CPU s for 377 MB in a fresh process, against 0.16-0.24 s with a new 16 MiB array per
    map and 0.37 s reading the file into a buffer instead of mapping it (the copy costs the kernel more than
    the mapping)."""
    if inp.compression or inp.size <= 0:
        return count_lines_stream(inp)
    import mmap

    import numpy as np

    hits = np.empty(CMP_STEP, np.bool_)
    try:
        with open(inp.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n, last = 0, b"\n"
            for at in range(0, size, MAP_STEP):
                with mmap.mmap(f.fileno(), min(MAP_STEP, size - at), access=mmap.ACCESS_READ, offset=at) as m:
                    data = np.frombuffer(m, np.uint8)
                    for j in range(0, len(data), CMP_STEP):
                        part = data[j : j + CMP_STEP]
                        n += int(np.count_nonzero(np.equal(part, 10, out=hits[: len(part)])))
                    del data, part  # no view may outlive the map
                    last = m[-1:]
    except (OSError, ValueError):  # not mappable (a special file, one that shrank): the streaming count
        return count_lines_stream(inp)
    return n + (0 if last == b"\n" else 1)


@contextmanager
def memory_cap(cur: Any) -> Iterator[str]:
    """Run an ingest under DuckDB memory limit ``WINNOW_INGEST_MEMORY`` (default 1GB) when it is lower than
    the workspace's own, restoring the old limit after. DuckDB then spills (``GROUP BY``, sorts) to the
    workspace's temp directory and keeps fewer written blocks cached, so peak memory stays near this limit
    plus the interpreter, whatever the size of the input. Yields the limit in force."""
    want = os.environ.get("WINNOW_INGEST_MEMORY", "1GB")
    if amount_bytes(want) is None:
        raise IngestError(f"WINNOW_INGEST_MEMORY={want!r} is not an amount of memory like 1GB or 512MB")
    old = setting(cur, "memory_limit")
    old_b = amount_bytes(old)
    if old_b is not None and old_b <= (amount_bytes(want) or 0):
        yield old
        return
    with setting_held(cur, "memory_limit", want):
        yield want
