"""The Thresholds page's compare panel: the page's rules (A) against a saved recipe (B), numbers as compare_recipes
gives them, flipped texts escaped."""

from __future__ import annotations

from app.recipes import load_recipe, save_recipe
from app.recipes.compare import compare_recipes
from app.workspace import Workspace
from tests.app.conftest import HOSTILE, build_ui_workspace
from tests.app.test_pages import app_at

STRICT = "version: 1\nname: strict\nrules:\n  - {signal: size_words, min: 30}\n  - {signal: lang_code, in: [en]}\n"


def test_compare_panel_shows_the_comparison(tmp_path):
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "strict", load_recipe(STRICT))
        want = compare_recipes(ws.con, "version: 1\nrules:\n  - {signal: size_words, min: 10}\n", STRICT, flipped=6)
    at = app_at(path, "thresholds", r="range:size_words:10.0,")
    at.selectbox(key="w_cmp_with").select("saved: strict").run()
    assert not at.exception, [e.value for e in at.exception]
    bodies = " ".join(h.proto.body for h in at.get("html"))
    assert f"{want['counts']['a_only']['docs']:,}" in bodies and "A only" in bodies
    assert "dropped by B: lang_code in [en]" in bodies
    assert want["flipped"] and all(d["id"] in bodies for d in want["flipped"])
    assert HOSTILE not in bodies  # texts are escaped


def test_mixture_planner_plans_from_what_the_rules_keep(tmp_path):
    from app.recipes.mixture import Mixture, group_tokens, plan

    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path, read_only=True) as ws:
        totals = group_tokens(ws.con, "corpus_fast", "source", "size_tokens", where_sql="size_words >= 10")
    at = app_at(path, "thresholds", r="range:size_words:10.0,")
    bodies = " ".join(h.proto.body for h in at.get("html"))
    want = plan(Mixture("source", 1_000_000, {"web": 0.5, "forum": 0.5}, 2.0), totals)
    assert "planned share" in bodies
    for g in want["groups"]:  # tokens available per source, as the planner shows them
        assert f"{g['tokens_available']:,}" in bodies
    assert any("capped at 2" in w.value for w in at.warning)  # 1M tokens cannot come from 240 short documents
