"""The streamed map's per-cluster stage: neighbours inside the k-means cluster (before, the stage up to 67f886d)
against neighbours across cluster borders (after, ``app.maps.scale.cluster_pass`` with ``app.maps.probe``).

    python bench/bench_map_probe.py recall                      # realmix fast vectors: recall@10 vs exact global
    python bench/bench_map_probe.py pass --sizes 200000:20       # synthetic: CPU of the stage (n documents:clusters)
    python bench/bench_map_probe.py shape --sizes 1700000:17     # one cluster of 10M's shape: CPU per document

Both write JSON under bench/out/map_scale (``probe_recall.json``, ``probe_pass.json``), which
``bench_map_scale.py readme`` renders. CPU is ``time.process_time`` of this process (every thread); before and
after alternate in one process, ``--repeat`` times, and the medians are reported with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "map_scale"
WORK = Path(os.environ.get("WINNOW_BENCH_TMP", "/tmp/map_scale_bench"))


def before_stage(x: np.ndarray, cl: np.ndarray, *, k: int = 10, eps: float = 0.05) -> tuple[np.ndarray, float]:
    """The stage as it was: per cluster, k-NN inside the cluster, SemDeDup, density. ``(neighbours, CPU s)``."""
    from app.maps import signals
    from app.maps.scale import cluster_knn, semdedup_cluster

    nb = np.zeros((len(x), k), dtype=np.int64)
    c0 = time.process_time()
    for c in range(int(cl.max()) + 1):
        mem = np.flatnonzero(cl == c)
        xc = np.ascontiguousarray(x[mem])
        idx, sim, _ = cluster_knn(xc, k=k, seed=0)
        semdedup_cluster(xc, eps=eps, seed=0, k=k, knn=(idx, sim))
        signals.density(sim)
        nb[mem, : idx.shape[1]] = mem[idx]
    return nb, time.process_time() - c0


def after_stage(x: np.ndarray, cl: np.ndarray, *, k: int = 10, eps: float = 0.05) -> tuple[np.ndarray, float]:
    """``cluster_pass`` from a spool file, its files in a scratch folder. ``(neighbours, CPU s)``."""
    from app.maps.scale import Spool, cluster_pass

    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="probe-", dir=WORK))
    try:
        sp = Spool(scratch / "v.f32", x.shape[1])
        for s in range(0, len(x), 65_536):
            sp.add(x[s : s + 65_536])
        sp.done()
        nb = np.zeros((len(x), k), dtype=np.int64)

        def emit(rows: np.ndarray, idx: np.ndarray, sim: np.ndarray) -> None:
            nb[rows] = idx

        c0 = time.process_time()
        cluster_pass(sp, cl, k=k, eps=eps, seed=0, scratch=scratch, emit=emit)
        return nb, time.process_time() - c0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def recall(x: np.ndarray, nb: np.ndarray, queries: np.ndarray) -> float:
    """Mean share of each query's exact 10 nearest (global, itself excluded) found in ``nb``."""
    from app.maps.knn import knn_exact

    ex, _ = knn_exact(x[queries], x, 11)
    return float(np.mean([np.isin([j for j in row if j != q][:10], nb[q]).mean() for q, row in zip(queries, ex)]))


def run(x: np.ndarray, cl: np.ndarray, *, repeat: int, queries: int = 2000) -> dict:
    q = np.sort(np.random.default_rng(1).choice(len(x), min(queries, len(x)), replace=False))
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    nbs = {}
    for _ in range(repeat):
        for name, fn in (("before", before_stage), ("after", after_stage)):
            nbs[name], secs = fn(x, cl)
            cpu[name].append(secs)
    sizes = np.bincount(cl)
    return {
        "documents": len(x),
        "clusters": len(sizes),
        "largest_cluster": int(sizes.max()),
        "cpu_s_before": round(float(np.median(cpu["before"])), 1),
        "cpu_s_after": round(float(np.median(cpu["after"])), 1),
        "runs": repeat,
        "recall10_before": round(recall(x, nbs["before"], q), 3),
        "recall10_after": round(recall(x, nbs["after"], q), 3),
        "load": round(os.getloadavg()[0], 1),
    }


def realmix() -> tuple[np.ndarray, np.ndarray]:
    """realmix's fast-model vectors (the workspace bench_map_scale.py quality builds) and their k-means clusters,
    as the map computes them (PCA-50, k = sqrt(n/20))."""
    from app.embed import load_vectors
    from app.maps import project
    from bench.bench_map_scale import realmix_fast

    ws = realmix_fast(WORK / "realmix_fast")
    _, x, _ = load_vectors(ws)
    ws.close()
    return x, project.kmeans(project.pca_reduce(x, seed=0), k=project.auto_k(len(x)), seed=0)


def synthetic(n: int, clusters: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``bench_map_scale.py``'s synthetic 256-d mixture (50 centres) and k-means clusters on its PCA-50 vectors."""
    from app.maps import project

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, 256)).astype(np.float32)
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, 256)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, project.kmeans(project.pca_reduce(x, seed=0), k=clusters, seed=0)


def _synthetic_chunked(n: int, *, seed: int = 0, step: int = 100_000) -> np.ndarray:
    """:func:`synthetic`'s vectors drawn in row blocks (the same generator stream, so the same vectors) without its
    float64 temporaries (7 GB at 1.7M documents)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, 256)).astype(np.float32)
    topic = rng.integers(0, 50, n)
    x = np.empty((n, 256), dtype=np.float32)
    for s in range(0, n, step):
        e = min(n, s + step)
        x[s:e] = centres[topic[s:e]] + 0.6 * rng.standard_normal((e - s, 256)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def shape_data(n: int, clusters: int, *, near: int = 16) -> tuple[Path, np.ndarray, np.ndarray]:
    """Cluster 0 of :func:`synthetic` (``n`` documents in ``clusters``) with its ``near`` nearest clusters' cell
    stores, built once under ``WORK/shape_N_C`` and reused by every run: ``(folder, cluster 0's rows, nearest)``."""
    from app.maps import probe, project

    d = WORK / f"shape_{n}_{clusters}"
    if not (d / "done").exists():
        d.mkdir(parents=True, exist_ok=True)
        x = _synthetic_chunked(n)
        cl = project.kmeans(project.pca_reduce(x, seed=0), k=clusters, seed=0)
        sizes = np.bincount(cl)
        cent = np.stack([x[cl == c].sum(axis=0) for c in range(len(sizes))])
        cent /= np.linalg.norm(cent, axis=1, keepdims=True)
        nearest = probe.near_clusters(cent, count=near)
        for c in nearest[0]:
            mem = np.flatnonzero(cl == c)
            probe.CellStore(d / f"cells_{int(c)}.f32", np.ascontiguousarray(x[mem]), mem, seed=0).save()
        mem = np.flatnonzero(cl == 0)
        np.ascontiguousarray(x[mem]).tofile(d / "cluster_0.keep")
        np.save(d / "members.npy", mem)
        np.save(d / "nearest.npy", nearest[0])
        (d / "done").write_text("")
    return d, np.load(d / "members.npy"), np.load(d / "nearest.npy")


def one_cluster(n: int, clusters: int, *, near: int = 16) -> dict:
    """The per-cluster stage of one cluster with 10M's shape, timed alone: ``n`` synthetic documents in ``clusters``
    k-means clusters (1,700,000 in 17: ~100,000 members each, the largest's 16 nearest clusters all present). Cluster
    0 gets the whole stage (:func:`app.maps.scale._cells_of`: in-cluster lists, SemDeDup, cells; then
    :func:`app.maps.scale._neighbours_of` across borders); its nearest clusters get only their cell stores (built
    once, :func:`shape_data`). CPU seconds of this process per stage and per document of cluster 0
    (``time.process_time``), and a digest of the neighbour lists and duplicates (to tell whether a change altered
    them)."""
    import hashlib

    from app.maps import knn as knn_mod
    from app.maps import probe
    from app.maps.scale import SEMDUP_EXACT, _cells_of, _neighbours_of

    d, mem, nearest = shape_data(n, clusters, near=near)
    scratch = Path(tempfile.mkdtemp(prefix="shape-", dir=WORK))
    try:
        for f in d.glob("cells_*"):
            os.symlink(f, scratch / f.name)
        shutil.copyfile(d / "cluster_0.keep", scratch / "cluster_0.f32")
        state = {"scratch": scratch, "k": 10, "eps": 0.05, "seed": 0, "dim": 256, "top_cells": probe.TOP_CELLS,
                 "semdup_exact": SEMDUP_EXACT, "exact_limit": knn_mod.EXACT_LIMIT, "preselect": probe.PRESELECT}  # fmt: skip
        with knn_mod.one_blas_thread():
            c0 = time.process_time()
            dup_of, _, _, _ = _cells_of(state, (0, mem))
            c1 = time.process_time()
            rows, idx, _ = _neighbours_of(state, (0, nearest))
            c2 = time.process_time()
        m = len(mem)
        lists = idx[np.argsort(rows)]
        np.save(WORK / f"lists_{os.getpid()}.npy", lists)  # to compare two runs' neighbour lists
        return {"documents": n, "clusters": clusters, "members": m, "near": len(nearest),
                "cells_semdedup_cpu_s": round(c1 - c0, 1), "neighbours_cpu_s": round(c2 - c1, 1),
                "cpu_ms_per_doc": round((c2 - c0) / m * 1e3, 4), "load": round(os.getloadavg()[0], 1),
                "duplicates": int((dup_of >= 0).sum()),
                "dup_digest": hashlib.sha256(np.ascontiguousarray(dup_of).tobytes()).hexdigest()[:12],
                "nb_digest": hashlib.sha256(np.ascontiguousarray(lists).tobytes()).hexdigest()[:12],
                "lists": str(WORK / f"lists_{os.getpid()}.npy")}  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def render_lines() -> list[str]:
    """README lines for the measured files (none when neither exists)."""
    from bench._readme import md_table

    rows = []
    for name in ("probe_recall.json", "probe_pass.json"):
        f = OUT / name
        if f.exists():
            got = json.loads(f.read_text())
            rows += got if isinstance(got, list) else [got]
    if not rows:
        return []
    note = [
        f"On {r['documents']:,} synthetic documents in {r['clusters']} clusters of up to {r['largest_cluster']:,}"
        f" members (10M's cluster size) the stage costs {r['cpu_s_after'] / r['cpu_s_before']:.1f}x before: such"
        " clusters still need their in-cluster `knn_ivf` lists for SemDeDup (8 cells probed), and the search across"
        " borders adds 16 cells of the nearest clusters (recall@10 on realmix with every cluster sent down this path:"
        " 0.857 with 16, 0.879 with 24, 0.809 with 8; clusters of up to 20,000 members probe 24 cells of their own and"
        " the nearest clusters); making it cheaper is the open step."
        for r in rows
        if r["largest_cluster"] >= 90_000 and r["cpu_s_after"] > 1.3 * r["cpu_s_before"]
    ]
    return [
        "",
        "Neighbours across cluster borders (`python bench/bench_map_probe.py recall`, `... pass --sizes 200000:20,200000:2`):"
        " the per-cluster stage before (k-NN inside the k-means cluster, SemDeDup, density) against after"
        " (`cluster_pass` with `app/maps/probe.py`, its disk files included); CPU seconds of the process, recall@10"
        " against exact global search on 2,000 (realmix) or 1,000 (synthetic) query documents:",
        "",
        md_table(
            [
                "data",
                "documents",
                "clusters (largest)",
                "CPU s before",
                "CPU s after",
                "recall@10 before",
                "recall@10 after",
                "load",
            ],
            [
                [
                    r["data"],
                    f"{r['documents']:,}",
                    f"{r['clusters']} ({r['largest_cluster']:,})",
                    r["cpu_s_before"],
                    r["cpu_s_after"],
                    r["recall10_before"],
                    r["recall10_after"],
                    r["load"],
                ]
                for r in rows
            ],
        ),
        *(["", *note] if note else []),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["recall", "pass", "shape"])
    ap.add_argument("--sizes", default="200000:20", help="pass: documents:clusters, comma-separated")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--preselect", type=int, help="app.maps.probe.PRESELECT for this run (cells chosen per group)")
    ap.add_argument("--big-path", action="store_true", help="recall: every cluster takes the in-cluster-lists path")
    ap.add_argument("--tag", default="", help="suffix of the JSON written (variants side by side)")
    a = ap.parse_args()
    from app.maps import probe, scale

    if a.preselect is not None:
        probe.PRESELECT = a.preselect
    if a.big_path:
        scale.SEMDUP_EXACT = 1  # clusters of 2+ members: in-cluster lists, then 16 foreign cells (10M's path)
    OUT.mkdir(parents=True, exist_ok=True)
    if a.mode == "recall":
        res = {"data": "realmix, winnow embed --fast", **run(*realmix(), repeat=a.repeat),
               "big_path": a.big_path, "preselect": probe.PRESELECT}  # fmt: skip
        (OUT / f"probe_recall{a.tag}.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res), flush=True)
        return
    if a.mode == "shape":
        for spec in a.sizes.split(","):
            res = {**one_cluster(*(int(v) for v in spec.split(":"))), "preselect": probe.PRESELECT}
            print(json.dumps(res), flush=True)
            (OUT / f"shape_{res['documents']}_{res['clusters']}{a.tag}.json").write_text(json.dumps(res, indent=1))
        return
    rows = []
    for spec in a.sizes.split(","):
        n, c = (int(v) for v in spec.split(":"))
        rows.append({"data": "synthetic 256-d", **run(*synthetic(n, c), repeat=a.repeat, queries=1000)})
        print(json.dumps(rows[-1]), flush=True)
    f = OUT / "probe_pass.json"
    keep = [r for r in (json.loads(f.read_text()) if f.exists() else []) if (r["documents"], r["clusters"]) not in
            {(x["documents"], x["clusters"]) for x in rows}]  # fmt: skip
    f.write_text(json.dumps(keep + rows, indent=1))


if __name__ == "__main__":
    main()
