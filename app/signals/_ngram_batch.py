"""Word n-gram repetition counts for a whole batch of documents at once (numpy over flat arrays).

Used by :mod:`app.signals.gopher_repetition`; gives exactly the numbers of its one-document reference
(:func:`app.signals.gopher_repetition.gopher_repetition`), without a Python loop over every word of every
document: the short documents of a realmix batch are dominated by per-document overhead.

Every word of the batch gets an integer id (same word, same id: :mod:`app.signals._token_arrays`); an n-gram's
id is made from its (n-1)-gram's id and its last word's id with a hash factorisation (``pandas.factorize``), so
ids are exact (no hash collisions) and numbered in order of first appearance. N-grams never span two documents:
the first word's id carries its document. Only n-grams whose two (n-1)-grams both repeat are numbered (the
others occur once).

- Top n-gram (n = 2, 3, 4): per document the most frequent n-gram, the first seen on ties.
- Duplicate n-grams (n = 5..10): DataTrove's greedy scan (a repeat adds its characters and skips its n words).
  Only positions whose n-gram occurs more than once can matter, so the sequential scan visits those only, and
  only in documents where some 5-gram repeats (no repeated 5-gram, no repeated longer one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.signals._token_arrays import TokenArrays, token_arrays

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
    """(documents, characters covered by their most frequent n-gram times its count). ``codes``: the n-gram ids
    at positions ``pos`` (every occurrence of each, ids increasing with first appearance, not necessarily
    consecutive), ``counts[code]`` their counts."""
    at = _first_positions(codes)
    first = pos[at]  # position of each code's first occurrence
    counts = counts[codes[at]]
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
    return ngram_chars_arrays(token_arrays(docs), gaps)


def ngram_chars_arrays(ta: TokenArrays, gaps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ngram_chars` of a batch's :class:`app.signals._token_arrays.TokenArrays`.

    Only n-grams that can repeat are numbered: an n-gram occurs twice only if both (n-1)-grams inside it do,
    so each n counts the positions where both do (all positions of a document where no word repeats are left
    out at n = 2, and few remain for longer n). A document with no repeated n-gram has its first n-gram as the
    top one (count 1)."""
    counts = ta.counts
    nd = len(counts)
    top = np.zeros((nd, len(TOP_NS)), dtype=np.int64)
    dup = np.zeros((nd, len(DUP_NS)), dtype=np.int64)
    n_all = len(ta.ids)
    if n_all < 2:
        return top, dup
    ids = ta.ids
    csum = np.concatenate([[0], np.cumsum(ta.vlens[ids])])
    doc = ta.doc
    ends = np.cumsum(counts)
    starts = ends - counts
    end = np.repeat(ends, counts)  # one past each position's document
    gap = np.asarray(gaps, dtype=np.int64)
    for k, n in enumerate(TOP_NS):  # without a repeat: the first n-gram, once
        has = np.flatnonzero(counts >= n)
        s = starts[has]
        top[has, k] = csum[s + n] - csum[s] + (n - 1) * gap[has]
    n_voc = max(len(ta.vocab), 1)
    gram, cnt = _factorize(doc * n_voc + ids)  # the (document, word) at each position
    rep = cnt[gram] > 1  # the (n-1)-gram starting at each position occurs again in its document
    for n in range(2, DUP_NS[-1] + 1):
        pos = np.flatnonzero(rep[:-1] & rep[1:])
        pos = pos[pos + n <= end[pos]]
        if not len(pos):
            break
        codes, cnt = _factorize(gram[pos] * n_voc + ids[pos + n - 1])
        many = cnt[codes] > 1
        mp = pos[many]
        if not len(mp):
            break
        rep = np.zeros(n_all, dtype=bool)
        rep[mp] = True
        gram = np.zeros(n_all, dtype=np.int64)
        gram[pos] = codes
        mc = codes[many]
        if n in TOP_NS:
            d, chars = _top(mc, cnt, mp, doc, csum, n, gap)
            top[d, TOP_NS.index(n)] = chars
            continue
        col = np.zeros(nd, dtype=np.int64)
        _greedy_dup(mp.tolist(), mc.tolist(), doc[mp].tolist(), (csum[mp + n] - csum[mp]).tolist(), n, col)
        dup[:, DUP_NS.index(n)] = col
    return top, dup
