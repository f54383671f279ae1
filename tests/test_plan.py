"""The forecast before a headless run (``winnow apply --input ... --dry-run``): counts, estimates, errors."""

from __future__ import annotations

import gzip
import json

import pytest

from app.export import plan


def _write(path, n, start=0):
    import random

    rnd = random.Random(start)  # random words: compressed files about as dense as real text
    rows = "".join(json.dumps({"id": f"d{i}", "text": " ".join(f"{rnd.getrandbits(24):x}" for _ in range(i % 50 + 5))})
                   + "\n" for i in range(start, start + n))  # fmt: skip
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(rows)
    else:
        path.write_text(rows)


def test_counts_exact_and_estimated(tmp_path, monkeypatch):
    _write(tmp_path / "a.jsonl", 1234)
    assert plan.count_documents([str(tmp_path / "a.jsonl")]) == (1234, "exact")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["x", "y"], "text": ["a", "b"]}), tmp_path / "b.parquet")
    assert plan.count_documents([str(tmp_path / "a.jsonl"), str(tmp_path / "b.parquet")]) == (1236, "exact")
    _write(tmp_path / "c.jsonl.gz", 20000)
    monkeypatch.setattr(plan, "SNIFF", 1 << 20)  # read only part of the file: an estimate
    monkeypatch.setattr(plan, "BLOCK", 1 << 16)
    n, how = plan.count_documents([str(tmp_path / "c.jsonl.gz")])
    assert how == "estimated" and abs(n - 20000) / 20000 < 0.1
    # two gzip members (concatenated files), read past the first: the estimate holds across them
    body = (tmp_path / "c.jsonl.gz").read_bytes()
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress(b'{"id": "x", "text": "y"}\n' * 500) + body)
    n, how = plan.count_documents([str(tmp_path / "d.jsonl.gz")])
    assert how == "estimated" and abs(n - 20500) / 20500 < 0.1
    (tmp_path / "e.jsonl.gz").write_bytes(body[:100] + b"not gzip data" * 100 + body[100:])
    from app.errors import ExportError

    with pytest.raises(ExportError, match="cannot read gzip file"):
        plan.count_documents([str(tmp_path / "e.jsonl.gz")])
    n, how = plan.count_documents([str(tmp_path / "c.jsonl.gz")])
    assert how == "estimated" and abs(n - 20000) / 20000 < 0.1
    from app.errors import IngestError

    with pytest.raises(IngestError, match="no supported files match"):
        plan.count_documents([str(tmp_path / "none*.jsonl")])


@pytest.mark.slow
def test_forecast_runs_the_recipe_on_a_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(plan, "MIN_MARGIN_CPU", 0.0)  # the sample as asked
    _write(tmp_path / "a.jsonl", 3000)
    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    f = plan.forecast(str(r), [str(tmp_path / "a.jsonl")], sample=800, id_field="id", tokens="estimate")
    assert f["documents"] == 3000 and f["sample"] == 800
    assert f["docs_per_second_per_process"] > 0 and f["forecast_seconds"] > 0 and f["peak_rss_bytes"] > 10e6
    assert "3,000 documents (exact)" in plan.describe(f)
    assert not (tmp_path / "out").exists()


def test_a_sample_too_quick_to_time_grows(tmp_path, monkeypatch):
    """The rate comes from the CPU seconds the larger sample's extra documents took; under MIN_MARGIN_CPU (a
    cheap recipe: noise) the sample grows 4x, the last becoming the smaller, and the forecast says so."""
    _write(tmp_path / "a.jsonl", 100_000)
    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    measured: list[int] = []

    def fake(recipe, spec, n, kw):  # 0.1 ms of CPU per document (a quarter of it the signals), its wall time twice
        measured.append(n)  # that; 1 s of start-up
        return 1.0 + n * 2e-4, 0.5 + n * 1e-4, 0.1 + n * 0.25e-4, 10**8, n, ["gopher_quality"]

    monkeypatch.setattr(plan, "_measure", fake)
    monkeypatch.setattr(plan, "_child", lambda *a: (10**8,))  # the worker probe
    f = plan.forecast(str(r), [str(tmp_path / "a.jsonl")], sample=4000, id_field="id", tokens="estimate")
    assert measured == [1000, 4000, 16_000, 64_000]  # 0.3, 1.2, then 4.8 CPU-s between the last two
    assert f["sample"] == 64_000 and f["sample_asked"] == 4000
    assert f["docs_per_second_per_process"] == 10_000 and f["sample_wall_per_cpu"] == 2.0
    assert f["driver_share"] == 0.75
    text = plan.describe(f)
    assert "grown from 4,000" in text and "75% of it the driver's" in text
    assert "the sample took 2.0x its CPU time" in text and "on free cores" in text
    # two workers take the signals; the driver's 75 us per document does not divide: 75 s for 1M documents on
    # free cores, twice that at the sample's load
    assert plan_check_seconds(f, 1_000_000, workers=2) == pytest.approx(f["startup_seconds"] + 150.0, abs=0.2)
    assert plan_check_seconds(f, 1_000_000, workers=1) == pytest.approx(f["startup_seconds"] + 200.0, abs=0.2)
    assert f["free_cores_seconds"] == pytest.approx(f["startup_seconds"] + 10.0, abs=0.2)  # 100,000 in 1 process


def plan_check_seconds(f, documents, *, workers):
    from app.export.plan_check import versus

    return versus(f, took=1.0, documents=documents, workers=workers, peak_rss=1)["forecast_seconds"]


def test_cli_dry_run_errors(tmp_path, capsys):
    from app.cli import main

    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    assert main(["apply", "--recipe", str(r), "--dry-run", "--workspace", str(tmp_path / "ws")]) != 0
    assert "--dry-run forecasts a headless run" in capsys.readouterr().err
    assert main(["apply", "--recipe", str(r), "--input", str(tmp_path / "x.jsonl")]) != 0
    assert "give --out DIR" in capsys.readouterr().err


def _skewed(path, n):
    """Documents that start short and grow (as in shards ordered by id): the first ones are not like the rest."""
    path.write_text("".join(json.dumps({"id": f"d{i:06d}", "text": "word " * (1 + i * 200 // n)}) + "\n"
                            for i in range(n)))  # fmt: skip


def _sampled_texts(specs):
    from app.ingest.reader import DocumentReader

    return [t for b in DocumentReader(specs, id_field="id") for t in b.column("text").to_pylist()]


def test_sample_spreads_across_files_and_formats(tmp_path):
    """The dry-run sample comes from every file and from all through each file, in each format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from app.export.plan_sample import sample_inputs

    d = tmp_path / "in"
    d.mkdir()
    _skewed(d / "a.jsonl", 4000)
    rows = [json.loads(x) for x in (d / "a.jsonl").read_text().splitlines()]
    with gzip.open(d / "b.jsonl.gz", "wt") as f:
        f.write("".join(json.dumps({**r, "id": "b" + r["id"]}) + "\n" for r in rows))
    pq.write_table(
        pa.Table.from_pylist([{**r, "id": "c" + r["id"]} for r in rows]), d / "c.parquet", row_group_size=500
    )
    each, how = plan.count_each([str(d / "*")])
    assert how == "estimated" and [c for _, c in each][::2] == [4000, 4000]
    specs, drawn = sample_inputs([str(d / "*")], each, 600, tmp_path / "s")
    texts = _sampled_texts(specs)
    assert 550 <= len(texts) <= 700 and drawn == "spread across every input file"
    mean_all = sum(len(r["text"]) for r in rows) / len(rows)
    mean_first = sum(len(r["text"]) for r in rows[: len(texts)]) / len(texts)
    mean_sample = sum(map(len, texts)) / len(texts)
    assert abs(mean_sample - mean_all) / mean_all < 0.15 < abs(mean_first - mean_all) / mean_all
    from app.ingest.sources import derive_source_name

    got_sources = {s for b in __import__("app.ingest.reader", fromlist=["x"]).DocumentReader(specs, id_field="id")
                   for s in b.column("source").to_pylist()}  # fmt: skip
    assert got_sources == {derive_source_name(str(d / "*"))}  # the sample keeps the input's source name


@pytest.mark.parametrize("long_first", [True, False])
def test_the_sample_draws_documents_not_bytes(tmp_path, long_first):
    """Long and short documents grouped in a file (as sources, lengths or languages often are): the sample's
    documents are as long as the file's on average (evenly spaced byte offsets landed in the long ones' bytes:
    a sample about twice the mean length here)."""
    from app.export.plan_sample import sample_inputs

    short = [{"id": f"s{i}", "text": "short text"} for i in range(3000)]
    long = [{"id": f"l{i}", "text": "a much longer document " * 40} for i in range(1000)]
    rows = long + short if long_first else short + long
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    each, _ = plan.count_each([str(tmp_path / "a.jsonl")])
    texts = _sampled_texts(sample_inputs([str(tmp_path / "a.jsonl")], each, 400, tmp_path / "s")[0])
    mean_all = sum(len(r["text"]) for r in rows) / len(rows)
    assert len(texts) == 400
    assert abs(sum(map(len, texts)) / len(texts) - mean_all) / mean_all < 0.15


@pytest.mark.parametrize("lines", [[0], [0, 1, 5], [3, 999], [0, 400, 2999, 3000, 3001], [7, 8, 9, 2047]])
@pytest.mark.parametrize("tail", [b"", b"last line without a newline", b"\n\n"])
def test_line_index(tmp_path, monkeypatch, lines, tail):
    """The index counts the file's lines as a reader does and finds where each asked line starts, with lines
    that cross its blocks' bounds."""
    from app.export import plan_sample

    monkeypatch.setattr(plan_sample, "STEP", 37)  # lines across blocks
    body = b"".join(b"line %d %s\n" % (i, b"x" * (i % 7)) for i in range(3000)) + tail
    (tmp_path / "a").write_bytes(body)
    starts = [0] + [i + 1 for i, c in enumerate(body) if c == 10]
    n = len(body.splitlines())
    idx = plan_sample.LineIndex(str(tmp_path / "a"))
    assert idx.lines == n
    assert idx.starts(lines) == [starts[k] if k < n else len(body) for k in lines]


def test_line_index_of_an_empty_file(tmp_path):
    from app.export.plan_sample import LineIndex

    (tmp_path / "a").write_bytes(b"")
    idx = LineIndex(str(tmp_path / "a"))
    assert idx.lines == 0 and idx.starts([0, 3]) == [0, 0]


def test_the_dry_run_reads_a_plain_file_once(tmp_path, monkeypatch):
    """Counting and every sample size share one index per file (a 10M forecast read 2.6 GB of shards once to
    count and once more per sample size)."""
    from app.export import plan_sample
    from app.export.plan_sample import sample_inputs

    _write(tmp_path / "a.jsonl", 3000)
    built = []
    real = plan_sample.LineIndex.__init__
    monkeypatch.setattr(plan_sample.LineIndex, "__init__", lambda self, p: (built.append(p), real(self, p))[1])
    index: dict = {}
    each, _ = plan.count_each([str(tmp_path / "a.jsonl")], index=index)
    for n in (250, 1000):
        sample_inputs([str(tmp_path / "a.jsonl")], each, n, tmp_path / f"s{n}", index=index)
    assert built == [str(tmp_path / "a.jsonl")]


def test_small_files_are_used_whole(tmp_path):
    from app.export.plan_sample import sample_inputs

    _write(tmp_path / "a.jsonl", 50)
    each, _ = plan.count_each([str(tmp_path / "a.jsonl")])
    specs, _ = sample_inputs([str(tmp_path / "a.jsonl")], each, 400, tmp_path / "s")
    assert len(_sampled_texts(specs)) == 50


def test_forecast_is_stored_and_compared(tmp_path, monkeypatch):
    from app.export import plan_check
    from app.recipes import load_recipe

    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    _write(tmp_path / "a.jsonl", 100)
    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    rec = load_recipe(r)
    key = plan_check.forecast_key(rec, [str(tmp_path / "a.jsonl")], {"tokens": "estimate"})
    assert plan_check.load(key) is None
    f = {"docs_per_second_per_process": 100.0, "startup_seconds": 2.0, "peak_rss_bytes": 10**8}
    assert plan_check.save(f, key) is not None and plan_check.load(key) == f
    # another option, recipe or a changed input file: another key
    assert key != plan_check.forecast_key(rec, [str(tmp_path / "a.jsonl")], {"tokens": "size_tokens"})
    _write(tmp_path / "a.jsonl", 101)
    assert key != plan_check.forecast_key(rec, [str(tmp_path / "a.jsonl")], {"tokens": "estimate"})
    v = plan_check.versus(f, took=13.2, documents=2000, workers=2, peak_rss=2 * 10**8)
    assert v["forecast_seconds"] == 12.0 and v["error_pct"] == 10.0
    assert plan_check.line(v).startswith("forecast 12.0 s, took 13.2 s (+10%)")
    (tmp_path / "cache" / "forecasts" / f"{key}.json").write_text("{not json")
    assert plan_check.load(key) is None


@pytest.mark.slow
def test_dry_run_then_run_reports_how_close(tmp_path, monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    _skewed(tmp_path / "a.jsonl", 3000)
    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    base = ["apply", "--recipe", str(r), "--input", str(tmp_path / "a.jsonl"), "--id-field", "id",
            "--tokens", "estimate"]  # fmt: skip
    assert main([*base, "--dry-run", "400"]) == 0
    out = capsys.readouterr().out
    assert "per worker process: about" in out and "spread across every input file" in out
    assert main([*base, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "forecast " in out and ", took " in out
    m = json.loads((tmp_path / "out" / "__winnow__" / "manifest.json").read_text())
    fc = m["source"]["forecast"]
    assert fc["documents"] == 3000 and fc["took_seconds"] > 0 and fc["forecast_peak_rss_bytes"] > 10e6


@pytest.mark.parametrize("kind", ["gz", "zst", "gz-big"])
def test_a_truncated_compressed_input_is_one_line(tmp_path, kind):
    """The dry run reads compressed inputs itself (the count estimate, the sample): a file cut short is one
    WinnowError naming it, as in ingest and apply, not an EOFError from the decompressor."""
    from app.errors import WinnowError

    n = 20000 if kind == "gz-big" else 3000
    body = b"".join(json.dumps({"id": f"d{i}", "text": f"document {i} " * 20}).encode() + b"\n" for i in range(n))
    if kind == "zst":
        import zstandard

        data = zstandard.ZstdCompressor().compress(body)
    else:
        data = gzip.compress(body)
    path = tmp_path / f"a.jsonl.{kind.split('-')[0]}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WinnowError, match="truncated") as e:
        plan.count_documents([str(path)])
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_other_formats_are_estimated_plain_or_compressed(tmp_path):
    """CSV (plain, gzip, zstd): counted from the first file's lines per stored byte, as before."""
    import zstandard

    body = "id,text\n" + "".join(f"d{i},document number {i}\n" for i in range(3000))
    (tmp_path / "a.csv").write_text(body)
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(body.encode()))
    (tmp_path / "c.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(body.encode()))
    for name in ("a.csv", "b.csv.gz", "c.csv.zst"):
        n, how = plan.count_documents([str(tmp_path / name)])
        assert how == "estimated" and abs(n - 3001) <= 30, (name, n)
