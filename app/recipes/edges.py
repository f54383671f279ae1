"""Edge documents of one check of a compiled recipe: the one picker the dashboard and the report share.

For a check with a numeric cut (a range or quantile rule): the ``n`` documents nearest the cut on each side,
``above`` the threshold (smallest values first) and ``below`` it (largest first). A minimum's threshold value is
kept, so it counts above (value >= min); a maximum's is kept too, so it counts below (value <= max): each side
holds only documents the cut treats alike. (A rule with both bounds is shown at its minimum.) For any
other check (set, expression, dedup): a deterministic pseudo-random sample of documents that pass (``above``)
and that fail (``below``), ordered by ``hash(id)``. Ties are always broken by id, so the same recipe over the
same corpus shows the same documents wherever it is shown.

Fast at 10M documents: the documents are chosen over the workspace's text-free relation (``corpus_fast``, no join
and no text read), and only the ``2n`` chosen texts are then fetched, one equality on the id each (DuckDB checks a
constant against the stored ids inside the scan; an ``IN (subquery)`` semi-join hashed and probed every id of
every source: 0.3-0.9 CPU-s per call at 10M documents against about 0.1). A cut's neighbours take two queries:
the n-th nearest value by a top-n on the value alone, then only the documents between the cut and that value,
ordered by ``(value, id)``, with both bounds as constants so that the scan skips the rest (a one-query form, the
value joined from a CTE, filtered every row after the scan); ordering every document past the cut by a string
id would cost several times the top-n itself.
"""

from __future__ import annotations

import re
from typing import Any

from app.errors import RecipeError
from app.recipes.edge_index import neighbour_rows, nth_nearest, sorted_index, texts_by_source
from app.sql import qi
from app.workspace import fast_relation

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def has_cut(check: Any) -> bool:
    """Whether a compiled check is one numeric cut (its edge documents are neighbours of the threshold)."""
    th = check.threshold or {}
    return (
        check.kind == "rule"
        and bool(check.signal)
        and any(isinstance(th.get(k), (int, float)) and not isinstance(th.get(k), bool) for k in ("min", "max"))
    )


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The named parameters ``sql`` refers to (DuckDB rejects unused ones). Not imported from ``compile``, which
    imports this module: no cycle."""
    names = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in names}


def _evaluable(con: Any, sql: str, params: dict[str, Any], relation: str) -> bool:
    """Whether the check's SQL binds over ``relation`` (it may need the text, which ``corpus_fast`` lacks)."""
    import duckdb

    try:
        con.execute(f"SELECT {sql} FROM {qi(relation)} LIMIT 0", _used(sql, params)).fetchall()
    except duckdb.BinderError:
        return False
    return True


def _columns(con: Any, relation: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {qi(relation)}").fetchall()}


def edge_documents(
    con: Any,
    compiled: Any,
    check_index: int,
    *,
    n: int,
    text_chars: int,
    relation: str | None = None,
) -> dict[str, Any]:
    """The edge documents of check ``check_index`` of ``compiled`` (an :class:`app.recipes.compile.Compiled`).

    Returns ``{rule, index, bound, threshold, above, below}``: ``rule`` the check's label, ``bound`` ``"min"`` or
    ``"max"`` (which threshold ``threshold`` is; None without a cut), rows ``{id, source, value, text}`` with
    ``value`` the check's column and ``text`` cut to ``text_chars`` characters.

    ``relation`` is where documents are chosen from; by default the workspace's text-free relation when the check
    can be evaluated there (see :func:`app.workspace.fast_relation`), else the relation the recipe was compiled
    against. Texts are read by id from that relation, or from ``docs`` when it has no text."""
    checks = compiled.checks
    if not 0 <= check_index < len(checks):
        raise RecipeError(f"rule index {check_index} is out of range (recipe has {len(checks)} checks)")
    c = checks[check_index]
    n = max(0, int(n))
    cut = has_cut(c)
    if relation is None:
        relation = fast_relation(con)
        if relation != compiled.relation and not cut and not _evaluable(con, c.sql, compiled.params, relation):
            relation = compiled.relation
    cols = _columns(con, relation)
    rel = qi(relation)
    value = qi(c.signal) if c.signal and c.signal in cols else "NULL"
    pick = f"id, source, {value} AS value"
    out: dict[str, Any] = {"rule": c.label, "index": check_index, "bound": None, "threshold": None}
    locs: dict[str, tuple] | None = None  # where each edge document's text is (file, line), when known
    if cut:
        bound = "min" if isinstance(c.threshold.get("min"), (int, float)) else "max"
        thr = c.threshold[bound]
        col = qi(c.signal)
        if cols.get(c.signal, "").upper().startswith("BOOLEAN"):
            col = f"CAST({col} AS INTEGER)"

        index = sorted_index(con, relation, c.signal, cols.get(c.signal, "")) if n else None
        locs = {} if {"_file", "_row"} <= set(cols) else None
        values = index[0] if index is not None else None

        def near(op: str, agg: str, order: str, back: str) -> list[tuple]:
            # the n-th nearest value first (a binary search of the sorted column, or a top-n on numbers), then
            # only the rows up to it ordered by (value, id)
            if n == 0:
                return []
            rows = neighbour_rows(con, relation, index, op=op, threshold=thr, n=n, value_sql=value, locate=locs)
            if rows is not None:  # by rowid from the column's (value, id) order (edge_index)
                return rows
            known, v = nth_nearest(values, op, thr, n)
            if not known:
                top = f"SELECT {agg}(v) FROM (SELECT {col} AS v FROM {rel} WHERE {col} {op} $t ORDER BY {col} {order} LIMIT {n})"
                row = con.execute(top, {"t": thr}).fetchall()
                v = row[0][0] if row else None
            if v is None:
                return []  # nothing on this side of the cut
            sql = (
                f"SELECT {pick} FROM {rel} WHERE {col} {op} $t AND {col} {back} $v ORDER BY {col} {order}, id LIMIT {n}"
            )
            return con.execute(sql, {"t": thr, "v": v}).fetchall()

        # a minimum keeps value >= t, a maximum keeps value <= t: each side holds only what the cut does to it
        above = near(">=" if bound == "min" else ">", "max", "ASC", "<=")
        below = near("<" if bound == "min" else "<=", "min", "DESC", ">=")
        out.update(bound=bound, threshold=thr)
    else:

        def sample(flag: str) -> list[tuple]:
            sql = f"SELECT {pick} FROM {rel} WHERE coalesce({c.sql}, false) = {flag} ORDER BY hash(id), id LIMIT {n}"
            return con.execute(sql, _used(sql, compiled.params)).fetchall()

        above, below = sample("true"), sample("false")
    ids = [r[0] for r in [*above, *below]]
    texts: dict[str, str] = {}
    if ids:
        got = None if "text" in cols else texts_by_source(con, [*above, *below], text_chars=text_chars, locate=locs)
        texts = (
            got if got is not None else _texts(con, relation if "text" in cols else "docs", ids, text_chars=text_chars)
        )
    keys = ("id", "source", "value")
    out["above"] = [{**dict(zip(keys, r, strict=True)), "text": texts.get(r[0]) or ""} for r in above]
    out["below"] = [{**dict(zip(keys, r, strict=True)), "text": texts.get(r[0]) or ""} for r in below]
    return out


#: up to this many ids, texts are fetched with one equality per id (each a filter inside the scan); beyond, by a
#: semi-join (one pass, whatever the number)
_EQ_IDS = 32


def _texts(con: Any, relation: str, ids: list[str], *, text_chars: int) -> dict[str, str]:
    """``{id: text cut to text_chars}`` of the documents ``ids`` of ``relation``."""
    cut = f"left(text, {int(text_chars)})"
    if len(ids) > _EQ_IDS:
        sql = f"SELECT id, {cut} FROM {qi(relation)} WHERE id IN (SELECT unnest($ids))"
        return dict(con.execute(sql, {"ids": ids}).fetchall())
    uniq = list(dict.fromkeys(ids))
    sql = " UNION ALL ".join(f"SELECT id, {cut} FROM {qi(relation)} WHERE id = $i{k}" for k in range(len(uniq)))
    return dict(con.execute(sql, {f"i{k}": v for k, v in enumerate(uniq)}).fetchall())


def borderline(
    con: Any,
    recipe: Any,
    rule_index: int,
    *,
    n: int = 5,
    relation: str = "corpus",
    text_chars: int = 2000,
) -> dict[str, Any]:
    """Documents just above and just below rule ``rule_index``'s threshold (for range and quantile
    rules); for set, expression and dedup checks: a deterministic sample that passes (``above``) and
    one that fails (``below``). Rows: ``id, source, value, text`` (text cut to ``text_chars``).
    The recipe compiled, then :func:`edge_documents` (the dashboard's picker too)."""
    from app.recipes.compile import compile_recipe

    comp = compile_recipe(con, recipe, relation=relation)
    choose = None if relation == "corpus" else relation  # corpus: chosen over the text-free relation
    return edge_documents(con, comp, rule_index, n=n, text_chars=text_chars, relation=choose)
