"""Ingest: every format, field detection, ids, accounting of bad input, atomicity, the CLI."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import IngestError
from app.ingest import ingest, read_documents
from app.workspace import Workspace, source_table

DOCS = [
    {"text": "First document about cats.", "lang": "en", "n": 1},
    {"text": "Second document, with a comma and a\nnewline.", "lang": "en", "n": 2},
    {"text": "Dritter Text auf Deutsch.", "lang": "de", "n": 3},
]


def write_jsonl(path, rows, *, compress=None):
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if compress == "gzip":
        data = gzip.compress(data)
    elif compress == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    yield w
    w.close()


def rows(ws, sql):
    return ws.cursor().execute(sql).fetchall()


def texts(ws, source=None):
    q = "SELECT text FROM corpus" + (" WHERE source = ?" if source else "") + " ORDER BY _row"
    return [r[0] for r in ws.cursor().execute(q, [source] if source else []).fetchall()]


def state(ws):
    """Everything a failed ingest must leave untouched."""
    cur = ws.cursor()
    tables = sorted(r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    srcs = cur.execute("SELECT name, table_name, n_docs, ingested_at FROM sources ORDER BY name").fetchall()
    log = cur.execute("SELECT count(*) FROM ingest_log").fetchone() if ws.has_table("ingest_log") else None
    return ws.fingerprint(), tables, srcs, log


# ---------------------------------------------------------------- formats
@pytest.mark.parametrize(("name", "compress"), [("d.jsonl", None), ("d.jsonl.gz", "gzip"), ("d.jsonl.zst", "zstd")])
def test_jsonl_plain_and_compressed(ws, tmp_path, name, compress):
    f = write_jsonl(tmp_path / name, DOCS, compress=compress)
    out = ingest(ws, [str(f)], source="s")
    assert (out["read"], out["ingested"], out["skipped"]) == (3, 3, {})
    assert texts(ws) == [d["text"] for d in DOCS]
    assert rows(ws, "SELECT lang, n, _file, _row FROM corpus ORDER BY _row")[0] == ("en", 1, name, 1)


def test_json_array_and_json_lines_with_json_extension(ws, tmp_path):
    arr = tmp_path / "arr.json"
    arr.write_text("[\n" + ",\n".join(json.dumps(d) for d in DOCS) + "\n]\n")
    lines = write_jsonl(tmp_path / "lines.json", DOCS)
    out = ingest(ws, [str(arr), str(lines)])
    assert {s["source"]: s["ingested"] for s in out["sources"]} == {"arr": 3, "lines": 3}
    assert texts(ws, "arr") == texts(ws, "lines") == [d["text"] for d in DOCS]


def test_json_array_malformed_is_one_clear_error(ws, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('[{"text": "a"},\n {"text": "b"\n')
    with pytest.raises(IngestError, match=r"malformed JSON array in .*bad\.json at line"):
        ingest(ws, [str(f)])


def test_parquet(ws, tmp_path):
    f = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(DOCS), f)
    ingest(ws, [str(f)])
    assert texts(ws) == [d["text"] for d in DOCS]
    assert rows(ws, "SELECT n FROM corpus ORDER BY _row") == [(1,), (2,), (3,)]


@pytest.mark.parametrize(("name", "sep"), [("c.csv", ","), ("t.tsv", "\t")])
def test_csv_tsv_quoted_fields_with_newlines(ws, tmp_path, name, sep):
    f = tmp_path / name
    f.write_text(
        f'label{sep}review{sep}\n1{sep}"a ""quoted"" review,\nover two lines"{sep}x\n0{sep}plain{sep}y\n',
        encoding="utf-8",
    )
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 2
    assert texts(ws) == ['a "quoted" review,\nover two lines', "plain"]
    # numeric columns are typed, rows are numbered by their first line, a blank header gets a name
    assert rows(ws, "SELECT label, _row, column2 FROM corpus ORDER BY _row") == [(1, 2, "x"), (0, 4, "y")]
    assert ws.columns("corpus")["label"] == "BIGINT"


def test_text_one_document_per_file(ws, tmp_path):
    d = tmp_path / "notes"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("Alpha text.\n\nSecond paragraph of a.\n")
    (d / "sub" / "b.md").write_text("Beta text.")
    (d / "ignored.bin").write_bytes(b"\x00\x01")
    out = ingest(ws, [str(d)])
    assert out["sources"][0]["source"] == "notes"
    assert rows(ws, "SELECT _file, text FROM corpus ORDER BY _file") == [
        ("a.txt", "Alpha text.\n\nSecond paragraph of a.\n"),
        ("sub/b.md", "Beta text."),
    ]
    assert any(p.endswith("ignored.bin") for p in out["ignored_files"])


def test_wikitext_paragraphs_with_title_and_section(ws, tmp_path):
    f = tmp_path / "wiki.txt"
    f.write_text(
        " \n = Lobster = \n \n First paragraph . \n Second paragraph . \n \n = = Biology = = \n \n Third one . \n"
    )
    out = ingest(ws, [str(f)])
    assert out["read"] == out["ingested"] == 3
    assert rows(ws, "SELECT text, title, section, _row FROM corpus ORDER BY _row") == [
        ("First paragraph .", "Lobster", None, 4),
        ("Second paragraph .", "Lobster", None, 5),
        ("Third one .", "Lobster", "Biology", 9),
    ]


def test_nested_metadata_stays_queryable(ws, tmp_path):
    recs = [
        {"text": f"doc {i}", "metadata": {"language": "en", "perplexity": 10.5 + i, "url": f"u{i}"}} for i in range(3)
    ]
    f = write_jsonl(tmp_path / "cc.jsonl", recs)
    ingest(ws, [str(f)])
    assert rows(ws, "SELECT count(*) FROM corpus WHERE metadata.language = 'en' AND metadata.perplexity > 11") == [(2,)]


# ---------------------------------------------------------------- text fields
@pytest.mark.parametrize("field", ["content", "review", "tweet", "Document", "raw_content"])
def test_text_field_autodetected(ws, tmp_path, field):
    f = write_jsonl(tmp_path / "x.jsonl", [{"id_": i, field: f"text {i}", "other": "meta"} for i in range(2)])
    ingest(ws, [str(f)])
    assert texts(ws) == ["text 0", "text 1"]
    assert field not in ws.columns("corpus") and "other" in ws.columns("corpus")


def test_explicit_text_field_and_missing_field_error(ws, tmp_path):
    f = write_jsonl(tmp_path / "x.jsonl", [{"text": "not me", "body2": "me"}])
    ingest(ws, [str(f)], text_field="body2")
    assert texts(ws) == ["me"] and rows(ws, "SELECT orig_text FROM corpus") == [("not me",)]
    with pytest.raises(IngestError, match="no field 'nope'"):
        ingest(ws, [str(f)], text_field="nope")


def test_undetectable_text_field_is_a_clear_error(ws, tmp_path):
    f = write_jsonl(tmp_path / "x.jsonl", [{"a": "x", "b": "y"}])
    with pytest.raises(IngestError, match="pass --text-field"):
        ingest(ws, [str(f)])


def test_alpaca_rendered_and_fields_kept(ws, tmp_path):
    f = tmp_path / "alpaca.json"
    f.write_text(
        json.dumps(
            [
                {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
                {"instruction": "Name a colour.", "input": "", "output": "Blue"},
            ]
        )
    )
    ingest(ws, [str(f)])
    assert texts(ws) == ["Add the numbers.\n\n2 and 3\n\n5", "Name a colour.\n\nBlue"]
    assert rows(ws, "SELECT instruction, input, output FROM corpus ORDER BY _row")[1] == ("Name a colour.", "", "Blue")


def test_chat_messages_rendered_and_kept(ws, tmp_path):
    recs = [
        {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]},
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
    ]
    ingest(ws, [str(write_jsonl(tmp_path / "chat.jsonl", recs))])
    assert texts(ws) == ["user: Hi?\n\nassistant: Hello.", "user: 2+2?\n\nassistant: 4"]
    assert rows(ws, "SELECT messages[2].content FROM corpus ORDER BY _row") == [("Hello.",), ("4",)]


# ---------------------------------------------------------------- ids and sources
def test_ids_are_stable_and_match_read_documents(tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", DOCS)
    ids = []
    for k in range(2):
        with Workspace.open(tmp_path / f"w{k}", create=True) as w:
            ingest(w, [str(f)], source="s")
            ids.append([r[0] for r in rows(w, "SELECT id FROM corpus ORDER BY _row")])
    reader = read_documents([str(f)], source="s")
    streamed = [i for b in reader for i in b.column("id").to_pylist()]
    assert ids[0] == ids[1] == streamed
    assert len(set(ids[0])) == 3
    assert reader.stats["read"] == 3 and reader.stats.ingested == 3


def test_fast_and_line_by_line_paths_give_the_same_ids(ws, tmp_path):
    clean = write_jsonl(tmp_path / "d.jsonl", DOCS)
    ingest(ws, [str(clean)], source="s")  # DuckDB fast path
    fast = rows(ws, "SELECT id, text FROM corpus ORDER BY _row")
    with clean.open("a") as fh:
        fh.write("{broken\n")  # forces the Python reader for the whole file
    out = ingest(ws, [str(clean)], source="s")
    assert out["skipped"] == {"malformed_json": 1}
    assert rows(ws, "SELECT id, text FROM corpus ORDER BY _row") == fast


def test_id_field_and_duplicate_ids_are_an_error(ws, tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"key": "k1", "text": "a"}, {"key": "k2", "text": "b"}])
    ingest(ws, [str(f)], id_field="key")
    assert rows(ws, "SELECT id FROM corpus ORDER BY id") == [("k1",), ("k2",)]
    before = state(ws)
    dup = write_jsonl(
        tmp_path / "dup.jsonl", [{"key": "x", "text": "a"}, {"key": "y", "text": "b"}, {"key": "x", "text": "c"}]
    )
    with pytest.raises(IngestError, match=r"duplicate ids in source 'dup': 'x' x2 \(first at dup.jsonl:1\)"):
        ingest(ws, [str(dup)], id_field="key")
    clash = write_jsonl(tmp_path / "clash.jsonl", [{"key": "k2", "text": "z"}])
    with pytest.raises(IngestError, match=r"ids of source 'clash' already exist in source 'd': 'k2'"):
        ingest(ws, [str(clash)], id_field="key")
    assert state(ws) == before


def test_reingest_replaces_a_source(ws, tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", DOCS)
    ingest(ws, [str(f)], source="s")
    ingest(ws, [str(f)], source="s")
    assert rows(ws, "SELECT count(*) FROM corpus") == [(3,)]
    write_jsonl(f, DOCS[:1])
    ingest(ws, [str(f)], source="s")
    assert rows(ws, "SELECT count(*) FROM corpus") == [(1,)]
    assert rows(ws, "SELECT name, n_docs FROM sources") == [("s", 1)]
    assert rows(ws, "SELECT count(*), sum(ingested) FROM ingest_log") == [(3, 7)]


def test_glob_directory_and_source_names(ws, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(3):
        write_jsonl(shards / f"part-{i}.jsonl.gz", [{"text": f"shard {i} doc {j}"} for j in range(2)], compress="gzip")
    out = ingest(ws, [str(shards / "*.jsonl.gz")])
    assert [(s["source"], s["files"], s["ingested"]) for s in out["sources"]] == [("shards", 3, 6)]
    assert rows(ws, "SELECT DISTINCT _file FROM corpus ORDER BY 1") == [(f"part-{i}.jsonl.gz",) for i in range(3)]
    out = ingest(ws, [str(shards)], source="again")
    assert out["ingested"] == 6
    assert rows(ws, "SELECT count(DISTINCT id) FROM corpus") == [(12,)]


def test_a_folder_of_different_datasets_gets_one_source_each(ws, tmp_path):
    """A folder holding shards of one dataset is one source; a folder of different datasets (as realmix's raw/
    is: reviews CSV, instructions JSON, web JSONL shards) gets a source per dataset, shards kept together."""
    mixed = tmp_path / "raw"
    mixed.mkdir()
    for i in (91, 174):
        write_jsonl(mixed / f"cc_en_head-{i:04d}.jsonl", [{"text": f"web {i} doc {j}"} for j in range(2)])
    write_jsonl(mixed / "alpaca_5000.jsonl", [{"text": "an instruction"}])
    (mixed / "reviews.csv").write_text("text,label\nnice room,1\nawful food,0\n")
    out = ingest(ws, [str(mixed)])
    got = sorted((s["source"], s["files"], s["ingested"]) for s in out["sources"])
    assert got == [("alpaca", 1, 1), ("cc_en_head", 2, 4), ("reviews", 1, 2)]
    out = ingest(ws, [str(mixed)], source="all")  # --source still puts everything in one
    assert [(s["source"], s["ingested"]) for s in out["sources"]] == [("all", 7)]


def test_limit(ws, tmp_path):
    f = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}"} for i in range(50)])
    g = write_jsonl(tmp_path / "e.jsonl", [{"text": f"u{i}"} for i in range(50)])
    out = ingest(ws, [str(f), str(g)], limit=7)
    assert out["ingested"] == 7 and rows(ws, "SELECT count(*) FROM corpus") == [(7,)]
    assert [b.num_rows for b in read_documents([str(f)], limit=5)] == [5]


def test_schema_drift_across_batches_keeps_every_value(ws, tmp_path, monkeypatch):
    from app.ingest import formats

    monkeypatch.setattr(formats, "BATCH_ROWS", 2)
    recs = [
        {"text": "a", "v": 1, "m": {"x": 1}},
        {"text": "b", "v": 2},
        {"text": "c", "v": 2.5, "new": True},
        {"text": "d", "v": "seven", "m": {"x": 2, "y": "q"}},
        {"text": "e", "v": None},
    ]
    f = write_jsonl(tmp_path / "drift.jsonl", recs)
    with f.open("a") as fh:
        fh.write("\n")  # a blank line: the line-by-line path
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 5 and out["skipped"] == {"blank_line": 1}
    got = rows(ws, "SELECT text, v, new FROM corpus ORDER BY _row")
    assert [g[1] for g in got] == ["1", "2", "2.5", "seven", None]
    assert got[2][2] is True


# ---------------------------------------------------------------- bad input
def test_bad_jsonl_lines_are_counted_with_line_numbers(ws, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_bytes(
        b'{"text": "good one"}\n'
        b"{not json\n"
        b'{"text": "bad \xff\xfe bytes"}\n'
        b"\n"
        b'{"text": null}\n'
        b'{"other": "no text"}\n'
        b'{"text": "   \\n "}\n'
        b"[1, 2]\n"
        b'{"text": "good two"}\n'
    )
    out = ingest(ws, [str(f)])
    assert out["skipped"] == {
        "blank_line": 1,
        "empty_text": 1,
        "invalid_utf8": 1,
        "malformed_json": 1,
        "missing_text": 2,
        "not_an_object": 1,
    }
    assert out["skipped_first"]["missing_text"] == ["bad.jsonl:5", "bad.jsonl:6"]
    assert out["skipped_first"]["malformed_json"] == ["bad.jsonl:2"]
    assert out["read"] == out["ingested"] + sum(out["skipped"].values()) == 9
    assert texts(ws) == ["good one", "good two"]
    log = rows(ws, "SELECT read, ingested, skipped->>'$.invalid_utf8' FROM ingest_log")
    assert log == [(9, 2, "1")]


def test_bad_csv_rows_are_counted(ws, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_bytes(b'a,text\n1,fine\n2,"bad \xff"\n3,too,many\n4,\n5,"also fine"\n')
    out = ingest(ws, [str(f)])
    assert out["skipped"] == {"bad_field_count": 1, "empty_text": 1, "invalid_utf8": 1}
    assert out["skipped_first"]["bad_field_count"] == ["bad.csv:4"]
    assert texts(ws) == ["fine", "also fine"]


def test_strict_fails_and_leaves_workspace_unchanged(ws, tmp_path):
    ingest(ws, [str(write_jsonl(tmp_path / "ok.jsonl", DOCS))])
    before = state(ws)
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "x"}\n{oops\n')
    with pytest.raises(IngestError, match=r"malformed json at bad.jsonl:2 \(--strict\)"):
        ingest(ws, [str(f)], strict=True)
    assert state(ws) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.parquet", b"PAR1 this is not parquet", "cannot read Parquet file"),
        ("notes.docx", b"whatever", "unsupported file format"),
        ("array.json", b'[{"text": "a"}, {"text": ', "malformed JSON array"),
    ],
)
def test_unreadable_input_fails_atomically(ws, tmp_path, name, content, message):
    ingest(ws, [str(write_jsonl(tmp_path / "ok.jsonl", DOCS))], source="keep")
    before = state(ws)
    bad = tmp_path / name
    bad.write_bytes(content)
    good = write_jsonl(tmp_path / "new.jsonl", DOCS[:1])
    with pytest.raises(IngestError, match=message):
        ingest(ws, [str(good), str(bad)], source="keep")  # would replace 'keep' if it succeeded
    assert state(ws) == before
    assert texts(ws) == [d["text"] for d in DOCS]


def test_missing_path_and_empty_input(ws, tmp_path):
    with pytest.raises(IngestError, match="no such file or directory"):
        ingest(ws, [str(tmp_path / "nope.jsonl")])
    with pytest.raises(IngestError, match="no supported files match"):
        ingest(ws, [str(tmp_path / "*.jsonl")])
    empty = tmp_path / "only_bad.jsonl"
    empty.write_text("{x\n{y\n")
    with pytest.raises(IngestError, match=r"no documents could be read .*malformed_json"):
        ingest(ws, [str(empty)])


# ---------------------------------------------------------------- Hugging Face paths (local, no network)
def test_save_to_disk_dataset_and_datasetdict(ws, tmp_path):
    import datasets

    ds = datasets.Dataset.from_list([{"content": f"saved {i}", "k": i} for i in range(4)])
    ds.save_to_disk(str(tmp_path / "one"))
    datasets.DatasetDict({"train": ds, "test": ds.select(range(2))}).save_to_disk(str(tmp_path / "dd"))
    out = ingest(ws, [str(tmp_path / "one"), str(tmp_path / "dd")])
    assert {s["source"]: s["ingested"] for s in out["sources"]} == {"one": 4, "dd": 6}
    assert rows(ws, "SELECT split, count(*) FROM corpus WHERE source = 'dd' GROUP BY 1 ORDER BY 1") == [
        ("test", 2),
        ("train", 4),
    ]
    assert texts(ws, "one") == [f"saved {i}" for i in range(4)]


def test_hf_prefix_streams_local_data_through_load_dataset(ws, tmp_path):
    d = tmp_path / "hfdata"
    d.mkdir()
    write_jsonl(d / "train.jsonl", [{"text": f"hf doc {i}"} for i in range(5)])
    out = ingest(ws, [f"hf:{d}"], limit=3)
    assert out["sources"][0]["source"] == "hfdata" and out["ingested"] == 3
    assert texts(ws) == ["hf doc 0", "hf doc 1", "hf doc 2"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("hf:allenai/c4:en/validation", {"name": "allenai/c4", "config": "en", "split": "validation"}),
        ("hf:org/name/test", {"name": "org/name", "config": None, "split": "test"}),
        ("hf:imdb", {"name": "imdb", "config": None, "split": None}),
        ("hf:squad:plain_text", {"name": "squad", "config": "plain_text", "split": None}),
    ],
)
def test_parse_hf(spec, expected):
    from app.ingest.sources import parse_hf

    assert parse_hf(spec) == expected


# ---------------------------------------------------------------- property: texts round-trip exactly
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()), min_size=1, max_size=8))
def test_texts_round_trip_exactly(tmp_path_factory, docs):
    d = tmp_path_factory.mktemp("rt")
    f = write_jsonl(d / "rt.jsonl", [{"text": t} for t in docs])
    got = [t for b in read_documents([str(f)]) for t in b.column("text").to_pylist()]
    assert got == docs
    with Workspace.open(d / "ws", create=True) as w:
        ingest(w, [str(f)])
        assert texts(w) == docs
        assert rows(w, f"SELECT count(*) FROM {source_table('rt')} WHERE text_hash = md5(text)") == [(len(docs),)]


# ---------------------------------------------------------------- CLI
def test_cli_ingest_json_last_line_and_errors(tmp_path, capsys):
    from app.cli import main

    f = write_jsonl(tmp_path / "d.jsonl", DOCS)
    wsdir = tmp_path / "cliws"
    assert main(["ingest", str(f), "-w", str(wsdir)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("source d: read 3, ingested 3") for line in out)
    assert not any(line.startswith("{") for line in out)  # JSON only with --json
    assert main(["ingest", str(f), "-w", str(tmp_path / "jsonws"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ingested"] == 3 and summary["sources"][0]["source"] == "d"

    assert main(["ingest", str(tmp_path / "missing.csv"), "-w", str(wsdir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("winnow: error: no such file or directory")


def test_fields_first_seen_after_duckdbs_sample_are_kept(ws, tmp_path):
    """DuckDB samples 20,480 rows to type JSON; values beyond the sample must not become NULL or vanish."""
    recs = [{"text": f"d{i}", "score": None} for i in range(21_000)]
    recs += [{"text": f"e{i}", "score": i + 0.5, "late": "here"} for i in range(100)]
    f = write_jsonl(tmp_path / "late.jsonl", recs)
    out = ingest(ws, [str(f)])
    assert out["ingested"] == 21_100 and out["skipped"] == {}
    assert rows(ws, "SELECT count(score), count(late), max(score) FROM corpus") == [(100, 100, 99.5)]


def test_large_files_are_typed_from_a_spread_sample(ws, tmp_path, monkeypatch):
    from app.ingest import core, jsonl

    monkeypatch.setattr(jsonl, "SLICE_BYTES", 2048)
    monkeypatch.setattr(jsonl, "SAMPLE_SLICES", 8)
    monkeypatch.setattr(core.formats, "BATCH_ROWS", 8192)
    n = 6000
    recs = [
        {"text": f"doc {i}", "label": None if i < 4000 else i % 2 == 0, "tail": None if i < 5000 else f"t{i}"}
        for i in range(n)
    ]
    recs[3000]["rare"] = 7  # one line in the middle: only a full-schema pass is sure to see it
    f = write_jsonl(tmp_path / "big.jsonl", recs)
    assert f.stat().st_size > 4 * 8 * 2048  # the spread-sample path
    out = ingest(ws, [str(f)])
    assert out["ingested"] == n
    assert rows(ws, "SELECT count(label), count(tail), count(*) FILTER (WHERE label) FROM corpus") == [
        (2000, 1000, 1000)
    ]
    assert ws.columns("corpus")["label"] == "BOOLEAN"
    ingest(ws, [str(f)], full_schema=True)
    assert rows(ws, "SELECT rare FROM corpus WHERE rare IS NOT NULL") == [(7,)]


def test_csv_numbers_with_leading_zeros_stay_text(ws, tmp_path):
    f = tmp_path / "z.csv"
    f.write_text("zip,n,text\n01234,1,a\n5,2,b\n")
    ingest(ws, [str(f)])
    cols = ws.columns("corpus")
    assert cols["zip"] == "VARCHAR" and cols["n"] == "BIGINT"
    assert rows(ws, "SELECT zip FROM corpus ORDER BY _row") == [("01234",), ("5",)]
