"""Template frequency: how many instruction records open with the same first words (issue 20.3).

Generated instruction data repeats a few openings ("Generate a list of ...", "Rewrite the following ...");
Self-Instruct (Wang et al. 2023) analyses diversity by the instructions' leading verb and object, and LIMA (Zhou
et al. 2023) stresses diversity of prompts. Capping or down-weighting records whose opening is very common is a
direct lever: ``instruct_template_count`` is the number of records in the workspace sharing the record's first
``words`` (default 3) words of the instruction, lowercased, letters and digits only (a whole CJK clause counts as
one word). Corpus scope: counted over every record. Fields: :mod:`app.signals._instruct`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.errors import SignalError
from app.signals._instruct import docs_columns, field_sql
from app.signals.base import Scorer, register
from app.sql import qi


@register
class InstructTemplate(Scorer):
    name = "instruct_template"
    version = 1
    scope = "corpus"
    description = "how many instruction records share the instruction's first words"
    columns: ClassVar[dict[str, str]] = {
        "instruct_template": "VARCHAR",
        "instruct_template_count": "BIGINT",
    }
    docs: ClassVar[dict[str, str]] = {
        "instruct_template": "instruction records: the instruction's first 3 words, lowercased (letters and digits); "
        "NULL for records without instruction fields",
        "instruct_template_count": "instruction records: how many records in the workspace share "
        "instruct_template (count; Self-Instruct, Wang et al. 2023, on instruction diversity)",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        words = options.get("words", 3)
        if not isinstance(words, int) or isinstance(words, bool) or not 1 <= words <= 20:
            raise SignalError(f"instruct_template words must be a whole number from 1 to 20, not {words!r}")
        self.words = words

    def fingerprint(self) -> str:
        return f"{self.version}:words={self.words}"

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        total = con.execute("SELECT count(*) FROM docs").fetchall()[0][0]
        if progress:
            progress(0, total, "instruction templates")
        fields = field_sql(docs_columns(con))
        if fields is None:
            key = "NULL::VARCHAR"
        else:
            words = f"regexp_extract_all(lower({fields[0]}), '[\\p{{L}}\\p{{N}}]+')"
            key = f"nullif(array_to_string(list_slice({words}, 1, {self.words}), ' '), '')"
        con.execute(
            f"""CREATE OR REPLACE TABLE {qi(dest)} AS
            WITH k AS (SELECT id, {key} AS t FROM docs)
            SELECT id, t AS instruct_template,
                   CASE WHEN t IS NOT NULL THEN count(*) OVER (PARTITION BY t) END AS instruct_template_count
            FROM k"""
        )
        if progress:
            progress(total, total, "instruction templates")
        return int(total)
