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
    with pytest.raises(ZeroDivisionError), fast.one_thread(cur):
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
