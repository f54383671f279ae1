"""``winnow map`` over millions of documents in bounded memory (used above :data:`STREAM_ABOVE` documents).

The in-memory path (:func:`app.maps.build_map` below the limit) loads every vector (10 GB at 10M x 256 dims) and
places every point outside the UMAP sample by an exact search over the sample. Here:

1. **Spool**: the vectors are streamed from the ``emb__*`` table in id order, :data:`CHUNK` rows at a time, into a
   float32 file in a scratch folder inside the workspace (:class:`Spool`; read back in blocks with plain file reads,
   never memory-mapped, so the resident memory is one block). The PCA sample rows are picked up on the way.
2. **Reduce**: the same seeded PCA as the in-memory path (same rows, :func:`app.maps.project.pca_fit_rows`), applied
   block by block; the PCA-50 vectors stay in memory (200 bytes per document).
3. **Project, cluster, label** (:func:`app.maps.layout.map_part`): UMAP fitted on the same seeded sample as the
   in-memory path, in its own process (:class:`app.maps.pool.BackgroundFit`: seeded UMAP runs on one core), while
   the same k-means on the PCA vectors, the same labels as the in-memory path and the split of the full vectors into
   one file per cluster (id order inside) run here; the PCA-50 vectors wait for placement in a scratch file. Every
   other point is placed at the similarity-weighted mean of its 10 nearest sample points found by
   :func:`app.maps.place.place_rest` (an inverted file over the sample: numpy products against the members of the
   8 nearest of ~sqrt(sample) cells).
4. **The map written**: ``map_points`` and ``map_clusters`` in one transaction (:func:`app.maps.writer.write_points`),
   the previous map's density, duplicates and neighbours dropped, the spec marked pending
   (:mod:`app.maps.twostep`): the Map page and ``corpus``'s map columns are usable from here, while a command's
   workspace gives its file lock back for step 5.
5. **Per cluster** (:func:`cluster_stage`): each cluster is loaded alone for SemDeDup (exact,
   :func:`app.maps.signals.semdedup`, up to :data:`SEMDUP_EXACT` members; from its in-cluster k-NN lists beyond,
   :func:`semdedup_knn`: the rule headless semantic dedup shares) and split into fine cells stored sorted by cell.
   Then each cluster's documents get their k nearest neighbours from the fine cells of their own and the nearest
   clusters (:mod:`app.maps.probe`: across cluster borders), density comes from them. Neighbour rows go to scratch
   files as each cluster finishes; with the lock back they are staged (in the same order) and density, the SemDeDup
   columns and the neighbour table are swapped in in a second transaction (:func:`app.maps.writer.write_signals`).
   Interrupted here, the workspace keeps the map, its neighbours marked pending; ``winnow map`` rerun with the same
   settings runs only this step, from the stored clusters, and writes the tables an uninterrupted run writes.

Workers: placement (block by block) and the per-cluster stage (cluster by cluster, both passes) run in ``workers``
processes (:mod:`app.maps.pool`, spawned, one BLAS thread each), results taken in order, so the tables are the same
for any number of workers. Each worker holds one block or one cluster (its vectors, its search's work arrays);
the cluster stage's files (vectors, cells, in-cluster lists, each cell store's rows and order) are passed on disk,
so the parent holds none of them.

Memory bound: about ``4 * 50 + 15`` bytes per document until k-means (the PCA-50 vectors, map coordinates,
cluster) and about 36 after it (coordinates, cluster, density and duplicate columns, the rows sorted by cluster),
plus the ids as an Arrow string array (their bytes + 4): about 2.5 GB at 10M documents with 9-character ids. On top:
DuckDB's sort while the vectors are read (capped at :data:`DUCKDB_MEMORY`, the rest spills to disk), per worker the
largest cluster's full vectors (``4 * dim`` bytes per member) and its neighbour search's work arrays, and the UMAP
fit on at most 50,000 points. Disk: two copies
of the vectors (``4 * dim`` bytes per document each) in the scratch folder: the spool and the cluster files, then
the cluster files and the cell-sorted files (kept until every cluster's neighbours are searched).

What changes against the in-memory path (the bench measures each): points outside the UMAP sample are placed from an
approximate 10-NN in the sample; neighbours come from an inverted-file search over fine cells (approximate: the
bench measures recall@10 against exact global search); above :data:`SEMDUP_EXACT` members, a semantic duplicate is found from the neighbour
list (exact when the neighbours are: the most similar earlier document is either in the list or less similar than
its last entry, which is then checked exactly), and ``semdup_sim`` of a document with no earlier document among its
neighbours is 0 rather than its best similarity to an earlier document.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.maps.spool import (  # noqa: F401 (re-exported: the streamed map's spool, used by tests and benches)
    CHUNK,
    Spool,
    _tick,
    reduce_spool,
    split_clusters,
    spool_vectors,
)

#: above this many embedded documents ``winnow map`` streams (this module); at or below it loads every vector
STREAM_ABOVE = 100_000
#: clusters up to this size run the exact SemDeDup (cost ~ size^2 * dim / 2 products); larger ones use neighbours
SEMDUP_EXACT = 20_000
#: scores held at once by :func:`semdedup_knn`'s exact comparisons (64M float32: 256 MB, and a 64 MB mask), as
#: :func:`app.maps.signals.semdedup` bounds its own
CHECK_ELEMS = 64 << 20


def semdedup_knn(
    x: np.ndarray, idx: np.ndarray, sim: np.ndarray, *, eps: float, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """SemDeDup of one cluster (rows of ``x`` in id order) from its k-NN lists (``idx`` local rows, best first).

    A row's most similar earlier row is the first earlier entry of its list when there is one (any earlier row
    not in the list is at most as similar as the list's last entry). A row whose list has no earlier entry while
    its last entry is above ``1 - eps`` is compared exactly with every earlier row. Returns ``(dup_of or -1,
    best similarity to an earlier row found, nan when none)``; exact duplicates whenever the lists are exact."""
    m = len(x)
    thr = 1.0 - float(eps)
    dup_of = np.full(m, -1, dtype=np.int64)
    best = np.full(m, np.nan, dtype=np.float32)
    if m < 2 or idx.shape[1] == 0:
        return dup_of, best
    earlier = (idx >= 0) & (idx < np.arange(m)[:, None])
    has = earlier.any(axis=1)
    first = np.argmax(earlier, axis=1)
    rows = np.flatnonzero(has)
    best[rows] = sim[rows, first[rows]]
    hit = rows[best[rows] > thr]
    dup_of[hit] = idx[hit, first[hit]]
    check = np.flatnonzero(~has & (sim[:, -1] > thr) & (np.arange(m) > 0))
    b = 0
    while b < len(check):
        # rows per block so that their scores against every earlier row stay under CHECK_ELEMS (check is ascending:
        # the last row of a full block bounds them); 1,024 rows against a cluster of 2M rows were 8 GB of scores
        # and 2 GB of mask (unbounded; the 10M map's 10 GB peak was the neighbour stage's, app.maps.probe)
        bound = int(check[min(b + block, len(check)) - 1])
        r = check[b : b + max(16, min(block, CHECK_ELEMS // max(bound, 1)))]
        b += len(r)
        top = int(r.max())
        scores = x[r] @ x[:top].T
        scores[np.arange(top)[None, :] >= r[:, None]] = -np.inf  # strictly earlier rows only
        j = scores.argmax(axis=1)
        v = scores[np.arange(len(r)), j]
        best[r] = v
        dup_of[r[v > thr]] = j[v > thr]
    return dup_of, best


def cluster_knn(
    x: np.ndarray, *, k: int, seed: int, exact_limit: int | None = None, cells_out: dict | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """k-NN of every row of one cluster among the others: exact up to ``exact_limit`` rows (default
    :data:`app.maps.knn.EXACT_LIMIT`), ``knn_ivf`` beyond (its cells into ``cells_out`` when given)."""
    from app.maps import knn as knn_mod

    limit = knn_mod.EXACT_LIMIT if exact_limit is None else exact_limit
    if len(x) <= limit:
        return (*knn_mod.knn_exact(x, x, k, exclude_self=True), "exact")
    return (*knn_mod.knn_ivf(x, k, seed=seed, cells_out=cells_out), "ivf")


def semdedup_cluster(
    x: np.ndarray, *, eps: float, seed: int, k: int = 10, knn: tuple | None = None, exact: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """SemDeDup of one cluster's rows (id order): exact up to ``exact`` rows (default :data:`SEMDUP_EXACT`), from
    the k-NN lists (:func:`cluster_knn`, or ``knn`` when already computed) beyond. The one rule of the streamed map
    and of headless semantic dedup (:func:`semdedup_by_cluster`), so both find the same duplicates."""
    from app.maps import signals

    if len(x) <= (SEMDUP_EXACT if exact is None else exact):
        return signals.semdedup(x, np.zeros(len(x), dtype=np.int32), eps=eps)
    idx, sim = knn if knn is not None else cluster_knn(x, k=k, seed=seed)[:2]
    return semdedup_knn(x, idx, sim, eps=eps)


def semdedup_by_cluster(
    vecs: np.ndarray, cl: np.ndarray, *, eps: float, seed: int = 0, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`semdedup_cluster` over every cluster of ``cl`` (rows of ``vecs`` in id order; ``vecs`` may be
    memory-mapped: one cluster is gathered at a time). Returns ``(dup_of row or -1, similarity or nan)``."""
    n = len(cl)
    dup_of = np.full(n, -1, dtype=np.int64)
    best = np.full(n, np.nan, dtype=np.float32)
    order = np.argsort(cl, kind="stable")
    bounds = np.searchsorted(cl[order], np.arange((int(cl.max()) + 1 if n else 0) + 1))
    for c in range(len(bounds) - 1):
        members = order[bounds[c] : bounds[c + 1]]
        if len(members) < 2:
            continue
        d_local, d_sim = semdedup_cluster(np.ascontiguousarray(vecs[members]), eps=eps, seed=seed, k=k)
        dup_of[members] = np.where(d_local >= 0, members[np.maximum(d_local, 0)], -1)
        best[members] = d_sim
    return dup_of, best


def _cells_of(state: dict, item: tuple) -> tuple:
    """One cluster's SemDeDup and fine cells (a worker's task of :func:`cluster_pass`): reads and removes the
    cluster's vector file, stores its in-cluster k-NN lists (large clusters) and its cells. Returns ``(dup_of
    local row or -1, similarity, sum of the vectors, k-NN method or None)``."""
    from app.maps import probe

    c, members = item
    scratch, k, seed = state["scratch"], state["k"], state["seed"]
    path = scratch / f"cluster_{c}.f32"
    x = np.fromfile(path, dtype=np.float32).reshape(len(members), state["dim"])
    path.unlink()
    knn, how, cells = None, None, {}
    if len(members) > state["semdup_exact"]:  # the shared rule needs the in-cluster lists: they seed the neighbours
        idx, sim, how = cluster_knn(x, k=k, seed=seed, exact_limit=state["exact_limit"], cells_out=cells)
        knn = (idx, sim)
        np.save(scratch / f"home_{c}.idx.npy", members[idx])
        np.save(scratch / f"home_{c}.sim.npy", sim)
    d_local, d_sim = semdedup_cluster(x, eps=state["eps"], seed=seed, k=k, knn=knn, exact=state["semdup_exact"])
    reuse = (cells["cent"], cells["home"]) if cells else None  # knn_ivf's cells: the same seeded training
    probe.CellStore(scratch / f"cells_{c}.f32", x, members, seed=seed, cells=reuse).save()
    return d_local, d_sim, x.sum(axis=0, dtype=np.float32), how


def _neighbours_of(state: dict, item: tuple) -> tuple:
    """One cluster's neighbour lists across borders (a worker's task of :func:`cluster_pass`): ``(global rows,
    neighbour rows, similarities)``, rows in the cluster's cell order."""
    from app.maps import probe

    c, nearest = item
    scratch, k, top_cells = state["scratch"], state["k"], state["top_cells"]
    st = probe.CellStore.open(scratch / f"cells_{c}.f32")
    cands = [probe.CellStore.open(scratch / f"cells_{int(j)}.f32") for j in nearest]
    home, extra = scratch / f"home_{c}.idx.npy", None
    if home.exists():
        order = np.asarray(st.order)
        sims = scratch / f"home_{c}.sim.npy"
        extra = (np.load(home)[order], np.load(sims)[order])
        home.unlink()
        sims.unlink()
    else:
        cands = [st, *cands]
    rows = np.asarray(st.rows)
    tc = top_cells if extra is None else max(1, top_cells * 2 // 3)  # in-cluster lists found: fewer cells across
    idx, sim = probe.probe_search(
        st.vectors(), rows, cands, k=k, top_cells=tc, extra=extra, own=None if extra else 0,
        groups=(np.asarray(st.bounds), st.cent), preselect=state.get("preselect"),
    )  # fmt: skip
    probe.fill_missing(idx, sim, rows)
    return rows, idx, sim


def cluster_pass(spool: Spool, cl: np.ndarray, *, scratch: Path, progress: Any = None, **kw: Any) -> tuple:
    """:func:`split_clusters` then :func:`cluster_stage` (its keyword arguments in ``kw``)."""
    split_clusters(spool, cl, scratch=scratch, progress=progress)
    return cluster_stage(cl, dim=spool.dim, scratch=scratch, progress=progress, **kw)


def cluster_stage(
    cl: np.ndarray,
    *,
    dim: int,
    k: int,
    eps: float,
    seed: int,
    scratch: Path,
    emit: Any,
    progress: Any = None,
    near: int | None = None,
    top_cells: int | None = None,
    workers: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Neighbours, density and SemDeDup cluster by cluster, from the files of :func:`split_clusters`. SemDeDup
    stays inside each cluster (the rule shared with headless semantic dedup); neighbours cross cluster borders
    (:mod:`app.maps.probe`: the ``top_cells`` nearest fine cells of the own and the ``near`` nearest clusters).
    ``emit(rows, nb_idx, nb_sim)`` receives each cluster's neighbour lists (global rows), in cluster order.
    Clusters are independent: ``workers`` processes take them (:func:`app.maps.pool.ordered`; the same results for
    any number). Returns ``(density, dup_of, dup_sim, method)``."""
    from app.maps import knn as knn_mod
    from app.maps import probe, signals
    from app.maps.pool import ordered

    near = probe.NEAR_CLUSTERS if near is None else near
    top_cells = probe.TOP_CELLS if top_cells is None else top_cells
    n = len(cl)
    n_cl = int(cl.max()) + 1 if n else 0
    order = np.argsort(cl, kind="stable")
    bounds = np.searchsorted(cl[order], np.arange(n_cl + 1))
    dens = np.zeros(n, dtype=np.float32)
    dup_of = np.full(n, -1, dtype=np.int64)
    dup_sim = np.full(n, np.nan, dtype=np.float32)
    cent = np.zeros((n_cl, dim), dtype=np.float32)
    methods: set[str] = set()
    state = {"scratch": scratch, "k": k, "eps": eps, "seed": seed, "dim": dim, "top_cells": top_cells,
             "semdup_exact": SEMDUP_EXACT, "exact_limit": knn_mod.EXACT_LIMIT, "preselect": probe.PRESELECT}  # fmt: skip

    def clusters() -> Any:
        for c in range(n_cl):
            yield c, order[bounds[c] : bounds[c + 1]]  # the members, in id order (a stable sort)

    # 1: SemDeDup inside each cluster; its fine cells, stored sorted by cell (said before the first cluster
    # returns: at 10M documents that took 13+ minutes, under the previous step's finished label)
    _tick(progress, 0, n, f"SemDeDup and cells (cluster 0/{n_cl})")
    for (c, members), (d_local, d_sim, total, how) in zip(
        clusters(), ordered(_cells_of, clusters(), state=state, workers=workers)
    ):
        dup_of[members] = np.where(d_local >= 0, members[np.maximum(d_local, 0)], -1)
        dup_sim[members] = d_sim
        cent[c] = total
        if how:
            methods.add(how)
        _tick(progress, int(bounds[c + 1]), n, f"SemDeDup and cells (cluster {c + 1}/{n_cl})")
    cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    nearest = probe.near_clusters(cent, count=near)
    # 2: neighbours across borders, one cluster's documents at a time
    items = ((c, nearest[c]) for c in range(n_cl))
    _tick(progress, 0, n, f"neighbours (cluster 0/{n_cl})")
    for c, (rows, idx, sim) in enumerate(ordered(_neighbours_of, items, state=state, workers=workers)):
        dens[rows] = signals.density(sim)
        emit(rows, idx, sim)
        _tick(progress, int(bounds[c + 1]), n, f"neighbours (cluster {c + 1}/{n_cl})")
    for c in range(n_cl):
        probe.CellStore.open(scratch / f"cells_{c}.f32").remove()
    method = f"{top_cells} nearest cells of the own + {nearest.shape[1]} nearest clusters"
    if methods:
        method += "; SemDeDup lists " + "+".join(sorted(methods))
    return dens, dup_of, dup_sim, method


def build_streamed(
    ws: Any,
    *,
    model: str,
    n: int,
    dim: int,
    sample: int | None,
    seed: int,
    k: int,
    clusters: int | None,
    eps: float,
    workers: int | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """The streamed ``winnow map`` (see the module docstring); returns what :func:`app.maps.build_map` returns,
    plus ``usable_after_s`` (wall seconds until the map itself was written) and ``resumed`` (only the second step
    ran: :mod:`app.maps.twostep`). ``workers``: processes for placement and the per-cluster stage (default
    :func:`app.maps.pool.default_workers`; the map is the same for any number)."""
    import uuid

    from app.maps import layout, twostep
    from app.maps.pool import default_workers

    workers = default_workers() if workers is None else max(1, workers)
    timings: dict[str, float] = {}
    t0 = t = time.perf_counter()
    prior = twostep.resumable(ws, model=model, n=n, seed=seed, k=k, eps=eps, sample=sample, clusters=clusters)
    twostep.remove_stale_scratch(ws.path)
    scratch = Path(tempfile.mkdtemp(prefix=f"{twostep.SCRATCH}{os.getpid()}-", dir=ws.path))
    try:
        ids, spool, pca_sample = spool_vectors(
            ws, model=model, n=n, dim=dim, scratch=scratch, seed=seed, progress=progress
        )
        timings["load"] = time.perf_counter() - t
        cl = twostep.stored_clusters(ws, ids) if prior else None
        if cl is None:  # the whole map: part 1 written here, part 2 below
            prior = None
            spec, cl = layout.map_part(
                ws, ids=ids, spool=spool, pca_sample=pca_sample, model=model, n=n, sample=sample, seed=seed, k=k,
                clusters=clusters, eps=eps, workers=workers, scratch=scratch, timings=timings, progress=progress,
                run=uuid.uuid4().hex,
            )  # fmt: skip
        else:
            spec = prior
            _tick(progress, n, n, "the map is stored: finishing its neighbours")
            split_clusters(spool, cl, scratch=scratch, progress=progress)
        usable = time.perf_counter() - t0
        del pca_sample

        t = time.perf_counter()
        files = twostep.NeighbourFiles(scratch)
        with twostep.released(ws):  # other processes can read the map meanwhile
            dens, dup_of, dup_sim, method = cluster_stage(
                cl, dim=dim, k=k, eps=eps, seed=seed, scratch=scratch, emit=files.add, progress=progress,
                workers=workers,
            )  # fmt: skip
        timings["neighbours_semdedup_density"] = time.perf_counter() - t

        t = time.perf_counter()
        from app.maps import writer

        staging = writer.NeighbourStaging(ws, ids)
        files.replay(staging)
        spec = writer.write_signals(
            ws, ids=ids, dens=dens, dup_of=dup_of, dup_sim=dup_sim, staging=staging, run=spec["pending"]["run"],
            method=method,
        )  # fmt: skip
        timings["write"] = time.perf_counter() - t
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sizes = np.bincount(cl, minlength=int(spec["clusters"]))
    labels = dict(ws.cursor().execute("SELECT cluster, label FROM map_clusters").fetchall())
    return {
        **spec,
        "semantic_duplicates": int((dup_of >= 0).sum()),
        "cluster_labels": [
            {"cluster": int(c), "size": int(sizes[c]), "label": labels.get(int(c))} for c in range(min(len(sizes), 100))
        ],
        "seconds": {k2: round(v, 2) for k2, v in timings.items()},
        "usable_after_s": round(usable, 2),
        "resumed": prior is not None,
    }
