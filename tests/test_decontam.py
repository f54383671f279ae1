"""Decontamination: benchmark text is found however it was re-formatted, decoys are not, spans are right,
and an ordinary recipe rule removes what was found (summary and export agree)."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.decontam import DecontamError
from app.decontam.index import BenchIndex
from app.decontam.run import run as decon_run
from app.decontam.store import add_benchmark, item_units, list_benchmarks, read_benchmark
from app.decontam.text import match_spans, words, words_with_spans
from app.workspace import Workspace

ITEMS = [
    {"id": "q1", "question": "Which gas do green plants absorb from the atmosphere during photosynthesis and "
     "release oxygen as a by-product of turning light into chemical energy?", "answer": "Carbon dioxide"},
    {"id": "q2", "question": "A train leaves the station at nine in the morning travelling sixty miles per hour; "
     "a second train leaves the same station an hour later at eighty miles per hour. When does it catch up?",
     "answer": "At one in the afternoon, four hours after the first train left."},
    {"id": "q3", "question": "Name the author of the novel in which a whaling captain pursues a white whale "
     "across the oceans with obsessive determination until the final confrontation.", "answer": "Herman Melville"},
    {"id": "q4", "question": "What is the capital of France?", "answer": "Paris"},
]  # fmt: skip

FILLER = (
    "The committee met on Tuesday to review the budget for the coming year. Several members raised concerns "
    "about maintenance costs at the public library, and a vote was postponed until the next session. "
)


def _q(i: int) -> str:
    return ITEMS[i]["question"]


def _recase(s: str) -> str:
    return "".join(c.upper() if k % 3 == 0 else c.lower() for k, c in enumerate(s))


def _repunct(s: str) -> str:
    return s.replace(",", "").replace(";", " --").replace("?", "!!").replace(" ", "  ")


CONTAMINATED = {
    "c_verbatim": _q(0) + "\n" + ITEMS[0]["answer"],
    "c_wrapped": textwrap.fill(_q(1), width=23),
    "c_case_punct": _repunct(_recase(_q(2))),
    "c_embedded": FILLER * 3 + _q(1) + " " + FILLER * 3,
    "c_wrapped_embedded": FILLER + "\n\n" + textwrap.fill(_recase(_q(2)), width=41) + "\n\n" + FILLER,
    "c_fullwidth": FILLER + _q(0).replace("Which", "Ｗｈｉｃｈ").replace("gas", "ＧＡＳ"),
    "c_short_whole": "  PARIS. ",  # a document that is only a short answer
}
DECOYS = {
    "d_phrases": "Plants absorb water. The station at nine in the morning was busy. A white whale was seen. "
    "What is the capital of the region? Paris is lovely in spring, said the author of the novel.",
    "d_short_answer": FILLER + "We flew to Paris and met Herman Melville fans; carbon dioxide levels rose.",
    "d_topic": "Photosynthesis turns light into chemical energy in green plants, which take in a gas and "
    "release oxygen. " + FILLER,
    "d_filler": FILLER * 4,
}


def _write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture()
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws", create=True)
    docs = {**CONTAMINATED, **DECOYS}
    w.write_source("web", pd.DataFrame({"id": list(docs), "text": list(docs.values())}))
    yield w
    w.close()


def test_every_contaminated_document_found_and_no_decoy(ws, tmp_path):
    add_benchmark(ws, "quiz", [_write_jsonl(tmp_path / "quiz.jsonl", ITEMS)])
    res = decon_run(ws)
    rows = ws.con.execute("SELECT id, decon_hits, decon_max_overlap, decon_benchmarks FROM corpus").fetchall()
    flagged = {r[0] for r in rows if r[1] > 0}
    assert flagged == set(CONTAMINATED)
    for r in rows:
        if r[0] in CONTAMINATED:
            assert r[2] == 1.0 and r[3] == "quiz", r
        else:
            assert r[2] < 0.5 and r[3] == "", r
    assert res["contaminated"] == len(CONTAMINATED)
    (b,) = res["benchmarks"]
    assert b["items"] == 4 and b["items_matched"] == 4 and b["documents"] == len(CONTAMINATED)


def test_spans_highlight_the_copied_passage():
    doc = CONTAMINATED["c_embedded"]
    start = doc.index(_q(1))
    assert match_spans(doc, _q(1), n=8) == [(start, start + len(_q(1)) - 1)]  # the final '?' is not a word
    wrapped = CONTAMINATED["c_wrapped_embedded"]
    (s, e) = match_spans(wrapped, _q(2), n=8)[0]
    assert words(wrapped[s:e]) == words(_q(2))
    assert match_spans(DECOYS["d_phrases"], _q(1), n=8) == []
    assert match_spans("I said: Paris!", "paris", n=8) == [(8, 13)]  # a short item: every whole occurrence


def test_recipe_removes_contaminated_documents_in_summary_and_export(ws, tmp_path):
    from app.export import apply
    from app.recipes import summarize

    add_benchmark(ws, "quiz", [_write_jsonl(tmp_path / "quiz.jsonl", ITEMS)])
    decon_run(ws)
    recipe = "version: 1\nrules:\n  - {signal: decon_max_overlap, max: 0.5, label: decontamination}\n"
    s = summarize(ws.con, recipe)
    assert s["removed_docs"] == len(CONTAMINATED)
    assert [r["removed"] for r in s["rules"] if r["label"] == "decontamination"] == [len(CONTAMINATED)]
    man = apply(ws, recipe, tmp_path / "out")
    kept = {i for f in sorted((tmp_path / "out").glob("*.parquet")) for i in pq.read_table(f).column("id").to_pylist()}
    assert kept == set(DECOYS)
    assert man["counts"]["kept_docs"] == len(DECOYS) and man["counts"]["total_docs"] == len(DECOYS) + len(CONTAMINATED)
    # the manifest counts contamination per benchmark before and after the recipe, as the report does
    (quiz,) = man["contamination"]["benchmarks"]
    assert quiz["name"] == "quiz" and quiz["documents_before"] == len(CONTAMINATED) and quiz["documents_after"] == 0


def test_fields_render_to_units_and_bad_files_fail_clearly(tmp_path):
    rec = {"question": "Q?", "choices": ["red", "blue"], "answer": "blue", "noise": 3}
    assert item_units(rec, ["question", "choices", "answer"]) == [
        ("question", "Q?"), ("choices", "red\nblue"), ("answer", "blue"), ("*", "Q?\nred\nblue\nblue")]  # fmt: skip
    csv = tmp_path / "b.csv"
    csv.write_text("question,answer\nWhat is two plus two?,four\n,\n", encoding="utf-8")
    got = read_benchmark([str(csv)])
    assert got["items"] == 1 and got["fields"] == ["question", "answer"] and got["skipped"] == {"no_text": 1}
    with pytest.raises(DecontamError, match="none of the fields"):
        read_benchmark([str(csv)], fields=["prompt"])
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"x": 1}\n', encoding="utf-8")
    with pytest.raises(DecontamError, match="--field"):
        read_benchmark([str(bad)])
    with pytest.raises(DecontamError):
        read_benchmark([str(tmp_path / "missing.jsonl")])


def test_cli_add_list_remove(tmp_path, capsys):
    from app.cli import main

    wsp = tmp_path / "ws"
    with Workspace.open(wsp, create=True) as w:
        w.write_source("web", pd.DataFrame({"id": list(CONTAMINATED), "text": list(CONTAMINATED.values())}))
    f = _write_jsonl(tmp_path / "quiz.jsonl", ITEMS)
    assert main(["decontam", "add", "quiz", f, "--workspace", str(wsp), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["added"]["items"] == 4 and out["contaminated"] == len(CONTAMINATED)
    assert main(["decontam", "add", "quiz", f, "--workspace", str(wsp)]) == 1  # exists: one-line error
    assert "exists" in capsys.readouterr().err
    assert main(["decontam", "list", "--workspace", str(wsp), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["benchmarks"][0]["items_matched"] == 4
    assert main(["decontam", "remove", "quiz", "--workspace", str(wsp), "--json"]) == 0
    capsys.readouterr()
    with Workspace.open(wsp) as w:
        assert list_benchmarks(w) == []
        assert w.con.execute("SELECT max(decon_hits) FROM corpus").fetchall()[0][0] == 0


def test_short_items_match_only_whole_documents():
    idx = BenchIndex.build([(0, "the answer is yes")], item_bench=[0], bench_names=["b"], n=8)
    m = idx.match(["The answer is: YES.", "Well, the answer is yes, and here are many more words after it."])
    assert m.hits.tolist() == [1, 0]


_word = st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(_word, min_size=1, max_size=40), st.integers(5, 60), st.sampled_from([", ", "; ", " -- ", "\n"]))
def test_reformatting_keeps_the_words(ws_list, width, sep):
    text = " ".join(ws_list)
    # casefold(upper(w)) != casefold(w) for a few letters (Turkish dotless i): case is tested where it round-trips
    assume(words(text.upper()) == words(text))
    variant = textwrap.fill(sep.join(ws_list).upper(), width=width, break_long_words=False)
    assert words(variant) == words(text)
    assert words_with_spans(text)[0] == words(text)
