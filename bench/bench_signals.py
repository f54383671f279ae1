"""Benchmark: Winnow's signal families vs DataTrove 0.10.1 and datasketch, side by side in one run.

On the same realmix documents (single process each):
1. Gopher quality / Gopher repetition / C4 / FineWeb: our families vs DataTrove's four filters: docs/s,
   MB/s, speed-up, and keep/drop parity with DataTrove's default thresholds.
2. MinHash signatures (word 5-gram shingles, 128 permutations): ours vs datasketch ``MinHash.bulk`` on the
   same shingles.
3. docs/s and MB/s of every family (document families via ``score_batch``, duplicate families via the engine).
4. Every document family together in the engine (``engine.score``, 1 worker, DuckDB reads and writes included),
   this tree and the tree of ``--baseline REV`` (before the speed work of issue 15), each in a fresh process
   warmed up on other documents: docs/s per core before and after.
5. Language identification accuracy on realmix's en/zh labels and speed: py3langid vs lingua.
6. Scaling of the engine (``engine.score``) from 100k to 1M documents (realmix replicated with new ids).

Medians of ``--repeat`` runs. ``--quick`` uses smaller sizes. Rewrites README's ``bench:signals`` section
(``bench/_readme.py``) unless ``--no-readme``.

    python bench/bench_signals.py            # full (about 6 minutes on 2 cores)
    python bench/bench_signals.py --quick    # a minute or two
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REALMIX = Path(os.environ.get("WINNOW_SHARED", ROOT.parent / "shared")) / "corpora" / "realmix" / "realmix.parquet"


def timed(fn, repeat: int) -> float:
    """Median CPU seconds of ``repeat`` calls (process time: docs/s per core, robust on a shared machine)."""
    out = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return statistics.median(out)


def load_texts(n: int | None, seed: int = 42) -> list[str]:
    import duckdb

    sample = f" USING SAMPLE {n} ROWS (reservoir, {seed})" if n else ""
    return [r[0] for r in duckdb.execute(f"SELECT text FROM read_parquet(?){sample}", [str(REALMIX)]).fetchall()]


def bench_heuristics(texts: list[str], repeat: int) -> tuple[list[dict], dict]:
    from datatrove.data import Document
    from datatrove.pipeline import filters

    from app.signals import _text, reference
    from app.signals.base import load_all

    reg = load_all()
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    rows, ours_cols = [], {}
    dt_total = ours_total = 0.0
    for fam, cls_name in reference.DATATROVE_FILTERS.items():
        f = getattr(filters, cls_name)()
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        decisions: list[bool] = []

        def run_dt(f=f, docs=docs, decisions=decisions):
            decisions.clear()
            decisions.extend(f.filter(d) is True for d in docs)

        run_dt()  # warm-up (loads spaCy)
        t_dt = timed(run_dt, 1)
        sc = reg[fam](segmentation="datatrove")  # the DataTrove-faithful mode

        def run_ours(sc=sc):
            _text.reset_memo()  # no shared tokenisation: each family pays for its own
            ours_cols.update(sc.score_batch(list(texts)))

        t_ours = timed(run_ours, repeat)
        agree = sum(
            reference.keep(fam, {c: v[i] for c, v in ours_cols.items()}) == decisions[i] for i in range(len(texts))
        )
        dt_total += t_dt
        ours_total += t_ours
        rows.append(
            {
                "family": fam,
                "reference": f"DataTrove {cls_name}",
                "ours_dps": len(texts) / t_ours,
                "ours_mbs": mb / t_ours,
                "ref_dps": len(texts) / t_dt,
                "ref_mbs": mb / t_dt,
                "speedup": t_dt / t_ours,
                "parity": agree / len(texts),
            }
        )
    fams = list(reference.DATATROVE_FILTERS)

    def run_all():
        _text.reset_memo()
        b = list(texts)
        for fam in fams:
            reg[fam](segmentation="datatrove").score_batch(b)

    t_all = timed(run_all, repeat)
    combined = {
        "ours_dps": len(texts) / t_all,
        "ours_mbs": mb / t_all,
        "ref_dps": len(texts) / dt_total,
        "ref_mbs": mb / dt_total,
        "speedup": dt_total / t_all,
    }
    return rows, combined


def bench_minhash(texts: list[str], repeat: int) -> dict:
    import numpy as np
    from datasketch import MinHash

    from app.signals.dedup_near import NUM_PERM, minhash, shingles, signatures

    sh, counts = shingles(texts)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    per_doc = [[int(x).to_bytes(8, "little") for x in sh[bounds[i] : bounds[i + 1]]] for i in range(len(texts))]
    per_doc_nonempty = [d for d in per_doc if d]

    def ours_from_shingles():
        return minhash(sh, counts)

    t_ours = timed(ours_from_shingles, repeat)
    t_ours_e2e = timed(lambda: signatures(texts), repeat)
    t_ds = timed(lambda: MinHash.bulk(per_doc_nonempty, num_perm=NUM_PERM), 1)
    n = len(texts)
    return {
        "docs": n,
        "shingles": len(sh),
        "ours_dps": n / t_ours,
        "ours_e2e_dps": n / t_ours_e2e,
        "ds_dps": n / t_ds,
        "speedup": t_ds / t_ours,
    }


def bench_other_families(texts: list[str], repeat: int) -> list[dict]:
    import pandas as pd

    from app.signals import _text, engine
    from app.signals.base import load_all
    from app.workspace import Workspace

    reg = load_all()
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    rows = []
    for fam in ("lang", "quality", "pii", "size"):
        sc = reg[fam]()
        sc.score_batch(texts[:5])

        def run(sc=sc):
            _text.reset_memo()
            sc.score_batch(list(texts))

        t = timed(run, repeat)
        rows.append({"family": fam, "dps": len(texts) / t, "mbs": mb / t, "how": "score_batch"})
    with tempfile.TemporaryDirectory() as d:
        ws = Workspace.open(Path(d) / "ws", create=True)
        ws.write_source("realmix", pd.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}))
        for fam in ("dedup_exact", "dedup_near"):
            t = timed(lambda fam=fam: engine.score(ws, signals=fam, force=True), 1)
            rows.append({"family": fam, "dps": len(texts) / t, "mbs": mb / t, "how": "engine, whole corpus"})
        ws.close()
    return rows


# Runs in a fresh process with ``sys.argv = [-, app tree, realmix, n, seed]``: every document family of that
# tree in the engine (1 worker), warmed up on 2,000 other documents (models loaded, caches filled), then timed
# once on the n sampled documents. Prints JSON.
_ENGINE_RUN = """
import json, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import duckdb, pandas as pd
from app.signals import engine
from app.workspace import Workspace
n, seed = int(sys.argv[3]), int(sys.argv[4])
rows = duckdb.execute(f"SELECT id, text FROM read_parquet(?) ORDER BY id", [sys.argv[2]]).fetchall()
pick = set(r[0] for r in duckdb.execute(
    f"SELECT id FROM read_parquet(?) USING SAMPLE {n} ROWS (reservoir, {seed})", [sys.argv[2]]).fetchall())
main = [r for r in rows if r[0] in pick]
warm = [r for r in rows if r[0] not in pick][:2000]
fams = [k for k, c in engine.families().items() if c.scope == "document"]
with tempfile.TemporaryDirectory() as d:
    for label, docs in (("warm", warm), ("main", main)):
        ws = Workspace.open(Path(d) / label, create=True)
        ws.write_source("realmix", pd.DataFrame({"id": [r[0] for r in docs], "text": [r[1] for r in docs]}))
        t0, c0 = time.perf_counter(), time.process_time()
        engine.score(ws, signals=fams, force=True)
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        ws.close()
print(json.dumps({"families": fams, "docs": len(main), "cpu": cpu, "wall": wall}))
"""


def bench_engine_all(n: int, baseline: str | None, repeat: int) -> list[dict]:
    """Every document family in the engine, this tree and ``baseline``'s (``git archive REV app``), alternating
    fresh processes ``repeat`` times; median CPU and wall seconds of each."""
    import tempfile as tf

    trees = [("this tree", str(ROOT))]
    tmp = tf.TemporaryDirectory()
    if baseline:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", baseline], capture_output=True, text=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", baseline, "app"], capture_output=True)
        if rev.returncode or archive.returncode:
            raise SystemExit(f"cannot read --baseline {baseline}: {(rev.stderr or archive.stderr.decode()).strip()}")
        subprocess.run(["tar", "-x", "-C", tmp.name], input=archive.stdout, check=True)
        trees.insert(0, (f"before ({rev.stdout.strip()})", tmp.name))
    runs: dict[str, list[dict]] = {label: [] for label, _ in trees}
    for _ in range(repeat):
        for label, root in trees:
            cmd = [sys.executable, "-c", _ENGINE_RUN, root, str(REALMIX), str(n), "11"]
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
            if res.returncode:
                raise SystemExit(f"engine run for {label} failed: {res.stderr.strip()[-500:]}")
            runs[label].append(json.loads(res.stdout.strip().splitlines()[-1]))
    tmp.cleanup()
    out = []
    for label, rs in runs.items():
        cpu = statistics.median(r["cpu"] for r in rs)
        wall = statistics.median(r["wall"] for r in rs)
        out.append({"tree": label, "docs": rs[0]["docs"], "families": rs[0]["families"], "cpu": cpu, "wall": wall})
    return out


def bench_lang(n: int) -> list[dict]:
    import duckdb

    from app.signals.lang import Lang

    rows_db = duckdb.execute(
        f"SELECT text, lang FROM read_parquet(?) WHERE lang IN ('en', 'zh') USING SAMPLE {n} ROWS (reservoir, 7)",
        [str(REALMIX)],
    ).fetchall()
    texts, gold = [r[0] for r in rows_db], [r[1] for r in rows_db]
    out = []
    for backend in ("py3langid", "lingua"):
        try:
            sc = Lang(backend=backend)
            sc.score_batch(["warm up"])
        except Exception as e:  # lingua may be absent
            out.append({"backend": backend, "error": str(e)})
            continue
        t0 = time.perf_counter()
        codes = sc.score_batch(texts)["lang_code"]
        t = time.perf_counter() - t0
        acc = {}
        for lang in ("en", "zh"):
            idx = [i for i, g in enumerate(gold) if g == lang]
            acc[lang] = (sum(codes[i] == lang for i in idx) / len(idx), len(idx))
        out.append({"backend": backend, "dps": len(texts) / t, "acc": acc})
    return out


def bench_scaling(sizes: list[int], families: str) -> list[dict]:
    import duckdb

    from app.signals import engine
    from app.workspace import Workspace

    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            ws = Workspace.open(Path(d) / "ws", create=True)
            reps = -(-n // 53941)
            tbl = duckdb.sql(
                "SELECT id || '~' || k AS id, text FROM read_parquet($p), range($r) r(k) ORDER BY k, id LIMIT $n",
                params={"p": str(REALMIX), "r": reps, "n": n},
            ).to_arrow_table()
            ws.write_source("realmix", tbl)
            t0, c0 = time.perf_counter(), time.process_time()
            engine.score(ws, signals=families)
            t, cpu = time.perf_counter() - t0, time.process_time() - c0
            mb = ws.con.execute("SELECT sum(strlen(text)) FROM docs").fetchone()[0] / 1e6
            out.append({"docs": n, "seconds": t, "cpu": cpu, "dps": n / t, "mbs": mb / t})
            ws.close()
    return out


def render(args, heur, combined, mh, other, eng, lang, scaling, n_docs) -> str:
    cpu = platform.processor() or platform.machine()
    flags = (" --quick" if args.quick else "") + (f" --baseline {args.baseline}" if args.baseline else "")
    flags += f" --scale {args.scale}" if args.scale else ""
    lines = [
        f"Signals (`python bench/bench_signals.py{flags}`; {os.cpu_count()} cores {cpu}, "
        f"one process each, CPU time so docs/s are per core on a shared machine, median of {args.repeat}; DataTrove 0.10.1 "
        f"with its default English spaCy tokenizer, timed once; our four families in their DataTrove-faithful mode, "
        f"`segmentation: datatrove`). Same {n_docs:,} realmix documents for every row.",
        "",
        "| family | ours docs/s | ours MB/s | reference | ref docs/s | ref MB/s | speed-up | keep/drop parity |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in heur:
        lines.append(
            f"| {r['family']} | {r['ours_dps']:,.0f} | {r['ours_mbs']:.2f} | {r['reference']} | {r['ref_dps']:,.0f} | "
            f"{r['ref_mbs']:.2f} | {r['speedup']:.1f}x | {r['parity']:.2%} |"
        )
    c = combined
    lines.append(
        f"| all four together (shared tokenisation) | {c['ours_dps']:,.0f} | {c['ours_mbs']:.2f} | DataTrove's 4 filters in sequence | "
        f"{c['ref_dps']:,.0f} | {c['ref_mbs']:.2f} | {c['speedup']:.1f}x | |"
    )
    lines += [
        "",
        f"MinHash signatures, 128 permutations, word 5-gram shingles ({mh['docs']:,} docs, {mh['shingles']:,} shingles): "
        f"ours {mh['ours_dps']:,.0f} docs/s from shingles ({mh['ours_e2e_dps']:,.0f} docs/s including shingling) vs "
        f"datasketch `MinHash.bulk` {mh['ds_dps']:,.0f} docs/s on the same shingles: **{mh['speedup']:.1f}x**.",
        "",
        "| other family | docs/s | MB/s | measured as |",
        "|---|---:|---:|---|",
    ]
    for r in other:
        lines.append(f"| {r['family']} | {r['dps']:,.0f} | {r['mbs']:.2f} | {r['how']} |")
    if eng:
        fams = ", ".join(eng[-1]["families"])
        lines += [
            "",
            f"All {len(eng[-1]['families'])} document families together in the engine ({fams}; `engine.score`, 1 worker, "
            f"DuckDB reads and writes included), {eng[-1]['docs']:,} realmix documents, each tree in a fresh process "
            f"warmed up on 2,000 other documents, median of {args.repeat} alternating runs:",
            "",
            "| code | docs/s per core (CPU) | wall docs/s | CPU s | speed-up per core |",
            "|---|---:|---:|---:|---:|",
        ]
        base = eng[0]["cpu"]
        for r in eng:
            lines.append(
                f"| {r['tree']} | {r['docs'] / r['cpu']:,.0f} | {r['docs'] / r['wall']:,.0f} | {r['cpu']:.2f} | "
                f"{base / r['cpu']:.2f}x |"
            )
    lines += ["", "| language backend | docs/s | accuracy en | accuracy zh |", "|---|---:|---:|---:|"]
    for r in lang:
        if "error" in r:
            lines.append(f"| {r['backend']} | not installed | | |")
        else:
            a = r["acc"]
            lines.append(
                f"| {r['backend']} | {r['dps']:,.0f} | {a['en'][0]:.2%} (n={a['en'][1]:,}) | {a['zh'][0]:.2%} (n={a['zh'][1]:,}) |"
            )
    lines += [
        "",
        f"Scaling, engine end to end (`engine.score`, signals `{args.scale_signals}`, 1 worker, wall clock on the shared "
        "machine; realmix replicated with new ids, so every text has exact copies):",
        "",
        "| documents | wall s | CPU s | docs/s (wall) | MB/s (wall) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in scaling:
        lines.append(f"| {r['docs']:,} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['dps']:,.0f} | {r['mbs']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    ap.add_argument("--docs", type=int, help="realmix documents for the side-by-side rows")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", default=None, help="comma-separated document counts for the scaling rows")
    ap.add_argument("--scale-signals", default="dedup_exact,dedup_near")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--baseline", help="git revision to time the engine row against (e.g. the one before a change)")
    ap.add_argument(
        "--engine-docs", type=int, help="realmix documents for the engine rows (default 8,000; quick 2,000)"
    )
    args = ap.parse_args()
    if not REALMIX.exists():
        print(f"realmix not found at {REALMIX}", file=sys.stderr)
        return 1
    n_docs = args.docs or (2000 if args.quick else 8000)
    sizes = [int(x) for x in (args.scale or ("20000,100000" if args.quick else "100000,1000000")).split(",")]
    texts = load_texts(n_docs)
    t0 = time.perf_counter()
    heur, combined = bench_heuristics(texts, args.repeat)
    print(f"[heuristics done {time.perf_counter() - t0:.0f}s]", file=sys.stderr)
    mh = bench_minhash(texts, args.repeat)
    other = bench_other_families(texts, args.repeat)
    eng = bench_engine_all(args.engine_docs or (2000 if args.quick else 8000), args.baseline, args.repeat)
    print(f"[engine done {time.perf_counter() - t0:.0f}s]", file=sys.stderr)
    lang = bench_lang(2000 if args.quick else 6000)
    print(f"[families done {time.perf_counter() - t0:.0f}s]", file=sys.stderr)
    scaling = bench_scaling(sizes, args.scale_signals)
    section = render(args, heur, combined, mh, other, eng, lang, scaling, len(texts))
    print(section)
    print(f"[total {time.perf_counter() - t0:.0f}s]", file=sys.stderr)
    if not args.no_readme:
        from bench._readme import write_section

        write_section("signals", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
