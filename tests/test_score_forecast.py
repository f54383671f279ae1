"""``winnow score --dry-run``: a forecast from a random sample of the workspace, stored for the real run to compare."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from app.signals import forecast


def _workspace(path, n=600):
    from app.workspace import Workspace

    words = ["alpha", "beta", "gamma", "delta", "the", "of", "and", "river", "stone", "light"]
    texts = [" ".join(words[(i * 7 + j) % len(words)] for j in range(20 + i % 40)) + "." for i in range(n)]
    with Workspace.open(path, create=True) as ws:
        ws.write_source("s", pa.table({"id": [f"d{i:05d}" for i in range(n)], "text": texts}))
    return path


def test_rates_combine_workers_and_corpus_steps():
    f = {"doc_seconds_per_document": 0.002, "corpus_seconds_per_document": 0.0005, "startup_seconds": 3.0}
    assert forecast.seconds(f, documents=10_000, workers=1) == 28.0
    assert forecast.seconds(f, documents=10_000, workers=2) == 18.0  # only document families divide
    v = forecast.versus({**f, "peak_rss_bytes": 10**8}, took=19.8, documents=10_000, workers=2, peak_rss=2 * 10**8)
    assert v["forecast_seconds"] == 18.0 and v["error_pct"] == 10.0
    # more workers than cores divide no further; free cores take the sample's wall-per-CPU ratio out
    assert forecast.seconds({**f, "cores": 2}, documents=10_000, workers=8) == 18.0
    assert forecast.seconds(f, documents=10_000, workers=2, busy=1.5) == 13.0
    assert forecast.seconds(f, documents=10_000, workers=2, busy=0.5) == 18.0  # DuckDB's threads: not a discount


def test_a_busy_sample_says_so_and_prints_the_free_cores_time():
    f = {"documents": 10_000, "families": ["size"], "up_to_date": [], "sample": 4000, "workers": 2,
         "doc_seconds_per_document": 0.002, "corpus_seconds_per_document": 0.0, "startup_seconds": 3.0,
         "assumes": "x", "peak_rss_bytes": 10**8, "sample_peak_rss_bytes": 10**8, "memory_limit": "4GB",
         "forecast_seconds": 13.0, "sample_wall_per_cpu": 1.6, "free_cores_seconds": 9.3}  # fmt: skip
    assert "the sample took 1.6x its CPU time" in forecast.describe(f) and "9.3 s on free cores" in forecast.describe(f)
    del f["free_cores_seconds"]
    assert "free cores" not in forecast.describe(f)


def test_too_small_a_sample_is_one_line(tmp_path):
    from app.errors import SignalError

    with pytest.raises(SignalError, match="at least"):
        forecast.forecast_score(_workspace(tmp_path / "ws", 10), sample=50)


@pytest.mark.slow
def test_dry_run_writes_nothing_then_the_run_reports_how_close(tmp_path, monkeypatch, capsys):
    from app.cli import main
    from app.workspace import Workspace

    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path / "cache"))
    ws = _workspace(tmp_path / "ws")
    base = ["score", "-w", str(ws), "-s", "size,gopher_quality,dedup_near"]
    assert main([*base, "--dry-run", "400", "--json"]) == 0
    f = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert f["documents"] == 600 and f["sample"] == 400 and f["families"] == ["size", "gopher_quality", "dedup_near"]
    assert f["forecast_seconds"] > f["startup_seconds"] >= 0 and f["peak_rss_bytes"] > 50e6
    with Workspace.open(ws, read_only=True) as w:  # nothing was scored in the workspace
        assert not w.has_table("_signal_runs")
    assert main(base) == 0
    assert "forecast " in capsys.readouterr().out
    # now up to date: a second dry run forecasts nothing to do
    assert main([*base, "--dry-run", "400"]) == 0
    assert "every requested family is up to date" in capsys.readouterr().out


def test_forecast_measures_a_sample_and_leaves_the_workspace_alone(tmp_path):
    from app.workspace import Workspace

    ws = _workspace(tmp_path / "ws", 300)
    f = forecast.forecast_score(ws, signals="size,dedup_exact", sample=200, workers=2)
    assert f["documents"] == 300 and f["sample"] == 200 and f["families"] == ["size", "dedup_exact"]
    assert f["doc_seconds_per_document"] >= 0 and f["forecast_seconds"] >= f["startup_seconds"] > 0
    assert f["forecast_seconds"] == forecast.seconds(f, documents=300, workers=2)
    assert f["sample_wall_per_cpu"] > 0 and f["cores"] >= 1
    with Workspace.open(ws, read_only=True) as w:
        assert not w.has_table("_signal_runs")
    assert "families to score: size, dedup_exact" in forecast.describe(f)
