"""`winnow map` at scale: the in-memory path (before) against the streamed one (after, app/maps/scale.py).

    python bench/bench_map_scale.py speed --sizes 50000,200000,1000000   # wall, CPU, peak RSS per size and path
    python bench/bench_map_scale.py quality                              # faithfulness on realmix (--fast vectors)
    python bench/bench_map_scale.py readme                               # README section bench:map_scale

Speed: a workspace of N synthetic documents (normalised 256-d Gaussian mixture, 50 centres: the fast model's width;
realmix has 53,941 documents and embedding millions was not possible here) gets each path in a fresh process
(``build_map(stream_above=...)``), which reports wall time, CPU time (``time.process_time``) and peak RSS
(``ru_maxrss``). Quality: realmix embedded with ``winnow embed --fast``; the streamed path's placement, neighbours
and SemDeDup against the in-memory path's exact ones.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "map_scale"
WORK = Path(os.environ.get("WINNOW_BENCH_TMP", "/tmp/map_scale_bench"))
REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"
DIM = 256
KEY = f"synthetic:{DIM}"


def synthetic_ws(path: Path, n: int, *, seed: int = 0) -> None:
    """A workspace of ``n`` documents with synthetic vectors stored as an embedding model's table."""
    import pyarrow as pa

    from app.embed import MODELS_DDL, vectors_table
    from app.sql import qi
    from app.workspace import Workspace

    if path.exists():
        shutil.rmtree(path)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, DIM)).astype(np.float32)
    topic = rng.integers(0, 50, n)
    words = [" ".join(f"t{c}w{j}" for j in range(8)) for c in range(50)]
    ws = Workspace.open(path, create=True)
    ids = [f"d{i:08d}" for i in range(n)]
    ws.write_source("synthetic", pa.table({"id": ids, "text": [f"{words[t]} n{i}" for i, t in enumerate(topic)]}))
    table = vectors_table(KEY)
    cur = ws.cursor()
    cur.execute(MODELS_DDL)
    cur.execute(f"CREATE TABLE {qi(table)} (text_hash VARCHAR NOT NULL, vec FLOAT[{DIM}])")
    cur.execute("INSERT INTO embed_models VALUES (?, ?, ?, '{}', now()::TIMESTAMP)", [KEY, table, DIM])
    hashes = cur.execute("SELECT text_hash FROM docs ORDER BY id").fetchnumpy()["text_hash"]
    for s in range(0, n, 200_000):
        e = min(n, s + 200_000)
        x = centres[topic[s:e]] + 0.6 * rng.standard_normal((e - s, DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        tbl = pa.table(
            {"text_hash": hashes[s:e], "vec": pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), DIM)}
        )
        cur.register("_v", tbl)
        cur.execute(f"INSERT INTO {qi(table)} SELECT * FROM _v")
        cur.unregister("_v")
    ws.set_meta("embed.active", KEY, con=cur)
    ws.close()


def _rss_mib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def _sample_rss(last: dict, peaks: dict, stop: Any) -> None:
    """Every second: the resident memory of this process plus its worker processes, the peak kept per stage."""
    me = os.getpid()
    while not stop.wait(1.0):
        total = _rss_mib(me) + sum(_rss_mib(p) for p in _children(me))
        stage = (last["stage"] or "start").split(" (")[0]
        peaks[stage] = max(peaks.get(stage, 0), total)


def _cpu_s(c0: float) -> float:
    """CPU seconds of this process since ``c0`` plus those of its reaped worker processes."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() - c0 + ch.ru_utime + ch.ru_stime


def _live_children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's live child processes (workers not reaped yet)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _children(os.getpid()):
        try:
            f = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
            total += (int(f[11]) + int(f[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return total


def child(path: str, stream_above: int, out: str, workers: int | None = None) -> None:
    """One `winnow map` build in this fresh process: wall, CPU (with its workers') and peak RSS (this process's,
    and the sampled sum with its workers', per stage)."""
    import threading

    from app.maps import build_map
    from app.workspace import Workspace

    t, c = time.perf_counter(), time.process_time()
    load = round(os.getloadavg()[0], 1)
    trace = Path(out + ".progress")
    last: dict = {"stage": None, "t": 0.0}
    peaks: dict[str, int] = {}
    stop = threading.Event()
    threading.Thread(target=_sample_rss, args=(last, peaks, stop), daemon=True).start()

    def progress(done: int, total: int | None, stage: str) -> None:
        """Stage, CPU seconds and peak RSS as the run goes (a run stopped early still says how far it got)."""
        now = time.perf_counter()
        if stage.startswith("map written") and "usable" not in last:  # the map itself is stored: usable from here
            last["usable"] = {"wall_s": round(now - t, 1), "cpu_s": round(_cpu_s(c) + _live_children_cpu_s(), 1)}
        if stage != last["stage"] or now - last["t"] > 20:
            last.update(stage=stage, t=now)
            rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            row = {"stage": stage, "done": done, "total": total, "cpu_s": round(_cpu_s(c), 1)}
            with trace.open("a") as f:
                f.write(json.dumps({**row, "wall_s": round(now - t, 1), "peak_rss_mib": rss}) + "\n")

    with Workspace.open(Path(path)) as ws:
        res = build_map(ws, stream_above=stream_above, workers=workers, progress=progress)
    stop.set()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    ru_ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(out).write_text(
        json.dumps(
            {
                "n": res["documents"],
                "path": "after" if res.get("streamed") else "before",
                "load_start": load,
                "load_end": round(os.getloadavg()[0], 1),
                "wall_s": round(time.perf_counter() - t, 1),
                "cpu_s": round(_cpu_s(c), 1),
                "peak_rss_mib": round(ru.ru_maxrss / 1024),
                "worker_peak_rss_mib": round(ru_ch.ru_maxrss / 1024),
                "rss_sum_by_stage_mib": peaks,
                "workers": res.get("workers", 1),
                "seconds": res["seconds"],
                "usable": last.get("usable"),
                "neighbours": res["neighbours"],
                "clusters": res["clusters"],
                "semantic_duplicates": res["semantic_duplicates"],
            }
        )
    )


def speed(sizes: list[int], paths: list[str], workers: int | None = None) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        ws = WORK / f"syn_{n}"
        synthetic_ws(ws, n)
        for p in paths:
            res = OUT / (f"speed_{n}_{p}.json" if workers is None else f"speed_{n}_{p}_w{workers}.json")
            above = 10**12 if p == "before" else 0
            cmd = [sys.executable, __file__, "child", str(ws), str(above), str(res), str(workers or 0)]
            r = subprocess.run(["nice", "-n", "5", *cmd], cwd=ROOT)
            if r.returncode:
                print(f"{n} {p}: failed ({r.returncode})", flush=True)
                continue
            print(res.read_text(), flush=True)
        shutil.rmtree(ws, ignore_errors=True)


def realmix_fast(path: Path):
    """realmix embedded with the fast static model (built once under WORK)."""
    import pyarrow.parquet as pq

    from app.embed import embed
    from app.workspace import Workspace

    if (path / "winnow.duckdb").exists():
        return Workspace.open(path)
    ws = Workspace.open(path, create=True)
    ws.write_source("realmix", pq.read_table(REALMIX, columns=["id", "text"]))
    embed(ws, fast=True)
    return ws


def quality(*, fit: int = 20_000, queries: int = 2_000) -> None:
    """Placement, neighbours and SemDeDup of the streamed path against the exact in-memory ones on realmix."""
    from sklearn.manifold import trustworthiness

    from app.embed import load_vectors
    from app.maps import project, signals
    from app.maps.knn import knn_exact, knn_ivf
    from app.maps.place import ivf_search, place_rest, sample_index
    from app.maps.scale import semdedup_knn

    OUT.mkdir(parents=True, exist_ok=True)
    ws = realmix_fast(WORK / "realmix_fast")
    ids, x, key = load_vectors(ws)
    ws.close()
    n = len(ids)
    red = project.pca_reduce(x, seed=0)
    fit_idx = project.umap_fit_rows(n, sample=fit, seed=0)
    fitted = project.umap_fit(red[fit_idx], seed=0)
    rest = np.setdiff1d(np.arange(n), fit_idx)
    base = red[fit_idx]
    t = time.process_time()
    ex_nb, ex_sim = knn_exact(red[rest], base, 10)
    w = np.clip(ex_sim, 1e-3, None) ** 4
    before = np.zeros((n, 2), dtype=np.float32)
    before[fit_idx] = fitted
    before[rest] = (fitted[ex_nb] * w[..., None]).sum(1) / w.sum(1, keepdims=True)
    t_before = time.process_time() - t
    t = time.process_time()
    after = place_rest(red, fit_idx, fitted, seed=0)
    t_after = time.process_time() - t
    cent, members = sample_index(base, seed=0)
    iv_nb, _ = ivf_search(red[rest], base, cent, members, k=10, nprobe=8)
    place_recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ex_nb, iv_nb)]))
    extent = float(np.linalg.norm(np.percentile(fitted, 99, axis=0) - np.percentile(fitted, 1, axis=0)))
    move = np.linalg.norm(before[rest] - after[rest], axis=1) / extent
    rng = np.random.default_rng(1)
    sub = np.sort(rng.choice(n, queries, replace=False))
    tw_before = float(trustworthiness(x[sub], before[sub], n_neighbors=10, metric="cosine"))
    tw_after = float(trustworthiness(x[sub], after[sub], n_neighbors=10, metric="cosine"))
    # neighbours inside the k-means cluster (the streamed path) against the exact global 10-NN
    cl = project.kmeans(red, k=project.auto_k(n), seed=0)
    g_idx, _ = knn_exact(x[sub], x, 11)
    rec = []
    for qi, row in zip(sub, g_idx):
        glob = [j for j in row if j != qi][:10]
        mem = np.flatnonzero(cl == cl[qi])
        s = x[mem] @ x[qi]
        s[mem == qi] = -np.inf
        local = mem[np.argsort(-s, kind="stable")[:10]]
        rec.append(len(set(glob) & set(local)) / 10)
    # SemDeDup from knn_ivf lists (the path of clusters above SEMDUP_EXACT) against the exact one, whole corpus as
    # one cluster (53,941 documents)
    exact_of, _ = signals.semdedup(x, np.zeros(n, dtype=np.int32))
    iv_idx, iv_sim = knn_ivf(x, 10, seed=0)
    knn_of, _ = semdedup_knn(x, iv_idx, iv_sim, eps=0.05)
    both = int(((exact_of >= 0) & (knn_of >= 0)).sum())
    res = {
        "documents": n,
        "model": key,
        "fit": len(fit_idx),
        "placed": len(rest),
        "place_cpu_s_before": round(t_before, 2),
        "place_cpu_s_after": round(t_after, 2),
        "place_recall10": round(place_recall, 3),
        "move_median_pct": round(float(np.median(move)) * 100, 2),
        "move_p95_pct": round(float(np.percentile(move, 95)) * 100, 2),
        "trust_before": round(tw_before, 4),
        "trust_after": round(tw_after, 4),
        "clusters": int(cl.max()) + 1,
        "nb_recall_within_cluster": round(float(np.mean(rec)), 3),
        "semdup_exact": int((exact_of >= 0).sum()),
        "semdup_knn_ivf": int((knn_of >= 0).sum()),
        "semdup_both": both,
        "load": round(os.getloadavg()[0], 1),
    }
    (OUT / "quality.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res), flush=True)


def render() -> str:
    """The README section from bench/out/map_scale."""
    from bench._readme import machine, md_table

    rows = sorted(
        (json.loads(f.read_text()) for f in OUT.glob("speed_*.json")),
        key=lambda r: (r["n"], r["path"] != "before", r.get("workers", 0)),
    )
    loads = [v for r in rows for v in (r["load_start"], r["load_end"])]
    table = md_table(
        ["documents", "path", "workers", "wall s", "CPU s", "docs per CPU-s", "peak RSS MiB", "neighbours"],
        [
            [
                f"{r['n']:,}",
                r["path"],
                r.get("workers", "1 (before worker processes)") if r["path"] == "after" else 1,
                r["wall_s"],
                r["cpu_s"],
                f"{r['n'] / max(r['cpu_s'], 1e-9):,.0f}",
                _peak(r),
                r["neighbours"],
            ]
            for r in rows
        ],
    )
    out = [
        "### `winnow map` at scale (`bench/bench_map_scale.py`)",
        "",
        f"Synthetic 256-d vectors (a normalised 50-centre Gaussian mixture: the fast model's width; realmix has only"
        f" 53,941 documents and embedding millions did not fit this session) in a workspace, `build_map` in a fresh"
        f" process per row under `nice -n 5`; before = the in-memory path (every vector loaded), after = the streamed"
        f" path (`app/maps/scale.py`); {machine()}, shared"
        + (
            f": 1-minute load average {min(loads)} to {max(loads)} during the runs, so CPU seconds (user + system"
            " of the process) are the figure to compare."
            if loads
            else "."
        ),
        "",
        "Above 100,000 embedded documents `winnow map` streams (`app/maps/scale.py`): the vectors go from the"
        " `emb__*` table, in id order and 65,536 rows at a time, to a scratch file (DuckDB's sort capped at 2 GB);"
        " the same seeded PCA, UMAP sample, k-means and labels as the in-memory path are computed from it, every"
        " other point is placed from its 10 nearest UMAP-sample points found through an inverted file over the"
        " sample (`app/maps/place.py`), SemDeDup runs one k-means cluster at a time (exact up to 20,000 members,"
        " from the in-cluster k-NN lists beyond: exact k-NN up to 60,000 members, `knn_ivf` beyond), and each"
        " document's neighbours are searched across cluster borders among the members of its 24 nearest fine"
        " cells (about sqrt(members) cells per cluster, stored on disk sorted by cell) of its own and the 16"
        " nearest clusters (`app/maps/probe.py`). Memory: at most about 215 bytes per document (the PCA-50"
        " vectors, until k-means; then about 36: coordinates, cluster, density and duplicate columns, the rows"
        " sorted by cluster) plus the ids as Arrow strings: about 2.5 GB in all at 10M documents with"
        " 9-character ids; on top, DuckDB's sort while the vectors are read (capped at 2 GB), per worker the"
        " largest cluster's full vectors and its search, and the UMAP fit on at most 50,000 points. Placement"
        " blocks and clusters run in `--workers` processes (`app/maps/pool.py`: spawned, one BLAS thread each,"
        " results taken in order, so the tables are identical for 1 and 2 workers; default the usable cores, at"
        " most 4). The map is written in two steps (`app/maps/twostep.py`): coordinates, clusters and labels as soon"
        " as placement and k-means are done (the Map page and `corpus`'s map columns usable from then on, the"
        " workspace's file lock released while the rest runs), then density, the SemDeDup columns and the"
        " neighbour table after the per-cluster stage; a run stopped in between keeps the map, its neighbours"
        " marked pending, and `winnow map` run again finishes only them. CPU s below include the workers'."
        " Headless semantic dedup"
        " uses the same per-cluster rule above 100,000 documents, so both keep finding the same duplicates.",
        "",
        table
        if rows
        else "No size finished in this session: the machine's load average stayed near 20 (each process got a few"
        " percent of a core), so what follows are the pieces that were measured.",
    ]
    usable = [r for r in rows if r.get("usable")]
    if usable:
        out += [
            "",
            "When the map was usable (written, the per-cluster stage still to run) against complete: "
            + "; ".join(
                f"{r['n']:,} documents, {r.get('workers', 1)} workers: after {r['usable']['wall_s']} s wall /"
                f" {r['usable']['cpu_s']} CPU-s, complete after {r['wall_s']} s / {r['cpu_s']} CPU-s"
                f" (load {r['load_start']}-{r['load_end']})"
                for r in usable
            )
            + ".",
        ]
    if _rss_stages(rows):
        out += ["", "Resident memory per stage (MiB, the process and its workers, sampled every second):", ""]
        out += _rss_stages(rows)
    from bench.bench_map_probe import render_lines

    out += render_lines() + _shape_lines()
    if rows and not any(r["path"] == "before" for r in rows):
        out += [
            "",
            "The in-memory path (before) finished no run in this session (at 200,000 documents it was stopped after"
            " about 230 CPU s, load average near 20); the scale table above measured it at 112 and 236 documents per"
            " CPU-second at 10,000 and 50,000 documents (1,232 and 1,871 MiB), and it holds every vector (10 GB at"
            " 10M x 256 dimensions).",
        ]
    for f in sorted(OUT.glob("speed_*.json.progress")):  # runs stopped before the end: how far they got
        if Path(str(f)[: -len(".progress")]).exists():
            continue
        steps = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        if not steps:
            continue
        last, n_docs = steps[-1], steps[-1]["total"]
        stages: dict[str, float] = {}
        prev = 0.0  # CPU seconds are charged to the stage that was running (the first one from the start)
        for a, b in zip(steps, [*steps[1:], last]):
            name = a["stage"].split(" (")[0]
            stages[name] = stages.get(name, 0.0) + b["cpu_s"] - prev
            prev = b["cpu_s"]
        out += [
            "",
            f"Stopped before the end (the session ran out; {f.name.split('_')[2].split('.')[0]} path,"
            f" {n_docs:,} documents): {last['cpu_s']} CPU s and {last['wall_s']} s of wall time in, peak RSS"
            f" {last['peak_rss_mib']:,} MiB, last at *{last['stage']}* ({last['done']:,} of {last['total']:,})."
            " CPU seconds per stage so far: "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            + "."
            + _cluster_rate(steps),
        ]
    after = {r["n"]: r for r in rows if r["path"] == "after" and "workers" in r}
    if len(after) >= 2:
        (n1, a1), (n2, a2) = sorted(after.items())[-2:]
        cpu = (a2["cpu_s"] - a1["cpu_s"]) / (n2 - n1)
        rss = (a2["peak_rss_mib"] - a1["peak_rss_mib"]) / (n2 - n1)
        c10 = a2["cpu_s"] + cpu * (10_000_000 - n2)
        r10 = a2["peak_rss_mib"] + rss * (10_000_000 - n2)
        out += [
            "",
            f"**10M documents, streamed** (marginal cost between {n1:,} and {n2:,} carried to 10M; not run):"
            f" about {c10 / 3600:.1f} CPU-hours ({c10 / 60:.0f} CPU-minutes) and a peak RSS of about"
            f" {r10 / 1024:.1f} GiB. Caution: clusters grow to ~100,000 members at 10M, where neighbours switch from"
            f" exact to `knn_ivf` inside each cluster and SemDeDup to the neighbour lists, whose per-document costs"
            f" differ from the exact ones measured here.",
        ]
    cc = OUT / "cluster_cost.json"
    if cc.exists():
        cost = json.loads(cc.read_text())
        out += [
            "",
            "The per-cluster stage alone (`bench_map_scale.py cluster`: k-NN + SemDeDup + density of one synthetic"
            " 256-d cluster; ~10,000 members per cluster at 1M documents, ~100,000 at 10M):",
            "",
            md_table(
                ["members", "k-NN", "CPU s", "CPU ms per document", "load"],
                [[f"{c['members']:,}", c["method"], c["cpu_s"], c["cpu_ms_per_doc"], c["load"]] for c in cost],
            ),
        ]
        out.append(_estimate_10m(cost))
    q = OUT / "quality.json"
    if q.exists():
        r = json.loads(q.read_text())
        out += [
            "",
            f"Faithfulness on realmix ({r['documents']:,} documents, `winnow embed --fast`; load average {r['load']}):"
            f" UMAP fitted on {r['fit']:,}, {r['placed']:,} placed.",
            "",
            md_table(
                ["what", "in-memory (exact)", "streamed"],
                [
                    ["placement: CPU s", r["place_cpu_s_before"], r["place_cpu_s_after"]],
                    ["placement: the 10 nearest sample points found (recall@10)", "1.000", r["place_recall10"]],
                    [
                        "placement: distance moved, % of the map's 1-99% extent (median / p95)",
                        "-",
                        f"{r['move_median_pct']} / {r['move_p95_pct']}",
                    ],
                    ["trustworthiness@10 of the map (2,000 documents, cosine)", r["trust_before"], r["trust_after"]],
                    [
                        f"10-NN recall vs exact global search, inside the k-means cluster (2,000 queries;"
                        f" {r['clusters']} clusters; the streamed path up to 67f886d, see above for after)",
                        "1.000",
                        r["nb_recall_within_cluster"],
                    ],
                    [
                        "SemDeDup duplicates, corpus as one cluster (exact / from `knn_ivf` lists / both)",
                        r["semdup_exact"],
                        f"{r['semdup_knn_ivf']} / both {r['semdup_both']}",
                    ],
                ],
            ),
        ]
        out += [
            "",
            f"Neighbours: inside its own k-means cluster a document finds {r['nb_recall_within_cluster']:.0%} of"
            " its exact 10 nearest (realmix's fast-model clusters are not well separated), which is why the streamed"
            " path now searches the fine cells of the nearest clusters too (the table above). SemDeDup keeps the"
            " in-memory rule (exact up to 20,000 members; from `knn_ivf` lists"
            f" {r['semdup_both']:,} of {r['semdup_exact']:,} duplicates found,"
            f" {r['semdup_knn_ivf'] - r['semdup_both']} false). Placement keeps the map:"
            " the same trustworthiness, 95% of the exact sample neighbours.",
        ]
    out += _workers_lines() + _memory_lines()
    out += [
        "",
        "Reproduce: `python bench/bench_map_scale.py speed --sizes 1000000 --paths after`,"
        " `python bench/bench_map_workers.py --n 200000 --clusters 20`,"
        " `python bench/bench_map_scale.py memory --sizes 2000000`,"
        " `python bench/bench_map_probe.py recall`, `python bench/bench_map_probe.py pass --sizes 200000:20,200000:2`,"
        " `python bench/bench_map_probe.py shape --sizes 1700000:17 [--preselect N --tag _pN]` (the *before* rows: the"
        " same command in a checkout of 0cdb3a3),"
        " `python bench/bench_map_probe.py recall --big-path --preselect N --tag _big_pN`,"
        " `python bench/bench_map_scale.py quality`, `python bench/bench_map_scale.py readme`.",
    ]
    return "\n".join(out)


def _shape_lines() -> list[str]:
    """One cluster of 10M's shape (``bench_map_probe.py shape``): the per-cluster stage's CPU per document there;
    runs of the same shape with other settings (``--tag``: ``preselect``, the code before a change) side by side."""
    lines = []
    runs: dict[tuple, list[dict]] = {}
    for f in sorted(OUT.glob("shape_*.json")):
        r = json.loads(f.read_text())
        r["tag"] = f.stem[len(f"shape_{r['documents']}_{r['clusters']}") :].lstrip("_") or "first"
        runs.setdefault((r["documents"], r["clusters"]), []).append(r)
    for group in runs.values():
        r = next((x for x in group if x["tag"] == "first"), group[0])  # the reference: lists compared with its
        after = sorted(
            (x for x in group if x["tag"].startswith("final") or x["tag"] == "p128"), key=lambda x: x["cpu_ms_per_doc"]
        )
        h = after[len(after) // 2] if after else r  # the headline: the committed code (its median run) when measured
        per = h["cpu_ms_per_doc"] / 1e3
        lines += [
            "",
            f"One cluster of 10M's shape (`python bench/bench_map_probe.py shape --sizes"
            f" {h['documents']}:{h['clusters']}`: {h['documents']:,} synthetic documents in {h['clusters']} k-means"
            f" clusters; cluster 0, {h['members']:,} members, gets the whole stage against its {h['near']} nearest"
            f" clusters' cell stores; one process, load {h['load']}): in-cluster lists, SemDeDup and cells"
            f" {h['cells_semdedup_cpu_s']} CPU-s, neighbours across borders {h['neighbours_cpu_s']} CPU-s,"
            f" {h['cpu_ms_per_doc']} CPU-ms per document: the stage at 10M is about {per * 1e7 / 60:.0f} CPU-minutes,"
            f" {per * 1e7 / 120:.0f} minutes of wall on 2 workers.",
        ]
        if len(group) > 1 and "nb_digest" in r:
            from bench._readme import md_table

            lines += [
                "",
                "The same cluster, each run a fresh process under `nice -n 5` (`--preselect N`: each own fine cell's"
                " queries choose their cells among the N candidate cells nearest its centroid, 0 = every candidate"
                " centroid scored; *before*: the code before the two-level choice and the reuse of `knn_ivf`'s"
                " cells); *same lists*: the neighbour lists and the duplicates identical to the first run's (digests):",
                "",
                md_table(
                    [
                        "run",
                        "in-cluster lists, SemDeDup, cells CPU-s",
                        "neighbours CPU-s",
                        "CPU-ms per document",
                        "10M stage, CPU-min",
                        "same lists / duplicates",
                        "load",
                    ],
                    [
                        [
                            _shape_label(x["tag"]),
                            x["cells_semdedup_cpu_s"],
                            x["neighbours_cpu_s"],
                            x["cpu_ms_per_doc"],
                            f"{x['cpu_ms_per_doc'] * 1e4 / 60:.0f}",
                            f"{'yes' if x.get('nb_digest') == r['nb_digest'] else 'no'} /"
                            f" {'yes' if x.get('dup_digest') == r['dup_digest'] else 'no'}",
                            x["load"],
                        ]
                        for x in sorted(group, key=lambda x: _shape_label(x["tag"]), reverse=True)
                    ],
                ),
            ]
    recall = sorted(
        (json.loads(f.read_text()) for f in OUT.glob("probe_recall_big_p*.json")), key=lambda x: x["preselect"]
    )
    if recall:
        named = [
            ("every candidate centroid scored" if x["preselect"] == 0 else f"preselect {x['preselect']}")
            + f" {x['recall10_after']}"
            for x in recall
        ]
        lines += [
            "",
            "Recall@10 against exact global search on realmix (`winnow embed --fast`, 2,000 queries) with every cluster"
            " sent down the big-cluster path (in-cluster lists, then 16 cells across borders; `bench_map_probe.py"
            f" recall --big-path --preselect N`, load {min(x['load'] for x in recall)}-"
            f"{max(x['load'] for x in recall)}): {', '.join(named)}. SemDeDup is not touched by either change: its"
            " lists come from the in-cluster search, before any cell across borders is chosen, and the reused cells"
            " are those the store would train (the same bytes, `tests/test_map_probe_cells.py`).",
        ]
    return lines


def _shape_label(tag: str) -> str:
    """A shape run's row name from its ``--tag``."""
    if tag == "first" or tag.startswith("base"):
        return f"before, run {1 if tag == 'first' else tag.removeprefix('base')}"
    if tag.startswith("final"):
        return f"after, committed (preselect 128), run {tag.removeprefix('final') or 1}"
    return f"after, preselect {tag.removeprefix('p')}" + (" (every centroid scored)" if tag == "p0" else "")


def _workers_lines() -> list[str]:
    """The parallel stages with 1 and 2 worker processes (bench/bench_map_workers.py)."""
    from bench._readme import md_table

    rows = sorted(
        (json.loads(f.read_text()) for f in OUT.glob("workers_*.json")),
        key=lambda r: (r["n"], r["clusters"], r["workers"]),
    )
    if not rows:
        return []
    body = []
    for r in rows:
        for stage in ("cluster_pass", "placement"):
            st = r[stage]
            same = {x[stage]["digest"] for x in rows if (x["n"], x["clusters"]) == (r["n"], r["clusters"])}
            body.append([f"{r['n']:,} in {r['clusters']}", stage, r["workers"], st["wall_s"], st["cpu_s"],
                         f"{r['peak_rss_mib']:,} / {r['worker_peak_rss_mib']:,}", "yes" if len(same) == 1 else "NO",
                         f"{r['load_start']}-{r['load_end']}"])  # fmt: skip
    return [
        "",
        "The parallel stages alone (`bench/bench_map_workers.py`: synthetic 256-d vectors in k clusters,"
        " `cluster_pass` and `place_rest` in a fresh process per worker count; CPU s include the workers'; peak RSS"
        " of the process / of the largest worker (an upper bound: Linux starts a spawned process's peak at its"
        " parent's); outputs identical = the same digest of neighbours, similarities,"
        " density, duplicates and coordinates for every worker count):",
        "",
        md_table(
            [
                "documents in clusters",
                "stage",
                "workers",
                "wall s",
                "CPU s",
                "peak RSS MiB",
                "outputs identical",
                "load",
            ],
            body,
        ),
    ]


def _memory_lines() -> list[str]:
    """Resident memory of the per-document stages (``bench_map_scale.py memory``)."""
    rows = sorted((json.loads(f.read_text()) for f in OUT.glob("memory_*.json")), key=lambda r: r["n"])
    return [
        f"\nMemory at {r['n']:,} documents, {r.get('label', 'after (bucket sort, app/maps/spool.py)')}"
        f" (`bench_map_scale.py memory`, one process, RSS sampled every 0.5 s, load {r['load']}): peak "
        + ", ".join(f"{k} {v:,} MiB" for k, v in r["rss_peak_mib_by_stage"].items() if k != "start")
        + f"; CPU s {r['cpu_s']}; the ids as Arrow strings {r['ids_nbytes'] / 2**20:,.0f} MiB."
        for r in rows
    ]


def _peak(r: dict) -> str:
    """Peak RSS: the process's own; with worker processes, the sampled peak of the process and its workers."""
    own = f"{r['peak_rss_mib']:,}"
    stages = r.get("rss_sum_by_stage_mib")
    if not stages:
        return own
    return f"{max(stages.values()):,} (main {own}, each worker <= {r['worker_peak_rss_mib']:,})"


def _rss_stages(rows: list[dict]) -> list[str]:
    """Per stage, the peak resident memory of the process and its workers (sampled every second)."""
    out = []
    for r in rows:
        stages = r.get("rss_sum_by_stage_mib")
        if stages:
            out.append(
                f"- {r['n']:,} documents, {r['workers']} workers: "
                + ", ".join(f"{k} {v:,}" for k, v in stages.items())
                + f" MiB; stage wall seconds {r['seconds']}."
            )
    return out


def _estimate_10m(cost: list[dict]) -> str:
    """A paper estimate of the streamed map at 10M from the measured pieces (a stopped 1M run's stages, the
    per-cluster cost at 100,000 members)."""
    f = OUT / "speed_1000000_after.json.progress"
    big = [c for c in cost if c["members"] >= 100_000]
    if not f.exists() or not big:
        return ""
    steps = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    cpu_at = {}
    for st in steps:
        cpu_at.setdefault(st["stage"].split(" (")[0], st["cpu_s"])
    place = [st for st in steps if st["stage"] == "placing the other points"]
    if "UMAP on 50,000 points" not in cpu_at or len(place) < 2 or place[-1]["done"] <= place[0]["done"]:
        return ""
    read_pca = cpu_at["UMAP on 50,000 points"]  # CPU until UMAP started: reading + PCA of 1M
    umap = place[0]["cpu_s"] - read_pca
    rate = (place[-1]["cpu_s"] - place[0]["cpu_s"]) / (place[-1]["done"] - place[0]["done"])
    n = 10_000_000
    parts = {
        "reading + PCA": read_pca * 10,
        "UMAP fit (50,000)": umap,
        "placement": rate * (n - 50_000),
        "per-cluster k-NN + SemDeDup": big[0]["cpu_ms_per_doc"] / 1e3 * n,
    }
    pp = OUT / "probe_pass.json"
    tenm = [r for r in json.loads(pp.read_text()) if r["largest_cluster"] >= 90_000] if pp.exists() else []
    if tenm:  # the stage as it is now (neighbours across borders), measured on clusters of 10M's size
        del parts["per-cluster k-NN + SemDeDup"]
        parts["SemDeDup + neighbours across clusters"] = tenm[0]["cpu_s_after"] / tenm[0]["documents"] * n
    total = sum(parts.values())
    return (
        "\n**10M documents, streamed, on paper** (not run: from the measured pieces above, each carried linearly;"
        " k-means, labels and the table writes not included - k-means took 5.5 s at 1M in the scaling table"
        " above): "
        + ", ".join(f"{k} {v / 60:.0f} min" for k, v in parts.items())
        + f"; about {total / 3600:.1f} CPU-hours in all (the scale table's estimate for the in-memory map: 8.5 h)."
    )


def _cluster_rate(steps: list[dict]) -> str:
    """What the per-document stages of a stopped run cost per document so far (placement, per-cluster work)."""
    out = ""
    for name in ("placing the other points", "neighbours and SemDeDup"):
        per = [st for st in steps if st["stage"].startswith(name)]
        if len(per) < 2 or per[-1]["done"] <= per[0]["done"]:
            continue
        a, b = per[0], per[-1]
        docs = b["done"] - a["done"]
        rate = (b["cpu_s"] - a["cpu_s"]) / docs
        out += f" *{name}* ran {docs:,} documents at {rate * 1e3:.3f} CPU ms each."
    return out


def cluster_cost(sizes: list[int]) -> None:
    """CPU per document of the per-cluster stage (neighbours + SemDeDup + density) on one synthetic cluster of each
    size: at 1M documents clusters hold ~10,000 members (exact search), at 10M ~100,000 (knn_ivf)."""
    from app.maps import signals
    from app.maps.scale import cluster_knn, semdedup_cluster

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    rows = []
    for m in sizes:
        centres = rng.standard_normal((20, DIM)).astype(np.float32)  # a cluster still has inner structure
        x = centres[rng.integers(0, 20, m)] + 0.6 * rng.standard_normal((m, DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        c = time.process_time()
        idx, sim, how = cluster_knn(x, k=10, seed=0)
        semdedup_cluster(x, eps=0.05, seed=0, k=10, knn=(idx, sim))
        signals.density(sim)
        cpu = time.process_time() - c
        rows.append({"members": m, "method": how, "cpu_s": round(cpu, 2), "cpu_ms_per_doc": round(cpu / m * 1e3, 4),
                     "load": round(os.getloadavg()[0], 1)})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    (OUT / "cluster_cost.json").write_text(json.dumps(rows, indent=1))


def memory(n: int) -> None:
    """Resident memory (sampled every 0.5 s) of the streamed map's stages that hold per-document state in one
    process: reading the vectors into the spool (DuckDB's sort), PCA-50 of every row, k-means (100 clusters)."""
    import tempfile
    import threading

    from app.embed import vector_count
    from app.maps import project, scale
    from app.workspace import Workspace

    ws_path = WORK / f"syn_{n}"
    if not (ws_path / "winnow.duckdb").exists():
        synthetic_ws(ws_path, n)
    stage, peaks, stop = {"s": "start"}, {}, threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            peaks[stage["s"]] = max(peaks.get(stage["s"], 0), _rss_mib(os.getpid()))

    threading.Thread(target=sample, daemon=True).start()
    cpu: dict[str, float] = {}
    with Workspace.open(ws_path) as ws:
        nv, dim, key = vector_count(ws)
        scratch = Path(tempfile.mkdtemp(dir=ws.path))
        c = time.process_time()
        stage["s"] = "read"
        ids, spool, pca_sample = scale.spool_vectors(ws, model=key, n=nv, dim=dim, scratch=scratch, seed=0)
        cpu["read"], c = time.process_time() - c, time.process_time()
        stage["s"] = "pca"
        red = scale.reduce_spool(spool, pca_sample, seed=0)
        del pca_sample
        cpu["pca"], c = time.process_time() - c, time.process_time()
        stage["s"] = "kmeans"
        project.kmeans(red, k=100, seed=0)
        cpu["kmeans"] = time.process_time() - c
        stage["s"] = "end"
        time.sleep(1)
        stop.set()
        shutil.rmtree(scratch, ignore_errors=True)
    res = {"n": n, "rss_peak_mib_by_stage": peaks, "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
           "ids_nbytes": ids.nbytes, "load": round(os.getloadavg()[0], 1)}  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"memory_{n}.json").write_text(json.dumps(res))
    print(json.dumps(res), flush=True)
    shutil.rmtree(ws_path, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]) or None if len(sys.argv) > 5 else None)
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["speed", "quality", "cluster", "memory", "readme"])
    ap.add_argument("--sizes", default="50000,200000,1000000")
    ap.add_argument("--paths", default="before,after")
    ap.add_argument("--workers", type=int, help="streamed path: worker processes (default: winnow map's default)")
    a = ap.parse_args()
    if a.mode == "speed":
        speed([int(v) for v in a.sizes.split(",")], a.paths.split(","), a.workers)
    elif a.mode == "quality":
        quality()
    elif a.mode == "memory":
        for v in a.sizes.split(","):
            memory(int(v))
    elif a.mode == "cluster":
        cluster_cost([int(v) for v in a.sizes.split(",")])
    else:
        from bench._readme import write_section

        text = render()
        print(text)
        write_section("map_scale", text)


if __name__ == "__main__":
    main()
