"""Parquet files read side by side: the rows of a run of files with the same columns cut into a few pieces at whole
row groups (across files), each appended to the stage by its own transaction on one DuckDB thread, committed in the
files' order (:mod:`app.ingest.shards`).

Why: a Parquet file is staged on one DuckDB thread (:func:`app.ingest.fast.stage_threads`: on several, DuckDB's
order-preserving insert writes the rows, then merges and writes them all again at the checkpoint, a workspace file
twice the size), so its ingest used one core of two, and a corpus of many small shards was staged one file after
another. DuckDB skips the row groups a ``file_row_number`` range excludes (1M realmix rows in 9 row groups: half of
them read in 0.22 and 0.19 CPU-s against 0.45 for all), so a piece reads little more than its own rows; each
transaction appends on one thread, so the rows are written once; committed in order, the stage holds the rows in
the files' order, numbered by ``file_row_number`` as before.

A piece DuckDB cannot read (or in which a file reads another number of rows than its metadata gives it) rolls back
with every later one; the rows already committed of a file cut there are deleted, and the caller takes that file the
way it did before (:func:`app.ingest.fast.fast_parquet`, then the Python reader).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import IngestError
from app.ingest import fast as staging
from app.ingest import shards
from app.ingest.formats import ROW
from app.ingest.normalize import TextPlan
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


def _relation(a: int | None = None, b: int | None = None) -> str:
    """A Parquet file's rows numbered from 1 by ``file_row_number``: all of them, or those from ``a`` to ``b``."""
    rng = "" if a is None else f" WHERE file_row_number >= {a} AND file_row_number < {b}"
    return (
        f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {qi(ROW)} FROM read_parquet($path, "
        f"file_row_number=true){rng})"
    )


@dataclass(frozen=True)
class _File:
    """A Parquet file of a run: its columns, text plan, stage parameters, and rows and row groups (its metadata)."""

    inp: Input
    cols: dict[str, str]
    plan: TextPlan
    args: dict[str, Any]
    rows: int
    groups: int


def takes(inp: Input, *, limit: int | None) -> bool:
    """Whether DuckDB's Parquet reader may take ``inp`` whole."""
    return inp.fmt == "parquet" and limit is None and inp.kind == "file"


def stage_run(
    cur: Any,
    reader: DocumentReader,
    inputs: list[Input],
    table: str,
    *,
    into: str | None,
    progress: Callable[[int], None],
) -> tuple[dict[str, str], str, int, bool] | None:
    """The Parquet files at the head of ``inputs`` read side by side: each large one in pieces (module docstring),
    each small one whole, up to ``8 x workers`` files with the same columns, appended to the open stage ``into``
    when their columns are its own, else to a new stage ``table``. Each file is counted (its skipped rows too,
    deleted later by :func:`app.ingest.fast.finish_stage`) when its last piece commits; ``progress(rows)`` is called
    as each piece commits, with the rows committed of a file not yet counted (0 when it just was).

    Returns ``(the stage's columns, the stage used, how many files went in, whether the file after them failed
    in the run)``: that file's committed pieces are deleted and the caller takes it on its own
    (:func:`app.ingest.fast.fast_parquet`, then the Python reader), not in a run again. None, nothing left behind,
    when a run is not worth it (one DuckDB thread; a lone file of one piece: under 2 x 122,880 rows or one row
    group) or its first file failed: the caller takes that file the single-thread way.

    Why across files: shards of a few row groups each (a common way to publish a corpus) were staged one after
    another on one thread, one core of two idle."""
    import duckdb

    workers = staging.threads_fit(cur, 0)
    if workers < 2 or not inputs or not takes(inputs[0], limit=None):
        return None
    files: list[_File] = []
    stage, new = table, False
    try:
        for inp in inputs[: 8 * workers]:
            read = staging.parquet_read(cur, inp) if takes(inp, limit=None) else None
            if read is None or not read[1]:
                break  # not Parquet DuckDB reads, or empty (the Python reader counts it)
            cols, total, groups, args = read
            try:
                plan, whole = staging.stage_sql(reader, inp, cols, _relation())
            except IngestError:
                break  # no text field: said when the file is taken on its own
            if not files:
                new = into is None or not staging.same_columns(cur, whole, args, into)
                stage = table if new else into
                if new:
                    staging.create_stage(cur, reader, stage, whole, args)
            elif not staging.same_columns(cur, whole, args, stage):
                break
            files.append(_File(inp, cols, plan, args, total, groups))
    except duckdb.Error:  # the new stage could not be made: the single-thread way says why
        files = []
    run, owner = _cut_run(reader, files, workers=workers)
    if len(run) < 2:
        if new:
            cur.execute(f"DROP TABLE IF EXISTS {qi(stage)}")
        return None
    left = [[0, 0] for _ in files]  # per file: segments still to commit, rows committed
    for i in owner.values():
        left[i][0] += 1
    files_done: list[int] = []
    kept: dict[str, str] = {}

    def committed(sh: shards.Shard, n_rows: int) -> None:
        i = owner[id(sh)]
        left[i][0] -= 1
        left[i][1] += n_rows
        if left[i][0] == 0:
            kept.update(staging.account_stage(cur, reader, sh.inp, stage, plan=sh.plan, cols=sh.cols,
                                              n_rows=left[i][1], defer=True))  # fmt: skip
            files_done.append(i)
            progress(0)
        else:  # a large file's piece: its rows shown before the file is counted
            progress(left[i][1])

    try:
        shards.append_run(
            cur, stage, run, workers=min(workers, len(run)), expected=lambda _inp: -1, committed=committed
        )  # expected: unused, each segment has its rows
    except duckdb.Error:
        pass  # what was committed and counted stays; the rest is taken up again
    for f, (todo, rows) in zip(files, left):
        if todo and rows:  # a file cut inside: its committed rows go, the file is taken on its own
            cur.execute(f"DELETE FROM {qi(stage)} WHERE _file = $file", {"file": f.args["file"]})
    if not files_done:
        if new:
            cur.execute(f"DROP TABLE IF EXISTS {qi(stage)}")
        return None
    return kept, stage, len(files_done), len(files_done) < len(files)


def _cut_run(
    reader: DocumentReader, files: list[_File], *, workers: int
) -> tuple[list[list[shards.Shard]], dict[int, int]]:
    """The run's pieces, and the file (its index in ``files``) of each segment by ``id``: the files' rows one after
    another, cut at whole multiples of :data:`STORE_ROWS` (each transaction writes full row groups: shards of 62,500
    rows appended one per transaction left a partial row group each, 40% more CPU than one after another on one
    thread), no more pieces than the files have row groups (a piece inside one decodes it too: 1M rows in one row
    group, 4 pieces, cost 15% more CPU for 13% less wall than one thread; in 9 row groups, 30% less wall at 2-4%
    more CPU). A piece is a list of segments, one per file it covers: the whole file, or a range of its rows by
    ``file_row_number``. No pieces when the run would be one."""
    total = sum(f.rows for f in files)
    bounds = cut(total, target=total // max(1, min(2 * workers, sum(f.groups for f in files))))
    if len(bounds) < 3:
        return [], {}
    run: list[list[shards.Shard]] = []
    owner: dict[int, int] = {}
    for a, b in itertools.pairwise(bounds):
        piece, start = [], 0
        for i, f in enumerate(files):
            lo, hi = max(a, start), min(b, start + f.rows)
            if lo < hi:
                rel = _relation() if hi - lo == f.rows else _relation(lo - start, hi - start)
                sh = shards.Shard(f.inp, f.cols, f.plan, staging.stage_sql(reader, f.inp, f.cols, rel)[1], f.args,
                                  rows=hi - lo)  # fmt: skip
                owner[id(sh)] = i
                piece.append(sh)
            start += f.rows
        run.append(piece)
    return run, owner
