"""What sharing one workspace between processes costs (docs/concurrency.md): the numbers behind the design.

Measures, on workspaces of realmix replicated to several sizes (``bench_ui.build_workspace``, cached under
``data/bench_ui/``):

- opening the DuckDB file (raw ``duckdb.connect`` read-only / read-write, ``Workspace.open`` with its bootstrap)
  and closing it, against an in-memory database: is the cost of reopening per interaction in the file's size?
- a Thresholds summary (``recipe_bridge.summarize``, the panel's server call) on a warm connection, and the
  first one after the connection was dropped and reopened (what the dashboard pays after an idle pause);
- the hand-over: how long ``winnow info`` takes while a dashboard-style :class:`SharedWorkspace` holds the
  file idle (it asks, the dashboard lets go), against the same command on a free file.

    python bench/bench_concurrency.py [--docs 53941,269705,1000000] [--repeat 9] [--dir DIR] [--no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


def workspace(docs: int, root: Path) -> Path:
    from bench_ui import build_workspace

    path = root / f"ws_{docs}"
    if not (path / "winnow.duckdb").exists():
        print(f"building {path} ...", file=sys.stderr)
        build_workspace(path, docs=docs)
    return path


def open_costs(path: Path, repeat: int) -> dict:
    import duckdb

    from app.workspace import Workspace

    db = str(path / "winnow.duckdb")
    return {
        "file_mb": round(os.path.getsize(db) / 1e6, 1),
        "raw_ro_ms": med(timed(lambda: duckdb.connect(db, read_only=True).close(), repeat)),
        "raw_rw_ms": med(timed(lambda: duckdb.connect(db).close(), repeat)),
        "workspace_rw_ms": med(timed(lambda: Workspace.open(path).close(), repeat)),
    }


def summary_costs(path: Path, repeat: int) -> dict:
    """The panel's summary on a warm connection, and the first one on a reopened connection."""
    from bench_ui import RULES

    from app.explore import recipe_bridge
    from app.explore.view_state import decode_rules
    from app.shared_workspace import SharedWorkspace

    rules = decode_rules(RULES)
    ws = SharedWorkspace(path, idle_s=1e9)
    try:
        recipe_bridge.summarize(ws.cursor(), rules)  # the recipe frame cache is warm, as in a running dashboard
        warm, cold = [], []
        for i in range(repeat):
            rules[0].lo = float(6 + i * 7)
            t = time.perf_counter()
            cur = ws.cursor()
            recipe_bridge.summarize(cur, rules)
            cur.close()
            warm.append((time.perf_counter() - t) * 1000)
            ws.grace_s = 0.0
            assert ws.release()
            rules[0].lo += 3
            t = time.perf_counter()
            cur = ws.cursor()  # reopens the file
            recipe_bridge.summarize(cur, rules)
            cur.close()
            cold.append((time.perf_counter() - t) * 1000)
        return {"summary_warm_ms": med(warm), "summary_after_reopen_ms": med(cold)}
    finally:
        ws.close()


def handover(path: Path, repeat: int) -> dict:
    """``winnow info`` on a free file vs on a file a SharedWorkspace holds idle (it asks; the holder lets go)."""
    from app.shared_workspace import SharedWorkspace

    cmd = [sys.executable, "-m", "app.cli", "info", "--workspace", str(path), "--json"]

    def info() -> None:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr

    free = timed(info, repeat)
    ws = SharedWorkspace(path, idle_s=1e9, grace_s=0.0)
    held = []
    try:
        for _ in range(repeat):
            ws.cursor().execute("SELECT count(*) FROM _parts").fetchall()  # the dashboard holds it
            held.extend(timed(info, 1))
    finally:
        ws.close()
    return {"info_free_ms": med(free), "info_held_ms": med(held), "released": ws.releases}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", default="53941,269705,1000000", help="comma-separated sizes (realmix replicated)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--dir", default=str(ROOT / "data" / "bench_ui"), help="where the workspaces are cached")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    import duckdb

    rows = []
    mem = med(timed(lambda: duckdb.connect(":memory:").close(), args.repeat))
    for docs in [int(d) for d in args.docs.split(",")]:
        path = workspace(docs, Path(args.dir))
        from app.workspace import Workspace

        with Workspace.open(path, read_only=True) as w:
            n = w.info()["documents"]
        row = {"docs": n, **open_costs(path, args.repeat), **summary_costs(path, args.repeat)}
        row.update(handover(path, max(3, args.repeat // 3)))
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    meta = machine()
    out = ROOT / "bench" / "out" / "concurrency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "memory_open_ms": mem, "rows": rows}, indent=1))
    table = md_table(
        [
            "documents",
            "file MB",
            "open RO ms",
            "open RW ms",
            "Workspace.open ms",
            "summary, warm ms",
            "summary after reopen ms",
            "winnow info: free / held by a dashboard ms",
        ],
        [
            [
                f"{r['docs']:,}",
                r["file_mb"],
                r["raw_ro_ms"],
                r["raw_rw_ms"],
                r["workspace_rw_ms"],
                r["summary_warm_ms"],
                r["summary_after_reopen_ms"],
                f"{r['info_free_ms']:.0f} / {r['info_held_ms']:.0f}",
            ]
            for r in rows
        ],
    )
    print(table)
    if not args.no_readme:
        body = (
            f"**Sharing a workspace** (docs/concurrency.md; medians of {args.repeat}; an in-memory DuckDB opens in"
            f" {mem} ms on this machine; {meta}).\n\n{table}\n\n`python bench/bench_concurrency.py`"
        )
        write_section("concurrency", body)


if __name__ == "__main__":
    main()
