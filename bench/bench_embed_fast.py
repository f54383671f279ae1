"""``winnow embed --fast`` CPU per document on realmix, this tree against another commit's (issue 18).

Each run is a fresh process (``nice -n 5``) embedding every distinct text of a fresh copy of one realmix
workspace; its CPU (user + sys, from ``os.wait4``, start-up included) and peak RSS are its own. Runs of the
two trees alternate, so load drifts hit both alike; the medians are reported with the load average. The
vectors of the last run of each tree are compared (max abs diff; they should be bit-equal).

Usage: ``git archive <commit> app | tar -x -C /tmp/old`` then
``python bench/bench_embed_fast.py --against /tmp/old [--runs 3] [--readme]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"
RUNNER = "import sys; sys.path.insert(0, sys.argv.pop(1)); from app.cli import main; sys.exit(main(sys.argv[1:]))"


def run_embed(tree: Path, ws: Path) -> dict:
    """One fresh ``winnow embed -w WS --fast --json`` from ``tree``: its JSON, CPU seconds, wall, peak RSS."""
    cmd = ["nice", "-n", "5", sys.executable, "-c", RUNNER, str(tree), "embed", "-w", str(ws), "--fast", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"embed from {tree} failed (status {status})")
    res = json.loads(out.strip().splitlines()[-1])
    return {**res, "cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": wall, "rss_mib": ru.ru_maxrss / 1024}


def vectors(ws: Path):
    from app.embed import load_vectors
    from app.workspace import Workspace

    with Workspace.open(ws, read_only=True) as w:
        ids, vec, _ = load_vectors(w)
    return ids, vec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, help="a tree holding another commit's app/ (git archive C app | tar -x)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--readme", action="store_true", help="write README section bench:embed_fast")
    a = ap.parse_args()
    if not REALMIX.exists():
        raise SystemExit(f"{REALMIX} is absent")
    work = Path(tempfile.mkdtemp(prefix="bench-embed-fast-"))
    try:
        template = work / "template"
        subprocess.run(
            [
                *(sys.executable, "-m", "app.cli", "ingest", "-w", str(template), "--json"),
                *("--source-field", "source", "--id-field", "id", str(REALMIX)),
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        trees = {"this tree": ROOT} | ({"against": a.against.resolve()} if a.against else {})
        runs: dict[str, list[dict]] = {k: [] for k in trees}
        load = [os.getloadavg()]
        for i in range(a.runs):
            for name, tree in trees.items():
                ws = work / f"{name.replace(' ', '_')}-{i}"
                shutil.rmtree(ws, ignore_errors=True)
                shutil.copytree(template, ws)
                runs[name].append(run_embed(tree, ws) | {"ws": str(ws)})
                r = runs[name][-1]
                print(
                    f"{name} run {i}: {r['embedded']:,} texts, {r['cpu_s']:.2f} CPU-s, {r['wall_s']:.1f} s wall,"
                    f" {r['rss_mib']:.0f} MiB",
                    flush=True,
                )
                if i < a.runs - 1:
                    shutil.rmtree(ws, ignore_errors=True)
        load.append(os.getloadavg())
        rows = []
        for name, rs in runs.items():
            cpu = statistics.median(r["cpu_s"] for r in rs)
            n = rs[0]["embedded"]
            rows.append(
                [
                    name,
                    f"{n:,}",
                    f"{cpu:.2f}",
                    f"{n / cpu:,.0f}",
                    f"{statistics.median(r['wall_s'] for r in rs):.1f}",
                    f"{max(r['rss_mib'] for r in rs):,.0f}",
                ]
            )
        diff = None
        if a.against:
            ids_a, va = vectors(Path(runs["this tree"][-1]["ws"]))
            ids_b, vb = vectors(Path(runs["against"][-1]["ws"]))
            assert (ids_a == ids_b).all()
            diff = float(abs(va - vb).max())
        summary = {"rows": rows, "load": load, "max_abs_diff": diff}
        print(json.dumps(summary))
        if a.readme:
            from bench._readme import machine, md_table, write_section

            table = md_table(
                ["tree", "texts embedded", "CPU-s (median)", "texts per CPU-s", "wall s", "peak MiB"], rows
            )
            note = f"max abs difference of the vectors between the two trees: {diff:g}" if diff is not None else ""
            write_section(
                "embed_fast",
                "### `winnow embed --fast` per document (`bench/bench_embed_fast.py`)\n\n"
                f"realmix, every distinct text of a fresh workspace, fresh processes under `nice -n 5`, {a.runs} runs of"
                f" each tree alternating; CPU is user + sys of the process, start-up included. {machine()}; load"
                f" average {load[0][0]:.1f} at the start, {load[1][0]:.1f} at the end.\n\n{table}\n\n{note}",
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
