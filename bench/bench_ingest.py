"""Ingest throughput: ``winnow ingest`` side by side with DuckDB's own ``read_json_auto`` (the physical
reference: read only, and read + store into a table) and ``datasets.load_dataset("json")``, on a 1M-document
JSONL made from realmix, plus every raw realmix format. Each measurement runs in its own subprocess; peak
RSS is that child's ``ru_maxrss``. Medians of ``--repeats``. Rewrites the README section
between the ``bench:ingest`` markers.

    python bench/bench_ingest.py            # 1M documents, 3 repeats
    python bench/bench_ingest.py --quick    # 100k documents, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "out"
SHARED = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared"))
REALMIX = SHARED / "corpora" / "realmix"

RAW_FORMATS = [
    ("JSONL (CCNet, nested metadata)", ["cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"]),
    ("JSON array (Alpaca, rendered)", ["alpaca_5000.json"]),
    ("CSV (quoted, embedded newlines)", ["davidson_labeled_data.csv", "ChnSentiCorp_htl_all.csv", "waimai_10k.csv"]),
    ("plain text (WikiText paragraphs)", ["wikitext2-valid.txt", "wikitext2-test.txt"]),
]


# ------------------------------------------------------------------ children (one measurement each)
def child(kind: str, path: str, tmp: str) -> dict:
    """Run one measurement in this (child) process and return its numbers."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    t0 = time.perf_counter()
    if kind == "make":
        return {"path": str(make_jsonl(int(path)))}
    if kind in ("winnow", "winnow_full"):
        from app.ingest import ingest
        from app.workspace import Workspace

        with Workspace.open(Path(tmp) / "ws", create=True) as ws:
            rebuild = ws.rebuild_views
            spent = [0.0]

            def timed_rebuild(*a, **k):  # the workspace's own view/corpus_fast rebuild, reported apart
                t = time.perf_counter()
                try:
                    return rebuild(*a, **k)
                finally:
                    spent[0] += time.perf_counter() - t

            ws.rebuild_views = timed_rebuild
            out = ingest(ws, [path], source="bench", full_schema=kind == "winnow_full")
        return {"seconds": time.perf_counter() - t0, "docs": int(out["ingested"]), "rebuild": spent[0]}
    elif kind == "winnow_reader":
        from app.ingest import read_documents

        docs = sum(b.num_rows for b in read_documents([path]))
    elif kind == "duckdb_read":
        import duckdb

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        docs = con.execute("SELECT count(*), sum(length(text)) FROM read_json_auto(?)", [path]).fetchone()[0]
    elif kind == "duckdb_store":
        import duckdb

        con = duckdb.connect(str(Path(tmp) / "ref.duckdb"))
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE TABLE t AS SELECT * FROM read_json_auto(?)", [path])
        docs = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    elif kind == "datasets":
        import datasets

        datasets.disable_progress_bars()
        # realmix's label columns are null in the first chunk, so `datasets` (pyarrow's per-chunk inference)
        # needs the schema spelled out; with it, this is its fastest path
        feats = datasets.Features(
            {c: datasets.Value("string") for c in ("id", "source", "text", "lang", "toxicity", "url", "title")}
            | {"sentiment": datasets.Value("float64"), "boilerplate": datasets.Value("bool")}
        )
        ds = datasets.load_dataset(
            "json", data_files=path, split="train", cache_dir=str(Path(tmp) / "hf"), features=feats
        )
        docs = len(ds)
    elif kind == "raw_formats":
        from app.ingest import ingest
        from app.workspace import Workspace

        res = {}
        with Workspace.open(Path(tmp) / "ws", create=True) as ws:
            for k, (_label, files) in enumerate(RAW_FORMATS):  # warm-up: imports, first-call costs
                ingest(ws, [str(REALMIX / "raw" / files[0])], source=f"warmup{k}")
            for label, files in RAW_FORMATS:
                paths = [str(REALMIX / "raw" / f) for f in files]
                t = time.perf_counter()
                out = ingest(ws, paths, source=label)
                res[label] = {
                    "seconds": time.perf_counter() - t,
                    "docs": out["ingested"],
                    "read": out["read"],
                    "skipped": sum(out["skipped"].values()),
                    "bytes": out["bytes"],
                }
        return {"formats": res}
    else:
        raise SystemExit(f"unknown kind {kind}")
    return {"seconds": time.perf_counter() - t0, "docs": int(docs)}


def measure(kind: str, path: str) -> dict:
    """Run ``child(kind)`` in a fresh process; add its peak RSS (MiB)."""
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=OUT) as tmp:
        cmd = [sys.executable, __file__, "--child", kind, path, tmp]
        proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
        if proc.returncode:
            raise SystemExit(f"{kind} failed:\n{proc.stderr.decode()[-2000:]}")
        lines = proc.stdout.decode().strip().splitlines()
        res = json.loads(lines[-1])
        res["rss_mib"] = json.loads(lines[-2]) / 1024  # the child's own getrusage(RUSAGE_SELF).ru_maxrss, KiB
        return res


# ------------------------------------------------------------------ data
def make_jsonl(n: int) -> Path:
    """A JSONL of ``n`` documents built by cycling realmix.parquet (unique ids), written once."""
    path = OUT / f"realmix_{n // 1000}k.jsonl"
    if path.exists():
        return path
    import duckdb

    OUT.mkdir(parents=True, exist_ok=True)
    src = REALMIX / "realmix.parquet"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    reps = n // con.execute("SELECT count(*) FROM read_parquet(?)", [str(src)]).fetchone()[0] + 1
    tmp = path.with_suffix(".tmp")
    con.execute(
        f"COPY (SELECT r.id || '-' || g.i AS id, source, text, lang, toxicity, sentiment, url, title, boilerplate "
        f"FROM read_parquet('{src}') r, range({reps}) g(i) ORDER BY g.i, r.id LIMIT {n}) TO '{tmp}' (FORMAT json)"
    )
    tmp.rename(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k documents, 1 repeat")
    ap.add_argument("--docs", type=int, default=None, help="documents in the JSONL (default 1,000,000)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 3; --quick 1)")
    ap.add_argument("--no-readme", action="store_true", help="do not rewrite README.md")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "TMP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import resource

        res = child(*args.child)
        print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
        print(json.dumps(res))
        return
    if not (REALMIX / "realmix.parquet").exists():
        raise SystemExit(f"{REALMIX} is absent: the ingest benchmark needs ../shared/corpora/realmix")
    n = args.docs or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    t_all = time.perf_counter()
    load0 = os.getloadavg()[0]
    # built in a child: a child inherits its parent's peak RSS at fork, so the parent stays small
    path = Path(measure("make", str(n))["path"])
    size = path.stat().st_size
    print(f"input: {path.name}: {n:,} documents, {size / 1e6:.0f} MB; {repeats} repeat(s)", file=sys.stderr)

    kinds = [
        ("winnow", "`winnow ingest` (into a workspace, atomic, accounted)"),
        ("winnow_full", "`winnow ingest --full-schema` (schema from every line)"),
        ("duckdb_read", "DuckDB `read_json_auto`, read only (count + sum of lengths)"),
        ("duckdb_store", "DuckDB `CREATE TABLE AS read_json_auto` (read + store)"),
        ("datasets", '`datasets.load_dataset("json")` (Arrow cache)'),
        ("winnow_reader", "`app.ingest.read_documents` (Python stream, no workspace)"),
    ]
    results: dict[str, dict] = {}
    for kind, _label in kinds:
        runs = [measure(kind, str(path)) for _ in range(repeats)]
        assert all(r["docs"] == n for r in runs), (kind, [r["docs"] for r in runs])
        assert all(r["rss_mib"] > 0 for r in runs)
        secs = statistics.median(r["seconds"] for r in runs)
        results[kind] = {
            "seconds": secs,
            "rss": max(r["rss_mib"] for r in runs),
            "rebuild": statistics.median(r.get("rebuild", 0.0) for r in runs),
        }
        print(f"{kind:14s} {secs:7.2f} s  {n / secs:10,.0f} docs/s  {size / 1e6 / secs:7.1f} MB/s", file=sys.stderr)

    raw = measure("raw_formats", "-")["formats"]

    from _readme import machine, md_table, write_section

    ref = results["duckdb_read"]["seconds"]
    store = results["duckdb_store"]["seconds"]
    rows = []
    for kind, label in kinds:
        r = results[kind]
        rows.append(
            [
                label,
                f"{r['seconds']:.1f}",
                f"{n / r['seconds']:,.0f}",
                f"{size / 1e6 / r['seconds']:.1f}",
                f"{ref / r['seconds']:.2f}x",
                f"{store / r['seconds']:.2f}x",
                f"{r['rebuild']:.1f}" if r["rebuild"] else "",
                f"{r['rss']:,.0f}",
            ]
        )
    table = md_table(
        [
            "1M-doc JSONL",
            "seconds (median)",
            "docs/s",
            "MB/s",
            "vs DuckDB read",
            "vs DuckDB read+store",
            "of which view rebuild s",
            "peak RSS MiB",
        ],
        rows,
    )
    raw_rows = [
        [
            label,
            f"{v['read']:,}",
            f"{v['docs']:,}",
            f"{v['skipped']:,}",
            f"{v['seconds']:.2f}",
            f"{v['docs'] / v['seconds']:,.0f}",
            f"{v['bytes'] / 1e6 / v['seconds']:.1f}",
        ]
        for label, v in raw.items()
    ]
    raw_table = md_table(["realmix raw format", "read", "ingested", "skipped", "seconds", "docs/s", "MB/s"], raw_rows)
    w = results["winnow"]["seconds"]
    own = w - results["winnow"]["rebuild"]
    verdict = (
        f"`winnow ingest` runs at {ref / w:.2f}x DuckDB's read-only `read_json_auto` and "
        f"{results['duckdb_store']['seconds'] / w:.2f}x DuckDB's own read-and-store, "
        f"{results['datasets']['seconds'] / w:.1f}x the speed of `datasets`, peak RSS {results['winnow']['rss']:,.0f} MiB. "
        f"Of its {w:.1f} s, {results['winnow']['rebuild']:.1f} s are the workspace re-materialising `corpus_fast` "
        f"(`Workspace.rebuild_views`, once per ingest); the ingest itself takes {own:.1f} s "
        f"({ref / own:.2f}x DuckDB's read, {results['datasets']['seconds'] / own:.1f}x the speed of `datasets`)."
    )
    loads = (load0, os.getloadavg()[0])
    verdict += (
        f" The 1-minute load average was {loads[0]:.1f} at the start and {loads[1]:.1f} at the end of the run"
        f" on {os.cpu_count()} cores: other jobs shared the CPU, so compare rows of one run, not runs."
    )
    cmd = "python bench/bench_ingest.py" + (" --quick" if args.quick else "") + (f" --docs {n}" if args.docs else "")
    body = (
        f"Ingest, measured by `{cmd}` ({machine()}; each row a fresh subprocess, median of {repeats}; "
        f"input {n:,} documents / {size / 1e6:.0f} MB of JSONL made by cycling realmix.parquet). {verdict}\n\n"
        f"{table}\n\n{raw_table}\n\nThe 1M rows include each child's imports and opening/closing the database. "
        "The realmix rows run in one process after a warm-up ingest of each format; every `read` equals "
        "`ingested + skipped` (the one skipped row is the empty review at `ChnSentiCorp_htl_all.csv:6376`)."
    )
    print(table)
    print()
    print(raw_table)
    print(verdict)
    print(f"(benchmark took {time.perf_counter() - t_all:.0f} s)", file=sys.stderr)
    if not args.no_readme:
        write_section("ingest", body)


if __name__ == "__main__":
    main()
