"""Placing millions of points on a UMAP map fitted on a sample, in blocks of numpy products.

Each point outside the sample goes to the similarity-weighted mean (weights ``sim ** 4``, as
:func:`app.maps.project.umap_2d`) of its 10 nearest sample points' 2-D positions. The in-memory path finds them by
an exact search over the whole sample (50,000 products per point); here an inverted file over the sample does:
spherical k-means cells (about sqrt(sample) of them, :func:`app.maps.knn._train_cells`), each point compared
exactly with the members of its :data:`NPROBE` nearest cells (about 8 / sqrt(sample) of the sample: 1,800 products
at 50,000). The bench reports how often the 10 found are the exact 10 and how far the placements move.
"""

from __future__ import annotations

from typing import Any

import numpy as np

NPROBE = 8
NEIGHBOURS = 10
BLOCK = 65_536


def ivf_search(
    queries: np.ndarray, base: np.ndarray, cent: np.ndarray, members: list[np.ndarray], *, k: int, nprobe: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` rows of ``base`` (indices, cosine) for each query, among the members of its ``nprobe`` nearest
    cells (``members[c]``: the rows of ``base`` filed under cell ``c``); missing entries are ``-1`` / ``-inf``."""
    nq, cells = len(queries), len(cent)
    nprobe = max(1, min(nprobe, cells))
    sc = queries @ cent.T
    probe = (
        np.argpartition(-sc, nprobe - 1, axis=1)[:, :nprobe] if nprobe < cells else np.tile(np.arange(cells), (nq, 1))
    )
    flat_cell = probe.ravel()
    flat_q = np.repeat(np.arange(nq), probe.shape[1])
    q_order = np.argsort(flat_cell, kind="stable")
    q_bounds = np.searchsorted(flat_cell[q_order], np.arange(cells + 1))
    best_idx = np.full((nq, k), -1, dtype=np.int64)
    best_sim = np.full((nq, k), -np.inf, dtype=np.float32)
    for c in range(cells):
        mem = members[c]
        qs = flat_q[q_order[q_bounds[c] : q_bounds[c + 1]]]
        if len(mem) == 0 or len(qs) == 0:
            continue
        scores = queries[qs] @ base[mem].T
        kk = min(k, len(mem))
        top = (
            np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
            if kk < len(mem)
            else np.tile(np.arange(len(mem)), (len(qs), 1))
        )
        all_idx = np.concatenate([best_idx[qs], mem[top]], axis=1)
        all_sim = np.concatenate([best_sim[qs], np.take_along_axis(scores, top, axis=1)], axis=1)
        sel = np.argpartition(-all_sim, k - 1, axis=1)[:, :k]
        best_idx[qs] = np.take_along_axis(all_idx, sel, axis=1)
        best_sim[qs] = np.take_along_axis(all_sim, sel, axis=1)
    order = np.lexsort((best_idx, -best_sim), axis=1)
    return np.take_along_axis(best_idx, order, axis=1), np.take_along_axis(best_sim, order, axis=1)


def sample_index(base: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(cell centroids, members per cell)`` of an inverted file over ``base`` (about sqrt(len) cells)."""
    from app.maps.knn import _train_cells

    cells = int(max(1, min(len(base), round(np.sqrt(len(base))))))
    cent = _train_cells(np.ascontiguousarray(base, dtype=np.float32), cells, seed=seed)
    home = np.argmax(base @ cent.T, axis=1)
    order = np.argsort(home, kind="stable")
    bounds = np.searchsorted(home[order], np.arange(cells + 1))
    return cent, [order[bounds[c] : bounds[c + 1]] for c in range(cells)]


def place_rest(
    x: Any,
    fit_idx: np.ndarray,
    fitted: np.ndarray,
    *,
    base: np.ndarray | None = None,
    seed: int = 0,
    nprobe: int = NPROBE,
    workers: int = 1,
    progress: Any = None,
) -> np.ndarray:
    """2-D coordinates of every row of ``x``: ``fitted`` for the rows ``fit_idx``, the weighted mean of the 10
    nearest fitted rows' positions for the others (block by block: memory ~ :data:`BLOCK` x sample / cells per
    worker). Blocks are independent: ``workers`` processes place them (:func:`app.maps.pool.ordered`), with the
    same coordinates for any number of workers. ``x``: an array, or a :class:`app.maps.scale.Spool` of the rows (read
    block by block: the streamed map keeps no copy in memory); ``base``: the rows ``fit_idx`` when already gathered."""
    n = len(x)
    coords = np.zeros((n, 2), dtype=np.float32)
    coords[fit_idx] = fitted
    if len(fit_idx) >= n:
        return coords
    from app.maps.pool import ordered

    base = np.ascontiguousarray(x[fit_idx] if base is None else base)
    cent, members = sample_index(base, seed=seed)
    state = (base, cent, members, np.ascontiguousarray(fitted), min(NEIGHBOURS, len(base)), nprobe)
    is_fit = np.zeros(n, dtype=bool)
    is_fit[fit_idx] = True

    def blocks() -> Any:
        for s in range(0, n, BLOCK):
            keep = np.flatnonzero(~is_fit[s : s + BLOCK])
            if len(keep):
                part = x.read(s, s + BLOCK) if hasattr(x, "read") else x[s : s + BLOCK]
                yield s + keep, np.ascontiguousarray(part[keep])

    for rows, xy in ordered(_place_block, blocks(), state=state, workers=workers):
        coords[rows] = xy
        if progress:
            progress(min(n, int(rows[-1]) + 1), n, "placing the other points")
    return coords


def _place_block(state: tuple, item: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, their 2-D positions)`` of one block of queries (a worker's task)."""
    base, cent, members, fitted, k, nprobe = state
    rows, q = item
    nb, sim = ivf_search(q, base, cent, members, k=k, nprobe=nprobe)
    lost = nb[:, 0] < 0  # no member in any probed cell: compare with the whole sample (rare)
    if lost.any():
        from app.maps.knn import knn_exact

        nb[lost], sim[lost] = knn_exact(q[lost], base, k)
    w = np.where(nb >= 0, np.clip(sim, 1e-3, None) ** 4, 0.0)  # sharpen: the nearest sample points dominate
    return rows, ((fitted[np.maximum(nb, 0)] * w[..., None]).sum(1) / w.sum(1, keepdims=True)).astype(np.float32)
