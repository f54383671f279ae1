"""Instruction-data signals (issue 20.3): empty/echoed outputs, length ratio, placeholders, refusals, template
frequency, read from the Alpaca fields or chat turns that ingest keeps; NULL for records without them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.ingest import ingest
from app.signals import engine
from app.signals._instruct import norm
from app.signals.instruct_output import echo_jaccard, output_echo, output_empty
from app.signals.instruct_placeholder import placeholders
from app.signals.instruct_ratio import length_ratio
from app.signals.instruct_refusal import refusal_hits
from app.workspace import Workspace

FAMILIES = ["instruct_output", "instruct_ratio", "instruct_placeholder", "instruct_refusal", "instruct_template"]
ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, sleep, move."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "good morning!"},  # echo of input
    {"instruction": "Summarize the paragraph.", "input": "<noinput>", "output": "<nooutput>"},  # placeholders
    {"instruction": "Give three reasons to read.", "input": "N/A", "output": "   "},  # empty output, N/A input
    {
        "instruction": "Write a poem about hate.",
        "input": "",
        "output": "As an AI language model, I'm sorry, but I am unable to do that.",
    },
    {
        "instruction": "Describe a bird.",
        "input": "",
        "output": "Small and bright.\n\n11. Instruction: Summarize AI.\n11. Input:\n<noinput>\n11. Output:\nAI is ...",
    },
]
CHAT = [
    {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Give three tips for staying healthy."},
            {"role": "assistant", "content": "Eat well, sleep, move."},
        ]
    },
]


@pytest.fixture
def ws(tmp_path):
    a = tmp_path / "alpaca.json"
    a.write_text(json.dumps(ALPACA))
    c = tmp_path / "chat.jsonl"
    c.write_text("".join(json.dumps(r) + "\n" for r in CHAT))
    w = tmp_path / "web.jsonl"
    w.write_text(json.dumps({"id": "w1", "text": "A web page about birds and reading, not an instruction."}) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(a)], source="alpaca")
    ingest(ws, [str(c)], source="chat")
    ingest(ws, [str(w)], source="web")
    yield ws
    ws.close()


def _rows(ws) -> dict[str, dict]:
    cols = ["source", *(c for f in FAMILIES for c in engine.get_scorer(f).columns)]
    con = ws.cursor()
    res = con.execute(f"SELECT {', '.join(cols)} FROM corpus ORDER BY id").fetchall()
    return [dict(zip(cols, r)) for r in res]


def test_signals_over_alpaca_chat_and_web(ws):
    engine.score(ws, signals=FAMILIES)
    rows = _rows(ws)
    alpaca = [r for r in rows if r["source"] == "alpaca"]
    chat = next(r for r in rows if r["source"] == "chat")
    web = next(r for r in rows if r["source"] == "web")
    assert len(alpaca) == 6
    assert sum(r["instruct_output_empty"] for r in alpaca) == 2  # "<nooutput>" and blanks
    assert sum(r["instruct_output_echo"] for r in alpaca) == 1
    kinds = sorted(r["instruct_placeholder_kinds"] or "" for r in alpaca)
    assert "na" in kinds and "noinput,nooutput" in kinds and "noinput,template_leak" in kinds
    assert max(r["instruct_refusal_hits"] for r in alpaca) == 3
    # the chat record: first user turn and last assistant turn, not the system prompt
    assert chat["instruct_template"] == "give three tips" and chat["instruct_template_count"] == 2
    assert chat["instruct_output_empty"] is False and chat["instruct_refusal_hits"] == 0
    assert chat["instruct_prompt_chars"] == len("Give three tips for staying healthy.")
    # a record without instruction fields: NULL everywhere
    assert all(v is None for k, v in web.items() if k != "source")
    give = [r for r in alpaca if r["instruct_template"] and r["instruct_template"].startswith("give three")]
    assert {r["instruct_template_count"] for r in give} == {2, 1}


def test_workspace_without_instruction_fields_gets_nulls(tmp_path):
    import pandas as pd

    ws = Workspace.open(tmp_path / "ws", create=True)
    ws.write_source("web", pd.DataFrame({"id": ["a", "b"], "text": ["one text here", "another text"]}))
    engine.score(ws, signals=FAMILIES)
    rows = _rows(ws)
    assert len(rows) == 2 and all(v is None for r in rows for k, v in r.items() if k != "source")
    ws.close()


def test_row_functions():
    assert output_empty(None) and output_empty(" ... ") and output_empty("N/A") and not output_empty("No.")
    assert output_echo("Say hi.", "", "say hi") and not output_echo("Say hi.", "", "hi there")
    assert not output_echo("", "", "")
    assert echo_jaccard("a b", "", "a b") == 1.0 and echo_jaccard("a", "", "") is None
    assert length_ratio("abcd", "", "ab") == 0.5 and length_ratio("", None, "abc") == 3.0
    assert placeholders("Write to [Your Name]", None, None) == (1, "slot")
    assert placeholders("Plain", "", "Plain answer.") == (0, None)
    assert refusal_hits("I’m sorry, but no.") == 1 and refusal_hits("I cannot wait to go!") == 0


@given(st.text(max_size=60), st.text(max_size=60), st.text(max_size=60))
def test_row_functions_total(a, b, c):
    """Any text gives values of the declared kinds (no exception), and normalisation is idempotent."""
    assert isinstance(output_empty(c), bool) and isinstance(output_echo(a, b, c), bool)
    j = echo_jaccard(a, b, c)
    assert j is None or 0.0 <= j <= 1.0
    assert length_ratio(a, b, c) >= 0
    hits, kinds = placeholders(a, b, c)
    assert (hits == 0) == (kinds is None)
    assert norm(norm(a)) == norm(a)


def test_template_words_option_is_checked():
    from app.errors import SignalError

    with pytest.raises(SignalError):
        engine.get_scorer("instruct_template")(words=0)


@pytest.mark.slow
def test_realmix_alpaca(realmix, tmp_path):
    """The 5,000 real Alpaca records: every record gets values, and the artefacts found are real ones."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(realmix / "raw" / "alpaca_5000.json")], source="instruct")
    engine.score(ws, signals=FAMILIES)
    con = ws.cursor()
    n, nulls, noinput, empty, top = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE instruct_len_ratio IS NULL),"
        " count(*) FILTER (WHERE instruct_placeholder_kinds LIKE '%noinput%'),"
        " count(*) FILTER (WHERE instruct_output_empty), max(instruct_template_count) FROM corpus"
    ).fetchall()[0]
    ws.close()
    assert n == 5000 and nulls == 0
    assert noinput >= 8 and empty >= 2 and top >= 100  # "what is the" opens 103 instructions


def test_chat_copy_of_an_alpaca_item_is_a_duplicate(tmp_path):
    """The same item as Alpaca fields and as a chat with a system prompt and role names: one cluster."""
    a = tmp_path / "a.json"
    a.write_text(
        json.dumps(
            [
                {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
                {"instruction": "Name a colour.", "input": "", "output": "Blue."},
            ]
        )
    )
    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Translate to French.\n\nGood morning"},
        {"role": "assistant", "content": "Bonjour"},
    ]
    c = tmp_path / "c.jsonl"
    c.write_text(json.dumps({"id": "chat1", "messages": chat}) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(a)], source="alpaca")
    ingest(ws, [str(c)], source="chat")
    engine.score(ws, signals=["instruct_dup"])
    rows = ws.cursor().execute("SELECT source, instruct_dup_size, instruct_dup_keep FROM corpus ORDER BY id").fetchall()
    ws.close()
    assert [r[1] for r in rows if r[0] == "chat"] == [2] and sorted(r[1] for r in rows) == [1, 2, 2]
    assert [r[2] for r in rows if r[1] == 2].count(True) == 1


@pytest.mark.slow
def test_realmix_chat_copies_found(realmix, tmp_path):
    """realmix's 5,000 Alpaca records plus chat copies of the first 300 (system prompt, user = instruction and
    input, assistant = output): every copy is in a cluster with its original."""
    items = json.loads((realmix / "raw" / "alpaca_5000.json").read_text())
    chat = tmp_path / "chat.jsonl"
    with chat.open("w") as f:
        for r in items[:300]:
            user = r["instruction"] + (f"\n\n{r['input']}" if r["input"].strip() else "")
            turns = [("system", "You are a helpful assistant."), ("user", user), ("assistant", r["output"])]
            f.write(json.dumps({"messages": [{"role": a, "content": b} for a, b in turns]}) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(realmix / "raw" / "alpaca_5000.json")], source="alpaca")
    ingest(ws, [str(chat)], source="chat")
    engine.score(ws, signals=["instruct_dup"])
    found, clustered = (
        ws.cursor()
        .execute(
            "SELECT count(*) FILTER (WHERE source = 'chat' AND instruct_dup_size > 1),"
            " count(*) FILTER (WHERE source = 'alpaca' AND instruct_dup_size > 1) FROM corpus"
        )
        .fetchall()[0]
    )
    ws.close()
    assert found == 300 and clustered >= 300
