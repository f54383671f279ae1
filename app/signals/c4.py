"""C4 line rules (Raffel et al. 2020) as ratios and flags, following DataTrove's ``C4QualityFilter``.

C4 walks the lines of a page: a line is dropped when it has a word over 1,000 characters, does not end in
terminal punctuation (``. ? ! " '``, not ``...``) after removing Wikipedia citations, has fewer than 3 words,
mentions "javascript", or mentions a cookie/terms-of-use phrase; a page is dropped when a surviving line
contains "lorem ipsum" or "{", or when the surviving lines hold fewer than 5 sentences.

Option ``segmentation``: ``aware`` (default) also ends lines and sentences with the CJK marks ``。 ！ ？ ｡``
(optionally followed by ``」`` or ``』``), and counts the words of a line holding letters of a script without
spaces with :func:`app.signals._text.words_aware` (one word per letter), so a Chinese paragraph is not
"one word with no sentence end"; other text gets DataTrove's values. ``datatrove`` keeps C4's Latin rules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from itertools import compress, count, filterfalse, islice
from typing import Any, ClassVar

from app.signals._text import (
    TERMINAL_PUNCTUATION,
    line_words_batch,
    transpose,
    without_gc,
    words,
    words_aware,
)
from app.signals._unspaced import UNSPACED
from app.signals.base import SegmentedScorer, register

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
_CJK_END = ("。", "！", "？", "｡")
AWARE_END_PUNCTUATION = END_PUNCTUATION + _CJK_END + tuple(e + q for e in _CJK_END for q in "」』")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_POLICY = re.compile("|".join(re.escape(p) for p in POLICY_PHRASES))


def _has_policy(low: str) -> bool:
    """A policy phrase in the lowercased line (each one holds "cookie", "terms of use" or "privacy policy")."""
    return ("cookie" in low or "terms of use" in low or "privacy policy" in low) and _POLICY.search(low) is not None


@lru_cache(maxsize=4096)
def _is_punct(tok: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in tok)


def count_sentences(line: str, *, aware: bool = False, toks: Sequence[str] | None = None) -> int:
    """Sentences in one line: a new sentence starts at the first non-punctuation token after a
    sentence-final mark (the rule of spaCy's sentencizer, which DataTrove uses for English). ``aware``:
    tokens of :func:`words_aware`, so a "。" inside a run of Chinese ends a sentence. ``toks``: the line's
    tokens when already known."""
    if toks is None:
        toks = words_aware(line) if aware else words(line)
    if not toks:
        return 0
    term = TERMINAL_PUNCTUATION
    if term.isdisjoint(toks):
        return 1
    # Jump from one sentence-final mark to the next: from a mark, the first token that is neither a mark nor
    # punctuation starts a sentence (the marks and punctuation on the way are passed over).
    n = 1
    end = len(toks)
    nxt = 0
    for i in compress(count(), map(term.__contains__, toks)):
        if i < nxt:
            continue
        j = i + 1
        while j < end and (toks[j] in term or _is_punct(toks[j])):
            j += 1
        if j == end:
            break
        n += 1
        nxt = j + 1
    return n


def _aware_words(line: str) -> list[str]:
    """The line's words for C4's length rules: letters of scripts without spaces count one each."""
    return [w for w in words_aware(line) if not _is_punct(w)]


def c4_line_stats(text: str, *, aware: bool = False, line_tokens: Sequence[Sequence[str]] | None = None) -> tuple:
    """(lines, terminal-punct ratio, javascript ratio, policy ratio, kept-lines ratio, sentences in kept lines,
    lorem ipsum flag, curly bracket flag) for one document (``aware``: see the module doc). ``line_tokens``:
    the tokens of each line of ``text.splitlines()`` under the same segmentation, when already known
    (:func:`app.signals._text.line_words_batch`)."""
    ends = AWARE_END_PUNCTUATION if aware else END_PUNCTUATION
    aware = aware and not text.isascii() and UNSPACED.search(text) is not None  # those letters are not ASCII
    lines = text.splitlines()
    n_lines = len(lines)
    if not n_lines:
        return (0, None, None, None, None, 0, False, False)
    punct_ok = js = pol = kept = sentences = 0
    lorem = curly = False
    for i, raw in enumerate(lines):
        line = raw.strip()
        low = line.lower()
        if "javascript" in low:
            js += 1
        policy = _has_policy(low)
        if policy:
            pol += 1
        toks = None if line_tokens is None else line_tokens[i]
        if aware and not line.isascii() and UNSPACED.search(line):
            # the words are the tokens that are not punctuation (only whether there are 3 matters below)
            ws: Sequence[str] | None = None
            wtoks = words_aware(line) if toks is None else toks
        else:
            # whether there are 3 words is all that matters below, unless a word may be over 1,000 characters
            ws = line.split() if len(line) > 1000 else line.split(None, 2)
        if len(line) > 1000:
            if ws is None:
                ws = list(filterfalse(_is_punct, wtoks))
            if max(map(len, ws), default=0) > 1000:
                continue
        if "[" in line:
            cited, line = line, CITATION.sub("", line)
            if line != cited:  # the tokens of the line without its citations differ
                toks = None
                low = line.lower()
                policy = _has_policy(low)
        if not line.endswith(ends) or line.endswith("..."):
            continue
        punct_ok += 1
        if (len(ws) if ws is not None else len(list(islice(filterfalse(_is_punct, wtoks), 3)))) < 3:
            continue
        if "lorem ipsum" in low:
            lorem = True
        if "javascript" in low:
            continue
        if "{" in line:
            curly = True
        if policy:
            continue
        kept += 1
        sentences += count_sentences(line, aware=aware, toks=toks)
    return (n_lines, punct_ok / n_lines, js / n_lines, pol / n_lines, kept / n_lines, sentences, lorem, curly)


@register
class C4(SegmentedScorer):
    """Options: ``segmentation`` ("aware" default, "datatrove")."""

    name = "c4"
    version = 2
    description = "C4 line rules (Raffel et al. 2020) as ratios and flags"
    columns: ClassVar[dict[str, str]] = {
        "c4_lines": "INTEGER",
        "c4_terminal_punct_ratio": "DOUBLE",
        "c4_javascript_ratio": "DOUBLE",
        "c4_policy_ratio": "DOUBLE",
        "c4_kept_lines_ratio": "DOUBLE",
        "c4_sentences": "INTEGER",
        "c4_lorem_ipsum": "BOOLEAN",
        "c4_curly_bracket": "BOOLEAN",
    }
    docs: ClassVar[dict[str, str]] = {
        "c4_lines": "lines in the document (count)",
        "c4_terminal_punct_ratio": "fraction of lines ending in . ? ! \" ' (not ...), or 。 ！ ？ (language-aware default), after removing [1]/[edit] citations; NULL for empty text",
        "c4_javascript_ratio": "fraction of lines mentioning 'javascript' (C4 removes such lines)",
        "c4_policy_ratio": "fraction of lines with a cookie / privacy / terms-of-use phrase (C4 removes such lines)",
        "c4_kept_lines_ratio": "fraction of lines that survive every C4 line rule",
        "c4_sentences": "sentences in the lines C4 keeps (count; C4 drops pages with < 5); 。 ！ ？ end sentences, and a line of a script without spaces counts one word per letter for the 3-word rule (language-aware default)",
        "c4_lorem_ipsum": "a line that passes C4's punctuation and 3-word rules contains 'lorem ipsum' (C4 drops the page)",
        "c4_curly_bracket": "a line that passes C4's punctuation, 3-word and javascript rules contains '{' (C4 drops the page)",
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        aware = self.mode == "aware"
        rows = [
            c4_line_stats(t, aware=aware, line_tokens=lt)
            for t, lt in zip(texts, line_words_batch(texts, self.mode), strict=True)
        ]
        return transpose(rows, list(self.columns))
