"""Honest stage accounting: counts after each recipe stage, and the shortfalls said with numbers (issue 20.1)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.recipes import compile_recipe, select_ids_sql, summarize
from app.workspace import Workspace


def make_ws(path, n: int = 400) -> Workspace:
    """n documents in 4 groups (one group holds most of them), a weight that is 0 for a quarter of them."""
    ws = Workspace.open(path, create=True)
    ids = [f"d{i:04d}" for i in range(n)]
    ws.write_source("web", pd.DataFrame({"id": ids, "text": [f"doc {i} " + "w " * (i % 9) for i in range(n)]}))
    sig = pd.DataFrame(
        {
            "id": ids,
            "grp": ["big" if i % 5 else f"g{i % 3}" for i in range(n)],
            "q": [float(i % 4) for i in range(n)],
            "size_words": [i % 20 for i in range(n)],
        }
    )
    with ws.transaction() as cur:
        cur.register("_sig", sig)
        cur.execute("CREATE OR REPLACE TABLE sig_stage AS SELECT * FROM _sig")
        cur.unregister("_sig")
        ws.register_part("sig_stage", kind="signal", con=cur)
    return ws


@pytest.fixture
def ws(tmp_path):
    w = make_ws(tmp_path / "ws")
    yield w
    w.close()


def _kept(ws, recipe) -> int:
    con = ws.cursor()
    sql, params = select_ids_sql(compile_recipe(con, recipe))
    return len(con.execute(sql, params).fetchall())


def test_stages_count_each_stage_in_order(ws):
    recipe = {
        "version": 1,
        "rules": [{"signal": "size_words", "min": 2}],
        "dedup": {"exact": True},
        "balance": [{"column": "grp", "cap": 10}],
        "sample": {"n": 1000, "seed": 1},
    }
    s = summarize(ws.cursor(), recipe)
    names = [x["stage"] for x in s["stages"]]
    assert names == ["input", "rules", "dedup", "balance", "sample"]
    kept = [x["kept"] for x in s["stages"]]
    assert kept[0] == 400 and kept == sorted(kept, reverse=True)
    # each count is what the stage lets through, measured independently
    assert kept[1] == _kept(ws, {"version": 1, "rules": recipe["rules"]})
    assert kept[2] == _kept(ws, {"version": 1, "rules": recipe["rules"], "dedup": {"exact": True}})
    assert kept[3] == _kept(ws, {k: v for k, v in recipe.items() if k != "sample"})
    assert kept[4] == s["kept_docs"] == _kept(ws, recipe)
    assert all(x["removed"] == a["kept"] - x["kept"] for a, x in zip(s["stages"], s["stages"][1:]))
    bal = s["stages"][3]
    assert bal["groups"] == 4 and bal["capped"] >= 1 and bal["expected_max"] <= 40


def test_short_sample_is_said_with_numbers(ws):
    recipe = {"version": 1, "balance": [{"column": "grp", "cap": 10}], "sample": {"n": 1000}}
    s = summarize(ws.cursor(), recipe)
    smp = s["stages"][-1]
    assert smp["asked"] == 1000 and smp["kept"] == s["kept_docs"] < 1000
    assert len(s["shortfalls"]) == 1
    msg = s["shortfalls"][0]
    assert f"got {s['kept_docs']:,}" in msg and "1,000" in msg and "cap" in msg


def test_weighted_sample_names_zero_weights(ws):
    s = summarize(ws.cursor(), {"version": 1, "sample": {"n": 390, "weight": "q"}})
    smp = s["stages"][-1]
    assert smp["eligible"] == 300 and smp["kept"] == 300
    assert "usable q" in s["shortfalls"][0]


def test_log_weighted_sample_counts_finite_log_weights(tmp_path):
    import math

    w = Workspace.open(tmp_path / "lw", create=True)
    ids = [f"e{i:03d}" for i in range(60)]
    w.write_source("web", pd.DataFrame({"id": ids, "text": [f"text {i}" for i in range(60)]}))
    lw = pd.DataFrame({"id": ids, "lw": [(-math.inf if i % 3 == 0 else float(i % 7)) for i in range(60)]})
    with w.transaction() as cur:
        cur.register("_lw", lw)
        cur.execute("CREATE TABLE sig_lw AS SELECT * FROM _lw")
        w.register_part("sig_lw", kind="signal", con=cur)
    s = summarize(w.cursor(), {"version": 1, "sample": {"n": 50, "log_weight": "lw"}})
    w.close()
    smp = s["stages"][-1]
    assert smp["eligible"] == 40 and smp["kept"] == 40 and "usable lw" in s["shortfalls"][0]


def test_no_shortfall_when_delivered(ws):
    s = summarize(ws.cursor(), {"version": 1, "sample": {"n": 50}, "balance": [{"column": "grp", "cap": 1000}]})
    assert s["kept_docs"] == 50 and s["shortfalls"] == []


def test_live_path_stages_without_balance(ws):
    # no balance or sample: the cached bincount path gives the same per-stage counts as the SQL path
    recipe = {"version": 1, "rules": [{"signal": "size_words", "min": 5}], "dedup": {"exact": True}}
    a = summarize(ws.cursor(), recipe)["stages"]
    b = summarize(ws.cursor(), recipe, cache=False)["stages"]
    assert [x["kept"] for x in a] == [x["kept"] for x in b]
    assert [x["stage"] for x in a] == ["input", "rules", "dedup"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cap=st.integers(1, 120), n=st.integers(1, 500), lo=st.integers(0, 19))
def test_stage_counts_never_increase_and_end_at_kept(ws, cap, n, lo):
    recipe = {
        "version": 1,
        "rules": [{"signal": "size_words", "min": lo}],
        "balance": [{"column": "grp", "cap": cap}],
        "sample": {"n": n},
    }
    s = summarize(ws.cursor(), recipe)
    kept = [x["kept"] for x in s["stages"]]
    assert kept == sorted(kept, reverse=True) and kept[-1] == s["kept_docs"]
    assert any(m.startswith("sample") for m in s["shortfalls"]) == (s["kept_docs"] < n)


SHORT = {"version": 1, "balance": [{"column": "grp", "cap": 10}], "sample": {"n": 1000}}


def test_manifest_and_report_carry_the_shortfall(ws, tmp_path):
    from app.export import apply
    from app.report import build_report

    m = apply(ws, SHORT, tmp_path / "out")
    assert m["counts"]["kept_docs"] < 1000 and len(m["shortfalls"]) == 1
    assert [s["stage"] for s in m["stages"]] == ["input", "balance", "sample"]
    html, data = build_report(ws, SHORT, samples=5)
    assert data["summary"]["shortfalls"] == m["shortfalls"]
    assert 'class="warn"' in html and f"got {m['counts']['kept_docs']:,}" in html


def test_cli_prints_stages_and_warning(ws, tmp_path, capsys):
    import yaml

    from app.cli import main

    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(SHORT))
    ws.close()
    rc = main(["apply", "--workspace", str(tmp_path / "ws"), "--recipe", str(path), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc in (0, None)
    assert "stages: input 400 -> balance" in out and "warning: sample asked for 1,000" in out


def test_recipe_save_uses_the_recipes_name(ws, tmp_path):
    """`winnow recipe save lima.yaml` stores the recipe under its own `name:` (issue 20.9), --name still wins."""
    from app.cli import main
    from app.recipes import list_recipes

    path = tmp_path / "file-stem.yaml"
    path.write_text("version: 1\nname: lima-1k\nsample: {n: 5}\n")
    where = str(tmp_path / "ws")
    ws.close()
    assert main(["recipe", "save", str(path), "--workspace", where]) in (0, None)
    assert main(["recipe", "save", str(path), "--workspace", where, "--name", "other"]) in (0, None)
    w = Workspace.open(where)
    try:
        assert [r["name"] for r in list_recipes(w)] == ["lima-1k", "other"]
    finally:
        w.close()
