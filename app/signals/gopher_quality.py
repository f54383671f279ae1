"""Gopher quality heuristics (Rae et al. 2021, "Scaling Language Models", appendix A1), as continuous values.

Definitions follow DataTrove's ``GopherQualityFilter`` so its default decision can be expressed over these
columns (:mod:`app.signals.reference`): words are tokens of :func:`app.signals._text.words`; a "symbol word"
consists only of punctuation; word count and mean length count non-symbol words; the ratios divide by all tokens.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from app.signals._text import PUNCTUATION, TERMINAL_PUNCTUATION, transpose, words_batch
from app.signals.base import Scorer, register

_PUNCT_SET = frozenset(PUNCTUATION) | TERMINAL_PUNCTUATION
_HAS_ALPHA = re.compile(r"[^\W\d_]")
STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")


def gopher_quality(text: str, ws: list[str]) -> tuple:
    """The eight Gopher quality values of one document given its tokens."""
    n = len(ws)
    punct = _PUNCT_SET
    nonsym = [w for w in ws if not punct.issuperset(w)]
    n_ns = len(nonsym)
    mean_len = sum(map(len, nonsym)) / n_ns if n_ns else None
    if n:
        hash_r = text.count("#") / n
        ell_r = (text.count("...") + text.count("…")) / n
        alpha = 0
        has_alpha = _HAS_ALPHA.search
        for w in ws:
            if w.isalpha() or has_alpha(w):
                alpha += 1
        alpha_r = alpha / n
    else:
        hash_r = ell_r = alpha_r = None
    lines = text.splitlines()
    if lines:
        nl = len(lines)
        bullet_r = sum(1 for s in lines if s.lstrip().startswith(_BULLETS)) / nl
        ell_lines_r = sum(1 for s in lines if s.rstrip().endswith(_ELLIPSES)) / nl
    else:
        bullet_r = ell_lines_r = None
    stop = len(STOP_WORDS.intersection(ws))
    return (n_ns, n, mean_len, hash_r, ell_r, bullet_r, ell_lines_r, alpha_r, stop)


@register
class GopherQuality(Scorer):
    name = "gopher_quality"
    version = 1
    description = "Gopher quality rules (Rae et al. 2021) as continuous values"
    columns: ClassVar[dict[str, str]] = {
        "gopher_word_count": "INTEGER",
        "gopher_token_count": "INTEGER",
        "gopher_mean_word_length": "DOUBLE",
        "gopher_hash_ratio": "DOUBLE",
        "gopher_ellipsis_ratio": "DOUBLE",
        "gopher_bullet_lines_ratio": "DOUBLE",
        "gopher_ellipsis_lines_ratio": "DOUBLE",
        "gopher_alpha_words_ratio": "DOUBLE",
        "gopher_stop_words": "INTEGER",
    }
    docs: ClassVar[dict[str, str]] = {
        "gopher_word_count": "words that are not only punctuation (count; Gopher keeps 50..100,000)",
        "gopher_token_count": "all word and punctuation tokens (count; denominator of the Gopher ratios)",
        "gopher_mean_word_length": "mean characters per non-punctuation word (chars; Gopher keeps 3..10); NULL without words",
        "gopher_hash_ratio": "'#' characters per token (ratio; Gopher drops > 0.1)",
        "gopher_ellipsis_ratio": "'...' and '…' per token (ratio; Gopher drops > 0.1)",
        "gopher_bullet_lines_ratio": "fraction of lines starting with '•' or '-' (Gopher drops > 0.9)",
        "gopher_ellipsis_lines_ratio": "fraction of lines ending with an ellipsis (Gopher drops > 0.3)",
        "gopher_alpha_words_ratio": "fraction of tokens with at least one letter (Gopher drops < 0.8)",
        "gopher_stop_words": "distinct English stop words present: the, be, to, of, and, that, have, with (Gopher keeps >= 2)",
    }

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts)
        rows = [gopher_quality(t, w) for t, w in zip(texts, toks)]
        return transpose(rows, list(self.columns))
