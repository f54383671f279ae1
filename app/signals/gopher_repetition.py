"""Gopher repetition heuristics (Rae et al. 2021, table A1), as character and element fractions.

Definitions follow DataTrove's ``GopherRepetitionFilter``: paragraphs split on 2+ newlines, lines on 1+
newlines; "duplicate" elements are those seen before in the document; the top n-gram fraction is the
characters covered by the most frequent word n-gram (first one on ties); the duplicate n-gram fraction
counts characters of repeated n-grams, skipping past each repeat (non-overlapping). Every fraction divides
by the document's characters.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

from app.signals._text import transpose, words_batch
from app.signals.base import Scorer, register

_PARA = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")
TOP_NS = (2, 3, 4)
DUP_NS = (5, 6, 7, 8, 9, 10)


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


def _top_ngram_chars(ws: list[str], lens: list[int], n: int) -> int:
    grams = list(zip(*(ws[k:] for k in range(n))))
    if not grams:
        return 0
    counts = Counter(grams)
    best = max(counts.values())
    # ties go to the first n-gram seen (Counter keeps insertion order), as Counter.most_common does
    g = grams[0] if best == 1 else next(x for x in counts if counts[x] == best)
    return (sum(map(len, g)) + n - 1) * best


def _dup_ngram_chars(ws: list[str], lens: list[int], n: int) -> int:
    grams = list(zip(*(ws[k:] for k in range(n))))
    seen: set[tuple] = set()
    i = rep = 0
    end = len(grams)
    while i < end:
        g = grams[i]
        if g in seen:
            rep += sum(lens[i : i + n])
            i += n
        else:
            seen.add(g)
            i += 1
    return rep


def gopher_repetition(text: str, ws: list[str]) -> tuple:
    """The 13 repetition fractions of one document given its tokens (all None for empty text)."""
    if not text:
        return (None,) * 13
    size = len(text)
    paras = _PARA.split(text.strip())
    pn, pc = duplicates(paras)
    lines = _LINES.split(text)
    ln, lc = duplicates(lines)
    out = [pn / len(paras), pc / size, ln / len(lines), lc / size]
    lens = list(map(len, ws))
    for n in TOP_NS:
        out.append(_top_ngram_chars(ws, lens, n) / size)
    five = list(zip(ws, ws[1:], ws[2:], ws[3:], ws[4:]))
    if len(set(five)) == len(five):  # no repeated 5-gram, hence no repeated longer n-gram
        out.extend([0.0] * len(DUP_NS))
    else:
        out.extend(_dup_ngram_chars(ws, lens, n) / size for n in DUP_NS)
    return tuple(out)


@register
class GopherRepetition(Scorer):
    name = "gopher_repetition"
    version = 1
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

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts)
        rows = [gopher_repetition(t, w) for t, w in zip(texts, toks)]
        return transpose(rows, list(self.columns))
