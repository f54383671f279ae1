"""Full-text search: the tantivy index of a workspace (build, query syntax, CJK, staleness, errors, CLI, page)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from app.escaping import md_text  # pages show messages as markdown that renders as typed

pytest.importorskip("tantivy")

DOCS = [
    ("e1", "web", "The quick brown fox jumps over the lazy dog. Foxes are quick."),
    ("e2", "web", "A lazy afternoon: the dog sleeps, the cat watches the brown river."),
    ("e3", "forum", "Privacy policy and cookie policy. Accept all cookies to continue."),
    ("e4", "forum", "Quick brown bread recipe with rye flour, no fox involved."),
    ("z1", "reviews", "酒店很好，房间干净，早餐不错。"),
    ("z2", "reviews", "房间很脏，服务差。酒店位置还可以。"),
    ("z3", "reviews", "早餐一般，酒 店 separated by spaces"),
    ("j1", "reviews", "東京のホテルはとても良かったです。"),
    ("m1", "web", "Mixed text: the hotel 酒店 was quiet."),
    ("z4", "reviews", "好的hotel酒店"),
]


def _make(path, docs=DOCS):
    from app.workspace import Workspace

    ws = Workspace.open(path, create=True)
    by_source: dict[str, list] = {}
    for i, s, t in docs:
        by_source.setdefault(s, []).append({"id": i, "text": t})
    for s, rows in by_source.items():
        ws.write_source(s, pd.DataFrame(rows))
    return ws


@pytest.fixture
def ws(tmp_path):
    w = _make(tmp_path / "ws")
    yield w
    w.close()


def ids(hits):
    return {h[0] for h in hits}


def test_build_and_search_words_phrases_negation(ws):
    from app.search import build_index, index_state, search, search_hits

    assert index_state(ws) == "missing"
    seen = []
    out = build_index(ws, progress=lambda d, t=None, s="": seen.append((d, t, s)))
    assert out["documents"] == len(DOCS)
    assert (ws.path / "fts").is_dir() and not list(ws.path.glob("fts.tmp-*"))
    assert seen[-1][0] == len(DOCS) and any(s == "index" for _, _, s in seen)
    assert index_state(ws) == "current"

    assert ids(search(ws, "fox")) == {"e1", "e4"}  # whole words, no stemming: "Foxes" is another word
    assert ids(search(ws, "QUICK brown")) == {"e1", "e4"}  # case-insensitive, all words required
    assert ids(search(ws, '"brown fox"')) == {"e1"}  # phrase: e4 has "brown bread"
    assert ids(search(ws, "quick -fox")) == set()  # both quick documents mention fox
    assert ids(search(ws, "brown -fox")) == {"e2"}
    assert ids(search(ws, "cookie OR river")) == {"e2", "e3"}
    assert ids(search(ws, "lazy AND (cat OR fox)")) == {"e1", "e2"}
    assert ids(search(ws, "source:forum brown")) == {"e4"}
    # BM25: the document repeating "policy" ranks first, scores are descending
    res = search_hits(ws, "policy OR dog", limit=10)
    assert res["hits"][0][0] == "e3" and res["total"] == 3
    scores = [s for _, s in res["hits"]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    row = res["rows"][0]
    assert row["source"] == "forum" and row["preview"].startswith("Privacy policy")
    assert len(search(ws, "the", limit=2)) == 2


def test_cjk_queries_match_like_a_substring_scan(ws):
    from app.search import build_index, search

    build_index(ws)
    cur = ws.cursor()

    def like(s):
        return {r[0] for r in cur.execute("SELECT id FROM docs WHERE text LIKE ?", [f"%{s}%"]).fetchall()}

    for q in ("酒店", "房间", "早餐", "干净", "ホテル", "東京"):
        assert ids(search(ws, q)) == like(q), q
    assert ids(search(ws, "酒店 -干净")) == {"z2", "m1", "z4"}
    assert ids(search(ws, "hotel 酒店")) == {"m1"}  # Latin and CJK in one query
    assert ids(search(ws, "酒店，房间")) == set()  # no document has this exact sequence
    assert ids(search(ws, "很好，房间")) == {"z1"}  # but this one is, punctuation included
    # z3's "酒 店" has a space between: not the sequence 酒店 (above), as for LIKE; a Latin word between CJK
    # characters is a gap that only a query with the same gap crosses
    assert ids(search(ws, "的酒")) == like("的酒") == set()
    assert ids(search(ws, "的hotel酒")) == {"z4"}


def test_stale_after_reingest_and_rebuild(ws):
    from app.search import build_index, index_state, search

    build_index(ws)
    assert index_state(ws) == "current"
    ws.write_source("web", pd.DataFrame({"id": ["e1", "w9"], "text": ["Only zebras here.", "A new platypus."]}))
    assert index_state(ws) == "stale"
    assert "w9" not in ids(search(ws, "platypus"))  # a stale index still answers, from the old documents
    build_index(ws)
    assert index_state(ws) == "current"
    assert ids(search(ws, "platypus")) == {"w9"}
    assert ids(search(ws, "fox")) == {"e4"}  # e1's new text has no fox
    ws.drop_source("reviews")
    assert index_state(ws) == "stale"


def test_missing_files_and_bad_queries_are_one_line_errors(ws):
    from app.errors import WinnowError
    from app.search import SearchError, build_index, index_state, search
    from app.search.bm25 import _CACHE

    with pytest.raises(SearchError, match="winnow index"):
        search(ws, "fox")
    build_index(ws)
    for bad in ('"unclosed phrase', "(fox", "nosuchfield:fox", "-fox", "AND", "  "):
        with pytest.raises(WinnowError) as e:
            search(ws, bad)
        assert "\n" not in str(e.value) and len(str(e.value)) < 400, bad
    with pytest.raises(SearchError, match="double quotes"):
        search(ws, "http://example.com")
    assert ids(search(ws, '"http://example.com"')) == set()  # quoted, it is a phrase of words
    # tantivy's own files damaged (seen by a new process: no opened index cached): one line that says to rebuild
    (ws.path / "fts" / "meta.json").unlink()
    _CACHE.clear()
    with pytest.raises(SearchError, match=r"cannot open the full-text index.*rebuild it"):
        search(ws, "fox")
    import shutil

    shutil.rmtree(ws.path / "fts")
    assert index_state(ws) == "missing"
    build_index(ws)
    assert ids(search(ws, "fox")) == {"e1", "e4"}


def test_read_only_workspace_cannot_build(tmp_path):
    from app.errors import WorkspaceError
    from app.search import build_index
    from app.workspace import Workspace

    _make(tmp_path / "ro").close()
    with Workspace.open(tmp_path / "ro", read_only=True) as ro, pytest.raises(WorkspaceError, match="read-only"):
        build_index(ro)


def test_cli_index(tmp_path, capsys):
    from app.cli import main

    path = tmp_path / "cli"
    _make(path).close()
    assert main(["index", "--workspace", str(path), "--status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["state"] == "missing"
    assert main(["index", "--workspace", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["built"] is True and out["documents"] == len(DOCS) and out["was"] == "missing"
    assert main(["index", "--workspace", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["built"] is False
    assert main(["index", "--workspace", str(path), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["was"] == "current"
    assert main(["index", "--workspace", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_ranked_docs_keeps_rank_and_drops_unknown_ids(ui_ws_small):
    from app.search import ranked_docs
    from app.workspace import Workspace

    with Workspace.open(ui_ws_small, read_only=True) as w:
        rows = [
            {"id": "d0003", "source": "web", "score": 3.0, "preview": "p3"},
            {"id": "gone", "source": "web", "score": 2.5, "preview": "x"},
            {"id": "d0001", "source": "web", "score": 2.0, "preview": "p1"},
        ]
        df = ranked_docs(w.cursor(), rows, columns=["quality_score", "size_words"])
        assert df["id"].tolist() == ["d0003", "d0001"]
        assert list(df.columns) == ["id", "score", "source", "quality_score", "size_words", "preview"]
        by_q = ranked_docs(w.cursor(), rows, columns=["quality_score"], order="quality_score", desc=False)
        assert by_q["quality_score"].is_monotonic_increasing
        assert ranked_docs(w.cursor(), [], columns=["quality_score"]).empty


@pytest.fixture
def ui_ws_small(tmp_path):
    from tests.app.conftest import build_ui_workspace

    return build_ui_workspace(tmp_path / "ui", n=40)


def test_documents_page_uses_the_index(ui_ws_small):
    from streamlit.testing.v1 import AppTest

    from app.search import index_state
    from app.ui import db
    from app.workspace import Workspace
    from tests.app.test_pages import MAIN

    def page(**params):
        at = AppTest.from_file(MAIN, default_timeout=60)
        at.query_params["ws"] = ui_ws_small
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        at.switch_page("../../pages/documents.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    # no index: full-text mode offers the build and falls back to the substring scan
    at = page(q="cookie")
    assert at.radio(key="w_search_mode").value == "full text"
    assert any("No full-text index" in i.value for i in at.info)
    assert "score" not in at.dataframe[0].value.columns
    assert md_text("documents containing 'cookie'") in " ".join(c.value for c in at.caption)
    at.button(key="btn_fts_build").click().run()
    assert not at.exception, [e.value for e in at.exception]
    ws = db.open_workspace(ui_ws_small)  # the dashboard process's connection, where the job ran
    deadline = time.time() + 60
    while index_state(ws) != "current" and time.time() < deadline:
        time.sleep(0.2)
    assert index_state(ws) == "current"
    db.forget(ui_ws_small)  # release the file lock for the next AppTest and the checks below

    at = page(q='"privacy policy"')
    df = at.dataframe[0].value
    assert "score" in df.columns and len(df) == 40 - 1  # every document but the hostile one (d0007)
    assert "d0007" not in set(df["id"]) and df["score"].is_monotonic_decreasing
    assert not at.info and "39 matching documents" in " ".join(c.value for c in at.caption)
    at = page(q='"privacy policy" -cookie')
    with Workspace.open(ui_ws_small) as w:
        expect = w.cursor().execute(
            "SELECT id FROM docs WHERE text ILIKE '%privacy policy%' AND text NOT ILIKE '%cookie%'"
        )
        expect = {r[0] for r in expect.fetchall()}
    assert 0 < len(expect) < 39 and set(at.dataframe[0].value["id"]) == expect

    at = page(q="cookie")
    assert len(at.dataframe[0].value) > 0 and "score" in at.dataframe[0].value.columns
    at.radio(key="w_search_mode").set_value("exact substring").run()
    assert "score" not in at.dataframe[0].value.columns

    at = page(q='"unclosed')
    assert at.error and "bad search query" in at.error[0].value
    assert not [b for b in at.button if b.key == "btn_fts_build"]
    db.forget(ui_ws_small)

    # damaged index files: the error and a rebuild button
    from app.search.bm25 import _CACHE

    (Path(ui_ws_small) / "fts" / "meta.json").unlink()
    _CACHE.clear()
    at = page(q="cookie")
    assert at.error and md_text("cannot open the full-text index") in at.error[0].value
    assert at.button(key="btn_fts_build").label == "Rebuild the search index"
    db.forget(ui_ws_small)

    # a re-ingest makes the index stale: the page says so and offers a rebuild
    with Workspace.open(ui_ws_small) as w:
        w.write_source("web", pd.DataFrame({"id": ["n1"], "text": ["new"]}))
    at = page(q="cookie")
    assert any("older than the documents" in i.value for i in at.info)
    assert at.button(key="btn_fts_build").label == "Rebuild the search index"
    db.forget(ui_ws_small)


def test_cjk_character_sequences_match_exactly_like_like(tmp_path):
    """Property: for any query made of CJK characters only, the index matches the same documents as LIKE
    (random texts mixing CJK characters with punctuation, spaces, digits and Latin words between them)."""
    import random

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from app.search import build_index, search

    rng = random.Random(7)
    cjk = list("酒店房间好不错早餐服务态度東京のホテル한국어")
    other = ["，", "。", " ", "  ", "5", "ok", "hotel", "，，", "\n", "-"]
    docs = []
    for i in range(300):
        parts = [rng.choice(cjk) if rng.random() < 0.8 else rng.choice(other) for _ in range(rng.randint(1, 30))]
        docs.append((f"r{i}", "mix", "".join(parts)))
    w = _make(tmp_path / "prop", docs)
    try:
        build_index(w)
        cur = w.cursor()

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.lists(st.sampled_from(cjk), min_size=1, max_size=4))
        def check(chars):
            q = "".join(chars)
            like = {r[0] for r in cur.execute("SELECT id FROM docs WHERE text LIKE ?", [f"%{q}%"]).fetchall()}
            assert ids(search(w, q, limit=1000)) == like, q

        check()
    finally:
        w.close()
