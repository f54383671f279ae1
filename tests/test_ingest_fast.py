"""DuckDB-native staging (app/ingest/fast.py): Parquet read by ``read_parquet`` gives exactly what the Python
reader gives (ids, texts, metadata, accounting), falls back to it where it must, and the staged hex columns
are stored uncompressed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import IngestError
from app.ingest import fast, formats, ingest
from app.workspace import Workspace, source_table


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


def _snapshot(ws) -> tuple[list, list]:
    cur = ws.cursor()
    cols = cur.execute("DESCRIBE corpus").fetchall()
    return cols, cur.execute("SELECT * FROM corpus ORDER BY source, _file, _row").fetchall()


def _python_only(monkeypatch) -> None:
    monkeypatch.setattr(fast, "fast_parquet", lambda *a, **k: None)


def _no_python_parquet(monkeypatch) -> None:
    def refuse(*a, **k):
        raise AssertionError("the Python Parquet reader was used")

    monkeypatch.setattr(formats, "read_parquet", refuse)


def _ingest_both(tmp_path, monkeypatch, files, **kw):
    outs, snaps = [], []
    for k, python in enumerate((False, True)):
        with monkeypatch.context() as m:
            (_python_only if python else _no_python_parquet)(m)
            with Workspace.open(tmp_path / f"ws{k}", create=True) as ws:
                out = ingest(ws, [str(f) for f in files], source="s", **kw)
                outs.append({k: out[k] for k in ("read", "ingested", "skipped", "skipped_first", "files", "bytes")})
                snaps.append(_snapshot(ws))
    return outs, snaps


TEXTS = st.one_of(st.none(), st.sampled_from(["", "  ", "\u3000", "ok"]), st.text(max_size=12))


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXTS, min_size=1, max_size=40), group=st.integers(1, 16))
def test_parquet_fast_path_equals_python_reader(tmp_path_factory, monkeypatch, texts, group):
    tmp = tmp_path_factory.mktemp("pq")
    n = len(texts)
    tbl = pa.table(
        {
            "id": [f"x{i}" for i in range(n)],
            "text": texts,
            "n": list(range(n)),
            "meta": [{"a": i, "b": [i, i + 1]} for i in range(n)],
        }
    )
    f = tmp / "a.parquet"
    pq.write_table(tbl, f, row_group_size=group)
    try:
        outs, snaps = _ingest_both(tmp, monkeypatch, [f])
    except IngestError as e:  # every row skipped: both paths must say so
        assert "no documents" in str(e) or "cannot tell" in str(e)
        return
    assert outs[0] == outs[1]
    assert snaps[0] == snaps[1]
    assert outs[0]["read"] == n == outs[0]["ingested"] + sum(outs[0]["skipped"].values())


def test_parquet_fast_path_with_id_field_and_two_files(tmp_path, monkeypatch):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"doc": ["u1", "u2", "u3"], "body": ["one", "", "three"]}), a)
    pq.write_table(pa.table({"doc": ["u4", "u5"], "body": ["four", "five"], "extra": [1.5, None]}), b)
    outs, snaps = _ingest_both(tmp_path, monkeypatch, [a, b], id_field="doc", text_field="body")
    assert outs[0] == outs[1] and snaps[0] == snaps[1]
    assert outs[0]["skipped"] == {"empty_text": 1} and outs[0]["skipped_first"] == {"empty_text": ["a.parquet:2"]}
    assert [r[0] for r in snaps[0][1]] == ["u1", "u3", "u4", "u5"]


def test_parquet_column_named_like_a_hidden_one_takes_the_python_reader(ws, tmp_path):
    f = tmp_path / "r.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "_row": [10, 20]}), f)
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 2
    got = ws.cursor().execute("SELECT text, orig_row, _row FROM corpus ORDER BY _row").fetchall()
    assert got == [("a", 10, 1), ("b", 20, 2)]


def test_parquet_strict_and_empty_file(ws, tmp_path, monkeypatch):
    _no_python_parquet(monkeypatch)
    f = tmp_path / "s.parquet"
    pq.write_table(pa.table({"text": ["fine", " ", "also"]}), f)
    with pytest.raises(IngestError, match=r"empty text at s\.parquet:2 \(--strict\)"):
        ingest(ws, [str(f)], strict=True)
    monkeypatch.undo()
    e = tmp_path / "e.parquet"
    pq.write_table(pa.table({"text": pa.array([], pa.string())}), e)
    with pytest.raises(IngestError, match="no documents could be read"):
        ingest(ws, [str(e)])


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_staged_hex_columns_are_stored_uncompressed(ws, tmp_path, fmt):
    texts = [f"document number {i}" for i in range(3000)]
    f = tmp_path / f"h.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"text": texts}), f)
    else:
        f.write_text("".join(f'{{"text": "{t}"}}\n' for t in texts))
    ingest(ws, [str(f)], source="h")
    table = source_table("h")
    got = dict(
        ws.cursor()
        .execute(
            "SELECT column_name, string_agg(DISTINCT compression, ',') FROM pragma_storage_info(?) "
            "WHERE segment_type = 'VARCHAR' GROUP BY 1",
            [table],
        )
        .fetchall()
    )
    assert got["id"] == "Uncompressed" and got["text_hash"] == "Uncompressed"
    assert ws.cursor().execute("SELECT count(DISTINCT id), count(*) FROM corpus").fetchone() == (3000, 3000)


def test_jsonl_whose_every_line_is_skipped_is_an_error_as_on_the_python_path(ws, tmp_path):
    f = tmp_path / "blank.jsonl"
    f.write_text('{"text": ""}\n{"text": "  "}\n{"text": null}\n')
    with pytest.raises(IngestError, match=r"no documents could be read .*'empty_text': 2, 'missing_text': 1"):
        ingest(ws, [str(f)])
    assert ws.sources() == []


def test_ingest_runs_under_its_memory_cap_and_restores_the_limit(ws, tmp_path, monkeypatch):
    f = tmp_path / "c.csv"
    f.write_text("id,text\n" + "".join(f"{i},row {i}\n" for i in range(50)))
    setting = "SELECT current_setting('memory_limit')"
    before = ws.cursor().execute(setting).fetchone()[0]
    seen = []
    monkeypatch.setenv("WINNOW_INGEST_MEMORY", "300MB")
    ingest(ws, [str(f)], progress=lambda *a: seen.append(ws.cursor().execute(setting).fetchone()[0]))
    assert seen and set(seen) == {"286.1 MiB"}  # 300 MB as DuckDB prints it

    def restored() -> bool:
        """DuckDB shows a limit rounded down to one decimal (4096MB reads '3.8 GiB', and setting '3.8 GiB' reads
        '3.7 GiB'): the limit can be restored only to within that rounding."""
        now = fast.amount_bytes(ws.cursor().execute(setting).fetchone()[0])
        return abs(now - fast.amount_bytes(before)) <= 0.1 * (1 << 30)

    assert restored()
    monkeypatch.setenv("WINNOW_INGEST_MEMORY", "lots")
    with pytest.raises(IngestError, match="WINNOW_INGEST_MEMORY='lots' is not an amount"):
        ingest(ws, [str(f)], source="again")
    assert restored()


def test_jsonl_takes_the_fast_path_under_a_small_memory_cap(ws, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the Python JSON-lines reader was used")

    f = tmp_path / "m.jsonl"
    f.write_text("".join(f'{{"text": "doc {i}"}}\n' for i in range(5000)))
    monkeypatch.setenv("WINNOW_INGEST_MEMORY", "300MB")
    with monkeypatch.context() as m:
        m.setattr(formats, "read_jsonl", refuse)
        assert ingest(ws, [str(f)])["ingested"] == 5000


def test_a_line_longer_than_the_fast_readers_limit_is_read_by_the_python_reader(ws, tmp_path, monkeypatch):
    from app.ingest import jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1 << 16)
    f = tmp_path / "long.jsonl"
    f.write_text('{"text": "short"}\n' + '{"text": "' + "x" * (1 << 17) + '"}\n{"text": "end"}\n')
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 3 and out["skipped"] == {}
    assert ws.cursor().execute("SELECT length(text) FROM corpus ORDER BY _row").fetchall() == [(5,), (1 << 17,), (3,)]
