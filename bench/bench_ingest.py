"""Ingest throughput: ``winnow ingest`` side by side with DuckDB's own read-and-store (``CREATE TABLE AS
SELECT * FROM read_json_auto(...)`` / ``read_parquet(...)``) on the same files, JSON lines and Parquet, at
several sizes made by cycling realmix; plus every raw realmix format, and (``--big N``) one N-line JSONL
file ingested once to show that peak memory does not grow with the file.

Each measurement runs in its own subprocess (imports and opening/closing the database included); *wall*
is its elapsed time, *CPU* its ``process_time`` (all its threads), peak RSS its ``ru_maxrss``. Winnow and
DuckDB alternate within each repeat; medians of ``--repeats``. The machine is shared, so the CPU ratio is
the steadier one. Inputs are made in a temporary directory and deleted at the end. Rewrites the README
section between the ``bench:ingest`` markers (the ``--big`` result is kept in bench/out/ingest_big.json).

    python bench/bench_ingest.py                      # 324k and 1M documents, JSONL + Parquet, 3 repeats
    python bench/bench_ingest.py --quick              # 100k documents, 1 repeat
    python bench/bench_ingest.py --big 10000000       # one 10M-line JSONL (3.8 GB, deleted after)
    python bench/bench_ingest.py --shards 10000000    # 10M documents in 8 JSONL shards: Winnow vs DuckDB
    python bench/bench_ingest.py --shards 1000000 --parquet --shard-files 16  # 16 Parquet shards of one row group
    python bench/bench_ingest.py --shards 1000000 --gz  # 8 gzipped JSONL shards
    python bench/bench_ingest.py --extra              # also --full-schema, read-only DuckDB, `datasets`
    python bench/bench_ingest.py --profile FILE       # one ingest of FILE, CPU and wall of every SQL statement
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
sys.path.insert(0, str(ROOT / "bench"))
OUT = ROOT / "bench" / "out"
SHARED = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared"))
REALMIX = SHARED / "corpora" / "realmix"
BIG_JSON = OUT / "ingest_big.json"
SHARDS_JSON = OUT / "ingest_shards.json"

RAW_FORMATS = [
    ("JSONL (CCNet, nested metadata)", ["cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl"]),
    ("JSON array (Alpaca, rendered)", ["alpaca_5000.json"]),
    ("CSV (quoted, embedded newlines)", ["davidson_labeled_data.csv", "ChnSentiCorp_htl_all.csv", "waimai_10k.csv"]),
    ("plain text (WikiText paragraphs)", ["wikitext2-valid.txt", "wikitext2-test.txt"]),
]
KINDS = {
    "winnow": "`winnow ingest` (ids, text_hash, accounting, atomic swap)",
    "duckdb_store": "DuckDB `CREATE TABLE AS SELECT *` (read + store)",
    "winnow_full": "`winnow ingest --full-schema`",
    "duckdb_read": "DuckDB read only (count + sum of lengths)",
    "datasets": '`datasets.load_dataset("json")` (Arrow cache)',
}


# ------------------------------------------------------------------ children (one measurement each)
def child(kind: str, path: str, tmp: str) -> dict:
    """Run one measurement in this (child) process and return its numbers."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    t0, c0 = time.perf_counter(), time.process_time()
    reader = "read_parquet" if path.endswith(".parquet") else "read_json_auto"
    if kind in ("winnow", "winnow_full"):
        from app.ingest import ingest
        from app.workspace import Workspace

        with Workspace.open(Path(tmp) / "ws", create=True) as ws:
            out = ingest(ws, [path], source="bench", full_schema=kind == "winnow_full")
        docs = out["ingested"]
    elif kind == "duckdb_read":
        import duckdb

        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        docs = con.execute(f"SELECT count(*), sum(length(text)) FROM {reader}(?)", [path]).fetchone()[0]
    elif kind == "duckdb_store":
        import duckdb

        con = duckdb.connect(str(Path(tmp) / "ref.duckdb"))
        con.execute("SET enable_progress_bar = false")
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}(?)", [path])
        docs = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
    elif kind == "datasets":
        import datasets

        datasets.disable_progress_bars()
        # realmix's label columns are null in the first chunk: `datasets` needs the schema spelled out
        feats = datasets.Features(
            {c: datasets.Value("string") for c in ("id", "source", "text", "lang", "toxicity", "url", "title")}
            | {"sentiment": datasets.Value("float64"), "boilerplate": datasets.Value("bool")}
        )
        ds = datasets.load_dataset(
            "json", data_files=path, split="train", cache_dir=str(Path(tmp) / "hf"), features=feats
        )
        docs = len(ds)
    elif kind == "profile":
        return profile(path, tmp, c0)
    elif kind == "make":  # a child, so that the parent (whose peak RSS each child inherits) stays small
        n, parquet = path.split(":")
        return {k: str(v) for k, v in make_inputs(int(n), Path(tmp), parquet=parquet == "parquet").items()}
    elif kind == "raw_formats":
        return {"formats": raw_formats(tmp)}
    else:
        raise SystemExit(f"unknown kind {kind}")
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0, "docs": int(docs)}


def raw_formats(tmp: str) -> dict:
    """Every raw realmix format, in one process after a warm-up ingest of each."""
    from app.ingest import ingest
    from app.workspace import Workspace

    res = {}
    with Workspace.open(Path(tmp) / "ws", create=True) as ws:
        for k, (_label, files) in enumerate(RAW_FORMATS):
            ingest(ws, [str(REALMIX / "raw" / files[0])], source=f"warmup{k}")
        for label, files in RAW_FORMATS:
            t = time.perf_counter()
            out = ingest(ws, [str(REALMIX / "raw" / f) for f in files], source=label)
            res[label] = {
                "seconds": time.perf_counter() - t,
                "docs": out["ingested"],
                "read": out["read"],
                "skipped": sum(out["skipped"].values()),
                "bytes": out["bytes"],
            }
    return res


class _Timed:
    """A DuckDB connection or cursor whose every ``execute`` is timed (CPU of all threads, wall) into ``log``."""

    def __init__(self, con, log: list) -> None:
        self._con, self._log = con, log

    def __getattr__(self, name: str):
        return getattr(self._con, name)

    def execute(self, sql: str, *args):
        c, t = time.process_time(), time.perf_counter()
        out = self._con.execute(sql, *args)
        self._log.append((time.process_time() - c, time.perf_counter() - t, " ".join(str(sql).split())))
        return self if out is self._con else out

    def cursor(self):
        return _Timed(self._con.cursor(), self._log)


def profile(path: str, tmp: str, c0: float) -> dict:
    """One ``winnow ingest`` of ``path`` with every SQL statement timed: the phases (imports, opening, the
    statements, Python between them, closing) and the statements by CPU (the line count runs in a thread
    during the stage ``INSERT``, so its CPU is in that statement's)."""
    from app.ingest import ingest
    from app.workspace import Workspace

    log: list = []
    c_imp = time.process_time() - c0
    c1 = time.process_time()
    ws = Workspace.open(Path(tmp) / "ws", create=True)
    c_open = time.process_time() - c1
    ws.con = _Timed(ws.con, log)
    c1, t1 = time.process_time(), time.perf_counter()
    ingest(ws, [path], source="bench")
    c_ing, w_ing = time.process_time() - c1, time.perf_counter() - t1
    c1 = time.process_time()
    ws.close()
    c_close = time.process_time() - c1
    in_sql = sum(x[0] for x in log)
    top = sorted(log, reverse=True)[:12]
    return {
        "cpu": {"imports": c_imp, "open": c_open, "ingest": c_ing, "statements": in_sql, "close": c_close},
        "ingest_wall": w_ing,
        "statements": [{"cpu": c, "wall": w, "sql": q[:160]} for c, w, q in top],
    }


def measure(kind: str, path: str) -> dict:
    """Run ``child(kind)`` in a fresh process; add its peak RSS (MiB)."""
    with tempfile.TemporaryDirectory(prefix="bench-ingest-", dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        cmd = [sys.executable, __file__, "--child", kind, path, tmp]
        proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
        if proc.returncode:
            raise SystemExit(f"{kind} failed:\n{proc.stderr.decode()[-2000:]}")
        lines = proc.stdout.decode().strip().splitlines()
        res = json.loads(lines[-1])
        res["rss_mib"] = json.loads(lines[-2]) / 1024  # the child's own getrusage(RUSAGE_SELF).ru_maxrss, KiB
        return res


# ------------------------------------------------------------------ data
def _load_note(loads: tuple[float, float]) -> str:
    """What the load means for the figures: above the core count other work shared the machine, which inflates
    wall times (and flatters Winnow's single-threaded parts against DuckDB's parallel ones)."""
    if max(loads) > (os.cpu_count() or 1):
        return ", shared with other work, so wall times are inflated and the CPU ratio is the steadier figure"
    return " (a quiet machine: DuckDB's `CREATE TABLE AS` ran on both cores)"


def make_inputs(n: int, folder: Path, *, parquet: bool) -> dict[str, Path]:
    """A JSONL of ``n`` documents built by cycling realmix.parquet (unique ids), and the same rows as Parquet."""
    import duckdb

    src = REALMIX / "realmix.parquet"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = '1GB'")
    con.execute(f"SET temp_directory = '{folder}'")
    reps = n // con.execute("SELECT count(*) FROM read_parquet(?)", [str(src)]).fetchone()[0] + 1
    rows = (
        f"SELECT r.id || '-' || g.i AS id, source, text, lang, toxicity, sentiment, url, title, boilerplate "
        f"FROM read_parquet('{src}') r, range({reps}) g(i) ORDER BY g.i, r.id LIMIT {n}"
    )
    out = {"jsonl": folder / f"realmix_{n}.jsonl"}
    con.execute(f"COPY ({rows}) TO '{out['jsonl']}' (FORMAT json)")
    if parquet:
        out["parquet"] = folder / f"realmix_{n}.parquet"
        con.execute(f"COPY (SELECT * FROM read_json_auto('{out['jsonl']}')) TO '{out['parquet']}' (FORMAT parquet)")
    return out


def make(n: int, folder: Path, *, parquet: bool) -> dict[str, str]:
    """:func:`make_inputs` in a child process (its memory must not count in the measured children's peak)."""
    cmd = [sys.executable, __file__, "--child", "make", f"{n}:{'parquet' if parquet else 'jsonl'}", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise SystemExit(f"making the inputs failed:\n{proc.stderr.decode()[-2000:]}")
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


def run_big(n: int, given: str | None = None) -> dict:
    """Ingest one ``n``-line JSONL once (made here and deleted after, or ``given``, one that
    :func:`make_inputs` made before); record wall, CPU and peak RSS in bench/out/ingest_big.json."""
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-big-", dir=os.environ.get("TMPDIR", "/tmp")))
    try:
        path = Path(given) if given else Path(make(n, folder, parquet=False)["jsonl"])
        size = path.stat().st_size
        load0 = os.getloadavg()[0]
        r = measure("winnow", str(path))
        assert r["docs"] == n, r
        res = {"docs": n, "bytes": size, **r, "load": [load0, os.getloadavg()[0]], "date": time.strftime("%Y-%m-%d")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    BIG_JSON.write_text(json.dumps(res, indent=1))
    return res


def run_shards(
    n: int, given: str | None, repeats: int, *, parquet: bool = False, files: int = 8, gz: bool = False
) -> dict:
    """``winnow ingest`` of JSONL shards (``n`` realmix documents cycled into 8 files by bench_scale, or the files of
    ``given``, a glob) against DuckDB's ``CREATE TABLE AS SELECT * FROM read_json_auto(GLOB)``, alternating,
    ``repeats`` times; medians into bench/out/ingest_shards.json and the README section ``ingest_shards``.
    ``parquet``: ``files`` Parquet shards against ``read_parquet(GLOB)`` (bench/out/ingest_parquet_shards.json);
    ``gz``: gzipped JSONL shards (bench/out/ingest_gz_shards.json): DuckDB decompresses each file once, Winnow
    twice (DuckDB's read, and the line count that checks it, with ISA-L)."""
    import glob as globmod

    from bench_scale import make_shards

    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-shards-", dir=os.environ.get("TMPDIR", "/tmp")))
    try:
        pattern = given or make_shards(folder / "shards", n, parquet=parquet, files=files, gz=gz)
        files = sorted(globmod.glob(pattern))
        size = sum(Path(f).stat().st_size for f in files)
        load0 = os.getloadavg()[0]
        runs: dict[str, list[dict]] = {"winnow": [], "duckdb_store": []}
        for _ in range(repeats):
            for k in runs:  # alternating, so that both see the same load
                r = measure(k, pattern)
                runs[k].append(r)
                print(f"  {k}: {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU, {r['docs']:,} docs", file=sys.stderr)
        docs = {r["docs"] for v in runs.values() for r in v}
        assert len(docs) == 1, docs
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("seconds", "cpu")} for k, v in runs.items()}
    rss = {k: max(r["rss_mib"] for r in v) for k, v in runs.items()}
    res = {"docs": docs.pop(), "files": len(files), "bytes": size, "median": med, "rss_mib": rss, "runs": runs,
           "load": [load0, os.getloadavg()[0]], "date": time.strftime("%Y-%m-%d"), "repeats": repeats,
           "parquet": parquet, "gz": gz}  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / "ingest_parquet_shards.json" if parquet else OUT / "ingest_gz_shards.json" if gz else SHARDS_JSON
    out.write_text(json.dumps(res, indent=1))
    return res


def shards_section(r: dict) -> str:
    """The README text of :func:`run_shards`'s result."""
    from _readme import machine, md_table

    ref = r["median"]["duckdb_store"]
    rows = []
    for k, m in r["median"].items():
        rows.append([KINDS[k], f"{m['seconds']:.1f}", f"{m['cpu']:.1f}", f"{r['docs'] / m['seconds']:,.0f}",
                     f"{ref['seconds'] / m['seconds']:.2f}x", f"{ref['cpu'] / m['cpu']:.2f}x",
                     f"{r['rss_mib'][k]:,.0f}"])  # fmt: skip
    heads = ["tool", "wall s", "CPU s", "docs/s (wall)", "vs DuckDB, wall", "vs DuckDB, CPU", "peak RSS MiB"]
    if r.get("parquet"):
        groups = -(-r["docs"] // r["files"] // 122_880)
        return (
            f"Ingest of Parquet shards: {r['docs']:,} realmix documents cycled into {r['files']} Parquet files as "
            f"DuckDB writes them ({r['bytes'] / 1e9:.2f} GB; id, source, text; {groups} row group(s) each) on "
            f"{machine()}, each run a fresh subprocess, median of {r['repeats']}, Winnow and DuckDB alternating (`python "
            f"bench/bench_ingest.py --shards {r['docs']} --parquet --shard-files {r['files']}`, {r['date']}, load "
            f"average {r['load'][0]:.1f} at the start and {r['load'][1]:.1f} at the end). *vs DuckDB*: DuckDB's "
            "`CREATE TABLE AS SELECT * FROM read_parquet('shards/*.parquet')` divided by Winnow's.\n\n"
            + md_table(heads, rows)
        )
    if r.get("gz"):
        return (
            f"Ingest of gzipped JSONL shards: {r['docs']:,} realmix documents cycled into {r['files']} `.jsonl.gz` "
            f"files ({r['bytes'] / 1e9:.2f} GB compressed; id, source, text) on {machine()}, each run a fresh "
            f"subprocess, median of {r['repeats']}, Winnow and DuckDB alternating (`python bench/bench_ingest.py "
            f"--shards {r['docs']} --gz`, {r['date']}, load average {r['load'][0]:.1f} at the start and "
            f"{r['load'][1]:.1f} at the end). *vs DuckDB*: DuckDB's `CREATE TABLE AS SELECT * FROM "
            "read_json_auto('shards/*.jsonl.gz')` divided by Winnow's. DuckDB decompresses each file once; Winnow "
            "twice: DuckDB's read, and the line count that checks it (decompressed by ISA-L, `isal`).\n\n"
            + md_table(heads, rows)
        )
    return (
        f"Ingest of raw JSONL shards, the input of issue 18's 10M run: {r['docs']:,} realmix documents cycled into "
        f"{r['files']} JSON lines files ({r['bytes'] / 1e9:.1f} GB; id, source, text) on {machine()}, each run a fresh "
        f"subprocess, median of {r['repeats']}, Winnow and DuckDB alternating (`python bench/bench_ingest.py --shards "
        f"{r['docs']}`, {r['date']}, load average {r['load'][0]:.1f} at the start and {r['load'][1]:.1f} at the end). "
        "*vs DuckDB*: DuckDB's `CREATE TABLE AS SELECT * FROM read_json_auto('shards/*.jsonl')` divided by "
        "Winnow's, as above.\n\n" + md_table(heads, rows)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k documents, 1 repeat")
    ap.add_argument("--sizes", default=None, help="comma-separated document counts (default 324000,1000000)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 3; --quick 1)")
    ap.add_argument("--extra", action="store_true", help="also --full-schema, DuckDB read-only and `datasets`")
    ap.add_argument("--big", type=int, metavar="N", help="only: ingest one N-line JSONL, record its peak RSS")
    ap.add_argument("--big-input", metavar="PATH", help="with --big: an N-line realmix JSONL made before (kept)")
    ap.add_argument("--profile", metavar="FILE", help="only: one ingest of FILE, CPU and wall per SQL statement")
    ap.add_argument("--shards", type=int, metavar="N", help="only: N documents in 8 JSONL shards, Winnow vs DuckDB")
    ap.add_argument("--shards-glob", metavar="GLOB", help="with --shards: those files instead (made before, kept)")
    ap.add_argument(
        "--parquet", action="store_true", help="with --shards: Parquet shards (README: ingest_parquet_shards)"
    )
    ap.add_argument("--shard-files", type=int, default=8, metavar="K", help="with --shards: K files (default 8)")
    ap.add_argument("--gz", action="store_true", help="with --shards: gzipped JSONL shards (README: ingest_gz_shards)")
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
    if args.profile:
        r = measure("profile", str(Path(args.profile).resolve()))
        print(
            "CPU s: " + ", ".join(f"{k} {v:.2f}" for k, v in r["cpu"].items()) + f"; peak RSS {r['rss_mib']:,.0f} MiB"
        )
        for st in r["statements"]:
            print(f"{st['cpu']:7.3f} CPU s {st['wall']:7.3f} s  {st['sql']}")
        return
    if args.shards:
        r = run_shards(
            args.shards, args.shards_glob, args.repeats or 3, parquet=args.parquet, files=args.shard_files, gz=args.gz
        )
        from _readme import write_section

        body = shards_section(r)
        print(body)
        if not args.no_readme:
            write_section(
                "ingest_parquet_shards" if args.parquet else "ingest_gz_shards" if args.gz else "ingest_shards", body
            )
        return
    if args.big:
        r = run_big(args.big, args.big_input)
        print(f"{args.big:,} lines: {r['seconds']:.0f} s wall, {r['cpu']:.0f} s CPU, peak RSS {r['rss_mib']:,.0f} MiB")
        return
    sizes = (
        [int(s) for s in args.sizes.split(",")] if args.sizes else ([100_000] if args.quick else [324_000, 1_000_000])
    )
    repeats = args.repeats or (1 if args.quick else 3)
    t_all = time.perf_counter()
    load0 = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-in-", dir=os.environ.get("TMPDIR", "/tmp")))
    rows = []
    try:
        for n in sizes:
            inputs = {k: Path(v) for k, v in make(n, folder, parquet=True).items()}
            for fmt, path in inputs.items():
                kinds = ["winnow", "duckdb_store"]
                if args.extra and fmt == "jsonl" and n == max(sizes):
                    kinds += ["winnow_full", "duckdb_read", "datasets"]
                runs: dict[str, list[dict]] = {k: [] for k in kinds}
                for _ in range(repeats):
                    for k in kinds:  # alternating, so that both see the same load
                        r = measure(k, str(path))
                        assert r["docs"] == n, (k, r)
                        runs[k].append(r)
                ref = {m: statistics.median(r[m] for r in runs["duckdb_store"]) for m in ("seconds", "cpu")}
                for k in kinds:
                    wall = statistics.median(r["seconds"] for r in runs[k])
                    cpu = statistics.median(r["cpu"] for r in runs[k])
                    rss = max(r["rss_mib"] for r in runs[k])
                    size = path.stat().st_size
                    rows.append([f"{n:,} {fmt} ({size / 1e6:,.0f} MB)", KINDS[k], f"{wall:.1f}", f"{cpu:.1f}"])
                    rows[-1] += [f"{n / wall:,.0f}", f"{ref['seconds'] / wall:.2f}x", f"{ref['cpu'] / cpu:.2f}x"]
                    rows[-1] += [f"{rss:,.0f}"]
                    print(" | ".join(rows[-1]), file=sys.stderr)
                path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raw = measure("raw_formats", "-")["formats"]
    loads = (load0, os.getloadavg()[0])

    from _readme import machine, md_table, write_section

    heads = ["input", "tool", "wall s", "CPU s", "docs/s (wall)", "vs DuckDB, wall", "vs DuckDB, CPU", "peak RSS MiB"]
    table = md_table(heads, rows)
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
    cmd = (
        "python bench/bench_ingest.py"
        + (" --quick" if args.quick else "")
        + (f" --sizes {args.sizes}" if args.sizes else "")
    )
    body = (
        f"Ingest, measured by `{cmd}` ({machine()}; each row a fresh subprocess, imports and opening/closing the "
        f"database included; median of {repeats}, Winnow and DuckDB alternating; inputs made by cycling "
        "realmix.parquet). *vs DuckDB* is DuckDB's time for `CREATE TABLE AS SELECT * FROM read_json_auto(...)` "
        "(or `read_parquet`) on the same file divided by Winnow's: above 1 is faster than DuckDB's own "
        "read-and-store. Winnow does more: it numbers every line, makes an id and the md5 `text_hash` of every "
        "document, counts each skipped row by reason, checks ids for duplicates and swaps the source in atomically. "
        f"The 1-minute load average was {loads[0]:.1f} at the start and {loads[1]:.1f} at the end on "
        f"{os.cpu_count()} cores{_load_note(loads)}.\n\n{table}\n\n"
    )
    if BIG_JSON.exists():
        b = json.loads(BIG_JSON.read_text())
        body += (
            f"One {b['docs']:,}-line JSONL file ({b['bytes'] / 1e9:.1f} GB; `python bench/bench_ingest.py --big "
            f"{b['docs']}`, {b['date']}, load average {b['load'][0]:.1f}-{b['load'][1]:.1f}): ingested in "
            f"{b['seconds']:.0f} s wall / {b['cpu']:.0f} s CPU with a peak RSS of {b['rss_mib']:,.0f} MiB; the file "
            "is streamed by DuckDB, never held in memory. Every ingest runs under the DuckDB memory limit "
            "`WINNOW_INGEST_MEMORY` (default 1GB; DuckDB spills to the workspace's temp directory beyond it), so "
            "peak RSS is about that limit plus the interpreter, whatever the size of the file.\n\n"
        )
    body += (
        "Where Winnow's extra time goes (the work DuckDB's `CREATE TABLE AS` does not do), on the 1M-line file "
        "(`python bench/bench_ingest.py --profile FILE` times every statement; 2026-12-01, a quiet machine, load "
        "0.4-1.4): the stage `INSERT` 2.45 s wall / 3.79 s CPU on two DuckDB threads (read, store, `text_hash`, skip "
        "reasons), then numbering the rows by their position with the generated ids 0.38 / 0.70, the duplicate-id "
        "check (`GROUP BY hash(id)`) 0.07 / 0.13, the workspace's `sum(length(text))` for the sources table 0.07 / "
        "0.14, the schema sample 0.06, imports 0.09 and opening the workspace 0.15 s of CPU; the line count (numpy "
        "over memory maps) runs in a thread during the `INSERT`. DuckDB's md5 of the file's 232 MB of text alone is "
        "0.74 s of CPU (one thread; sha1 1.06; its 64-bit `hash` under 0.1, too short for a content key): `text_hash` and the "
        "generated ids are md5s because caches, signal tables and labels key on them across runs, so they stay. "
        "Until 2026-12-01 the JSON `INSERT` numbered lines with `row_number() OVER ()`, which makes DuckDB run the "
        "whole statement on one thread whatever its setting (4.0-4.5 s of wall at 1M on this machine, quiet); now "
        "it inserts on every thread keeping the file's order (DuckDB's documented order preservation: a scan of "
        "one file, `SELECT`, `INSERT`) and numbers the rows afterwards from their position in the table, checked "
        "to be one run as long as the line count (`app/ingest/fast.py` `number_by_rowid`; the same ids, line "
        "numbers and `text_hash` as before on the 1M file, with and without an id field): the 1M-line ingest took "
        "3.2-3.7 s of wall against 4.2-4.9 in process, and as a fresh process (five runs alternating with the old "
        "code) a median of 3.7 against 5.4 s of wall, 5.7 against 5.6 s of CPU. "
        "Only a file that starts a source's stage is inserted so: a shard appended to an earlier one's stage keeps "
        "`row_number()` on one thread (appended on two threads, 3 shards of 1.25M lines took 8-11 s of wall "
        "against 12.5, but 10-12% more CPU, a workspace file 35% larger: DuckDB's parallel insert writes row groups "
        "that it merges and writes again, and 1.2-1.5 s of wall per shard to update generated ids in place), and "
        "shards are instead inserted side by side, one thread each (`app/ingest/shards.py`, the "
        "`bench:ingest_shards` table). "
        "For Parquet each stage `INSERT` runs on one DuckDB "
        "thread: with two, DuckDB's order-preserving parallel insert of a Parquet read writes every row group, "
        "then merges and writes them all again at the checkpoint (the workspace file twice the size: 601 MB "
        "against 322 MB for 1M realmix rows, and about 2.7 CPU s more), which DuckDB's own `CREATE TABLE AS "
        "SELECT * FROM read_parquet(...)` above still pays. Since 2026-12-02 a file of 245,760 rows or more (in two row groups or more: no more pieces than it has) is "
        "read in pieces side by side instead (`app/ingest/pieces.py`: whole multiples of DuckDB's 122,880-row "
        "groups by `file_row_number`, which DuckDB prunes row groups by, one transaction and thread each, "
        "committed in order): on the 1M-row file, five runs alternating with the one-thread way, 2.32 against "
        "3.34 s of wall and 3.48 against 3.40 CPU-s, the same 9 row groups and 308 MB workspace file (cut at the "
        "input's own row groups instead, every piece ended in a partial row group: 387 MB, 0.8 CPU-s more). "
        "Parquet by reference (the text left in the user's file, "
        "read back by row number) is not implemented; measured on the 1M-row Parquet file by `bench/bench_ingest_byref.py` (one DuckDB "
        "thread for the store, three runs of each, load 11-12): storing ids, `text_hash`, row numbers and metadata without "
        "the text took 4.6-4.7 CPU s and 38 MB against 5.6-6.1 CPU s and 294 MB with it, but reading every text back "
        "(what each scorer does) took 0.9 CPU s through the file against 0.3 from the workspace, so the saving is "
        "gone after two full reads; and when the files move, the texts are gone with them (a changed file would "
        "silently shift rows unless its size and footer were checked on every read).\n\n"
    )
    body += (
        f"{raw_table}\n\nThe realmix rows run in one process after a warm-up ingest of each format; every `read` "
        "equals `ingested + skipped` (the one skipped row is the empty review at `ChnSentiCorp_htl_all.csv:6376`)."
    )
    print(table)
    print(raw_table)
    print(f"(benchmark took {time.perf_counter() - t_all:.0f} s)", file=sys.stderr)
    if not args.no_readme:
        write_section("ingest", body)


if __name__ == "__main__":
    main()
