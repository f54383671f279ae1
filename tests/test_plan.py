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
    from app.errors import IngestError

    with pytest.raises(IngestError, match="no supported files match"):
        plan.count_documents([str(tmp_path / "none*.jsonl")])


@pytest.mark.slow
def test_forecast_runs_the_recipe_on_a_sample(tmp_path):
    _write(tmp_path / "a.jsonl", 3000)
    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    f = plan.forecast(str(r), [str(tmp_path / "a.jsonl")], sample=800, id_field="id", tokens="estimate")
    assert f["documents"] == 3000 and f["sample"] == 800
    assert f["docs_per_second_per_process"] > 0 and f["forecast_seconds"] > 0 and f["peak_rss_bytes"] > 10e6
    assert "3,000 documents (exact)" in plan.describe(f)
    assert not (tmp_path / "out").exists()


def test_cli_dry_run_errors(tmp_path, capsys):
    from app.cli import main

    r = tmp_path / "r.yaml"
    r.write_text("name: r\nrules:\n  - {signal: gopher_word_count, min: 10}\n")
    assert main(["apply", "--recipe", str(r), "--dry-run", "--workspace", str(tmp_path / "ws")]) != 0
    assert "--dry-run forecasts a headless run" in capsys.readouterr().err
    assert main(["apply", "--recipe", str(r), "--input", str(tmp_path / "x.jsonl")]) != 0
    assert "give --out DIR" in capsys.readouterr().err
