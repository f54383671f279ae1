"""The interactive summary path (:mod:`app.recipes.live`) gives exactly the SQL path's numbers."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.recipes import live, live_drag, summarize
from app.workspace import Workspace

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Two sources, NULLs and NaN in a double column, NULL languages, a boolean, exact-duplicate texts."""
    n = 500
    w = Workspace.open(tmp_path_factory.mktemp("live") / "ws", create=True)
    ids = [f"d{i:04d}" for i in range(n)]
    texts = [f"text {i % 170} " + "w " * (i % 11) for i in range(n)]
    w.write_source("web", pd.DataFrame({"id": ids[:300], "text": texts[:300]}))
    w.write_source("books", pd.DataFrame({"id": ids[300:], "text": texts[300:]}))
    langs = ["en", "de", None, "fr", "en"]
    score = [None if i % 17 == 0 else (math.nan if i % 23 == 0 else ((i * 37) % 101) / 100) for i in range(n)]
    sig = pd.DataFrame(
        {
            "id": ids,
            "size_words": [(i * 7) % 40 for i in range(n)],
            "quality_score": score,
            "lang_code": [langs[i % 5] for i in range(n)],
            "size_tokens": [None if i % 31 == 0 else 10 + i % 50 for i in range(n)],
            "flag": [i % 3 == 0 for i in range(n)],
        }
    )
    with w.transaction() as cur:
        cur.register("_sig", sig)
        cur.execute("CREATE TABLE sig_live AS SELECT * FROM _sig")
        cur.unregister("_sig")
        w.register_part("sig_live", kind="signal", con=cur)
    yield w
    w.close()


rule = st.one_of(
    st.builds(
        lambda a, b, kn: {"signal": "size_words", "min": min(a, b), "max": max(a, b), "keep_null": kn},
        st.integers(0, 40),
        st.integers(0, 40),
        st.booleans(),
    ),
    st.builds(lambda x: {"signal": "quality_score", "min": x}, st.floats(0, 1)),
    st.builds(lambda x, kn: {"signal": "quality_score", "max": x, "keep_null": kn}, st.floats(0, 1), st.booleans()),
    st.builds(lambda q: {"signal": "quality_score", "min_quantile": q}, st.floats(0, 1)),
    st.builds(
        lambda v, kn: {"signal": "lang_code", "in": v, "keep_null": kn},
        st.lists(st.sampled_from(["en", "de", "fr"]), unique=True),
        st.booleans(),
    ),
    st.builds(lambda v: {"signal": "source", "not_in": v}, st.lists(st.sampled_from(["web", "books"]), unique=True)),
    st.builds(lambda v: {"signal": "flag", "min": v}, st.integers(0, 1)),
    st.builds(lambda a, kn: {"signal": "size_tokens", "max": a, "keep_null": kn}, st.integers(0, 70), st.booleans()),
    st.builds(lambda q: {"signal": "quality_score", "max_quantile": q}, st.floats(0, 1)),
    st.sampled_from([{"expr": "size_words > 10 and quality_score < 0.5"}, {"expr": "not (lang_code in ('en'))"}]),
)


def _strip(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "elapsed_ms"}


@SETTINGS
@given(rules=st.lists(rule, max_size=6), exact=st.booleans())
def test_live_summary_equals_sql(ws, rules, exact):
    recipe = {"version": 1, "rules": rules, "dedup": {"exact": exact}}
    live.clear()
    fast = summarize(ws.con, recipe)
    assert live._STATES, "the interactive path was not taken"
    assert _strip(fast) == _strip(summarize(ws.con, recipe, cache=False))
    # a second call answers from cached check vectors: still the same
    assert _strip(summarize(ws.con, recipe)) == _strip(fast)


def test_changing_one_threshold_reuses_the_other_checks(ws):
    live.clear()
    base = {"version": 1, "rules": [{"signal": "size_words", "min": 5}, {"signal": "lang_code", "in": ["en"]}]}
    summarize(ws.con, base)
    (state,) = live._STATES.values()
    before = len(state.evaluated)
    moved = {**base, "rules": [{"signal": "size_words", "min": 9}, base["rules"][1]]}
    s = summarize(ws.con, moved)
    assert s["kept_docs"] == summarize(ws.con, moved, cache=False)["kept_docs"]
    new = state.evaluated[before:]
    assert len(new) == 1 and "size_words" in new[0]


def test_balancing_goes_the_sql_way(ws):
    live.clear()
    recipe = {"version": 1, "rules": [{"signal": "size_words", "min": 3}], "balance": [{"column": "source", "cap": 50}]}
    s = summarize(ws.con, recipe)
    assert not live._STATES
    assert _strip(s) == _strip(summarize(ws.con, recipe, cache=False))


def test_encode_is_row_aligned_across_chunks():
    t = pa.Table.from_batches(
        [
            pa.record_batch({"source": ["a", "b", None], "lang": ["x", None, "x"]}),
            pa.record_batch({"source": ["b", "a", "a"], "lang": ["y", "x", None]}),
        ]
    )
    codes, labels = live._encode(t, ["source", "lang"])
    got = [labels[c] for c in codes]
    assert got == list(zip(t.column("source").to_pylist(), t.column("lang").to_pylist(), strict=True))


def test_encode_without_a_sort_equals_np_unique(monkeypatch):
    """Few combinations (sources x languages) are numbered by marking the seen ones, many by np.unique: the
    codes and labels are the same either way."""
    rng = __import__("random").Random(7)
    src = [rng.choice(["web", "wiki", None, "tweets"]) for _ in range(500)]
    lang = [rng.choice(["en", "zh", "und", None, "fr"]) for _ in range(500)]
    t = pa.table({"source": src, "lang": lang})
    direct = live._encode(t, ["source", "lang"])
    monkeypatch.setattr(live, "DENSE_DIRECT", 0)
    sorted_way = live._encode(t, ["source", "lang"])
    assert direct[1] == sorted_way[1]
    assert direct[0].tolist() == sorted_way[0].tolist()
    assert [direct[1][c] for c in direct[0]] == list(zip(src, lang, strict=True))


def test_non_text_keys_are_refused():
    t = pa.table({"source": [1, 2]})
    assert live._encode(t, ["source"]) is None


def test_a_full_check_cache_never_evicts_the_base_arrays(ws, monkeypatch):
    """At 10M documents the check vectors fill the cache: the token counts, columns and group codes every
    summary needs must stay, or each summary re-reads them (this made a summary 35x slower at 10M than 1M)."""
    monkeypatch.setattr(live, "CHECK_CACHE_BYTES", 1)
    live.clear()
    base = {"version": 1, "rules": [{"signal": "size_words", "min": 5}], "dedup": {"exact": True}}
    summarize(ws.con, base)
    (state,) = live._STATES.values()
    before = len(state.evaluated)
    for lo in (7, 9, 11):
        moved = {**base, "rules": [{"signal": "size_words", "min": lo}]}
        assert _strip(summarize(ws.con, moved)) == _strip(summarize(ws.con, moved, cache=False))
    new = state.evaluated[before:]
    # never the token counts again; each move of the minimum is answered by the drag index (app.recipes.live_drag)
    assert not any("size_tokens" in e for e in new), new
    assert state.dragged == 3


@SETTINGS
@given(
    moves=st.lists(
        st.tuples(st.integers(0, 40), st.floats(0, 1), st.sampled_from([["en"], ["en", "de"], ["fr"]])),
        min_size=2,
        max_size=8,
    ),
    exact=st.booleans(),
)
def test_moving_thresholds_in_sequence_equals_sql(ws, moves, exact):
    """Summaries after a threshold move update only the flipped documents' bins: every one of a sequence
    of moves (one or several checks at a time) still equals the SQL path."""
    live.clear()
    for lo, q, langs in moves:
        recipe = {
            "version": 1,
            "rules": [
                {"signal": "size_words", "min": lo},
                {"signal": "quality_score", "min_quantile": q},
                {"signal": "lang_code", "in": langs},
            ],
            "dedup": {"exact": exact},
        }
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), (lo, q, langs)


def test_a_small_move_is_counted_incrementally(ws, monkeypatch):
    monkeypatch.setattr(live_drag, "ENABLED", False)  # the vector path's own incremental count
    live.clear()
    rec = {"version": 1, "rules": [{"signal": "size_words", "min": 5}, {"signal": "lang_code", "in": ["en"]}]}
    summarize(ws.con, rec)
    (state,) = live._STATES.values()
    for lo in (6, 7, 8):
        moved = {**rec, "rules": [{"signal": "size_words", "min": lo}, rec["rules"][1]]}
        assert _strip(summarize(ws.con, moved)) == _strip(summarize(ws.con, moved, cache=False))
    assert state.incremental == 3


def test_the_plans_summary_between_two_changes_keeps_both_incremental(ws, monkeypatch):
    """On every threshold change the panel's summary (by language) is followed by the mixture plan's (by source):
    each keeps its own incremental count, so neither recounts every document (before: each threw the other's
    away, and every summary after the first was a full count)."""
    monkeypatch.setattr(live_drag, "ENABLED", False)  # the vector path's own incremental count
    live.clear()
    rec = {
        "version": 1,
        "rules": [{"signal": "size_words", "min": 5}, {"signal": "lang_code", "in": ["en", "de"]}],
        "dedup": {"exact": True},
    }
    summarize(ws.con, rec)
    (state,) = live._STATES.values()
    for lo in (6, 7, 8):
        moved = {**rec, "rules": [{"signal": "size_words", "min": lo}, rec["rules"][1]]}
        assert _strip(summarize(ws.con, moved)) == _strip(summarize(ws.con, moved, cache=False))
        by_src = summarize(ws.con, moved, group_by="source")
        assert _strip(by_src) == _strip(summarize(ws.con, moved, group_by="source", cache=False))
    assert len(live._STATES) == 1
    # 3 panel summaries moved the flipped documents; the plan's 3 were summed from the panel's bins (by source x
    # language nests in by source), none counted every document
    assert state.incremental == 3
    assert state.folded == 3


@settings(SETTINGS, max_examples=20)
@given(
    moves=st.lists(
        st.tuples(st.integers(0, 40), st.floats(0, 1), st.sampled_from([["en"], ["en", "de"], ["fr"]])),
        min_size=1,
        max_size=6,
    ),
    exact=st.booleans(),
    plan_by=st.sampled_from(["source", None]),
)
def test_the_plans_summary_folded_from_the_panels_equals_sql(ws, moves, exact, plan_by):
    """The plan's summary (by source) summed from the panel's bins (by source x language) equals the SQL path,
    after every move of a sequence; a grouping that does not nest (by the flag column) is counted, not folded."""
    live.clear()
    folded = 0
    for lo, q, langs in moves:
        recipe = {
            "version": 1,
            "rules": [
                {"signal": "size_words", "min": lo},
                {"signal": "quality_score", "min_quantile": q},
                {"signal": "lang_code", "in": langs},
            ],
            "dedup": {"exact": exact},
        }
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False))
        for by in (plan_by, "flag"):
            got = summarize(ws.con, recipe, group_by=by)
            assert _strip(got) == _strip(summarize(ws.con, recipe, group_by=by, cache=False)), (lo, q, langs, by)
        folded += 1 if plan_by == "source" else 0
    assert sum(s.folded for s in live._STATES.values()) == folded  # group_by "flag" has a frame of its own


def test_the_corpus_reuses_the_quantiles_its_frame_resolved(ws):
    """A summary resolves a quantile rule over the recipe frame; a compile over ``corpus`` right after (the edge
    picker's) finds the same value in the cache instead of a second quantile query, and it equals the query's."""
    from app.recipes import compile_recipe
    from app.recipes.cache import CACHE

    CACHE.clear()
    live.clear()
    recipe = {"name": "q", "rules": [{"signal": "quality_score", "min_quantile": 0.3}]}
    summarize(ws.con, recipe)
    queries: list[str] = []

    class Counting:
        def __init__(self, con):
            self.con = con

        def execute(self, sql, *a, **k):
            queries.append(sql)
            return self.con.execute(sql, *a, **k)

        def __getattr__(self, name):
            return getattr(self.con, name)

    cached = compile_recipe(Counting(ws.con), recipe, bind=False)
    assert not [q for q in queries if "quantile_cont" in q]
    CACHE.clear()
    fresh = compile_recipe(ws.con, recipe, bind=False)
    assert cached.params == fresh.params and any(isinstance(v, float) for v in fresh.params.values())
