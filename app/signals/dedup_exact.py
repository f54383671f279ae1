"""Exact duplicates: documents whose normalised text (lowercased, whitespace collapsed, trimmed) is identical.

Computed globally in SQL over the whole workspace (scales with DuckDB, not Python). The cluster id is the
id of the cluster's representative: its smallest document id (deterministic). ``dup_exact_keep`` marks it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals.base import Scorer, register
from app.sql import qi


@register
class DedupExact(Scorer):
    name = "dedup_exact"
    version = 1
    scope = "corpus"
    #: sees the workspace's (or ``--fields``) text fields (:mod:`app.fields`), as near dedup does; the engine
    #: sets ``text_fields`` and records them in the family's fingerprint
    uses_fields = True
    text_fields: tuple[str, ...] | None = None
    description = "exact duplicates of the normalised text"
    columns: ClassVar[dict[str, str]] = {
        "dup_exact_cluster": "VARCHAR",
        "dup_exact_size": "BIGINT",
        "dup_exact_keep": "BOOLEAN",
    }
    docs: ClassVar[dict[str, str]] = {
        "dup_exact_cluster": "id of the exact-duplicate cluster's representative (its smallest id); text normalised by lowercasing and collapsing whitespace",
        "dup_exact_size": "documents in the exact-duplicate cluster (count; 1 = unique)",
        "dup_exact_keep": "true for the cluster's representative, false for the other copies",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        from app import fields as fields_mod
        from app.recipes.sqlparts import EXACT_NORM_SQL

        rel = fields_mod.relation(con, self.text_fields)  # ``docs``, or the text composed of the chosen fields
        total = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
        if progress:
            progress(0, total, "exact duplicates")
        con.execute(
            f"""CREATE OR REPLACE TABLE {qi(dest)} AS
            WITH n AS (SELECT id, {EXACT_NORM_SQL} AS h FROM {rel}),
            c AS (SELECT id, min(id) OVER (PARTITION BY h) AS rep, count(*) OVER (PARTITION BY h) AS size FROM n)
            SELECT id, rep AS dup_exact_cluster, size AS dup_exact_size, id = rep AS dup_exact_keep FROM c"""
        )
        if progress:
            progress(total, total, "exact duplicates")
        return int(total)
