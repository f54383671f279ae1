"""``instruct_*`` signals and ``--schema messages`` in headless ``winnow apply --input`` (issue 20): the same values
and the same kept records as a workspace over the same files."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from app.errors import ExportError
from app.export import apply
from app.export.headless import apply_headless
from app.ingest import ingest
from app.signals import engine
from app.workspace import Workspace
from tests.test_instruct import ALPACA, CHAT

FAMILIES = ["instruct_output", "instruct_placeholder", "instruct_template", "instruct_dup", "instruct_ratio"]
RECIPE = """version: 1
rules:
  - {signal: instruct_output_empty, max: 0}
  - {signal: instruct_placeholder_hits, max: 0}
output:
  columns: [id, source, text, instruct_template, instruct_template_count, instruct_dup_cluster, instruct_dup_size,
            instruct_len_ratio]
"""


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "alpaca.json"
    a.write_text(json.dumps(ALPACA))
    chat = [*CHAT, {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": ""}]}]
    c = tmp_path / "chat.jsonl"
    c.write_text("".join(json.dumps(r) + "\n" for r in chat))
    return [str(a), str(c)]


def _rows(path) -> dict[str, dict]:
    tbl = pq.read_table(path)
    return {r["id"]: r for r in tbl.to_pylist()}


def test_headless_instruct_signals_equal_the_workspace(files, tmp_path):
    m = apply_headless(RECIPE, files, tmp_path / "h", fmt="parquet")
    ws = Workspace.open(tmp_path / "ws", create=True)
    for f, name in zip(files, ("alpaca", "chat")):
        ingest(ws, [f], source=name)
    engine.score(ws, signals=FAMILIES)
    w = apply(ws, RECIPE, tmp_path / "w", fmt="parquet")
    ws.close()
    head, work = _rows(tmp_path / "h"), _rows(tmp_path / "w")
    assert head == work and m["counts"]["kept_docs"] == w["counts"]["kept_docs"] == 4
    assert m["source"]["passes"] == 2 and "instruct_template" in m["source"]["signal_families"]
    assert m["source"]["instruct"]["fields"] and "instruct_dup_cluster" in m["source"]["instruct"]["columns"]
    # the chat copy of the first Alpaca item is in its cluster, named by a document id, not an ordinal
    sizes = {r["instruct_dup_cluster"]: r["instruct_dup_size"] for r in head.values()}
    assert 2 in sizes.values() and all(k in head or k in work for k in sizes)


def test_headless_messages_schema(files, tmp_path):
    m = apply_headless("version: 1\n", files, tmp_path / "h", fmt="parquet", schema="messages")
    tbl = pq.read_table(tmp_path / "h")
    assert tbl.column_names == ["id", "source", "messages"] and tbl.num_rows == len(ALPACA) + 2
    first = next(r for r in tbl.to_pylist() if r["source"] != "chat" and r["messages"][0]["content"].startswith("Tr"))
    assert first["messages"] == [
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "good morning!"},
    ]
    chat = [r for r in tbl.to_pylist() if r["messages"][0]["role"] == "system"]
    assert len(chat) == 1 and [t["role"] for t in chat[0]["messages"]] == ["system", "user", "assistant"]
    assert m["schema"] == {"name": "messages", "without_messages": 0}
    with pytest.raises(ExportError, match=r"output\.columns"):
        apply_headless(RECIPE, files, tmp_path / "h2", fmt="parquet", schema="messages")


def test_cli_apply_input_schema_messages(files, tmp_path, capsys):
    from app.cli import main

    recipe = tmp_path / "r.yaml"
    recipe.write_text("version: 1\n")
    args = ["apply", "--input", files[0], "--recipe", str(recipe), "--out", str(tmp_path / "o"), "--schema", "messages"]
    assert main(args) == 0
    assert pq.read_table(tmp_path / "o").column_names == ["id", "source", "messages"]
