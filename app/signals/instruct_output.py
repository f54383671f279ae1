"""Empty and echoed outputs of instruction records (issue 20.3).

An instruction-tuning example whose output is missing, blank, only punctuation or a placeholder (``<nooutput>``,
``N/A``) teaches the model to answer with nothing; one whose output repeats the instruction or the input word
for word teaches it to echo. Both kinds are among the defects the Alpaca-cleaned project lists for the original
Alpaca data (gururise/AlpacaDataCleaned, README "issues": empty outputs, outputs that copy the input). Fields and
records without them: :mod:`app.signals._instruct` (NULL when a record has no instruction fields).
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals._instruct import norm, score_fields
from app.signals.base import Scorer, register

#: whole outputs that stand for "no output" (compared lowercased, stripped)
EMPTY_MARKERS = frozenset({"<nooutput>", "<no output>", "<noinput>", "<no input>", "n/a", "null", "nan", "none."})


def output_empty(output: str | None) -> bool:
    """True when the output has no letter or digit, or is only a "no output" marker."""
    text = (output or "").strip()
    return not norm(text) or text.lower() in EMPTY_MARKERS


def output_echo(instruction: str | None, input_: str | None, output: str | None) -> bool:
    """True when the output, normalised (case, whitespace, punctuation), is the instruction, the input or
    both together: a copy, not an answer."""
    o = norm(output)
    if not o:
        return False
    i, p = norm(instruction), norm(input_)
    return o in {i, p, f"{i} {p}".strip()} - {""}


def echo_jaccard(instruction: str | None, input_: str | None, output: str | None) -> float | None:
    """Jaccard similarity of the output's word set and the instruction + input's word set (0..1); None
    without output words."""
    o = set(norm(output).split())
    if not o:
        return None
    q = set(norm(instruction).split()) | set(norm(input_).split())
    return round(len(o & q) / len(o | q), 6)


@register
class InstructOutput(Scorer):
    name = "instruct_output"
    version = 1
    scope = "corpus"  # reads the instruction fields from the workspace, not the rendered text
    description = "empty or echoed outputs of instruction records"
    columns: ClassVar[dict[str, str]] = {
        "instruct_output_empty": "BOOLEAN",
        "instruct_output_echo": "BOOLEAN",
        "instruct_echo_jaccard": "DOUBLE",
    }
    docs: ClassVar[dict[str, str]] = {
        "instruct_output_empty": "instruction records: the output is missing, has no letter or digit, or is only a "
        "marker such as <nooutput> or N/A (NULL for records without instruction fields; AlpacaDataCleaned)",
        "instruct_output_echo": "instruction records: the output, normalised (case, whitespace, punctuation), equals "
        "the instruction, the input or both: a copy, not an answer",
        "instruct_echo_jaccard": "instruction records: Jaccard similarity (0-1) of the output's and the "
        "instruction+input's word sets; near 1 = the output repeats the prompt",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        def row(ins: str | None, inp: str | None, out: str | None) -> tuple:
            return output_empty(out), output_echo(ins, inp, out), echo_jaccard(ins, inp, out)

        return score_fields(con, dest, self.columns, row, progress=progress, label="instruction outputs")
