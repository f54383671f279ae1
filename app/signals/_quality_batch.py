"""Sharma et al.'s quality score for a whole batch of documents at once: the same numbers as the one-document
reference (:func:`app.signals.quality_sharma.document_score` with the word-list part-of-speech approximation),
with the per-word and per-character work done with numpy over every line of the batch instead of a Python loop
per word.

- Words: the patterns' words found with numpy from per-character classes over the batch's non-blank lines joined
  by newlines (:mod:`app.signals._letter_words`; no word holds a newline, so the newlines before a word give its
  line), and handed over as one Arrow string array: its dictionary encoding gives the batch's distinct words.
- Each distinct word's properties (stop word, determiner, object pronoun, function word, noun suffix, upper
  case first letter, length, lower-case form) are looked up once per batch (and remembered across batches).
- Per-character counts (whitespace, digits and punctuation) come from tables of the Basic Multilingual Plane's
  code points; characters beyond it are looked up one by one (rare).
- The line score adds the weighted indicators in the reference's order (same float64 rounding), and the
  document's token-weighted mean adds its lines in order.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from app.signals import _quality_words as q
from app.signals._letter_words import utf8_offsets, word_spans, word_strings
from app.signals._text import TERMINAL_PUNCTUATION
from app.signals._unspaced import _BASE, _MARK, UNSPACED

_STOP, _DET, _OBJ, _FUNC, _SUFFIX, _UPPER = 1, 2, 4, 8, 16, 32
_MAX_WORDS = 500_000
_SPACE, _DIGIT_PUNCT, _LETTER, _LATIN, _UNSPACED, _BASE_BIT, _MARK_BIT = 1, 2, 4, 8, 16, 32, 64
#: The two character classes of the language-aware word pattern: a letter of a script without spaces, a mark.
_BASE_CLASS = re.compile(f"[{_BASE}]")
_MARK_CLASS = re.compile(f"[{_MARK}]")


class _Vocab:
    """Every word seen (bounded, forgotten all at once between batches when full): an id per word (0 is the
    newline), and per id the word's property bits, length and lower-case form's id."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"\n": 0}
        self.lower_ids: dict[str, int] = {}
        self.bits = np.zeros(1, dtype=np.int64)
        self.lens = np.zeros(1, dtype=np.int64)
        self.lower = np.zeros(1, dtype=np.int64)

    def add(self, words: set[str]) -> None:
        """Give the new ``words`` ids and properties (the reference's set look-ups and noun-suffix test)."""
        ws = list(words)
        n = len(ws)
        self.ids.update(zip(ws, range(len(self.ids), len(self.ids) + n)))
        low = list(map(str.lower, ws))
        fresh = set(low).difference(self.lower_ids)
        self.lower_ids.update(zip(fresh, range(len(self.lower_ids), len(self.lower_ids) + len(fresh))))

        def has(pred: Any, items: list[str]) -> np.ndarray:
            return np.fromiter(map(bool, map(pred, items)), dtype=bool, count=n)

        bits = (
            has(q.STOP.__contains__, low) * _STOP
            | has(q.DETERMINERS.__contains__, low) * _DET
            | has(q._OBJECT_ONLY.__contains__, low) * _OBJ
            | has(q.FUNCTION.__contains__, low) * _FUNC
            | has(q._NOUN_SUFFIX.search, low) * _SUFFIX
            | has(str.isupper, list(map(itemgetter(0), ws))) * _UPPER
        )
        self.bits = np.concatenate([self.bits, bits.astype(np.int64)])
        self.lens = np.concatenate([self.lens, np.fromiter(map(len, ws), dtype=np.int64, count=n)])
        self.lower = np.concatenate([self.lower, np.fromiter(map(self.lower_ids.__getitem__, low), np.int64, n)])

    def encode_array(self, words: pa.Array) -> np.ndarray:
        """The id of every word of an Arrow string array (each distinct word looked up once)."""
        enc = words.dictionary_encode()
        distinct = enc.dictionary.to_pylist()
        new = set(distinct).difference(self.ids)
        if new:
            self.add(new)
        ids = np.fromiter(map(self.ids.__getitem__, distinct), dtype=np.int64, count=len(distinct))
        return ids[enc.indices.to_numpy(zero_copy_only=False)]


_VOCAB = _Vocab()


def _char_kind(c: str) -> int:
    """Bits of one character: whitespace (what ``str.split`` splits on), a digit or punctuation mark
    (``_DIGIT_PUNCT``), a letter (``_LETTER``), a Latin letter (``_LATIN``), a letter or mark of a script
    written without spaces (``UNSPACED``)."""
    return (
        (_SPACE if c.isspace() else 0)
        | (_DIGIT_PUNCT if q._DIGIT_PUNCT.match(c) else 0)
        | (_LETTER if q._LETTER.match(c) else 0)
        | (_LATIN if q._LATIN.match(c) else 0)
        | (_UNSPACED if UNSPACED.match(c) else 0)
        | (_BASE_BIT if _BASE_CLASS.match(c) else 0)
        | (_MARK_BIT if _MARK_CLASS.match(c) else 0)
    )


@lru_cache(maxsize=1)
def _bmp_kinds() -> np.ndarray:
    """:func:`_char_kind` of every code point of the Basic Multilingual Plane."""
    return np.fromiter((_char_kind(chr(c)) for c in range(0x10000)), dtype=np.int8, count=0x10000)


def _codes_kinds(joined: str) -> tuple[np.ndarray, np.ndarray]:
    """(code point, :func:`_char_kind`) of every character of ``joined``."""
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    bmp = cp < 0x10000
    kind = _bmp_kinds()[np.where(bmp, cp, 0)]
    if not bmp.all():
        far = np.flatnonzero(~bmp)
        kind[far] = [_char_kind(chr(c)) for c in cp[far].tolist()]
    return cp, kind


def _kinds(joined: str) -> np.ndarray:
    """:func:`_char_kind` of every character of ``joined``."""
    return _codes_kinds(joined)[1]


def _per_segment(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many of ``mask`` are set in each segment beginning at ``starts`` (the last runs to the end)."""
    if not len(mask):
        return np.zeros(len(starts), dtype=np.int64)
    return np.add.reduceat(mask.astype(np.int64), starts)


def neutral_masks(texts: list[str]) -> list[tuple[bool, ...] | None]:
    """:func:`app.signals.quality_sharma.neutral_mask` of every text, the letters counted for the batch at once."""
    out: list[tuple[bool, ...] | None] = [None] * len(texts)
    todo = [i for i, t in enumerate(texts) if not t.isascii()]
    if not todo:
        return out
    sub = [texts[i] for i in todo]
    kind = _kinds("".join(sub))
    starts = np.concatenate([[0], np.cumsum(np.fromiter(map(len, sub), dtype=np.int64, count=len(sub)))[:-1]])
    letters = _per_segment((kind & _LETTER) != 0, starts).tolist()
    latin = _per_segment((kind & _LATIN) != 0, starts).tolist()
    unspaced = _per_segment((kind & _UNSPACED) != 0, starts).tolist()
    masks = {
        u: tuple(not (k in q.ENGLISH_ONLY or (u and k in q.SPACED_ONLY)) for k in q.INDICATORS) for u in (False, True)
    }
    for i, n, lat, u in zip(todo, letters, latin, unspaced, strict=True):
        if n and lat * 2 < n:
            out[i] = masks[u > 0]
    return out


def _word_flags(joined: str, cp: np.ndarray, kind: np.ndarray, nl: int, aware: bool) -> dict[str, np.ndarray]:
    """Per line of ``joined`` (``nl`` lines joined by newlines; ``cp``, ``kind``: its characters' code points and
    kinds): word count, stop words, distinct lower-case words, determiner, object, noun, word lengths."""
    if len(_VOCAB.ids) > _MAX_WORDS:
        globals()["_VOCAB"] = _Vocab()
    vocab = _VOCAB
    letter = (kind & _LETTER) != 0
    if aware:
        starts, ends = word_spans(cp, letter, (kind & _BASE_BIT) != 0, (kind & _MARK_BIT) != 0)
    else:
        starts, ends = word_spans(cp, letter)
    data = joined.encode("utf-8", "surrogatepass")
    ids = vocab.encode_array(word_strings(data, utf8_offsets(cp, starts), utf8_offsets(cp, ends)))
    line = np.searchsorted(np.flatnonzero(cp == 10), starts)  # no word holds a newline: the newlines before it
    n_w = np.bincount(line, minlength=nl)
    first = np.concatenate([[0], np.cumsum(n_w)[:-1]])
    pos = np.arange(len(ids)) - first[line]
    b = vocab.bits[ids]
    det = (b & _DET) != 0
    prev_det = np.r_[False, det[:-1]] & (pos > 0)
    noun_w = ((b & _FUNC) == 0) & (((pos > 0) & (prev_det | ((b & _UPPER) != 0))) | ((b & _SUFFIX) != 0))
    obj_w = (det & (pos >= 2)) | (((b & _OBJ) != 0) & (pos >= 1))
    n_lower = max(len(vocab.lower_ids), 1)
    pairs = np.sort(line * n_lower + vocab.lower[ids])
    new_pair = np.r_[True, pairs[1:] != pairs[:-1]] if len(pairs) else np.zeros(0, dtype=bool)
    return {
        "n_w": n_w,
        "stops": np.bincount(line, weights=(b & _STOP) != 0, minlength=nl),
        "distinct": np.bincount(pairs[new_pair] // n_lower, minlength=nl),
        "det": np.bincount(line, weights=det, minlength=nl) > 0,
        "obj": np.bincount(line, weights=obj_w, minlength=nl) > 0,
        "noun": np.bincount(line, weights=noun_w, minlength=nl) > 0,
        "len_sum": np.bincount(line, weights=vocab.lens[ids], minlength=nl),
    }


def line_flags(lines: list[str], n_tok: np.ndarray, aware: bool) -> np.ndarray:
    """The 14 indicators (columns in :data:`app.signals.quality_sharma.INDICATORS` order, 0/1) of each line."""
    nl = len(lines)
    flags = np.zeros((nl, len(q.INDICATORS)), dtype=np.int64)
    if not nl:
        return flags
    joined = "\n".join(lines)
    cp, kind = _codes_kinds(joined)
    w = _word_flags(joined, cp, kind, nl, aware)
    n_w = w["n_w"]
    starts = np.concatenate([[0], np.cumsum(np.fromiter(map(len, lines), dtype=np.int64, count=nl) + 1)[:-1]])
    non_space = _per_segment((kind & _SPACE) == 0, starts)
    n_dp = _per_segment((kind & _DIGIT_PUNCT) != 0, starts)
    low = joined.lower()
    js = "javascript" in low or "lorem ipsum" in low
    letter, closers, terminal = q._LETTER.search, q._CLOSERS, TERMINAL_PUNCTUATION
    # per line: first letter capitalised, not all caps, no "{", terminal punctuation, no javascript/lorem ipsum
    firsts = [m.group() if m else "" for m in map(letter, lines)]
    py = np.zeros((nl, 5), dtype=np.int64)
    py[:, 0] = [1 if (f and (f.isupper() or not f.islower())) else 0 for f in firsts]
    py[:, 1] = [0 if ln.isupper() and sum(1 for c in ln if c.isupper()) >= 2 else 1 for ln in lines]
    py[:, 2] = [0 if "{" in ln else 1 for ln in lines]
    stripped = [ln.rstrip().rstrip(closers) for ln in lines]
    py[:, 3] = [1 if st and st[-1] in terminal else 0 for st in stripped]
    if js:
        py[:, 4] = [0 if ("javascript" in ln.lower() or "lorem ipsum" in ln.lower()) else 1 for ln in lines]
    else:
        py[:, 4] = 1
    safe_w = np.maximum(n_w, 1)
    safe_ns = np.maximum(non_space, 1)
    mean_len = np.where(n_w > 0, w["len_sum"] / safe_w, 0.0)
    flags[:, 0] = py[:, 0]
    flags[:, 1] = py[:, 1]
    flags[:, 2] = (n_w <= 1) | ((1 - w["distinct"] / safe_w) <= 0.2)
    flags[:, 3] = (non_space > 0) & (n_dp / safe_ns <= 0.25)
    flags[:, 4] = py[:, 2]
    flags[:, 5] = py[:, 3]
    flags[:, 6] = w["stops"] >= 2
    flags[:, 7] = py[:, 4]
    flags[:, 8] = (n_tok >= 5) & (n_tok <= 256)
    flags[:, 9] = (n_w >= 3) & (n_w <= 100)
    flags[:, 10] = w["obj"]
    flags[:, 11] = w["noun"]
    flags[:, 12] = w["det"]
    flags[:, 13] = (mean_len >= 3) & (mean_len <= 10)
    return flags


def document_scores(
    texts: list[str], weights: list[float], line_tokens: list[list[list[str]]], *, aware: bool
) -> tuple[list[float | None], list[int]]:
    """(quality score, non-blank lines) of every text: :func:`app.signals.quality_sharma.document_score` with
    the approximate part-of-speech flags, for the batch at once."""
    lines: list[str] = []
    ntok: list[int] = []
    doc_of: list[int] = []
    nlines = [0] * len(texts)
    for d, (t, toks) in enumerate(zip(texts, line_tokens, strict=True)):
        for i, ln in enumerate(t.splitlines()):
            if ln.strip():
                lines.append(ln)
                ntok.append(len(toks[i]))
                doc_of.append(d)
                nlines[d] += 1
    n_tok = np.asarray(ntok, dtype=np.int64)
    flags = line_flags(lines, n_tok, aware)
    # the weights of each document (the language-neutral variant leaves some out), one row per line
    masks = neutral_masks(texts) if aware else [None] * len(texts)
    variants: dict[tuple[bool, ...] | None, int] = {}
    doc_var = [variants.setdefault(m, len(variants)) for m in masks]
    wrows = [weights if m is None else [x if k else 0.0 for x, k in zip(weights, m)] for m in variants]
    wsums = [float(sum(r)) for r in wrows]
    wmat = np.asarray(wrows, dtype=np.float64)[np.asarray([doc_var[d] for d in doc_of], dtype=np.int64)]
    if not len(lines):
        wmat = np.zeros((0, len(weights)))
    acc = np.zeros(len(lines), dtype=np.float64)
    for k in range(len(weights)):  # the reference's sum over indicators, in order
        acc = acc + wmat[:, k] * flags[:, k]
    wsum_line = np.asarray([wsums[doc_var[d]] for d in doc_of], dtype=np.float64)
    score = acc / np.where(wsum_line > 0, wsum_line, 1.0)
    # token-weighted sums per document, each added in line order as the reference does (bincount adds its weights
    # in input order; a line without tokens adds 0.0)
    docs = np.asarray(doc_of, dtype=np.int64)
    num = np.bincount(docs, weights=score * n_tok, minlength=len(texts)).tolist()
    den = np.bincount(docs, weights=n_tok.astype(np.float64), minlength=len(texts)).tolist()
    out = [(num[d] / den[d] if den[d] else None) if wsums[doc_var[d]] else None for d in range(len(texts))]
    return out, nlines
