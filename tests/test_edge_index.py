"""The sorted-column answer of :mod:`app.recipes.edge_index` is the top-n query's, value for value."""

from __future__ import annotations

import atexit
import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.recipes import edge_index

QUERY = "SELECT {agg}(v) FROM (SELECT {col} AS v FROM t WHERE {col} {op} $t ORDER BY {col} {order} LIMIT {n})"
SIDES = [(">=", "max", "ASC"), (">", "max", "ASC"), ("<", "min", "DESC"), ("<=", "min", "DESC")]

#: every test database of this module, removed when the process ends (hypothesis makes hundreds)
_ROOT = tempfile.mkdtemp(prefix="edge_index_")
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def _table(values: list, sql_type: str) -> duckdb.DuckDBPyConnection:
    # a database file: the cache is keyed by the workspace's version, which names the file
    con = duckdb.connect(str(Path(tempfile.mkdtemp(dir=_ROOT)) / "t.duckdb"))
    con.register("_v", pd.DataFrame({"x": pd.Series(values, dtype=object)}))
    con.execute(f"CREATE TABLE t AS SELECT CAST(x AS {sql_type}) AS x FROM _v")
    con.execute("CREATE TABLE _parts (registered_at TIMESTAMP)")  # what version_token reads
    con.execute("CREATE TABLE sources (ingested_at TIMESTAMP, n_docs BIGINT)")
    return con


def _same(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or (
        a == b and type(a) is type(b)
    )


def _check(con, sql_type: str, thresholds: list, n: int) -> None:
    edge_index._sorted.clear()
    col = "CAST(x AS INTEGER)" if sql_type == "BOOLEAN" else "x"
    values = edge_index.sorted_values(con, "t", "x", sql_type)
    assert values is not None
    for thr in thresholds:
        for op, agg, order in SIDES:
            known, got = edge_index.nth_nearest(values, op, thr, n)
            want = con.execute(QUERY.format(agg=agg, col=col, op=op, order=order, n=n), {"t": thr}).fetchall()[0][0]
            assert known
            assert _same(got, want), (sql_type, thr, op, n, got, want)


floats = st.one_of(st.none(), st.just(math.nan), st.floats(-5, 5, allow_nan=False), st.sampled_from([0.0, -0.0, 1.5]))
thresholds = st.lists(st.one_of(st.floats(-6, 6, allow_nan=False), st.integers(-6, 6)), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(floats, max_size=30), thr=thresholds, n=st.integers(1, 5))
def test_double_columns_with_nan_and_null(values, thr, n):
    _check(_table(values, "DOUBLE"), "DOUBLE", thr, n)


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.integers(-6, 6)), max_size=30), thr=thresholds, n=st.integers(1, 5))
def test_integer_columns_against_fractional_thresholds(values, thr, n):
    _check(_table(values, "BIGINT"), "BIGINT", thr, n)


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.booleans()), max_size=20), n=st.integers(1, 3))
def test_boolean_columns_count_as_integers(values, n):
    _check(_table(values, "BOOLEAN"), "BOOLEAN", [0, 1, 0.5], n)


def test_float32_columns():
    _check(_table([0.1, 0.2, None, 0.30000001, 1e30, -1e-30], "FLOAT"), "FLOAT", [0.1, 0.2, 0.3, 0.0], 2)


@pytest.mark.parametrize("thr", [math.nan, math.inf, -math.inf, True, "3"])
def test_unusual_thresholds_go_the_query_way(thr):
    con = _table([1.0, 2.0], "DOUBLE")
    values = edge_index.sorted_values(con, "t", "x", "DOUBLE")
    assert edge_index.nth_nearest(values, ">=", thr, 1) == (False, None)


def test_huge_integers_and_decimals_go_the_query_way():
    con = _table([1, 2**60], "BIGINT")
    assert edge_index.nth_nearest(edge_index.sorted_values(con, "t", "x", "BIGINT"), ">=", 1, 1) == (False, None)
    assert edge_index.sorted_values(_table([1.5], "DECIMAL(4,1)"), "t", "x", "DECIMAL(4,1)") is None
