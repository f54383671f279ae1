"""Benchmark and equality check: every document-level signal family on realmix, the way the engine calls them.

Issue 18 (per-document scoring cost). The engine's worker (``engine._doc_worker``) hands every document family
the same 2,000-text batch, so the tokenisation memo of ``app/signals/_text.py`` is shared; this script does the
same, in one process, and reports documents per CPU-second (``time.process_time``: robust on a shared machine).

    python bench/bench_signals_speed.py speed [--n 20000]           # docs/CPU-s of the whole set, one process
    python bench/bench_signals_speed.py speed --per-family          # CPU-s per family (each on its own memo)
    python bench/bench_signals_speed.py profile [--n 20000]         # cProfile of the shared run, top functions
    python bench/bench_signals_speed.py dump OUT.parquet            # every column of all of realmix
    python bench/bench_signals_speed.py compare A.parquet B.parquet # column-by-column equality of two dumps
    python bench/bench_signals_speed.py golden OUT.json [--every 200] # expected columns of a realmix sample
    python bench/bench_signals_speed.py compare-ws WS_A WS_B        # every sig_* table of two scored workspaces
    python bench/bench_signals_speed.py engine WS [--runs 3] [--thresholds 16MB,512MB] # the engine's own CPU

To check a change against an older commit, extract that commit's ``app`` into a directory and run ``dump`` with
``PYTHONPATH`` pointing there (``WINNOW_APP_ROOT=DIR``), then ``compare`` the two dumps: floats must be
bit-equal (NaN equal to NaN), every other value equal.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("WINNOW_APP_ROOT", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(os.environ.get("WINNOW_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
REALMIX = SHARED / "corpora" / "realmix" / "realmix.parquet"
FAMILIES = ("size", "c4", "compression", "fineweb", "gopher_quality", "gopher_repetition", "lang", "pii", "quality")
FAMILIES = (*FAMILIES, "unigram")
BATCH = 2000


def load_texts(n: int | None) -> list[str]:
    """The realmix texts in file order (the first ``n`` of a fixed shuffle when ``n`` is given)."""
    import pyarrow.parquet as pq

    texts = pq.read_table(REALMIX, columns=["text"]).column("text").to_pylist()
    texts = [t if isinstance(t, str) else "" for t in texts]
    if n:
        import random

        idx = list(range(len(texts)))
        random.Random(42).shuffle(idx)
        texts = [texts[i] for i in sorted(idx[:n])]
    return texts


def score_all(texts: list[str], families: tuple[str, ...] = FAMILIES, cpu: list[float] | None = None) -> dict:
    """Every family's columns for ``texts``, batch by batch through the engine's own worker function; the CPU
    seconds of the worker calls alone are added to ``cpu[0]`` (not the conversion to lists here)."""
    from app.signals import engine

    specs = [(f, {}) for f in families]
    cols: dict[str, list] = {}
    for i in range(0, len(texts), BATCH):
        batch = texts[i : i + BATCH]
        t0 = time.process_time()
        out = engine._doc_worker(specs, batch, [None] * len(specs))
        if cpu is not None:
            cpu[0] += time.process_time() - t0
            continue  # timing only: the results are dropped, as the engine sends them away
        for fam in families:
            tbl = out[fam]
            for name in tbl.column_names if hasattr(tbl, "column_names") else tbl:
                col = tbl.column(name).to_pylist() if hasattr(tbl, "column") else list(tbl[name])
                cols.setdefault(name, []).extend(col)
    return cols


def cmd_speed(args: argparse.Namespace) -> None:
    texts = load_texts(args.n)
    score_all(texts[:500])  # warm-up: imports, models, compiled regexes
    if args.per_family:
        from app.signals import _text

        for fam in FAMILIES:
            _text.reset_memo()
            cpu = [0.0]
            score_all(texts, (fam,), cpu)
            print(f"{fam:18s} {cpu[0]:6.2f} CPU-s")
        return
    acc = [0.0]
    score_all(texts, cpu=acc)
    cpu = acc[0]
    print(f"docs={len(texts)} cpu_s={cpu:.3f} docs_per_cpu_s={len(texts) / cpu:.0f} load={os.getloadavg()[0]:.2f}")


def cmd_profile(args: argparse.Namespace) -> None:
    import cProfile
    import pstats

    texts = load_texts(args.n)
    score_all(texts[:500])
    prof = cProfile.Profile()
    prof.enable()
    score_all(texts)
    prof.disable()
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


def cmd_dump(args: argparse.Namespace) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = load_texts(args.n)
    cols = score_all(texts)
    pq.write_table(pa.table(cols), args.out)
    print(f"wrote {len(texts)} rows x {len(cols)} columns to {args.out} (app from {ROOT})")


def golden_sample(every: int) -> tuple[list[str], list[str]]:
    """(ids, texts) of every ``every``-th realmix document in id order (the golden file's sample)."""
    import duckdb

    rows = duckdb.execute("SELECT id, text FROM read_parquet(?) ORDER BY id", [str(REALMIX)]).fetchall()
    rows = rows[::every]
    return [r[0] for r in rows], [r[1] if isinstance(r[1], str) else "" for r in rows]


def cmd_golden(args: argparse.Namespace) -> None:
    """Write the expected columns of a realmix sample (``tests/golden/realmix_doc_signals.json``)."""
    import json

    from app.signals import engine

    ids, texts = golden_sample(args.every)
    cols = engine.score_texts(texts, list(FAMILIES))
    Path(args.out).write_text(json.dumps({"every": args.every, "ids": ids, "columns": cols}, sort_keys=True) + "\n")
    print(f"wrote {len(ids)} documents x {len(cols)} columns to {args.out} (app from {ROOT})")


def cmd_compare(args: argparse.Namespace) -> int:
    import numpy as np
    import pyarrow.parquet as pq

    a, b = pq.read_table(args.a), pq.read_table(args.b)
    bad = 0
    if set(a.column_names) != set(b.column_names) or a.num_rows != b.num_rows:
        print(f"shape differs: {a.num_rows}x{sorted(a.column_names)} vs {b.num_rows}x{sorted(b.column_names)}")
        return 1
    for name in a.column_names:
        x, y = a.column(name), b.column(name)
        if x.type != y.type:
            print(f"{name}: type {x.type} vs {y.type}")
            bad += 1
            continue
        if x.type in ("double", "float"):
            xa = x.to_numpy(zero_copy_only=False).astype(np.float64)
            ya = y.to_numpy(zero_copy_only=False).astype(np.float64)
            same = (xa.view(np.int64) == ya.view(np.int64)) | (np.isnan(xa) & np.isnan(ya))
            same &= np.asarray(x.is_null()) == np.asarray(y.is_null())
            diff = int((~same).sum())
        else:
            xl, yl = x.to_pylist(), y.to_pylist()
            diff = sum(1 for p, q in zip(xl, yl) if p != q)
        if diff:
            bad += 1
            print(f"{name}: {diff} rows differ")
    print(f"{a.num_rows} rows, {len(a.column_names)} columns compared: {bad} columns differ")
    return 1 if bad else 0


def _float_same(x: Any, y: Any) -> Any:
    """Per row: both null, or both non-null with the same float64 bits (NaN equal to NaN)."""
    import numpy as np

    xa = x.to_numpy(zero_copy_only=False).astype(np.float64)
    ya = y.to_numpy(zero_copy_only=False).astype(np.float64)
    same = (xa.view(np.int64) == ya.view(np.int64)) | (np.isnan(xa) & np.isnan(ya))
    return same & (np.asarray(x.is_null()) == np.asarray(y.is_null()))


def cmd_compare_ws(args: argparse.Namespace) -> int:
    """Every ``sig_*`` table of two workspaces (e.g. scored by an older commit and by this tree), joined on ``id``:
    floats bit-equal (NaN equal to NaN, NULL to NULL), every other value equal, the same ids."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{Path(args.a) / 'winnow.duckdb'}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{Path(args.b) / 'winnow.duckdb'}' AS b (READ_ONLY)")
    tables = lambda db: {  # noqa: E731
        r[0] for r in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{db}'").fetchall()
    }
    sig_a = sorted(t for t in tables("a") if t.startswith("sig_"))
    sig_b = sorted(t for t in tables("b") if t.startswith("sig_"))
    if sig_a != sig_b or not sig_a:
        print(f"different or no signal tables: {sig_a} vs {sig_b}")
        return 1
    bad = rows = 0
    for t in sig_a:
        ta = con.sql(f'SELECT * FROM a."{t}" ORDER BY id').to_arrow_table()
        tb = con.sql(f'SELECT * FROM b."{t}" ORDER BY id').to_arrow_table()
        if ta.schema != tb.schema or ta.num_rows != tb.num_rows:
            print(f"{t}: shape differs: {ta.num_rows} rows {ta.schema} vs {tb.num_rows} rows {tb.schema}")
            bad += 1
            continue
        rows = ta.num_rows
        for name in ta.column_names:
            x, y = ta.column(name), tb.column(name)
            if str(x.type) in ("double", "float"):
                diff = int((~_float_same(x, y)).sum())
            else:
                diff = sum(1 for p, q in zip(x.to_pylist(), y.to_pylist()) if p != q)
            if diff:
                bad += 1
                print(f"{t}.{name}: {diff} rows differ")
    print(f"{len(sig_a)} tables of {rows} rows compared: {bad} columns differ")
    return 1 if bad else 0


def cmd_engine(args: argparse.Namespace) -> None:
    """CPU of ``engine.score --force -j 1`` of a workspace without the families' own work: every batch gets the
    results one real batch of its length got (computed once), so what is timed is reading the texts, staging
    the rows, the swap and the views. ``--thresholds``: the engine's checkpoint threshold for the run
    (:data:`app.signals._engine_store.WAL_CHECKPOINT`), the values alternating in this one process. Medians of
    ``--runs`` runs each, ``time.process_time`` (every thread), and this process's peak RSS after each."""
    import resource
    import statistics

    from app.signals import _engine_store, engine
    from app.workspace import Workspace

    real = engine._doc_worker
    seen: dict[int, Any] = {}

    def replay(specs: Any, texts: list[str], masks: Any) -> Any:
        if len(texts) not in seen:
            seen[len(texts)] = real(specs, texts, masks)
        return seen[len(texts)]

    engine._doc_worker = replay  # type: ignore[assignment]
    sizes = [x for x in (args.thresholds or _engine_store.WAL_CHECKPOINT).split(",") if x]
    cpu: dict[str, list[float]] = {s: [] for s in sizes}
    ws = Workspace.open(args.ws)
    try:
        n = engine.score(ws, signals=list(FAMILIES), workers=1, force=True)["documents"]  # fills the replay
        for _ in range(args.runs):
            for size in sizes:
                _engine_store.WAL_CHECKPOINT = size
                t0 = time.process_time()
                engine.score(ws, signals=list(FAMILIES), workers=1, force=True)
                cpu[size].append(time.process_time() - t0)
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
                print(f"threshold={size} cpu_s={cpu[size][-1]:.2f} peak_rss_mb={rss}", flush=True)
    finally:
        ws.close()
    for size, vals in cpu.items():
        med = statistics.median(vals)
        print(f"docs={n} threshold={size} engine_cpu_s={med:.2f} ms_per_doc={med / n * 1e3:.4f} runs={vals}")
    print(f"load={os.getloadavg()[0]:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--per-family", action="store_true")
    p = sub.add_parser("profile")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=40)
    p = sub.add_parser("dump")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=0)
    p = sub.add_parser("golden")
    p.add_argument("out")
    p.add_argument("--every", type=int, default=200)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("compare-ws")
    p.add_argument("a")
    p.add_argument("b")
    p = sub.add_parser("engine")
    p.add_argument("ws")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--thresholds", default="")
    args = ap.parse_args()
    if args.cmd == "compare":
        return cmd_compare(args)
    if args.cmd == "compare-ws":
        return cmd_compare_ws(args)
    cmds = {"speed": cmd_speed, "profile": cmd_profile, "dump": cmd_dump, "golden": cmd_golden, "engine": cmd_engine}
    cmds[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
