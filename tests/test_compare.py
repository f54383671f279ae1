"""Comparing two recipes: the fates add up to each recipe's own selection, a recipe equals itself, the flipped
documents are exactly the SQL difference and carry the first rule that drops them; the CLI."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import main
from app.recipes import compile_recipe, load_recipe, save_recipe, select_ids_sql, summarize
from app.recipes.compare import STAGE_LABEL, compare_recipes
from tests.test_recipe_core import make_ws

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

A = "version: 1\nname: a\nrules:\n  - {signal: size_words, min: 5}\n  - {signal: quality_score, min_quantile: 0.2}\n"
B = (
    "version: 1\nname: b\nrules:\n  - {signal: size_words, min: 10}\n  - {signal: lang_code, in: [en, de]}\n"
    "dedup: {exact: true}\nsample: {n: 50, seed: 1}\n"
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = make_ws(tmp_path_factory.mktemp("compare") / "ws", n=600)
    with w.transaction() as cur:  # a map cluster per document (some unclustered: NULL)
        cur.execute(
            "CREATE TABLE map_test AS SELECT id, CASE WHEN hash(id) % 7 = 0 THEN NULL ELSE (hash(id) % 5)::INT END"
            " AS map_cluster FROM docs"
        )
        w.register_part("map_test", kind="map", con=cur)
    yield w
    w.close()


def kept(ws, recipe) -> set[str]:
    sql, p = select_ids_sql(compile_recipe(ws.con, recipe))
    return {r[0] for r in ws.con.execute(sql, p).fetchall()}


rule_strategy = st.one_of(
    st.builds(
        lambda a, b: {"signal": "size_words", "min": min(a, b), "max": max(a, b)},
        st.integers(0, 40),
        st.integers(0, 40),
    ),
    st.builds(lambda q: {"signal": "quality_score", "min_quantile": q}, st.floats(0, 1)),
    st.builds(lambda v: {"signal": "lang_code", "in": v}, st.lists(st.sampled_from(["en", "de", "fr"]), unique=True)),
    st.builds(lambda n: {"expr": f"size_tokens > {n}"}, st.integers(0, 60)),
)
recipe_strategy = st.builds(
    lambda rules, exact, sample, cap: {
        "version": 1,
        "rules": rules,
        **({"dedup": {"exact": True}} if exact else {}),
        **({"sample": {**sample, "seed": 3}} if sample is not None else {}),
        **({"balance": [{"column": "lang_code", "cap": cap, "seed": 1}]} if cap is not None else {}),
    },
    st.lists(rule_strategy, max_size=3),
    st.booleans(),
    st.one_of(
        st.none(),
        st.builds(lambda n: {"n": n}, st.integers(0, 400)),
        st.builds(lambda f: {"fraction": f}, st.floats(0.001, 1)),
        st.builds(
            lambda n, w: {"n": n, w: "quality_score"}, st.integers(1, 400), st.sampled_from(["weight", "log_weight"])
        ),
    ),
    st.one_of(st.none(), st.integers(1, 200)),
)


@SETTINGS
@given(r=recipe_strategy)
def test_a_recipe_compared_with_itself_shows_no_difference(ws, r):
    res = compare_recipes(ws.con, r, r, flipped=5)
    assert res["same"]
    assert res["counts"]["a_only"] == {"docs": 0, "tokens": 0} == res["counts"]["b_only"]
    assert res["flips"] == [] and res["flipped"] == []
    assert all(x["status"] == "same" for x in res["rules"]) and res["sections"] == []


@SETTINGS
@given(a=recipe_strategy, b=recipe_strategy)
def test_fates_add_up_to_each_recipes_own_summary(ws, a, b):
    res = compare_recipes(ws.con, a, b, flipped=0)
    c = res["counts"]
    for side, fate, recipe in (("a", "a_only", a), ("b", "b_only", b)):
        s = summarize(ws.con, recipe)
        assert c[fate]["docs"] + c["both"]["docs"] == s["kept_docs"] == res[side]["kept_docs"]
        assert c[fate]["tokens"] + c["both"]["tokens"] == s["kept_tokens"] == res[side]["kept_tokens"]
    assert sum(v["docs"] for v in c.values()) == res["total_docs"] == 600
    assert len(res["by_cluster"]) == 6 and res["cluster_column"] == "map_cluster"
    for table in ("by_source", "by_lang", "by_cluster"):
        assert sum(g["a_only"] for g in res[table]) == c["a_only"]["docs"]
        assert sum(g["b_only_tokens"] for g in res[table]) == c["b_only"]["tokens"]
    assert sum(f["docs"] for f in res["flips"]) == c["a_only"]["docs"] + c["b_only"]["docs"]


def test_flipped_documents_are_the_sql_difference_with_the_first_failing_rule(ws):
    res = compare_recipes(ws.con, A, B, flipped=10_000)
    ka, kb = kept(ws, A), kept(ws, B)
    got = {d["id"]: d for d in res["flipped"]}
    assert {i for i, d in got.items() if d["direction"] == "a_only"} == ka - kb
    assert {i for i, d in got.items() if d["direction"] == "b_only"} == kb - ka
    assert ka - kb and kb - ka
    # the rule named is the first check of the dropping recipe the document fails (else a later stage)
    comp_b = compile_recipe(ws.con, B)
    flags = ", ".join(f"coalesce({c.sql}, false)" for c in comp_b.checks)
    rows = ws.con.execute(f"SELECT id, text, {flags} FROM corpus", comp_b.params).fetchall()
    for i, text, *row in rows:
        if i not in got or got[i]["direction"] != "a_only":
            continue
        first = next((comp_b.checks[j].label for j, ok in enumerate(row) if not ok), STAGE_LABEL)
        assert got[i]["rule"] == first
        assert got[i]["text"] == text[:300]


def test_rule_changes_name_changed_thresholds_and_sections(ws):
    res = compare_recipes(ws.con, A, B, flipped=0)
    by = {r["status"]: r for r in res["rules"]}
    assert by["changed"]["a_threshold"] == {"min": 5} and by["changed"]["b_threshold"] == {"min": 10}
    assert by["only_a"]["signal"] == "quality_score" and by["only_a"]["a_threshold"]["min_quantile"] == 0.2
    assert by["only_b"]["b_threshold"] == {"in": ["en", "de"]}
    assert {s["section"] for s in res["sections"]} == {"dedup", "sample"}


def test_flipped_sample_is_deterministic_and_bounded(ws):
    one = compare_recipes(ws.con, A, B, flipped=3)
    two = compare_recipes(ws.con, load_recipe(A), load_recipe(B), flipped=3)
    assert one["flipped"] == two["flipped"]
    assert sum(d["direction"] == "a_only" for d in one["flipped"]) == 3
    assert all(len(d["text"]) <= 300 for d in one["flipped"])


def test_cli_compare_file_and_saved_recipe(tmp_path, capsys):
    w = make_ws(tmp_path / "ws", n=120)
    save_recipe(w, "stricter", load_recipe(B))
    w.close()
    path, a = str(tmp_path / "ws"), str(tmp_path / "a.yaml")
    (tmp_path / "a.yaml").write_text(A)
    assert main(["compare", "-w", path, "-r", a, "-r", "stricter", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["counts"]["a_only"]["docs"] > 0 and res["b"]["name"] == "b"
    assert main(["compare", "-w", path, "-r", a, "-r", "stricter"]) == 0
    out = capsys.readouterr().out
    assert "A only" in out and "changed: size_words >= 5  ->  size_words >= 10" in out
    assert not out.strip().splitlines()[-1].startswith("{")
    assert main(["compare", "-w", path, "-r", a]) == 1
    assert "exactly two recipes" in capsys.readouterr().err
    assert main(["compare", "-w", path, "-r", a, "-r", "nope.yaml"]) == 1
    assert "does not exist" in capsys.readouterr().err


@SETTINGS
@given(a=recipe_strategy, b=recipe_strategy)
def test_live_path_equals_the_sql_path(ws, a, b):
    """The cached-vector path (rules, dedup, balancing and sampling in numpy) and the SQL path give the same
    comparison, flipped sample included."""
    live = compare_recipes(ws.con, a, b, flipped=4)
    sql = compare_recipes(ws.con, a, b, flipped=4, relation="corpus")
    assert sql["path"] == "sql" and live["path"] == "live"
    for k in ("counts", "by_source", "by_lang", "by_cluster", "flips", "flipped", "rules", "sections", "same"):
        assert live[k] == sql[k], k


def test_annotated_rules_do_not_drop_in_a_comparison(ws):
    """A rule an annotate: section names tags instead of dropping, in a comparison as in the export."""
    tagged = A + "annotate: {rules: [1], token: '<|bad|>'}\n"
    res = compare_recipes(ws.con, A, tagged, flipped=0)
    without = "version: 1\nrules:\n  - {signal: quality_score, min_quantile: 0.2}\n"
    assert res["b"]["kept_docs"] == summarize(ws.con, without)["kept_docs"] > res["a"]["kept_docs"]
    assert [s["section"] for s in res["sections"]] == ["annotate"]


def test_a_relabelled_rule_is_the_same_rule(ws):
    relabelled = A.replace("{signal: size_words, min: 5}", "{signal: size_words, min: 5, label: long enough}")
    res = compare_recipes(ws.con, A, relabelled, flipped=0)
    assert [r["status"] for r in res["rules"]] == ["same", "same"] and res["same"]


def test_one_cached_frame_serves_every_narrower_recipe(ws):
    """The compare panel's frame (the rules' columns plus id and cluster) also serves the live panel's and the
    retention table's summaries: one frame and one set of vectors, not frames evicting each other per rerun."""
    from app.recipes.cache import CACHE, version_token

    CACHE.clear()
    token = version_token(ws.con, "corpus")
    big = CACHE.frame(ws.con, load_recipe(A), token=token, extra=("id", "map_cluster"))
    small = CACHE.frame(ws.con, load_recipe(A), token=token)
    assert small[2] == big[2] and small[1] is big[1] and len(CACHE.frames) == 1
    assert summarize(ws.con, A)["kept_docs"] == summarize(ws.con, A, cache=False)["kept_docs"]
