"""A batch's word tokens as flat arrays: one integer id per token (same string, same id), each distinct token's
length, and where each document's tokens start. Built once per batch and shared by the families that count
over tokens (Gopher repetition and quality), so per-token work is numpy over the batch, and per-string work
(a regular expression, a set test) runs once per distinct token instead of once per token.

Ids come from Arrow's dictionary encoding of the batch's tokens (hashing in C, numbered by first appearance);
a batch whose tokens Arrow cannot encode (a lone surrogate has no UTF-8 form) gets its ids from a Python dict
instead, with the same numbering. Lengths are Python's ``len`` (code points) of each distinct token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain

import numpy as np
import pyarrow as pa

from app.signals._unspaced import UNSPACED


@dataclass
class TokenArrays:
    """The tokens of a batch of documents (``docs[d]`` = document d's tokens) as flat arrays."""

    #: distinct tokens, in order of first appearance
    vocab: list[str]
    #: int64 id (index into :attr:`vocab`) of every token of the batch, documents one after the other
    ids: np.ndarray
    #: int64 length of each distinct token
    vlens: np.ndarray
    #: int64 number of tokens of each document
    counts: np.ndarray
    #: per-distinct-token flags already computed (see :meth:`flag`)
    _flags: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def doc(self) -> np.ndarray:
        """The document of every token."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int64), self.counts)

    def flag(self, name: str, pred: Callable[[str], object]) -> np.ndarray:
        """``bool(pred(token))`` of every distinct token, computed once per batch under ``name``."""
        got = self._flags.get(name)
        if got is None:
            got = np.fromiter(map(bool, map(pred, self.vocab)), dtype=bool, count=len(self.vocab))
            self._flags[name] = got
        return got

    def unspaced(self) -> np.ndarray:
        """:func:`starts_unspaced` of every token of the batch."""
        return self.flag("unspaced", starts_unspaced)[self.ids]

    def distinct_per_doc(self, token_mask: np.ndarray) -> np.ndarray:
        """How many distinct tokens ``token_mask`` selects in each document (int64)."""
        sel = np.flatnonzero(token_mask)
        if not len(sel):
            return np.zeros(len(self.counts), dtype=np.int64)
        pairs = np.unique(self.doc[sel] * max(len(self.vocab), 1) + self.ids[sel])
        return np.bincount(pairs // max(len(self.vocab), 1), minlength=len(self.counts)).astype(np.int64)

    def per_doc(self, token_mask: np.ndarray) -> np.ndarray:
        """How many tokens of each document ``token_mask`` (one bool per token) selects (int64)."""
        if not len(token_mask):
            return np.zeros(len(self.counts), dtype=np.int64)
        return np.bincount(self.doc[token_mask], minlength=len(self.counts)).astype(np.int64, copy=False)

    def sum_per_doc(self, values: np.ndarray) -> np.ndarray:
        """Sum of an int64 value per token over each document's tokens (exact below 2**53)."""
        if not len(values):
            return np.zeros(len(self.counts), dtype=np.int64)
        return np.bincount(self.doc, weights=values, minlength=len(self.counts)).astype(np.int64)


def starts_unspaced(tok: str) -> bool:
    """The token is a unit of a script without spaces (:func:`app.signals._unspaced.is_unspaced`; ASCII never is)."""
    return not tok.isascii() and UNSPACED.match(tok) is not None


def _encode(flat: list[str]) -> tuple[list[str], np.ndarray]:
    """(distinct tokens in order of first appearance, id of every token)."""
    try:
        enc = pa.array(flat, type=pa.string()).dictionary_encode()
    except (pa.ArrowException, UnicodeEncodeError):  # e.g. a lone surrogate: no UTF-8 form
        ids: dict[str, int] = {}
        for w in flat:
            ids.setdefault(w, len(ids))
        return list(ids), np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    return enc.dictionary.to_pylist(), enc.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def build(docs: list[list[str]]) -> TokenArrays:
    """:class:`TokenArrays` of a batch's tokens."""
    counts = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
    flat = list(chain.from_iterable(docs))
    vocab, ids = _encode(flat)
    vlens = np.fromiter(map(len, vocab), dtype=np.int64, count=len(vocab))
    return TokenArrays(vocab=vocab, ids=ids, vlens=vlens, counts=counts)


#: The last batch's arrays: ``[docs, arrays]`` (families scoring the same batch share them).
_LAST: list = [None, None]


def token_arrays(docs: list[list[str]]) -> TokenArrays:
    """:func:`build`, memoised on the ``docs`` object (:func:`app.signals._text.words_batch` returns the same
    list for every family of a batch, and a new one for a new batch or after ``reset_memo``)."""
    if _LAST[0] is docs:
        return _LAST[1]
    ta = build(docs)
    _LAST[0], _LAST[1] = docs, ta
    return ta


def forget() -> None:
    """Drop the last batch's arrays (:func:`app.signals._text.reset_memo`)."""
    _LAST[0] = _LAST[1] = None
