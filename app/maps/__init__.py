"""The corpus map and embedding-based signals (neighbours and semantic search: :mod:`app.search.semantic`).

Tables written by :func:`build_map` (all keyed by ``id``):

- ``map_points`` (part ``map`` of ``corpus``): ``map_x, map_y, map_cluster, map_cluster_label, map_cluster_size``.
- ``emb_signals`` (part ``embed``): ``density_knn_dist`` (mean cosine distance to the k=10 nearest
  documents), ``semdup_dup_of`` (id of the earlier document in the same cluster it duplicates, or NULL),
  ``semdup_is_dup``, ``semdup_sim``.
- ``neighbours``: ``id, nb_ids VARCHAR[], nb_sims FLOAT[]`` (k nearest, best first; not in ``corpus``).
- ``map_clusters``: ``cluster, label, terms VARCHAR[], size, x, y`` (median position, for drawing labels).

:func:`target_similarity` (:mod:`app.maps.target`) writes ``emb_target`` (part ``embed``): ``sim_target_max,
sim_target_mean``, or a named similarity's own table and columns, with bad examples when given.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from app.errors import MapError
from app.maps.common import (  # noqa: F401 (re-exported: the tables' names are the package's API)
    CLUSTER_TABLE,
    LABEL_CHARS,
    LABEL_DOCS,
    MAP_TABLE,
    NB_TABLE,
    SIG_TABLE,
    TARGET_TABLE,
    _instruction_share,
    _labels,
    _progress,
    _write,
)
from app.maps.target import target_similarity

__all__ = ["build_map", "target_similarity"]


def build_map(
    ws: Any,
    *,
    sample: int | None = None,
    seed: int = 0,
    k: int = 10,
    clusters: int | None = None,
    eps: float = 0.05,
    exact_limit: int | None = None,
    stream_above: int | None = None,
    workers: int | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Project, cluster, label, find neighbours and compute SemDeDup/density for every embedded document.

    ``sample``: fit UMAP on this many points (default: all up to 50,000) and place the rest by their
    nearest fitted points. Deterministic for a given ``seed``. Returns counts, timings and the clusters.
    Above ``stream_above`` documents (default :data:`app.maps.scale.STREAM_ABOVE`) the vectors are streamed and
    memory stays bounded (:mod:`app.maps.scale` says how, and what differs); ``workers`` processes share its
    placement and per-cluster stage (default: the usable cores, at most 4; the same map for any number).
    """
    from app.embed import load_vectors, vector_count
    from app.maps import labels as lab
    from app.maps import project, signals
    from app.maps.knn import EXACT_LIMIT, knn_all

    if ws.read_only:
        raise MapError(f"workspace {ws.path} is open read-only")
    if not 0 < eps < 1:
        raise MapError(f"--eps must be between 0 and 1, got {eps}")
    from app.maps import scale

    n_vec, dim, key = vector_count(ws)
    if n_vec > (scale.STREAM_ABOVE if stream_above is None else stream_above):
        return scale.build_streamed(
            ws,
            model=key,
            n=n_vec,
            dim=dim,
            sample=sample,
            seed=seed,
            k=k,
            clusters=clusters,
            eps=eps,
            workers=workers,
            progress=progress,
        )
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ids, vecs, model = load_vectors(ws)
    n = len(ids)
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    nb_idx, nb_sim, method = knn_all(vecs, k, exact_limit=exact_limit or EXACT_LIMIT, progress=progress)
    timings["neighbours"] = time.perf_counter() - t

    t = time.perf_counter()
    _progress(progress, 0, n, "PCA")
    reduced = project.pca_reduce(vecs, seed=seed)
    timings["pca"] = time.perf_counter() - t

    t = time.perf_counter()
    coords, fitted = project.umap_2d(reduced, seed=seed, sample=sample, progress=progress)
    timings["umap"] = time.perf_counter() - t

    t = time.perf_counter()
    _progress(progress, n, n, "clustering")
    rule = "--clusters"
    if clusters is None:  # instruction data gets task-sized clusters (project.choose_k says why)
        clusters, rule = project.choose_k(n, instruction_share=_instruction_share(ws))
    cl = project.kmeans(reduced, k=clusters, seed=seed)
    timings["clusters"] = time.perf_counter() - t

    t = time.perf_counter()
    _progress(progress, n, n, "labelling clusters")
    label_of, terms_of = _labels(ws, ids, cl, seed=seed, lab=lab)
    timings["labels"] = time.perf_counter() - t

    t = time.perf_counter()
    _progress(progress, n, n, "SemDeDup")
    dup_of, dup_sim = signals.semdedup(vecs, cl, eps=eps)
    dens = signals.density(nb_sim)
    timings["semdedup_density"] = time.perf_counter() - t

    t = time.perf_counter()
    import pyarrow as pa

    sizes = np.bincount(cl, minlength=int(cl.max()) + 1 if n else 0)
    id_arr = pa.array(ids.tolist(), pa.string())
    points = pa.table(
        {
            "id": id_arr,
            "map_x": pa.array(coords[:, 0], pa.float32()),
            "map_y": pa.array(coords[:, 1], pa.float32()),
            "map_cluster": pa.array(cl, pa.int32()),
            "map_cluster_label": pa.array([label_of[int(c)] for c in cl], pa.string()),
            "map_cluster_size": pa.array(sizes[cl].astype(np.int32), pa.int32()),
        }
    )
    sig = pa.table(
        {
            "id": id_arr,
            "density_knn_dist": pa.array(dens, pa.float32()),
            "semdup_dup_of": pa.array([ids[j] if j >= 0 else None for j in dup_of], pa.string()),
            "semdup_is_dup": pa.array(dup_of >= 0, pa.bool_()),
            "semdup_sim": pa.array(np.nan_to_num(dup_sim, nan=0.0), pa.float32()),
        }
    )
    kk = nb_idx.shape[1]
    nbs = pa.table(
        {
            "id": id_arr,
            "nb_ids": pa.FixedSizeListArray.from_arrays(pa.array(ids[nb_idx.reshape(-1)].tolist(), pa.string()), kk)
            if kk
            else pa.array([[]] * n, pa.list_(pa.string())),
            "nb_sims": pa.FixedSizeListArray.from_arrays(pa.array(nb_sim.reshape(-1), pa.float32()), kk)
            if kk
            else pa.array([[]] * n, pa.list_(pa.float32())),
        }
    )
    cids = np.arange(len(sizes))
    med = np.array([np.median(coords[cl == c], axis=0) if sizes[c] else (np.nan, np.nan) for c in cids])
    clus = pa.table(
        {
            "cluster": pa.array(cids, pa.int32()),
            "label": pa.array([label_of[int(c)] for c in cids], pa.string()),
            "terms": pa.array([terms_of[int(c)] for c in cids], pa.list_(pa.string())),
            "size": pa.array(sizes, pa.int64()),
            "x": pa.array(med[:, 0] if len(med) else [], pa.float32()),
            "y": pa.array(med[:, 1] if len(med) else [], pa.float32()),
        }
    )
    spec = {
        "model": model,
        "documents": n,
        "fitted": int(fitted),
        "seed": seed,
        "k": kk,
        "clusters": len(cids),
        "cluster_rule": rule,
        "eps": eps,
        "neighbours": method,
    }
    with ws.transaction() as cur:
        _write(ws, cur, MAP_TABLE, points)
        _write(ws, cur, SIG_TABLE, sig)
        _write(ws, cur, NB_TABLE, nbs)
        _write(ws, cur, CLUSTER_TABLE, clus)
        ws.set_meta("map.spec", json.dumps(spec), con=cur)
        ws.register_part(MAP_TABLE, kind="map", con=cur, order=200)
        ws.register_part(SIG_TABLE, kind="embed", con=cur, order=210)
    timings["write"] = time.perf_counter() - t
    return {
        **spec,
        "semantic_duplicates": int((dup_of >= 0).sum()),
        "seconds": {k2: round(v, 2) for k2, v in timings.items()},
        "cluster_labels": [
            {"cluster": int(c), "size": int(sizes[c]), "label": label_of[int(c)]} for c in cids[: min(len(cids), 100)]
        ],
    }
