"""The edge documents read by rowid from a column's (value, id) order (:func:`app.recipes.edge_index.neighbour_rows`)
are the (value, id)-ordered query's, row for row: ties broken by id, NaN above every number, NULL never chosen."""

from __future__ import annotations

import atexit
import math
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from app.recipes import edge_index

SIDES = [(">=", "ASC"), (">", "ASC"), ("<", "DESC"), ("<=", "DESC")]

#: every test database of this module, removed when the process ends (hypothesis makes hundreds)
_ROOT = tempfile.mkdtemp(prefix="edge_rows_")
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def _table(values: list, sql_type: str, ids: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(Path(tempfile.mkdtemp(dir=_ROOT)) / "t.duckdb"))
    con.register("_v", pd.DataFrame({"x": pd.Series(values, dtype=object), "id": pd.Series(ids, dtype=object)}))
    con.execute(
        f"CREATE TABLE t AS SELECT CAST(id AS VARCHAR) AS id, 's' || (length(CAST(id AS VARCHAR)) % 2) AS source, CAST(x AS {sql_type}) AS x FROM _v"
    )
    con.execute("CREATE TABLE _parts (registered_at TIMESTAMP)")  # what version_token reads
    con.execute("CREATE TABLE sources (ingested_at TIMESTAMP, n_docs BIGINT)")
    return con


def _key(rows: list) -> list:
    return [(i, s, "nan" if isinstance(x, float) and math.isnan(x) else x) for i, s, x in rows]


def _check(con, sql_type: str, thresholds: list, n: int) -> None:
    edge_index._sorted.clear()
    col = "CAST(x AS INTEGER)" if sql_type == "BOOLEAN" else "x"
    for thr in thresholds:
        for op, order in SIDES:
            index = edge_index.sorted_index(con, "t", "x", sql_type)
            got = edge_index.neighbour_rows(con, "t", index, op=op, threshold=thr, n=n, value_sql="x")
            sql = f"SELECT id, source, x FROM t WHERE {col} {op} $t ORDER BY {col} {order}, id LIMIT {n}"
            want = con.execute(sql, {"t": thr}).fetchall()
            assert got is not None
            assert _key(got) == _key(want), (sql_type, thr, op, n)


floats = st.one_of(st.none(), st.just(math.nan), st.floats(-3, 3, allow_nan=False), st.sampled_from([0.0, -0.0, 1.5]))
thresholds = st.lists(st.one_of(st.floats(-4, 4, allow_nan=False), st.integers(-4, 4)), min_size=1, max_size=3)
ids = st.text("ab~9", min_size=1, max_size=4)


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.tuples(floats, ids), max_size=30, unique_by=lambda t: t[1]), thr=thresholds, n=st.integers(1, 4)
)
def test_double_columns_with_ties_nan_and_null(data, thr, n):
    _check(_table([v for v, _ in data], "DOUBLE", [i for _, i in data]), "DOUBLE", thr, n)


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.tuples(st.one_of(st.none(), st.integers(-3, 3)), ids), max_size=30, unique_by=lambda t: t[1]),
    thr=thresholds,
    n=st.integers(1, 4),
)
def test_integer_columns_with_ties(data, thr, n):
    _check(_table([v for v, _ in data], "BIGINT", [i for _, i in data]), "BIGINT", thr, n)


def test_boolean_columns():
    vals = [True, None, False, True, False, True]
    _check(_table(vals, "BOOLEAN", ["f", "e", "d", "c", "b", "a"]), "BOOLEAN", [0, 1, 0.5], 2)


def test_a_view_goes_the_query_way():
    con = _table([1.0, 2.0], "DOUBLE", ["a", "b"])
    con.execute("CREATE VIEW v AS SELECT * FROM t")
    edge_index._sorted.clear()
    index = edge_index.sorted_index(con, "v", "x", "DOUBLE")
    assert index is not None and index[1] is None
    assert edge_index.neighbour_rows(con, "v", index, op=">=", threshold=1.5, n=1, value_sql="x") is None


def test_texts_by_source_equal_the_docs_views(tmp_path):
    """Each text read from its own source's table is the ``docs`` view's; a source without a table of its own, or
    an id not in its source's table, answers None (the caller reads ``docs``)."""
    from app.recipes.edges import _texts
    from app.workspace import Workspace

    with Workspace.open(tmp_path / "ws", create=True) as ws:
        ws.write_source("web", pd.DataFrame({"id": ["a", "b'", "c"], "text": ["alpha", "beta", "gamma"]}))
        ws.write_source("books", pd.DataFrame({"id": ["d", "e"], "text": ["delta " * 50, "epsilon"]}))
        rows = [("e", "books", 1), ("b'", "web", 2), ("d", "books", 3), ("e", "books", 1)]
        got = edge_index.texts_by_source(ws.con, rows, text_chars=20)
        assert got == _texts(ws.con, "docs", ["e", "b'", "d"], text_chars=20)
        assert got["d"] == ("delta " * 50)[:20]
        assert edge_index.texts_by_source(ws.con, [("a", "nowhere", 0)], text_chars=5) is None
        assert edge_index.texts_by_source(ws.con, [("a", "books", 0)], text_chars=5) is None
