"""The caches behind interactive summaries, owned by one :class:`RecipeCache` object.

A threshold change in the dashboard recompiles and re-summarises the recipe; these caches make that cheap:
the column types of a relation (DESCRIBE of the joined ``corpus`` view costs a few ms), resolved quantiles,
and the *recipe frame* (an Arrow table of only the columns a recipe reads, ~5x faster to scan than
``corpus``), plus :mod:`app.recipes.live`'s per-frame vectors. Every entry is keyed by a cheap version token
of the workspace (database path, parts, sources), so a re-ingest or a new part is never served stale, and
every table is bounded. The process-wide :data:`CACHE` serves the CLI and the dashboard; tests and long-lived
tools call :meth:`RecipeCache.clear` (or make their own object).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from typing import Any

from app.errors import RecipeError
from app.recipes import frame_fast
from app.recipes.sqlparts import (
    EXACT_KEY,
    EXACT_NORM_SQL,
    FRAME_NAME,
    ID_RANK,
    NEAR_KEY,
    SEM_TARGET,
    exact_key_sql,
    first_row,
    uniform_columns,
)
from app.sql import qi
from app.workspace import fast_relation


def version_token(con: Any, relation: str) -> tuple | None:
    """A cheap key that changes when the workspace's documents or parts change (None: don't cache)."""
    try:
        row = first_row(
            con.execute(
                "SELECT (SELECT path FROM duckdb_databases() WHERE database_name = current_database()),"
                " (SELECT max(registered_at)::VARCHAR || count(*) FROM _parts),"
                " (SELECT max(ingested_at)::VARCHAR || count(*) || sum(n_docs) FROM sources)"
            )
        )
        if not row or not row[0]:
            return None
        return (row[0], relation, *row[1:])
    except Exception:
        return None


def _same_documents(token: tuple) -> tuple:
    """The quantile cache's key for ``token``: a recipe frame (:data:`FRAME_NAME`, built from ``corpus``) holds the
    same documents as ``corpus``, so the two share their quantiles (at 10M documents the edge picker's compile over
    ``corpus`` took 5.2 CPU-s to find again the quantiles the summary had just resolved over the frame)."""
    return (token[0], "corpus", *token[2:]) if len(token) > 1 and token[1] == FRAME_NAME else token


def frame_columns(recipe: Any, columns: dict[str, str], extra: tuple[str, ...] = ()) -> list[str]:
    """The corpus columns a summary of ``recipe`` reads (validated later by :func:`compile_recipe`)."""
    # ids only when a stage draws per-document randomness (they are the frame's biggest column)
    want = ["id", "source"] if (recipe.balance or recipe.sample is not None) else ["source"]
    want += [c for c in ("lang_code", "size_tokens", *extra) if c in columns]
    if "size_tokens" not in columns:
        want.append("size_chars")  # computed from text when absent
    want += [c for c in recipe.signals_used() if c in columns]
    d = recipe.dedup
    if d.exact or d.near or (d.semantic and "semdup_dup_of" in columns):
        want.append(ID_RANK)
    if d.exact:
        want.append(EXACT_KEY)
    if d.near and "dup_near_cluster" in columns:
        want.append(NEAR_KEY)
        if d.near_threshold is not None and "dup_near_jaccard" in columns:  # a recipe threshold filters members
            want.append("dup_near_jaccard")
    if d.semantic and "semdup_is_dup" in columns:
        want.append("semdup_is_dup")
        if "semdup_dup_of" in columns:
            want.append(SEM_TARGET)
    want += list(uniform_columns(recipe))
    return list(dict.fromkeys(want))


class RecipeCache:
    """Column types, resolved quantiles, recipe frames and live vectors of recent workspace states."""

    def __init__(self, *, frames: int = 2, describes: int = 16, quantile_states: int = 64) -> None:
        self.lock = threading.Lock()
        self.max_frames, self.max_describes, self.max_quantile_states = frames, describes, quantile_states
        self.quantiles: dict[tuple, dict[tuple, Any]] = {}
        self.describes: dict[tuple, dict[str, str]] = {}
        self.frames: dict[tuple, Any] = {}
        self.frame_cols: dict[tuple, dict[str, str]] = {}
        #: :mod:`app.recipes.live` state per frame (vectors, group codes, incremental counts)
        self.live_states: OrderedDict[Any, Any] = OrderedDict()
        #: a table's rowids in id order per workspace state (8 bytes a document; the frame and edge sorts share it)
        self.id_orders: OrderedDict[tuple, Any] = OrderedDict()

    def clear(self) -> None:
        """Forget everything (after a workspace changed under a long-lived process, and in tests)."""
        with self.lock:
            for d in (self.quantiles, self.describes, self.frames, self.frame_cols, self.live_states, self.id_orders):
                d.clear()

    def id_order(self, con: Any, table: str, token: tuple) -> Any:
        """The rowids of ``table`` (a base table) in id order, as int64, cached per workspace state (``token``
        from :func:`version_token`, whichever relation it was taken for): one ``ORDER BY id`` of the row ids,
        3.2 CPU-s at 10M documents, that the recipe frame and every edge column's sort then share."""
        import numpy as np

        key = (token[0], *token[2:], table)
        with self.lock:
            hit = self.id_orders.get(key)
            if hit is not None:
                self.id_orders.move_to_end(key)
                return hit
        got = con.sql(f"SELECT rowid FROM {qi(table)} ORDER BY id").fetchnumpy()["rowid"]
        order = np.asarray(got, dtype=np.int64)
        with self.lock:
            self.id_orders[key] = order
            while len(self.id_orders) > 2:
                self.id_orders.popitem(last=False)
        return order

    def columns(self, con: Any, relation: str, token: tuple | None = None) -> dict[str, str]:
        """``{column: type}`` of ``relation`` (cached under ``token`` when given)."""
        if token is not None and (token, relation) in self.describes:
            return self.describes[(token, relation)]
        try:
            cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE {qi(relation)}").fetchall()}
        except Exception as e:
            raise RecipeError(f"cannot read {relation}: {str(e).splitlines()[0]}") from e
        if token is not None:
            with self.lock:
                while len(self.describes) >= self.max_describes:
                    self.describes.pop(next(iter(self.describes)))
                self.describes[(token, relation)] = cols
        return cols

    def resolve_quantiles(
        self, con: Any, relation: str, wanted: list[tuple], *, token: tuple | None = None
    ) -> dict[tuple, Any]:
        """``{(column, q): value}`` and ``{(column, q, group column): {group: value}}``, one query for the
        plain ones and one per grouped one, over ``relation`` (cached per workspace state)."""
        if not wanted:
            return {}
        token = token or version_token(con, relation)
        cache = self.quantiles.setdefault(_same_documents(token), {}) if token else {}
        missing = [w for w in dict.fromkeys(wanted) if w not in cache]
        plain = [w for w in missing if len(w) == 2]
        if plain:
            sel = ", ".join(f"quantile_cont(CAST({qi(c)} AS DOUBLE), {float(q)!r})" for c, q in plain)
            row = first_row(con.execute(f"SELECT {sel} FROM {qi(relation)}"))
            for w, v in zip(plain, row, strict=True):
                cache[w] = v
        for w in missing:  # (column, q, group column): {group value as text (None for NULL): quantile}
            if len(w) == 3:
                c, q, by = w
                rows = con.execute(
                    f"SELECT CAST({qi(by)} AS VARCHAR), quantile_cont(CAST({qi(c)} AS DOUBLE), {float(q)!r}) "
                    f"FROM {qi(relation)} GROUP BY 1"
                ).fetchall()
                cache[w] = dict(rows)
        if token and len(self.quantiles) > self.max_quantile_states:
            with self.lock, contextlib.suppress(StopIteration, KeyError, RuntimeError):
                self.quantiles.pop(next(iter(self.quantiles)))
        return {w: cache[w] for w in wanted}

    def frame(
        self,
        con: Any,
        recipe: Any,
        *,
        relation: str = "corpus",
        token: tuple | None = None,
        extra: tuple[str, ...] = (),
    ) -> tuple[str, Any, tuple] | None:
        """A cached Arrow table holding only the columns ``recipe`` reads, registered on ``con`` as
        :data:`FRAME_NAME`; returns ``(name, table, cache key)``. Scanning it is ~5x faster than ``corpus``
        (no joins, no text), and :mod:`app.recipes.live` keeps per-check vectors over it. None when the
        workspace state cannot be fingerprinted cheaply (then summaries read ``relation`` directly)."""
        token = token or version_token(con, relation)
        if token is None:
            return None
        columns = self.columns(con, relation, token)
        cols = frame_columns(recipe, columns, extra)
        key = (token, tuple(sorted(cols)))
        table = self.frames.get(key)
        if table is None:  # a cached frame holding every wanted column serves too (the Thresholds page's panel,
            # compare panel and retention table then share one frame and its vectors instead of evicting each other)
            with self.lock:
                key, table = next(
                    ((k, t) for k, t in self.frames.items() if k[0] == token and set(cols) <= set(k[1])), (key, None)
                )
        if table is None:
            rel = qi(relation)
            xkey = exact_key_sql(columns)
            needs_text = ("size_chars" in cols and "size_chars" not in columns) or (
                EXACT_KEY in cols and xkey == EXACT_NORM_SQL
            )
            fast = fast_relation(con) if relation == "corpus" and not needs_text else None
            if fast:  # corpus minus text: no join to scan
                rel = qi(fast)
            plain: dict[str, str] = {}  # every column that is not computed from the whole corpus
            sel = []
            for c in cols:
                if c == "size_chars" and c not in columns:
                    sel.append("CAST(length(text) AS BIGINT) AS size_chars")
                elif c.startswith("_u_"):
                    plain[c] = uniform_columns(recipe)[c]
                    sel.append(f"{plain[c]} AS {qi(c)}")
                elif c == ID_RANK:  # id order as an integer: what dedup's "smallest id" compares, 8 bytes a row
                    sel.append(f"CAST(row_number() OVER (ORDER BY id) AS BIGINT) AS {ID_RANK}")
                elif c == EXACT_KEY:
                    k = xkey or "NULL"
                    sel.append(
                        f"CASE WHEN {k} IS NULL THEN NULL ELSE "
                        f"CAST(dense_rank() OVER (ORDER BY {k}) AS BIGINT) END AS {EXACT_KEY}"
                    )
                elif c == NEAR_KEY:  # NULL keys stay NULL (dense_rank would give them a code)
                    sel.append(
                        f"CASE WHEN dup_near_cluster IS NULL THEN NULL ELSE "
                        f"CAST(dense_rank() OVER (ORDER BY dup_near_cluster) AS BIGINT) END AS {NEAR_KEY}"
                    )
                elif c == SEM_TARGET:  # the id rank of the document a semantic duplicate duplicates
                    sel.append(f"CAST(_sem_rank AS BIGINT) AS {SEM_TARGET}")
                else:
                    plain[c] = qi(c)
                    sel.append(qi(c))
            table = None
            if fast and frame_fast.eligible(cols, columns) and frame_fast.is_table(con, fast):
                by_id = self.id_order(con, fast, token)
                table = frame_fast.build(con, fast, cols, plain, by_id=by_id)  # less CPU than the windows below
            src = rel
            if SEM_TARGET in cols:
                src = (
                    f"(SELECT _f.*, _t._sem_rank FROM {rel} AS _f LEFT JOIN (SELECT id AS _sem_id, row_number() "
                    f"OVER (ORDER BY id) AS _sem_rank FROM {rel}) AS _t ON _t._sem_id = _f.semdup_dup_of)"
                )
            # rows of one duplicate cluster side by side: dedup's per-summary gathers then read memory in order
            key_col = next((k for k in (EXACT_KEY, NEAR_KEY) if k in cols), None)
            order = f" ORDER BY {key_col} NULLS LAST, {ID_RANK}" if key_col else ""
            if table is None:
                table = con.sql(f"SELECT {', '.join(sel)} FROM {src}{order}").to_arrow_table()
            with self.lock:  # dashboard sessions summarise from several threads
                while len(self.frames) >= self.max_frames:
                    self.frames.pop(next(iter(self.frames)))
                self.frames[key] = table
        con.register(FRAME_NAME, table)
        if key not in self.frame_cols:
            with self.lock:
                while len(self.frame_cols) >= 8:
                    self.frame_cols.pop(next(iter(self.frame_cols)))
                self.frame_cols[key] = {r[0]: r[1] for r in con.execute(f"DESCRIBE {FRAME_NAME}").fetchall()}
        return FRAME_NAME, table, key


#: the process-wide cache (CLI commands, dashboard sessions and the report share it)
CACHE = RecipeCache()
