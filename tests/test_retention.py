"""Retention by any category (issue 20.5): the report and the Thresholds page break a cut's retention down by map
cluster or any categorical column, against the overall share, so a bias against a topic shows."""

from __future__ import annotations

import pytest

from app.explore import recipe_bridge
from app.report import build_report
from app.report.categories import least_kept, table
from app.workspace import Workspace
from tests.app.conftest import build_ui_workspace
from tests.app.test_pages import app_at

# a cut that removes most of one cluster: size_words is long-tailed, quality_score uniform
CUT = {"version": 1, "rules": [{"expr": "map_cluster != 2 or quality_score > 0.8"}]}


@pytest.fixture
def ui_path(tmp_path):
    return build_ui_workspace(tmp_path / "ws")


def _truth(ws, column: str) -> dict:
    rows = (
        ws.cursor()
        .execute(
            f"SELECT {column}, count(*), count(*) FILTER (WHERE map_cluster != 2 OR quality_score > 0.8) FROM corpus GROUP BY 1"
        )
        .fetchall()
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def test_report_breaks_down_by_map_cluster_by_default(ui_path):
    with Workspace.open(ui_path) as ws:
        html, data = build_report(ws, CUT, samples=2)
        truth = _truth(ws, "map_cluster_label")
    (cat,) = data["categories"]
    assert cat["column"] == "map_cluster_label"
    got = {g["group"]: (g["total"], g["kept"]) for g in cat["groups"]}
    assert got == truth
    worst = least_kept(cat["groups"])[0]
    assert worst["group"] == "topic 2" and worst["vs_overall"] < 0.5
    assert "Retention by category" in html and "topic 2" in html and 'id="fig-categories0"' in html


def test_report_by_any_column_and_unknown_column(ui_path):
    from app.errors import RecipeError

    with Workspace.open(ui_path) as ws:
        _, data = build_report(ws, CUT, samples=1, by=["lang_code", "source"])
        assert [c["column"] for c in data["categories"]] == ["lang_code", "source"]
        with pytest.raises(RecipeError, match="no_such"):
            build_report(ws, CUT, samples=1, by=["no_such"])


def test_table_rows_escape_nothing_and_name_none():
    cat = {
        "column": "c",
        "kept_frac": 0.5,
        "more": 0,
        "groups": [{"group": None, "total": 10, "kept": 5, "kept_frac": 0.5, "vs_overall": 1.0, "kept_tokens": 7}],
    }
    t = table(cat)
    assert t["rows"] == [["(none)", "10", "5", "50.0%", "1.00×", "7"]] and t["overall"] == "50.0%"


def test_bridge_retention_matches_sql(ui_path):
    from app.recipes import Recipe

    rules = Recipe.from_dict(CUT).panel_rules()
    base = {"sample": {"n": 50, "seed": 0}}
    with Workspace.open(ui_path) as ws:
        rows = recipe_bridge.retention(ws.cursor(), rules, column="map_cluster_label", base=base)
        truth = _truth(ws, "map_cluster_label")
    assert {r["map_cluster_label"]: (r["documents"], r["kept by the rules"]) for r in rows} == truth
    assert sum(r["kept by the recipe"] for r in rows) == 50
    assert min(rows, key=lambda r: r["vs overall"])["map_cluster_label"] == "topic 2"


def test_thresholds_page_shows_retention_by_cluster(ui_path):
    at = app_at(ui_path, "thresholds", r="range:quality_score:0.5,")
    at.session_state["w_ret_open"] = True  # the table is counted only while its expander is open
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="w_ret_by").value == "map_cluster_label"
    (df,) = [d for d in at.dataframe if "vs overall" in d.value.columns]
    assert set(df.value["map_cluster_label"]) == {f"topic {i}" for i in range(4)}
    at.selectbox(key="w_ret_by").set_value("lang_code").run()
    assert not at.exception, [e.value for e in at.exception]
    (df,) = [d for d in at.dataframe if "vs overall" in d.value.columns]
    assert "lang_code" in df.value.columns


def test_info_lists_map_clusters(ui_path, capsys):
    """`winnow info` lists the map's clusters with their names and sizes (issue 20.7)."""
    import json

    from app.cli import main

    assert main(["info", "--workspace", ui_path]) in (0, None)
    out = capsys.readouterr().out
    assert "clusters    4 (map)" in out and "topic 0" in out
    assert main(["info", "--workspace", ui_path, "--json"]) in (0, None)
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sum(c["documents"] for c in got["clusters"]) == 240 and len(got["clusters"]) == 4


def test_info_names_instruction_clusters_by_their_openings(ui_path, capsys):
    """With instruct_template scored, each cluster also shows its commonest instruction openings (issue 20.7)."""
    import json

    import pandas as pd

    from app.cli import main

    with Workspace.open(ui_path) as ws:
        ids = [r[0] for r in ws.cursor().execute("SELECT id FROM corpus ORDER BY id").fetchall()]
        tmpl = pd.DataFrame(
            {
                "id": ids,
                "instruct_template": [["rewrite the sentence", "generate a list"][i % 2] for i in range(len(ids))],
            }
        )
        with ws.transaction() as cur:
            cur.register("_t", tmpl)
            cur.execute("CREATE TABLE sig_tmpl AS SELECT * FROM _t")
            ws.register_part("sig_tmpl", kind="signal", con=cur)
    assert main(["info", "--workspace", ui_path, "--json"]) in (0, None)
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # map_cluster is i % 4, so cluster 0 holds only even rows: "rewrite the sentence"
    c0 = next(c for c in got["clusters"] if c["cluster"] == 0)
    assert c0["tasks"] == ["rewrite the sentence"]
    assert main(["info", "--workspace", ui_path]) in (0, None)
    assert "[rewrite the sentence]" in capsys.readouterr().out
