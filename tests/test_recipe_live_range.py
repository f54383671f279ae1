"""A range cut in numpy (:meth:`app.recipes.live._State.range_vector`) equals DuckDB's comparison, at any value.

The live path folds NULL and NaN into each column once and compares one array per bound; these checks hold it
to DuckDB's meaning for NULL, NaN (above every number) and infinities in the column and in the bounds.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from app.recipes import live

VALUES = [None, math.nan, math.inf, -math.inf, 0.0, -1.5, 2.0, 3.0, 1e300]
BOUNDS = [None, math.nan, math.inf, -math.inf, 0.0, -1.5, 2.0, 2.5, 1e300]


CON = duckdb.connect()


def duck(values: list, lo: float | None, hi: float | None, keep_null: bool) -> np.ndarray:
    """``coalesce(x >= lo AND x <= hi, false)`` (or NULL with ``keep_null``) as DuckDB answers it."""
    con = CON.cursor()
    con.register("t", pa.table({"x": pa.array(values, type=pa.float64())}))
    cond = (
        " AND ".join(
            [
                *([f"x >= CAST('{lo!r}' AS DOUBLE)"] if lo is not None else []),
                *([f"x <= CAST('{hi!r}' AS DOUBLE)"] if hi is not None else []),
            ]
        )
        or "x IS NOT NULL"
    )
    sql = f"SELECT coalesce({cond}, false){' OR x IS NULL' if keep_null else ''} FROM t"
    return np.array([r[0] for r in con.execute(sql).fetchall()], dtype=bool)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from(VALUES), min_size=1, max_size=30),
    lo=st.sampled_from(BOUNDS),
    hi=st.sampled_from(BOUNDS),
    keep_null=st.booleans(),
)
def test_range_vector_equals_duckdb(values, lo, hi, keep_null):
    state = live._State(pa.table({"x": pa.array(values, type=pa.float64())}))
    got = state.range_vector("x", lo, hi, keep_null)
    assert got.tolist() == duck(values, lo, hi, keep_null).tolist()
    # the folded arrays are cached per column: a second cut on the same state answers from them
    again = state.range_vector("x", hi, lo, keep_null)
    assert again.tolist() == duck(values, hi, lo, keep_null).tolist()
