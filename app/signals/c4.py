"""C4 line rules (Raffel et al. 2020) as ratios and flags, following DataTrove's ``C4QualityFilter``.

C4 walks the lines of a page: a line is dropped when it has a word over 1,000 characters, does not end in
terminal punctuation (``. ? ! " '``, not ``...``) after removing Wikipedia citations, has fewer than 3 words,
mentions "javascript", or mentions a cookie/terms-of-use phrase; a page is dropped when a surviving line
contains "lorem ipsum" or "{", or when the surviving lines hold fewer than 5 sentences.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, ClassVar

from app.signals._text import TERMINAL_PUNCTUATION, transpose, words
from app.signals.base import Scorer, register

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
_POLICY = re.compile("|".join(re.escape(p) for p in POLICY_PHRASES))


@lru_cache(maxsize=4096)
def _is_punct(tok: str) -> bool:
    return all(unicodedata.category(c).startswith("P") for c in tok)


def count_sentences(line: str) -> int:
    """Sentences in one line: a new sentence starts at the first non-punctuation token after a
    sentence-final mark (the rule of spaCy's sentencizer, which DataTrove uses for English)."""
    toks = words(line)
    if not toks:
        return 0
    n = 1
    seen = False
    term = TERMINAL_PUNCTUATION
    for t in toks:
        if t in term:
            seen = True
        elif seen and not _is_punct(t):
            n += 1
            seen = False
    return n


def c4_line_stats(text: str) -> tuple:
    """(lines, terminal-punct ratio, javascript ratio, policy ratio, kept-lines ratio, sentences in kept lines,
    lorem ipsum flag, curly bracket flag) for one document."""
    lines = text.splitlines()
    n_lines = len(lines)
    if not n_lines:
        return (0, None, None, None, None, 0, False, False)
    punct_ok = js = pol = kept = sentences = 0
    lorem = curly = False
    for raw in lines:
        line = raw.strip()
        low = line.lower()
        if "javascript" in low:
            js += 1
        if _POLICY.search(low):
            pol += 1
        ws = line.split()
        if len(line) > 1000 and any(len(w) > 1000 for w in ws):
            continue
        if "[" in line:
            line = CITATION.sub("", line)
        if not line.endswith(END_PUNCTUATION) or line.endswith("..."):
            continue
        punct_ok += 1
        if len(ws) < 3:
            continue
        low = line.lower()
        if "lorem ipsum" in low:
            lorem = True
        if "javascript" in low:
            continue
        if "{" in line:
            curly = True
        if _POLICY.search(low):
            continue
        kept += 1
        sentences += count_sentences(line)
    return (n_lines, punct_ok / n_lines, js / n_lines, pol / n_lines, kept / n_lines, sentences, lorem, curly)


@register
class C4(Scorer):
    name = "c4"
    version = 1
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
        "c4_terminal_punct_ratio": "fraction of lines ending in . ? ! \" ' (not ...), after removing [1]/[edit] citations; NULL for empty text",
        "c4_javascript_ratio": "fraction of lines mentioning 'javascript' (C4 removes such lines)",
        "c4_policy_ratio": "fraction of lines with a cookie / privacy / terms-of-use phrase (C4 removes such lines)",
        "c4_kept_lines_ratio": "fraction of lines that survive every C4 line rule",
        "c4_sentences": "sentences in the lines C4 keeps (count; C4 drops pages with < 5)",
        "c4_lorem_ipsum": "a line that passes C4's punctuation and 3-word rules contains 'lorem ipsum' (C4 drops the page)",
        "c4_curly_bracket": "a line that passes C4's punctuation, 3-word and javascript rules contains '{' (C4 drops the page)",
    }

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        return transpose([c4_line_stats(t) for t in texts], list(self.columns))
