"""The log-axis default (``app.explore.queries.is_skewed``) never hides a large share of documents."""

from __future__ import annotations

import duckdb

from app.explore.queries import is_skewed


def _con(values: list[float | None]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE corpus (id VARCHAR, x DOUBLE)")
    con.executemany("INSERT INTO corpus VALUES (?, ?)", [[str(i), v] for i, v in enumerate(values)])
    return con


def test_a_long_tail_without_zeros_opens_on_a_log_axis():
    assert is_skewed(_con([1.0] * 90 + [100.0] * 10), "x")


def test_a_column_mostly_zero_does_not_open_on_a_log_axis():
    # realmix's raw files: c4_terminal_punct_ratio is 0 for 55% of documents; on a log axis they vanished
    assert not is_skewed(_con([0.0] * 55 + [0.9] * 40 + [1.0] * 5), "x")
    assert not is_skewed(_con([0.0] * 5 + [1.0] * 85 + [100.0] * 10), "x")


def test_flat_and_negative_columns_stay_linear():
    assert not is_skewed(_con([1.0, 2.0, 3.0, None]), "x")
    assert not is_skewed(_con([-1.0] + [100.0] * 10), "x")
