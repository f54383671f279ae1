"""Placeholder artefacts left in instruction records by the way they were generated (issue 20.3).

Self-Instruct / Alpaca generation writes ``<noinput>`` for an empty input and ``<nooutput>`` for a task the
model cannot answer (Taori et al. 2023, stanford_alpaca ``prompt.txt``; Wang et al. 2023, Self-Instruct); both
leak into fields where they do not belong. Other artefacts: a field that is only ``N/A``, template slots such
as ``[Your Name]`` or ``<insert date>``, and a generation template leaking into the output (``11. Instruction:
... 11. Input: ... 11. Output:``, the numbered prompt format Alpaca's generator used). AlpacaDataCleaned
(gururise/AlpacaDataCleaned) lists the same defects. Counts per record, plus which kinds were found.
Fields: :mod:`app.signals._instruct`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.signals._instruct import score_fields
from app.signals.base import Scorer, register

#: kind -> pattern, searched in every field (instruction, input, output)
PATTERNS: dict[str, re.Pattern[str]] = {
    "noinput": re.compile(r"<\s*no[\s_-]?input\s*>", re.IGNORECASE),
    "nooutput": re.compile(r"<\s*no[\s_-]?output\s*>", re.IGNORECASE),
    "slot": re.compile(
        r"\[\s*(?:insert|your|enter|add|name of|placeholder)\b[^\]\n]{0,40}\]"
        r"|<\s*(?:insert|your|enter|placeholder)\b[^>\n]{0,40}>"
        r"|\{\{\s*[A-Za-z_ ]{1,30}\s*\}\}",
        re.IGNORECASE,
    ),
}
#: the generation template leaking into an output: a line starting "Instruction:" / "Input:" / "Output:"
TEMPLATE_LEAK = re.compile(r"^\s*(?:\d+\s*\.\s*)?(?:instruction|input|output)\s*:", re.IGNORECASE | re.MULTILINE)
#: whole fields that mean "nothing here"
NA_FIELD = frozenset({"n/a", "na", "none", "null", "no input", "no input.", "noinput"})


def placeholders(instruction: str | None, input_: str | None, output: str | None) -> tuple[int, str | None]:
    """``(hits, kinds)``: the number of artefacts in the record and their kinds, comma-separated and sorted
    (None when there are none)."""
    hits: dict[str, int] = {}
    for field in (instruction, input_, output):
        if not field:
            continue
        for kind, pat in PATTERNS.items():
            n = len(pat.findall(field))
            if n:
                hits[kind] = hits.get(kind, 0) + n
        if field.strip().lower() in NA_FIELD:
            hits["na"] = hits.get("na", 0) + 1
    leak = len(TEMPLATE_LEAK.findall(output or ""))
    if leak:
        hits["template_leak"] = leak
    return sum(hits.values()), ",".join(sorted(hits)) or None


@register
class InstructPlaceholder(Scorer):
    name = "instruct_placeholder"
    version = 1
    scope = "corpus"  # reads the instruction fields from the workspace, not the rendered text
    description = "placeholder artefacts (<noinput>, N/A, template slots, leaked templates) in instruction records"
    columns: ClassVar[dict[str, str]] = {
        "instruct_placeholder_hits": "INTEGER",
        "instruct_placeholder_kinds": "VARCHAR",
    }
    docs: ClassVar[dict[str, str]] = {
        "instruct_placeholder_hits": "instruction records: count of <noinput>/<nooutput> markers, N/A-only fields, "
        "template slots ([Your Name], <insert ...>) and leaked 'Instruction:/Input:/Output:' lines (Alpaca)",
        "instruct_placeholder_kinds": "instruction records: the kinds found (noinput, nooutput, na, slot, "
        "template_leak), comma-separated; NULL when none",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        return score_fields(con, dest, self.columns, placeholders, progress=progress, label="placeholders")
