"""The streamed map's first step (:func:`map_part`): the map itself - PCA, UMAP, k-means, cluster labels,
placement - written before the per-cluster stage (:mod:`app.maps.twostep` says why), the vectors left in one file
per cluster for it. The UMAP fit runs in its own process (:class:`app.maps.pool.BackgroundFit`: seeded UMAP uses
one core) while k-means, the labels and the split by cluster run here; placement then uses every worker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from app.maps import project, twostep, writer
from app.maps.place import place_rest
from app.maps.pool import BackgroundFit
from app.maps.spool import Spool, _tick, reduce_spool, split_clusters


def map_part(
    ws: Any,
    *,
    ids: Any,
    spool: Spool,
    pca_sample: np.ndarray | None,
    model: str,
    n: int,
    sample: int | None,
    seed: int,
    k: int,
    clusters: int | None,
    eps: float,
    workers: int,
    scratch: Path,
    timings: dict[str, float],
    progress: Any,
    run: str,
) -> tuple[dict[str, Any], np.ndarray]:
    """Part 1 of :func:`app.maps.scale.build_streamed`: PCA, UMAP (fitted in its own process while k-means, the labels and the
    split of the vectors by cluster run here), placement, then the map written (:func:`app.maps.writer.write_points`).
    Returns ``(the stored spec, the clusters)``; the vectors are left in per-cluster files for part 2."""

    t = time.perf_counter()
    reduced = reduce_spool(spool, pca_sample, seed=seed, progress=progress)
    timings["pca"] = time.perf_counter() - t

    t = time.perf_counter()
    fit_idx = project.umap_fit_rows(n, sample=sample, seed=seed)
    base = np.ascontiguousarray(reduced[fit_idx])
    _tick(progress, 0, n, f"UMAP on {len(fit_idx):,} points (beside the clusters)")
    with BackgroundFit(base, seed=seed) as fit:  # UMAP runs on one core: k-means, labels and the split meanwhile
        timings["umap_start"] = time.perf_counter() - t

        t = time.perf_counter()
        _tick(progress, n, n, "clustering")
        rule = "--clusters"
        n_clusters = clusters
        if n_clusters is None:
            from app.maps.common import _instruction_share

            n_clusters, rule = project.choose_k(n, instruction_share=_instruction_share(ws))
        cl = project.kmeans(reduced, k=n_clusters, seed=seed)
        pca_rows = Spool(scratch / "reduced.f32", reduced.shape[1])  # read back block by block by placement
        pca_rows.add(reduced)
        pca_rows.done()
        del reduced
        timings["clusters"] = time.perf_counter() - t

        t = time.perf_counter()
        _tick(progress, n, n, "labelling clusters")
        label_of, terms_of = writer.labels(ws, ids, cl, seed=seed)
        timings["labels"] = time.perf_counter() - t

        t = time.perf_counter()
        split_clusters(spool, cl, scratch=scratch, progress=progress)
        timings["split"] = time.perf_counter() - t

        t = time.perf_counter()
        _tick(progress, n, n, "waiting for the UMAP fit")
        fitted = fit.result()
    coords = place_rest(pca_rows, fit_idx, fitted, base=base, seed=seed, workers=workers, progress=progress)
    pca_rows.remove()
    timings["umap"] = time.perf_counter() - t

    t = time.perf_counter()
    spec = writer.write_points(
        ws, ids=ids, coords=coords, cl=cl, label_of=label_of, terms_of=terms_of,
        spec={"model": model, "documents": n, "fitted": len(fit_idx), "seed": seed, "k": min(k, max(0, n - 1)),
              "cluster_rule": rule, "eps": eps, "neighbours": None, "streamed": True, "workers": workers},
        pending=twostep.pending_mark(run=run, sample=sample, clusters=clusters),
    )  # fmt: skip
    timings["write_map"] = time.perf_counter() - t
    _tick(progress, n, n, "map written; neighbours next")
    return spec, cl
