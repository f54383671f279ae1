"""Gopher repetition heuristics (Rae et al. 2021, table A1), as character and element fractions.

Definitions follow DataTrove's ``GopherRepetitionFilter``: paragraphs split on 2+ newlines, lines on 1+
newlines; "duplicate" elements are those seen before in the document; the top n-gram fraction is the
characters covered by the most frequent word n-gram (first one on ties); the duplicate n-gram fraction
counts characters of repeated n-grams, skipping past each repeat (non-overlapping). Every fraction divides
by the document's characters.

Option ``segmentation``: ``aware`` (default) counts word n-grams over :func:`app.signals._text.words_aware`
tokens, so in Chinese, Japanese or Thai text an n-gram is n letters (without it a whole clause is one "word"
and a repeated clause passes unseen, while one frequent phrase decides the top n-gram), and an n-gram of such
letters covers its letters only (no joining space); text without those scripts gets DataTrove's values.
``datatrove`` keeps DataTrove's English tokenizer for every text.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise
from typing import Any, ClassVar

import numpy as np

from app.signals._ngram_batch import DUP_NS, TOP_NS, ngram_chars_arrays
from app.signals._text import without_gc, words_batch
from app.signals._token_arrays import token_arrays
from app.signals._unspaced import UNSPACED, count_unspaced
from app.signals.base import SegmentedScorer, register

_PARA = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def duplicates(items: list[str]) -> tuple[int, int]:
    """(number of elements seen before, their characters)."""
    seen: set[str] = set()
    n = chars = 0
    for x in items:
        if x in seen:
            n += 1
            chars += len(x)
        else:
            seen.add(x)
    return n, chars


def _top_ngram_chars(ws: list[str], lens: list[int], n: int, gap: int = 1) -> tuple[int, int]:
    """(characters covered by the most frequent n-gram, its count); (0, 0) without n-grams."""
    grams = list(zip(*(ws[k:] for k in range(n))))
    if not grams:
        return 0, 0
    counts = Counter(grams)
    best = max(counts.values())
    # ties go to the first n-gram seen (Counter keeps insertion order), as Counter.most_common does
    g = grams[0] if best == 1 else next(x for x in counts if counts[x] == best)
    return (sum(map(len, g)) + (n - 1) * gap) * best, best


def _dup_ngram_chars(ws: list[str], lens: list[int], n: int) -> int:
    """Characters of repeated n-grams, DataTrove's greedy scan (a repeat skips its n words).

    Only the span from the first to the last repeated occurrence is scanned: before it every n-gram is
    new (the scan would just record them), after it nothing repeats."""
    grams = list(zip(*(ws[k:] for k in range(n))))
    m = len(grams)
    first = dict(zip(reversed(grams), range(m - 1, -1, -1)))  # n-gram -> first position
    if len(first) == m:
        return 0
    fget = first.__getitem__  # a repeat is an n-gram first seen earlier
    start = next(i for i, g in enumerate(grams) if fget(g) < i)
    last = next(i for i in range(m - 1, start - 1, -1) if fget(grams[i]) < i)
    seen = set(grams[:start])
    i, rep = start, 0
    while i <= last:
        g = grams[i]
        if g in seen:
            rep += sum(lens[i : i + n])
            i += n
        else:
            seen.add(g)
            i += 1
    return rep


SHINGLE_MIN = 5


def gopher_repetition(text: str, ws: list[str], *, aware: bool = False) -> tuple:
    """The 13 repetition fractions of one document given its tokens (all None for empty text). ``aware``: an
    n-gram of a document whose tokens are mostly letters of a script without spaces has no joining spaces."""
    if not text:
        return (None,) * 13
    gap = 1
    if aware and ws and UNSPACED.search(text) is not None:
        gap = 0 if count_unspaced(ws) * 2 > len(ws) else 1
    size = len(text)
    paras = _PARA.split(text.strip())
    pn, pc = duplicates(paras)
    lines = _LINES.split(text)
    ln, lc = duplicates(lines)
    out = [pn / len(paras), pc / size, ln / len(lines), lc / size]
    lens = list(map(len, ws))
    # no repeated word (or no repeated bigram) means every n-gram is unique: skip the counting
    all_unique = len(set(ws)) == len(ws) or len(set(pairwise(ws))) == len(ws) - 1
    if all_unique:
        out.extend((sum(lens[:n]) + (n - 1) * gap) / size if len(ws) >= n else 0.0 for n in TOP_NS)
        out.extend([0.0] * len(DUP_NS))
        return tuple(out)
    for n in TOP_NS:
        if all_unique:  # no repeated shorter n-gram: every n-gram is unique, the first one is the "top"
            out.append((sum(lens[:n]) + (n - 1) * gap) / size if len(ws) >= n else 0.0)
            continue
        chars, best = _top_ngram_chars(ws, lens, n, gap)
        out.append(chars / size)
        all_unique = best <= 1
    if all_unique:
        out.extend([0.0] * len(DUP_NS))
        return tuple(out)
    five = list(zip(ws, ws[1:], ws[2:], ws[3:], ws[4:]))
    if len(set(five)) == len(five):  # no repeated 5-gram, hence no repeated longer n-gram
        out.extend([0.0] * len(DUP_NS))
    else:
        out.extend(_dup_ngram_chars(ws, lens, n) / size for n in DUP_NS)
    return tuple(out)


def _line_fracs(text: str, size: int) -> list[float]:
    """Duplicate paragraph and line fractions (text without a newline has one of each: nothing repeats)."""
    if "\n" not in text:
        return [0 / 1, 0 / size, 0 / 1, 0 / size]
    paras = _PARA.split(text.strip())
    pn, pc = duplicates(paras)
    lines = _LINES.split(text)
    ln, lc = duplicates(lines)
    return [pn / len(paras), pc / size, ln / len(lines), lc / size]


def gopher_repetition_columns(texts: list[str], toks: list[list[str]], *, aware: bool = False) -> list[list]:
    """:func:`gopher_repetition` of every document of a batch as 13 columns, the n-gram counting done for the
    batch at once (:func:`app.signals._ngram_batch.ngram_chars_arrays`) and the tokens of scripts without spaces
    counted per distinct token."""
    nd = len(texts)
    ta = token_arrays(toks)
    if aware:  # no joining space where most tokens are letters of a script without spaces
        unspaced = ta.per_doc(ta.unspaced())
        gaps = np.where(unspaced * 2 > ta.counts, 0, 1).tolist()
    else:
        gaps = [1] * nd
    sizes = [len(t) or 1 for t in texts]
    line_cols: list[list] = [[None] * nd for _ in range(4)]
    for i, text in enumerate(texts):
        if text:
            for c, v in zip(line_cols, _line_fracs(text, sizes[i])):
                c[i] = v
    top, dup = ngram_chars_arrays(ta, gaps)
    frac = np.concatenate([top, dup], axis=1) / np.asarray(sizes, dtype=np.int64)[:, None]
    cols = line_cols + frac.T.tolist()
    empty = [i for i, t in enumerate(texts) if not t]
    for c in cols[4:]:
        for i in empty:
            c[i] = None
    return cols


@register
class GopherRepetition(SegmentedScorer):
    """Options: ``segmentation`` ("aware" default, "datatrove")."""

    name = "gopher_repetition"
    version = 2
    description = "Gopher repetition rules (Rae et al. 2021) as fractions"
    columns: ClassVar[dict[str, str]] = {
        "gopher_rep_dup_para_frac": "DOUBLE",
        "gopher_rep_dup_para_char_frac": "DOUBLE",
        "gopher_rep_dup_line_frac": "DOUBLE",
        "gopher_rep_dup_line_char_frac": "DOUBLE",
        **{f"gopher_rep_top_{n}gram_char_frac": "DOUBLE" for n in TOP_NS},
        **{f"gopher_rep_dup_{n}gram_char_frac": "DOUBLE" for n in DUP_NS},
    }
    _thr_top: ClassVar[dict[int, float]] = {2: 0.20, 3: 0.18, 4: 0.16}
    _thr_dup: ClassVar[dict[int, float]] = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    docs: ClassVar[dict[str, str]] = {
        "gopher_rep_dup_para_frac": "fraction of paragraphs (split on blank lines) that repeat an earlier one (Gopher drops > 0.3); NULL for empty text",
        "gopher_rep_dup_para_char_frac": "characters in repeated paragraphs / document characters (Gopher drops > 0.2)",
        "gopher_rep_dup_line_frac": "fraction of lines that repeat an earlier line (Gopher drops > 0.3)",
        "gopher_rep_dup_line_char_frac": "characters in repeated lines / document characters (Gopher drops > 0.2)",
        **{
            f"gopher_rep_top_{n}gram_char_frac": f"characters covered by the most frequent word {n}-gram / document characters (Gopher drops > {t})"
            for n, t in _thr_top.items()
        },
        **{
            f"gopher_rep_dup_{n}gram_char_frac": f"characters in repeated word {n}-grams (non-overlapping) / document characters (Gopher drops > {t})"
            for n, t in _thr_dup.items()
        },
    }

    @without_gc
    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts, self.mode)
        aware = self.mode == "aware"
        cols = gopher_repetition_columns(texts, toks, aware=aware)
        return dict(zip(self.columns, cols, strict=True))
