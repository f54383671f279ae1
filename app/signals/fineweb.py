"""FineWeb's line rules (Penedo et al. 2024), following DataTrove's ``FineWebQualityFilter``.

Lines are the non-blank lines of the document (split on ``\\n``). Ratios are NULL when a document has no
non-blank line.

Option ``segmentation``: ``aware`` (default) counts the words of the newline ratio with
:func:`app.signals._text.words_aware` (one word per letter of a script without spaces); the line rules
already end sentences with every Unicode Sentence_Terminal mark (``。 ！ ？`` included). ``datatrove``
keeps DataTrove's English tokenizer.
"""

from __future__ import annotations

from typing import Any, ClassVar

from app.signals._text import TERMINAL_PUNCTUATION, transpose, without_gc, words_batch
from app.signals.base import SegmentedScorer, register
from app.signals.gopher_repetition import duplicates

_STOP = tuple(TERMINAL_PUNCTUATION)
SHORT_LINE = 30


def fineweb_stats(text: str, ws: list[str]) -> tuple:
    """(line punctuation ratio, short-line ratio, duplicated-line char ratio, newlines per word) of one text."""
    if "\n" not in text:  # one line (most short documents): the same values without the line list
        if not text.strip():
            return (None, None, None, None)
        punct1 = 1.0 if text.endswith(_STOP) else 0.0
        return (punct1, 1.0 if len(text) <= SHORT_LINE else 0.0, 0.0, 0.0 if ws else None)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        return (None, None, None, None)
    n = len(lines)
    punct = sum(1 for ln in lines if ln.endswith(_STOP)) / n
    short = sum(1 for ln in lines if len(ln) <= SHORT_LINE) / n
    dup = duplicates(lines)[1] / (len(text) - text.count("\n"))
    newline = text.count("\n") / len(ws) if ws else None
    return (punct, short, dup, newline)


@register
class FineWeb(SegmentedScorer):
    """Options: ``segmentation`` ("aware" default, "datatrove")."""

    name = "fineweb"
    version = 2
    description = "FineWeb line rules (Penedo et al. 2024) as ratios"
    columns: ClassVar[dict[str, str]] = {
        "fineweb_line_punct_ratio": "DOUBLE",
        "fineweb_short_line_ratio": "DOUBLE",
        "fineweb_char_dup_ratio": "DOUBLE",
        "fineweb_newline_ratio": "DOUBLE",
    }
    docs: ClassVar[dict[str, str]] = {
        "fineweb_line_punct_ratio": "fraction of non-blank lines ending in sentence-final punctuation (Unicode Sentence_Terminal; FineWeb drops < 0.12)",
        "fineweb_short_line_ratio": "fraction of non-blank lines of <= 30 characters (FineWeb drops > 0.67)",
        "fineweb_char_dup_ratio": "characters in repeated lines / characters excluding newlines (FineWeb drops > 0.01)",
        "fineweb_newline_ratio": "newlines per word token (FineWeb drops > 0.3)",
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts, self.mode)
        return transpose([fineweb_stats(t, w) for t, w in zip(texts, toks)], list(self.columns))
