"""k nearest neighbours by cosine over L2-normalised float32 vectors.

Exact (blocked matrix products, memory bounded by ``block_bytes``) up to ``EXACT_LIMIT`` points; beyond
that an inverted-file search (:func:`knn_ivf`: spherical k-means cells, exact products inside the
``nprobe`` nearest cells of each point), whose recall against exact search is measured in the benchmark.
A usearch HNSW index (:func:`knn_ann`) is kept for comparison: on 2 cores it builds too slowly at 1M.
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


def one_blas_thread() -> object:
    """A context with BLAS on one thread: these loops run many small products, and a second BLAS thread spends
    more CPU waiting between them than it saves (measured: 4x the CPU seconds of the search on 2 cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _train_cells(vectors: np.ndarray, cells: int, *, seed: int, iters: int = 8) -> np.ndarray:
    """Spherical k-means centroids (unit rows) from a sample of at most 40 points per cell."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    sample = vectors[np.sort(rng.choice(n, min(n, cells * 40), replace=False))]
    cent = sample[rng.choice(len(sample), cells, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(sample @ cent.T, axis=1)
        order = np.argsort(assign, kind="stable")
        starts = np.searchsorted(assign[order], np.arange(cells))
        counts = np.bincount(assign, minlength=cells)
        sums = np.add.reduceat(sample[order], np.minimum(starts, len(sample) - 1), axis=0)
        filled = counts > 0
        cent[filled] = sums[filled]
        cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return cent.astype(np.float32)


def knn_ivf(
    vectors: np.ndarray,
    k: int,
    *,
    cells: int | None = None,
    nprobe: int = 8,
    seed: int = 0,
    block_rows: int = 65_536,
    block_elems: int = 16 << 20,
    progress: object = None,
    cells_out: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k-NN of every point among the others, best first. Points are filed under their nearest
    k-means centroid; each point is compared exactly with the members of its ``nprobe`` nearest cells.
    Deterministic for a seed; cost ~ n * nprobe * n/cells products instead of n * n. ``cells_out``: a dict that
    receives the cells (``cent``, unit centroids, and ``home``, each point's nearest) for reuse."""
    with one_blas_thread():
        return _knn_ivf(vectors, k, cells=cells, nprobe=nprobe, seed=seed, block_rows=block_rows,
                        block_elems=block_elems, progress=progress, cells_out=cells_out)  # fmt: skip


def _knn_ivf(
    vectors: np.ndarray,
    k: int,
    *,
    cells: int | None,
    nprobe: int,
    seed: int,
    block_rows: int,
    block_elems: int,
    progress: object,
    cells_out: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(vectors)
    cells = cells or int(min(4096, max(8, round(np.sqrt(n)))))
    nprobe = max(1, min(nprobe, cells))
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    cent = _train_cells(vectors, cells, seed=seed)
    probe = np.empty((n, nprobe), dtype=np.int32)
    home = np.empty(n, dtype=np.int32)
    for s in range(0, n, block_rows):
        sc = vectors[s : s + block_rows] @ cent.T
        part = (
            np.argpartition(-sc, nprobe - 1, axis=1)[:, :nprobe]
            if nprobe < cells
            else np.tile(np.arange(cells), (len(sc), 1))
        )
        probe[s : s + block_rows] = part
        home[s : s + block_rows] = np.argmax(sc, axis=1)
        if progress:
            progress(min(n, s + block_rows), 2 * n, "neighbours (cells)")
    from app.maps.topk import Candidates, block_top, kept, kth, not_self

    if cells_out is not None:
        cells_out.update(cent=cent, home=home)
    members_order = np.argsort(home, kind="stable")
    m_bounds = np.searchsorted(home[members_order], np.arange(cells + 1))
    flat_cell = probe.ravel()
    flat_point = np.repeat(np.arange(n, dtype=np.int64), nprobe)
    at_home = flat_cell == home[flat_point]
    cand = Candidates(n, k)
    floor = np.full(n, -np.inf, dtype=np.float32)  # a lower bound on each point's final k-th similarity
    done = 0
    # each point's own cell first (its top k there: the floor), then its other cells, scores above the floor only
    for phase in (at_home, ~at_home):
        cells_of, points = flat_cell[phase], flat_point[phase]
        q_order = np.argsort(cells_of, kind="stable")
        q_bounds = np.searchsorted(cells_of[q_order], np.arange(cells + 1))
        for c in range(cells):
            members = members_order[m_bounds[c] : m_bounds[c + 1]]
            qs = points[q_order[q_bounds[c] : q_bounds[c + 1]]]
            if len(members) == 0 or len(qs) == 0:
                continue
            base = vectors[members]
            step = max(64, block_elems // len(members))  # bounds memory when a cell is large (skewed data)
            for b in range(0, len(qs), step):
                qb = qs[b : b + step]
                scores = vectors[qb] @ base.T
                if phase is at_home:
                    not_self(scores, qb, members)  # a point is not its own neighbour
                    top, ts = block_top(scores, k)
                    cand.add(np.broadcast_to(qb[:, None], top.shape), members[top], ts)
                    floor[qb] = kth(ts, k)
                else:
                    r, col = kept(scores, floor[qb], k)
                    cand.add(qb[r], members[col], scores[r, col])
            done += len(qs)
            if progress:
                progress(n + done // nprobe, 2 * n, "neighbours (search)")
    best_idx, best_sim = cand.lists()
    missing = best_idx < 0  # fewer than k candidates in the probed cells: repeat the last one found
    if missing.any():
        for r in np.nonzero(missing.any(axis=1))[0]:
            found = int((~missing[r]).sum())
            best_idx[r, found:] = best_idx[r, found - 1] if found else r
            best_sim[r, found:] = best_sim[r, found - 1] if found else 0.0
    return best_idx, best_sim


def knn_all(
    vectors: np.ndarray, k: int = 10, *, exact_limit: int = EXACT_LIMIT, progress: object = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """k-NN of every point among the others: ``(indices, similarities, method)``."""
    if len(vectors) <= exact_limit:
        idx, sim = knn_exact(vectors, vectors, k, exclude_self=True, progress=progress)
        return idx, sim, "exact"
    idx, sim = knn_ivf(vectors, k, progress=progress)
    return idx, sim, "ivf"
