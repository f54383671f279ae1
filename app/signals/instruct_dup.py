"""Duplicates of instruction records across formats: the same instruction, input and output, whether the record
came as Alpaca fields or as a chat (issue 20.4 of "Fields, not just text").

Near-dedup over the rendered text misses a chat copy of an Alpaca item: role prefixes ("user:", "assistant:")
and a system prompt dominate short examples. This family compares what the example teaches instead: the
prompt (instruction and input, or the first user turn) and the output (or the last assistant turn), each
normalised (lowercased, punctuation and whitespace removed, so "instruction\\n\\ninput" matches a user turn
"instruction input"); system prompts and role names are not part of the key. Exact on that key, computed in
SQL over every record; the representative is the smallest id, as ``dedup_exact`` does. Records without
instruction fields get NULL. Fields: :mod:`app.signals._instruct`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals._instruct import docs_columns, field_sql
from app.signals.base import Scorer, register
from app.sql import qi


def _norm_sql(expr: str) -> str:
    """SQL of :func:`app.signals._instruct.norm`: lowercased words joined by one space."""
    return f"array_to_string(regexp_extract_all(lower(coalesce({expr}, '')), '[\\p{{L}}\\p{{M}}\\p{{N}}_]+'), ' ')"


@register
class InstructDup(Scorer):
    name = "instruct_dup"
    version = 1
    scope = "corpus"
    description = "duplicate instruction records across formats (prompt + output, without roles or system prompts)"
    columns: ClassVar[dict[str, str]] = {
        "instruct_dup_cluster": "VARCHAR",
        "instruct_dup_size": "BIGINT",
        "instruct_dup_keep": "BOOLEAN",
    }
    docs: ClassVar[dict[str, str]] = {
        "instruct_dup_cluster": "instruction records: id of the smallest record with the same normalised prompt "
        "(instruction + input, or first user turn) and output (or last assistant turn); roles and system prompts "
        "ignored, so a chat copy of an Alpaca item is found; NULL without instruction fields",
        "instruct_dup_size": "instruction records: records sharing that prompt and output (count; 1 = unique)",
        "instruct_dup_keep": "instruction records: true for the cluster's representative (smallest id), false for "
        "the other copies",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        total = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
        if progress:
            progress(0, total, "instruction duplicates")
        fields = field_sql(docs_columns(con))
        if fields is None:
            key = "NULL::VARCHAR"
        else:
            ins, inp, out = fields
            prompt = _norm_sql(f"concat_ws(' ', {ins}, {inp})")
            key = f"CASE WHEN {ins} IS NOT NULL OR {out} IS NOT NULL THEN md5({prompt} || chr(31) || {_norm_sql(out)}) END"
        con.execute(
            f"""CREATE OR REPLACE TABLE {qi(dest)} AS
            WITH k AS (SELECT id, {key} AS h FROM docs),
            c AS (SELECT id, h, min(id) OVER (PARTITION BY h) AS rep, count(*) OVER (PARTITION BY h) AS size FROM k)
            SELECT id,
                   CASE WHEN h IS NOT NULL THEN rep END AS instruct_dup_cluster,
                   CASE WHEN h IS NOT NULL THEN size END AS instruct_dup_size,
                   CASE WHEN h IS NOT NULL THEN id = rep END AS instruct_dup_keep
            FROM c"""
        )
        if progress:
            progress(total, total, "instruction duplicates")
        return int(total)
