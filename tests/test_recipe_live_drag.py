"""A threshold drag answered by the drag index (:mod:`app.recipes.live_drag`) gives exactly the SQL path's numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.recipes import live, summarize
from app.workspace import Workspace

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Two sources; NULL, NaN and infinities in a double column; NULL token counts; exact duplicates across
    sources (a cluster's members pass and fail the moved check in every combination)."""
    n = 400
    w = Workspace.open(tmp_path_factory.mktemp("drag") / "ws", create=True)
    ids = [f"d{i:04d}" for i in range(n)]
    texts = [f"text {i % 90}" for i in range(n)]  # ~4 copies of each text, ids spread over both sources
    w.write_source("web", pd.DataFrame({"id": ids[:250], "text": texts[:250]}))
    w.write_source("books", pd.DataFrame({"id": ids[250:], "text": texts[250:]}))
    special = {0: None, 1: math.nan, 2: math.inf, 3: -math.inf}

    def score(i: int) -> float | None:
        return special[i % 29] if i % 29 in special else ((i * 37) % 101) / 100

    sig = pd.DataFrame(
        {
            "id": ids,
            "size_words": [None if i % 41 == 0 else (i * 7) % 40 for i in range(n)],
            "quality_score": [score(i) for i in range(n)],
            "lang_code": [["en", "de", None, "fr"][i % 4] for i in range(n)],
            "size_tokens": [None if i % 31 == 0 else 10 + i % 50 for i in range(n)],
        }
    )
    with w.transaction() as cur:
        cur.register("_sig", sig)
        cur.execute("CREATE TABLE sig_drag AS SELECT * FROM _sig")
        cur.unregister("_sig")
        w.register_part("sig_drag", kind="signal", con=cur)
    yield w
    w.close()


def _strip(s: dict) -> dict:
    return {k: v for k, v in s.items() if k != "elapsed_ms"}


def _recipe(
    moving: str, side: str, value: float, keep_null: bool, other: float | None, exact: bool, langs: list
) -> dict:
    """Three rules and exact dedup; rule 0's ``side`` bound at ``value`` (kept on its side of ``other``, the fixed
    bound: a recipe whose minimum exceeds its maximum is refused)."""
    fixed = "max" if side == "min" else "min"
    if other is not None:
        value = min(value, other) if side == "min" else max(value, other)
    rules = [
        {"signal": moving, side: value, fixed: other, "keep_null": keep_null},
        {
            "signal": "size_words" if moving == "quality_score" else "quality_score",
            "min": 0.2 if moving != "quality_score" else 3,
        },
        {"signal": "lang_code", "in": langs},
    ]
    return {"version": 1, "rules": rules, "dedup": {"exact": exact}}


@SETTINGS
@given(
    moving=st.sampled_from(["quality_score", "size_words"]),
    side=st.sampled_from(["min", "max"]),
    keep_null=st.booleans(),
    exact=st.booleans(),
    other=st.sampled_from([None, 0.5, 25.0]),
    langs=st.sampled_from([["en"], ["en", "de"], ["fr", "de", "en"]]),
    values=st.lists(
        st.one_of(st.floats(-2, 45), st.sampled_from([0.0, 0.5, 7.0, 1e300, -1e300])), min_size=2, max_size=4
    ),
)
def test_dragging_one_bound_equals_sql(ws, moving, side, keep_null, exact, other, langs, values):
    """Every summary of a drag (one bound of one check moved, every other check fixed) equals the SQL path's, by
    language and by source (the mixture plan's, folded from the panel's), and the moves after the first are
    answered by the drag index."""
    live.clear()
    seen = []
    for v in values:
        recipe = _recipe(moving, side, v, keep_null, other, exact, langs)
        seen.append(recipe["rules"][0][side])
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), v
        by_src = summarize(ws.con, recipe, group_by="source")
        assert _strip(by_src) == _strip(summarize(ws.con, recipe, group_by="source", cache=False)), v
    (state,) = live._STATES.values()
    # from the first move on, every summary is answered by the index (a repeated value too)
    first = next((i for i in range(1, len(seen)) if seen[i] != seen[i - 1]), len(seen))
    assert state.dragged == len(seen) - first
    assert state.folded == len(seen)  # the plan's summary: from the panel's bins, vector or drag counts


def test_another_change_after_a_drag_is_counted_from_vectors(ws):
    """A drag, then a change of another check (the language list), then a drag again: the incremental vector path
    stays consistent with what the drag index answered in between."""
    live.clear()
    steps = [(5.0, ["en"]), (9.0, ["en"]), (30.0, ["en"]), (30.0, ["en", "de"]), (2.0, ["en", "de"]), (12.0, ["en"])]
    for lo, langs in steps:
        recipe = _recipe("size_words", "min", lo, False, 1e9, True, langs)
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), (lo, langs)
    (state,) = live._STATES.values()
    assert state.dragged == 3  # 9, 30 and 2 (after the language change, a new index); the others from vectors


def test_an_index_is_reused_when_the_drag_comes_back(ws):
    """Moving the bound back and forth reuses one index (built once), at any value."""
    live.clear()
    for lo in (5.0, 9.0, 20.0, 0.0, 39.0, 9.0):
        recipe = _recipe("size_words", "min", lo, True, 1e9, True, ["en", "de"])
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), lo
    (state,) = live._STATES.values()
    assert state.dragged == 5 and len(state.drags) == 1


def test_in_the_background_a_first_move_is_counted_from_vectors_while_the_index_builds(ws):
    """The panel's routes (:func:`app.recipes.live_drag.background`): the first move of a check is answered from
    vectors and starts one build in a thread; once it is done the next moves are answered by the index. Every
    summary equals the SQL path's whichever answered it."""
    from app.recipes import live_drag

    live.clear()
    with live_drag.background():
        for lo in (5.0, 9.0, 20.0):
            recipe = _recipe("size_words", "min", lo, False, None, True, ["en", "de"])
            assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), lo
        (state,) = live._STATES.values()
        assert len(state.drag_threads) == 1  # one build for the moves of 9 and 20 (the second found it pending)
        state.drag_threads[0].join(timeout=60)
        assert state.dragged == 0 or state.drags  # 20 may have found the index already built
        before = state.dragged
        for lo in (30.0, 2.0):
            recipe = _recipe("size_words", "min", lo, False, None, True, ["en", "de"])
            assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), lo
        assert state.dragged == before + 2


def test_in_the_background_the_first_summary_prebuilds_the_single_bound_cuts(ws, monkeypatch):
    """From PREBUILD_MIN documents the panel's first summary of a recipe starts building, in one thread, the
    indexes of its cuts with one bound (rule 0's minimum, rule 1's minimum; not a cut with both bounds): the first
    move of either is then answered by an index, equal to the SQL path's."""
    from app.recipes import live_drag

    monkeypatch.setattr(live_drag, "PREBUILD_MIN", 0)
    live.clear()
    with live_drag.background():
        recipe = _recipe("size_words", "min", 5.0, False, None, True, ["en", "de"])
        assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False))
        (state,) = live._STATES.values()
        assert len(state.drag_threads) == 1
        state.drag_threads[0].join(timeout=60)
        assert sorted(k[1:] for k in state.drags) == [(0, "lo"), (1, "lo")]
        before = state.dragged  # 1 when the build was done before the first summary read the indexes
        for lo in (9.0, 30.0):  # the first move already from the index
            recipe = _recipe("size_words", "min", lo, False, None, True, ["en", "de"])
            assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), lo
        assert state.dragged == before + 2
        assert len(state.drag_threads) == 1  # nothing built again
    live.clear()
    with live_drag.background():  # a cut with both bounds is not prebuilt: it is built on its first move
        recipe = _recipe("size_words", "min", 5.0, False, 25.0, True, ["en", "de"])
        summarize(ws.con, recipe)
        (state,) = live._STATES.values()
        for t in state.drag_threads:
            t.join(timeout=60)
        assert sorted(k[1:] for k in state.drags) == [(1, "lo")]


def test_below_prebuild_min_nothing_is_built_before_a_move(ws):
    from app.recipes import live_drag

    live.clear()
    with live_drag.background():
        summarize(ws.con, _recipe("size_words", "min", 5.0, False, None, True, ["en", "de"]))
        (state,) = live._STATES.values()
        assert state.drag_threads == [] and not state.drags


def test_the_plans_summary_builds_no_second_index(ws, monkeypatch):
    """The mixture plan's summary (by source) after the panel's (by source x language): its moves are folded from
    the panel's answers, so it starts no index of its own for a cut the panel's index covers."""
    from app.recipes import live_drag

    monkeypatch.setattr(live_drag, "PREBUILD_MIN", 0)
    live.clear()
    with live_drag.background():
        for lo in (5.0, 9.0, 30.0):
            recipe = _recipe("size_words", "min", lo, False, None, True, ["en", "de"])
            assert _strip(summarize(ws.con, recipe)) == _strip(summarize(ws.con, recipe, cache=False)), lo
            by_src = summarize(ws.con, recipe, group_by="source")
            assert _strip(by_src) == _strip(summarize(ws.con, recipe, group_by="source", cache=False)), lo
            (state,) = live._STATES.values()
            for t in state.drag_threads:
                t.join(timeout=60)
        assert len(state.drag_threads) == 1
        assert {k[0][0] for k in state.drags} == {"lang_code"}  # the panel's shape only
