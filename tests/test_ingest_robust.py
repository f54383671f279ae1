"""Ingest under hostile input: truncated compressed files, unterminated CSV quotes, lone surrogates,
``--invalid-utf8 replace``, explicit text-field choices, and ``--sample N --seed S``.

Every defect here was reproduced before its fix (issue 11 items 3, 4, 5, 9, 10; issue 21 item 6)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import IngestError
from app.ingest import ingest, read_documents
from app.ingest.streams import check_zstd_frames
from app.workspace import Workspace

ROWS = [{"id": f"d{i}", "text": f"document number {i} " + "lorem ipsum " * (i % 7 + 1)} for i in range(2000)]


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _csv(rows, sep=",") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a bare "\r" would be lost
    w.writerow(["id", "text"])
    for r in rows:
        w.writerow([r["id"], r["text"]])
    return buf.getvalue().encode()


def _compress(data: bytes, kind: str) -> bytes:
    if kind == "gz":
        return gzip.compress(data)
    return zstandard.ZstdCompressor(level=3).compress(data)


def _texts(ws) -> list[str]:
    return [r[0] for r in ws.cursor().execute("SELECT text FROM corpus ORDER BY _row").fetchall()]


def _state(ws):
    cur = ws.cursor()
    tables = sorted(r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    return ws.fingerprint(), tables


# ---------------------------------------------------------------- truncated compressed files
@pytest.mark.parametrize("kind", ["zst", "gz"])
@pytest.mark.parametrize(
    ("fmt", "strict"),
    [("jsonl", False), ("jsonl", True), ("csv", False), ("csv", True), ("tsv", False), ("json", False)],
)
def test_truncated_compressed_file_is_one_line_error(ws, tmp_path, kind, fmt, strict):
    if fmt == "jsonl":
        data = _jsonl(ROWS)
    elif fmt == "json":
        data = json.dumps(ROWS).encode()
    else:
        data = _csv(ROWS, "\t" if fmt == "tsv" else ",")
    good = tmp_path / f"good.{fmt}.{kind}"
    good.write_bytes(_compress(data, kind))
    ingest(ws, [str(good)], source="good")
    before = _state(ws)
    comp = _compress(data, kind)
    bad = tmp_path / f"cut.{fmt}.{kind}"
    bad.write_bytes(comp[: int(len(comp) * 0.9)])
    with pytest.raises(IngestError, match=r"cut\." + fmt) as e:
        ingest(ws, [str(bad)], source="cut", strict=strict)
    assert "\n" not in str(e.value) and "truncated" in str(e.value)
    assert _state(ws) == before  # nothing of the cut file got in
    with pytest.raises(IngestError, match="truncated"):
        sum(b.num_rows for b in read_documents([str(bad)]))


def test_zstd_frame_walk_accepts_complete_multi_frame_files(tmp_path):
    """Several frames (with and without checksum and content size), a skippable frame, many blocks."""
    parts = [_jsonl(ROWS[:700]), _jsonl(ROWS[700:1400]), _jsonl(ROWS[1400:])]
    blob = zstandard.ZstdCompressor(write_checksum=True).compress(parts[0])
    blob += b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"skip!"
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_content_size=False).stream_writer(out, closefd=False) as w:
        w.write(parts[1])
    blob += out.getvalue() + zstandard.ZstdCompressor(level=1).compress(parts[2])
    f = tmp_path / "multi.jsonl.zst"
    f.write_bytes(blob)
    check_zstd_frames(str(f))
    assert [d["id"] for b in read_documents([str(f)], id_field="id") for d in b.to_pylist()] == [r["id"] for r in ROWS]
    for cut in (len(blob) - 1, len(blob) - 4, len(blob) - 30, 10, 3):
        g = tmp_path / f"cut{cut}.jsonl.zst"
        g.write_bytes(blob[:cut])
        with pytest.raises(IngestError, match="truncated zstd"):
            check_zstd_frames(str(g))
    junk = tmp_path / "junk.jsonl.zst"
    junk.write_bytes(blob + b"not zstd")
    with pytest.raises(IngestError, match="not a zstd stream"):
        check_zstd_frames(str(junk))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frac=st.floats(min_value=0.0, max_value=1.0), kind=st.sampled_from(["zst", "gz"]))
def test_any_truncation_reads_everything_or_fails(tmp_path, frac, kind):
    """Property: a compressed file cut anywhere either reads every record or raises IngestError."""
    comp = _compress(_jsonl(ROWS[:300]), kind)
    cut = int(len(comp) * frac)
    f = tmp_path / f"p{cut}.jsonl.{kind}"
    f.write_bytes(comp[:cut])
    try:
        n = sum(b.num_rows for b in read_documents([str(f)]))
    except IngestError:
        assert cut < len(comp)
        return
    assert n == 300 or cut == 0  # an empty file is an empty stream (as gzip reads it), not a partial read


@pytest.mark.parametrize("cut", [0.5, 0.9, 0.99])
def test_truncated_parquet_is_one_line_error(ws, tmp_path, cut):
    f = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": [r["text"] for r in ROWS]}), f, row_group_size=300)
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(IngestError, match=r"cannot read Parquet file .*t\.parquet") as e:
        ingest(ws, [str(f)])
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- CSV quotes
@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('id,text\n1,"a\n2,b\n3,c\n', 2),
        ('id,text\n1,ok\n2,"fine, quoted"\n3,"escaped "" quote\n4,d\n', 4),
        ('id,text\n1,ok\n2,"two\nlines"\n3,"open\nmore\n', 5),
        ('id,"text\n1,a\n', 1),
    ],
)
def test_unterminated_csv_quote_is_an_error_with_its_line(ws, tmp_path, content, line):
    f = tmp_path / "u.csv"
    f.write_text(content)
    with pytest.raises(IngestError, match=rf"unterminated quoted field in .*u\.csv: the quote opened at line {line} "):
        ingest(ws, [str(f)])


def test_closed_quotes_at_end_of_file_are_fine(ws, tmp_path):
    f = tmp_path / "q.csv"
    f.write_text('id,text\n1,"multi\nline"\n2,"last ""one"""')  # no final newline
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 2
    assert _texts(ws) == ["multi\nline", 'last "one"']


def test_oversized_csv_record_is_refused(ws, tmp_path, monkeypatch):
    from app.ingest import csvfmt

    monkeypatch.setattr(csvfmt, "MAX_RECORD_CHARS", 1000)
    f = tmp_path / "big.csv"
    f.write_text('id,text\n1,"open\n' + "x,y\n" * 500)
    with pytest.raises(IngestError, match=r"line 2 of .*big\.csv is longer than .*quote opened at line 2"):
        ingest(ws, [str(f)])


# ---------------------------------------------------------------- invalid UTF-8 and lone surrogates
LONE = [
    b'{"text": "ok one"}\n',
    b'{"text": "bad \\ud800 x"}\n',
    b'{"text": "pair \\ud83d\\ude00 is fine"}\n',
    b'{"text": "bad low \\uDC00"}\n',
    b'{"text": "bytes \xff\xfe here"}\n',
    b'{"text": "ok two"}\n',
]


@pytest.mark.parametrize("limit", [None, 100])  # None: DuckDB's fast path first; a limit: the Python reader
def test_lone_surrogate_is_skipped_as_invalid_utf8(ws, tmp_path, limit):
    f = tmp_path / "s.jsonl"
    f.write_bytes(b"".join(LONE))
    out = ingest(ws, [str(f)], limit=limit)
    assert out["skipped"] == {"invalid_utf8": 3}
    assert out["skipped_first"]["invalid_utf8"] == ["s.jsonl:2", "s.jsonl:4", "s.jsonl:5"]
    assert out["read"] == out["ingested"] + sum(out["skipped"].values()) == 6
    assert _texts(ws) == ["ok one", "pair \U0001f600 is fine", "ok two"]


@pytest.mark.parametrize("limit", [None, 100])
def test_invalid_utf8_replace_keeps_and_counts_repaired(ws, tmp_path, limit):
    f = tmp_path / "s.jsonl"
    f.write_bytes(b"".join(LONE))
    out = ingest(ws, [str(f)], limit=limit, invalid_utf8="replace")
    assert (out["read"], out["ingested"], out["skipped"]) == (6, 6, {})
    assert out["repaired"] == {"invalid_utf8": 3}
    texts = _texts(ws)
    assert texts[1] == "bad \ufffd x" and texts[3] == "bad low \ufffd" and texts[4].startswith("bytes \ufffd")
    log = ws.cursor().execute("SELECT repaired->>'$.invalid_utf8', options->>'$.invalid_utf8' FROM ingest_log")
    assert log.fetchall() == [("3", "replace")]


def test_invalid_utf8_in_json_array_csv_and_text(ws, tmp_path):
    arr = tmp_path / "a.json"
    arr.write_bytes(b'[{"text": "fine"}, {"text": "lone \\ud800"}, {"text": "raw \xff"}]')
    c = tmp_path / "c.csv"
    c.write_bytes(b"id,text\n1,fine\n2,raw \xff\n")
    t = tmp_path / "t.txt"
    t.write_bytes(b"plain \xfe text")
    out = ingest(ws, [str(arr), str(c)])
    assert {s["source"]: s["skipped"] for s in out["sources"]} == {"a": {"invalid_utf8": 2}, "c": {"invalid_utf8": 1}}
    with pytest.raises(IngestError, match=r"no documents could be read .*invalid_utf8': 1"):
        ingest(ws, [str(t)])
    out = ingest(ws, [str(arr), str(c), str(t)], invalid_utf8="replace")
    assert {s["source"]: (s["ingested"], s["repaired"]) for s in out["sources"]} == {
        "a": (3, {"invalid_utf8": 2}),
        "c": (2, {"invalid_utf8": 1}),
        "t": (1, {"invalid_utf8": 1}),
    }
    assert "plain \ufffd text" in _texts(ws)


def test_bad_invalid_utf8_option_is_refused(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(_jsonl(ROWS[:2]))
    with pytest.raises(IngestError, match="--invalid-utf8 must be one of skip, replace"):
        read_documents([str(f)], invalid_utf8="drop")


# ---------------------------------------------------------------- which field is the text
def test_only_string_field_fallback_is_reported(ws, tmp_path, capsys):
    from app.cli import main

    f = tmp_path / "o.jsonl"
    f.write_bytes(_jsonl([{"body_html": "hello there", "n": 1}, {"body_html": "second", "n": 2}]))
    out = ingest(ws, [str(f)])
    assert out["sources"][0]["text"] == [{"text": "field", "fields": ["body_html"], "chosen": "only string field"}]
    assert main(["ingest", str(f), "-w", str(tmp_path / "w2")]) == 0
    printed = capsys.readouterr().out
    assert "text from field 'body_html' (the only string field; pass --text-field to choose another)" in printed


def test_ambiguous_text_field_lists_the_string_candidates(ws, tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_bytes(_jsonl([{"title": "t", "summary": "s", "body_html": "b", "n": 1}]))
    with pytest.raises(IngestError, match=r"\(string fields: summary, body_html\); pass --text-field"):
        ingest(ws, [str(f)])


@pytest.mark.parametrize("limit", [None, 100])
def test_non_string_text_values_are_skipped_not_cast(ws, tmp_path, limit):
    f = tmp_path / "m.jsonl"
    f.write_bytes(
        _jsonl(
            [
                {"text": "real text"},
                {"text": 5},
                {"text": ["x", "y"]},
                {"text": {"a": 1}},
                {"text": True},
                {"text": "more text"},
            ]
        )
    )
    out = ingest(ws, [str(f)], limit=limit)
    assert out["skipped"] == {"non_string_text": 4}
    assert out["skipped_first"]["non_string_text"] == ["m.jsonl:2", "m.jsonl:3", "m.jsonl:4", "m.jsonl:5"]
    assert _texts(ws) == ["real text", "more text"]  # no '5', no '["x","y"]', no JSON quotes


def test_numeric_text_column_is_skipped_with_a_clear_summary(ws, tmp_path):
    f = tmp_path / "n.parquet"
    pq.write_table(pa.table({"text": [1, 2, 3], "body": ["a", "b", "c"]}), f)
    with pytest.raises(IngestError, match=r"no documents could be read .*non_string_text': 3"):
        ingest(ws, [str(f)])
    out = ingest(ws, [str(f)], text_field="body")
    assert out["ingested"] == 3 and _texts(ws) == ["a", "b", "c"]


def test_binary_text_is_decoded_when_utf8_else_skipped(ws, tmp_path):
    f = tmp_path / "b.parquet"
    pq.write_table(pa.table({"text": pa.array(["héllo".encode(), b"\xff\xfe", None], pa.binary())}), f)
    out = ingest(ws, [str(f)])
    assert out["skipped"] == {"invalid_utf8": 1, "missing_text": 1}
    assert _texts(ws) == ["héllo"]
    assert out["sources"][0]["text"][0]["type"] == "BLOB"


# ---------------------------------------------------------------- --sample N --seed S
def _shards(tmp_path, n_shards=5, per=200):
    d = tmp_path / "shards"
    d.mkdir()
    for s in range(n_shards):
        rows = [{"text": f"shard {s} doc {i} " + "word " * (i % 5 + 1)} for i in range(per)]
        (d / f"part-{s:02d}.jsonl.gz").write_bytes(gzip.compress(_jsonl(rows)))
    return d


def _ids(ws):
    return sorted(r[0] for r in ws.cursor().execute("SELECT id FROM corpus").fetchall())


def test_sample_is_seeded_spread_across_shards_and_recorded(tmp_path):
    d = _shards(tmp_path)
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        with Workspace.open(tmp_path / name, create=True) as w:
            out = ingest(w, [str(d)], sample=100, seed=seed)
            runs[name] = _ids(w)
            files = {r[0] for r in w.cursor().execute("SELECT DISTINCT _file FROM corpus").fetchall()}
            log = w.cursor().execute("SELECT read, ingested, skipped, options FROM ingest_log").fetchall()
        assert out["ingested"] == 100 and out["read"] == 1000
        assert out["skipped"] == {"not_in_sample": 900}
        assert files == {f"part-{s:02d}.jsonl.gz" for s in range(5)}  # every shard, not the first ones
        read, ingested, skipped, options = log[0]
        assert (read, ingested, json.loads(skipped)) == (1000, 100, {"not_in_sample": 900})
        assert (json.loads(options)["sample"], json.loads(options)["seed"]) == (100, seed)
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"] and len(set(runs["a"]) & set(runs["c"])) < 50
    with Workspace.open(tmp_path / "a") as w:
        spec = json.loads(w.cursor().execute("SELECT spec FROM sources").fetchone()[0])
    assert spec["sample"] == {"n": 100, "seed": 7, "key": "md5(seed || 0x1f || id)", "of": 1000}


def test_sample_spans_sources_and_both_readers_agree(tmp_path):
    d = _shards(tmp_path, n_shards=3, per=100)
    srcs = [str(p) for p in sorted(d.iterdir())]
    with Workspace.open(tmp_path / "fast", create=True) as w:
        out = ingest(w, srcs, sample=60, seed=1)
        fast = _ids(w)
        by_source = {s["source"]: s["ingested"] for s in out["sources"]}
    assert sum(by_source.values()) == 60 and all(n > 0 for n in by_source.values())
    # the sample is the 60 smallest md5(seed, id) of all 300 ids, whichever reader made them
    every = [d["id"] for p in srcs for b in read_documents([p]) for d in b.to_pylist()]
    import hashlib

    want = sorted(every, key=lambda i: (hashlib.md5(f"1\x1f{i}".encode()).hexdigest(), i))[:60]
    assert fast == sorted(want)


def test_sample_larger_than_input_and_bad_combinations(ws, tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(_jsonl(ROWS[:10]))
    out = ingest(ws, [str(f)], sample=50, seed=3)
    assert (out["ingested"], out["skipped"]) == (10, {})
    with pytest.raises(IngestError, match="cannot be combined"):
        ingest(ws, [str(f)], sample=5, limit=5)
    with pytest.raises(IngestError, match="--seed needs --sample"):
        ingest(ws, [str(f)], seed=5)


# ---------------------------------------------------------------- round trips (property)
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40
).filter(
    lambda s: (
        s.strip(
            " \t\n\r\x0b\x0c\xa0\u3000\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\ufeff"
        )
        != ""
    )
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(_text, min_size=1, max_size=12), fmt=st.sampled_from(["jsonl", "csv", "tsv", "jsonl.zst"]))
def test_written_records_read_back_identically(tmp_path_factory, texts, fmt):
    """Property: any list of records written as JSONL/CSV/TSV (plain or zstd) reads back as the same
    records, in order, with nothing skipped."""
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)]
    d = tmp_path_factory.mktemp("rt")
    f = d / f"x.{fmt}"
    if fmt.startswith("jsonl"):
        data = _jsonl(rows)
        f.write_bytes(_compress(data, "zst") if fmt.endswith("zst") else data)
    else:
        f.write_bytes(_csv(rows, "\t" if fmt == "tsv" else ","))
    reader = read_documents([str(f)], id_field="id")
    got = [(d["id"], d["text"]) for b in reader for d in b.to_pylist()]
    assert got == [(r["id"], r["text"]) for r in rows]
    assert reader.stats.skipped == {}
