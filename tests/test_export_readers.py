"""Exports every ordinary reader opens as a folder (issue 20.2): pandas, pyarrow, ``datasets`` (parquet and json
builders, ``load_from_disk``) and DuckDB, with the real clients, on Winnow's workspace and headless exports."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from app.export import MANIFEST, apply, check_out
from app.export.headless import apply_headless
from app.workspace import Workspace

N = 40
RECIPE = {"version": 1, "name": "readers", "dedup": {"exact": True}}


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    texts = [f"document number {i} with some words" for i in range(N)]
    w.write_source("web", pd.DataFrame({"id": [f"d{i:03d}" for i in range(N)], "text": texts}))
    yield w
    w.close()


def _datasets():
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    return datasets


@pytest.mark.parametrize("shards", [None, 15])
def test_parquet_folder_opens_in_every_reader(ws, tmp_path, shards):
    import duckdb
    import pyarrow.parquet as pq

    out = tmp_path / "pq"
    m = apply(ws, RECIPE, out, fmt="parquet", shard_size=shards)
    n = m["counts"]["kept_docs"]
    assert n == N and (out / MANIFEST).exists() and not (out / "manifest.json").exists()
    assert len(pd.read_parquet(out)) == n
    assert pq.read_table(out).num_rows == n
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/*.parquet')").fetchall()[0][0] == n
    ds = _datasets().load_dataset("parquet", data_dir=str(out), cache_dir=str(tmp_path / "c"))
    assert ds["train"].num_rows == n and set(ds["train"].column_names) >= {"id", "text"}


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz"])
def test_json_folder_opens_with_datasets_and_duckdb(ws, tmp_path, fmt):
    import duckdb

    out = tmp_path / "js"
    apply(ws, RECIPE, out, fmt=fmt)
    ds = _datasets().load_dataset("json", data_dir=str(out), cache_dir=str(tmp_path / "c"))
    assert ds["train"].num_rows == N
    assert duckdb.sql(f"SELECT count(*) FROM read_json_auto('{out}/*.{fmt}')").fetchall()[0][0] == N


def test_hf_folder_loads_from_disk(ws, tmp_path):
    datasets = _datasets()
    out = tmp_path / "hf"
    apply(ws, RECIPE, out, fmt="hf")
    assert len(datasets.load_from_disk(str(out))) == N
    assert json.loads((out / MANIFEST).read_text())["counts"]["kept_docs"] == N


def test_headless_export_opens_with_pandas(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"h{i}", "text": f"headless text {i} here"}) + "\n" for i in range(N)))
    out = tmp_path / "hl"
    apply_headless(RECIPE, [str(src)], out, tokens="estimate")
    assert len(pd.read_parquet(out)) == N
    assert (out / MANIFEST).exists()


def test_overwrite_still_recognises_exports(ws, tmp_path):
    out = tmp_path / "o"
    apply(ws, RECIPE, out)
    assert check_out(out, overwrite=True) == out  # its own manifest lists every file
    # an export written by an earlier Winnow (manifest.json among the shards) is still a previous export
    old = tmp_path / "old"
    apply(ws, RECIPE, old)
    (old / MANIFEST).rename(old / "manifest.json")
    (old / MANIFEST).parent.rmdir()
    assert check_out(old, overwrite=True) == old
    m = apply(ws, RECIPE, old, overwrite=True)
    assert m["counts"]["kept_docs"] == N and not (old / "manifest.json").exists()


def test_messages_schema_unifies_alpaca_and_chat(tmp_path, capsys):
    """--schema messages: Alpaca and chat records come out as one `messages` column that `datasets` reads;
    a record with neither is counted in the manifest (issue 20.9)."""
    from app.cli import main
    from app.ingest import ingest

    a = tmp_path / "a.json"
    a.write_text(
        json.dumps(
            [
                {"instruction": "Translate.", "input": "Good morning", "output": "Bonjour."},
                {"instruction": "Name a colour.", "input": "", "output": "Blue."},
            ]
        )
    )
    c = tmp_path / "c.jsonl"
    turns = [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]
    c.write_text(json.dumps({"conversations": turns}) + "\n")
    w = tmp_path / "w.jsonl"
    w.write_text(json.dumps({"text": "a web page"}) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    for path, name in ((a, "alpaca"), (c, "chat"), (w, "web")):
        ingest(ws, [str(path)], source=name)
    m = apply(ws, {"version": 1}, tmp_path / "out", schema="messages")
    ws.close()
    assert m["columns"] == ["id", "source", "messages"] and m["schema"] == {"name": "messages", "without_messages": 1}
    ds = _datasets().load_dataset("parquet", data_dir=str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    got = {r["source"] + str(i): r["messages"] for i, r in enumerate(ds["train"])}
    msgs = [v for v in got.values() if v]
    assert [
        {"role": "user", "content": "Translate.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour."},
    ] in msgs
    assert [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}] in msgs
    assert [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}] in msgs
    assert len(msgs) == 3 and len(got) == 4
    # the CLI headless, over records without instruction fields: one line, not a traceback
    (tmp_path / "r.yaml").write_text("version: 1\n")
    args = ["apply", "--input", str(w), "--recipe", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "o")]
    assert main([*args, "--schema", "messages"]) != 0
    assert "--schema messages needs instruction fields" in capsys.readouterr().err
