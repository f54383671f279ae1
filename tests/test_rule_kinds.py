"""The rule model: every kind survives each of its forms, and the new ``group_quantile`` kind works everywhere.

``group_quantile`` ("keep the top 70% by quality_score within each language") was added as one file,
``app/recipes/rules/group_quantile.py``; these tests use it from the recipe file, the panel's JSON, the URL,
summaries (live and SQL), apply, headless apply and the report.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import RecipeError
from app.recipes import compile_recipe, live, load_recipe, select_ids_sql, summarize
from app.recipes import rules as kinds
from app.workspace import Workspace

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LANGS = ["en", "en", "en", "de", "zh", None]
N = 600


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """A score that favours English (like an English-centric quality model), NULLs and NaN included."""
    ids = [f"d{i:04d}" for i in range(N)]
    w = Workspace.open(tmp_path_factory.mktemp("gq") / "ws", create=True)
    w.write_source("web", pd.DataFrame({"id": ids, "text": [f"text {i}" for i in range(N)]}))
    lang = [LANGS[i % len(LANGS)] for i in range(N)]
    base = {"en": 0.6, "de": 0.2, "zh": 0.0, None: 0.3}
    score = [
        None if i % 29 == 0 else (math.nan if i % 31 == 0 else base[lang[i]] + ((i * 37) % 101) / 250) for i in range(N)
    ]
    sig = pd.DataFrame({"id": ids, "lang_code": lang, "quality_score": score, "size_words": [i % 40 for i in range(N)]})
    with w.transaction() as cur:
        cur.register("_s", sig)
        cur.execute("CREATE TABLE sig_gq AS SELECT * FROM _s")
        cur.unregister("_s")
        w.register_part("sig_gq", kind="signal", con=cur)
    yield w
    w.close()


def _kept(w, recipe) -> set[str]:
    sql, p = select_ids_sql(compile_recipe(w.con, recipe))
    return {r[0] for r in w.con.execute(sql, p).fetchall()}


GQ = "version: 1\nrules:\n  - {signal: quality_score, min_quantile: 0.3, by: lang_code}\n"


def test_group_quantile_keeps_the_same_share_of_every_language(ws):
    kept = _kept(ws, GQ)
    rows = ws.con.execute("SELECT id, lang_code, quality_score FROM corpus").fetchall()
    for lang in ("en", "de", "zh"):
        scored = [r for r in rows if r[1] == lang and r[2] is not None and not math.isnan(r[2])]
        share = sum(r[0] in kept for r in scored) / len(scored)
        assert 0.6 <= share <= 0.8, (lang, share)
    # a corpus-wide quantile removes nearly all Chinese
    flat = _kept(ws, "version: 1\nrules:\n  - {signal: quality_score, min_quantile: 0.3}\n")
    zh = [r[0] for r in rows if r[1] == "zh"]
    assert sum(i in flat for i in zh) < 0.2 * len(zh) < sum(i in kept for i in zh)


def test_group_quantile_thresholds_are_resolved_into_the_manifest(ws, tmp_path):
    from app.export import apply

    m = apply(ws, GQ, tmp_path / "out", fmt="jsonl")
    info = m["resolved"]["rules"][0]
    assert info["by"] == "lang_code" and set(info["cuts"]["min"]) == {"en", "de", "zh", ""}
    assert m["rules"][0]["label"] == "quality_score >= q0.3 within each lang_code"
    assert m["counts"]["kept_docs"] == len(_kept(ws, GQ))


@SETTINGS
@given(
    lo=st.one_of(st.none(), st.floats(0.01, 1)),
    hi=st.one_of(st.none(), st.floats(0, 1)),
    keep_null=st.booleans(),
    size=st.integers(0, 40),
)
def test_group_quantile_live_equals_sql(ws, lo, hi, keep_null, size):
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    rule = {"signal": "quality_score", "by": "lang_code", "keep_null": keep_null}
    rule.update({k: v for k, v in (("min_quantile", lo), ("max_quantile", hi)) if v is not None})
    if lo is None and hi is None:
        rule["min_quantile"] = 0.0
    recipe = {"version": 1, "rules": [rule, {"signal": "size_words", "min": size}]}
    live.clear()
    fast, slow = summarize(ws.con, recipe), summarize(ws.con, recipe, cache=False)
    assert fast["kept_docs"] == slow["kept_docs"] == len(_kept(ws, recipe))
    assert fast["by_lang"] == slow["by_lang"] and fast["overlap"] == slow["overlap"]


def test_group_quantile_headless_equals_workspace(tmp_path):
    from app.export import apply
    from app.export.headless import apply_headless
    from app.ingest import ingest
    from app.signals import engine

    texts = [
        "The weather was fine and the children played in the park until the evening came.",
        "Der Hund lief schnell über die Straße und die Kinder lachten laut im Garten.",
        "Le chat dort sur le canapé pendant que la pluie tombe doucement sur la ville.",
    ]
    src = tmp_path / "in.jsonl"
    with src.open("w") as f:
        for i in range(90):
            f.write(json.dumps({"id": f"x{i:03d}", "text": texts[i % 3] + " word" * (i % 17)}) + "\n")
    recipe = "version: 1\nrules:\n  - {signal: size_words, min_quantile: 0.4, by: lang_code}\n"
    with Workspace.open(tmp_path / "ws", create=True) as w:
        ingest(w, [str(src)], source="in", id_field="id")
        engine.score(w, signals="size,lang")
        a = apply(w, recipe, tmp_path / "a", fmt="jsonl")
    b = apply_headless(recipe, [str(src)], tmp_path / "b", fmt="jsonl", source="in", id_field="id")
    ids = [
        sorted(json.loads(x)["id"] for f in sorted(p.glob("*.jsonl")) for x in f.open())
        for p in (tmp_path / "a", tmp_path / "b")
    ]
    assert ids[0] == ids[1] and 0 < len(ids[0]) < 90
    assert a["counts"]["kept_docs"] == b["counts"]["kept_docs"]


def test_group_quantile_report(ws, tmp_path):
    from app.report import build_report

    html_text, data = build_report(ws, GQ)
    assert "within each lang_code" in html_text
    assert data["summary"]["kept_docs"] == len(_kept(ws, GQ))


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("  - {signal: quality_score, min: 0.3, by: lang_code}\n", "takes min_quantile/max_quantile only"),
        ("  - {signal: quality_score, by: lang_code, in: [a]}\n", "mixes the forms of group_quantile and in"),
        ("  - {signal: quality_score, min_quantile: 2, by: lang_code}\n", "outside"),
    ],
)
def test_group_quantile_validation(text, msg):
    with pytest.raises(RecipeError, match=msg):
        load_recipe("version: 1\nrules:\n" + text)


def test_group_quantile_unknown_group_column(ws):
    with pytest.raises(RecipeError, match="unknown signal 'langg'"):
        compile_recipe(ws.con, "version: 1\nrules:\n  - {signal: quality_score, min_quantile: 0.3, by: langg}\n")


# ---------------------------------------------------------------------- every kind, every form
names = st.text(min_size=1, max_size=10).filter(lambda s: s.strip() == s and s)
q = st.one_of(st.none(), st.floats(0.01, 1))


def _ordered(a, b):
    return (a, b) if a is None or b is None or a <= b else (b, a)


any_rule = st.one_of(
    st.builds(
        lambda c, p: kinds.make("range", c, lo=p[0], hi=p[1]),
        names,
        st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)).map(lambda p: _ordered(*p)),
    ),
    st.builds(
        lambda c, p: kinds.make("quantile", c, lo=p[0], hi=p[1]), names, st.tuples(q, q).map(lambda p: _ordered(*p))
    ),
    st.builds(
        lambda c, b, p: kinds.make("group_quantile", c, lo=p[0], hi=p[1], by=b),
        names,
        names,
        st.tuples(q, q).map(lambda p: _ordered(*p)),
    ),
    st.builds(
        lambda k, c, v: kinds.make(k, c, values=v),
        st.sampled_from(["in", "not_in"]),
        names,
        st.lists(names, max_size=3),
    ),
    st.builds(
        lambda t: kinds.make("expr", "", expr=t),
        st.sampled_from(["a > 1 and b < 2", "x in ('p:q;r', 's')", "y between 1 and 2"]),
    ),
    st.builds(lambda s: kinds.make("dedup", s), st.sampled_from(list(kinds.DEDUP_STEPS))),
)


@given(st.lists(any_rule, max_size=6), st.one_of(st.none(), names))
def test_every_kind_survives_json_url_and_recipe(rules, label):
    from app.recipes import Recipe

    assert kinds.decode_url(kinds.encode_url(rules)) == rules  # the URL form (it carries no labels)
    if rules and label:
        rules[0].label = label
    assert [kinds.from_json(r.to_json()) for r in rules] == rules
    recipe = Recipe.from_panel(rules)
    back = load_recipe(recipe.to_yaml())
    assert back == recipe
    steps = [r for r in rules if r.kind == "dedup"]
    assert [r for r in back.panel_rules() if r.kind != "dedup"] == [r for r in rules if r.kind != "dedup"]
    assert {r.col for r in back.panel_rules() if r.kind == "dedup"} == {r.col for r in steps}


def test_a_kind_is_registered_by_its_file_alone():
    import pathlib

    files = {p.stem for p in pathlib.Path(kinds.__file__).parent.glob("*.py")} - {"__init__", "base"}
    owners = {cls.__module__.rsplit(".", 1)[1] for cls in kinds.KINDS.values()}
    assert owners == files  # every kind module registers, nothing else does
