"""Near dedup's CPU per document on realmix, this tree against another commit's, outputs compared.

Each run is a fresh process (alternating between the two trees) that ingests nothing: it copies one ingested
realmix workspace, computes every document's MinHash signature (``signature_array``, or ``signature_blobs``
where the other commit has no ``signature_array``) and clusters them as ``winnow score -s dedup_near`` does;
its CPU (``time.process_time``) per stage is reported as the median of ``--runs`` runs, and the clusters, sizes,
keep flags and Jaccards of every run must equal the other tree's. Run it under ``nice -n 5`` and give the
load average with the figures::

    python bench/bench_dedup_speed.py --against c4e3801 --runs 3
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"

#: the measured child: argv = workspace database, output parquet; prints one JSON line
CHILD = r"""
import inspect, json, os, shutil, sys, time
sys.path.insert(0, os.getcwd())
import duckdb
from app.signals import dedup_near as dn
src, out = sys.argv[1], sys.argv[2]
db = out + ".duckdb"
shutil.copy(src, db)
con = duckdb.connect(db)
texts = [t for (t,) in con.execute("SELECT coalesce(text, '') FROM docs ORDER BY id").fetchall()]
fn = getattr(dn, "signature_array", dn.signature_blobs)
t0 = time.process_time()
for lo in range(0, len(texts), 4096):
    fn(texts[lo : lo + 4096])
t1 = time.process_time()
rows = f"SELECT d.id, c.sig, d.text_hash FROM docs d LEFT JOIN {dn.CACHE} c ON c.id = d.id AND c.text_hash = coalesce(d.text_hash, '')"
kw = {"key": "text_hash"} if "key" in inspect.signature(dn.cluster).parameters else {}  # as the scorer clusters
dn.cluster(con, rows_sql=rows, dest="_out", threshold=dn.DEFAULT_THRESHOLD, texts=dn.texts_by_id("docs"), **kw)
t2 = time.process_time()
con.execute(f"COPY (SELECT * FROM _out ORDER BY id) TO '{out}' (FORMAT parquet)")
con.close()
os.remove(db)
print(json.dumps({"docs": len(texts), "signatures": t1 - t0, "cluster": t2 - t1}))
"""


def workspace(tmp: Path) -> Path:
    """An ingested realmix workspace with its near-duplicate signatures cached (one ``winnow score``)."""
    ws = tmp / "ws"
    run = [sys.executable, "-m", "app.cli"]
    subprocess.run([*run, "ingest", str(REALMIX), "-w", str(ws), "--source-field", "source"], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([*run, "score", "-w", str(ws), "-s", "dedup_near"], cwd=ROOT, check=True, capture_output=True)
    return ws / "winnow.duckdb"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", default="HEAD~1", help="the other commit (default HEAD~1)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not REALMIX.exists():
        sys.exit(f"no realmix at {REALMIX}")
    with tempfile.TemporaryDirectory(prefix="bench-dedup-speed-") as t:
        tmp = Path(t)
        other = tmp / "other"
        other.mkdir()
        arch = subprocess.run(["git", "archive", args.against, "app"], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(other)], input=arch.stdout, check=True)
        db = workspace(tmp)
        got: dict[str, list[dict]] = {"this": [], "other": []}
        for i in range(args.runs):
            for name, cwd in (("other", other), ("this", ROOT)):
                out = tmp / f"{name}-{i}.parquet"
                p = subprocess.run([sys.executable, "-c", CHILD, str(db), str(out)], cwd=cwd, check=True,
                                   capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(cwd)})  # fmt: skip
                got[name].append({**json.loads(p.stdout.strip().splitlines()[-1]), "out": out})
        import duckdb

        con = duckdb.connect()
        ref = got["other"][0]["out"]
        for r in got["this"] + got["other"]:
            diff = con.execute(
                f"SELECT count(*) FROM (SELECT * FROM '{ref}' EXCEPT ALL SELECT * FROM '{r['out']}')"
                f" UNION ALL SELECT count(*) FROM (SELECT * FROM '{r['out']}' EXCEPT ALL SELECT * FROM '{ref}')"
            ).fetchall()
            if any(d for (d,) in diff):
                sys.exit(f"{r['out'].name}: the clusters differ from {ref.name}")
        n = got["this"][0]["docs"]
        load = os.getloadavg()[0]
        print(f"realmix, {n:,} documents; every run's clusters identical; 1-minute load {load:.1f}")
        for stage in ("signatures", "cluster"):
            a = statistics.median(r[stage] for r in got["other"])
            b = statistics.median(r[stage] for r in got["this"])
            print(f"{stage:11s} {args.against}: {a:.2f} CPU-s  this: {b:.2f} CPU-s  ({a / b:.2f}x)")
        a = statistics.median(r["signatures"] + r["cluster"] for r in got["other"])
        b = statistics.median(r["signatures"] + r["cluster"] for r in got["this"])
        print(f"both        {args.against}: {a:.2f} CPU-s ({n / a:,.0f} docs/CPU-s)  this: {b:.2f} CPU-s"
              f" ({n / b:,.0f} docs/CPU-s)  {a / b:.2f}x")  # fmt: skip
        shutil.rmtree(tmp / "ws", ignore_errors=True)


if __name__ == "__main__":
    main()
