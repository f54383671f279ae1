"""The streamed map's parallel stages (app/maps/pool.py) with 1 and 2 worker processes, each in a fresh process.

    python bench/bench_map_workers.py --n 200000 --clusters 20 --workers 1,2

Synthetic 256-d vectors (a normalised 50-centre Gaussian mixture, as bench_map_scale.py), split into ``--clusters``
clusters by their nearest of that many random centres. Each run times :func:`app.maps.scale.cluster_pass` (SemDeDup,
fine cells, neighbours across borders) and :func:`app.maps.place.place_rest` (the first 50 dimensions re-normalised
as the "PCA" vectors, 50,000 fitted rows with seeded 2-D positions): wall, CPU of the process plus its reaped
workers, peak RSS of the process and of the largest worker, and a digest of every output so runs with different
worker counts can be checked equal. Results: bench/out/map_scale/workers_*.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "map_scale"
WORK = Path(os.environ.get("WINNOW_BENCH_TMP", "/tmp/map_workers_bench"))


def data(n: int, clusters: int, *, dim: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(unit vectors [n, dim] float32, cluster of each row)``."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    split = x[rng.choice(n, clusters, replace=False)]
    cl = np.concatenate([np.argmax(x[s : s + 65_536] @ split.T, axis=1) for s in range(0, n, 65_536)])
    return x, cl.astype(np.int32)


def _cpu() -> float:
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def child(n: int, clusters: int, workers: int, out: str) -> None:
    """One run of both stages with ``workers`` processes (this process is fresh)."""
    from app.maps.place import place_rest
    from app.maps.scale import Spool, cluster_pass

    x, cl = data(n, clusters)
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="workers-", dir=WORK))
    res: dict = {"n": n, "clusters": clusters, "workers": workers, "load_start": round(os.getloadavg()[0], 1)}
    try:
        sp = Spool(scratch / "v.f32", x.shape[1])
        for s in range(0, n, 65_536):
            sp.add(x[s : s + 65_536])
        sp.done()
        nb = np.zeros((n, 10), dtype=np.int64)
        sims = np.zeros((n, 10), dtype=np.float32)

        def emit(rows: np.ndarray, idx: np.ndarray, sim: np.ndarray) -> None:
            nb[rows], sims[rows] = idx, sim

        red = np.ascontiguousarray(x[:, :50])
        red /= np.linalg.norm(red, axis=1, keepdims=True)
        del x
        t, c = time.perf_counter(), _cpu()
        dens, dup_of, dup_sim, _ = cluster_pass(sp, cl, k=10, eps=0.05, seed=0, scratch=scratch, emit=emit,
                                                workers=workers)  # fmt: skip
        res["cluster_pass"] = {"wall_s": round(time.perf_counter() - t, 1), "cpu_s": round(_cpu() - c, 1),
                               "digest": _digest(nb, sims, dens, dup_of, np.nan_to_num(dup_sim))}  # fmt: skip
        rng = np.random.default_rng(2)
        fit = min(50_000, n // 4)
        fit_idx = np.sort(rng.choice(n, fit, replace=False))
        fitted = rng.standard_normal((fit, 2)).astype(np.float32)
        t, c = time.perf_counter(), _cpu()
        coords = place_rest(red, fit_idx, fitted, seed=0, workers=workers)
        res["placement"] = {"wall_s": round(time.perf_counter() - t, 1), "cpu_s": round(_cpu() - c, 1),
                            "digest": _digest(coords)}  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    res["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    res["worker_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    res["load_end"] = round(os.getloadavg()[0], 1)
    Path(out).write_text(json.dumps(res))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for w in [int(v) for v in a.workers.split(",")]:  # alternate fresh processes
        out = OUT / f"workers_{a.n}_{a.clusters}_w{w}.json"
        r = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "child", str(a.n), str(a.clusters), str(w),
                            str(out)], cwd=ROOT)  # fmt: skip
        print(out.read_text() if r.returncode == 0 else f"workers {w}: failed ({r.returncode})", flush=True)


if __name__ == "__main__":
    main()
