"""Embedding-based selection signals from the seed papers.

- SemDeDup (Abbas et al. 2023): inside each cluster, a document whose cosine similarity to an
  earlier document (id order) exceeds ``1 - eps`` is a semantic duplicate of the most similar such
  one. Exact: blocked matrix products within each cluster.
- Density / outlier score: mean cosine distance to the k nearest neighbours (high = isolated).
- Target similarity (CiT, Xu et al. 2023; RDS+): max and mean cosine similarity of every document to a
  set of target examples.
"""

from __future__ import annotations

import numpy as np


def semdedup(
    vectors: np.ndarray, clusters: np.ndarray, *, eps: float = 0.05, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """``(dup_of index or -1, best similarity to an earlier doc in the cluster or nan)`` per row."""
    n = len(vectors)
    dup_of = np.full(n, -1, dtype=np.int64)
    best = np.full(n, np.nan, dtype=np.float32)
    thr = 1.0 - float(eps)
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)  # ascending = id order (vectors are sorted by id)
        if len(members) < 2:
            continue
        xc = vectors[members]
        s = 1
        while s < len(members):
            rows_here = int(max(16, min(block, (64 << 20) // max(1, s + block))))  # bounded memory: <= 256 MB
            e = min(len(members), s + rows_here)
            sims = xc[s:e] @ xc[:e].T  # rows s..e against every earlier-or-same member
            rows = np.arange(e - s)
            cols = np.arange(e)
            sims[cols[None, :] >= (rows[:, None] + s)] = -np.inf  # only strictly earlier members
            j = sims.argmax(axis=1)
            v = sims[rows, j]
            best[members[s:e]] = v
            hit = v > thr
            dup_of[members[s:e][hit]] = members[j[hit]]
            s = e
    return dup_of, best


def density(knn_sim: np.ndarray) -> np.ndarray:
    """Mean cosine distance to the k nearest neighbours (``1 - similarity``)."""
    if knn_sim.size == 0:
        return np.zeros(len(knn_sim), dtype=np.float32)
    return (1.0 - knn_sim).mean(axis=1).astype(np.float32)


def target_similarity(vectors: np.ndarray, targets: np.ndarray, *, block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """``(max, mean)`` cosine similarity of each row of ``vectors`` to the rows of ``targets``."""
    mx = np.empty(len(vectors), dtype=np.float32)
    mean = np.empty(len(vectors), dtype=np.float32)
    for s in range(0, len(vectors), block):
        sims = vectors[s : s + block] @ targets.T
        mx[s : s + block] = sims.max(axis=1)
        mean[s : s + block] = sims.mean(axis=1)
    return mx, mean
