"""A large Parquet file read in pieces side by side: its row groups cut into a few runs of rows, each appended to
the stage by its own transaction on one DuckDB thread, committed in the file's order (:mod:`app.ingest.shards`).

Why: a Parquet file is staged on one DuckDB thread (:func:`app.ingest.fast.stage_threads`: on several, DuckDB's
order-preserving insert writes the rows, then merges and writes them all again at the checkpoint, a workspace file
twice the size), so its ingest used one core of two. DuckDB skips the row groups a ``file_row_number`` range
excludes (1M realmix rows in 9 row groups: half of them read in 0.22 and 0.19 CPU-s against 0.45 for all), so a
piece reads little more than its own rows; each transaction appends on one thread, so the rows are written once; committed in
order, the stage holds the rows in the file's order, numbered by ``file_row_number`` as before.

A piece DuckDB cannot read (or that reads another number of rows than the file's metadata gives it) rolls back with
every later one; the pieces already committed are deleted, and the caller takes the file the way it did before
(:func:`app.ingest.fast.fast_parquet`, then the Python reader).
"""

from __future__ import annotations

import itertools
from typing import Any

from app.ingest import fast as staging
from app.ingest import shards
from app.ingest.formats import ROW
from app.ingest.reader import DocumentReader
from app.ingest.sources import Input
from app.sql import qi

#: rows in one of DuckDB's row groups (its storage default): pieces are whole multiples of it, so each transaction
#: writes full row groups. Cut elsewhere (at the input's own row groups of ~111,000 rows), every piece ended in a
#: partial row group: 1M realmix rows took 11 row groups and a workspace file of 387 MB against 9 and 308 MB, and
#: 0.8 more CPU-s; cut at multiples, the same 9 row groups and 308 MB as the single-thread way, at 4% more CPU (a
#: Parquet row group that straddles two pieces is read by both).
STORE_ROWS = 122_880


def cut(total: int, *, target: int) -> list[int]:
    """Row numbers where pieces start, and ``total`` at the end: pieces of the largest multiple of
    :data:`STORE_ROWS` rows not above ``target`` (one at least); a last piece under half of that joins the one
    before it."""
    step = max(STORE_ROWS, target // STORE_ROWS * STORE_ROWS)
    bounds = [*range(0, max(total, 1), step), total]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < step // 2:
        del bounds[-2]
    return bounds


def stage_pieces(
    cur: Any, reader: DocumentReader, inp: Input, table: str, *, into: str | None = None
) -> tuple[dict[str, str], str] | None:
    """:func:`app.ingest.fast.fast_parquet`, with the file read in pieces side by side (module docstring): the rows
    appended to the open stage ``into`` when their columns are its own, else to a new stage ``table``. Returns
    ``(columns, the stage used)`` (its skipped rows counted, deleted later by :func:`app.ingest.fast.finish_stage`),
    or None, nothing of the file left behind, when it is not worth it (under 2 x 122,880 rows, one row group, one
    DuckDB thread) or a piece failed: the caller then stages the file the single-thread way."""
    import duckdb

    workers = staging.threads_fit(cur, 0)
    if workers < 2:
        return None
    read = staging.parquet_read(cur, inp)
    if read is None:
        return None
    cols, total, groups, args = read
    # no more pieces than the file has row groups: a piece inside one decodes it too (1M rows in one row group, 4
    # pieces: 13% less wall but 15% more CPU than one thread; in 9 row groups, 30% less wall at 2-4% more CPU)
    bounds = cut(total, target=total // max(1, min(2 * workers, groups)))
    if len(bounds) < 3:
        return None

    def relation(a: int, b: int) -> str:
        return (
            f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {qi(ROW)} FROM read_parquet($path, "
            f"file_row_number=true) WHERE file_row_number >= {a} AND file_row_number < {b})"
        )

    plan, whole = staging.stage_sql(reader, inp, cols, relation(0, bounds[-1]))
    new = into is None or not staging.same_columns(cur, whole, args, into)
    stage = table if new or into is None else into
    try:
        if new:
            staging.create_stage(cur, reader, stage, whole, args)
        run = [
            shards.Shard(inp, cols, plan, staging.stage_sql(reader, inp, cols, relation(a, b))[1], args, rows=b - a)
            for a, b in itertools.pairwise(bounds)
        ]
        done = shards.append_run(
            cur, stage, run, workers=min(workers, len(run)), expected=lambda _inp: -1
        )  # unused: each piece has its rows
    except duckdb.Error:
        done = []
    if len(done) < len(bounds) - 1:
        if new:
            cur.execute(f"DROP TABLE IF EXISTS {qi(stage)}")
        elif done:
            cur.execute(f"DELETE FROM {qi(stage)} WHERE _file = $file", {"file": args["file"]})
        return None
    kept = staging.account_stage(cur, reader, inp, stage, plan=plan, cols=cols, n_rows=sum(done), defer=True)
    return kept, stage
