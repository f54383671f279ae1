"""Word n-gram repetition counts for a whole batch of documents at once (numpy over flat arrays).

Used by :mod:`app.signals.gopher_repetition`; gives exactly the numbers of its one-document reference
(:func:`app.signals.gopher_repetition.gopher_repetition`), without a Python loop over every word of every
document: the short documents of a realmix batch are dominated by per-document overhead.

Every word of the batch gets an integer id (same word, same id); an n-gram's id is made from its (n-1)-gram's
id and its last word's id with a hash factorisation (``pandas.factorize``), so ids are exact (no hash
collisions) and numbered in order of first appearance. N-grams never span two documents: the first word's id
carries its document.

- Top n-gram (n = 2, 3, 4): per document the most frequent n-gram, the first seen on ties.
- Duplicate n-grams (n = 5..10): DataTrove's greedy scan (a repeat adds its characters and skips its n words).
  Only positions whose n-gram occurs more than once can matter, so the sequential scan visits those only, and
  only in documents where some 5-gram repeats (no repeated 5-gram, no repeated longer one).
"""

from __future__ import annotations

from itertools import chain

import numpy as np
import pandas as pd

TOP_NS = (2, 3, 4)
DUP_NS = (5, 6, 7, 8, 9, 10)


def _factorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per key numbered by first appearance, count per code)."""
    codes, uniq = pd.factorize(keys, sort=False)
    codes = codes.astype(np.int64, copy=False)
    return codes, np.bincount(codes, minlength=len(uniq))


def _first_positions(codes: np.ndarray) -> np.ndarray:
    """Index of each code's first appearance (codes are numbered by first appearance)."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    run_max = np.maximum.accumulate(codes)
    return np.flatnonzero(np.r_[True, codes[1:] > run_max[:-1]])


def _top(
    codes: np.ndarray, counts: np.ndarray, pos: np.ndarray, doc: np.ndarray, csum: np.ndarray, n: int, gap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(documents, characters covered by their most frequent n-gram times its count)."""
    first = pos[_first_positions(codes)]  # position of each code's first occurrence
    gdoc = doc[first]  # non-decreasing: positions are in document order, codes in first-appearance order
    starts = np.flatnonzero(np.r_[True, gdoc[1:] != gdoc[:-1]])
    dmax = np.maximum.reduceat(counts, starts)
    best = np.repeat(dmax, np.diff(np.r_[starts, len(gdoc)]))
    cand = np.flatnonzero(counts == best)  # most frequent n-grams, in first-seen order within each document
    lead = cand[np.r_[True, gdoc[cand][1:] != gdoc[cand][:-1]]]
    d, fp, cnt = gdoc[lead], first[lead], counts[lead]
    return d, (csum[fp + n] - csum[fp] + (n - 1) * gap[d]) * cnt


def _greedy_dup(
    positions: list[int], grams: list[int], docs: list[int], chars: list[int], n: int, out: np.ndarray
) -> None:
    """DataTrove's greedy duplicate scan over the positions whose n-gram occurs more than once (in position
    order); adds each document's repeated characters to ``out``. A position skipped by an earlier repeat is not
    visited (its n-gram is not remembered); n-grams occurring once are never repeats, so leaving them out
    changes nothing. Gram ids carry the document, so one ``seen`` set serves the batch."""
    seen: set[int] = set()
    add = seen.add
    nxt = -1
    acc = [0] * len(out)
    for p, g, d, c in zip(positions, grams, docs, chars):
        if p < nxt:
            continue
        if g in seen:
            acc[d] += c
            nxt = p + n
        else:
            add(g)
    out += np.asarray(acc, dtype=np.int64)


def ngram_chars(docs: list[list[str]], gaps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """For each document's words: characters of the top n-gram (n in :data:`TOP_NS`, times its count, words
    joined by ``gaps[d]`` characters) and of repeated n-grams (n in :data:`DUP_NS`); int64 arrays
    ``(len(docs), 3)`` and ``(len(docs), 6)``."""
    nd = len(docs)
    top = np.zeros((nd, len(TOP_NS)), dtype=np.int64)
    dup = np.zeros((nd, len(DUP_NS)), dtype=np.int64)
    counts = np.fromiter(map(len, docs), dtype=np.int64, count=nd)
    n_all = int(counts.sum())
    if n_all < 2:
        return top, dup
    flat = list(chain.from_iterable(docs))
    vocab = {w: k for k, w in enumerate(dict.fromkeys(flat))}
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=n_all)
    lens = np.fromiter(map(len, flat), dtype=np.int64, count=n_all)
    csum = np.concatenate([[0], np.cumsum(lens)])
    doc = np.repeat(np.arange(nd, dtype=np.int64), counts)
    end = np.repeat(np.cumsum(counts), counts)  # one past each position's document
    n_voc = max(len(vocab), 1)
    gap = np.asarray(gaps, dtype=np.int64)
    gram = doc * n_voc + ids  # id of the (document, 1-gram) at each position
    pos = np.arange(n_all, dtype=np.int64)
    rep = np.ones(nd, dtype=bool)  # documents where some 5-gram repeats (known from n = 5 on)
    for n in range(2, DUP_NS[-1] + 1):
        keep = pos + n <= end[pos]
        if n > DUP_NS[0]:
            keep &= rep[doc[pos]]
        pos = pos[keep]
        if not len(pos):
            break
        codes, cnt = _factorize(gram[pos] * n_voc + ids[pos + n - 1])
        gram = np.zeros(n_all, dtype=np.int64)
        gram[pos] = codes
        if n in TOP_NS:
            d, chars = _top(codes, cnt, pos, doc, csum, n, gap)
            top[d, TOP_NS.index(n)] = chars
            continue
        many = cnt[codes] > 1
        if n == DUP_NS[0]:
            rep = np.zeros(nd, dtype=bool)
            rep[doc[pos[many]]] = True
        mp = pos[many]
        if not len(mp):
            break
        col = np.zeros(nd, dtype=np.int64)
        _greedy_dup(mp.tolist(), codes[many].tolist(), doc[mp].tolist(), (csum[mp + n] - csum[mp]).tolist(), n, col)
        dup[:, DUP_NS.index(n)] = col
    return top, dup
