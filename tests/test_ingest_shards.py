"""A source of many shards read by DuckDB is one stage table that every shard with the same columns is appended
to (app/ingest/fast.py ``insert_stage(into=...)``), not one table per shard copied into another at the end: the
documents, their order, ids and every count are those of the Python reader, whatever mix of shards is given."""

from __future__ import annotations

import itertools
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest import core, fast, ingest, jsonl, pieces
from app.workspace import Workspace, source_table

#: kinds of shard: plain documents, some rows skipped (blank or missing text; in Parquet too), another schema (an extra
#: field), a line DuckDB cannot read (the Python reader takes that file), nested values, Parquet, and a blank
#: line (DuckDB reads the file but skips the line: its rows fall short of its lines, so the Python reader takes it,
#: after a schema read that succeeded: a shard appended side by side then fails, app/ingest/shards.py)
KINDS = ["plain", "skips", "extra", "broken", "nested", "parquet", "parquet_skips", "all_skipped", "blank_line"]


def _write(path, kind: str, k: int) -> str:
    rows = [{"id": f"s{k}-{i}", "text": f"shard {k} document {i} " + "word " * (i % 5)} for i in range(6)]
    if kind in ("skips", "broken", "parquet_skips"):
        rows[1]["text"] = "   "
        del rows[4]["text"]
    if kind == "all_skipped":
        rows = [{"id": f"s{k}-{i}", "text": ""} for i in range(3)]
    if kind == "extra":
        for i, r in enumerate(rows):
            r["lang"] = "en" if i % 2 else "de"
    if kind == "nested":
        for i, r in enumerate(rows):
            r["meta"] = {"n": i, "tags": ["a", "b"][: i % 3]}
    if kind.startswith("parquet"):
        f = path / f"part{k:02d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), f)
        return str(f)
    lines = [json.dumps(r) for r in rows]
    if kind == "broken":
        lines.insert(3, '{"id": "s-broken", "text": ')
    if kind == "blank_line":
        lines.insert(2, "")
    f = path / f"part{k:02d}.jsonl"
    f.write_text("\n".join(lines) + "\n")
    return str(f)


def _ingest(path, files: list[str], monkeypatch, *, python: bool) -> tuple:
    with monkeypatch.context() as m:
        if python:  # the reference: every file through the Python reader
            m.setattr(jsonl, "stage_file", lambda *a, **k: None)
            m.setattr(jsonl, "start_shards", lambda *a, **k: None)
            m.setattr(fast, "fast_parquet", lambda *a, **k: None)
            m.setattr(pieces, "stage_run", lambda *a, **k: None)
        ws = Workspace.open(path, create=True)
        try:
            try:
                out = ingest(ws, files, source="web")
            except Exception as e:  # the same error both ways
                return (type(e).__name__, str(e))
            rows = ws.con.execute(f"SELECT orig_id, * FROM {source_table('web')} ORDER BY rowid").fetchall()
            stages = ws.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_ingest%' ESCAPE '\\'").fetchall()  # fmt: skip
            return rows, out["read"], out["ingested"], out["skipped"], stages
        finally:
            ws.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
def test_shards_equal_the_python_reader(tmp_path_factory, monkeypatch, kinds):
    monkeypatch.setattr(pieces, "STORE_ROWS", 4)  # Parquet runs cut across these small files (pieces.stage_run)
    d = tmp_path_factory.mktemp("shards")
    files = [_write(d, kind, k) for k, kind in enumerate(kinds)]
    got = _ingest(d / "fast", files, monkeypatch, python=False)
    want = _ingest(d / "python", files, monkeypatch, python=True)
    if isinstance(want[0], str):  # an error: the same one
        assert got[0] == want[0]
        return
    assert got[1:] == want[1:]
    # the same documents in the same order; the Python reader types nested values its own way
    assert [r[:5] for r in got[0]] == [r[:5] for r in want[0]]
    assert len(got[0]) == len(want[0])


def test_same_schema_shards_are_one_stage_without_a_copy(tmp_path, monkeypatch):
    files = [_write(tmp_path, kind, k) for k, kind in enumerate(["plain", "skips", "plain"])]
    made = []
    real = core._combine
    monkeypatch.setattr(core, "_combine", lambda cur, target, stages: made.append(len(stages)) or real(cur, target, stages))  # fmt: skip
    rows, read, ingested, skipped, _ = _ingest(tmp_path / "ws", files, monkeypatch, python=False)
    assert made == [1]  # one stage: nothing copied
    assert (read, ingested) == (18, 16) and sum(skipped.values()) == 2
    assert [r[0] for r in rows][:7] == [f"s0-{i}" for i in range(6)] + ["s1-0"]


def test_each_shards_schema_is_read_once_and_side_by_side(tmp_path, monkeypatch):
    """The schemas of a run's shards are read on several threads (a small or compressed file's schema is a pass
    over the whole file), each once: the first file's, read to open the stage, is not read again for the run."""
    import threading

    files = [_write(tmp_path, "plain", k) for k in range(6)]
    reads: list[tuple[str, str]] = []
    real = jsonl._json_read
    monkeypatch.setattr(jsonl, "_json_read", lambda cur, inp, **k: reads.append((inp.rel, threading.current_thread().name)) or real(cur, inp, **k))  # fmt: skip
    monkeypatch.setattr(fast, "threads_fit", lambda cur, b: 2)
    rows, read, ingested, _skipped, _ = _ingest(tmp_path / "ws", files, monkeypatch, python=False)
    assert (read, ingested) == (36, 36) and [r[0] for r in rows] == [f"s{k}-{i}" for k in range(6) for i in range(6)]
    assert sorted(r for r, _ in reads) == sorted(f.rsplit("/", 1)[-1] for f in files)  # each once
    assert all(t.startswith("winnow-schema_") for _, t in reads[1:])  # the run's: on the schema threads


@pytest.mark.parametrize("kind", ["broken", "extra", "blank_line"])
def test_a_file_of_another_kind_keeps_the_files_order(tmp_path, monkeypatch, kind):
    files = [_write(tmp_path, k_, k) for k, k_ in enumerate(["plain", kind, "plain"])]
    rows = _ingest(tmp_path / "ws", files, monkeypatch, python=False)[0]
    shards = [r[0].split("-")[0] for r in rows if r[0] != "s-broken"]
    assert shards == sorted(shards)


def test_shards_tick_progress_as_each_commits_and_a_failed_one_is_not_run_again(tmp_path, monkeypatch):
    """Every shard of a run counts and reports progress when it commits (not once at the end of the run); a
    shard DuckDB could not take in a run (a blank line) is then read on its own, not put in another run."""
    from app.ingest import shards

    files = [_write(tmp_path, kind, k) for k, kind in enumerate(["plain", "plain", "blank_line", "plain", "plain"])]
    runs: list[list[str]] = []
    real = shards.append_run
    monkeypatch.setattr(shards, "append_run", lambda cur, t, run, **k: runs.append([s.inp.rel for s in run]) or real(cur, t, run, **k))  # fmt: skip
    ticks: list[int] = []
    ws = Workspace.open(tmp_path / "ws", create=True)
    try:
        out = ingest(ws, files, source="web", progress=lambda done, total, stage: ticks.append(done))
    finally:
        ws.close()
    assert out["ingested"] == 30
    names = [f.rsplit("/", 1)[-1] for f in files]
    assert runs[0] == names  # all five tried side by side, the first among them
    assert sum(r.count(names[2]) for r in runs) == 1  # the failed one never again in a run
    assert runs[1:] == [names[3:]]  # the two after it: a run of their own, appended to the same stage
    assert [t for t in ticks if t][:2] == [6, 12]  # the first two shards, one tick each as they commit
    assert ticks[-1] == 30


@given(total=st.integers(0, 2_000_000), target=st.integers(0, 1_000_000))
def test_pieces_are_whole_row_groups_of_the_store(total, target):
    bounds = pieces.cut(total, target=target)
    step = max(pieces.STORE_ROWS, target // pieces.STORE_ROWS * pieces.STORE_ROWS)
    assert bounds[0] == 0 and bounds[-1] == total
    assert all(b % pieces.STORE_ROWS == 0 for b in bounds[:-1])  # every piece but the last: whole row groups
    assert all(b - a == step for a, b in itertools.pairwise(bounds[:-1]))
    assert len(bounds) == 2 or bounds[-1] - bounds[-2] >= step // 2


def _parquet(path, k: int, n: int, *, group: int) -> str:
    """``n`` documents in row groups of ``group`` rows, every 37th text blank (a skip inside a piece)."""
    rows = [{"id": f"p{k}-{i}", "text": " " if i % 37 == 5 else f"parquet {k} row {i}"} for i in range(n)]
    f = path / f"big{k}.parquet"
    pq.write_table(pa.Table.from_pylist(rows), f, row_group_size=group)
    return str(f)


def _spy_runs(monkeypatch, fail: int | None = None) -> list[list[list[str]]]:
    """Record every run given to ``append_run``: its pieces, each a list of the files of its segments; ``fail``:
    that piece of the first run reads a row short (as a file DuckDB misreads would)."""
    from app.ingest import shards

    runs: list[list[list[str]]] = []
    real = shards.append_run

    def spy(cur, table, run, **k):
        run = [p if isinstance(p, list) else [p] for p in run]
        runs.append([[sh.inp.rel for sh in p] for p in run])
        if fail is not None and len(runs) == 1:
            bad = run[fail][0]
            run = [*run[:fail], [shards.Shard(bad.inp, bad.cols, bad.plan, bad.sql, bad.args, rows=bad.rows + 1), *run[fail][1:]], *run[fail + 1 :]]  # fmt: skip
        return real(cur, table, run, **k)

    monkeypatch.setattr(shards, "append_run", spy)
    return runs


@pytest.mark.parametrize(("fail", "want_runs"), [(None, 1), (0, 2), (1, 2), (2, 1), (3, 1)])
def test_parquet_files_in_pieces_equal_the_python_reader(tmp_path, monkeypatch, fail, want_runs):
    """Two Parquet files of 10 row groups each, read in pieces of 500 rows side by side, both in one run (one
    stage): the same documents, order, line numbers and counts as the Python reader. ``fail``: that piece reads a
    row short, so the rows of its file already committed are deleted and the file is staged on its own: a run of
    its own when nothing of the run was committed (a piece of the first file), else the single-thread way; the
    result is the same."""
    monkeypatch.setattr(pieces, "STORE_ROWS", 250)
    files = [_parquet(tmp_path, k, 1000, group=100) for k in range(2)]
    runs = _spy_runs(monkeypatch, fail)
    got = _ingest(tmp_path / "fast", files, monkeypatch, python=False)
    want = _ingest(tmp_path / "python", files, monkeypatch, python=True)
    # 2,000 rows, two threads: 4 pieces of 500 rows (multiples of the store's row groups, made small)
    assert runs[0] == [["big0.parquet"]] * 2 + [["big1.parquet"]] * 2
    assert len(runs) == want_runs
    assert got[1:] == want[1:]
    assert [r[:5] for r in got[0]] == [r[:5] for r in want[0]]
    assert got[2] == 2 * (1000 - 27)


def test_small_parquet_shards_run_side_by_side(tmp_path, monkeypatch):
    """Shards smaller than a piece are read side by side in one run, a piece spanning files (segments appended in
    one transaction: full row groups); a shard of other columns ends the run (its own stage), the shards after it
    run again: the Python reader's documents, order and counts, and progress as each shard commits."""
    monkeypatch.setattr(pieces, "STORE_ROWS", 40)
    files = [_parquet(tmp_path, k, 30, group=30) for k in range(6)]
    extra = tmp_path / "big9.parquet"  # other columns
    pq.write_table(pa.Table.from_pylist([{"id": f"x{i}", "text": f"extra {i}", "lang": "en"} for i in range(5)]), extra)
    files = [*files[:4], str(extra), *files[4:]]
    runs = _spy_runs(monkeypatch)
    got = _ingest(tmp_path / "fast", files, monkeypatch, python=False)
    want = _ingest(tmp_path / "python", files, monkeypatch, python=True)
    b = [f"big{k}.parquet" for k in range(6)]
    # 120 rows in 4 files: pieces of 40 rows (30 of one file, 10 of the next, ...); after the other file, 60 rows
    assert runs == [[b[0:2], b[1:3], b[2:4]], [b[4:6], [b[5]]]]
    assert got[1:] == want[1:]
    assert [r[:5] for r in got[0]] == [r[:5] for r in want[0]]
    ticks: list[int] = []
    ws = Workspace.open(tmp_path / "ticks", create=True)
    try:
        ingest(ws, files[:4], source="web", progress=lambda done, total, stage: ticks.append(done))
    finally:
        ws.close()
    # as each segment commits: a shard's rows once it is whole (one blank text each), a part's before (10 of big1)
    assert [t for t in ticks if t][:6] == [29, 39, 58, 78, 87, 116]


def test_a_lone_parquet_file_of_one_row_group_is_not_cut(tmp_path, monkeypatch):
    """Pieces inside one row group would each decode it: a lone file of one row group takes the single-thread way,
    one of two row groups is read in two pieces."""
    monkeypatch.setattr(pieces, "STORE_ROWS", 250)
    one, two = _parquet(tmp_path, 0, 1000, group=1000), _parquet(tmp_path, 1, 1000, group=500)
    runs = _spy_runs(monkeypatch)
    got = _ingest(tmp_path / "one", [one], monkeypatch, python=False)
    assert runs == [] and got[2] == 1000 - 27
    got = _ingest(tmp_path / "two", [two], monkeypatch, python=False)
    assert runs == [[["big1.parquet"]] * 2] and got[2] == 1000 - 27


def test_a_large_parquet_file_shows_progress_piece_by_piece(tmp_path, monkeypatch):
    """Its rows show as each piece commits, before the file is counted at its last piece (then without the skips)."""
    monkeypatch.setattr(pieces, "STORE_ROWS", 250)
    f = _parquet(tmp_path, 0, 1000, group=100)
    ticks: list[int] = []
    ws = Workspace.open(tmp_path / "ws", create=True)
    try:
        ingest(ws, [f], source="web", progress=lambda done, total, stage: ticks.append(done))
    finally:
        ws.close()
    assert [t for t in ticks if t][:4] == [250, 500, 750, 1000 - 27]
