"""Thresholds opens a saved recipe with every stage (from the URL or a file), shows the counts after each stage,
edits balancing and sampling, and saving keeps every stage (issue 20.4)."""

from __future__ import annotations

import pytest

from app.explore import recipe_bridge
from app.recipes import Recipe, get_recipe, save_recipe, summarize
from app.workspace import Workspace
from tests.app.conftest import build_ui_workspace
from tests.app.test_pages import app_at

LIMA = {
    "version": 1,
    "name": "lima",
    "description": "quality cut, cluster cap, sample",
    "rules": [{"signal": "quality_score", "min_quantile": 0.1}],
    "dedup": {"exact": True},
    "balance": [{"column": "map_cluster_label", "cap": 30, "seed": 0}],
    "sample": {"n": 200, "weight": "quality_score", "seed": 0},
}


@pytest.fixture
def lima_ws(tmp_path):
    path = build_ui_workspace(tmp_path / "ws")
    with Workspace.open(path) as ws:
        save_recipe(ws, "lima", LIMA)
    return path


def test_bridge_keeps_every_stage():
    recipe = Recipe.from_dict(LIMA)
    base = recipe_bridge.stage_base(recipe)
    again = recipe_bridge.recipe_from_rules(
        recipe.panel_rules(), name="lima", description=LIMA["description"], base=base
    )
    assert again.to_dict() == recipe.to_dict()
    # the panel drops the dedup step: the stages stay, the dedup goes
    rules = [r for r in recipe.panel_rules() if r.kind != "dedup"]
    d = recipe_bridge.recipe_from_rules(rules, base=base).to_dict()
    assert "dedup" not in d and d["balance"] == LIMA["balance"] and d["sample"] == LIMA["sample"]
    assert "balance" not in recipe_bridge.with_stages(base, balance=[], sample=None)


def test_recipe_file_errors_are_one_line():
    from app.errors import RecipeError

    for bad in (b"", b"\xff\xfe", b"version: 1\nrules: [{signal: x, min: }", b"x" * (2 << 20)):
        with pytest.raises(RecipeError):
            recipe_bridge.load_recipe_text(bad)
    assert recipe_bridge.load_recipe_text(b"version: 1\nsample: {n: 5}\n").sample.n == 5


def test_url_opens_saved_recipe_with_stage_counts(lima_ws):
    at = app_at(lima_ws, "thresholds", recipe="lima")
    # the balance and sample stages came with the recipe, and the page counts each stage
    assert at.selectbox(key="w_bal_col").value == "map_cluster_label"
    assert at.number_input(key="w_smp_n").value == 200
    (table,) = [d for d in at.dataframe if "after" in d.value.columns]
    got = table.value
    with Workspace.open(lima_ws) as ws:
        s = summarize(ws.cursor(), get_recipe(ws, "lima"))
    assert list(got["documents"]) == [x["kept"] for x in s["stages"]]
    assert list(got["stage"]) == ["input", "rules", "dedup", "balance", "sample"]
    # 4 clusters capped at 30: about 120 at most, so n=200 comes back short, and the page says so
    assert s["kept_docs"] < 200 and any("sample asked for 200" in w.value for w in at.warning)


def test_saving_from_the_page_keeps_every_stage(lima_ws):
    at = app_at(lima_ws, "thresholds", recipe="lima")
    at.number_input(key="w_bal_cap").set_value(50).run()
    at.button(key="btn_stages").click().run()
    at.text_input(key="w_recipe_name").set_value("lima2").run()
    at.button(key="btn_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with Workspace.open(lima_ws) as ws:
        saved = get_recipe(ws, "lima2").to_dict()
    assert saved["balance"] == [{"column": "map_cluster_label", "cap": 50, "seed": 0}]
    assert saved["sample"] == LIMA["sample"] and saved["dedup"] == {"exact": True}
    assert saved["rules"] == LIMA["rules"]


def test_export_page_says_the_sample_comes_back_short(lima_ws):
    at = app_at(lima_ws, "export", recipe="lima")
    assert at.selectbox(key="w_exp_recipe").value == "lima"
    assert any("sample asked for 200" in w.value for w in at.warning)
    assert any(c.value.startswith("input 240 → rules") for c in at.caption)
