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
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def make_shards(d: Path, n: int) -> str:
    """``n`` realmix documents cycled into :data:`SHARDS` JSONL files under ``d``; returns their glob."""
    import duckdb

    d.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    reps = n // con.execute("SELECT count(*) FROM read_parquet(?)", [str(REALMIX)]).fetchone()[0] + 1
    con.execute(
        f"CREATE TEMP TABLE docs AS SELECT r.id || '-' || g.i AS id, source, text, row_number() OVER () AS k "
        f"FROM read_parquet('{REALMIX}') r, range({reps}) g(i) LIMIT {n}"
    )
    for s in range(SHARDS):
        con.execute(
            f"COPY (SELECT id, source, text FROM docs WHERE k % {SHARDS} = {s} ORDER BY k)"
            f" TO '{d / f'part{s:02d}.jsonl'}' (FORMAT json)"
        )
    con.close()
    return str(d / "*.jsonl")


#: runs one command and reports its tree's peak RSS (the largest process: ``RUSAGE_CHILDREN`` of a fresh parent)
WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]);"
    " sys.stderr.write('\\n__rss__ %d\\n' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024));"
    " sys.exit(r.returncode)"
)


def run_stage(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """``(seconds, peak RSS bytes of the largest process, last stdout line)`` of one ``winnow`` command."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", WRAP, sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env,
                       capture_output=True, text=True)  # fmt: skip
    secs = time.perf_counter() - t
    if p.returncode != 0:
        tail = [x for x in (p.stderr or p.stdout).strip().splitlines() if not x.startswith("__rss__")][-1:]
        raise SystemExit(f"winnow {' '.join(args)} failed: {tail}")
    rss = int(p.stderr.strip().splitlines()[-1].split()[1])
    return secs, rss, p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""


def measure(n: int, workers: int, tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WINNOW_NO_WAIT": "1"}
    t = time.perf_counter()
    glob = make_shards(tmp / "shards", n)
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
    rows = {}
    for name, args in stages.items():
        secs, rss, _last = run_stage(args, env)
        rows[name] = {"seconds": round(secs, 1), "docs_per_s": round(n / secs), "peak_rss_bytes": rss}
        print(f"  {n:,} {name}: {secs:.1f} s, {n / secs:,.0f} docs/s, {rss / 2**20:,.0f} MiB", flush=True)
    return {"docs": n, "workers": workers, "make_shards_s": round(make_s, 1), "stages": rows}


def _slope(results: list[dict], stage: str) -> float:
    """Seconds per document of ``stage``: the marginal rate between the two largest sizes (start-up left out),
    or the largest size's average when only one was measured (or the marginal one is not positive)."""
    big = results[-1]
    avg = big["stages"][stage]["seconds"] / big["docs"]
    if len(results) < 2:
        return avg
    small = results[-2]
    d = (big["stages"][stage]["seconds"] - small["stages"][stage]["seconds"]) / (big["docs"] - small["docs"])
    return d if d > 0 else avg


def estimate(results: list[dict], *, ray_overhead: float, nodes: int, cores: int) -> dict:
    """Paper figures from the measured sizes (see the module doc): the time at 10M here from each stage's
    per-document cost beyond the largest measured size, and the per-document stages spread over a cluster."""
    big = results[-1]
    n = big["docs"]
    here = {k: v["seconds"] + (1e7 - n) * _slope(results, k) for k, v in big["stages"].items()}
    # both cores are counted for every per-document stage (score runs -j workers; embed's tokenizer is threaded)
    per_core = {k: 1 / _slope(results, k) / 2 for k in PER_DOC}
    cluster = {k: 1e9 / (per_core[k] * nodes * cores) * (1 + ray_overhead) for k in PER_DOC}
    return {"ten_million_here_s": here, "per_core_docs_per_s": per_core, "billion_on_cluster_s": cluster,
            "nodes": nodes, "cores": cores, "ray_overhead": ray_overhead, "from_sizes": [r["docs"] for r in results]}  # fmt: skip


def _h(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


def report(results: list[dict], est: dict, loads: tuple[float, float]) -> str:
    rows = []
    for r in results:
        for name, st in r["stages"].items():
            rows.append([f"{r['docs']:,}", name, st["seconds"], f"{st['docs_per_s']:,}",
                         f"{st['peak_rss_bytes'] / 2**20:,.0f}"])  # fmt: skip
        total = sum(st["seconds"] for st in r["stages"].values())
        rows.append([f"{r['docs']:,}", "**all stages**", round(total, 1), f"{r['docs'] / total:,.0f}", ""])
    big = results[-1]
    t10 = est["ten_million_here_s"]
    lines = [
        f"Scale, measured by `python bench/bench_scale.py` ({machine()}; realmix cycled into {SHARDS} JSONL shards; "
        f"`-j {big['workers']}` for score and apply; each stage a fresh `winnow` process). The 1-minute load average read "
        f"between {min(loads):.1f} and {max(loads):.1f} at the start and end of the runs: the machine was shared with "
        "other work, so these are slower than a quiet machine's.",
        "",
        md_table(["documents", "stage", "seconds", "docs/s", "peak RSS MiB"], rows),
        "",
        f"Paper estimate from the measured sizes ({', '.join(f'{x:,}' for x in est['from_sizes'])}): each stage's "
        "cost per further document (the marginal rate between the two largest sizes when there are two) carried to "
        f"10M: **10M documents here** take about {_h(sum(t10.values()))} ("
        + ", ".join(f"{k} {_h(v)}" for k, v in t10.items())
        + "). Not measured at 10M in this session: the machine was shared and the run would not have fitted.",
        "",
        f"**1B documents on Ray, {est['nodes']} nodes x {est['cores']} cores**: the per-document stages at the measured "
        "per-core rate over every core, plus the measured Ray overhead over the local pool "
        f"({est['ray_overhead']:.0%}, `bench/bench_engine.py`): "
        + ", ".join(
            f"{k} {_h(v)} ({est['per_core_docs_per_s'][k]:,.0f} docs/s per core)"
            for k, v in est["billion_on_cluster_s"].items()
        )
        + ". Ingest, the dedup global steps (clustering signatures in DuckDB on the driver) and the map's projection "
        "run on one machine and are not divided by the cluster: at the rates above they are the limit "
        f"(headless apply's 1B-document share on one machine: about {_h(t10['apply'] * 100)} from the linear rate).",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, action="append", help="documents (repeatable; default 100k and 1M)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray-overhead", type=float, default=0.24, help="measured by bench/bench_engine.py")
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--cores", type=int, default=16)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README from bench/out/scale.json")
    a = ap.parse_args()
    if a.readme_only:
        saved = json.loads((OUT / "scale.json").read_text())
        results = sorted(saved["results"], key=lambda r: r["docs"])  # runs of several sizes may be merged here
        est = estimate(results, ray_overhead=a.ray_overhead, nodes=a.nodes, cores=a.cores)
        write_section("scale", report(results, est, tuple(saved["load"])))
        return
    sizes = a.docs or [100_000, 1_000_000]
    load0 = os.getloadavg()[0]
    results = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(prefix="winnow-scale-"))
        try:
            results.append(measure(n, a.workers, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    loads = (load0, os.getloadavg()[0])
    OUT.mkdir(exist_ok=True)
    if (OUT / "scale.json").exists() and a.no_readme:  # keep earlier sizes' rows (merged with --readme-only)
        old = json.loads((OUT / "scale.json").read_text())
        results = sorted([r for r in old["results"] if r["docs"] not in sizes] + results, key=lambda r: r["docs"])
        loads = (min(loads[0], old["load"][0]), max(loads[1], old["load"][1]))
    est = estimate(results, ray_overhead=a.ray_overhead, nodes=a.nodes, cores=a.cores)
    (OUT / "scale.json").write_text(json.dumps({"results": results, "estimate": est, "load": loads}, indent=1))
    body = report(results, est, loads)
    print(body)
    if not a.no_readme:
        write_section("scale", body)


if __name__ == "__main__":
    main()
