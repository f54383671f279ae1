"""How long a plain read-only DuckDB reader is refused while ``winnow score`` runs (docs/concurrency.md).

Ingests realmix (53,941 documents; ``--docs N`` for its first N) into a fresh workspace, starts
``winnow score --workspace WS`` (all families by default) as a child process, and meanwhile probes the file
from this process every ``--every`` seconds the way a notebook would: ``duckdb.connect(FILE, read_only=True)``,
``SELECT count(*) FROM corpus``, close. Reports the score's wall time, the probes answered and refused, and the
longest *refused window*: from the first refusal of a run of refusals to the next probe that answers (the
longest a reader that retries as docs/concurrency.md says would have waited).

    python bench/bench_score_window.py [--docs N] [--signals all] [--every 0.05] [--keep DIR]
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
REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"
WINNOW = [sys.executable, "-m", "app.cli"]


def build(ws: Path, docs: int | None) -> None:
    """A workspace holding realmix (or its first ``docs`` documents)."""
    src = REALMIX
    if docs:
        import pyarrow.parquet as pq

        src = ws.parent / "realmix_head.parquet"
        pq.write_table(pq.read_table(REALMIX).slice(0, docs), src)
    subprocess.run([*WINNOW, "ingest", str(src), "--workspace", str(ws)], check=True, cwd=ROOT, capture_output=True)


def probe(db: Path) -> tuple[bool, str]:
    """One plain read-only query: (answered, error)."""
    import duckdb

    try:
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute("SELECT count(*) FROM corpus").fetchall()
        return True, ""
    except duckdb.Error as e:
        return False, str(e).splitlines()[0][:120]


def measure(ws: Path, *, signals: str, every: float) -> dict:
    db = ws / "winnow.duckdb"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*WINNOW, "score", "--workspace", str(ws), "--signals", signals, "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    answered = refused = 0
    windows: list[float] = []
    first_refusal: float | None = None
    errors: set[str] = set()
    while True:
        running = proc.poll() is None
        ok, err = probe(db)
        now = time.monotonic()
        if ok:
            answered += 1
            if first_refusal is not None:
                windows.append(now - first_refusal)
                first_refusal = None
        else:
            refused += 1
            errors.add(err.split("(")[0])
            if first_refusal is None:
                first_refusal = now
        if not running and first_refusal is None:
            break
        time.sleep(every)
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"winnow score failed (exit {proc.returncode})")
    res = json.loads(out.strip().splitlines()[-1])
    return {
        "documents": res["documents"],
        "score_s": round(time.monotonic() - t0, 1),
        "probes_answered": answered,
        "probes_refused": refused,
        "refused_windows": len(windows),
        "longest_refused_s": round(max(windows, default=0.0), 2),
        "total_refused_s": round(sum(windows), 2),
        "errors": sorted(errors),
        "workspace_held_s": res.get("workspace_held_s"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=None, help="only the first N realmix documents")
    ap.add_argument("--signals", default="all")
    ap.add_argument("--every", type=float, default=0.05, help="seconds between probes")
    ap.add_argument("--keep", metavar="DIR", help="build the workspace here and keep it")
    args = ap.parse_args(argv)
    if not REALMIX.exists():
        raise SystemExit(f"{REALMIX} is missing")
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="winnow-window-"))
    tmp.mkdir(parents=True, exist_ok=True)
    ws = tmp / "ws"
    try:
        if ws.exists():
            shutil.rmtree(ws)
        build(ws, args.docs)
        res = measure(ws, signals=args.signals, every=args.every)
        res["load_avg"] = round(os.getloadavg()[0], 1)
        print(json.dumps(res))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
