"""k nearest neighbours by cosine over L2-normalised float32 vectors.

Exact (blocked matrix products, memory bounded by ``block_bytes``) up to ``EXACT_LIMIT`` points; beyond
that a usearch HNSW index (approximate; its recall is measured in the benchmark).
"""

from __future__ import annotations

import os

import numpy as np

EXACT_LIMIT = 60_000


def _block_rows(n: int, block_bytes: int) -> int:
    return int(max(64, min(8192, block_bytes // max(1, 4 * n))))


def knn_exact(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    block_bytes: int = 256 << 20,
    progress: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (indices into ``base``, cosine similarities), best first. With ``exclude_self`` the
    queries are ``base`` itself and each point's own row is never its neighbour (duplicates still are)."""
    nq, nb = len(queries), len(base)
    k = min(k, nb - (1 if exclude_self else 0))
    idx = np.zeros((nq, max(k, 0)), dtype=np.int64)
    sim = np.zeros((nq, max(k, 0)), dtype=np.float32)
    if k <= 0:
        return idx, sim
    rows = _block_rows(nb, block_bytes)
    for s in range(0, nq, rows):
        e = min(nq, s + rows)
        scores = queries[s:e] @ base.T
        if exclude_self:
            scores[np.arange(e - s), np.arange(s, e)] = -np.inf
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < nb else np.tile(np.arange(nb), (e - s, 1))
        ps = np.take_along_axis(scores, part, axis=1)
        # sort by similarity desc, then index asc: ties (duplicates) come out in a stable order
        order = np.lexsort((part, -ps), axis=1)
        idx[s:e] = np.take_along_axis(part, order, axis=1)
        sim[s:e] = np.take_along_axis(ps, order, axis=1)
        if progress:
            progress(e, nq, "neighbours (exact)")
    return idx, sim


def usable_cores() -> int:
    """CPU cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def knn_ann(
    vectors: np.ndarray, k: int, *, seed: int = 0, threads: int = 0, progress: object = None
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k-NN of every point among the others with a usearch HNSW index (cosine)."""
    from usearch.index import Index

    threads = threads or usable_cores()
    n, d = vectors.shape
    index = Index(ndim=d, metric="cos", dtype="f16", connectivity=16, expansion_add=128, expansion_search=64)
    keys = np.arange(n, dtype=np.uint64)
    step = 100_000
    for s in range(0, n, step):
        index.add(keys[s : s + step], vectors[s : s + step], threads=threads)
        if progress:
            progress(min(n, s + step), 2 * n, "neighbours (building index)")
    idx = np.zeros((n, k), dtype=np.int64)
    sim = np.zeros((n, k), dtype=np.float32)
    for s in range(0, n, step):
        e = min(n, s + step)
        m = index.search(vectors[s:e], k + 1, threads=threads)
        keys_m = m.keys.astype(np.int64)
        dist = m.distances.astype(np.float32)
        for r in range(e - s):
            row_k, row_d = keys_m[r], dist[r]
            keep = row_k != s + r
            kk, dd = row_k[keep][:k], row_d[keep][:k]
            idx[s + r, : len(kk)] = kk
            sim[s + r, : len(kk)] = 1.0 - dd
            if len(kk) < k:  # index returned fewer hits than asked: pad with the last one
                idx[s + r, len(kk) :] = kk[-1] if len(kk) else (s + r)
                sim[s + r, len(kk) :] = sim[s + r, len(kk) - 1] if len(kk) else 0.0
        if progress:
            progress(n + e, 2 * n, "neighbours (searching)")
    return idx, sim


def knn_all(
    vectors: np.ndarray, k: int = 10, *, exact_limit: int = EXACT_LIMIT, progress: object = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """k-NN of every point among the others: ``(indices, similarities, method)``."""
    if len(vectors) <= exact_limit:
        idx, sim = knn_exact(vectors, vectors, k, exclude_self=True, progress=progress)
        return idx, sim, "exact"
    idx, sim = knn_ann(vectors, k, progress=progress)
    return idx, sim, "usearch-hnsw"
