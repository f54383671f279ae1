"""Headless semantic dedup: SemDeDup over raw shards as a global step with bounded memory.

The workspace path (``winnow embed`` then ``winnow map``) loads every vector in memory, ordered by id, reduces
them with PCA, clusters them with k-means and, inside each cluster, marks a document whose cosine similarity to
an earlier one (id order) exceeds ``1 - eps`` as its duplicate (:func:`app.maps.signals.semdedup`). Headless:

1. **Per batch** (in pass 1, on the engine's workers when there is one): the texts are embedded
   (:func:`embed_batch`, the fast static embedder by default, loaded once per worker) and the driver appends the
   float32 rows, in input order, to a file in the scratch directory (:class:`VectorFile`): nothing of size ``n``
   stays in memory.
2. **Global step** (:func:`resolve`): the rows are copied into id order (a memory-mapped file; the permutation
   comes from DuckDB's ``ORDER BY id`` over the scratch corpus), PCA-reduced into another memory-mapped file,
   clustered with the workspace's k-means and deduplicated with the workspace's SemDeDup, all with the workspace's
   defaults (seed 0, ``k ~ sqrt(n/20)``, ``eps`` 0.05). Same vectors in the same order through the same
   functions: the same clusters and the same duplicates as ``winnow embed --fast`` + ``winnow map`` on the same
   documents. ``semdup_dup_of``, ``semdup_is_dup`` and ``semdup_sim`` are joined to the scratch ``corpus``.

Memory: the vectors and their PCA reduction live on disk (``4 * (dim + 50)`` bytes per document, 1.2 GB per
million documents at dim 256, inside the temporary output); in memory the step holds about 40 bytes per
document (the id permutation, cluster labels, results: 400 MB at 10M), one cluster's vectors at a time for
SemDeDup (at most ``n / k`` rows) and the k-means sample batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.errors import RecipeError

#: the key under which an engine worker returns a batch's vectors (never a signal column)
SEM_VEC = "__semantic_vectors"
_EMBEDDERS: dict[str, Any] = {}


def embedder(model: str | None) -> Any:
    """The embedder for ``model`` (default: the fast static model; ``hash[:DIM]`` for tests), once per process."""
    key = model or ""
    if key not in _EMBEDDERS:
        from app.embed.choose import get_embedder

        _EMBEDDERS[key] = get_embedder(model, fast=not (model or "").startswith("hash"))
    return _EMBEDDERS[key]


def embed_batch(texts: list[Any], model: str | None) -> np.ndarray:
    """float32 ``[len(texts), dim]`` vectors of ``texts`` (a NULL text embeds as the empty string)."""
    emb = embedder(model)
    vec = np.ascontiguousarray(emb.encode(["" if t is None else t for t in texts]), dtype=np.float32)
    if vec.shape != (len(texts), emb.dim):
        raise RecipeError(f"embedder {emb.key} returned shape {vec.shape}, expected ({len(texts)}, {emb.dim})")
    return vec


class VectorFile:
    """Rows of float32 vectors appended in input order to ``path`` (the scratch directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.dim: int | None = None
        self._f = open(path, "wb")  # noqa: SIM115 (closed by close(), after the last batch)

    def add(self, vecs: np.ndarray) -> None:
        if self.dim is None:
            self.dim = int(vecs.shape[1])
        elif vecs.shape[1] != self.dim:
            raise RecipeError(f"semantic dedup: a batch's vectors have {vecs.shape[1]} dimensions, not {self.dim}")
        self._f.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
        self.rows += len(vecs)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def resolve(con: Any, vf: VectorFile, *, eps: float = 0.05, seed: int = 0, clusters: int | None = None) -> dict:
    """SemDeDup over the vectors in ``vf`` (row ``i`` = the scratch corpus's ``_ord = i``); adds
    ``semdup_dup_of``, ``semdup_is_dup``, ``semdup_sim`` to ``corpus``. Returns counts for the manifest."""
    import pyarrow as pa

    from app.maps import project, scale, signals

    vf.close()
    n = int(con.execute("SELECT count(*) FROM corpus").fetchall()[0][0])
    if n != vf.rows:
        raise RecipeError(f"semantic dedup: {vf.rows} vectors for {n} documents")
    if not 0 < eps < 1:
        raise RecipeError(f"semantic dedup eps must be between 0 and 1, got {eps}")
    dim = vf.dim or 1
    perm = con.execute("SELECT _ord FROM corpus ORDER BY id").fetchnumpy()["_ord"].astype(np.int64)
    d = vf.path.parent
    if n:
        src = np.memmap(vf.path, dtype=np.float32, mode="r", shape=(n, dim))
        vecs = np.memmap(d / "_sem_by_id.f32", dtype=np.float32, mode="w+", shape=(n, dim))
        for s in range(0, n, 65536):  # into id order, a block at a time (the workspace loads vectors by id)
            vecs[s : s + 65536] = src[perm[s : s + 65536]]
        del src
        vf.path.unlink()
        dims = project.PCA_DIMS
        red_out = None
        if dim > dims and n > dims:
            red_out = np.memmap(d / "_sem_pca.f32", dtype=np.float32, mode="w+", shape=(n, dims))
        reduced = project.pca_reduce(vecs, seed=seed, out=red_out)
        cl = project.kmeans(reduced, k=clusters, seed=seed)
        del reduced, red_out
        if n > scale.STREAM_ABOVE:  # the streamed workspace map's per-cluster rule (app.maps.scale): same duplicates
            dup_of, sim = scale.semdedup_by_cluster(vecs, cl, eps=eps, seed=seed)
        else:
            dup_of, sim = signals.semdedup(vecs, cl, eps=eps)
        del vecs
    else:
        cl = np.zeros(0, dtype=np.int32)
        dup_of, sim = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    hit = dup_of >= 0
    res = pa.table(
        {
            "_ord": pa.array(perm, pa.int64()),
            "_dup_ord": pa.array(np.where(hit, perm[np.maximum(dup_of, 0)], 0), pa.int64(), mask=~hit),
            "semdup_is_dup": pa.array(hit, pa.bool_()),
            "semdup_sim": pa.array(np.nan_to_num(sim, nan=0.0), pa.float32()),
        }
    )
    con.register("_sem_res", res)
    con.execute(
        "CREATE OR REPLACE TABLE corpus AS SELECT c.*, t.id AS semdup_dup_of, r.semdup_is_dup, r.semdup_sim"
        " FROM corpus c JOIN _sem_res r ON r._ord = c._ord LEFT JOIN corpus t ON t._ord = r._dup_ord ORDER BY c._ord"
    )
    con.unregister("_sem_res")
    for f in ("_sem_by_id.f32", "_sem_pca.f32"):
        (d / f).unlink(missing_ok=True)
    return {
        "documents": n,
        "duplicates": int(hit.sum()),
        "clusters": int(cl.max()) + 1 if n else 0,
        "eps": eps,
        "dim": dim,
    }
