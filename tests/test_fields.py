"""Text fields (issue 20): which fields signals, near dedup and embeddings see, stored in the workspace, part of
each derived column's fingerprint (recomputed when they change), shown by ``winnow fields`` / ``winnow info``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import fields
from app.errors import WorkspaceError
from app.ingest import ingest
from app.signals import engine
from app.workspace import Workspace

SYSTEM = "You are a helpful, honest and harmless assistant who always answers in full sentences."
ITEMS = [
    {"instruction": "Name a colour.", "input": "", "output": "Blue."},
    {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour."},
    {"instruction": "Give a synonym of happy.", "input": "", "output": "Glad."},
]


def _chat(rows: list[dict]) -> list[dict]:
    """Chat copies as a user would make them: a system prompt, user = instruction (+ input), assistant = output."""
    out = []
    for r in rows:
        user = r["instruction"] + (f"\n\n{r['input']}" if r["input"].strip() else "")
        turns = [("system", SYSTEM), ("user", user), ("assistant", r["output"])]
        out.append({"messages": [{"role": a, "content": b} for a, b in turns]})
    return out


def _workspace(tmp_path, items: list[dict], n_chat: int) -> Workspace:
    a = tmp_path / "alpaca.json"
    a.write_text(json.dumps(items))
    c = tmp_path / "chat.jsonl"
    c.write_text("".join(json.dumps(r) + "\n" for r in _chat(items[:n_chat])))
    w = tmp_path / "web.jsonl"
    w.write_text(json.dumps({"text": "A web page with no instruction fields at all.", "topic": "birds"}) + "\n")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(a)], source="alpaca")
    ingest(ws, [str(c)], source="chat")
    ingest(ws, [str(w)], source="web")
    return ws


def _copies_found(ws) -> int:
    q = "SELECT count(*) FILTER (WHERE source = 'chat' AND dup_near_size > 1) FROM corpus"
    return ws.cursor().execute(q).fetchone()[0]


def test_parse():
    assert fields.parse("instruction, input ,output") == ("instruction", "input", "output")
    assert fields.parse(None) is None and fields.parse("") is None and fields.parse("text") is None
    assert fields.parse(["output"]) == ("output",)
    for bad in ("a,,b", "a,a", "x y", "1abc", ",".join(f"f{i}" for i in range(17))):
        with pytest.raises(WorkspaceError):
            fields.parse(bad)


@given(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), min_size=1, max_size=8, unique=True))
def test_parse_label_round_trip(names):
    f = fields.parse(",".join(names))
    assert fields.parse(fields.label(f)) == f
    assert fields.from_tag("2:128" + fields.tag(f) + "@abc") == fields.label(f)


def test_chat_copies_found_only_when_dedup_sees_the_fields(tmp_path):
    ws = _workspace(tmp_path, ITEMS, n_chat=3)
    engine.score(ws, signals=["dedup_near"])
    assert _copies_found(ws) == 0  # role names and a long system prompt dominate short examples
    engine.score(ws, signals=["dedup_near"], fields="prompt,output")  # prompt: instruction + input, or user turn
    assert _copies_found(ws) == 3
    engine.score(ws, signals=["dedup_near"], fields="instruction,input,output")
    assert _copies_found(ws) == 3
    run = engine.runs(ws)["dedup_near"]
    assert fields.from_tag(run["version"]) == "instruction,input,output"
    # the web page has no fields: it is seen by its text, not dropped
    assert ws.cursor().execute("SELECT dup_near_size FROM corpus WHERE source = 'web'").fetchone()[0] == 1
    ws.close()


def test_workspace_setting_is_used_and_a_change_recomputes(tmp_path):
    ws = _workspace(tmp_path, ITEMS, n_chat=1)
    engine.score(ws, signals=["size"])
    q = "SELECT size_chars FROM corpus WHERE source = 'chat'"
    before = ws.cursor().execute(q).fetchone()[0]
    fields.put(ws.con, fields.parse("instruction,output"))
    assert fields.get(ws.con) == ("instruction", "output")
    res = engine.score(ws, signals=["size"])
    assert res["fields"] == "instruction,output" and res["families"]["size"]["computed"] == 5
    after = ws.cursor().execute(q).fetchone()[0]
    assert after == len("Name a colour.\n\nBlue.") < before
    assert engine.score(ws, signals=["size"])["families"]["size"]["computed"] == 0  # up to date
    fields.put(ws.con, None)
    assert engine.score(ws, signals=["size"])["families"]["size"]["computed"] == 5
    assert ws.cursor().execute(q).fetchone()[0] == before
    ws.close()


def test_unknown_field_is_one_clear_error(tmp_path):
    ws = _workspace(tmp_path, ITEMS, n_chat=1)
    with pytest.raises(WorkspaceError, match="no field 'answr'"):
        fields.put(ws.con, fields.parse("instruction,answr"))
    with pytest.raises(WorkspaceError, match="no field"):
        engine.score(ws, signals=["size"], fields="nope")
    ws.close()
    web = Workspace.open(tmp_path / "web", create=True)
    ingest(web, [str(tmp_path / "web.jsonl")], source="web")
    with pytest.raises(WorkspaceError, match="no instruction records"):
        engine.score(web, signals=["size"], fields="instruction")
    web.close()


def test_counts_and_metadata_field(tmp_path):
    ws = _workspace(tmp_path, ITEMS, n_chat=2)
    c = fields.counts(ws.cursor(), ("instruction", "input", "output"))
    assert c == {"documents": 6, "fields": {"instruction": 5, "input": 1, "output": 5}, "fallback": 1}
    rel = fields.relation(ws.cursor(), ("input",))
    got = dict(ws.cursor().execute(f"SELECT id, text FROM {rel} WHERE source = 'alpaca'").fetchall())
    assert sorted(v for v in got.values() if "\n\n" not in v) == ["Good morning"]  # blank inputs: the text
    rel = fields.relation(ws.cursor(), ("prompt",))
    prompts = sorted(r[0] for r in ws.cursor().execute(f"SELECT text FROM {rel} WHERE source != 'web'").fetchall())
    assert prompts.count("Translate to French.\n\nGood morning") == 2  # the Alpaca record and its chat copy
    rel = fields.relation(ws.cursor(), ("topic",))  # a metadata column
    assert ws.cursor().execute(f"SELECT text FROM {rel} WHERE source = 'web'").fetchone()[0] == "birds"
    ws.close()


def test_embeddings_follow_the_fields(tmp_path):
    from app.embed import embed, fields_of, get_embedder, load_vectors

    ws = _workspace(tmp_path, ITEMS, n_chat=3)
    emb = get_embedder("hash:16")
    first = embed(ws, embedder=emb)
    assert first["fields"] == "text" and first["embedded"] == 7
    res = embed(ws, embedder=emb, fields="instruction,input,output")
    # each chat copy's text is now its Alpaca original's rendered text (already embedded): nothing new to encode
    assert res["distinct_texts"] == 4 and res["embedded"] == 0 and res["cached"] == 4
    assert fields_of(ws) == {emb.key: "instruction,input,output"}
    ids, vecs, _ = load_vectors(ws)
    by = dict(zip(ids, vecs))
    src = dict(ws.cursor().execute("SELECT id, source FROM docs").fetchall())
    chat = sorted(i for i in ids if src[i] == "chat")
    alpaca = [i for i in ids if src[i] == "alpaca"]
    assert len(ids) == 7 and all(any((by[c] == by[a]).all() for a in alpaca) for c in chat)
    fields.put(ws.con, None)  # the map keeps the fields its vectors were made from until the next embed
    assert (load_vectors(ws)[1] == vecs).all()
    ws.close()


def test_fields_command(tmp_path, capsys):
    from app.cli import main

    ws = _workspace(tmp_path, ITEMS, n_chat=1)
    ws.close()
    w = str(tmp_path / "ws")
    assert main(["fields", "set", "instruction,output", "-w", w]) == 0
    assert "instruction,output" in capsys.readouterr().out
    assert main(["score", "-s", "size", "-w", w, "--json"]) == 0
    capsys.readouterr()
    assert main(["fields", "show", "-w", w, "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["fields"] == "instruction,output" and res["computed_from"]["size"] == "instruction,output"
    assert res["stale"] == []
    assert main(["fields", "clear", "-w", w, "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["fields"] == "text" and res["stale"] == ["size"]
    assert main(["info", "-w", w]) == 0
    assert "fields      text  (computed from other fields: size)" in capsys.readouterr().out
    assert main(["fields", "set", "instruction,,x", "-w", w]) != 0
    assert "empty name" in capsys.readouterr().err


@pytest.mark.slow
def test_realmix_chat_copies_found_by_near_dedup_over_fields(realmix, tmp_path):
    """Done-when of issue 20: realmix's 5,000 Alpaca records plus chat copies of the first 300. Near dedup over
    the rendered text finds only some copies; over instruction + input + output it finds every one; over
    instruction + output it misses only copies whose user turn also carries Alpaca's input."""
    items = json.loads((realmix / "raw" / "alpaca_5000.json").read_text())
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps(r) + "\n" for r in _chat(items[:300])))
    ws = Workspace.open(tmp_path / "ws", create=True)
    ingest(ws, [str(realmix / "raw" / "alpaca_5000.json")], source="alpaca")
    ingest(ws, [str(chat)], source="chat")
    engine.score(ws, signals=["dedup_near"])
    by_text = _copies_found(ws)
    engine.score(ws, signals=["dedup_near"], fields="instruction,input,output")
    assert _copies_found(ws) == 300
    engine.score(ws, signals=["dedup_near"], fields="prompt,output")
    assert _copies_found(ws) == 300
    engine.score(ws, signals=["dedup_near"], fields="instruction,output")
    by_io = _copies_found(ws)
    with_input = sum(1 for r in items[:300] if r["input"].strip())
    missed = (
        ws.cursor()
        .execute(
            "SELECT count(*) FROM corpus c JOIN docs d USING (id) WHERE c.source = 'chat' AND c.dup_near_size = 1"
            " AND strpos(d.messages[2].content, chr(10) || chr(10)) = 0"
        )
        .fetchone()[0]
    )
    ws.close()
    assert by_text < by_io and 300 - by_io <= with_input and missed == 0


def test_exact_dedup_sees_the_fields_too(tmp_path):
    """Exact dedup follows the fields as near dedup does: a chat copy is an exact duplicate of its Alpaca record
    once both are seen as instruction + input + output (role names and the system prompt left out)."""
    ws = _workspace(tmp_path, ITEMS, n_chat=2)
    q = "SELECT count(*) FILTER (WHERE source = 'chat' AND dup_exact_size > 1) FROM corpus"
    engine.score(ws, signals=["dedup_exact"])
    assert ws.cursor().execute(q).fetchone()[0] == 0
    engine.score(ws, signals=["dedup_exact"], fields="prompt,output")
    assert ws.cursor().execute(q).fetchone()[0] == 2
    assert fields.from_tag(engine.runs(ws)["dedup_exact"]["version"]) == "prompt,output"
