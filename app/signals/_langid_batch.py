"""py3langid's classifier for a whole batch at once, with exactly py3langid's results but without its per-byte
Python loop.

py3langid counts byte n-gram features by walking a deterministic automaton one byte at a time in Python
(``visit_counts``), which is most of its cost. The automaton of the shipped model is an Aho-Corasick automaton
over n-grams of at most :data:`WINDOW` bytes: the state after reading a text depends only on the text's last
``WINDOW`` bytes (the longest suffix that is a prefix of a feature). So the state at every position of every
text of a batch can be computed at once with numpy, ``WINDOW`` table look-ups per byte, starting each
position's walk at the initial state ``WINDOW`` bytes earlier (or at the start of its text).

The feature counts then go through the same arithmetic as py3langid (``log1p(counts) @ ptc[features] + pc``
with the features in first-seen order, the same float32 operations, softmax at temperature
``sqrt(bytes)``, script aliases folded), so codes and probabilities are bit-identical; this is checked
against ``LanguageIdentifier.classify``/``rank`` on realmix by ``tests/test_signals_speed.py``. A model that
is not the shipped one (other sizes) is not assumed to have that property: :func:`fast_model` returns None and
callers use py3langid itself.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np

#: Longest feature of the shipped model in bytes (deepest automaton state, measured by breadth-first search).
WINDOW = 6
#: (states, feature rows, classes) of the model whose automaton was measured: py3langid 0.4's ``model.npz.xz``.
_MEASURED = (104_583, 100_053, 142)
#: Bytes walked per numpy pass (bounds the temporary arrays to a few tens of MB).
_CHUNK = 1 << 20


def encode(text: str) -> bytes:
    """py3langid's input encoding of a str: lowercased when all upper case, NFC, UTF-8 (surrogates passed)."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


class BatchIdentifier:
    """Scores of py3langid's ``LanguageIdentifier`` (with ``norm_probs=True``) for many texts at once."""

    def __init__(self, ident: Any) -> None:
        self.ident = ident
        self.next = np.frombuffer(ident.tk_nextmove, dtype=np.dtype(ident.tk_nextmove.typecode)).astype(np.int32)
        self.rowbase = np.asarray(ident.tk_row, dtype=np.int32) << 8
        self.out = np.asarray(ident.tk_output, dtype=np.int32)
        # the state after reading two bytes from the initial state, for every pair of bytes (256 KB): the first
        # two steps of every walk in one look-up of a table that stays in cache, instead of two in ``next``
        first = self.next[self.rowbase[0] + np.arange(256, dtype=np.int32)]
        self.start2 = self.next[self.rowbase[first][:, None] + np.arange(256, dtype=np.int32)[None, :]].ravel()
        # float32 copy of the float16 feature table: the same values the mixed-type product casts to, without
        # casting again for every text (about 57 MB)
        self.ptc = np.asarray(ident.nb_ptc, dtype=np.float32)
        self.classes = list(ident.nb_classes)
        # each label's first class (py3langid's rank keeps a label's first score), in class order
        first: dict[str, int] = {}
        for i, lang in enumerate(self.classes):
            first.setdefault(lang, i)
        self._first = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        self._labels = list(first)

    def _features(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The feature (or -1) emitted at every byte of ``data`` (int32 bytes of several texts); ``starts`` and
        ``ends``: the offsets where each text begins and ends."""
        n, w = len(data), WINDOW
        nxt, rowbase = self.next, self.rowbase
        state = np.zeros(n, dtype=np.int32)
        # every position at least WINDOW - 1 bytes into the batch: walk the WINDOW bytes ending there
        if n >= w:
            st = self.start2[(data[: n - w + 1] << 8) | data[1 : n - w + 2]]  # the steps back = w-1, w-2
            for back in range(w - 3, -1, -1):
                st = nxt[rowbase[st] + data[w - 1 - back : n - back]]
            state[w - 1 :] = st
        # the first WINDOW - 1 bytes of each text: walk from the text's start only
        head = (starts[:, None] + np.arange(w - 1, dtype=np.int64)[None, :]).ravel()
        head_start = np.repeat(starts, w - 1)
        keep = head < np.repeat(ends, w - 1)  # a text shorter than that: only its own bytes
        head, head_start = head[keep], head_start[keep]
        hs = np.zeros(len(head), dtype=np.int32)
        for back in range(w - 2, -1, -1):
            q = head - back
            ok = q >= head_start
            hs = np.where(ok, nxt[rowbase[hs] + data[np.where(ok, q, 0)]], hs)
        state[head] = hs
        return self.out[state]

    def scores(self, encoded: list[bytes]) -> np.ndarray:
        """Normalised class probabilities per encoded text (py3langid's ``_decide`` with ``norm_probs``), one
        float32 row per text."""
        out: list[np.ndarray] = []
        i = 0
        while i < len(encoded):
            j, size = i, 0
            while j < len(encoded) and (j == i or size + len(encoded[j]) <= _CHUNK):
                size += len(encoded[j])
                j += 1
            out.append(self._scores_chunk(encoded[i:j]))
            i = j
        if not out:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _scores_chunk(self, encoded: list[bytes]) -> np.ndarray:
        """Each text's product ``log1p(counts) @ ptc[features]`` on its own (the same float32 product as
        py3langid's, so the same rounding); the rest (``+ pc``, temperature, softmax, aliases) is elementwise
        float32 arithmetic, done for every row at once with the same operations in the same order."""
        nd = len(encoded)
        lens = np.fromiter(map(len, encoded), dtype=np.int64, count=nd)
        offsets = np.concatenate([[0], np.cumsum(lens)])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.int32)
        feats = self._features(data, offsets[:-1], offsets[1:])
        doc = np.repeat(np.arange(nd, dtype=np.int64), lens)
        hit = feats >= 0
        feats, doc = feats[hit].astype(np.int64), doc[hit]
        n_feat = int(self.out.max()) + 1
        allkeys = doc * n_feat + feats
        _, first, counts = np.unique(allkeys, return_index=True, return_counts=True)
        # per text, features in the order first seen (as Counter keeps): the first positions in increasing
        # order are the marked positions read left to right (no second sort)
        at = np.zeros(len(allkeys), dtype=counts.dtype)
        at[first] = counts
        seen = np.flatnonzero(at)
        keys, counts = allkeys[seen], at[seen]
        kdoc, kfeat = keys // n_feat, keys % n_feat
        bounds = np.searchsorted(kdoc, np.arange(nd + 1)).tolist()
        weights = np.log1p(counts.astype(np.float32))
        ptc, pc = self.ptc, self.ident.nb_pc
        scores = np.zeros((nd, len(self.classes)), dtype=np.float32)
        for k in range(nd):
            a, b = bounds[k], bounds[k + 1]
            if b > a:
                scores[k] = weights[a:b] @ ptc.take(kfeat[a:b], axis=0)
        has = np.diff(np.asarray(bounds)) > 0  # no feature: py3langid's uniform fill (zeros) under norm_probs
        scores[has] += pc
        scores *= (1.0 / np.sqrt(np.maximum(lens, 1).astype(np.float64))).astype(np.float32)[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for x, y in self.ident._alias_pairs:
            scores[:, x] += scores[:, y]
            scores[:, y] = 0.0
        return scores

    def classify(self, scores: np.ndarray) -> tuple[str, float]:
        """py3langid's ``classify`` from the scores: the best class and its probability."""
        i = int(scores.argmax())
        return self.classes[i], float(scores[i])

    def rank(self, scores: np.ndarray) -> list[tuple[str, float]]:
        """py3langid's ``rank`` from the scores: one entry per label (its first class's score), best first, equal
        scores in class order (a stable sort of the negated scores: what a stable descending sort gives)."""
        vals = scores[self._first]
        order = np.argsort(-vals, kind="stable").tolist()
        v = vals.tolist()
        return [(self._labels[i], v[i]) for i in order]


def fast_model(ident: Any) -> BatchIdentifier | None:
    """A :class:`BatchIdentifier` for py3langid's shipped model; None for any other model or settings."""
    try:
        shape = (len(ident.tk_row), int(ident.nb_ptc.shape[0]), len(ident.nb_classes))
        if shape != _MEASURED or not ident._norm_probs or ident.min_confidence is not None:
            return None
        return BatchIdentifier(ident)
    except (AttributeError, TypeError, ValueError):
        return None
