"""Shards of one source appended to its stage side by side, committed in file order: JSON-lines files
(:mod:`app.ingest.jsonl`), and the pieces of a run of Parquet files (:mod:`app.ingest.pieces`).

Why: a shard appended to a source's open stage is read, normalised and numbered by ``row_number()`` on one
DuckDB thread (:func:`app.ingest.fast.insert_stage`), so a corpus of many shards was ingested one core at a
time while DuckDB's own ``CREATE TABLE AS`` used them all (10M documents in 8 shards: 30 s of wall against
13). DuckDB runs the statements of different connections at once, each on its own thread, and appends of
different transactions to one table do not conflict; a transaction's rows join the table when it commits.
So :func:`append_run` inserts up to W shards at once, each in its own transaction, and commits them in the
files' order (each waits for the one before): the stage holds the same rows in the same order as one append
after another. 4 shards of 1.25M realmix lines on 2 cores: 9.3 s of wall against 16.0, 8% more CPU, the same
workspace file (bench/bench_ingest.py ``--shards``).

A shard whose read fails, or whose rows are not as many as its lines, is rolled back with every shard after
it; the caller takes it up again on its own (and the Python reader when DuckDB cannot read it), then the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.errors import IngestError
from app.ingest.normalize import TextPlan
from app.ingest.sources import Input
from app.sql import qi, setting_held


@dataclass(frozen=True)
class Shard:
    """One input, or one piece of it, ready to append: its stage ``SELECT`` (its rows numbered by their lines) and
    its parameters; ``rows``: how many rows it holds when known beforehand (a Parquet piece), else the caller's
    ``expected(inp)`` counts them."""

    inp: Input
    cols: dict[str, str]
    plan: TextPlan
    sql: str
    args: dict[str, Any]
    rows: int | None = None


def append_run(
    cur: Any,
    table: str,
    shards: list[Shard] | list[list[Shard]],
    *,
    workers: int,
    expected: Callable[[Input], int],
    committed: Callable[[Shard, int], None] | None = None,
) -> list[int]:
    """Append every shard's rows to ``table``, up to ``workers`` at once on one DuckDB thread each, each in its
    own transaction, committed in ``shards``' order. An item may be a list of shards (segments: a piece of a
    Parquet run that spans files, :mod:`app.ingest.pieces`), appended one after another in one transaction, so
    their rows fill the store's row groups as one append would. Returns the row counts of the shards committed,
    in order: a prefix, cut at the first transaction that DuckDB could not read or in which a shard read another
    number of rows than its ``rows`` or ``expected(inp)`` (its lines); it and every later one are rolled back,
    nothing of them left behind. ``committed(shard, rows)`` is called on the caller's thread for each shard
    committed, in order, as soon as it is (while later ones are still being read: the caller counts it and shows
    progress)."""
    import duckdb

    batches = [sh if isinstance(sh, list) else [sh] for sh in shards]
    n = len(batches)
    rows: list[list[int] | None] = [None] * n  # set when the transaction is committed
    settled = [threading.Event() for _ in range(n)]

    def run(i: int) -> None:
        c = cur.cursor()
        try:
            c.execute("BEGIN TRANSACTION")
            got: list[int] = []
            ok = True
            try:
                for sh in batches[i]:
                    got.append(int(c.execute(f"INSERT INTO {qi(table)} {sh.sql}", sh.args).fetchall()[0][0]))
                    if got[-1] != (sh.rows if sh.rows is not None else expected(sh.inp)):
                        ok = False
                        break
            except (duckdb.Error, IngestError):  # the caller reads it again alone, and says why
                ok = False
            if i:
                settled[i - 1].wait()
            if ok and (i == 0 or rows[i - 1] is not None):
                try:
                    c.execute("COMMIT")
                    rows[i] = got
                except duckdb.Error:
                    pass  # not committed: taken up again by the caller
            else:
                c.execute("ROLLBACK")
        finally:
            settled[i].set()
            c.close()

    with (
        setting_held(cur, "threads", 1),
        ThreadPoolExecutor(max(1, workers), thread_name_prefix="winnow-shard") as pool,
    ):
        for i, f in enumerate([pool.submit(run, i) for i in range(n)]):  # a batch only waits for earlier ones
            f.result()
            for sh, r in zip(batches[i], rows[i] or []):
                if committed is not None:
                    committed(sh, r)
    done: list[int] = []
    for r in rows:
        if r is None:
            break
        done.extend(r)
    return done
