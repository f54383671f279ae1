"""The recipe frame's computed columns without DuckDB window functions (the frame of 10M documents at page open).

:meth:`app.recipes.cache.RecipeCache.frame` needs, besides the plain columns a recipe reads, the rank of each
document's id in id order (:data:`~app.recipes.sqlparts.ID_RANK`), codes of the exact and near cluster keys
(:data:`~app.recipes.sqlparts.EXACT_KEY`, :data:`~app.recipes.sqlparts.NEAR_KEY`) and the rows of each cluster
side by side in id order. In SQL that is ``row_number() OVER (ORDER BY id)``, a ``dense_rank()`` per key and an
``ORDER BY`` of the whole frame: every window and the sort carry every selected column, 17 CPU-s for 10M cycled
realmix documents and 32 CPU-s for 10M synthetic ones whose keys are mostly distinct (as real corpora's are).

Here DuckDB only scans (the plain columns, ``rowid`` and two 64-bit hashes of each key) and sorts the row ids
by id (once per workspace state, shared with the edge documents' sorts); numpy does the rest: the inverse permutation gives the ranks, one stable argsort of a key's hash over
the rows in id order gives that key's runs in (key, id) order, and a second, independent hash (of the reversed
key) must agree within every run, else two keys shared a hash and the caller builds the frame in SQL.

The codes are dense (1..k) but numbered in hash order, not in the key's text order as ``dense_rank`` numbers
them: they are only ever compared for equality (dedup's ``GROUP BY`` and live runs), and
``tests/test_recipe_frame.py`` holds the frame equal to the SQL one row for row up to that renaming.
"""

from __future__ import annotations

from typing import Any

from app.recipes.sqlparts import EXACT_KEY, ID_RANK, NEAR_KEY, SEM_TARGET
from app.sql import qi

#: frame key column -> the corpus column it codes
KEY_SOURCES = {EXACT_KEY: "dup_exact_cluster", NEAR_KEY: "dup_near_cluster"}


def is_table(con: Any, name: str) -> bool:
    """Whether ``name`` is a base table of the main schema (only tables have ``rowid``)."""
    q = "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'"
    return bool(con.execute(q, [name]).fetchall()[0][0])


def eligible(cols: list[str], types: dict[str, str]) -> bool:
    """Whether a frame of ``cols`` over a relation of column ``types`` can be built here: it has id ranks, no
    semantic target ranks (a join, left to SQL), and its keys are text (both dedup scorers declare VARCHAR)."""
    keys_text = all(types.get(src) == "VARCHAR" for c, src in KEY_SOURCES.items() if c in cols)
    return ID_RANK in cols and SEM_TARGET not in cols and keys_text


def _runs(h: Any, h2: Any, rows: Any) -> tuple[Any, Any] | None:
    """``rows`` (indices, in id order) sorted stably by hash ``h``, and each one's run number (1..k) in that
    order; None when two rows of one run differ in ``h2`` (two keys shared a hash)."""
    import numpy as np

    order = rows[np.argsort(h[rows], kind="stable")]
    hs = h[order]
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    h2s = h2[order]
    same = ~new[1:]
    if not np.array_equal(h2s[1:][same], h2s[:-1][same]):
        return None
    return order, np.cumsum(new, dtype=np.int64)


def _take(col: Any, order: Any) -> Any:
    """``col`` in ``order``. A text column of few distinct values (sources, languages) is reordered as
    dictionary codes and decoded after: 0.27 against 0.67 CPU-s for two such columns of 2M rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        head = col.slice(0, 65_536)
        if pc.count_distinct(head).as_py() <= 1_024:
            return pc.cast(pc.dictionary_encode(col).take(order), col.type)
    return col.take(order)


def build(con: Any, relation: str, cols: list[str], plain: dict[str, str], *, by_id: Any) -> Any | None:
    """The recipe frame of ``cols`` over table ``relation`` (``plain``: ``{column: select expression}`` of
    every column that is not computed here; ``by_id``: the table's rowids in id order,
    :meth:`~app.recipes.cache.RecipeCache.id_order`), or None when it must be built in SQL (a key's hashes
    collided, or ``by_id`` does not fit the table)."""
    import numpy as np
    import pyarrow as pa

    keys = [c for c in (EXACT_KEY, NEAR_KEY) if c in cols]
    sel = ["rowid AS __rid", *(f"{expr} AS {qi(c)}" for c, expr in plain.items())]
    for i, c in enumerate(keys):
        src = qi(KEY_SOURCES[c])
        sel += [f"hash({src}) AS __h{i}", f"hash(reverse({src})) AS __g{i}", f"{src} IS NOT NULL AS __v{i}"]
    rel = qi(relation)
    scan = con.sql(f"SELECT {', '.join(sel)} FROM {rel}").to_arrow_table()
    n = scan.num_rows
    rid = scan.column("__rid").to_numpy()
    size = int(rid.max()) + 1 if n else 0
    if len(by_id) != n or (n and int(by_id.max()) >= size):  # not this table's rows: SQL builds it in one statement
        return None
    at = np.full(size, -1, dtype=np.int64)
    at[rid] = np.arange(n, dtype=np.int64)
    in_id_order = at[by_id]  # frame rows in id order
    if n and in_id_order.min() < 0:
        return None
    rank = np.empty(n, dtype=np.int64)
    rank[in_id_order] = np.arange(1, n + 1, dtype=np.int64)
    order = None
    computed: dict[str, Any] = {ID_RANK: rank}
    for i, c in enumerate(keys):
        h = scan.column(f"__h{i}").to_numpy()
        g = scan.column(f"__g{i}").to_numpy()
        valid = scan.column(f"__v{i}").to_numpy(zero_copy_only=False)
        got = _runs(h, g, in_id_order[valid[in_id_order]])
        if got is None:
            return None
        rows, run = got
        codes = np.zeros(n, dtype=np.int64)
        codes[rows] = run
        computed[c] = (codes, ~valid)
        if order is None:  # the first key orders the frame: its clusters' rows side by side, NULL keys last
            order = np.concatenate([rows, in_id_order[~valid[in_id_order]]])
    at = pa.array(order) if order is not None else None  # the first key orders the frame
    out = {}
    for c in cols:
        if c == ID_RANK:
            out[c] = pa.array(rank if order is None else rank[order])
        elif c in computed:
            codes, null = computed[c]
            out[c] = pa.array(codes[order], mask=null[order])
        else:
            out[c] = scan.column(c) if at is None else _take(scan.column(c), at)
    return pa.table(out)
