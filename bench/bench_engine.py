"""Engines: headless ``winnow apply`` on the same shards in this process, a local pool and a local Ray cluster.

Input: the first ``N`` documents of realmix (``--docs``, default 24,000) written as 4 JSONL shards. Recipe: Gopher
quality, C4 and FineWeb rules plus exact dedup (every document scored by three signal families and the size
tokenizer, the CPU-bound part). Configurations, each run ``--reps`` times (default 5) in alternating order:

- ``local, 1 process``: the default (``engine=None``);
- ``local pool, W``: :class:`app.engine.local.LocalEngine` with W spawned processes;
- ``ray, W workers``: :class:`app.engine.ray_engine.RayEngine` on a local Ray cluster with ``num_cpus=W``, started
  once before the runs (its start-up, wall and CPU of every process, is reported separately).

Two tables, medians of the runs:

1. **apply**: the whole ``apply_headless`` call (read, score, dedup, select, re-read the kept documents, write);
2. **scoring stage**: only the CPU-bound part, the very batches pass 1 hands its engine (recorded from a run)
   replayed through ``map_batches`` by each configuration: how far 1 -> 2 workers scales where the work divides.
   Each batch runs inside :func:`app.engine.timing.timed`, so the scoring's own CPU is measured in the process
   that ran it ("work"), and the engine's overhead is the run's total CPU minus that work, within the same run:
   the work's CPU moves by 10-20 % between runs on a shared machine, which a difference between two runs'
   totals would report as overhead.

After the runs, the fixed cost of one task on the pool and on Ray: CPU milliseconds per trivial task (``abs``),
driver and engine processes together, what a batch pays whatever its size.

Per run: wall seconds and CPU seconds (user + system, from ``/proc``) of the driver and of the configuration's
own processes: the pool's workers, or every Ray process (GCS, raylet, agents, monitors, workers). The Ray
cluster stays up during the other configurations' runs; its CPU over them is its idle cost, reported per second
and not charged to them. The machine is shared: wall times move with the load average (printed), CPU seconds
much less, so the CPU columns are the steadier comparison. Every apply output must be byte-identical to the
single-process one.

``nice -n 5 python bench/bench_engine.py`` writes ``bench/out/engine.json`` and the README section ``engine``
(``--no-readme``: only the JSON file and the printed tables, for a run on a busy machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"
OUT = ROOT / "bench" / "out"
RECIPE = """name: bench-engine
rules:
  - {signal: gopher_word_count, min: 50}
  - {signal: gopher_mean_word_length, min: 3, max: 10}
  - {signal: c4_kept_lines_ratio, min: 0.5}
  - {signal: fineweb_line_punct_ratio, min: 0.12}
dedup: {exact: true}
"""
TICK = os.sysconf("SC_CLK_TCK")


def shards(tmp: Path, n: int) -> list[str]:
    import duckdb

    rows = duckdb.sql(f"SELECT id, source, text FROM '{REALMIX}' ORDER BY id LIMIT {n}").fetchall()
    out = []
    for k in range(4):
        p = tmp / f"part{k}.jsonl"
        p.write_text("".join(json.dumps({"id": i, "source": s, "text": t}) + "\n" for i, s, t in rows[k::4]))
        out.append(str(p))
    return out


def digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(d).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of every live descendant of this process, by pid, from ``/proc``."""
    parent, cpu = {}, {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(p.name)] = int(stat[1])
            cpu[int(p.name)] = (int(stat[11]) + int(stat[12])) / TICK
    out, todo = {}, [os.getpid()]
    while todo:
        kids = [c for c, pp in parent.items() if pp == todo[-1]]
        todo.pop()
        out.update({c: cpu[c] for c in kids})
        todo += kids
    return out


_RAY: dict[int, bool] = {}


def is_ray(pid: int) -> bool:
    """Whether process ``pid`` is one of Ray's (its command line names Ray: GCS, raylet, agents, workers)."""
    if pid not in _RAY:
        try:
            _RAY[pid] = "ray" in (Path("/proc") / str(pid) / "cmdline").read_text(errors="replace")
        except OSError:
            return False
    return _RAY[pid]


def timed(run: Callable[[], Any]) -> tuple[float, float, dict[int, float]]:
    """``(wall s, this process's CPU s, {pid: CPU s}` of each descendant during ``run()``)``."""
    before = cpu_seconds()
    t, c = time.perf_counter(), time.process_time()
    run()
    wall, mine = time.perf_counter() - t, time.process_time() - c
    return wall, mine, {p: v - before.get(p, 0.0) for p, v in cpu_seconds().items()}


TASKS, TASK_REPS = 300, 3


def task_cost(eng: Any) -> float:
    """CPU milliseconds per task that ``eng`` spends around a trivial one (``abs`` of an int): the fixed cost a
    batch pays whatever its size, summed over the driver and every descendant process (pool workers; Ray's)."""
    runs = []
    for _ in range(TASK_REPS):
        _, mine, cpu = timed(lambda: [*eng.map_batches(abs, ((-i,) for i in range(TASKS)))])
        runs.append(1e3 * (mine + sum(cpu.values())) / TASKS)
    return statistics.median(runs)


class Recorder:
    """An in-process engine that keeps the batches it is given: pass 1's work, to replay on each engine."""

    name, workers = "record", 1

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., Any], list[tuple], Any]] = []

    def map_batches(self, fn: Callable[..., Any], batches: Any, *, arg_index: Any = 0) -> Any:
        from app.engine.base import arg_indices

        kept: list[tuple] = []
        self.calls.append((fn, kept, arg_index))
        for b in batches:
            kept.append(tuple(b[i] for i in arg_indices(arg_index)))
            yield b, fn(*kept[-1])

    def describe(self) -> dict[str, Any]:
        return {"engine": "record", "workers": 1}

    def close(self) -> None:
        """Nothing to release."""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=24_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-readme", action="store_true", help="leave README.md alone (a run on a busy machine)")
    args = ap.parse_args()
    if not REALMIX.exists():
        sys.exit("../shared/corpora/realmix is absent")
    from app.engine import make_engine
    from app.engine.timing import timed as timed_work
    from app.export.headless import apply_headless

    w = args.workers
    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-engine-"))
    try:
        inputs = shards(tmp, args.docs)
        recipe = tmp / "r.yaml"
        recipe.write_text(RECIPE)
        rec = Recorder()
        apply_headless(str(recipe), inputs, tmp / "record", id_field="id", engine=rec)  # also warms the imports
        shutil.rmtree(tmp / "record")
        load = [os.getloadavg()[0]]
        ray: Any = None

        def start() -> None:
            nonlocal ray
            ray = make_engine("ray", workers=w)

        ray_start = timed(start)
        pool = make_engine("local", workers=w)
        pool_pids = lambda: set(pool._pool._processes) if pool._pool else set()  # noqa: E731
        configs = [("local, 1 process", None), (f"local pool, {w}", pool), (f"ray, {w} workers", ray)]

        def own(name: str, cpu: dict[int, float]) -> tuple[float, float]:
            """CPU of the configuration's own processes, and of the idle Ray cluster beside it."""
            ray_cpu = sum(v for p, v in cpu.items() if p not in pool_pids() and is_ray(p))
            if name.startswith("ray"):
                return ray_cpu, 0.0
            return (
                sum(v for p, v in cpu.items() if p in pool_pids()) if name.startswith("local pool") else 0.0
            ), ray_cpu

        def stage(eng: Any) -> float:
            """Replay pass 1's batches on ``eng``; the scoring's CPU seconds, measured where it ran."""
            work = 0.0
            for fn, batches, _ in rec.calls:
                jobs = [(fn, *b) for b in batches]
                if eng is None:
                    work += sum(timed_work(*j)[1] for j in jobs)
                else:
                    for _, (_, cpu) in eng.map_batches(timed_work, jobs, arg_index=range(len(jobs[0]))):
                        work += cpu
            return work

        results: dict[str, dict[str, Any]] = {}
        idle = [0.0, 0.0]  # the Ray cluster's CPU and wall seconds while other configurations ran
        for _, eng in configs:  # warm: the pool's workers and Ray's load Winnow and the scorers
            apply_headless(str(recipe), inputs, tmp / "warm", id_field="id", engine=eng)
            shutil.rmtree(tmp / "warm")
        for _rep in range(args.reps):
            for name, eng in configs:
                out = tmp / "out"
                r = results.setdefault(name, {"apply": [], "stage": []})
                wall, mine, cpu = timed(lambda eng=eng, out=out: apply_headless(str(recipe), inputs, out, id_field="id",
                                                                                  engine=eng))  # fmt: skip
                others, bg = own(name, cpu)
                r["apply"].append({"wall": wall, "driver_cpu": mine, "workers_cpu": others})
                r.setdefault("digest", digest(out))
                shutil.rmtree(out)
                work: list[float] = []
                wall, mine, cpu = timed(lambda eng=eng, work=work: work.append(stage(eng)))
                others, bg2 = own(name, cpu)
                r["stage"].append({"wall": wall, "driver_cpu": mine, "workers_cpu": others, "work_cpu": work[0]})
                if not name.startswith("ray"):
                    idle[0] += bg + bg2
                    idle[1] += r["apply"][-1]["wall"] + wall
            load.append(os.getloadavg()[0])
        per_task = {name: task_cost(eng) for name, eng in configs[1:]}
        ray.close()
        pool.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    start_wall, start_driver, start_cpu = ray_start
    summary = {
        "docs": args.docs,
        "reps": args.reps,
        "workers": w,
        "results": results,
        "ray_start": {"wall": start_wall, "driver_cpu": start_driver, "processes_cpu": sum(start_cpu.values())},
        "ray_idle_cpu_per_s": idle[0] / idle[1] if idle[1] else None,
        "task_cost_cpu_ms": per_task,
        "load": load,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "engine.json").write_text(json.dumps(summary, indent=1))
    body = readme(summary)
    if not args.no_readme:
        write_section("engine", body)
    print(body)


def readme(s: dict[str, Any]) -> str:
    res, n = s["results"], s["docs"]
    base = next(iter(res.values()))
    med = lambda runs, k: statistics.median(x[k] for x in runs)  # noqa: E731
    tot = lambda runs: statistics.median(x["driver_cpu"] + x["workers_cpu"] for x in runs)  # noqa: E731
    tables = []
    for part in ("apply", "stage"):
        rows = []
        for name, r in res.items():
            runs, b = r[part], base[part]
            row = [name, f"{med(runs, 'wall'):.2f}", f"{med(b, 'wall') / med(runs, 'wall'):.2f}x"]
            row += [f"{med(runs, 'driver_cpu'):.2f}", f"{med(runs, 'workers_cpu'):.2f}", f"{tot(runs):.2f}"]
            row.append(f"{tot(runs) / tot(b) - 1:+.0%}")
            if part == "apply":
                row.append("yes" if r["digest"] == base["digest"] else "NO")
            elif all("work_cpu" in x for x in runs):  # runs recorded before the work was measured lack it
                over = [x["driver_cpu"] + x["workers_cpu"] - x["work_cpu"] for x in runs]
                row += [f"{med(runs, 'work_cpu'):.2f}", f"{statistics.median(over):.3f}"]
                row.append(f"{statistics.median(o / x['work_cpu'] for o, x in zip(over, runs, strict=True)):+.1%}")
            rows.append(row)
        head = ["engine", "wall s", "speed-up", "driver CPU s", "workers CPU s", "CPU s", "CPU vs 1 process"]
        if part == "apply":
            head.append("output identical")
        elif len(rows[0]) > len(head):
            head += ["work CPU s", "overhead CPU s", "overhead vs work"]
        tables.append(md_table(head, rows))
    st = s["ray_start"]
    return (
        f"Headless `winnow apply` of a Gopher + C4 + FineWeb + exact-dedup recipe to the first {n:,} realmix "
        f"documents in 4 JSONL shards, each engine warm, median of {s['reps']} alternating runs on {machine()}, "
        f"1-minute load average {min(s['load']):.1f} to {max(s['load']):.1f} (shared machine: wall times move with "
        "it, CPU seconds much less) (`nice -n 5 python bench/bench_engine.py`). CPU: user + system of the driver "
        "and of the engine's own processes (pool workers; every Ray process).\n\n**apply** (read, score, dedup, "
        "select, re-read the kept documents, write):\n\n" + tables[0] + "\n\n**scoring stage only** (pass 1's "
        "batches, recorded, replayed through each engine: the CPU-bound part that the workers share; *work*: "
        "the scoring's CPU measured inside the process that ran each batch, *overhead*: the run's CPU of every "
        "process (driver, workers, Ray's) minus its work, medians of the per-run values):\n\n"
        + tables[1]
        + f"\n\nStarting the local Ray cluster (once, not in the times above): {st['wall']:.1f} s, "
        f"{st['processes_cpu'] + st['driver_cpu']:.1f} CPU-s of all processes (driver {st['driver_cpu']:.1f}). "
        f"While it sat idle beside the other runs its processes used {s['ray_idle_cpu_per_s']:.3f} CPU-s per second."
        + (
            " The fixed cost of one task (a trivial one, CPU of the driver and of every process of the engine, "
            f"median of {TASK_REPS} runs of {TASKS} tasks): "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in s["task_cost_cpu_ms"].items())
            + "."
            if s.get("task_cost_cpu_ms")
            else ""
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
