"""Gopher quality heuristics (Rae et al. 2021, "Scaling Language Models", appendix A1), as continuous values.

Definitions follow DataTrove's ``GopherQualityFilter`` so its default decision can be expressed over these
columns (:mod:`app.signals.reference`): words are tokens of :func:`app.signals._text.words`; a "symbol word"
consists only of punctuation; word count and mean length count non-symbol words; the ratios divide by all tokens.

Option ``segmentation``: ``aware`` (default) splits scripts written without spaces (Chinese, Japanese, Thai...)
into one word per letter (:func:`app.signals._text.words_aware`), counts Chinese and Japanese function
characters as stop words, and leaves the mean word length NULL where most words are such letters (a length
of 1 says nothing there); text without those scripts gets DataTrove's values exactly. ``datatrove`` keeps
DataTrove's English tokenizer for every text (a Chinese paragraph is one word), for parity checks.
"""

from __future__ import annotations

import re
from itertools import compress, filterfalse
from operator import not_
from typing import Any, ClassVar

import numpy as np

from app.signals._text import (
    PUNCTUATION,
    TERMINAL_PUNCTUATION,
    transpose,
    without_gc,
    words_batch,
)
from app.signals._token_arrays import token_arrays
from app.signals._unspaced import UNSPACED
from app.signals.base import SegmentedScorer, register

_PUNCT_SET = frozenset(PUNCTUATION) | TERMINAL_PUNCTUATION
_HAS_ALPHA = re.compile(r"[^\W\d_]")
#: A whole word (of words joined by newlines) whose first character is a letter of a script without spaces.
_UNSPACED_WORD = re.compile(f"^(?:{UNSPACED.pattern})[^\n]*", re.M)
STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
#: Function characters of Chinese (的 了 是 在 ...) and Japanese particles (の に は を ...): single letters,
#: which is what the language-aware segmentation makes of them; no English word is among them.
CJK_STOP_WORDS = frozenset("的了是在和有我不也就都这人一个你他她们那之与及而")
JA_STOP_WORDS = frozenset("のにはをがでてとしもなた")
AWARE_STOP_WORDS = STOP_WORDS | CJK_STOP_WORDS | JA_STOP_WORDS
_BULLETS = ("•", "-")
_ELLIPSES = ("...", "…")


def _spaced(words: list[str]) -> tuple[int, int]:
    """(count, total length) of the words not starting with a letter of a script without spaces: one regular
    expression substitution over the words joined by newlines (a Chinese document has a word per letter: a
    match call per word cost more than the rest of its values); words holding a newline (the tokenisers make
    none) take the per-word path."""
    joined = "\n".join(words)
    if joined.count("\n") != len(words) - 1:
        spaced = list(compress(words, map(not_, map(UNSPACED.match, words))))
        return len(spaced), sum(map(len, spaced))
    left, removed = _UNSPACED_WORD.subn("", joined)
    return len(words) - removed, len(left) - (len(words) - 1)


def gopher_quality(text: str, ws: list[str], *, aware: bool = False) -> tuple:
    """The nine Gopher quality values of one document given its tokens (``aware``: see the module doc)."""
    n = len(ws)
    punct = _PUNCT_SET
    # No punctuation character is a letter, so the symbol words are among the tokens not all letters (few).
    rest = list(filterfalse(str.isalpha, ws))
    syms = list(filter(punct.issuperset, rest))
    n_ns = n - len(syms)
    if aware and n_ns and UNSPACED.search(text) is not None:
        nonsym = list(filterfalse(set(syms).__contains__, ws)) if syms else ws
        n_sp, len_sp = _spaced(nonsym)
        # mostly letters of a script without spaces: word length does not apply
        mean_len = len_sp / n_sp if n_sp and n_sp * 2 > n_ns else None
    else:
        mean_len = (sum(map(len, ws)) - sum(map(len, syms))) / n_ns if n_ns else None
    # tokens not all letters: count those with a letter
    alpha = n - len(rest) + len(list(filter(None, map(_HAS_ALPHA.search, rest)))) if n else 0
    hash_r, ell_r, bullet_r, ell_lines_r, alpha_r = _text_ratios(text, n, alpha)
    stop = len((AWARE_STOP_WORDS if aware else STOP_WORDS).intersection(ws))
    return (n_ns, n, mean_len, hash_r, ell_r, bullet_r, ell_lines_r, alpha_r, stop)


def _text_ratios(text: str, n: int, alpha: int) -> tuple:
    """The values counted on the characters and lines of ``text`` (``n`` tokens, ``alpha`` of them with a
    letter): hash and ellipsis ratios per word, bullet and ellipsis line ratios, the letter-word ratio."""
    ellipses = text.count("...") + text.count("…")
    if n:
        hash_r = text.count("#") / n
        ell_r = ellipses / n
        alpha_r = alpha / n
    else:
        hash_r = ell_r = alpha_r = None
    lines = text.splitlines()
    if lines:
        nl = len(lines)
        bullets = "•" in text or "-" in text
        bullet_r = sum(1 for s in lines if s.lstrip().startswith(_BULLETS)) / nl if bullets else 0.0
        ell_lines_r = sum(1 for s in lines if s.rstrip().endswith(_ELLIPSES)) / nl if ellipses else 0.0
    else:
        bullet_r = ell_lines_r = None
    return hash_r, ell_r, bullet_r, ell_lines_r, alpha_r


def _is_symbol(tok: str) -> bool:
    return not tok.isalpha() and _PUNCT_SET.issuperset(tok)


def _has_letter(tok: str) -> bool:
    return tok.isalpha() or _HAS_ALPHA.search(tok) is not None


def gopher_quality_rows(texts: list[str], toks: list[list[str]], *, aware: bool = False) -> list[tuple]:
    """:func:`gopher_quality` of every document of a batch: the token counts (symbol words, letters, lengths,
    words of scripts without spaces, distinct stop words) from the batch's token arrays, each distinct token
    tested once (:mod:`app.signals._token_arrays`); only the character and line counts stay per document.

    In ``aware`` mode the mean length counts the non-symbol words not starting with a letter of a script
    without spaces; a text without such letters has none of them, which gives the plain mean."""
    ta = token_arrays(toks)
    ids = ta.ids
    sym = ta.flag("symbol", _is_symbol)[ids]
    vl = ta.vlens[ids]
    counted = ~sym & ~ta.unspaced() if aware else ~sym  # the words the mean length is over
    n_w = ta.per_doc(counted).tolist()
    len_w = ta.sum_per_doc(np.where(counted, vl, 0)).tolist()
    n_ns = (ta.counts - ta.per_doc(sym)).tolist()
    alpha = ta.per_doc(ta.flag("letter", _has_letter)[ids]).tolist()
    stops = AWARE_STOP_WORDS if aware else STOP_WORDS
    stop = ta.distinct_per_doc(ta.flag("stop_aware" if aware else "stop", stops.__contains__)[ids]).tolist()
    rows = []
    for text, n, ns, nw, lw, al, st in zip(texts, ta.counts.tolist(), n_ns, n_w, len_w, alpha, stop, strict=True):
        mean_len = lw / nw if ns and nw and nw * 2 > ns else None
        hash_r, ell_r, bullet_r, ell_lines_r, alpha_r = _text_ratios(text, n, al)
        rows.append((ns, n, mean_len, hash_r, ell_r, bullet_r, ell_lines_r, alpha_r, st))
    return rows


@register
class GopherQuality(SegmentedScorer):
    """Options: ``segmentation`` ("aware" default, "datatrove")."""

    name = "gopher_quality"
    version = 2
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
        "gopher_word_count": "words that are not only punctuation (count; Gopher keeps 50..100,000); each letter of a script without spaces (zh, ja, th...) is a word",
        "gopher_token_count": "all word and punctuation tokens (count; denominator of the Gopher ratios)",
        "gopher_mean_word_length": "mean characters per non-punctuation word (chars; Gopher keeps 3..10); NULL without words, and NULL where most words are letters of a script without spaces (zh, ja, th...: does not apply)",
        "gopher_hash_ratio": "'#' characters per token (ratio; Gopher drops > 0.1)",
        "gopher_ellipsis_ratio": "'...' and '…' per token (ratio; Gopher drops > 0.1)",
        "gopher_bullet_lines_ratio": "fraction of lines starting with '•' or '-' (Gopher drops > 0.9)",
        "gopher_ellipsis_lines_ratio": "fraction of lines ending with an ellipsis (Gopher drops > 0.3)",
        "gopher_alpha_words_ratio": "fraction of tokens with at least one letter (Gopher drops < 0.8)",
        "gopher_stop_words": "distinct stop words present: English the, be, to, of, and, that, have, with (Gopher keeps >= 2), plus Chinese function characters and Japanese particles (的 了 是 在..., の に は を...); other languages: meaningful only with a per-language threshold",
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts, self.mode)
        aware = self.mode == "aware"
        return transpose(gopher_quality_rows(texts, toks, aware=aware), list(self.columns))
