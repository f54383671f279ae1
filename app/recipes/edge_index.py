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

Where the relation is a table (``corpus_fast`` once parts exist), the sort is DuckDB's ``ORDER BY col, id`` and
the rows' ``rowid`` are kept with the values (4 bytes a document more, 8 beyond 2**31 rows): the edge documents
themselves are then positions in that order (:func:`neighbour_rows`), read by ``rowid`` (a point lookup), not a
scan of every document between the cut and the n-th nearest value ordered by ``(value, id)`` (~25 ms a side at 3M
documents, where a word count ties hundreds of thousands of them).
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
#: per cached column: the relation's rowids in (value, id) order (None: not a table), aligned with ``_sorted``
_rowids: dict[tuple, Any] = {}


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
    got = sorted_index(con, relation, column, sql_type)
    return None if got is None else got[0]


def sorted_index(con: Any, relation: str, column: str, sql_type: str) -> tuple[Any, Any] | None:
    """``(values, rowids)``: :func:`sorted_values` and, where ``relation`` is a table, its rowids in the same
    (value, id) order (else None); one workspace fingerprint per call."""
    import duckdb
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
            return hit, _rowids.get(key)
    col = qi(column)
    cast = f"CAST({col} AS INTEGER)" if sql_type.upper() == "BOOLEAN" else col
    dtype = np.int64 if kind == "int" else np.float64
    rowids = None
    try:  # a table: (value, id) order with each row's rowid, for neighbour_rows
        got = con.execute(f"SELECT rowid AS r, {cast} AS v FROM {qi(relation)} WHERE {col} IS NOT NULL").fetchnumpy()
        both = _by_value_then_id(con, relation, token, got["r"], np.asarray(got["v"], dtype=dtype))
        if both is None:
            sql = f"SELECT rowid AS r, {cast} AS v FROM {qi(relation)} WHERE {col} IS NOT NULL ORDER BY {col}, id"
            got = con.execute(sql).fetchnumpy()
            both = np.asarray(got["r"], dtype=np.int64), np.asarray(got["v"], dtype=dtype)
        rowids, values = both
        if len(rowids) and int(rowids.max()) < 2**31:
            rowids = rowids.astype(np.int32)
    except duckdb.Error:  # a view has no rowid: the values alone
        got = con.execute(f"SELECT {cast} AS v FROM {qi(relation)} WHERE {col} IS NOT NULL").fetchnumpy()
        values = np.asarray(got["v"], dtype=dtype)
    if kind == "int" and len(values) and (int(values.min()) < -_EXACT or int(values.max()) > _EXACT):
        values, rowids = np.empty(0, dtype=np.int8), None  # a marker: compared as doubles these could round
    elif rowids is None:
        values = np.sort(values, kind="stable")
    with _lock:
        _sorted[key] = values
        _rowids[key] = rowids
        while len(_sorted) > MAX_COLUMNS:
            _rowids.pop(_sorted.popitem(last=False)[0], None)
    return values, rowids


def _by_value_then_id(con: Any, table: str, token: tuple, rid: Any, values: Any) -> tuple[Any, Any] | None:
    """``(rowids, values)`` of the rows ``rid`` with ``values`` in ``ORDER BY value, id`` order: a stable sort of
    the values taken in id order (the table's id order is shared with the recipe frame,
    :meth:`app.recipes.cache.RecipeCache.id_order`). NaN sorts last and -0.0 ties with 0.0, as in DuckDB. At 10M
    documents DuckDB's ``ORDER BY col, id`` took 4.8 CPU-s. None when the id order does not hold these rows."""
    import numpy as np

    from app.recipes.cache import CACHE

    by_id = CACHE.id_order(con, table, token)
    rid = np.asarray(rid, dtype=np.int64)
    size = max(int(rid.max()) + 1 if len(rid) else 0, int(by_id.max()) + 1 if len(by_id) else 0)
    slot = np.full(size, -1, dtype=np.int64)
    slot[rid] = np.arange(len(rid), dtype=np.int64)
    at = slot[by_id]
    at = at[at >= 0]  # the non-NULL rows, in id order
    if len(at) != len(rid):  # rows the id order does not hold (the table changed in between)
        return None
    vals = values[at]
    o = np.argsort(vals, kind="stable")
    return rid[at[o]], vals[o]


def _cut(values: Any, op: str, threshold: Any) -> int | None:
    """The position in ``values`` where ``col OP threshold`` starts (``>=``, ``>``) or ends (``<``, ``<=``) to
    hold; None when not answerable here (see :func:`nth_nearest`)."""
    import numpy as np

    if values is None or values.dtype == np.int8:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        return None
    if values.dtype == np.int64:
        if not -_EXACT < threshold < _EXACT:
            return None
        # an integer x: x >= t iff x >= ceil(t); x > t iff x > floor(t); x < t iff x < ceil(t); x <= t iff x <= floor(t)
        t: Any = np.int64(math.ceil(threshold) if op in (">=", "<") else math.floor(threshold))
    else:
        t = np.float64(threshold)
    if op not in (">=", ">", "<", "<="):
        return None
    return int(np.searchsorted(values, t, side="left" if op in (">=", "<") else "right"))


def nth_nearest(values: Any, op: str, threshold: float, n: int) -> tuple[bool, Any]:
    """``(True, v)``: v is what ``SELECT max|min(v) FROM (SELECT col AS v ... WHERE col OP threshold ORDER BY col
    ASC|DESC LIMIT n)`` answers (``>=``/``>``: the n-th smallest value past the cut, max; ``<``/``<=``: the n-th
    largest before it, min), None when nothing is on that side; ``(False, None)``: not answerable here."""
    pos = _cut(values, op, threshold) if n > 0 else None
    if pos is None:
        return False, None
    if op in (">=", ">"):
        if pos >= len(values):
            return True, None
        return True, values[min(pos + n, len(values)) - 1].item()
    if pos <= 0:
        return True, None
    return True, values[max(pos - n, 0)].item()


def neighbour_rows(
    con: Any,
    relation: str,
    index: tuple | None,
    *,
    op: str,
    threshold: Any,
    n: int,
    value_sql: str,
    locate: dict[str, tuple] | None = None,
) -> list[tuple] | None:
    """``(id, source, value)`` of the ``n`` documents nearest the cut ``column OP threshold`` on its side, as
    ``SELECT id, source, value_sql FROM relation WHERE column OP threshold ORDER BY column ASC|DESC, id LIMIT n``
    answers (``>=``/``>``: ascending; ``<``/``<=``: descending values, ids ascending within a value), read by
    rowid; None when not answerable here (the caller runs its query). ``index``: :func:`sorted_index`'s answer
    for the column. ``locate``: filled with each document's ``(_file, _row)`` (the relation must have both),
    which :func:`texts_by_source` uses to find its text without scanning every id."""
    import numpy as np

    values, rowids = index if index is not None else (None, None)
    pos = _cut(values, op, threshold) if n > 0 and rowids is not None else None
    if pos is None:
        return None
    if op in (">=", ">"):
        picked = rowids[pos : pos + n].tolist()
    else:  # walk down the values, each value's documents in id order
        picked, end = [], pos
        while len(picked) < n and end > 0:
            start = int(np.searchsorted(values, values[end - 1], side="left"))
            picked += rowids[start : min(end, start + n - len(picked))].tolist()
            end = start
    if not picked:
        return []
    where = ", _file, _row" if locate is not None else ""
    sql = " UNION ALL ".join(
        f"SELECT rowid AS r, id, source, {value_sql}{where} FROM {qi(relation)} WHERE rowid = $r{k}"
        for k in range(len(picked))
    )
    got = {r[0]: r[1:] for r in con.execute(sql, {f"r{k}": v for k, v in enumerate(picked)}).fetchall()}
    if not all(r in got for r in picked):
        return None
    if locate is not None:
        locate.update({got[r][0]: got[r][3:] for r in picked})
    return [got[r][:3] for r in picked]


def texts_by_source(
    con: Any, rows: list[tuple], *, text_chars: int, locate: dict[str, tuple] | None = None
) -> dict[str, str] | None:
    """``{id: text cut to text_chars}`` for ``rows`` ``(id, source, ...)``, each read from its own source's table
    (:func:`app.workspace.source_table`) rather than from the ``docs`` view over every source: an equality on the
    id scans one source's ids, not all of them. ``locate`` (``{id: (_file, _row)}``, from :func:`neighbour_rows`)
    adds the document's file and line to the equality: a source's rows are stored in file and line order, so
    DuckDB's min/max of each row group skips all but one (10M cycled realmix documents: 2-4 ms against 11-45 ms
    by the id alone; ids in random order: 528 ms). None when a source has no table of its own or an id is not
    found there (the caller reads ``docs``)."""
    from app.workspace import source_table

    pairs = list(dict.fromkeys((r[0], r[1]) for r in rows))
    if not pairs or any(not isinstance(s, str) for _, s in pairs):
        return None
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    if any(source_table(s) not in tables for _, s in pairs):
        return None
    cut = f"left(text, {int(text_chars)})"
    params: dict[str, Any] = {}
    parts = []
    for k, (i, s) in enumerate(pairs):
        params[f"i{k}"] = i
        where = f"id = $i{k}"
        loc = (locate or {}).get(i)
        if loc is not None and len(loc) == 2 and None not in loc:
            where += f" AND _file = $f{k} AND _row = $w{k}"
            params[f"f{k}"], params[f"w{k}"] = loc
        parts.append(f"SELECT id, {cut} FROM {qi(source_table(s))} WHERE {where}")
    got = dict(con.execute(" UNION ALL ".join(parts), params).fetchall())
    return got if all(i in got for i, _ in pairs) else None
