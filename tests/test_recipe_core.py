"""Recipe schema, validation errors, compile/summarize/borderline against hand-made workspaces."""

from __future__ import annotations

import pandas as pd
import pytest

from app.errors import RecipeError
from app.recipes import (
    borderline,
    compile_recipe,
    get_recipe,
    list_recipes,
    load_recipe,
    save_recipe,
    select_ids_sql,
    summarize,
)
from app.recipes.compile import EXACT_NORM_SQL
from app.workspace import Workspace

MINIMAL = """version: 1
rules:
  - {signal: size_words, min: 5}
  - {signal: quality_score, min_quantile: 0.2}
  - {signal: lang_code, in: [en, de]}
"""


def make_ws(path, n: int = 300) -> Workspace:
    """n documents in two sources with a hand-made signals part (no scorers involved)."""
    ws = Workspace.open(path, create=True)
    ids = [f"d{i:04d}" for i in range(n)]
    texts = [f"document number {i % (n // 3)} " + "word " * (i % 13) for i in range(n)]
    ws.write_source("web", pd.DataFrame({"id": ids[: n // 2], "text": texts[: n // 2]}))
    ws.write_source("wiki", pd.DataFrame({"id": ids[n // 2 :], "text": texts[n // 2 :]}))
    langs = ["en", "de", "fr", None]
    sig = pd.DataFrame(
        {
            "id": ids,
            "size_words": [(i * 7) % 40 for i in range(n)],
            "quality_score": [((i * 37) % 101) / 100 for i in range(n)],
            "lang_code": [langs[i % 4] for i in range(n)],
            "size_tokens": [10 + i % 50 for i in range(n)],
        }
    )
    with ws.transaction() as cur:
        cur.register("_sig", sig)
        cur.execute("CREATE OR REPLACE TABLE sig_test AS SELECT * FROM _sig")
        cur.unregister("_sig")
        ws.register_part("sig_test", kind="signal", con=cur)
    return ws


@pytest.fixture
def ws(tmp_path):
    w = make_ws(tmp_path / "ws")
    yield w
    w.close()


def test_minimal_form_accepted_and_round_trips():
    r = load_recipe(MINIMAL)
    assert [x.kind for x in r.rules] == ["range", "quantile", "in"]
    assert load_recipe(r.to_yaml()) == r
    assert load_recipe(r.to_dict()) == r


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 1\nrules:\n  - {signal: x, min: abc}\n", "line 3, rules[0].min: expected a number"),
        ("version: 1\nrules:\n  - {signal: x, mni: 3}\n", "did you mean 'min'"),
        ("version: 2\nrules: []\n", "unsupported recipe version"),
        ("version: 1\nrules: [\n", "not valid YAML (line"),
        ("version: 1\nrules:\n  - {signal: x}\n", "needs one of min"),
        ("version: 1\nrules:\n  - {expr: 'a > 1; DROP TABLE docs'}\n", "unexpected character ';'"),
        ("version: 1\nrules:\n  - {expr: 'lower(a) = 1'}\n", "function calls are not allowed"),
        ("version: 1\nrules:\n  - {expr: 'a in (select id from docs)'}\n", "only literal values"),
        ('version: 1\nrules:\n  - {expr: "a = 1 /* c */"}\n', "expression"),
        ("version: 1\nrules:\n  - {signal: x, min_quantile: 1.5}\n", "outside"),
        ("version: 1\nsample: {n: 5, fraction: 0.1}\n", "exactly one of"),
        ("version: 1\nbalance: [{column: source}]\n", "needs 'column' and 'cap'"),
        ("- just a list\n", "a recipe is a mapping"),
    ],
)
def test_bad_recipes_have_clear_errors(text, needle):
    with pytest.raises(RecipeError) as e:
        load_recipe(text)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_unknown_signal_lists_similar_names(ws):
    with pytest.raises(RecipeError, match=r"unknown signal 'quality_scor'.*did you mean quality_score"):
        compile_recipe(ws.con, "version: 1\nrules:\n  - {signal: quality_scor, min: 1}\n")


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ("{signal: lang_code, min: 3}", "not a number"),
        ("{signal: size_words, in: [a, b]}", "holds the text"),
        ("{signal: lang_code, in: [1, 2]}", "quote"),
        ("{expr: \"lang_code > 'a' + 3\"}", "type-check"),
    ],
)
def test_wrong_types_are_rejected(ws, rule, needle):
    with pytest.raises(RecipeError, match=needle):
        compile_recipe(ws.con, f"version: 1\nrules:\n  - {rule}\n")


def _direct_count(ws, where: str, params=None) -> int:
    return ws.con.execute(f"SELECT count(*) FROM corpus WHERE {where}", params or {}).fetchone()[0]


@pytest.mark.parametrize("cache", [True, False])
def test_summarize_matches_direct_sql(ws, cache):
    r = load_recipe(MINIMAL)
    s = summarize(ws.con, r, cache=cache)
    q = ws.con.execute("SELECT quantile_cont(quality_score, 0.2) FROM corpus").fetchone()[0]
    where = "size_words >= 5 AND quality_score >= $q AND lang_code IN ('en', 'de')"
    assert s["total_docs"] == 300
    assert s["kept_docs"] == _direct_count(ws, where, {"q": q})
    assert (
        s["kept_tokens"] == ws.con.execute(f"SELECT sum(size_tokens) FROM corpus WHERE {where}", {"q": q}).fetchone()[0]
    )
    assert s["rules"][0]["removed"] == _direct_count(ws, "NOT coalesce(size_words >= 5, false)")
    assert s["rules"][2]["removed"] == _direct_count(ws, "lang_code IS NULL OR lang_code NOT IN ('en', 'de')")
    assert s["rules"][1]["label"].startswith("quality_score >= q0.2")
    assert s["resolved"]["rules"][1]["min"] == pytest.approx(q)
    assert {d["source"] for d in s["by_source"]} == {"web", "wiki"}
    assert sum(d["kept"] for d in s["by_lang"]) == s["kept_docs"]
    ov = s["overlap"]
    assert all(ov[i][i] == s["rules"][i]["removed"] for i in range(3))
    assert ov[0][1] == ov[1][0]
    only0 = _direct_count(
        ws, "NOT coalesce(size_words >= 5, false) AND quality_score >= $q AND lang_code IN ('en','de')", {"q": q}
    )
    assert s["rules"][0]["removed_only"] == only0
    comp = compile_recipe(ws.con, r)
    sql, p = select_ids_sql(comp)
    assert len(ws.con.execute(sql, p).fetchall()) == s["kept_docs"]


def test_keep_null_and_not_in(ws):
    s = summarize(ws.con, "version: 1\nrules:\n  - {signal: lang_code, not_in: [fr], keep_null: true}\n")
    assert s["kept_docs"] == 225
    s = summarize(ws.con, "version: 1\nrules:\n  - {signal: lang_code, not_in: [fr]}\n")
    assert s["kept_docs"] == 150


def test_expression_rule(ws):
    s = summarize(ws.con, "version: 1\nrules:\n  - {expr: \"size_words between 5 and 10 or lang_code = 'fr'\"}\n")
    assert s["kept_docs"] == _direct_count(ws, "coalesce(size_words BETWEEN 5 AND 10 OR lang_code = 'fr', false)")


def test_dedup_balance_sample(ws):
    base = "version: 1\nrules: []\n"
    s = summarize(ws.con, base + "dedup: {exact: true}\n")
    assert s["kept_docs"] == ws.con.execute(f"SELECT count(DISTINCT {EXACT_NORM_SQL}) FROM corpus").fetchone()[0]
    s = summarize(ws.con, base + "sample: {n: 37, seed: 3}\n")
    assert s["kept_docs"] == 37
    s2 = summarize(ws.con, base + "sample: {fraction: 0.5, weight: quality_score}\n")
    assert s2["kept_docs"] == 150
    s = summarize(ws.con, base + "balance: [{column: source, cap: 30}]\n")
    assert 0 < s["kept_docs"] < 120
    assert all(d["kept"] < 60 for d in s["by_source"])


def test_borderline(ws):
    b = borderline(ws.con, MINIMAL, 0, n=3)
    assert b["threshold"] == 5
    assert all(r["value"] >= 5 for r in b["above"]) and len(b["above"]) == 3
    assert all(r["value"] < 5 for r in b["below"])
    assert b["above"][0]["value"] == 5 and b["below"][0]["value"] == 4
    b = borderline(ws.con, MINIMAL, 2, n=2)
    assert all(r["value"] in ("en", "de") for r in b["above"])
    assert all(r["value"] not in ("en", "de") for r in b["below"])
    with pytest.raises(RecipeError):
        borderline(ws.con, MINIMAL, 9)


def test_save_and_list(ws):
    save_recipe(ws, "cut", MINIMAL)
    assert [r["name"] for r in list_recipes(ws)] == ["cut"]
    assert get_recipe(ws, "cut") == load_recipe(MINIMAL)
    with pytest.raises(RecipeError, match="saved: cut"):
        get_recipe(ws, "nope")


def test_summary_frame_is_cached_across_threshold_changes(ws):
    from app.recipes.cache import CACHE

    summarize(ws.con, MINIMAL)
    frames = dict(CACHE.frames)
    assert len(frames) >= 1
    s = summarize(ws.con, MINIMAL.replace("min: 5", "min: 9").replace("0.2", "0.4"))
    assert frames == CACHE.frames and all(CACHE.frames[k] is v for k, v in frames.items())
    assert (
        s["kept_docs"]
        == summarize(ws.con, MINIMAL.replace("min: 5", "min: 9").replace("0.2", "0.4"), cache=False)["kept_docs"]
    )


def test_compile_errors_name_the_line(ws):
    text = "version: 1\nrules:\n  - {signal: size_words, min: 1}\n  - {signal: quality_scor, min: 1}\n"
    with pytest.raises(RecipeError, match=r"^recipe line 4, rules\[1\]\.signal: unknown signal 'quality_scor'"):
        compile_recipe(ws.con, load_recipe(text))
    with pytest.raises(RecipeError, match=r"^recipe line 3, rules\[0\]\.expr: unknown signal 'nope'"):
        compile_recipe(ws.con, "version: 1\nrules:\n  - {expr: 'nope > 1'}\n")
