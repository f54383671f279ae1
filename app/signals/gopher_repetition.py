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

from app.signals._text import UNSPACED, check_mode, is_unspaced, transpose, words_batch
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
    firsts = np.fromiter(map(first.__getitem__, grams), dtype=np.int64, count=m)
    rep_pos = np.flatnonzero(firsts < np.arange(m))
    start, last = int(rep_pos[0]), int(rep_pos[-1])
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


_BIG = 2000  # documents with more words take the vectorised path
_DUP_VECTOR = 1000  # documents with more words scan duplicate n-grams over integer hashes


def _ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash of every word n-gram (position i covers words i..i+n-1) from integer word ids."""
    m = len(ids) - n + 1
    with np.errstate(over="ignore"):
        h = ids[:m].copy()
        for k in range(1, n):
            h = h * np.uint64(0x9E3779B97F4A7C15) + ids[k : m + k]
            h ^= h >> np.uint64(29)
    return h


def _word_ids(ws: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer id per word (same word, same id) and the prefix sums of word lengths."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(w, len(vocab) + 1) for w in ws), dtype=np.uint64, count=len(ws))
    lens = np.fromiter(map(len, ws), dtype=np.int64, count=len(ws))
    return ids, np.concatenate([[0], np.cumsum(lens)])


def _dup_fracs(ids: np.ndarray, csum: np.ndarray, size: int) -> list[float]:
    """Duplicate n-gram character fractions for n = 5..10 (DataTrove's greedy non-overlapping scan).

    Only the span between the first and the last repeated occurrence needs the sequential scan: before it
    every n-gram is new (the scan just records them), after it nothing can repeat."""
    out: list[float] = []
    nw = len(ids)
    for n in DUP_NS:
        if nw < n:
            out.append(0.0)
            continue
        h = _ngram_hashes(ids, n)
        _, first, inv = np.unique(h, return_index=True, return_inverse=True)
        pos = np.arange(len(h))
        rep = np.flatnonzero(first[inv] < pos)
        if not len(rep):
            out.append(0.0)
            continue
        start, last = int(rep[0]), int(rep[-1])
        hl = h.tolist()
        seen = set(hl[:start])
        i, chars = start, 0
        while i <= last:
            g = hl[i]
            if g in seen:
                chars += int(csum[i + n] - csum[i])
                i += n
            else:
                seen.add(g)
                i += 1
        out.append(chars / size)
    return out


def _big_ngram_fracs(ws: list[str], size: int, gap: int = 1) -> list[float]:
    """Top and duplicate n-gram fractions for long documents with numpy (same definitions)."""
    ids, csum = _word_ids(ws)
    out: list[float] = []
    for n in TOP_NS:
        if len(ws) < n:
            out.append(0.0)
            continue
        h = _ngram_hashes(ids, n)
        _, first, counts = np.unique(h, return_index=True, return_counts=True)
        best = counts.max()
        i = int(first[counts == best].min())
        out.append(float((csum[i + n] - csum[i] + (n - 1) * gap) * best) / size)
    if len(ws) < SHINGLE_MIN or len(np.unique(_ngram_hashes(ids, SHINGLE_MIN))) == len(ws) - SHINGLE_MIN + 1:
        return out + [0.0] * len(DUP_NS)
    return out + _dup_fracs(ids, csum, size)


SHINGLE_MIN = 5


def gopher_repetition(text: str, ws: list[str], *, aware: bool = False) -> tuple:
    """The 13 repetition fractions of one document given its tokens (all None for empty text). ``aware``: an
    n-gram of a document whose tokens are mostly letters of a script without spaces has no joining spaces."""
    if not text:
        return (None,) * 13
    gap = 1
    if aware and ws and UNSPACED.search(text) is not None:
        gap = 0 if sum(map(is_unspaced, ws)) * 2 > len(ws) else 1
    size = len(text)
    paras = _PARA.split(text.strip())
    pn, pc = duplicates(paras)
    lines = _LINES.split(text)
    ln, lc = duplicates(lines)
    out = [pn / len(paras), pc / size, ln / len(lines), lc / size]
    if len(ws) > _BIG:
        return tuple(out + _big_ngram_fracs(ws, size, gap))
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
        if len(ws) > _DUP_VECTOR:
            ids, csum = _word_ids(ws)
            out.extend(_dup_fracs(ids, csum, size))
        else:
            out.extend(_dup_ngram_chars(ws, lens, n) / size for n in DUP_NS)
    return tuple(out)


@register
class GopherRepetition(Scorer):
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

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.mode = check_mode(options.get("segmentation", "aware"))

    def fingerprint(self) -> str:
        return f"{self.version}:{self.mode}"

    def score_batch(self, texts: list[str]) -> dict[str, list[Any]]:
        toks = words_batch(texts, self.mode)
        aware = self.mode == "aware"
        rows = [gopher_repetition(t, w, aware=aware) for t, w in zip(texts, toks)]
        return transpose(rows, list(self.columns))
