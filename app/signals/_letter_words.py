"""The words of the quality score's patterns (:data:`app.signals._quality_words._WORD` and ``_WORD_AWARE``) found
with numpy from per-character classes, and handed over as Arrow strings: no regular expression scan and no
Python string per word (a batch of short documents spent most of its quality time there).

The patterns, as ``findall`` applies them left to right:

- plain: a maximal run of letters (``[^\\W\\d_]``), joined to the next run when exactly one apostrophe (``'`` or
  ``’``) separates them; the next run then starts no word, so in a chain of runs linked by apostrophes the runs
  pair up from the left (``a'b'c`` gives ``a'b`` and ``c``).
- language-aware: each letter of a script without spaces (``_BASE``) with the combining marks (``_MARK``) right
  after it is a word; the other words are the plain pattern's over letters that are neither.

Character classes are decided by the very character classes of those patterns (Python's ``re``), one code point
at a time (:mod:`app.signals._quality_batch` tables them), so the words are exactly ``findall``'s.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_APOSTROPHES = (ord("'"), ord("’"))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every maximal run of True in ``mask``."""
    edges = np.diff(np.concatenate([[False], mask, [False]]).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _paired(starts: np.ndarray, ends: np.ndarray, apos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Words of letter runs: runs linked by one apostrophe pair up from the left of each chain."""
    if not len(starts):
        return starts, ends
    # run k links to run k+1 when one apostrophe lies between them
    link = np.zeros(len(starts), dtype=bool)
    link[:-1] = (starts[1:] == ends[:-1] + 1) & apos[np.minimum(ends[:-1], len(apos) - 1)]
    # position of each run within its chain (a chain starts at a run no link leads to)
    new_chain = np.concatenate([[True], ~link[:-1]])
    chain_first = np.maximum.accumulate(np.where(new_chain, np.arange(len(starts)), 0))
    head = (np.arange(len(starts)) - chain_first) % 2 == 0
    k = np.flatnonzero(head)
    return starts[k], np.where(link[k], ends[np.minimum(k + 1, len(ends) - 1)], ends[k])


def word_spans(
    cp: np.ndarray, letter: np.ndarray, base: np.ndarray | None = None, mark: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) character offsets of the words of a text given its code points ``cp`` and per-character masks:
    ``letter`` (``[^\\W\\d_]``), and for the language-aware pattern ``base`` and ``mark`` (None: plain pattern)."""
    apos = (cp == _APOSTROPHES[0]) | (cp == _APOSTROPHES[1])
    if base is None or mark is None:
        return _paired(*_runs(letter), apos)
    s, e = _paired(*_runs(letter & ~base & ~mark), apos)
    b = np.flatnonzero(base)
    if not len(b):
        return s, e
    # each base letter with the marks right after it: the word ends at the first non-mark after it
    not_mark = np.flatnonzero(~mark)
    nxt = np.searchsorted(not_mark, b + 1)
    b_end = np.where(nxt < len(not_mark), not_mark[np.minimum(nxt, len(not_mark) - 1)], len(cp))
    starts = np.concatenate([s, b])
    order = np.argsort(starts, kind="stable")
    return starts[order], np.concatenate([e, b_end])[order]


def utf8_offsets(cp: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Byte offsets in the UTF-8 (surrogatepass) encoding of the characters at positions ``at`` (sorted): the
    position plus the extra bytes of the non-ASCII characters before it (arrays the size of those characters
    only, not of the text)."""
    far = np.flatnonzero(cp >= 0x80)
    if not len(far):
        return at.astype(np.int64)
    extra = np.concatenate([[0], np.cumsum(1 + (cp[far] >= 0x800).astype(np.int64) + (cp[far] >= 0x10000))])
    return at + extra[np.searchsorted(far, at)]


def word_strings(data: bytes, bstarts: np.ndarray, bends: np.ndarray) -> pa.Array:
    """The words as an Arrow string array sliced out of ``data`` (the text's UTF-8 bytes) at byte offsets
    ``bstarts``/``bends``: the words and the gaps between them make one array over the same buffer, the words are
    taken."""
    n = len(bstarts)
    if not n:
        return pa.array([], type=pa.large_string())
    offs = np.empty(2 * n, dtype=np.int64)
    offs[0::2] = bstarts
    offs[1::2] = bends
    arr = pa.LargeStringArray.from_buffers(2 * n - 1, pa.py_buffer(offs), pa.py_buffer(data))
    return arr.take(pa.array(np.arange(0, 2 * n, 2, dtype=np.int64)))
