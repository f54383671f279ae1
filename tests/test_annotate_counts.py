"""Annotated rules are counted as the export applies them: ``summarize`` and the report keep the documents an
``annotate:`` rule tags (kept == the export's row count), and the tagged counts equal the manifest's."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from app.export import apply
from app.recipes import summarize
from tests.test_recipe_core import make_ws

BASE = """version: 1
rules:
  - {signal: size_words, min: 12, label: short}
  - {signal: quality_score, min: 0.3}
  - {signal: lang_code, in: [en, de, fr]}
annotate: {rules: [short, 3], token: "<|bad|>", column: tags}
"""
STAGES = ["", "dedup: {exact: true}\n", "sample: {n: 50, seed: 1}\n", "balance: [{column: source, cap: 40}]\n"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("annotate_counts") / "ws", n=300)
    yield w
    w.close()


def rows_of(out) -> int:
    return sum(pq.read_table(p).num_rows for p in out.glob("*.parquet"))


@pytest.mark.parametrize("extra", STAGES)
def test_summarize_kept_equals_export_rows(ws, tmp_path, extra):
    recipe = BASE + extra
    m = apply(ws, recipe, tmp_path / "out")
    n = rows_of(tmp_path / "out")
    ann = m["annotations"]
    assert 0 < ann["tagged_docs"] < n
    for cache in (True, False):  # the interactive (cached vectors) path and the SQL path
        s = summarize(ws.cursor(), recipe, cache=cache)
        assert s["kept_docs"] == n == m["counts"]["kept_docs"]
        assert s["kept_tokens"] == m["counts"]["kept_tokens"]
        assert s["annotations"]["tagged_docs"] == ann["tagged_docs"]
        assert s["annotations"]["tagged_tokens"] == ann["tagged_tokens"]
        got = [(r["rule"], r["tagged_docs"], r["tagged_tokens"]) for r in s["annotations"]["rules"]]
        assert got == [(r["rule"], r["tagged_docs"], r["tagged_tokens"]) for r in ann["rules"]]
        last = s["stages"][-1]
        assert last["stage"] == "annotate" and last["kept"] == n and last["removed"] == 0
        assert last["tagged"] == ann["tagged_docs"]
        # every rule is listed in recipe order; the annotated ones remove nothing
        assert [r["index"] for r in s["rules"][:3]] == [0, 1, 2]
        assert [r.get("annotate", False) for r in s["rules"][:3]] == [True, False, True]
        assert s["rules"][0]["removed"] == 0 and s["rules"][2]["removed_only"] == 0


def test_rules_stage_counts_only_dropping_rules(ws):
    s = summarize(ws.cursor(), BASE)
    want = ws.con.execute("SELECT count(*) FROM corpus WHERE quality_score >= 0.3").fetchall()[0][0]
    rules = next(x for x in s["stages"] if x["stage"] == "rules")
    assert rules["kept"] == want == s["kept_docs"]
    assert "2 more tag" in rules["label"]


def test_group_by_and_without_annotate_unchanged(ws):
    plain = BASE.split("annotate:")[0]
    s = summarize(ws.cursor(), plain)
    assert "annotations" not in s and all("annotate" not in r for r in s["rules"])
    g = summarize(ws.cursor(), BASE, group_by="source")
    assert sum(x["kept"] for x in g["by_group"]) == summarize(ws.cursor(), BASE)["kept_docs"]


def test_report_keeps_annotated_documents(ws, tmp_path):
    from app.report import build_report

    m = apply(ws, BASE, tmp_path / "out")
    html, data = build_report(ws, BASE, samples=3, max_points=200)
    assert data["summary"]["kept_docs"] == rows_of(tmp_path / "out")
    assert data["summary"]["annotations"]["tagged_docs"] == m["annotations"]["tagged_docs"]
    assert "annotate: tags instead of removing" in html
    # a removed sample is never said to be removed by a rule that only tags
    for d in data["samples"]["removed"]:
        assert "short" not in d["failed"]


def test_panel_edit_keeps_annotate_on_its_rules():
    from app.explore.annotate_refs import anchor, sync
    from app.explore.recipe_bridge import recipe_from_rules, stage_base
    from app.recipes import load_recipe

    r = load_recipe(BASE)
    rules, base = r.panel_rules(), stage_base(r)
    uids = anchor(rules, base)
    assert sync(rules, base, uids) == (base, [])
    # remove rule 2: rule 3 (by number) is now rule 2, and the section follows it
    rules2 = [rules[0], rules[2]]
    new, notes = sync(rules2, base, uids)
    assert new["annotate"]["rules"] == ["short", 2] and notes == []
    assert recipe_from_rules(rules2, base=new).annotate.rules == ["short", 2]
    # remove the labelled rule: a visible note, the other reference kept where its rule now is
    rules3 = [rules[1], rules[2]]
    new, notes = sync(rules3, base, uids)
    assert new["annotate"]["rules"] == [2] and len(notes) == 1 and "short" in notes[0]
    got = recipe_from_rules(rules3, base=new)
    assert got.rules[got.annotate.rules[0] - 1] == rules[2] != rules[1]
    # remove both: the section is dropped, with a note; the recipe is valid
    new, notes = sync([rules[1]], base, uids)
    assert "annotate" not in new and "dropped" in notes[0]
    assert recipe_from_rules([rules[1]], base=new).annotate is None


def test_thresholds_page_counts_and_follows_annotate(tmp_path):
    from app.recipes import get_recipe, save_recipe
    from app.workspace import Workspace
    from tests.app.conftest import build_ui_workspace
    from tests.app.test_pages import app_at

    recipe = {
        "version": 1,
        "name": "tagq",
        "rules": [
            {"signal": "quality_score", "min_quantile": 0.3, "label": "lowq"},
            {"signal": "size_words", "min": 5},
        ],
        "annotate": {"rules": ["lowq"], "token": "<|bad|>"},
    }
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "tagq", recipe)
        s = summarize(ws.cursor(), get_recipe(ws, "tagq"))
    at = app_at(path, "thresholds", recipe="tagq")
    assert not at.exception, [e.value for e in at.exception]
    (table,) = [d for d in at.dataframe if "after" in d.value.columns]
    assert list(table.value["stage"]) == ["input", "rules", "annotate"]
    assert list(table.value["documents"])[-1] == s["kept_docs"]
    assert any(f"keeps {s['kept_docs']:,}" in c.value for c in at.caption)
    # the panel drops the annotated rule: the section goes with a note instead of naming another rule
    at.session_state["rules"] = [r for r in at.session_state["rules"] if r.label != "lowq"]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("annotate section was dropped" in w.value for w in at.warning)
    assert "annotate" not in at.session_state["recipe_base"]


def test_live_panel_and_retention_keep_annotated_documents(ws):
    """The Thresholds panel (its first counts and its HTTP requests) and the retention table count an annotated
    rule as the export does: nothing removed, its documents kept and tagged."""
    from app.explore import panel_api, recipe_bridge
    from app.explore.annotate_refs import anchor
    from app.explore.recipe_bridge import stage_base
    from app.recipes import load_recipe

    r = load_recipe(BASE)
    rules, base = r.panel_rules(), stage_base(r)
    uids = anchor(rules, base)
    con = ws.cursor()
    want = con.execute("SELECT count(*) FROM corpus WHERE quality_score >= 0.3").fetchall()[0][0]
    token = panel_api.register(ws)
    ann = panel_api.set_annotate(token, base["annotate"], uids)
    got = panel_api.summary_payload(con, rules, annotate=ann)
    assert got["kept_docs"] == want == summarize(con, BASE)["kept_docs"]
    assert [r_["removed"] for r_ in got["rules"]] == [0, got["rules"][1]["removed"], 0]
    assert "tags" in got["texts"][0] and "tags" not in got["texts"][1]
    # the panel posts its rules without rule 2: the annotated rules are followed by uid, not by number
    body = {"token": token, "rules": [panel_api.rule_to_json(x) for x in (rules[0], rules[2])]}
    assert (
        panel_api.handle("summary", body)["kept_docs"] == ws.con.execute("SELECT count(*) FROM corpus").fetchall()[0][0]
    )
    assert panel_api.set_annotate(token, None, None) is None  # the page's recipe no longer annotates
    body["rules"] = [panel_api.rule_to_json(x) for x in rules]
    plain = panel_api.handle("summary", body)["kept_docs"]
    assert plain < want
    rows = recipe_bridge.retention(con, rules, column="source", base=base)
    assert sum(x["kept by the rules"] for x in rows) == want
