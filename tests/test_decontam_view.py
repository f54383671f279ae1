"""Reading the matches: per-benchmark counts, one document's matched items with the right spans on both sides,
escaped highlighting, and the report's contamination section before and after a recipe."""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.decontam import report as dr
from app.decontam.run import run as decon_run
from app.decontam.store import add_benchmark
from app.decontam.text import words
from app.workspace import Workspace
from tests.test_decontam import CONTAMINATED, DECOYS, ITEMS

HOSTILE_ID = '<img src=x onerror="alert(1)">'
#: the quiz, with one item id an attacker chose (ids are shown in the page and the report)
QUIZ = [dict(ITEMS[0]), {**ITEMS[1], "id": HOSTILE_ID}, dict(ITEMS[2]), dict(ITEMS[3])]
OTHER = [{"id": "o1", "question": "Describe the migration routes of arctic terns between the two polar regions "
          "and the distances they cover in a single year of travel."}]  # fmt: skip
DROP = "version: 1\nrules:\n  - {signal: decon_max_overlap, max: 0.5, label: decontamination}\n"
KEEP_ALL = "version: 1\nrules:\n  - {signal: decon_max_overlap, max: 1.0, label: everything}\n"


def _jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _make(path, tmp_path, *, run: bool = True) -> Workspace:
    w = Workspace.open(path, create=True)
    docs = {**CONTAMINATED, **DECOYS}
    w.write_source("web", pd.DataFrame({"id": list(docs), "text": list(docs.values())}))
    add_benchmark(w, "quiz", [_jsonl(tmp_path / "quiz.jsonl", QUIZ)])
    add_benchmark(w, "other", [_jsonl(tmp_path / "other.jsonl", OTHER)])
    if run:
        decon_run(w)
    return w


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("view")
    w = _make(tmp / "ws", tmp)
    yield w
    w.close()


def test_overview_per_benchmark(ws, tmp_path):
    ov = dr.overview(ws)
    assert ov["computed"] and ov["contaminated"] == len(CONTAMINATED)
    got = {b["name"]: (b["items"], b["items_matched"], b["documents"]) for b in ov["benchmarks"]}
    assert got == {"quiz": (4, 4, len(CONTAMINATED)), "other": (1, 0, 0)}
    line = dr.summary_line(ws)
    assert f"quiz: 4 of 4 items in {len(CONTAMINATED)} documents" in line and "other: 0 of 1" in line
    fresh = _make(tmp_path / "fresh", tmp_path, run=False)  # registered, never matched
    try:
        assert not dr.overview(fresh)["computed"] and "not matched yet" in dr.summary_line(fresh)
        assert dr.document_matches(fresh, "c_embedded") == []
    finally:
        fresh.close()
    bare = Workspace.open(tmp_path / "bare", create=True)
    try:
        assert dr.summary_line(bare) == "" and dr.overview(bare)["benchmarks"] == []
    finally:
        bare.close()


def test_document_view_highlights_the_copied_passage(ws):
    q = ITEMS[1]["question"]
    doc = CONTAMINATED["c_embedded"]
    (m,) = dr.document_matches(ws, "c_embedded")
    assert (m["benchmark"], m["item_id"], m["overlap"]) == ("quiz", HOSTILE_ID, 1.0)
    start = doc.index(q)
    assert m["doc_spans"] == [(start, start + len(q) - 1)]  # exactly the copied question (its '?' is no word)
    assert m["item_text"] == q + "\n" + ITEMS[1]["answer"]  # the item as a model sees it: all its fields
    assert m["item_spans"] == [(0, len(q) - 1)]  # the question is highlighted, the answer (not copied) is not
    for doc_id, text in CONTAMINATED.items():  # every contaminated document: the highlight is item words only
        got = dr.document_matches(ws, doc_id)
        assert got, doc_id
        for x in got:
            hl = [w for s, e in x["doc_spans"] for w in words(text[s:e])]
            item_words = set(words(x["item_text"]))
            assert hl and set(hl) <= item_words, (doc_id, hl)
    (short,) = dr.document_matches(ws, "c_short_whole")  # a short answer matched as the whole document
    assert short["item_id"] == "q4"
    t = CONTAMINATED["c_short_whole"]
    assert [t[s:e] for s, e in short["doc_spans"]] == ["PARIS"]
    assert [short["item_text"][s:e] for s, e in short["item_spans"]] == ["Paris"]
    for doc_id in DECOYS:
        assert dr.document_matches(ws, doc_id) == []


def test_matches_html_escapes_and_marks(ws):
    doc = "Intro ![i](http://evil/x.png) <script>alert(1)</script>\n\n" + CONTAMINATED["c_embedded"]
    off = doc.index(CONTAMINATED["c_embedded"])
    shifted = []
    for m in dr.document_matches(ws, "c_embedded"):
        shifted.append({**m, "doc_spans": [(s + off, e + off) for s, e in m["doc_spans"]]})
    out = dr.matches_html(shifted, doc, context=10_000)
    assert "<script" not in out and "<img" not in out and "\n" not in out and "\r" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out  # the hostile item id, escaped
    marks = re.findall(r'<mark class="w-decon">(.*?)</mark>', out)
    assert [html.unescape(x) for x in marks] == [ITEMS[1]["question"][:-1]] * 2  # document side, item side


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=300), cuts=st.lists(st.integers(0, 320), max_size=8))
def test_spans_html_shows_exactly_the_text(text, cuts):
    pts = sorted(cuts)
    spans = [(a, b) for a, b in zip(pts[::2], pts[1::2], strict=False) if a < b]
    out = dr.spans_html(text, spans, label="<b>x</b>")
    inner = out.split('<div class="w-doc">', 1)[1]
    assert "\n" not in out and "\r" not in out
    assert html.unescape(re.sub(r"<[^>]+>", "", inner)) == text  # every character, nothing more
    marked = "".join(html.unescape(x) for x in re.findall(r'<mark class="w-decon">(.*?)</mark>', out))
    covered = set().union(*[set(range(a, min(b, len(text)))) for a, b in spans]) if spans else set()
    assert marked == "".join(text[i] for i in sorted(covered))


def test_context_cuts_around_the_match():
    text = "a" * 1000 + "MATCH" + "b" * 1000
    out = dr.spans_html(text, [(1000, 1005)], context=20)
    assert "980 characters before" in out and "980 more characters" in out
    shown = html.unescape(re.sub(r"<[^>]+>|… [\d,]+ (characters before|more characters)", "", out))
    assert shown == "a" * 20 + "MATCH" + "b" * 20


def test_report_contamination_before_and_after(ws):
    from app.report import build_report

    page, data = build_report(ws, DROP, samples=2)
    c = data["contamination"]
    assert c["computed"]
    got = {b["name"]: b for b in c["benchmarks"]}
    assert got["quiz"] == {"name": "quiz", "items": 4, "items_before": 4, "items_after": 0,
                           "documents_before": len(CONTAMINATED), "documents_after": 0}  # fmt: skip
    assert got["other"]["documents_before"] == 0
    assert {x["item_id"] for x in c["items"]} == {i["id"] for i in QUIZ}
    assert all(x["documents_after"] == 0 for x in c["items"])
    assert '<section id="contamination">' in page and 'href="#contamination"' in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    _, kept_all = build_report(ws, KEEP_ALL, samples=2)
    quiz = next(b for b in kept_all["contamination"]["benchmarks"] if b["name"] == "quiz")
    assert quiz["items_after"] == 4 and quiz["documents_after"] == len(CONTAMINATED)


def test_report_without_benchmarks_has_no_section(tmp_path):
    from app.report import build_report

    w = Workspace.open(tmp_path / "plain", create=True)
    try:
        w.write_source("web", pd.DataFrame({"id": list(DECOYS), "text": list(DECOYS.values())}))
        page, data = build_report(w, "version: 1\nrules: []\n", samples=1)
        assert "contamination" not in data and "contamination" not in page
    finally:
        w.close()
