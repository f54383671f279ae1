"""Normalised words and word n-gram hashes for contamination matching, and the spans that explain a match.

Normalisation folds what a copy of a benchmark item typically changes without changing its content:
Unicode compatibility forms (NFKC: full-width letters, ligatures), case (casefold), punctuation and every
kind of whitespace or line break (words are runs of letters and digits, with combining marks kept inside
their word; everything else separates words). Re-wrapping a passage at another line width, re-casing it or
re-punctuating it therefore leaves its word sequence unchanged.

Words are first cut out of the original text, then normalised together (NFKC of the words joined by spaces,
so composition never crosses a word boundary), so the scoring path and the span path (which needs each
word's character offsets in the original) see exactly the same words.

An n-gram hash mixes ``n`` consecutive 64-bit word hashes (xxHash3) with fixed odd multipliers, vectorised
with numpy; the same words in the same order always give the same hash, on every machine.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

#: letters and digits, with combining marks (the common Unicode blocks) kept inside the word
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u0610-\u061a\u064b-\u065f\u0900-\u0903\u093a-\u094f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
#: the same words as :data:`WORD` in a text whose underscores are replaced by spaces (one character class
#: instead of an alternation: twice as fast; the replacement keeps every offset)
_FAST_WORD = re.compile(rf"[\w{_MARKS}]+")
_MUL = np.random.default_rng(20250116).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)
MAX_N = len(_MUL)


def _fold(words: list[str]) -> list[str]:
    """Normalise words cut from one text: NFKC + casefold, re-split (NFKC may turn one word into two)."""
    if not words:
        return []
    joined = " ".join(words)
    if joined.isascii():
        return joined.lower().split(" ")
    return _FAST_WORD.findall(unicodedata.normalize("NFKC", joined).casefold().replace("_", " "))


def words(text: str) -> list[str]:
    """The normalised words of ``text`` (see the module docstring)."""
    return _fold(_FAST_WORD.findall(text.replace("_", " ")))


def words_with_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Normalised words of ``text`` and, per word, its ``(start, end)`` character offsets in ``text``
    (a word NFKC splits in two gives two words with the same span). Same words as :func:`words`."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _FAST_WORD.finditer(text.replace("_", " ")):
        for w in _fold([m.group()]):
            out.append(w)
            spans.append(m.span())
    return out, spans


def word_hashes(ws: list[str]) -> np.ndarray:
    """xxHash3-64 of each word, as uint64."""
    import xxhash

    h = xxhash.xxh3_64_intdigest
    return np.fromiter((h(w.encode("utf-8", "surrogatepass")) for w in ws), dtype=np.uint64, count=len(ws))


def ngram_hashes(wh: np.ndarray, n: int) -> np.ndarray:
    """Hashes of every run of ``n`` consecutive words (``len(wh) - n + 1`` of them; none when shorter)."""
    m = len(wh) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    with np.errstate(over="ignore"):
        acc = wh[:m] * _MUL[0]
        for k in range(1, n):
            acc = (acc ^ (acc >> np.uint64(31))) + wh[k : m + k] * _MUL[k]
        acc ^= acc >> np.uint64(29)
    return acc


def ngram_hashes_many(wordlists: list[list[str]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram hashes of several word lists at once (no n-gram crosses two lists) and, per hash, the
    position of its list: the same values as :func:`ngram_hashes` per list, without its per-call cost."""
    lens = np.fromiter((len(w) for w in wordlists), dtype=np.int64, count=len(wordlists))
    m = np.maximum(lens - n + 1, 0)
    if not m.sum():
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    flat = word_hashes([w for ws in wordlists for w in ws])
    every = ngram_hashes(flat, n)
    starts = np.cumsum(lens) - lens
    total = int(m.sum())
    idx = np.repeat(starts - (np.cumsum(m) - m), m) + np.arange(total)
    return every[idx], np.repeat(np.arange(len(wordlists), dtype=np.int64), m)


def whole_hash(ws: list[str]) -> int:
    """One hash of a whole normalised word sequence (short items are matched only as a whole)."""
    import xxhash

    return xxhash.xxh3_64_intdigest("\x1f".join(ws).encode("utf-8", "surrogatepass"))


def match_spans(doc: str, item: str, *, n: int) -> list[tuple[int, int]]:
    """Character ranges of ``doc`` (offsets into the original string, end exclusive, merged, in order)
    covered by a word n-gram of ``item`` -- what a reader should see highlighted. An item shorter than
    ``n`` words is matched only as its whole word sequence (every occurrence)."""
    dw, dspans = words_with_spans(doc)
    iw = words(item)
    if not dw or not iw:
        return []
    covered = np.zeros(len(dw), dtype=bool)
    if len(iw) < n:
        k = len(iw)
        for i in range(len(dw) - k + 1):
            if dw[i : i + k] == iw:
                covered[i : i + k] = True
    else:
        hit = np.isin(ngram_hashes(word_hashes(dw), n), ngram_hashes(word_hashes(iw), n))
        for i in np.flatnonzero(hit):
            covered[i : i + n] = True
    out: list[tuple[int, int]] = []
    for i in np.flatnonzero(covered):
        s, e = dspans[i]
        if out and (covered[i - 1] if i else False):
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
