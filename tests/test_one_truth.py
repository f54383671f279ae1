"""One truth for what the dashboard and the report both show: the same histogram bins of a signal and the same
edge documents of a recipe's cut, because both call one function (app.explore.histogram, app.recipes.edges)."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.explore import queries
from app.explore.histogram import bin_range, bins_of, histogram
from app.recipes import borderline, compile_recipe
from app.recipes.edges import edge_documents
from app.report import BINS, build_data
from app.workspace import fast_relation
from tests.test_recipe_core import make_ws

RECIPE = """version: 1
rules:
  - {signal: tail_words, min: 3}
  - {signal: quality_score, min_quantile: 0.3}
  - {signal: lang_code, in: [en, de]}
  - {signal: flat, max: 2}
dedup: {exact: true}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """make_ws's 300 documents plus a long-tailed column (one huge value), a column of ties, NaN and infinity."""
    w = make_ws(tmp_path_factory.mktemp("truth") / "ws")
    ids = [r[0] for r in w.con.execute("SELECT id FROM docs ORDER BY hash(id)").fetchall()]  # not in id order
    tail = [float(i % 20) for i in range(len(ids))]
    tail[5] = 1e6  # one page of a million words among 300: above the 99.5% quantile
    tail[9] = float("inf")
    flat = [i % 4 for i in range(len(ids))]
    part = pd.DataFrame(
        {"id": ids, "tail_words": tail, "flat": flat, "dup_exact_cluster": [i % 50 for i in range(len(ids))]}
    )
    with w.transaction() as cur:
        cur.register("_p", part)
        cur.execute("CREATE TABLE sig_truth AS SELECT * FROM _p")
        cur.execute("UPDATE sig_truth SET tail_words = 'nan'::DOUBLE WHERE id = ?", [ids[8]])  # pandas NaN is NULL
        w.register_part("sig_truth", kind="signal", con=cur)
    yield w
    w.close()


@pytest.fixture(scope="module")
def report_data(ws):
    return build_data(ws, RECIPE, samples=4)


@pytest.mark.parametrize("column", ["tail_words", "quality_score", "flat"])
def test_dashboard_and_report_draw_the_same_bins(ws, report_data, column):
    """The Distributions page's query and the report's distribution of one signal: same edges, same counts."""
    dash = queries.histogram(ws.cursor(), column, bins=BINS)
    rep = report_data["distributions"][column]
    edges = rep["edges"]
    nonempty = [(edges[i], edges[i + 1], c) for i, c in enumerate(rep["before"]) if c]
    assert list(zip(dash["x0"], dash["x1"], dash["count"], strict=True)) == nonempty
    assert set(dash["group"]) == {"all"}


def test_long_tail_is_folded_into_the_edge_bin_and_counted(ws, report_data):
    d = report_data["distributions"]["tail_words"]
    finite = ws.con.execute("SELECT count(*) FROM corpus WHERE isfinite(tail_words)").fetchall()[0][0]
    assert sum(d["before"]) == finite  # nothing lost: the huge value sits in the last bin
    assert d["above"] == 1 and d["below"] == 0 and d["skipped"] == 2  # NaN and inf are counted, not drawn
    assert d["edges"][-1] < 1000  # ...and they do not stretch the axis to a million
    assert d["edges"][0] == 0.0  # the short lower tail is not cut: the axis starts at the minimum
    dash = queries.histogram(ws.cursor(), "tail_words", bins=BINS)
    assert int(dash["outside"].sum()) == 1 and int(dash["outside"].iloc[-1]) == 1


def test_kept_counts_are_the_recipes_decisions(ws, report_data):
    d = report_data["distributions"]["quality_score"]
    assert sum(d["after"]) == report_data["summary"]["kept_docs"]


def test_log_axis_and_groups(ws):
    cur = ws.cursor()
    h = histogram(cur, relation=fast_relation(cur), column="tail_words", bins=10, log=True, by="source")
    zeros = cur.execute("SELECT count(*) FROM corpus WHERE tail_words <= 0").fetchall()[0][0]
    assert h.bins.skipped == zeros + 2  # zero/negative (no log) plus NaN and inf
    assert sum(sum(v) for v in h.counts.values()) == h.bins.values
    assert set(h.counts) == {"web", "wiki"}
    assert h.bins.edges()[0] == pytest.approx(1.0)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.integers(1, 12),
    st.booleans(),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_finite_value_lands_in_one_bin(values, nbins, log):
    """Property: the bins count every placeable value exactly once, and edge bins hold what is beyond the axis."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (id VARCHAR, x DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(str(i), v) for i, v in enumerate(values)])
    h = histogram(con, relation="t", column="x", bins=nbins, log=log)
    placeable = [v for v in values if v > 0] if log else values
    if not placeable:
        assert h.bins is None
        return
    b = h.bins
    assert sum(h.counts["all"]) == b.values == len(placeable)
    assert b.skipped == len(values) - len(placeable)
    axis = [math.log10(v) for v in placeable] if log else placeable
    assert b.below == sum(1 for v in axis if v < b.lo) and b.above == sum(1 for v in axis if v > b.hi)
    assert len(b.edges()) == nbins + 1


@given(st.lists(st.floats(-1e9, 1e9), min_size=4, max_size=4))
def test_range_rule(four):
    """Property: the axis ends at an extreme or at its quantile; the middle 99% gets at least a third of the axis;
    an extreme whose tail is no longer than the middle is never cut."""
    mn, lo_q, hi_q, mx = sorted(four)
    lo, hi = bin_range(lo_q, hi_q, mn, mx)
    span = hi_q - lo_q
    assert hi > lo
    if span > 0:
        assert lo in (mn, lo_q) and hi in (mx, hi_q)
        assert span >= (hi - lo) / 3 * (1 - 1e-9)
        assert (lo == mn) == (lo_q - mn <= span) and (hi == mx or mx - hi_q > span)


def test_bins_must_be_positive(ws):
    with pytest.raises(ValueError, match="at least 1"):
        bins_of(ws.cursor(), relation="corpus", column="size_words", bins=0)


# ---------------------------------------------------------------------- edge documents
@pytest.mark.parametrize("check", range(5))
def test_report_and_dashboard_pick_the_same_edge_documents(ws, check):
    """``borderline`` (the report's call), the recipe compiled as the report does, and as the dashboard does
    (over the text-free relation, unbound): the same documents, in the same order."""
    cur = ws.cursor()
    via_borderline = borderline(cur, RECIPE, check, n=4, text_chars=50)
    report_way = edge_documents(cur, compile_recipe(cur, RECIPE), check, n=4, text_chars=50)
    dash_comp = compile_recipe(cur, RECIPE, relation=fast_relation(cur), bind=False)
    dashboard_way = edge_documents(cur, dash_comp, check, n=4, text_chars=50)
    assert via_borderline == report_way == dashboard_way
    assert via_borderline["above"] and via_borderline["below"]
    assert all(d["text"] for d in via_borderline["above"] + via_borderline["below"])


def test_report_shows_those_edge_documents(ws, report_data):
    got = report_data["samples"]["borderline"]
    assert [b["index"] for b in got] == [0, 1, 3]  # the numeric cuts
    for b in got:
        assert b == borderline(ws.cursor(), RECIPE, b["index"], n=3, text_chars=1200)


def test_ties_at_the_cut_are_broken_by_id(ws):
    """flat takes 4 values over 300 documents: 75 tie at each. The max of 2 keeps 2, so the documents just kept
    are the smallest ids at 2 and those just removed the smallest ids at 3 (the dashboard's old picker took
    whichever rows the engine returned first, and showed documents at the max itself as removed)."""
    b = borderline(ws.cursor(), RECIPE, 3, n=5)
    at = {
        v: [r[0] for r in ws.con.execute(f"SELECT id FROM corpus WHERE flat = {v} ORDER BY id").fetchall()]
        for v in (2, 3)
    }
    assert b["bound"] == "max" and b["threshold"] == 2
    assert [d["id"] for d in b["below"]] == at[2][:5] and {d["value"] for d in b["below"]} == {2}
    assert [d["id"] for d in b["above"]] == at[3][:5] and {d["value"] for d in b["above"]} == {3}


@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.integers(0, 6), st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_edges_are_the_nearest_by_value_then_id(values, cut, n):
    """Property: above = the n smallest (value, id) at or over the cut; below = the n largest value under it,
    smallest id first among equal values."""
    con = duckdb.connect()
    rows = [(f"d{(i * 7919) % 1000:03d}", "s", f"text {i}", v) for i, v in enumerate(values)]
    con.execute("CREATE TABLE t (id VARCHAR, source VARCHAR, text VARCHAR, x INTEGER)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    comp = compile_recipe(con, {"version": 1, "rules": [{"signal": "x", "min": cut}]}, relation="t")
    got = edge_documents(con, comp, 0, n=n, text_chars=10, relation="t")
    above = sorted([(v, i) for i, _, _, v in rows if v >= cut])[:n]
    below = sorted([(-v, i) for i, _, _, v in rows if v < cut])[:n]
    assert [(d["value"], d["id"]) for d in got["above"]] == above
    assert [(-d["value"], d["id"]) for d in got["below"]] == below
    assert all(d["text"].startswith("text") for d in got["above"] + got["below"])


def test_sample_checks_are_ordered_by_hash_then_id(ws):
    cur = ws.cursor()
    b = edge_documents(cur, compile_recipe(cur, RECIPE), 2, n=6, text_chars=20)  # lang_code in [en, de]
    want = cur.execute(
        "SELECT id FROM corpus_fast WHERE coalesce(lang_code IN ('en', 'de'), false) ORDER BY hash(id), id LIMIT 6"
    ).fetchall()
    assert b["bound"] is None and [d["id"] for d in b["above"]] == [r[0] for r in want]
    assert all(d["value"] not in ("en", "de") for d in b["below"])
