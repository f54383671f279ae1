"""Why a language disappears: each rule's removals by group, alone and only by it (issue 21)."""

from __future__ import annotations

import pytest

from app.errors import RecipeError
from app.recipes import live, summarize
from tests.test_recipe_core import make_ws

RECIPE = {
    "version": 1,
    "rules": [
        {"signal": "size_words", "min": 12},
        {"signal": "size_words", "min": 10},  # overlaps the first: "only by it" is 0 for both where both bite
        {"signal": "quality_score", "min": 0.3},
    ],
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("bg") / "ws")
    yield w
    w.close()


@pytest.mark.parametrize("cache", [True, False])
def test_rule_by_language_equals_sql(ws, cache):
    live.clear()
    s = summarize(ws.con, RECIPE, cache=cache)
    for i, r in enumerate(s["rules"]):
        for g in r["by_group"]:
            lang = "lang_code IS NULL" if g["group"] is None else f"lang_code = '{g['group']}'"
            conds = ["size_words >= 12", "size_words >= 10", "quality_score >= 0.3"]
            fails = f"NOT coalesce({conds[i]}, false)"
            others = " AND ".join(f"coalesce({c}, false)" for j, c in enumerate(conds) if j != i)
            removed, only = ws.con.execute(
                f"SELECT count(*) FILTER ({fails}), count(*) FILTER ({fails} AND {others}) FROM corpus WHERE {lang}"
            ).fetchone()
            assert (g["removed"], g["only"]) == (removed, only), (i, g)
    assert s["group_column"] == "lang_code"
    # the overlapping pair: the looser rule removes nothing on its own
    assert sum(g["only"] for g in s["rules"][1]["by_group"]) == s["rules"][1]["removed_only"] == 0


def test_group_by_any_column(ws):
    s = summarize(ws.con, RECIPE, group_by="source")
    assert {g["group"] for g in s["by_group"]} == {"web", "wiki"} and s["by_lang"] == []
    assert sum(g["removed"] for g in s["rules"][2]["by_group"]) == s["rules"][2]["removed"]
    with pytest.raises(RecipeError, match="unknown signal 'sorce'"):
        summarize(ws.con, RECIPE, group_by="sorce")


@pytest.mark.slow
@pytest.mark.realdata
def test_fineweb_preset_shows_which_rules_remove_chinese(tmp_path):
    """On realmix with the FineWeb preset, the rule x language table names the rules that remove zh."""
    from app.ingest import ingest
    from app.recipes.presets import preset
    from app.signals import engine
    from app.workspace import Workspace
    from tests.conftest import SHARED

    src = SHARED / "corpora" / "realmix" / "realmix.parquet"
    if not src.exists():
        pytest.skip("../shared/corpora is absent")
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [str(src)], source_field="source", sample=4000, seed=1)
        engine.score(w, signals="all")
        s = summarize(w.cursor(), preset("fineweb"))
        zh = {r["label"]: g for r in s["rules"] for g in r["by_group"] if g["group"] == "zh"}
        assert zh and max(g["removed"] / g["total"] for g in zh.values()) > 0.9


def test_report_shows_removals_by_language(ws):
    from app.report import build_report

    html_text, data = build_report(ws, RECIPE)
    assert 'id="by_group"' in html_text and "only)" in html_text
    en = next(g for g in data["summary"]["rules"][2]["by_group"] if g["group"] == "en")
    assert f"{100 * en['removed'] / en['total']:.1f}%" in html_text
