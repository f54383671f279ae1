"""Output length against prompt length for instruction records (issue 20.3).

A one-word output to a long request, or an essay in reply to "yes or no?", stands out on the ratio of output
characters to instruction + input characters. LIMA (Zhou et al. 2023, "LIMA: Less Is More for Alignment")
chose its 1,000 examples partly for long, complete answers; Alpaca's machine-written outputs include very short
ones. The ratio is a continuous signal: the threshold is the user's. Fields: :mod:`app.signals._instruct`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals._instruct import score_fields
from app.signals.base import Scorer, register


def length_ratio(instruction: str | None, input_: str | None, output: str | None) -> float:
    """Output characters / (instruction + input characters), prompt length at least 1."""
    prompt = len((instruction or "").strip()) + len((input_ or "").strip())
    return round(len((output or "").strip()) / max(prompt, 1), 6)


@register
class InstructRatio(Scorer):
    name = "instruct_ratio"
    version = 1
    scope = "corpus"  # reads the instruction fields from the workspace, not the rendered text
    description = "output/instruction length ratio of instruction records"
    columns: ClassVar[dict[str, str]] = {
        "instruct_len_ratio": "DOUBLE",
        "instruct_output_chars": "INTEGER",
        "instruct_prompt_chars": "INTEGER",
    }
    docs: ClassVar[dict[str, str]] = {
        "instruct_len_ratio": "instruction records: output characters / (instruction + input characters); "
        "NULL for records without instruction fields (LIMA, Zhou et al. 2023, prefers complete answers)",
        "instruct_output_chars": "instruction records: characters of the output (stripped)",
        "instruct_prompt_chars": "instruction records: characters of the instruction plus the input (stripped)",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        def row(ins: str | None, inp: str | None, out: str | None) -> tuple:
            prompt = len((ins or "").strip()) + len((inp or "").strip())
            return length_ratio(ins, inp, out), len((out or "").strip()), prompt

        return score_fields(con, dest, self.columns, row, progress=progress, label="instruction lengths")
