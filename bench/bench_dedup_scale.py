"""Near dedup's clustering alone at scale: realmix's signatures cycled into N rows, as headless apply clusters them.

Why: the clustering (``app.signals.dedup_near.cluster``) had never run at 10M documents. Each run is a fresh
process (``--tree``: this tree, or another commit's ``app`` extracted with ``git archive``) that builds a DuckDB
database like headless apply's scratch one (512 MB memory limit, spilling to a temporary directory next to it)
holding N rows ``(_ord, id, sig, text_hash)``: realmix's 53,941 signatures repeated with ids ``<id>-<cycle>``
(``bench/bench_scale.py``'s cycled ids), then times ``cluster`` on them (``--memory M``: under DuckDB limit M,
e.g. headless apply's 128MB, once the rows are in). It reports the CPU (``process_time``,
every thread), wall, peak RSS (``ru_maxrss``), the peak disk of the database and its spill directory (polled),
and each SQL statement's wall and CPU, largest first; ``--against COMMIT`` runs that commit's tree on the same
database too and checks the clusters, sizes, keep flags and Jaccards are identical. Run it under ``nice -n 5``
and give the load average::

    nice -n 5 python bench/bench_dedup_scale.py --docs 1000000 --workdir /tmp/dds --against 03d045c
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"

#: the measured child: argv = signatures parquet, N, work directory, output parquet, key ("1": pass text_hash)
CHILD = r"""
import inspect, json, os, resource, shutil, sys, threading, time
sys.path.insert(0, os.getcwd())
import duckdb
from app.signals import dedup_near as dn
sigs, n, work, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
con = duckdb.connect(os.path.join(work, "scratch.duckdb"))
con.execute("SET memory_limit = '512MB'")
con.execute(f"SET temp_directory = '{work}/_spill'")
cycles = -(-n // con.execute(f"SELECT count(*) FROM '{sigs}'").fetchall()[0][0])
con.execute(
    f"CREATE TABLE _near_bands AS SELECT row_number() OVER () - 1 AS _ord, * FROM (SELECT s.id || '-' || c.i AS id,"
    f" s.sig, s.text_hash FROM range({cycles}) c(i), (SELECT * FROM '{sigs}' ORDER BY id) s ORDER BY c.i, s.id)"
    f" LIMIT {n}"
)
con.execute("CHECKPOINT")
if os.environ.get("BENCH_CLUSTER_MEMORY"):  # the clustering under another limit than the setup's
    con.execute(f"SET memory_limit = '{os.environ['BENCH_CLUSTER_MEMORY']}'")
src = "(SELECT id, text FROM read_parquet('" + sys.argv[5] + "'))"
def texts(c, table):
    q = (f"SELECT n.rid, coalesce(r.text, '') FROM {table} n JOIN {src} r"
         " ON r.id = regexp_replace(n.id, '-[0-9]+$', '') ORDER BY n.rid")
    for rb in c.cursor().sql(q).to_arrow_reader(4096):
        yield rb.column(0).to_numpy(), rb.column(1).to_pylist()
peak_disk = [0]
stop = threading.Event()
def poll():
    while not stop.is_set():
        tot = 0
        for d, _, fs in os.walk(work):
            for f in fs:
                try:
                    tot += os.stat(os.path.join(d, f)).st_blocks * 512
                except OSError:
                    pass
        peak_disk[0] = max(peak_disk[0], tot)
        stop.wait(0.5)
base_disk = sum(os.stat(os.path.join(work, f)).st_blocks * 512 for f in os.listdir(work) if os.path.isfile(os.path.join(work, f)))
th = threading.Thread(target=poll, daemon=True)
th.start()
stmts = {}
class Timed:
    def __init__(self, c):
        self._c = c
    def __getattr__(self, k):
        return getattr(self._c, k)
    def execute(self, q, *a, **k):
        w0, c0 = time.perf_counter(), time.process_time()
        r = self._c.execute(q, *a, **k)
        key = " ".join(q.split())[:70]
        s = stmts.setdefault(key, [0, 0.0, 0.0])
        s[0] += 1; s[1] += time.perf_counter() - w0; s[2] += time.process_time() - c0
        return r
kw = {"key": "text_hash"} if sys.argv[6] == "1" and "key" in inspect.signature(dn.cluster).parameters else {}
rows = "SELECT _ord, id, sig" + (", text_hash" if kw else "") + " FROM _near_bands"
stats = {}
w0, c0 = time.perf_counter(), time.process_time()
dn.cluster(Timed(con), rows_sql=rows, dest="_near", carry=("_ord",), threshold=dn.DEFAULT_THRESHOLD, texts=texts,
           stats=stats, **kw)
wall, cpu = time.perf_counter() - w0, time.process_time() - c0
stop.set(); th.join()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
con.execute(f"COPY (SELECT * EXCLUDE (_ord) FROM _near ORDER BY _ord) TO '{out}' (FORMAT parquet)")
con.close()
shutil.rmtree(work, ignore_errors=True)
top = sorted(stmts.items(), key=lambda kv: -kv[1][1])[:8]
print(json.dumps({"docs": n, "wall": wall, "cpu": cpu, "rss_mib": rss, "disk_mib": (peak_disk[0] - base_disk) / 2**20,
                  "stats": stats, "statements": [[k, v[0], round(v[1], 2), round(v[2], 2)] for k, v in top]}))
"""


def signatures(workdir: Path) -> Path:
    """Realmix's signatures and text hashes (``id``, ``sig``, ``text_hash``), computed once into ``workdir``."""
    out = workdir / "realmix-sigs.parquet"
    if out.exists():
        return out
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from app.signals.dedup_near import signature_array

    con = duckdb.connect()
    tbl = con.execute(
        f"SELECT id, coalesce(text, '') AS text, md5(coalesce(text, '')) AS h FROM '{REALMIX}'"
    ).to_arrow_table()
    texts = tbl.column("text").to_pylist()
    sig = pa.concat_arrays([signature_array(texts[lo : lo + 4096]) for lo in range(0, len(texts), 4096)])
    pq.write_table(pa.table({"id": tbl.column("id"), "sig": sig, "text_hash": tbl.column("h")}), out)
    return out


def run(tree: Path, sigs: Path, n: int, workdir: Path, out: Path, key: bool, memory: str | None = None) -> dict:
    """One fresh child process clustering ``n`` cycled rows with the ``app`` of ``tree``."""
    p = subprocess.run(
        [sys.executable, "-c", CHILD, str(sigs), str(n), str(workdir / "db"), str(out), str(REALMIX), "1" if key else "0"],
        cwd=tree, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree), "BENCH_CLUSTER_MEMORY": memory or ""},
    )  # fmt: skip
    if p.returncode:
        sys.exit(f"the child failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--workdir", type=Path, required=True, help="scratch directory (signatures, databases)")
    ap.add_argument("--against", help="also run this commit's tree and compare the outputs")
    ap.add_argument("--only-against", action="store_true", help="run the other commit's tree alone")
    ap.add_argument("--no-key", action="store_true", help="do not pass text_hash as the clustering's key")
    ap.add_argument("--memory", help="DuckDB memory limit while clustering (default: the setup's 512MB)")
    args = ap.parse_args()
    if not REALMIX.exists():
        sys.exit(f"no realmix at {REALMIX}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    sigs = signatures(args.workdir)
    trees = [] if args.only_against else [("this", ROOT)]
    if args.against:
        other = args.workdir / f"tree-{args.against}"
        if not other.exists():
            other.mkdir()
            arch = subprocess.run(["git", "archive", args.against, "app"], cwd=ROOT, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(other)], input=arch.stdout, check=True)
        trees.append((args.against, other))
    for n in args.docs:
        outs = []
        for name, tree in trees:
            out = args.workdir / f"{name}-{n}.parquet"
            r = run(tree, sigs, n, args.workdir, out, not args.no_key, args.memory)
            load = os.getloadavg()
            print(json.dumps({"tree": name, **r, "load": [round(x, 2) for x in load]}), flush=True)
            outs.append(out)
        if len(outs) == 2:
            import duckdb

            a, b = outs
            diff = duckdb.sql(
                f"SELECT (SELECT count(*) FROM (SELECT * FROM '{a}' EXCEPT ALL SELECT * FROM '{b}')),"
                f" (SELECT count(*) FROM (SELECT * FROM '{b}' EXCEPT ALL SELECT * FROM '{a}'))"
            ).fetchall()[0]
            print(f"{n:,} rows: " + ("IDENTICAL outputs" if diff == (0, 0) else f"outputs DIFFER {diff}"), flush=True)
            if diff != (0, 0):
                sys.exit(1)
    shutil.rmtree(args.workdir / "db", ignore_errors=True)


if __name__ == "__main__":
    main()
