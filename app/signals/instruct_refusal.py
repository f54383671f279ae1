"""Refusal and disclaimer phrases in the outputs of instruction records (issue 20.3).

Distilled chat data carries the teacher's refusals and self-descriptions ("As an AI language model, I cannot
..."); the community "unfiltered" releases of ShareGPT/Vicuna and WizardLM data were made by dropping
conversations containing such phrases, and the same kind of list is used to check alignment data. The list
below is Winnow's own (short English phrases, matched case-insensitively on word boundaries, in the output
only: an instruction may legitimately talk about refusals). A count, not a verdict: "I cannot" also occurs in
honest answers. Fields: :mod:`app.signals._instruct`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.signals._instruct import score_fields
from app.signals.base import Scorer, register

PHRASES = (
    "as an ai",
    "as a language model",
    "as an ai language model",
    "i'm just an ai",
    "i am just an ai",
    "i'm sorry, but",
    "i am sorry, but",
    "i apologize, but",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot provide",
    "i can't provide",
    "i cannot help with",
    "i can't help with",
    "i am unable to",
    "i'm unable to",
    "i am not able to",
    "i'm not able to",
    "i do not have the ability",
    "i don't have the ability",
    "i do not have access to",
    "i don't have access to",
    "i do not have personal",
    "i don't have personal",
    "i must decline",
    "it is not appropriate",
    "it's not appropriate",
    "against my programming",
    "openai's content policy",
)
_ALTS = "|".join(re.escape(p).replace("'", "['’]") for p in sorted(PHRASES, key=len, reverse=True))
PATTERN = re.compile(rf"(?<!\w)(?:{_ALTS})(?!\w)", re.IGNORECASE)


def refusal_hits(output: str | None) -> int:
    """How many refusal or disclaimer phrases the output contains."""
    return len(PATTERN.findall(output or ""))


@register
class InstructRefusal(Scorer):
    name = "instruct_refusal"
    version = 1
    scope = "corpus"  # reads the instruction fields from the workspace, not the rendered text
    description = "refusal and AI-disclaimer phrases in the outputs of instruction records"
    columns: ClassVar[dict[str, str]] = {"instruct_refusal_hits": "INTEGER"}
    docs: ClassVar[dict[str, str]] = {
        "instruct_refusal_hits": "instruction records: refusal/disclaimer phrases in the output ('As an AI', "
        "'I'm sorry, but', 'I am unable to', ...; list in app/signals/instruct_refusal.py), count",
    }

    def score_corpus(self, ws: Any, *, dest: str, con: Any, workers: int = 1, progress: Any = None) -> int:
        return score_fields(
            con, dest, self.columns, lambda i, p, o: (refusal_hits(o),), progress=progress, label="refusals"
        )
