"""Top-k lists from many small score blocks without a partial sort of every score (the map's inverted-file searches).

The searches of :mod:`app.maps.knn` (``knn_ivf``) and :mod:`app.maps.probe` score each query against the members of
several cells, one cell at a time. Taking each block's top k with ``argpartition`` cost more than the products
themselves (measured: 40 of 60 CPU-s of the per-cluster stage on clusters of 100,000 members). Here a query's
first block (its nearest cell) is partially sorted as before; its k-th best score there is a lower bound on its
final k-th best, so in every later block only the scores at or above it are kept (one comparison per score), at
most k per query and block. The final lists are the top k of the kept candidates, best first, ties by row: the same
lists as a top k of every score, except which of several rows tied at the k-th similarity is kept.
"""

from __future__ import annotations

import numpy as np


def block_top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(columns, scores)`` of the top ``min(k, columns)`` of each row (unordered), ``-inf`` entries included."""
    n = scores.shape[1]
    kk = min(k, n)
    top = np.argpartition(scores, n - kk, axis=1)[:, -kk:] if kk < n else np.broadcast_to(np.arange(n), scores.shape)
    return top, np.take_along_axis(scores, top, axis=1)


def kept(scores: np.ndarray, floor: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row, column)`` of the scores at or above their row's ``floor``, at most ``k`` per row (a row with more
    keeps its top k)."""
    n = scores.shape[1]
    r, c = np.divmod(np.flatnonzero(scores >= floor[:, None]), n)
    many = np.flatnonzero(np.bincount(r, minlength=len(scores)) > k)
    if len(many):
        top, _ = block_top(scores[many], k)
        few = ~np.isin(r, many)
        r = np.concatenate([r[few], np.repeat(many, top.shape[1])])
        c = np.concatenate([c[few], top.ravel()])
    return r, c


def not_self(scores: np.ndarray, q_rows: np.ndarray, rows: np.ndarray) -> None:
    """In place: ``-inf`` where a query's own row (``q_rows``, one per score row) is a column's row (``rows``)."""
    order = np.argsort(rows, kind="stable")
    pos = np.minimum(np.searchsorted(rows[order], q_rows), len(rows) - 1)
    hit = np.flatnonzero(rows[order[pos]] == q_rows)
    scores[hit, order[pos[hit]]] = -np.inf


def kth(sims: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k``-th best of ``sims`` (``-inf`` when it has fewer than ``k`` finite entries)."""
    if sims.shape[1] < k:
        return np.full(len(sims), -np.inf, dtype=np.float32)
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, sims.shape[1] - k].astype(np.float32)


class Candidates:
    """Candidate ``(query, row, similarity)`` triples gathered block by block; :meth:`lists` gives each query's top k."""

    def __init__(self, m: int, k: int) -> None:
        self.m, self.k = m, k
        self._q: list[np.ndarray] = []
        self._r: list[np.ndarray] = []
        self._s: list[np.ndarray] = []

    def add(self, q: np.ndarray, rows: np.ndarray, sims: np.ndarray) -> None:
        """Add triples (arrays of the same shape; ``-inf`` similarities are dropped)."""
        q, rows, sims = q.ravel(), rows.ravel(), sims.ravel()
        ok = np.isfinite(sims)
        self._q.append(q[ok].astype(np.int64, copy=False))
        self._r.append(rows[ok].astype(np.int64, copy=False))
        self._s.append(sims[ok].astype(np.float32, copy=False))

    def lists(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, similarities)`` ``[m, k]``: each query's best ``k`` candidates, best first, ties by row; missing
        entries are ``-1`` / ``-inf``. Callers add each ``(query, row)`` pair at most once."""
        m, k = self.m, self.k
        idx = np.full((m, k), -1, dtype=np.int64)
        sim = np.full((m, k), -np.inf, dtype=np.float32)
        if not self._q or k == 0:
            return idx, sim
        q, r, s = np.concatenate(self._q), np.concatenate(self._r), np.concatenate(self._s)
        self._q, self._r, self._s = [], [], []
        order = np.argsort(q, kind="stable")
        q, r, s = q[order], r[order], s[order]
        counts = np.bincount(q, minlength=m)
        rank = np.arange(len(q)) - (np.cumsum(counts) - counts)[q]
        width = max(k, int(counts.max()) if len(counts) else 0)
        pad_s = np.full((m, width), -np.inf, dtype=np.float32)  # each query's candidates in one row
        pad_r = np.full((m, width), -1, dtype=np.int64)
        pad_s[q, rank], pad_r[q, rank] = s, r
        top, sim = block_top(pad_s, k)
        idx = np.take_along_axis(pad_r, top, axis=1)
        o = np.lexsort((idx, -sim), axis=1)
        idx, sim = np.take_along_axis(idx, o, axis=1), np.take_along_axis(sim, o, axis=1)
        return np.where(np.isfinite(sim), idx, -1), sim
