"""Scale: raw JSONL shards through ingest, every signal, ``embed --fast``, ``map`` and headless ``apply``.

For each ``--docs N`` (default 100,000 and 1,000,000), realmix is cycled into N documents (unique ids
``<id>-<cycle>``) written as 8 JSONL shards, then every stage runs as its own ``winnow`` command in a child
process, one after the other, on one workspace:

- ``ingest``: ``winnow ingest -w WS 'shards/*.jsonl' --id-field id``;
- ``score``: ``winnow score -w WS -j W`` (every family: the default);
- ``embed``: ``winnow embed -w WS --fast`` (the distilled static model);
- ``map``: ``winnow map -w WS`` (UMAP fitted on 50,000 points, k-means, SemDeDup, neighbours);
- ``apply``: ``winnow apply --input 'shards/*.jsonl' --recipe R -j W`` headless: quality rules, exact and
  near-duplicate dedup (the global steps), ``--tokens estimate``.

Per stage: wall seconds, documents per second and peak RSS (the largest process of the stage's tree:
``RUSAGE_CHILDREN`` of a fresh wrapper process). The 1-minute load average before and after is printed: this
2-core machine is shared with other work, so compare rows of one run. From the measured sizes, a *paper*
estimate: 10M documents here (each stage's cost per further document, the marginal rate between the two largest
sizes, carried to 10M), and 1B documents on a Ray cluster of ``nodes x cores`` (the per-document stages at the
measured per-core rate over every core, with the measured Ray overhead; ingest and the global steps are not
divided by the cluster: see the text).

    python bench/bench_scale.py                 # 100k and 1M, writes bench/out/scale.json and the README
    python bench/bench_scale.py --docs 100000   # one size
    python bench/bench_scale.py --readme-only   # the README from bench/out/scale.json (a run cut short too)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"
OUT = ROOT / "bench" / "out"
SHARDS = 8
RECIPE = """name: bench-scale
rules:
  - {signal: gopher_word_count, min: 50}
  - {signal: gopher_mean_word_length, min: 3, max: 10}
  - {signal: c4_kept_lines_ratio, min: 0.5}
  - {signal: fineweb_line_punct_ratio, min: 0.12}
dedup: {exact: true, near: true}
"""
#: the per-document stages (they scale with cores and Ray workers); the rest are counted on one machine
PER_DOC = ("score", "embed")
#: realmix's documents: past this size the cycled corpus repeats texts, which ``winnow embed`` embeds once (its
#: cache is keyed by text hash), so the embed stage's cost is estimated from sizes up to here only
DISTINCT = 53_941


def make_shards(d: Path, n: int, *, gz: bool = False, parquet: bool = False, files: int = SHARDS) -> str:
    """``n`` realmix documents cycled into ``files`` JSONL files under ``d`` (gzipped with ``gz``; Parquet files
    with ``parquet``, as DuckDB writes them: row groups of 122,880 rows); returns their glob."""
    import duckdb

    d.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    reps = n // con.execute("SELECT count(*) FROM read_parquet(?)", [str(REALMIX)]).fetchone()[0] + 1
    # Parquet: realmix over and over, each file a run of it (dictionary encoding would shrink a file of a few
    # texts repeated, as the JSONL files' interleaved rows are, far below a real corpus's size)
    order = " ORDER BY g.i, r.id" if parquet else ""
    con.execute(
        f"CREATE TEMP TABLE docs AS SELECT r.id || '-' || g.i AS id, source, text, row_number() OVER ({order}) AS k "
        f"FROM read_parquet('{REALMIX}') r, range({reps}) g(i){order} LIMIT {n}"
    )
    ext, opt = (
        ("parquet", "parquet") if parquet else ("jsonl.gz", "json, COMPRESSION gzip") if gz else ("jsonl", "json")
    )
    for s in range(files):
        which = f"(k - 1) * {files} // {n} = {s}" if parquet else f"k % {files} = {s}"
        con.execute(
            f"COPY (SELECT id, source, text FROM docs WHERE {which} ORDER BY k) TO '{d / f'part{s:02d}.{ext}'}' "
            f"(FORMAT {opt})"
        )
    con.close()
    return str(d / f"*.{ext}")


#: runs one command and reports its tree's peak RSS (the largest process) and CPU seconds (user + system, every
#: process of the tree): ``RUSAGE_CHILDREN`` of a fresh parent
WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]);"
    " u = resource.getrusage(resource.RUSAGE_CHILDREN);"
    " sys.stderr.write('\\n__rss__ %d %.2f\\n' % (u.ru_maxrss * 1024, u.ru_utime + u.ru_stime));"
    " sys.exit(r.returncode)"
)


def run_stage(args: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """``(wall seconds, peak RSS bytes of the largest process, CPU seconds of the tree)`` of one command."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True)  # fmt: skip
    secs = time.perf_counter() - t
    if p.returncode != 0:
        tail = [x for x in (p.stderr or p.stdout).strip().splitlines() if not x.startswith("__rss__")][-1:]
        raise SystemExit(f"winnow {' '.join(args)} failed: {tail}")
    _tag, rss, cpu = p.stderr.strip().splitlines()[-1].split()
    return secs, int(rss), float(cpu)


def measure(n: int, workers: int, tmp: Path, save: Any, only: list[str] | None = None,
            prior: dict | None = None) -> dict:  # fmt: skip
    """Every stage on ``n`` documents; ``save(result)`` after each stage (a run cut short keeps its rows).

    ``tmp`` may hold the shards and workspace of an earlier run of the same size (``--workdir``): the shards are
    then reused, ingest runs only when the workspace is missing (or is asked for), and ``prior`` (that run's
    result) keeps the stages not run again, so a 10M run can go stage by stage across several invocations."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WINNOW_NO_WAIT": "1"}
    t = time.perf_counter()
    shards = tmp / "shards"
    glob = str(shards / "*.jsonl") if (shards / f"part{SHARDS - 1:02d}.jsonl").exists() else make_shards(shards, n)
    make_s = time.perf_counter() - t
    ws = str(tmp / "ws")
    recipe = tmp / "r.yaml"
    recipe.write_text(RECIPE)
    stages = {
        "ingest": ["ingest", "-w", ws, glob, "--id-field", "id"],
        "score": ["score", "-w", ws, "-j", str(workers)],
        "embed": ["embed", "-w", ws, "--fast"],
        "map": ["map", "-w", ws],
        "apply": [
            "apply",
            "--input",
            glob,
            "--recipe",
            str(recipe),
            "--out",
            str(tmp / "out"),
            "-j",
            str(workers),
            "--tokens",
            "estimate",
        ],
    }
    res = {
        "docs": n,
        "workers": workers,
        "make_shards_s": round(make_s, 1),
        "stages": dict((prior or {}).get("stages", {})),
    }
    have_ws = Path(ws).exists()
    for name, args in stages.items():
        wanted = not only or name in only
        if name == "ingest" and not have_ws:
            wanted = True  # every later stage needs the ingested workspace
        if not wanted:
            continue
        load = os.getloadavg()[0]
        started = time.time()
        secs, rss, cpu = run_stage(args, env)
        res["stages"][name] = {"seconds": round(secs, 1), "cpu_seconds": round(cpu, 1), "docs_per_s": round(n / secs),
                               "peak_rss_bytes": rss, "load": [round(load, 1), round(os.getloadavg()[0], 1)]}  # fmt: skip
        if name == "map":  # the map is usable once its first step is written (app/maps/twostep.py)
            usable = map_usable_s(ws, started)
            if usable is not None:
                res["stages"][name]["usable_seconds"] = round(usable, 1)
        print(f"  {n:,} {name}: {secs:.1f} s wall, {cpu:.1f} s CPU, {rss / 2**20:,.0f} MiB", flush=True)
        save(res)
    return res


def map_usable_s(ws: str, started: float) -> float | None:
    """Seconds from ``started`` (epoch) until the map's first step registered ``map_points`` (its coordinates,
    clusters and labels: the Map page and the map columns are usable from then on, while the neighbours, density
    and SemDeDup columns are still computed). None when the workspace does not say."""
    import datetime as dt

    import duckdb

    con = duckdb.connect(str(Path(ws) / "winnow.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT registered_at FROM _parts WHERE table_name = 'map_points'").fetchall()
    finally:
        con.close()
    if not got or got[0][0] is None:
        return None
    return got[0][0].replace(tzinfo=dt.UTC).timestamp() - started


def _cost(r: dict, stage: str) -> float:
    st = r["stages"][stage]
    return st.get("cpu_seconds", st["seconds"])


def _slope(results: list[dict], stage: str) -> float:
    """CPU seconds per document of ``stage``: the marginal cost between the two largest sizes (start-up left
    out), or the largest size's average when only one was measured (or the marginal one is not positive)."""
    have = [r for r in results if stage in r["stages"] and (stage != "embed" or r["docs"] <= DISTINCT)]
    big = have[-1]
    avg = _cost(big, stage) / big["docs"]
    if len(have) < 2:
        return avg
    small = have[-2]
    d = (_cost(big, stage) - _cost(small, stage)) / (big["docs"] - small["docs"])
    return d if d > 0 else avg


def estimate(results: list[dict], *, ray_overhead: float, nodes: int, cores: int) -> dict:
    """Paper figures from the measured CPU seconds (robust to a shared machine, unlike wall time): the CPU time
    of 10M documents here, and the per-document stages' 1B documents spread over a cluster's cores."""
    stages = list(dict.fromkeys(k for r in results for k in r["stages"]))
    last = {k: [r for r in results if k in r["stages"] and (k != "embed" or r["docs"] <= DISTINCT)][-1] for k in stages}
    here = {k: _cost(last[k], k) + (1e7 - last[k]["docs"]) * _slope(results, k) for k in stages}
    per_doc = [k for k in PER_DOC if k in stages]
    per_core = {k: 1 / _slope(results, k) for k in per_doc}
    cluster = {k: 1e9 * _slope(results, k) / (nodes * cores) * (1 + ray_overhead) for k in per_doc}
    return {"ten_million_here_cpu_s": here, "per_core_docs_per_s": per_core, "billion_on_cluster_s": cluster,
            "nodes": nodes, "cores": cores, "ray_overhead": ray_overhead, "from_sizes": [r["docs"] for r in results]}  # fmt: skip


def _h(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


#: the stages from raw shards to a dashboard with every signal and a map (issue 18's 1-hour goal)
DASHBOARD = ("ingest", "score", "embed", "map")


def _to_dashboard(results: list[dict]) -> list[str]:
    """One line per size whose stages from raw shards to the dashboard were all measured: their wall and CPU."""
    out = []
    for r in results:
        st = r["stages"]
        if r["docs"] >= 1_000_000 and all(k in st for k in DASHBOARD):  # smaller: start-up and load dominate
            wall = sum(st[k]["seconds"] for k in DASHBOARD)
            cpu = sum(st[k].get("cpu_seconds", 0) for k in DASHBOARD)
            usable = st["map"].get("usable_seconds")
            first = (f"; usable after {_h(wall - st['map']['seconds'] + usable)} (the map's first step written: "
                     "coordinates, clusters, labels; the neighbours, density and SemDeDup columns follow)"
                     if usable is not None else "")  # fmt: skip
            out.append(f"- **{r['docs']:,} documents, raw shards to the dashboard** ({' + '.join(DASHBOARD)}, measured): "
                       f"{_h(wall)} of wall time{first}, {cpu / 3600:.2f} CPU-hours, peak {max(st[k]['peak_rss_bytes'] for k in DASHBOARD) / 2**30:.1f} GiB "
                       f"(issue 18's goal at 10M: 1 hour, 8 GB).")  # fmt: skip
    return [*out, ""] if out else []


def report(results: list[dict], est: dict, loads: tuple[float, float]) -> str:
    rows = []
    for r in results:
        for name, st in r["stages"].items():
            cpu = st.get("cpu_seconds")
            load = st.get("load")
            rows.append([f"{r['docs']:,}", name, st["seconds"], "" if cpu is None else cpu, f"{st['docs_per_s']:,}",
                         "" if not cpu else f"{r['docs'] / cpu:,.0f}", f"{st['peak_rss_bytes'] / 2**20:,.0f}",
                         "" if not load else f"{load[0]:.1f}-{load[1]:.1f}"])  # fmt: skip
    big = results[-1]
    t10 = est["ten_million_here_cpu_s"]
    cpu10 = sum(t10.values())
    missing = [k for k in ("ingest", "score", "embed", "map", "apply") if k not in t10]
    ten = [k for r in results if r["docs"] >= 10_000_000 for k in r["stages"]]  # stages run at 10M themselves
    lines = [
        f"Scale, measured by `python bench/bench_scale.py` ({machine()}; realmix cycled into {SHARDS} JSONL shards; "
        f"`-j {big['workers']}` for score and apply; each stage a fresh `winnow` process). The 1-minute load average "
        f"read between {min(loads):.1f} and {max(loads):.1f} at the start and end of the runs: the machine was shared "
        "with other work (wall times several times a quiet machine's), so the estimates below use the CPU seconds of "
        "each stage's processes (user + system), which other work inflates much less.",
        "",
        md_table(
            ["documents", "stage", "wall s", "CPU s", "docs/s (wall)", "docs per CPU-s", "peak RSS MiB", "load"], rows
        ),
        "",
        *_to_dashboard(results),
        f"Paper estimate from the measured sizes ({', '.join(f'{x:,}' for x in est['from_sizes'])}; each stage's CPU "
        "cost per further document, the marginal cost between the two largest sizes when there are two, carried to "
        f"10M): **10M documents here** need about {cpu10 / 3600:.1f} CPU-hours ("
        + ", ".join(f"{k} {_h(v)}" for k, v in t10.items())
        + f"), so {_h(cpu10 / 2)} to {_h(cpu10)} of wall time on a quiet 2-core machine (both cores busy vs one)"
        + (f"; not measured: {', '.join(missing)}" if missing else "")
        + (
            ". At 10M every stage ran (its rows above are measured, not estimated, stage by stage with `--merge`, "
            "so on different days and loads)"
            if not missing and set(ten) >= {"ingest", "score", "embed", "map", "apply"}
            else f". At 10M only {', '.join(ten)} ran (its row above is measured, not estimated); the rest would not "
            "have fitted in a session on this shared 2-core machine"
            if ten
            else ". 10M was not run: on this shared 2-core machine it would not have fitted in a session"
        )
        + ". Two cautions: the "
        "map fits UMAP on at most 50,000 points and streams above 100,000 documents (one k-means cluster at a time), "
        "so only a marginal cost measured between sizes above 100,000 carries to 10M (`bench/bench_map_scale.py` has "
        "the map alone at 1M synthetic vectors); and peak RSS is that of a stage's largest process. Past "
        f"{DISTINCT:,} documents the cycled corpus repeats realmix's texts, which `winnow embed` embeds once (cached "
        "by text hash): the embed estimate uses the sizes up to there.",
        "",
        f"**1B documents on Ray, {est['nodes']} nodes x {est['cores']} cores**: the per-document stages at the measured "
        "CPU cost per document over every core, plus the Ray overhead over the local pool "
        f"({est['ray_overhead']:.0%}, `--ray-overhead`: as measured by `bench/bench_engine.py` and "
        "`bench/bench_apply_scale.py`): "
        + ", ".join(
            f"{k} {_h(v)} ({est['per_core_docs_per_s'][k]:,.0f} docs per CPU-second)"
            for k, v in est["billion_on_cluster_s"].items()
        )
        + ". Ingest, the dedup global steps (clustering signatures in DuckDB on the driver) and the map's projection "
        "run on one machine and are not divided by the cluster."
        + (
            f" Headless apply at 1B on one machine would need about {_h(t10['apply'] * 100)} of CPU at the measured "
            "cost, most of it per-document scoring that the workers share."
            if "apply" in t10
            else ""
        ),
    ]
    return "\n".join(lines)


def readme_results() -> dict:
    """The ``bench:scale`` table of README.md read back as ``scale.json``'s results (bench/out is not kept in
    git): a fresh checkout can then ``--merge`` one more size or stage into the published rows."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- bench:scale:start -->", 1)[1].split("<!-- bench:scale:end -->", 1)[0]
    found = re.search(r"between ([\d.]+) and ([\d.]+) at the start", section)
    workers = re.search(r"`-j (\d+)` for score", section)
    by_docs: dict[int, dict] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or not cells[0].replace(",", "").isdigit():
            continue
        n = int(cells[0].replace(",", ""))
        r = by_docs.setdefault(n, {"docs": n, "workers": int(workers.group(1)) if workers else 2, "stages": {}})
        st = {"seconds": float(cells[2]), "docs_per_s": int(cells[4].replace(",", "")),
              "peak_rss_bytes": int(float(cells[6].replace(",", "")) * 2**20)}  # fmt: skip
        if cells[3]:
            st["cpu_seconds"] = float(cells[3])
        if cells[7]:
            st["load"] = [float(x) for x in cells[7].split("-")]
        r["stages"][cells[1]] = st
    loads = [float(found.group(1)), float(found.group(2))] if found else [0.0, 0.0]
    return {"results": [by_docs[k] for k in sorted(by_docs)], "load": loads}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, action="append", help="documents (repeatable; default 100k and 1M)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray-overhead", type=float, default=0.24, help="measured by bench/bench_engine.py")
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README from bench/out/scale.json")
    ap.add_argument("--merge", action="store_true", help="keep the other sizes already in bench/out/scale.json")
    ap.add_argument(
        "--stages", help="comma-separated stages to run (default all; ingest runs when the workspace is missing)"
    )
    ap.add_argument(
        "--workdir", help="keep shards and workspace under DIR/N and reuse them (stage by stage with --merge)"
    )
    a = ap.parse_args()
    if a.readme_only:
        saved = json.loads((OUT / "scale.json").read_text())
        results = sorted(saved["results"], key=lambda r: r["docs"])  # runs of several sizes may be merged here
        est = estimate(results, ray_overhead=a.ray_overhead, nodes=a.nodes, cores=a.cores)
        write_section("scale", report(results, est, tuple(saved["load"])))
        return
    sizes = a.docs or [100_000, 1_000_000]
    load0 = os.getloadavg()[0]
    kept: list[dict] = []
    old: dict = {"results": []}
    if a.merge:  # sizes measured by earlier runs, kept unless measured again (the README's when no scale.json)
        old = json.loads((OUT / "scale.json").read_text()) if (OUT / "scale.json").exists() else readme_results()
        kept = [r for r in old["results"] if r["docs"] not in sizes]
        load0 = max(load0, *old["load"])
    results: list[dict] = []
    OUT.mkdir(exist_ok=True)

    def save(partial: dict | None = None) -> list[dict]:
        rows = sorted(kept + results + ([partial] if partial else []), key=lambda r: r["docs"])
        loads = (load0, os.getloadavg()[0])
        (OUT / "scale.json").write_text(json.dumps({"results": rows, "load": loads}, indent=1))
        return rows

    for n in sizes:
        keep = a.workdir is not None
        tmp = Path(a.workdir) / str(n) if keep else Path(tempfile.mkdtemp(prefix="winnow-scale-"))
        tmp.mkdir(parents=True, exist_ok=True)
        prior = next((r for r in (old["results"] if keep and a.merge else []) if r["docs"] == n), None)
        try:
            results.append(measure(n, a.workers, tmp, save, a.stages.split(",") if a.stages else None, prior))
        finally:
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)
    rows = save()
    est = estimate(rows, ray_overhead=a.ray_overhead, nodes=a.nodes, cores=a.cores)
    body = report(rows, est, (load0, os.getloadavg()[0]))
    print(body)
    if not a.no_readme:
        write_section("scale", body)


if __name__ == "__main__":
    main()
