"""How the fast paths store and count (app/ingest/fast.py): the stage INSERT writes each row once (one DuckDB
thread, the setting restored after), and the memory-mapped line count equals the streaming one."""

from __future__ import annotations

import mmap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest import fast, formats, ingest
from app.ingest.sources import Input
from app.workspace import Workspace


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


def test_parquet_rows_are_written_once_and_the_thread_setting_is_restored(ws, tmp_path):
    """Two threads over a Parquet file whose row groups exceed DuckDB's (122,880 rows): DuckDB's ordered
    parallel insert wrote the rows, then wrote the merged row groups again at the checkpoint, leaving the
    first copy as free blocks (9 of 35 here); written once, nothing is left free."""
    import duckdb

    src = tmp_path / "big_groups.parquet"
    duckdb.sql(
        "COPY (SELECT range AS n, 'doc ' || range AS text FROM range(200000)) "
        f"TO '{src}' (FORMAT parquet, ROW_GROUP_SIZE 123000)"
    )
    cur = ws.cursor()
    cur.execute("SET threads = 2")
    assert ingest(ws, [str(src)], source="p")["ingested"] == 200_000
    assert cur.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    cur.execute("CHECKPOINT")
    free = cur.execute("SELECT free_blocks FROM pragma_database_size()").fetchone()[0]
    assert free <= 1, f"{free} free blocks: the staged rows were written twice"
    assert cur.execute("SELECT count(*), min(_row), max(_row) FROM corpus").fetchone() == (200_000, 1, 200_000)


def test_the_thread_setting_is_restored_when_the_insert_fails(ws):
    cur = ws.cursor()
    cur.execute("SET threads = 2")
    with pytest.raises(ZeroDivisionError), fast.stage_threads(cur, parallel=False):
        assert cur.execute("SELECT current_setting('threads')").fetchone()[0] == 1
        raise ZeroDivisionError
    assert cur.execute("SELECT current_setting('threads')").fetchone()[0] == 2


LINES = st.lists(st.sampled_from([b"", b"{}", b"x" * 70, b"\r", "é".encode()]), max_size=400)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES, trailing=st.booleans(), cmp=st.sampled_from([1, 7, 64, 1 << 20]))
def test_mapped_line_count_equals_the_streaming_count(tmp_path_factory, monkeypatch, lines, trailing, cmp):
    """Maps of one allocation granule and small comparison steps, so that a file spans many maps and steps and
    lines cross their edges."""
    monkeypatch.setattr(fast, "MAP_STEP", mmap.ALLOCATIONGRANULARITY)
    monkeypatch.setattr(fast, "CMP_STEP", cmp)
    path = tmp_path_factory.mktemp("count") / "f.jsonl"
    path.write_bytes(b"\n".join(lines) + (b"\n" if trailing and lines else b""))
    inp = Input(kind="file", path=str(path), rel="f.jsonl", source="s", fmt="jsonl", size=path.stat().st_size)
    assert fast.count_lines(inp) == formats.count_lines(inp)


def _numbered_lines(path, n: int, *, blank_every: int) -> None:
    """``n`` JSON lines whose text names its own line number (every ``blank_every``-th text blank)."""
    with open(path, "w", encoding="utf-8") as f:
        for i in range(1, n + 1):
            text = " " if i % blank_every == 0 else f"line {i} " + "x" * (i % 50)
            f.write(f'{{"text": "{text}", "n": {i}}}\n')


@pytest.mark.parametrize("names", [["a"], ["a", "b", "c"]], ids=["lone", "shards"])
def test_json_lines_keep_their_line_numbers_ids_and_files_order(ws, tmp_path, monkeypatch, names):
    """A lone file (150,000 lines, about 8 MB: several of the JSON reader's buffers and DuckDB's row groups) is
    inserted on two threads and numbered by position (fast.number_by_rowid); three files are appended side by
    side, the first among them (app/ingest/shards.py), the last one short, so that it is read first and must
    wait for the one before it to commit. Every row's ``_row`` is the line its text names, every generated id
    is md5(source, file, line), the blank texts are skipped at their own lines, and the rows are in file order."""
    import hashlib

    sizes = {"a": (150_000, 9_973), "b": (150_000, 7_919), "c": (2_000, 997)}
    for name in names:
        _numbered_lines(tmp_path / f"{name}.jsonl", sizes[name][0], blank_every=sizes[name][1])
    numbered = []
    real = fast.number_by_rowid
    monkeypatch.setattr(fast, "number_by_rowid", lambda *a, **k: numbered.append(a[1]) or real(*a, **k))
    cur = ws.cursor()
    cur.execute("SET threads = 2")
    out = ingest(ws, [str(tmp_path / f"{name}.jsonl") for name in names], source="s")
    assert cur.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    assert len(numbered) == (len(names) == 1)  # the lone file numbered by position; the shards by row_number()
    assert out["ingested"] == sum(sizes[n][0] - sizes[n][0] // sizes[n][1] for n in names)
    bad = cur.execute(
        "SELECT count(*) FROM corpus WHERE _row <> n OR text NOT LIKE 'line ' || n || ' %' "
        "OR _file NOT IN ('a.jsonl', 'b.jsonl', 'c.jsonl')"
    ).fetchone()[0]
    assert bad == 0
    # the rows are in file and line order (what the edge-text lookup by _file/_row relies on)
    order = cur.execute("SELECT _file, _row FROM docs").fetchall()
    assert order == sorted(order)
    for file, line in [("a.jsonl", 1), ("a.jsonl", 149_999), ("b.jsonl", 77_777), ("c.jsonl", 1_999)]:
        if file[0] not in names:
            continue
        want = hashlib.md5(f"s\x1f{file}\x1f{line}".encode()).hexdigest()[:16]
        assert cur.execute("SELECT id FROM corpus WHERE _file = ? AND _row = ?", [file, line]).fetchone()[0] == want


def test_parallel_stage_threads_fit_the_readers_buffers_in_half_the_memory_limit(ws):
    cur = ws.cursor()
    cur.execute("SET threads = 4")
    cur.execute("SET memory_limit = '512MiB'")
    cur.execute("SET preserve_insertion_order = false")
    setting = "SELECT current_setting('threads'), current_setting('preserve_insertion_order')"
    with fast.stage_threads(cur, parallel=True, thread_bytes=64 << 20):
        assert cur.execute(setting).fetchone() == (4, True)  # 4 x 64 MiB fit in 256 MiB
    with fast.stage_threads(cur, parallel=True, thread_bytes=128 << 20):
        assert cur.execute(setting).fetchone() == (2, True)
    with fast.stage_threads(cur, parallel=True, thread_bytes=1 << 30):
        assert cur.execute(setting).fetchone() == (1, True)
    assert cur.execute(setting).fetchone() == (4, False)
