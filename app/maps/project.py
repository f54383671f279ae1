"""2-D projection (UMAP, cosine) and clustering (k-means) of document vectors.

- PCA pre-reduction to 50 dimensions when vectors are wider: UMAP's nearest-neighbour descent and
  k-means both run several times faster and the map keeps its neighbourhoods (purity in the bench).
- Large corpora: UMAP is fitted on a seeded sample (default 50,000 points) and every other point is
  placed at the similarity-weighted mean of its 10 nearest sample points' coordinates (exact blocked
  search in the PCA space; a usearch HNSW index over the sample beyond 5e9 pairs). Faster than
  ``UMAP.transform`` (bench table) and deterministic.
- Fewer than 64 points: the first two principal components (UMAP needs a neighbour graph).
- Clusters: k-means on the PCA vectors (MiniBatchKMeans beyond 20k points), k ~ sqrt(n/20) within
  [2, 100]. Measured choice over HDBSCAN (see the bench table): linear time at 1M points, every
  document gets a cluster, and the size of each cluster is under the user's control. No noise
  label is produced, so ``map_cluster`` is never -1 from k-means (the column allows it).
"""

from __future__ import annotations

import warnings

import numpy as np

from app.maps.knn import knn_exact, usable_cores

PCA_DIMS = 50
FIT_SAMPLE = 50_000
PLACE_EXACT_LIMIT = 5_000_000_000


def pca_fit_rows(n: int, *, seed: int = 0, fit_rows: int = 100_000) -> np.ndarray:
    """The sorted seeded rows :func:`pca_reduce` fits its PCA on (all rows when ``n <= fit_rows``): the streamed
    map (:mod:`app.maps.scale`) gathers the same rows from its spool, so both paths fit the same PCA."""
    if n <= fit_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, fit_rows, replace=False))


def pca_fit(sample: np.ndarray, *, dims: int = PCA_DIMS, seed: int = 0) -> object:
    """A fitted randomized PCA to ``dims`` components (``sample``: the rows of :func:`pca_fit_rows`)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=dims, svd_solver="randomized", random_state=seed).fit(sample)


def pca_apply(pca: object, x: np.ndarray, out: np.ndarray) -> None:
    """Transform ``x`` with ``pca`` into ``out`` (same rows) and L2-normalise each row, in blocks."""
    for s in range(0, len(x), 200_000):
        part = out[s : s + 200_000]
        part[:] = pca.transform(x[s : s + 200_000])  # type: ignore[attr-defined]
        norms = np.linalg.norm(part, axis=1, keepdims=True)
        norms[norms == 0] = 1
        part /= norms


def pca_reduce(
    x: np.ndarray, *, dims: int = PCA_DIMS, seed: int = 0, fit_rows: int = 100_000, out: np.ndarray | None = None
) -> np.ndarray:
    """PCA to ``dims`` (fitted on at most ``fit_rows`` seeded rows), re-normalised for cosine. ``out``: an
    ``[n, dims]`` float32 array to fill (e.g. a memory-mapped file: headless semantic dedup's bounded memory);
    rows are transformed and normalised in blocks, so nothing else of size ``n`` is held."""
    if x.shape[1] <= dims or len(x) <= dims:
        return x.astype(np.float32, copy=False)
    rows = pca_fit_rows(len(x), seed=seed, fit_rows=fit_rows)
    pca = pca_fit(x if len(rows) == len(x) else x[rows], dims=dims, seed=seed)
    out = np.empty((len(x), dims), dtype=np.float32) if out is None else out
    pca_apply(pca, x, out)
    return out


MIN_UMAP = 64  # below this a map is two principal components: UMAP's neighbour graph needs more points


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components (sign fixed so the result is deterministic)."""
    n = len(x)
    out = np.zeros((n, 2), dtype=np.float32)
    if n < 2:
        return out
    c = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(c, full_matrices=False)
    m = min(2, u.shape[1])
    comp = u[:, :m] * s[:m]
    signs = np.sign(comp[np.abs(comp).argmax(axis=0), np.arange(m)])
    signs[signs == 0] = 1
    out[:, :m] = comp * signs
    return out


def umap_fit_rows(n: int, *, sample: int | None = None, seed: int = 0) -> np.ndarray:
    """The sorted seeded rows UMAP is fitted on: all of them up to ``sample`` (default :data:`FIT_SAMPLE`)."""
    fit_n = min(n, sample or FIT_SAMPLE)
    if fit_n >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, fit_n, replace=False))


def umap_fit(xs: np.ndarray, *, seed: int = 0, n_neighbors: int = 15) -> np.ndarray:
    """UMAP (cosine, 2-D) fitted on the rows ``xs``: their float32 coordinates (numba's machine code cached on
    disk, :mod:`app.maps.jit`)."""
    from app.maps.jit import umap_module

    umap = umap_module()

    fit_n = len(xs)
    reducer = umap.UMAP(
        n_components=2,
        metric="cosine",
        n_neighbors=max(2, min(n_neighbors, fit_n - 1)),
        min_dist=0.1,
        random_state=seed,
        init="spectral" if fit_n > 10 else "random",
        low_memory=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reducer.fit_transform(xs).astype(np.float32)


def umap_2d(
    x: np.ndarray, *, seed: int = 0, sample: int | None = None, n_neighbors: int = 15, progress: object = None
) -> tuple[np.ndarray, int]:
    """2-D coordinates of every row of ``x``; returns ``(coords float32 [n, 2], rows fitted)``."""
    n = len(x)
    if n < MIN_UMAP:
        return pca_2d(x), n
    fit_n = min(n, sample or FIT_SAMPLE)
    fit_idx = umap_fit_rows(n, sample=sample, seed=seed)
    if progress:
        progress(0, n, f"UMAP on {fit_n:,} points")
    fitted = umap_fit(x[fit_idx], seed=seed, n_neighbors=n_neighbors)
    coords = np.zeros((n, 2), dtype=np.float32)
    coords[fit_idx] = fitted
    if fit_n < n:
        rest = np.setdiff1d(np.arange(n), fit_idx, assume_unique=True)
        base = x[fit_idx]
        index = None
        if len(rest) * fit_n > PLACE_EXACT_LIMIT:  # beyond ~5e9 pairs an HNSW index over the sample is faster
            from usearch.index import Index

            index = Index(ndim=x.shape[1], metric="cos", dtype="f32", connectivity=16, expansion_add=128)
            index.add(
                np.arange(fit_n, dtype=np.uint64), np.ascontiguousarray(base), threads=1
            )  # 1 thread: same graph every run
        step = 50_000
        for s in range(0, len(rest), step):
            q = rest[s : s + step]
            if index is None:
                nb, sim = knn_exact(x[q], base, 10)
            else:
                m = index.search(np.ascontiguousarray(x[q]), 10, threads=usable_cores())
                nb, sim = m.keys.astype(np.int64), (1.0 - m.distances).astype(np.float32)
            w = np.clip(sim, 1e-3, None) ** 4  # sharpen: the nearest sample points dominate
            coords[q] = (fitted[nb] * w[..., None]).sum(1) / w.sum(1, keepdims=True)
            if progress:
                progress(fit_n + s + len(q), n, "placing the other points")
    return coords, fit_n


def auto_k(n: int) -> int:
    """Default number of clusters: about sqrt(n / 20), within [2, 100] and below n."""
    return int(max(1, min(n - 1 if n > 2 else 1, max(2, min(100, round((n / 20) ** 0.5))))))


#: instruction data: about one cluster per this many records (see :func:`choose_k`)
INSTRUCTION_DOCS_PER_CLUSTER = 150


def choose_k(n: int, *, instruction_share: float = 0.0) -> tuple[int, str]:
    """The default cluster count for ``n`` documents and the rule that gave it.

    Web text: :func:`auto_k` (about sqrt(n / 20)). Instruction data (at least half the documents have
    instruction fields): about one cluster per :data:`INSTRUCTION_DOCS_PER_CLUSTER` records, within [2, 100].
    Measured on realmix's 5,000 Alpaca records + 300 chat copies (MiniLM over instruction + input + output): the
    silhouette of k-means is flat from k = 8 to 48 (0.065-0.070, +-0.002 across seeds), so the geometry does not
    pick a count; the count is set by use instead. Clusters are the groups a ``balance`` cap works on: sqrt(n/20)
    gives 16 clusters there, and a cap of 60 per cluster can then deliver at most 960 examples (the short
    1,000-example LIMA sample of issue 20); n/150 gives 35 task-sized clusters (every one above 60 records).
    """
    if instruction_share >= 0.5 and n > 2:
        k = max(2, min(100, round(n / INSTRUCTION_DOCS_PER_CLUSTER), n - 1))
        return int(k), f"instruction data: n/{INSTRUCTION_DOCS_PER_CLUSTER}"
    return auto_k(n), "sqrt(n/20)"


#: k-means is fitted on at most this many rows (a seeded uniform sample), then every row gets its nearest centre.
#: scikit-learn's MiniBatchKMeans draws each minibatch with weighted sampling over all n rows (O(n) a step) and
#: its early stop waits longer as n grows (the inertia average is smoothed over n), so its fit costs about n^2:
#: 5.5 s at 1M documents, 8+ minutes of the 10M map (96% of it in that sampling, py-spy). At or below this size
#: nothing changes.
FIT_MAX = 1_000_000


def kmeans(x: np.ndarray, *, k: int | None = None, seed: int = 0) -> np.ndarray:
    """Cluster ids (0..k-1) of every row, renumbered so cluster 0 is the largest. Above :data:`FIT_MAX` rows the
    centres come from a seeded sample of that many rows and every row is assigned to its nearest centre."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    k = int(k or auto_k(n))
    if k <= 1 or n <= 2:
        return np.zeros(n, dtype=np.int32)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if n > 20_000:
            km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096, max_iter=100)
        else:
            km = KMeans(n_clusters=k, random_state=seed, n_init=3)
        if n > FIT_MAX:
            fit_rows = np.sort(np.random.default_rng(seed).choice(n, FIT_MAX, replace=False))
            km.fit(x[fit_rows])
            labels = km.predict(x)
        else:
            labels = km.fit_predict(x)
    sizes = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -sizes))  # largest first, ties by old id
    remap = np.empty(k, dtype=np.int32)
    remap[order] = np.arange(k, dtype=np.int32)
    return remap[labels]
