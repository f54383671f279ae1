"""The n-th nearest value on one side of a cut, from a sorted copy of the column instead of a top-n query.

:func:`app.recipes.edges.edge_documents` picks a numeric cut's neighbours in two steps: the n-th nearest value on
each side, then the documents between the cut and that value ordered by ``(value, id)``. The first step was a
top-n query over every document (``SELECT max(v) FROM (... WHERE col >= $t ORDER BY col LIMIT n)``): a scan of the
column on every threshold change, ~40 ms of CPU per side at 10M documents. Here the column's non-NULL values are
read and sorted once per workspace version (kept for a few columns, see :data:`MAX_COLUMNS`), and each later cut
is a binary search: microseconds.

The answer is the query's, value for value: DuckDB orders NaN above every number and so does ``numpy.sort`` (the
comparisons ``>=``/``>`` then hold for NaN and ``<``/``<=`` do not, as in SQL); integer columns are kept as
integers and compared against the threshold rounded the way the comparison needs (exact while the column's values
fit in a double's 53 bits, else the query is used); booleans are 0 and 1, as the SQL's ``CAST(col AS INTEGER)``.
Anything else (decimals, NaN or infinite thresholds) answers None, and the caller runs its query.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

from app.recipes.cache import version_token
from app.sql import qi

#: sorted columns kept (8 bytes a document each; least recently used dropped first)
MAX_COLUMNS = 4
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOAT_TYPES = ("FLOAT", "REAL", "DOUBLE")
_EXACT = 2**53

_lock = threading.Lock()
_sorted: OrderedDict[tuple, Any] = OrderedDict()


def _kind(sql_type: str) -> str | None:
    t = sql_type.upper()
    if t in _INT_TYPES or t == "BOOLEAN":
        return "int"
    if t in _FLOAT_TYPES:
        return "float"
    return None


def sorted_values(con: Any, relation: str, column: str, sql_type: str) -> Any | None:
    """The non-NULL values of ``relation.column`` sorted ascending (NaN last), cached per workspace version;
    None when the column's type is not handled here or the workspace cannot be fingerprinted."""
    import numpy as np

    kind = _kind(sql_type)
    token = version_token(con, relation) if kind else None
    if token is None:
        return None
    key = (token, column, sql_type)
    with _lock:
        hit = _sorted.get(key)
        if hit is not None:
            _sorted.move_to_end(key)
            return hit
    col = qi(column)
    cast = f"CAST({col} AS INTEGER)" if sql_type.upper() == "BOOLEAN" else col
    got = con.execute(f"SELECT {cast} AS v FROM {qi(relation)} WHERE {col} IS NOT NULL").fetchnumpy()["v"]
    values = np.asarray(got, dtype=np.int64 if kind == "int" else np.float64)
    if kind == "int" and len(values) and (int(values.min()) < -_EXACT or int(values.max()) > _EXACT):
        values = np.empty(0, dtype=np.int8)  # a marker: compared as doubles these could round; use the query
    else:
        values = np.sort(values, kind="stable")
    with _lock:
        _sorted[key] = values
        while len(_sorted) > MAX_COLUMNS:
            _sorted.popitem(last=False)
    return values


def nth_nearest(values: Any, op: str, threshold: float, n: int) -> tuple[bool, Any]:
    """``(True, v)``: v is what ``SELECT max|min(v) FROM (SELECT col AS v ... WHERE col OP threshold ORDER BY col
    ASC|DESC LIMIT n)`` answers (``>=``/``>``: the n-th smallest value past the cut, max; ``<``/``<=``: the n-th
    largest before it, min), None when nothing is on that side; ``(False, None)``: not answerable here."""
    import numpy as np

    if values is None or values.dtype == np.int8 or n <= 0:
        return False, None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        return False, None
    if values.dtype == np.int64:
        if not -_EXACT < threshold < _EXACT:
            return False, None
        # an integer x: x >= t iff x >= ceil(t); x > t iff x > floor(t); x < t iff x < ceil(t); x <= t iff x <= floor(t)
        t: Any = math.ceil(threshold) if op in (">=", "<") else math.floor(threshold)
        t = np.int64(t)
    else:
        t = np.float64(threshold)
    if op in (">=", ">"):
        start = int(np.searchsorted(values, t, side="left" if op == ">=" else "right"))
        if start >= len(values):
            return True, None
        v = values[min(start + n, len(values)) - 1]
    elif op in ("<", "<="):
        end = int(np.searchsorted(values, t, side="left" if op == "<" else "right"))
        if end <= 0:
            return True, None
        v = values[max(end - n, 0)]
    else:
        return False, None
    return True, v.item()
