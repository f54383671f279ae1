"""Headless ``winnow apply`` with exact and near-duplicate dedup at scale: local vs Ray, memory and parity.

For each ``--docs N`` (default 100,000 and 1,000,000), realmix is cycled into N documents with new ids
(``<id>-<cycle>``, as ``bench/bench_scale.py`` does) written as 8 ``.jsonl.gz`` shards; then the same command

    winnow apply --input 'shards/*.jsonl.gz' --recipe R --out OUT --tokens estimate [ENGINE]

runs once per engine (``--engines``, default ``local`` = one process and ``ray`` = ``--engine ray --workers 2``),
each in a fresh process, with the recipe of :data:`bench_scale.RECIPE` (Gopher, C4 and FineWeb rules, exact and
near dedup: the global steps). Per run: wall seconds, CPU seconds of the whole process tree (the driver, Ray's
processes and workers), the driver's peak RSS and the largest other process's (a Ray worker or a pool
process): each process's ``VmHWM`` read from ``/proc`` every 0.2 s while it lives (a high-water mark, so a
sample between peaks still sees it). Every file of each output (data and manifest) is compared byte for byte
with the first engine's.

    nice -n 5 python bench/bench_apply_scale.py                       # 100k and 1M; README section apply_scale
    nice -n 5 python bench/bench_apply_scale.py --docs 100000 300000
    python bench/bench_apply_scale.py --readme-only                   # the README from bench/out/apply_scale.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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
from bench_scale import RECIPE, make_shards  # noqa: E402

OUT = ROOT / "bench" / "out"
ENGINES = {"local": [], "local-2": ["-j", "2"], "ray": ["--engine", "ray", "--workers", "2"]}


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from ``/proc/*/stat``'s parent ids)."""
    parent: dict[int, int] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
            except OSError:
                continue
            parent[int(p.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        kids = [c for c, pp in parent.items() if pp == cur]
        out += kids
        todo += kids
    return out


def _proc(pid: int) -> tuple[int, float] | None:
    """``(VmHWM bytes, CPU seconds)`` of a live process, None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    hwm = next((int(x.split()[1]) * 1024 for x in status.splitlines() if x.startswith("VmHWM")), 0)
    tick = os.sysconf("SC_CLK_TCK")
    return hwm, (int(stat[11]) + int(stat[12])) / tick  # utime, stime


def run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``winnow ARGS``; wall, CPU of the tree, the driver's and the largest other process's peak RSS."""
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: dict[int, tuple[int, float]] = {}
    driver = (0, 0.0)
    while p.poll() is None:
        got = _proc(p.pid)
        if got:  # a zombie's last sample has no VmHWM: keep the largest seen
            driver = (max(driver[0], got[0]), max(driver[1], got[1]))
        for c in _descendants(p.pid):
            g = _proc(c)
            if g:
                had = seen.get(c, (0, 0.0))
                seen[c] = (max(had[0], g[0]), max(had[1], g[1]))
        time.sleep(0.2)
    out, err = p.communicate()
    secs = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"winnow {' '.join(args)} failed: {(err or out).strip().splitlines()[-1:]}")
    import resource

    # the driver's own CPU (it has exited: RUSAGE_CHILDREN) plus the last sample of every other process
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": round(secs, 1),
        "driver_rss": max(driver[0], 0),
        "worker_rss": max((v[0] for v in seen.values()), default=0),
        "cpu_seconds_sampled": round(driver[1] + sum(v[1] for v in seen.values()), 1),
        "rusage_children_cpu": round(ru.ru_utime + ru.ru_stime, 1),
        "load": os.getloadavg()[0],
    }


def digests(d: Path, tmp: Path) -> dict[str, str]:
    """sha256 of every file under ``d`` (data and manifest), by relative path; in the manifest this run's
    temporary directory (the input paths it cites) reads as ``TMP``, so separate invocations compare too."""
    out = {}
    for p in sorted(d.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "manifest.json":
                data = data.replace(str(tmp).encode(), b"TMP")
            out[p.relative_to(d).as_posix()] = hashlib.sha256(data).hexdigest()
    return out


def measure(n: int, engines: list[str], tmp: Path, save: Any) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WINNOW_NO_WAIT": "1", "HF_HUB_OFFLINE": "1"}
    glob = make_shards(tmp / "shards", n, gz=True)
    recipe = tmp / "r.yaml"
    recipe.write_text(RECIPE)
    res: dict[str, Any] = {"docs": n, "runs": {}}
    for name in engines:
        out = tmp / f"out-{name}"
        args = ["apply", "--input", glob, "--recipe", str(recipe), "--out", str(out), "--tokens", "estimate"]
        r = run([*args, *ENGINES[name]], env)
        dg = digests(out, tmp)
        r["digest"] = hashlib.sha256(json.dumps(dg, sort_keys=True).encode()).hexdigest()
        r["files"] = len(dg)
        r["kept"] = json.loads((out / "__winnow__" / "manifest.json").read_text())["counts"]["kept_docs"]
        shutil.rmtree(out)
        res["runs"][name] = r
        print(f"  {n:,} {name}: {r['seconds']} s wall, {r['cpu_seconds_sampled']} s CPU, driver "
              f"{r['driver_rss'] / 2**20:,.0f} MiB, largest worker {r['worker_rss'] / 2**20:,.0f} MiB, "
              f"output sha256 {r['digest'][:12]}, load {r['load']:.1f}", flush=True)  # fmt: skip
        save(res)
    shutil.rmtree(tmp / "shards")
    return res


def readme(results: list[dict[str, Any]]) -> str:
    rows, notes = [], []
    merged: dict[int, dict[str, Any]] = {}
    for r in results:  # runs of one size from several files (engines run as separate invocations)
        merged.setdefault(r["docs"], {}).update(r["runs"])
    for n in sorted(merged):
        runs = dict(sorted(merged[n].items(), key=lambda kv: list(ENGINES).index(kv[0])))
        first = next(iter(runs.values()))["digest"]
        for name, x in runs.items():
            x["identical"] = x["digest"] == first
            if x.get("note"):  # what a figure's reader must know (added to the results file by hand)
                notes.append(f"{n:,} {name}: {x['note']}")
            rows.append([f"{n:,}", name + (" (" + " ".join(ENGINES[name]) + ")" if ENGINES[name] else ""),
                         f"{x['seconds']:,.0f}", f"{x['cpu_seconds_sampled']:,.0f}",
                         f"{x['driver_rss'] / 2**20:,.0f}", f"{x['worker_rss'] / 2**20:,.0f}" if x["worker_rss"] else "-",
                         f"{x['kept']:,}", ("yes" if x["identical"] else "NO") if len(runs) > 1 else "-", f"{x['load']:.1f}"])  # fmt: skip
    return (
        "Headless `winnow apply --input 'shards/*.jsonl.gz'` of the bench-scale recipe (Gopher, C4 and FineWeb "
        "rules, exact and near dedup) to realmix cycled into N documents with new ids, 8 gzip JSONL shards, each "
        f"engine in a fresh process on {machine()}, one run each under `nice -n 5` on the shared machine "
        "(`python bench/bench_apply_scale.py`). CPU: every process of the run (driver, Ray's processes, "
        "workers); RSS: peak (`VmHWM`) of the driver and of the largest other process; identical: every output "
        "file, manifest included, byte-equal to the first row of its size (- where one engine ran). The engines of one size may have run at the "
        "same time (`--engines local --tag local` and `--engines ray --tag ray`): the load column says how busy the "
        "machine was.\n\n"
        + md_table(
            ["docs", "engine", "wall s", "CPU s", "driver peak MiB", "largest worker MiB", "kept", "identical", "load"],
            rows,
        )
        + ("\n\n" + " ".join(notes) if notes else "")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--engines", nargs="+", default=["local", "ray"], choices=list(ENGINES))
    ap.add_argument("--readme-only", action="store_true")
    ap.add_argument("--tag", default="", help="results file bench/out/apply_scale[-TAG].json (parallel invocations)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"apply_scale{'-' + args.tag if args.tag else ''}.json"
    done: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    if not args.readme_only:
        for n in args.docs:
            done = [r for r in done if r["docs"] != n]
            tmp = Path(tempfile.mkdtemp(prefix="winnow-apply-scale-"))
            try:

                def save(r: dict[str, Any], done: list = done) -> None:
                    path.write_text(json.dumps([*[x for x in done if x["docs"] != r["docs"]], r], indent=1))

                done.append(measure(n, args.engines, tmp, save))
                save(done[-1])
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    every = [r for p in sorted(OUT.glob("apply_scale*.json")) for r in json.loads(p.read_text())]
    body = readme(every)
    write_section("apply_scale", body)
    print(body)


if __name__ == "__main__":
    main()
