"""Which columns a dashboard page offers, in which order, and which one it opens on.

One ordering for every page (Distributions, Thresholds' "Add a rule on", the Map's colour, the Documents sort):

1. computed signals (columns of ``signal`` parts), grouped by family in the scorer registry's order, each
   family's columns in the order the scorer declares them (families the registry does not know, such as
   imported ones, follow in part order);
2. metadata that came with the documents, most complete first;
3. other derived columns (the map's coordinates and clusters, semantic duplicates);
4. sparse or flat columns of the same three groups (values for under :data:`SPARSE` of the documents, or a
   single value), in the same order: a label present for a fifth of the corpus should not lead;
5. provenance and id-like columns last (``_row``, ``_file``, any name starting with ``_``, ``id``,
   ``text_hash``, ``*_id``, ``*_cluster``).

Coverage and the number of distinct values are measured by one DuckDB aggregate over a seeded sample of at
most :data:`SAMPLE_ROWS` rows, so the catalogue costs the same on any corpus. A page's default is the first
column in this order that is dense and takes at least :data:`SPREAD` distinct values (a histogram with a shape,
not two bars), else the first dense one with two values or more; never a column that is mostly NULL or holds
one value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from app.sql import qi

#: below this share of documents with a value, a column is "sparse" and follows the dense ones
SPARSE = 0.5
#: distinct values a column needs to be a page's first choice (fewer: a flag or a label, drawn as a few bars)
SPREAD = 20
#: balance (entropy / its maximum) a default needs: a flag true for 1% of documents draws one bar
BALANCE = 0.2
#: rows the coverage aggregate reads at most (a seeded reservoir sample beyond it)
SAMPLE_ROWS = 100_000
#: provenance and identity: where a document came from, never a signal
PROVENANCE = {"id", "text", "text_hash"}

_KIND_RANK = {"signal": 0, "metadata": 1, "derived": 2}


@dataclass(frozen=True)
class ColumnInfo:
    """One column of ``corpus`` as the pages see it.

    ``kind`` is ``signal`` (a computed signal), ``metadata`` (came with the documents), ``derived`` (another
    part: map, semantic duplicates) or ``provenance``; ``family`` the signal family (None otherwise);
    ``description`` the scorer's one-line meaning (empty when none is known); ``coverage`` the share of
    documents with a value (0..1), ``distinct`` the approximate number of distinct values and ``balance`` how
    evenly the values spread (entropy over its maximum, log2 of ``distinct``: 0 for one value or one value
    nearly everywhere, 1 for every value equally often).
    """

    name: str
    type: str
    kind: str
    family: str | None
    description: str
    coverage: float
    distinct: int
    balance: float = 0.0

    @property
    def dense(self) -> bool:
        """Values for at least :data:`SPARSE` of the documents, and more than one value."""
        return self.coverage >= SPARSE and self.distinct > 1

    @property
    def help(self) -> str:
        """A tooltip line: family, meaning and coverage."""
        head = f"{self.family}: " if self.family else ("metadata: " if self.kind == "metadata" else "")
        cov = f"values for {self.coverage:.0%} of documents" + (", one value" if self.distinct == 1 else "")
        return f"{head}{self.description or self.name} ({cov})"


#: columns a model trained in the workspace writes (``app.learn``), by prefix: family and meaning
LEARNED = {
    "clf_": ("classifier", "P(positive class) under the classifier {name} trained in this workspace"),
    "ppl_": ("reference LM", "perplexity under the reference model {name} (lower: more like its reference)"),
    "lp_": ("reference LM", "mean log-probability per token under the reference model {name}"),
    "ccnet_bucket_": ("reference LM", "CCNet head/middle/tail bucket by the perplexity of {name}, per script"),
    "dsir_": ("DSIR", "DSIR log importance weight toward the target of {name} (higher: more like the target)"),
    "diff_": ("reference LM", "log-probability difference {name} (MiniPLM-style: reference minus weak model)"),
}


def learned_column(column: str) -> tuple[str, str] | None:
    """``(family, description)`` of a column a stored model writes (``clf_NAME``, ``ppl_NAME``, ...), else None."""
    for prefix, (family, desc) in LEARNED.items():
        if column.startswith(prefix) and len(column) > len(prefix):
            return family, desc.format(name=column[len(prefix) :])
    return None


#: ids of clusters are numbers but mean nothing as magnitudes
ID_LIKE = re.compile(r"(_cluster|_id)$")


def corpus_columns(con: Any) -> dict[str, str]:
    """``{column: type}`` of the corpus view."""
    return {r[0]: r[1] for r in con.execute("DESCRIBE corpus").fetchall()}


def _is_provenance(name: str) -> bool:
    return name.startswith("_") or name in PROVENANCE or bool(ID_LIKE.search(name))


def _part_columns(con: Any) -> list[tuple[str, str, str]]:
    """``(column, part kind, part table)`` of every part joined into ``corpus``, in join order."""
    has = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_parts' AND schema_name = 'main'"
    ).fetchall()[0][0]
    if not has:
        return []
    return con.execute(
        "SELECT c.column_name, p.kind, p.table_name FROM _parts p "
        "JOIN duckdb_columns() c ON c.table_name = p.table_name AND c.schema_name = 'main' "
        "WHERE c.column_name <> 'id' ORDER BY p.ord, p.table_name, c.column_index"
    ).fetchall()


def _stats(con: Any, names: list[str]) -> dict[str, tuple[float, int, float]]:
    """``{column: (coverage, distinct, balance)}`` over a seeded sample of at most :data:`SAMPLE_ROWS` rows."""
    from app.workspace import fast_relation

    if not names:
        return {}
    rel = qi(fast_relation(con))
    n = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0]
    sel = ", ".join(qi(c) for c in names)
    src = f"(SELECT {sel} FROM {rel})"
    if n > SAMPLE_ROWS:
        src = f"(SELECT {sel} FROM {rel} USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (7))"
    exprs = ", ".join(f"count({qi(c)}), approx_count_distinct({qi(c)}), entropy({qi(c)})" for c in names)
    row = con.execute(f"SELECT count(*), {exprs} FROM {src}").fetchone()
    total = max(int(row[0] or 0), 1)
    out = {}
    for i, c in enumerate(names):
        n, distinct, ent = int(row[1 + 3 * i] or 0), int(row[2 + 3 * i] or 0), float(row[3 + 3 * i] or 0.0)
        out[c] = (n / total, distinct, ent / math.log2(distinct) if distinct > 1 else 0.0)
    return out


def catalogue(con: Any) -> list[ColumnInfo]:
    """Every column of ``corpus`` but ``text``, in the order pages offer them (see the module docstring)."""
    from app.signals.engine import column_docs, families

    types = {c: t for c, t in corpus_columns(con).items() if c != "text"}
    docs = column_docs()
    fam_rank = {f: i for i, f in enumerate(families())}
    parts = {}
    for col, kind, table in _part_columns(con):
        parts.setdefault(col, (kind, table))
    part_rank = {t: i for i, t in enumerate(dict.fromkeys(t for _c, _k, t in _part_columns(con)))}
    names = [c for c in types if not _is_provenance(c)]
    stats = _stats(con, names)
    position = {c: i for i, c in enumerate(types)}

    infos: list[tuple[tuple, ColumnInfo]] = []
    for c, t in types.items():
        kind, table = parts.get(c, ("metadata", None))
        # a model's columns (clf_, ppl_, dsir_...) are signals like any other, grouped by the model's family
        learned = learned_column(c) if kind == "model" else None
        kind = "signal" if kind == "signal" or learned else ("metadata" if table is None else "derived")
        if _is_provenance(c):
            kind = "provenance"
        family, desc = None, ""
        if kind == "signal":
            d = docs.get(c)
            family = d["family"] if d else (table[4:] if table and table.startswith("sig_") else table)
            desc = d["doc"] if d else ""
            family, desc = learned or (family, desc)
        cov, distinct, balance = stats.get(c, (0.0, 0, 0.0))
        info = ColumnInfo(c, t, kind, family, desc, cov, distinct, min(balance, 1.0))
        if kind == "provenance":
            key: tuple = (9, 0, 0, position[c])
        else:
            group = _KIND_RANK[kind] + (0 if info.dense else 3)
            if kind == "signal":
                key = (group, fam_rank.get(family, len(fam_rank) + part_rank.get(table, 0)), 0, position[c])
                if c in docs:  # the scorer's declared order within its family
                    key = (group, key[1], list(docs).index(c), position[c])
            elif kind == "metadata":
                key = (group, 0, -cov, position[c])
            else:
                key = (group, part_rank.get(table, 0), 0, position[c])
        infos.append((key, info))
    return [i for _k, i in sorted(infos, key=lambda x: x[0])]


def order(con: Any, names: list[str]) -> list[str]:
    """``names`` in the catalogue's order (names the catalogue does not know keep their place at the end)."""
    rank = {c.name: i for i, c in enumerate(catalogue(con))}
    return sorted(names, key=lambda c: (rank.get(c, len(rank)), names.index(c)))


def pick_default(infos: list[ColumnInfo], offered: list[str], *, max_distinct: int | None = None) -> str | None:
    """The column a page opens on among ``offered`` (in their order): the first dense one whose values spread
    (:data:`SPREAD` distinct values, or up to ``max_distinct`` for categories, with :data:`BALANCE`), else the
    first dense one, else the first offered (None when nothing is offered)."""
    by_name = {c.name: c for c in infos}
    cands = [by_name[c] for c in offered if c in by_name]

    def spread(i: ColumnInfo) -> bool:
        many = i.distinct >= SPREAD if max_distinct is None else 2 <= i.distinct <= max_distinct
        return i.dense and many and i.balance >= BALANCE

    for ok in (spread, lambda i: i.dense):
        hit = next((i.name for i in cands if ok(i)), None)
        if hit:
            return hit
    return offered[0] if offered else None


def help_texts(con: Any) -> dict[str, str]:
    """``{column: tooltip line}`` (family, meaning, coverage) for every catalogued column."""
    return {c.name: c.help for c in catalogue(con)}
