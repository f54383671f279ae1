"""A near-duplicate threshold inside recipes (issue 15): ``dedup: {near: 0.7}``.

In a workspace scored at ``T0``, a recipe threshold ``T >= T0`` is served from the stored columns: a member is a
near duplicate only when its estimated Jaccard with its cluster's representative is at least ``T``. Checked here
against a fresh ``winnow dedup near --threshold T`` on a corpus of copies at known Jaccards; a lower ``T`` is a
one-line error naming the command; headless apply clusters at the recipe's threshold; the forms round-trip.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.export.headless import apply_headless
from app.recipes import compile_recipe, live, load_recipe, select_ids_sql, summarize
from app.recipes.rules import decode_url, encode_url, from_json
from app.recipes.schema import Recipe
from app.signals import dedup_near as dn
from app.signals import engine
from tests.test_signals import make_ws

pytest.importorskip("scipy")
pytest.importorskip("xxhash")

#: scattered single-word edits of a 300-word text -> exact shingle Jaccard with it (5 shingles per edit)
EDITS = {"b": 2, "c": 8, "d": 17}  # about 0.93, 0.76, 0.55


def _corpus() -> dict[str, str]:
    """Groups of a base text (smallest id) and copies edited independently, plus unrelated and empty texts."""
    rnd = random.Random(7)
    out: dict[str, str] = {}
    for g in range(6):
        base = [f"w{rnd.randrange(50_000)}" for _ in range(300)]
        out[f"g{g}a"] = " ".join(base)
        for name, k in EDITS.items():
            words = list(base)
            for i in rnd.sample(range(0, 300, 9), k):  # at least 9 words apart: each edit breaks 5 shingles
                words[i] = f"edit{rnd.randrange(10**6)}"
            out[f"g{g}{name}"] = " ".join(words)
    for u in range(5):
        out[f"u{u}"] = " ".join(f"v{rnd.randrange(50_000)}" for _ in range(rnd.randrange(5, 200)))
    out["zz"] = "!!"  # no words: no signature
    return out


def _kept(ws, recipe) -> list[str]:
    sql, p = select_ids_sql(compile_recipe(ws.con, recipe))
    return [r[0] for r in ws.con.execute(sql, p).fetchall()]


def _scored(tmp_path, name: str, t: float):
    """A workspace of :func:`_corpus` scored as ``winnow dedup near --threshold t`` does."""
    ws = make_ws(tmp_path, _corpus(), name=name)
    dn.set_workspace_threshold(ws.con, t)
    engine.score(ws, signals="dedup_near")
    return ws


def test_recipe_threshold_matches_a_fresh_run_at_it(tmp_path):
    live.clear()
    low = _scored(tmp_path, "low", 0.5)
    try:
        assert dn.scored_threshold(low.con) == 0.5
        everything = _kept(low, "version: 1\nrules: []\n")
        at_scored = _kept(low, "version: 1\nrules: []\ndedup: {near: true}\n")
        assert _kept(low, "version: 1\nrules: []\ndedup: {near: 0.5}\n") == at_scored
        seen = {0.5: len(everything) - len(at_scored)}
        for t in (0.65, 0.85):
            recipe = f"version: 1\nrules: []\ndedup: {{near: {t}}}\n"
            served = _kept(low, recipe)
            fresh_ws = _scored(tmp_path, f"t{t}", t)
            try:
                fresh = _kept(fresh_ws, "version: 1\nrules: []\ndedup: {near: true}\n")
            finally:
                fresh_ws.close()
            assert served == fresh, t
            seen[t] = len(everything) - len(served)
            # the interactive counts (numpy over the recipe frame) equal the SQL path's
            fast, slow = summarize(low.con, recipe), summarize(low.con, recipe, cache=False)
            assert fast["kept_docs"] == slow["kept_docs"] == len(served)
            assert [(r["label"], r["removed"]) for r in fast["rules"]] == [
                (r["label"], r["removed"]) for r in slow["rules"]
            ]
            assert fast["resolved"]["dedup_near_threshold"] == t
            assert f">= {t:g}" in fast["rules"][0]["label"]
        # stricter thresholds remove fewer copies: 3 per group at 0.5, about 2 at 0.65, 1 at 0.85
        assert seen[0.5] > seen[0.65] > seen[0.85] >= 6
    finally:
        low.close()


def test_recipe_threshold_with_a_rule_keeps_a_surviving_copy(tmp_path):
    """The representative fails a rule: among the survivors, the smallest id that is similar enough is kept."""
    ws = _scored(tmp_path, "ws", 0.5)
    try:
        base = "version: 1\nrules:\n  - {expr: \"id <> 'g0a'\"}\n"
        kept = _kept(ws, base + "dedup: {near: 0.85}\n")
        # g0a is gone; g0b (0.93 to it) is the group's kept copy; c and d (below 0.85 to g0a) stay as singletons
        assert [k for k in kept if k.startswith("g0")] == ["g0b", "g0c", "g0d"]
        assert [k for k in kept if k.startswith("g1")] == ["g1a", "g1c", "g1d"]
    finally:
        ws.close()


def test_a_threshold_below_the_scored_one_says_what_to_run(tmp_path):
    ws = _scored(tmp_path, "ws", 0.7)
    try:
        with pytest.raises(RecipeError) as e:
            compile_recipe(ws.con, "version: 1\nrules: []\ndedup: {near: 0.6}\n")
        msg = str(e.value)
        assert "\n" not in msg and "winnow dedup near --threshold 0.6" in msg and "0.7" in msg
        with pytest.raises(RecipeError) as e:
            summarize(ws.con, "version: 1\nrules: []\ndedup: {near: 0.6}\n")
        assert "winnow dedup near --threshold 0.6" in str(e.value)
    finally:
        ws.close()


def test_headless_clusters_at_the_recipe_threshold(tmp_path):
    texts = _corpus()
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in texts.items()))
    got = {}
    for t in (0.5, 0.85):
        out = tmp_path / f"o{t}"
        recipe = f"version: 1\nrules: []\ndedup: {{near: {t}}}\n"
        m = apply_headless(recipe, [str(src)], out, fmt="jsonl", id_field="id")
        assert m["recipe"]["dedup"] == {"near": t} and m["resolved"]["dedup_near_threshold"] == t
        got[t] = sorted(json.loads(line)["id"] for f in sorted(out.glob("*.jsonl")) for line in f.open())
        ws = _scored(tmp_path, f"ws{t}", t)
        try:
            assert got[t] == _kept(ws, "version: 1\nrules: []\ndedup: {near: true}\n")
        finally:
            ws.close()
    assert len(got[0.85]) > len(got[0.5])
    m = apply_headless("version: 1\nrules: []\ndedup: {near: true}\n", [str(src)], tmp_path / "od", fmt="jsonl")
    assert m["recipe"]["dedup"] == {"near": True} and m["resolved"]["dedup_near_threshold"] == dn.DEFAULT_THRESHOLD


def test_the_threshold_round_trips_through_yaml_json_url_and_panel():
    r = load_recipe("version: 1\nrules: []\ndedup: {exact: true, near: 0.7}\n")
    assert r.dedup.near_threshold == 0.7 and r.to_dict()["dedup"] == {"exact": True, "near": 0.7}
    assert load_recipe(r.to_yaml()) == r
    assert load_recipe(json.loads(json.dumps(r.to_dict()))) == r
    panel = r.panel_rules()
    near = next(x for x in panel if x.kind == "dedup" and x.col == "near")
    assert near.threshold == 0.7 and ">= 0.7" in near.describe()
    back = decode_url(encode_url(panel))
    assert back == panel
    assert [from_json(x.to_json()) for x in panel] == panel
    assert Recipe.from_panel(back).dedup == r.dedup
    # near: true stays true (the workspace's scored clusters), with no threshold anywhere
    plain = load_recipe("version: 1\nrules: []\ndedup: {near: true}\n")
    assert plain.dedup.near_threshold is None and plain.to_dict()["dedup"] == {"near": True}
    assert decode_url(encode_url(plain.panel_rules()))[0].threshold is None


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.2", "'x'", "[0.5]"])
def test_bad_thresholds_are_one_line_errors(bad):
    with pytest.raises(RecipeError) as e:
        load_recipe(f"version: 1\nrules: []\ndedup: {{near: {bad}}}\n")
    assert "\n" not in str(e.value) and "near" in str(e.value)
    assert decode_url("dedup:near:abc") == [] and decode_url("dedup:near:2") == []
    with pytest.raises(RecipeError):
        from_json({"kind": "dedup", "col": "near", "lo": 2})


def test_panel_threshold_counts_and_saves(tmp_path):
    """The Thresholds panel's near-dedup slider: the server counts the rule at its threshold (what the slider
    sends as ``lo``), words it, and the saved recipe keeps it."""
    from app.explore import panel_api, recipe_bridge

    ws = _scored(tmp_path, "ws", 0.5)
    try:
        rule = from_json({"kind": "dedup", "col": "near", "lo": 0.85, "uid": "n1"})
        s = panel_api.summary_payload(ws.cursor(), [rule])
        assert s["kept_docs"] == len(_kept(ws, "version: 1\nrules: []\ndedup: {near: 0.85}\n"))
        assert ">= 0.85" in s["texts"][0]
        saved = recipe_bridge.recipe_from_rules([rule], name="r", description=None, base=None)
        assert saved.to_dict()["dedup"] == {"near": 0.85}
        with pytest.raises(RecipeError, match=r"winnow dedup near --threshold 0\.3"):
            panel_api.summary_payload(ws.cursor(), [from_json({"kind": "dedup", "col": "near", "lo": 0.3})])
    finally:
        ws.close()


@pytest.mark.slow
def test_thresholds_page_offers_the_slider_from_the_scored_threshold(tmp_path):
    pytest.importorskip("streamlit")
    from tests.app.test_pages import _panel, app_at

    ws = _scored(tmp_path, "ws", 0.5)
    ws.close()
    at = app_at(str(tmp_path / "ws"), "thresholds", r="dedup:near:0.85")
    data = _panel(at)
    (rule,) = data["rules"]
    assert rule["lo"] == 0.85 and data["meta"][rule["uid"]] == {"scored": 0.5}
    assert data["summary"]["kept_docs"] == len(_corpus()) - 6


def test_workspace_export_and_report_name_the_threshold(tmp_path):
    from app.export import apply
    from app.report import build_report

    ws = _scored(tmp_path, "ws", 0.5)
    try:
        recipe = "version: 1\nrules: []\ndedup: {near: 0.85}\n"
        m = apply(ws, recipe, tmp_path / "out", fmt="jsonl")
        assert m["recipe"]["dedup"] == {"near": 0.85} and m["resolved"]["dedup_near_threshold"] == 0.85
        assert m["counts"]["kept_docs"] == len(_kept(ws, recipe))
        html = build_report(ws, recipe, samples=1)
        html = html if isinstance(html, str) else json.dumps(html)
        assert "Jaccard &gt;= 0.85" in html or "Jaccard >= 0.85" in html
    finally:
        ws.close()


def test_compare_counts_each_recipe_at_its_own_threshold(tmp_path):
    """Recipe A at near 0.85 vs B at the scored clusters: each side keeps what it exports (the live compare
    path used to count A's near dedup at the scored threshold)."""
    from app.recipes.compare import compare_recipes

    ws = _scored(tmp_path, "ws", 0.5)
    try:
        a = "version: 1\nrules: []\ndedup: {near: 0.85}\n"
        b = "version: 1\nrules: []\ndedup: {near: true}\n"
        live.clear()
        res = compare_recipes(ws.con, a, b)
        assert res["path"] == "live"
        assert res["a"]["kept_docs"] == len(_kept(ws, a)) and res["b"]["kept_docs"] == len(_kept(ws, b))
        assert res["counts"]["a_only"]["docs"] == len(_kept(ws, a)) - len(_kept(ws, b)) > 0
    finally:
        ws.close()


def test_cli_dedup_near_reports_what_recipes_can_use(tmp_path, capsys):
    from app.cli import main

    ws = make_ws(tmp_path, _corpus())
    ws.close()
    got = {}
    for j in ("1", "2"):  # signatures in 1 or 2 processes: the same clusters
        assert main(["dedup", "near", "-w", str(tmp_path / "ws"), "-t", f"0.5{j}", "-j", j, "--json"]) == 0
        got[j] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert got["1"]["scored_threshold"] == 0.51 and got["2"]["scored_threshold"] == 0.52
    assert got["1"]["duplicates"] == got["2"]["duplicates"] > 0
    assert main(["dedup", "near", "-w", str(tmp_path / "ws")]) == 0
    assert "dedup: {near: J} with any J >= 0.52" in capsys.readouterr().out


def test_where_served_and_fresh_differ_a_chain(tmp_path):
    """The documented difference: b and c are each below T to their representative a but similar to each other.
    Served from clusters scored at 0.5, both stay (singletons at T); a fresh run at T clusters b with c."""
    rnd = random.Random(9)
    a = [f"w{rnd.randrange(50_000)}" for _ in range(300)]
    shared = {i: f"s{i}" for i in range(5, 300, 24)}  # 12 edits b and c share
    b, c = list(a), list(a)
    for i, w in shared.items():
        b[i] = c[i] = w
    for i in (10, 130):
        b[i] = f"b{i}"
    for i in (70, 200):
        c[i] = f"c{i}"
    texts = {"a": " ".join(a), "b": " ".join(b), "c": " ".join(c)}
    assert dn.explain(texts["a"], texts["b"])["jaccard"] < 0.7 < dn.explain(texts["b"], texts["c"])["jaccard"]
    recipe = "version: 1\nrules: []\ndedup: {near: 0.7}\n"
    served_ws = make_ws(tmp_path, texts, name="served")
    fresh_ws = make_ws(tmp_path, texts, name="fresh")
    try:
        dn.set_workspace_threshold(served_ws.con, 0.5)
        engine.score(served_ws, signals="dedup_near")
        dn.set_workspace_threshold(fresh_ws.con, 0.7)
        engine.score(fresh_ws, signals="dedup_near")
        assert _kept(served_ws, recipe) == ["a", "b", "c"]
        assert _kept(fresh_ws, "version: 1\nrules: []\ndedup: {near: true}\n") == ["a", "b"]
    finally:
        served_ws.close()
        fresh_ws.close()


@pytest.fixture(scope="module")
def scored_ws(tmp_path_factory):
    ws = _scored(tmp_path_factory.mktemp("near"), "ws", 0.5)
    yield ws
    ws.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    t=st.floats(0.5, 1.0), drop=st.sampled_from(["", "g0a", "g1b", "u0"]), over=st.sampled_from(["survivors", "corpus"])
)
def test_live_counts_equal_sql_at_any_threshold(scored_ws, t, drop, over):
    """The dashboard's numpy counts equal the SQL path's and the export's selection at any recipe threshold."""
    rules = f"rules:\n  - {{expr: \"id <> '{drop}'\"}}\n" if drop else "rules: []\n"
    recipe = f"version: 1\n{rules}dedup: {{near: {t!r}, over: {over}}}\n"
    kept = _kept(scored_ws, recipe)
    fast, slow = summarize(scored_ws.con, recipe), summarize(scored_ws.con, recipe, cache=False)
    assert fast["kept_docs"] == slow["kept_docs"] == len(kept)
    assert [r["removed"] for r in fast["rules"]] == [r["removed"] for r in slow["rules"]]
