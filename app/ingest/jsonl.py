"""DuckDB's own JSON reader for JSON-lines (and JSON) files: the schema from a sample spread over the file, a lone
file's stage (:func:`stage_file`), and a source's shards appended side by side (:func:`start_shards`,
:func:`append_shards`, over :mod:`app.ingest.shards`). Each returns None or 0 files, with nothing left behind, when
the file needs the Python reader instead (blank, malformed or non-UTF-8 lines, values the schema cannot hold):
:func:`app.ingest.core.ingest` decides which path a file takes and holds the stages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from app.ingest import fast as staging
from app.ingest import shards
from app.ingest.formats import ROW
from app.ingest.reader import DocumentReader
from app.ingest.sources import Input
from app.ingest.streams import check_zstd_frames
from app.sql import qi

SAMPLE_SLICES = 32
MAX_LINE_BYTES = 16 << 20  # the longest line DuckDB's JSON reader takes (fast path)
SLICE_BYTES = 1 << 18


def _spread_sample(inp: Input, dest: str) -> bool:
    """Write whole lines from 32 evenly spaced 256 KiB slices of an uncompressed file to ``dest``:
    a schema sample that sees the middle and the end of the file, not only its head."""
    if inp.compression or inp.size <= 4 * SAMPLE_SLICES * SLICE_BYTES:
        return False
    with open(inp.path, "rb") as f, open(dest, "wb") as out:
        for k in range(SAMPLE_SLICES):
            f.seek(k * inp.size // SAMPLE_SLICES)
            buf = f.read(SLICE_BYTES)
            if k:
                buf = buf[buf.find(b"\n") + 1 :]
            out.write(buf[: buf.rfind(b"\n") + 1])
    return True


def _json_schema(cur: Any, inp: Input, opts: str, *, full: bool) -> dict[str, str] | None:
    """Column types for DuckDB's JSON reader: from the whole file (``full``), from a spread sample of a
    large plain file, or from small files entirely. Fields null throughout the sample are read as JSON
    (values kept verbatim, typed after the load)."""
    import os
    import tempfile

    import duckdb

    sample = None
    try:
        if not full:
            fd, sample = tempfile.mkstemp(suffix=".jsonl", prefix="winnow-sample-")
            os.close(fd)
            if not _spread_sample(inp, sample):
                os.unlink(sample)
                sample = None
        src = sample or inp.path
        size = "sample_size=-1" if (full or sample or inp.size < (32 << 20)) else "sample_size=100000"
        rows = cur.execute(f"DESCRIBE SELECT * FROM read_json($path, {opts}, {size})", {"path": src}).fetchall()
    except duckdb.Error:
        return None
    finally:
        if sample:
            os.unlink(sample)
    return {r[0]: ("JSON" if r[1] == '"NULL"' else r[1]) for r in rows}


def _type_json_columns(cur: Any, table: str, names: list[str]) -> None:
    """Give the JSON-typed columns a real type when their values agree (drop those that are all null)."""
    cols = {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall()}
    for c in names:
        if cols.get(c) != "JSON":
            continue
        kinds = {
            r[0]
            for r in cur.execute(
                f"SELECT DISTINCT json_type({qi(c)}) FROM {qi(table)} WHERE {qi(c)} IS NOT NULL"
            ).fetchall()
        }
        kinds.discard("NULL")
        if not kinds:
            cur.execute(f"ALTER TABLE {qi(table)} DROP COLUMN {qi(c)}")
            continue
        if kinds <= {"UBIGINT", "BIGINT"}:
            target, expr = "BIGINT", f"CAST({qi(c)} AS BIGINT)"
        elif kinds <= {"UBIGINT", "BIGINT", "DOUBLE"}:
            target, expr = "DOUBLE", f"CAST({qi(c)} AS DOUBLE)"
        elif kinds == {"BOOLEAN"}:
            target, expr = "BOOLEAN", f"CAST({qi(c)} AS BOOLEAN)"
        elif kinds == {"VARCHAR"}:
            target, expr = "VARCHAR", f"{qi(c)}->>'$'"
        else:
            continue
        cur.execute(f"ALTER TABLE {qi(table)} ALTER {qi(c)} SET DATA TYPE {target} USING {expr}")


def _json_read(cur: Any, inp: Input, *, full_schema: bool) -> tuple[dict[str, str], str, dict[str, Any]] | None:
    """``(columns, DuckDB's read_json of the file with those columns, its parameters)``, or None when the
    file's schema cannot be read (or has a column named like ``_row``)."""
    from app.sql import ql

    args = {"path": inp.path, "src": inp.source, "file": inp.rel or inp.path}
    if inp.compression == "zstd":
        check_zstd_frames(inp.path)  # DuckDB would read a truncated file as a shorter one
    # DuckDB's JSON reader holds two buffers of this size per thread (256 MB ran out of a 1 GB memory cap):
    # a longer line sends the file to the Python reader, which takes lines of any length
    opts = f"format='newline_delimited', records=true, maximum_object_size={MAX_LINE_BYTES}"
    cols = _json_schema(cur, inp, opts, full=full_schema)
    if not cols or ROW in cols:
        return None
    spec = ", ".join(f"{ql(c)}: {ql(t)}" for c, t in cols.items())
    return cols, f"read_json($path, {opts}, columns={{{spec}}})", args


def _shard_run(
    cur: Any,
    reader: DocumentReader,
    inputs: list[Input],
    stage: str,
    *,
    full_schema: bool,
    known: dict[str, Any] | None = None,
) -> list[shards.Shard]:
    """The JSON-lines files at the head of ``inputs`` that can be appended to the open ``stage`` as they are
    (their columns and types exactly the stage's, none typed after the load), ready for
    :func:`app.ingest.shards.append_run`. ``known``: schemas already read, by path."""
    head: list[Input] = []
    for inp in inputs:
        if not takes(inp, limit=None) or inp.fmt != "jsonl":
            break
        head.append(inp)
    run: list[shards.Shard] = []
    for inp, read in zip(head, _json_reads(cur, head, full_schema=full_schema, known=known or {})):
        if read is None or "JSON" in read[0].values():
            break
        cols, rj, args = read
        plan, sql = staging.stage_sql(reader, inp, cols, f"(SELECT *, row_number() OVER () AS {qi(ROW)} FROM {rj})")
        if not staging.same_columns(cur, sql, args, stage):
            break
        run.append(shards.Shard(inp, cols, plan, sql, args))
    return run


def _json_reads(
    cur: Any, inputs: list[Input], *, full_schema: bool, known: dict[str, Any]
) -> Iterator[tuple[dict[str, str], str, dict[str, Any]] | None]:
    """:func:`_json_read` of each of ``inputs``, in order, read side by side on as many threads as DuckDB's JSON
    readers fit in memory (each on its own cursor; DuckDB releases the GIL). A small or compressed file's schema
    is read from the whole file, a pass as long as its load: one after another, the 8 schemas of 1M documents in
    8 gzip shards took 1.15 s of a 3.3 s ingest on one core while the other waited. When the caller stops, the
    files not yet started are not read (those being read are waited for)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(inp: Input) -> tuple[dict[str, str], str, dict[str, Any]] | None:
        if inp.path in known:
            return known[inp.path]
        c = cur.cursor()
        try:
            return _json_read(c, inp, full_schema=full_schema)
        finally:
            c.close()

    threads = max(1, min(len(inputs), staging.threads_fit(cur, 2 * MAX_LINE_BYTES)))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="winnow-schema")
    try:
        for fut in [pool.submit(one, inp) for inp in inputs]:
            yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def takes(inp: Input, *, limit: int | None) -> bool:
    """Whether DuckDB's JSON reader may take ``inp`` whole (the caller still sniffs a ``.json`` file)."""
    return inp.fmt in ("jsonl", "json") and limit is None and inp.kind == "file"


def stage_file(
    cur: Any, reader: DocumentReader, inp: Input, table: str, *, full_schema: bool = False, into: str | None = None
) -> tuple[dict[str, str], str | None] | None:
    """DuckDB reads the whole JSON-lines file into ``table``, or appends it to an earlier file's stage ``into``
    (:func:`app.ingest.fast.insert_stage`); returns ``(columns, the stage when its skipped rows are still to be
    deleted by finish_stage, else None)``. None (and nothing left behind) when the file needs the line-by-line
    reader (blank, malformed or non-UTF-8 lines, values the schema cannot hold)."""

    read = _json_read(cur, inp, full_schema=full_schema)
    if read is None:
        return None
    cols, rj, args = read
    relation = f"(SELECT *, row_number() OVER () AS {qi(ROW)} FROM {rj})"
    json_cols = [c for c, t in cols.items() if t == "JSON"]
    staged = staging.insert_stage(
        cur,
        reader,
        inp,
        table,
        cols=cols,
        relation=relation,
        args=args,
        expected=lambda: staging.count_lines(inp),
        into=None if json_cols else into,
        unnumbered=f"(SELECT *, CAST(NULL AS BIGINT) AS {qi(ROW)} FROM {rj})",
        thread_bytes=2 * MAX_LINE_BYTES,  # DuckDB's JSON reader holds two buffers of this size per thread
    )
    if staged is None:
        return None
    plan, n_rows, used = staged
    if json_cols:  # typed after the load, so no other file can be appended to this stage
        table_cols = {r[0] for r in cur.execute(f"DESCRIBE {qi(table)}").fetchall()}
        _type_json_columns(cur, table, [c if c in table_cols else f"orig_{c}" for c in json_cols])
        return staging.account_stage(cur, reader, inp, table, plan=plan, cols=cols, n_rows=n_rows), None
    return staging.account_stage(cur, reader, inp, used, plan=plan, cols=cols, n_rows=n_rows, defer=True), used


def append_shards(
    cur: Any,
    reader: DocumentReader,
    inputs: list[Input],
    stage: str,
    *,
    full_schema: bool,
    progress: Callable[[], None],
    least: int = 1,
    known: dict[str, Any] | None = None,
) -> tuple[int, bool]:
    """Append the JSON-lines shards at the head of ``inputs`` that fit the open ``stage`` side by side
    (:mod:`app.ingest.shards`), counting each (and calling ``progress``) as it is committed; returns (how many
    files were appended, whether the file after them was tried and failed: DuckDB could not read it as it is,
    so it is not tried in a run again). 0 files: the caller takes the first one on its own (it does not fit,
    it failed, or fewer than ``least`` files fit). ``known``: schemas already read, by path."""
    workers = staging.threads_fit(cur, 2 * MAX_LINE_BYTES)
    # a run of a few files per worker: their schemas are read before the first starts
    run = _shard_run(cur, reader, inputs[: 4 * workers], stage, full_schema=full_schema, known=known)
    if len(run) < max(1, least):
        return 0, False

    def committed(sh: shards.Shard, n_rows: int) -> None:
        staging.account_stage(cur, reader, sh.inp, stage, plan=sh.plan, cols=sh.cols, n_rows=n_rows, defer=True)
        progress()

    done = shards.append_run(
        cur, stage, run, workers=min(workers, len(run)), expected=staging.count_lines, committed=committed
    )
    return len(done), len(done) < len(run)


def start_shards(
    cur: Any,
    reader: DocumentReader,
    inputs: list[Input],
    stage: str,
    *,
    full_schema: bool,
    progress: Callable[[], None],
) -> tuple[dict[str, str], int, bool] | None:
    """Open the new stage ``stage`` with the JSON-lines shards at the head of ``inputs`` appended side by side,
    the first among them (:func:`append_shards`); returns (the stage's columns, how many files went in, whether
    the file after them failed), or None, nothing left behind, when fewer than two files fit or the first was
    not committed: the caller takes the first on its own (inserted on every DuckDB thread, numbered after: the
    better way for a lone file).
    Why: a first shard inserted on its own on every thread, then numbered, left the cores half idle around its
    start and end and cost an update of every row (1.2 s of wall per 1.25M lines); in the run it is one more
    shard beside the others."""
    import duckdb

    first = inputs[0]
    if len(inputs) < 2 or not takes(first, limit=None) or first.fmt != "jsonl":
        return None
    read = _json_read(cur, first, full_schema=full_schema)
    if read is None or "JSON" in read[0].values():
        return None
    cols, rj, args = read
    sql = staging.stage_sql(reader, first, cols, f"(SELECT *, CAST(NULL AS BIGINT) AS {qi(ROW)} FROM {rj})")[1]
    try:
        staging.create_stage(cur, reader, stage, sql, args)
        n, cut = append_shards(
            cur, reader, inputs, stage, full_schema=full_schema, progress=progress, least=2, known={first.path: read}
        )
    except duckdb.Error:
        n, cut = 0, False
    if not n:
        cur.execute(f"DROP TABLE IF EXISTS {qi(stage)}")
        return None
    return {r[0]: r[1] for r in cur.execute(f"DESCRIBE {qi(stage)}").fetchall() if r[0] != "_skip"}, n, cut
