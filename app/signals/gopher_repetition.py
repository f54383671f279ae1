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

from app.signals._text import UNSPACED, check_mode, count_unspaced, transpose, words_batch
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
        gap = 0 if count_unspaced(ws) * 2 > len(ws) else 1
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


def _line_fracs(text: str, size: int) -> list[float]:
    """Duplicate paragraph and line fractions (text without a newline has one of each: nothing repeats)."""
    if "\n" not in text:
        return [0 / 1, 0 / size, 0 / 1, 0 / size]
    paras = _PARA.split(text.strip())
    pn, pc = duplicates(paras)
    lines = _LINES.split(text)
    ln, lc = duplicates(lines)
    return [pn / len(paras), pc / size, ln / len(lines), lc / size]


def _top_ngrams_batch(docs: list[list[str]], gaps: list[int]) -> tuple[list[list[int]], list[bool]]:
    """For several documents at once (numpy over the whole batch): the characters covered by the most frequent
    word n-gram for n in :data:`TOP_NS` (first one on ties, as :func:`_top_ngram_chars`), and whether any word
    5-gram repeats. N-grams are grouped by exact word ids (no hashing)."""
    nd = len(docs)
    counts = np.fromiter(map(len, docs), dtype=np.int64, count=nd)
    flat = [w for ws in docs for w in ws]
    vocab = {w: k for k, w in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    lens = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    csum = np.concatenate([[0], np.cumsum(lens)])
    doc = np.repeat(np.arange(nd, dtype=np.int64), counts)
    end = np.repeat(np.cumsum(counts), counts)  # one past each position's document
    n_all, n_voc = len(flat), max(len(vocab), 1)
    gap = np.asarray(gaps, dtype=np.int64)
    top = np.zeros((nd, len(TOP_NS)), dtype=np.int64)
    rep5 = np.zeros(nd, dtype=bool)
    gram = doc * n_voc + ids  # id of the (document, (n-1)-gram) starting at each position
    for n in range(2, SHINGLE_MIN + 1):
        m = n_all - n + 1
        pos = np.flatnonzero(np.arange(max(m, 0)) + n <= end[: max(m, 0)])
        if not len(pos):  # no document has n words (nor more)
            break
        _, first, inv, cnt = np.unique(
            gram[pos] * n_voc + ids[pos + n - 1], return_index=True, return_inverse=True, return_counts=True
        )
        gram = np.zeros(m, dtype=np.int64)
        gram[pos] = inv
        gdoc = doc[pos[first]]
        if n == SHINGLE_MIN:
            rep5[gdoc[cnt > 1]] = True
            break
        order = np.lexsort((first, -cnt, gdoc))  # per document: most frequent, then first seen
        lead = order[np.r_[True, gdoc[order][1:] != gdoc[order][:-1]]]
        d, best, fp = gdoc[lead], cnt[lead], pos[first[lead]]
        top[d, TOP_NS.index(n)] = (csum[fp + n] - csum[fp] + (n - 1) * gap[d]) * best
    return top.tolist(), rep5.tolist()


def gopher_repetition_batch(texts: list[str], toks: list[list[str]], *, aware: bool = False) -> list[tuple]:
    """:func:`gopher_repetition` of every document of a batch, the n-gram counting done for the batch at once."""
    out: list[tuple | None] = [None] * len(texts)
    todo: list[int] = []
    gaps: list[int] = []
    for i, (text, ws) in enumerate(zip(texts, toks, strict=True)):
        if not text or len(ws) > _BIG:
            out[i] = gopher_repetition(text, ws, aware=aware)
            continue
        gap = 1
        if aware and ws and UNSPACED.search(text) is not None:
            gap = 0 if count_unspaced(ws) * 2 > len(ws) else 1
        todo.append(i)
        gaps.append(gap)
    top, rep5 = _top_ngrams_batch([toks[i] for i in todo], gaps)
    for i, chars, rep in zip(todo, top, rep5, strict=True):
        text, ws = texts[i], toks[i]
        size = len(text)
        row = _line_fracs(text, size)
        row.extend(c / size for c in chars)
        if not rep:  # no repeated 5-gram, hence no repeated longer n-gram
            row.extend([0.0] * len(DUP_NS))
        elif len(ws) > _DUP_VECTOR:
            ids, csum = _word_ids(ws)
            row.extend(_dup_fracs(ids, csum, size))
        else:
            lens = list(map(len, ws))
            row.extend(_dup_ngram_chars(ws, lens, n) / size for n in DUP_NS)
        out[i] = tuple(row)
    return out  # type: ignore[return-value]


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
        rows = gopher_repetition_batch(texts, toks, aware=aware)
        return transpose(rows, list(self.columns))
