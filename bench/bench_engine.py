"""Engines: headless ``winnow apply`` on the same shards in this process, a local pool and a local Ray cluster.

Input: the first ``N`` documents of realmix (``--docs``, default 12,000) written as 4 JSONL shards. Recipe: Gopher
quality, C4 and FineWeb rules plus exact dedup (every document scored by three signal families, the CPU-bound
part). Each configuration runs ``--reps`` times (default 3); the table shows the median wall time, documents per
second, the ratio to the single-process run and whether the output files are byte-identical to it.

- ``local, 1 process``: the default (``engine=None``);
- ``local pool, W``: :class:`app.engine.local.LocalEngine` with W spawned processes;
- ``ray, W``: :class:`app.engine.ray_engine.RayEngine` on a local Ray cluster with ``num_cpus=W``, started once
  before the runs (its start-up, measured separately, is in the table's notes, not in the run times).

``python bench/bench_engine.py`` writes ``bench/out/engine.json`` and the README section ``engine``. The
forecast (``winnow apply --dry-run``) of the single-process run is printed next to it.
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
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=12_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not REALMIX.exists():
        sys.exit("../shared/corpora/realmix is absent")
    from app.engine import make_engine
    from app.export.headless import apply_headless
    from app.export.plan import forecast

    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-engine-"))
    try:
        inputs = shards(tmp, args.docs)
        recipe = tmp / "r.yaml"
        recipe.write_text(RECIPE)
        t0 = time.perf_counter()
        ray = make_engine("ray", workers=args.workers)
        ray_start = time.perf_counter() - t0
        configs = [("local, 1 process", None), (f"local pool, {args.workers}", make_engine("local", workers=args.workers)),
                   (f"ray, {args.workers} workers", ray)]  # fmt: skip
        fc = forecast(str(recipe), inputs, sample=2000, id_field="id")
        results: dict[str, dict] = {}
        for rep in range(args.reps):
            for name, eng in configs:
                out = tmp / f"out-{rep}-{name.split(',')[0].replace(' ', '_')}"
                t = time.perf_counter()
                apply_headless(str(recipe), inputs, out, id_field="id", engine=eng)
                secs = time.perf_counter() - t
                r = results.setdefault(name, {"seconds": [], "digest": digest(out)})
                r["seconds"].append(secs)
                shutil.rmtree(out)
        ray.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(results["local, 1 process"]["seconds"])
    base_digest = results["local, 1 process"]["digest"]
    rows = []
    for name, r in results.items():
        med = statistics.median(r["seconds"])
        rows.append([name, f"{med:.1f}", f"{args.docs / med:,.0f}", f"{base / med:.2f}x",
                     "yes" if r["digest"] == base_digest else "NO"])  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "engine.json").write_text(json.dumps({"docs": args.docs, "results": results, "ray_start_s": ray_start,
                                                  "forecast": fc}, indent=1))  # fmt: skip
    body = (
        f"Headless `winnow apply` of a Gopher + C4 + FineWeb + exact-dedup recipe to the first {args.docs:,} realmix "
        f"documents in 4 JSONL shards; median of {args.reps} runs on {machine()} "
        "(`python bench/bench_engine.py`).\n\n"
        + md_table(["engine", "seconds", "docs/s", "speed-up vs 1 process", "output identical"], rows)
        + f"\n\nStarting the local Ray cluster took {ray_start:.1f} s (once, not in the times above). The forecast "
        f"(`--dry-run 2000`) said {fc['forecast_seconds']:.0f} s for the single-process run; it took {base:.0f} s."
    )
    write_section("engine", body)
    print(body)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
