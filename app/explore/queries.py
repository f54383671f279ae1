"""The column catalogue and the read queries the dashboard draws: DuckDB aggregates over ``corpus``, small frames.

Nothing here pulls a corpus into Python: histograms, ECDFs, quantiles, 2-D densities and correlations are
computed by DuckDB and come back as at most a few thousand rows. Column names go through :func:`qi`, values
through parameters. Column types are judged by :func:`app.sql.is_number_type`, the one table of DuckDB number
types. Searching is :mod:`app.search`; labels (read and write) are :mod:`app.explore.labels`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from app.explore import columns
from app.explore.columns import ID_LIKE, corpus_columns
from app.sql import is_number_type, qi

#: never offered as categories: unique per document or free text
NOT_CATEGORICAL = {"id", "text", "text_hash", "url", "title", "map_cluster_label"}
QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def agg_relation(con: Any) -> str:
    """The relation aggregates read: :func:`app.workspace.fast_relation` (no text, no join chain)."""
    from app.workspace import fast_relation

    return fast_relation(con)


def _is_numeric(t: str) -> bool:
    """A number a histogram can draw: :func:`app.sql.is_number_type` less booleans (two values, not a scale)."""
    return is_number_type(t) and not str(t).upper().startswith("BOOLEAN")


def numeric_columns(con: Any) -> list[str]:
    """Numeric columns worth a histogram (signals and numeric metadata, not cluster ids), in the order every page
    offers them (:func:`app.explore.columns.order`: signals by family, then metadata, provenance last)."""
    return columns.order(con, [c for c, t in corpus_columns(con).items() if _is_numeric(t) and not ID_LIKE.search(c)])


def ordered(con: Any, names: list[str]) -> list[str]:
    """``names`` in the one order every page offers columns in (:func:`app.explore.columns.order`)."""
    return columns.order(con, list(names))


def categorical_columns(con: Any, *, max_distinct: int = 200) -> list[str]:
    """Text/boolean columns with few distinct values (source, lang_code, metadata like ``lang``), in the order of
    :func:`app.explore.columns.order`."""
    rel = qi(agg_relation(con))
    cols = corpus_columns(con)
    cands = [c for c, t in cols.items() if (t == "VARCHAR" or t == "BOOLEAN") and c not in NOT_CATEGORICAL]
    if not cands:
        return []
    # approx_count_distinct over a sample is cheap at any scale
    exprs = ", ".join(f"approx_count_distinct({qi(c)})" for c in cands)
    row = con.execute(f"SELECT {exprs} FROM (SELECT * FROM {rel} LIMIT 100000)").fetchone()
    return columns.order(con, [c for c, n in zip(cands, row) if n is not None and 0 < n <= max_distinct])


def cluster_columns(con: Any) -> list[str]:
    """Columns holding duplicate/map cluster ids (for "keep one per cluster")."""
    return [c for c in corpus_columns(con) if c.endswith("_cluster")]


def _group_expr(by: str | None) -> str:
    return f"coalesce(CAST({qi(by)} AS VARCHAR), '(none)')" if by else "'all'"


def histogram(
    con: Any, col: str, *, bins: int = 60, log: bool = False, by: str | None = None, max_groups: int = 8
) -> pd.DataFrame:
    """Equal-width bins of ``col`` (of log10(col) over positive values when ``log``), per group: the bins of
    :func:`app.explore.histogram.histogram`, which the report draws too (its docstring says which range).

    Returns ``group, bin, x0, x1, count, outside`` (x0/x1 in the column's units; ``outside``: values beyond the
    axis counted in that edge bin). Groups beyond the ``max_groups`` largest are folded into ``(other)``.
    """
    from app.explore.histogram import histogram as _histogram

    h = _histogram(con, relation=agg_relation(con), column=col, bins=bins, log=log, by=by, max_groups=max_groups)
    return h.frame()


def ecdf(con: Any, col: str, *, by: str | None = None, points: int = 101, max_groups: int = 8) -> pd.DataFrame:
    """The empirical CDF as ``points`` quantiles per group: ``group, p, x``."""
    rel = qi(agg_relation(con))
    ps = [i / (points - 1) for i in range(points)]
    g = _group_expr(by)
    sql = f"""
    WITH v AS (SELECT CAST({qi(col)} AS DOUBLE) AS x, {g} AS g FROM {rel} WHERE {qi(col)} IS NOT NULL),
    top AS (SELECT g FROM v GROUP BY g ORDER BY count(*) DESC LIMIT ?)
    SELECT g AS "group", quantile_disc(x, ?::DOUBLE[]) AS qs FROM v WHERE g IN (SELECT g FROM top) GROUP BY g
    """
    rows = con.execute(sql, [max_groups, ps]).fetchall()
    out = [{"group": grp, "p": p, "x": x} for grp, qs in rows for p, x in zip(ps, qs)]
    return pd.DataFrame(out, columns=["group", "p", "x"])


def quantile_table(con: Any, col: str, *, by: str | None = None, max_groups: int = 12) -> pd.DataFrame:
    """Count, nulls, mean and the :data:`QUANTILES` of ``col``, per group (one row each)."""
    rel = qi(agg_relation(con))
    g = _group_expr(by)
    sql = f"""
    WITH v AS (SELECT CAST({qi(col)} AS DOUBLE) AS x, {g} AS g FROM {rel}),
    top AS (SELECT g FROM v GROUP BY g ORDER BY count(*) DESC LIMIT ?)
    SELECT g AS "group", count(*) AS docs, count(*) - count(x) AS missing, avg(x) AS mean,
           quantile_cont(x, ?::DOUBLE[]) AS qs
    FROM v WHERE g IN (SELECT g FROM top) GROUP BY g ORDER BY docs DESC
    """
    rows = con.execute(sql, [max_groups, list(QUANTILES)]).fetchall()
    recs = []
    for grp, docs, missing, mean, qs in rows:
        rec = {"group": grp, "docs": docs, "missing": missing, "mean": mean}
        rec.update({f"q{q:g}": v for q, v in zip(QUANTILES, qs or [None] * len(QUANTILES))})
        recs.append(rec)
    return pd.DataFrame(recs)


def quantile_of(con: Any, col: str, q: float) -> float | None:
    """The q-quantile (0..1) of a column (for rules set by quantile)."""
    rel = qi(agg_relation(con))
    row = con.execute(f"SELECT quantile_cont(CAST({qi(col)} AS DOUBLE), ?) FROM {rel}", [float(q)]).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def value_range(con: Any, col: str) -> tuple[float | None, float | None]:
    rel = qi(agg_relation(con))
    row = con.execute(f"SELECT min(CAST({qi(col)} AS DOUBLE)), max(CAST({qi(col)} AS DOUBLE)) FROM {rel}").fetchone()
    return (row[0], row[1]) if row else (None, None)


def top_values(con: Any, col: str, *, n: int = 50) -> pd.DataFrame:
    """``value, docs`` of a categorical column, most frequent first."""
    rel = qi(agg_relation(con))
    sql = (
        f"SELECT coalesce(CAST({qi(col)} AS VARCHAR), '(none)') AS value, count(*) AS docs FROM {rel} "
        "GROUP BY 1 ORDER BY docs DESC LIMIT ?"
    )
    return con.execute(sql, [n]).df()


def density2d(
    con: Any, xcol: str, ycol: str, *, bins: int = 50, log_x: bool = False, log_y: bool = False
) -> pd.DataFrame:
    """2-D binned counts of two numeric columns: ``bx, by, x, y, count`` (x/y bin centres, original units)."""
    rel = qi(agg_relation(con))

    def ex(c: str, log: bool) -> tuple[str, str]:
        if log:
            return f"log10({qi(c)})", f"{qi(c)} > 0"
        return f"CAST({qi(c)} AS DOUBLE)", f"{qi(c)} IS NOT NULL AND isfinite(CAST({qi(c)} AS DOUBLE))"

    xe, xc = ex(xcol, log_x)
    ye, yc = ex(ycol, log_y)
    sql = f"""
    WITH v AS (SELECT {xe} AS x, {ye} AS y FROM {rel} WHERE {xc} AND {yc}),
    b AS (SELECT min(x) AS x0, max(x) AS x1, min(y) AS y0, max(y) AS y1 FROM v),
    h AS (SELECT least(CAST(floor((x - x0) / greatest((x1 - x0) / ?, 1e-12)) AS INTEGER), ? - 1) AS bx,
                 least(CAST(floor((y - y0) / greatest((y1 - y0) / ?, 1e-12)) AS INTEGER), ? - 1) AS by_,
                 count(*) AS count, any_value(x0) AS x0, any_value(x1) AS x1, any_value(y0) AS y0,
                 any_value(y1) AS y1
          FROM v, b GROUP BY ALL)
    SELECT bx, by_ AS "by", x0 + (bx + 0.5) * (x1 - x0) / ? AS x, y0 + (by_ + 0.5) * (y1 - y0) / ? AS y, count
    FROM h
    """
    df = con.execute(sql, [bins] * 6).df()
    if log_x and len(df):
        df["x"] = 10 ** df["x"]
    if log_y and len(df):
        df["y"] = 10 ** df["y"]
    return df


def correlations(con: Any, cols: list[str], *, sample: int = 200_000) -> pd.DataFrame:
    """Pearson correlation matrix of numeric columns over a reservoir sample of ``sample`` rows (seeded)."""
    rel = qi(agg_relation(con))
    cols = list(cols)
    if len(cols) < 2:
        return pd.DataFrame()
    pairs = [(a, b) for i, a in enumerate(cols) for b in cols[i + 1 :]]
    sel = ", ".join(f"CAST({qi(c)} AS DOUBLE) AS {qi(c)}" for c in cols)
    exprs = ", ".join(f"corr({qi(a)}, {qi(b)})" for a, b in pairs)
    sql = f"SELECT {exprs} FROM (SELECT {sel} FROM {rel} USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE (7))"
    row = con.execute(sql).fetchone()
    m = pd.DataFrame(1.0, index=cols, columns=cols)
    for (a, b), v in zip(pairs, row):
        m.loc[a, b] = m.loc[b, a] = v
    return m


def overview(con: Any) -> dict[str, Any]:
    """Documents, characters, tokens (when ``size_tokens`` exists), and counts per source and language."""
    cols = corpus_columns(con)
    tok = "sum(size_tokens)" if "size_tokens" in cols else "NULL"
    rel = qi(agg_relation(con))
    n, tokens = con.execute(f"SELECT count(*), {tok} FROM {rel}").fetchone()
    # characters are counted at ingest (table ``sources``): no pass over the text
    chars = con.execute("SELECT coalesce(sum(n_chars), 0) FROM sources").fetchall()[0][0]
    by_source = con.execute(
        "SELECT name AS source, n_docs AS docs, n_chars AS chars FROM sources ORDER BY docs DESC"
    ).df()
    lang_col = "lang_code" if "lang_code" in cols else ("lang" if "lang" in cols else None)
    by_lang = None
    if lang_col:
        by_lang = con.execute(
            f"SELECT coalesce(CAST({qi(lang_col)} AS VARCHAR), '(none)') AS lang, count(*) AS docs FROM {rel} "
            "GROUP BY 1 ORDER BY docs DESC LIMIT 30"
        ).df()
    return {
        "documents": int(n),
        "characters": int(chars),
        "tokens": None if tokens is None else int(tokens),
        "by_source": by_source,
        "by_lang": by_lang,
        "lang_column": lang_col,
    }


def get_doc(con: Any, doc_id: str) -> dict[str, Any] | None:
    """Every column of one document (signals from ``corpus_fast``, text from ``docs``: no join chain)."""
    rel = qi(agg_relation(con))
    cur = con.execute(f"SELECT * FROM {rel} WHERE id = ? LIMIT 1", [doc_id])
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    if not row:
        return None
    out = dict(zip(names, row))
    if "text" not in out:
        t = con.execute("SELECT text FROM docs WHERE id = ? LIMIT 1", [doc_id]).fetchone()
        out = {"id": out.get("id"), "text": t[0] if t else None, **{k: v for k, v in out.items() if k != "id"}}
    return out


def cluster_members(con: Any, col: str, cluster: Any, *, limit: int = 20) -> pd.DataFrame:
    """Other documents sharing a cluster id (duplicates or map cluster)."""
    return con.execute(
        f"SELECT id, source, left(text, 200) AS preview FROM corpus WHERE {qi(col)} = ? ORDER BY id LIMIT ?",
        [cluster, int(limit)],
    ).df()


# ---------------------------------------------------------------- map
MAP_POINTS_MAX = 200_000
HOVER_PREVIEW_MAX = 60_000


def map_count(con: Any) -> int:
    rel = qi(agg_relation(con))
    return int(con.execute(f"SELECT count(*) FROM {rel} WHERE map_x IS NOT NULL").fetchall()[0][0])


def _colour_expr(color: str | None, keep_sql: str | None) -> str:
    if color == "__kept__" and keep_sql:
        return f"CASE WHEN coalesce({keep_sql}, false) THEN 'kept' ELSE 'removed' END"
    if color and color != "__kept__":
        return qi(color)
    return "NULL"


def map_points(
    con: Any,
    *,
    color: str | None = None,
    keep_sql: str | None = None,
    keep_params: dict[str, Any] | None = None,
    preview_chars: int = 80,
    limit: int = MAP_POINTS_MAX,
) -> pd.DataFrame:
    """``id, x, y, color, preview`` of mapped documents (at most ``limit``, a seeded sample beyond it)."""
    prev = f"left(text, {int(preview_chars)})" if preview_chars else "NULL::VARCHAR"
    sql = (
        f"SELECT id, map_x AS x, map_y AS y, {_colour_expr(color, keep_sql)} AS color, {prev} AS preview "
        f"FROM corpus WHERE map_x IS NOT NULL ORDER BY hash(id) LIMIT {int(limit)}"
    )
    return con.execute(sql, keep_params or {}).df()


def map_density(
    con: Any, *, bins: int = 200, keep_sql: str | None = None, keep_params: dict[str, Any] | None = None
) -> pd.DataFrame:
    """2-D counts of the map (``x, y, count, kept``), for maps too large to draw point by point."""
    rel = qi(agg_relation(con))
    kept = f"sum(CASE WHEN coalesce({keep_sql}, false) THEN 1 ELSE 0 END)" if keep_sql else "NULL"
    sql = f"""
    WITH b AS (SELECT min(map_x) AS x0, max(map_x) AS x1, min(map_y) AS y0, max(map_y) AS y1
               FROM {rel} WHERE map_x IS NOT NULL),
    h AS (SELECT least(CAST(floor((map_x - x0) / greatest((x1 - x0) / {bins}, 1e-12)) AS INTEGER), {bins} - 1) AS bx,
                 least(CAST(floor((map_y - y0) / greatest((y1 - y0) / {bins}, 1e-12)) AS INTEGER), {bins} - 1) AS by_,
                 count(*) AS count, {kept} AS kept,
                 any_value(x0) AS x0, any_value(x1) AS x1, any_value(y0) AS y0, any_value(y1) AS y1
          FROM {rel}, b WHERE map_x IS NOT NULL GROUP BY ALL)
    SELECT x0 + (bx + 0.5) * (x1 - x0) / {bins} AS x, y0 + (by_ + 0.5) * (y1 - y0) / {bins} AS y, count, kept FROM h
    """
    return con.execute(sql, keep_params or {}).df()


def cluster_centres(con: Any) -> pd.DataFrame:
    """``cluster, label, x, y, docs`` per map cluster (median position), largest first."""
    rel = qi(agg_relation(con))
    cols = corpus_columns(con)
    label = "any_value(map_cluster_label)" if "map_cluster_label" in cols else "NULL"
    if "map_cluster" not in cols:
        return pd.DataFrame(columns=["cluster", "label", "x", "y", "docs"])
    return con.execute(
        f"SELECT map_cluster AS cluster, {label} AS label, median(map_x) AS x, median(map_y) AS y, count(*) AS docs "
        f"FROM {rel} WHERE map_x IS NOT NULL AND map_cluster IS NOT NULL AND map_cluster >= 0 "
        "GROUP BY 1 ORDER BY docs DESC LIMIT 60"
    ).df()


def docs_by_ids(con: Any, ids: list[str], *, columns: list[str], limit: int = 500) -> pd.DataFrame:
    """Rows of the given ids with the chosen columns and a preview."""
    sel = ", ".join(qi(c) for c in ["id", "source", *columns])
    return con.execute(
        f"SELECT {sel}, left(text, 160) AS preview FROM corpus WHERE id IN (SELECT unnest(?::VARCHAR[])) LIMIT ?",
        [list(ids)[:limit], int(limit)],
    ).df()


def docs_in_box(
    con: Any, x0: float, x1: float, y0: float, y1: float, *, columns: list[str], limit: int = 500
) -> tuple[int, pd.DataFrame]:
    """How many documents lie in a map rectangle, and the first ``limit`` of them."""
    b = [min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)]
    n = con.execute("SELECT count(*) FROM corpus WHERE map_x BETWEEN ? AND ? AND map_y BETWEEN ? AND ?", b).fetchone()[
        0
    ]
    sel = ", ".join(qi(c) for c in ["id", "source", *columns])
    df = con.execute(
        f"SELECT {sel}, left(text, 160) AS preview FROM corpus WHERE map_x BETWEEN ? AND ? AND map_y BETWEEN ? AND ? "
        "ORDER BY id LIMIT ?",
        [*b, int(limit)],
    ).df()
    return int(n), df


def is_skewed(con: Any, col: str, *, max_zeros: float = 0.01) -> bool:
    """Non-negative with a long right tail (q99 over 20x the median): such columns read better on a log axis.
    Not when over ``max_zeros`` of the values are 0: a log axis cannot show them (realmix's raw files:
    ``c4_terminal_punct_ratio`` is 0 for 55% of documents, and its log histogram showed only the rest)."""
    rel = qi(agg_relation(con))
    row = con.execute(
        f"SELECT min(x), quantile_cont(x, 0.5), quantile_cont(x, 0.99), avg(CAST(x = 0 AS DOUBLE)) "
        f"FROM (SELECT CAST({qi(col)} AS DOUBLE) AS x FROM {rel} WHERE {qi(col)} IS NOT NULL)"
    ).fetchone()
    if not row or row[0] is None or row[0] < 0 or (row[3] or 0.0) > max_zeros:
        return False
    med, q99 = row[1] or 0.0, row[2] or 0.0
    return q99 > 20 * max(med, 1e-12) and q99 > 0


def default_numeric(con: Any) -> str | None:
    """The numeric column Distributions (and other pages) open on; see :func:`app.explore.columns.pick_default`."""
    return columns.pick_default(columns.catalogue(con), numeric_columns(con))


def default_category(con: Any, *, max_distinct: int = 12) -> str | None:
    """The category a page colours or splits by first: dense, 2..``max_distinct`` values, spread."""
    return columns.pick_default(columns.catalogue(con), categorical_columns(con), max_distinct=max_distinct)
