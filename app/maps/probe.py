"""Neighbours across k-means cluster borders for the streamed map (:mod:`app.maps.scale`), in bounded memory.

Searching only inside a document's own k-means cluster finds about 58% of its exact 10 nearest on realmix's
fast-model vectors (a neighbour across a border is missed). Here every cluster is split into fine cells (spherical
k-means, about sqrt(members) cells, :func:`app.maps.knn._train_cells`) and stored on disk sorted by cell
(:class:`CellStore`). A document is then compared exactly with the members of its :data:`TOP_CELLS` nearest cells
among those of its own cluster and of the :data:`NEAR_CLUSTERS` clusters whose centroids are nearest to its
cluster's: an inverted-file search whose cells are read from disk one at a time, so only one cluster's queries and
one cell's members are resident. Results are deterministic (seeded cells, ties broken by row).

Choosing the cells cost as much as searching them at 10M's cluster shape: ~5,000 candidate centroids (16 clusters x
~316 cells) against ~16 x 316 members per document. The queries come grouped by their own fine cell, so the choice
is made in two levels: each group's :data:`PRESELECT` candidate cells nearest to its centroid, then each query's
nearest among those (``bench_map_probe.py`` measures what that costs in neighbours found). A cluster whose
in-cluster lists came from :func:`app.maps.knn.knn_ivf` takes that search's cells for its store (the same seeded
training and assignment, not done twice).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: a document is compared with the members of this many nearest fine cells
TOP_CELLS = 24
#: cells of the clusters whose centroids are the nearest this many to the document's own are candidates too
NEAR_CLUSTERS = 16
#: queries scored against the candidate centroids at a time (bounds the score matrix)
QUERY_BLOCK = 4096
#: scores held at once when a cell is searched (16M float32: 64 MB, as :func:`app.maps.knn.knn_ivf` bounds its
#: own): the queries probing one cell go in blocks. Unbounded, a cell of many identical vectors probed by as many
#: queries held their whole product: a worker of the 10M map's neighbour stage peaked at 9.5-10 GB
CELL_ELEMS = 16 << 20
#: two-level choice of cells: the queries of one own fine cell (a group) score only the PRESELECT candidate cells
#: nearest to their cell's centroid, not every candidate centroid (0: every one). 128 measured at 10M's cluster
#: shape: neighbours across borders 24.1 -> 8.0 CPU-s for 203,556 documents, the same lists; realmix recall@10 down
#: the big-cluster path 0.892 -> 0.883 (64: 0.871, 32: 0.850)
PRESELECT = 128


class CellStore:
    """One cluster's vectors sorted by fine cell in a float32 file, with their global rows and cell bounds."""

    def __init__(self, path: Path, x: np.ndarray, rows: np.ndarray, *, seed: int, cells: tuple | None = None) -> None:
        """``cells``: ``(centroids, each row's nearest)`` already computed for ``x`` by the same seeded training
        (:func:`app.maps.knn.knn_ivf`'s, ``cells_out``): used instead of training and assigning again when they
        have the count this store would train."""
        from app.maps.knn import _train_cells

        m, self.dim = x.shape
        count = int(max(1, min(m, round(np.sqrt(m)))))
        if cells is not None and len(cells[0]) == count and m > 1:
            self.cent, home = cells[0], np.asarray(cells[1], dtype=np.int32)
        else:
            self.cent = _train_cells(x, count, seed=seed) if m > 1 else np.ascontiguousarray(x, dtype=np.float32)
            home = np.empty(m, dtype=np.int32)
            for s in range(0, m, 16_384):
                home[s : s + 16_384] = np.argmax(x[s : s + 16_384] @ self.cent.T, axis=1)
        order = np.argsort(home, kind="stable")
        self.bounds = np.searchsorted(home[order], np.arange(len(self.cent) + 1))
        self.order = order  # cell order -> the row order of ``x``
        self.rows = rows[order]
        self.path = path
        np.ascontiguousarray(x[order], dtype=np.float32).tofile(path)

    def save(self) -> None:
        """Write the cell order, rows, bounds and centroids beside the vectors (:meth:`open` reads them back)."""
        for name in ("order", "rows", "bounds", "cent"):
            np.save(self.path.with_suffix(f".{name}.npy"), getattr(self, name))

    @classmethod
    def open(cls, path: Path) -> CellStore:
        """A store written by :meth:`save` (another process's): rows and order memory-mapped, read as touched."""
        st = cls.__new__(cls)
        st.path = path
        st.order = np.load(path.with_suffix(".order.npy"), mmap_mode="r")
        st.rows = np.load(path.with_suffix(".rows.npy"), mmap_mode="r")
        st.bounds = np.load(path.with_suffix(".bounds.npy"))
        st.cent = np.load(path.with_suffix(".cent.npy"))
        st.dim = st.cent.shape[1]
        return st

    def cell(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """``(global rows, vectors)`` of cell ``j``."""
        a, b = int(self.bounds[j]), int(self.bounds[j + 1])
        with open(self.path, "rb") as f:
            v = np.fromfile(f, dtype=np.float32, count=(b - a) * self.dim, offset=a * self.dim * 4)
        return np.asarray(self.rows[a:b]), v.reshape(-1, self.dim)

    def vectors(self) -> np.ndarray:
        """Every vector, in cell order (the order of :attr:`rows`)."""
        return np.fromfile(self.path, dtype=np.float32).reshape(-1, self.dim)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        for name in ("order", "rows", "bounds", "cent"):
            self.path.with_suffix(f".{name}.npy").unlink(missing_ok=True)


def near_clusters(centroids: np.ndarray, *, count: int = NEAR_CLUSTERS) -> np.ndarray:
    """For each cluster, the ``count`` other clusters whose (unit) centroids are most similar, best first."""
    n_cl = len(centroids)
    count = max(0, min(count, n_cl - 1))
    s = centroids @ centroids.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :count]


def probe_search(
    q: np.ndarray,
    q_rows: np.ndarray,
    stores: list[CellStore],
    *,
    k: int,
    top_cells: int = TOP_CELLS,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    own: int | None = 0,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
    preselect: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ``(global rows, cosine)`` of each query among the members of its ``top_cells`` nearest cells of
    ``stores`` (a query's own row is never its neighbour). ``extra``: lists already found elsewhere (rows not in
    any of these cells), merged in. ``own``: the index in ``stores`` of the store that holds the queries' own
    rows (None: none does), the only one whose cells are checked for them. ``groups``: ``(bounds, centroids)`` of runs
    of consecutive queries (one fine cell of their own cluster each): a group's queries choose their cells among the
    ``preselect`` (default :data:`PRESELECT`; 0: all) candidate cells nearest its centroid. Missing entries are ``-1`` /
    ``-inf``; best first, ties by row."""
    from app.maps.knn import one_blas_thread

    with one_blas_thread():
        pre = PRESELECT if preselect is None else preselect
        return _probe_search(q, q_rows, stores, k=k, top_cells=top_cells, extra=extra, own=own, groups=groups, pre=pre)


def _probe_search(
    q: np.ndarray,
    q_rows: np.ndarray,
    stores: list[CellStore],
    *,
    k: int,
    top_cells: int,
    extra: tuple[np.ndarray, np.ndarray] | None,
    own: int | None,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
    pre: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    from app.maps.topk import Candidates, block_top, kept, kth, not_self

    m = len(q)
    cents = np.concatenate([s.cent for s in stores]) if stores else np.zeros((0, q.shape[1]), np.float32)
    owner = np.concatenate([np.full(len(s.cent), i) for i, s in enumerate(stores)]) if stores else np.zeros(0, int)
    local = np.concatenate([np.arange(len(s.cent)) for s in stores]) if stores else np.zeros(0, int)
    t = max(0, min(top_cells, len(cents)))
    found = Candidates(m, k)
    floor = np.full(m, -np.inf, dtype=np.float32)  # a lower bound on each query's final k-th similarity
    if extra is not None:
        kk = min(k, extra[0].shape[1])
        found.add(np.broadcast_to(np.arange(m)[:, None], (m, kk)), extra[0][:, :kk], extra[1][:, :kk])
        floor = np.maximum(floor, kth(np.asarray(extra[1][:, :kk], dtype=np.float32), k))
    if t:
        probe, best = _choose_cells(q, cents, t, groups, pre)
        flat = probe.ravel()
        qof = np.repeat(np.arange(m), t)
        first = flat == best[qof]
        # the nearest cell of each query first (its top k: the floor), then every other probed cell above the floor
        for phase in (first, ~first):
            cells, qsel = flat[phase], qof[phase]
            order = np.argsort(cells, kind="stable")
            bounds = np.searchsorted(cells[order], np.arange(len(cents) + 1))
            for c in np.flatnonzero(np.diff(bounds)):
                q_all = qsel[order[bounds[c] : bounds[c + 1]]]
                rows, base = stores[owner[c]].cell(int(local[c]))
                if len(rows) == 0:
                    continue
                step = max(64, CELL_ELEMS // len(rows))
                for b in range(0, len(q_all), step):  # bounded memory when a cell is large and much probed
                    qs = q_all[b : b + step]
                    scores = q[qs] @ base.T
                    if owner[c] == own:
                        not_self(scores, q_rows[qs], rows)  # a document is not its own neighbour
                    if phase is first:
                        top, ts = block_top(scores, k)
                        found.add(np.broadcast_to(qs[:, None], top.shape), rows[top], ts)
                        floor[qs] = np.maximum(floor[qs], kth(ts, k))
                    else:
                        r, col = kept(scores, floor[qs], k)
                        found.add(qs[r], rows[col], scores[r, col])
    return found.lists()


def _choose_cells(
    q: np.ndarray, cents: np.ndarray, t: int, groups: tuple[np.ndarray, np.ndarray] | None, preselect: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's ``t`` nearest candidate cells ``[m, t]`` and its nearest one ``[m]`` (indices into ``cents``):
    among every centroid, or with ``groups`` and ``preselect``, among its group's ``preselect`` nearest."""
    m = len(q)
    probe = np.empty((m, t), dtype=np.int32)
    best = np.empty(m, dtype=np.int32)
    pre = max(t, preselect)
    if groups is None or not preselect or pre >= len(cents):
        for s in range(0, m, QUERY_BLOCK):
            sc = q[s : s + QUERY_BLOCK] @ cents.T
            probe[s : s + QUERY_BLOCK] = (
                np.argpartition(sc, len(cents) - t, axis=1)[:, -t:] if t < len(cents) else np.arange(t)
            )
            best[s : s + QUERY_BLOCK] = np.argmax(sc, axis=1)
        return probe, best
    bounds, gcent = groups
    near = np.sort(np.argpartition(gcent @ cents.T, len(cents) - pre, axis=1)[:, -pre:], axis=1)
    for g in range(len(bounds) - 1):
        cand = near[g]
        sub = cents[cand]
        for s in range(int(bounds[g]), int(bounds[g + 1]), QUERY_BLOCK):
            e = min(int(bounds[g + 1]), s + QUERY_BLOCK)
            sc = q[s:e] @ sub.T
            probe[s:e] = cand[np.argpartition(sc, pre - t, axis=1)[:, -t:]] if t < pre else cand
            best[s:e] = cand[np.argmax(sc, axis=1)]
    return probe, best


def fill_missing(idx: np.ndarray, sim: np.ndarray, rows: np.ndarray) -> None:
    """In place: a list with fewer than ``k`` entries found repeats its last one (its own row when it has none),
    as :func:`app.maps.knn.knn_ivf` does for sparse cells."""
    missing = idx < 0
    for r in np.flatnonzero(missing.any(axis=1)):
        found = int((~missing[r]).sum())
        idx[r, found:] = idx[r, found - 1] if found else rows[r]
        sim[r, found:] = sim[r, found - 1] if found else 0.0
