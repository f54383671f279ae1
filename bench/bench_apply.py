"""Apply/export throughput and recipe-summary latency, side by side with the references.

On realmix (53,941 documents): the same metadata recipe (language, toxicity label, sentiment) run as
(1) ``winnow apply`` from a workspace to Parquet and to JSONL.gz, (2) ``winnow apply`` headless over the
raw Parquet (one streaming pass, and forced to two), (3) a DataTrove pipeline ``ParquetReader -> LambdaFilter x3 ->
JsonlWriter`` on the same file, (4) DuckDB's raw ``COPY (SELECT ... WHERE ...) TO`` as the physical floor. Every row
must keep the same number of documents (checked). Then ``summarize()`` latency (what the dashboard
calls on every threshold change) at 1M documents: realmix replicated, with SQL-computed signals.

    python bench/bench_apply.py [--docs 1000000] [--full] [--no-readme]

``--full`` also times the workspace export at the 1M-document scale.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _readme import machine, md_table, write_section

from app.export import apply
from app.export.headless import apply_headless
from app.recipes import summarize
from app.workspace import Workspace, source_table

REALMIX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "realmix" / "realmix.parquet"
LANGS = ["en", "zh", "de"]
RECIPE = f"""version: 1
name: bench
rules:
  - {{signal: lang, in: [{", ".join(LANGS)}]}}
  - {{signal: toxicity, not_in: [hate, offensive], keep_null: true}}
  - {{signal: sentiment, min: 0.2, keep_null: true}}
"""
WHERE = (
    "lang IN ('en', 'zh', 'de') AND coalesce(toxicity NOT IN ('hate', 'offensive'), true)"
    " AND coalesce(sentiment >= 0.2, true)"
)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def row(label: str, seconds: float, n_in: int, mb_in: float, kept: int, out: Path | None) -> list:
    return [
        label,
        f"{seconds:.2f}",
        f"{n_in / seconds:,.0f}",
        f"{mb_in / seconds:,.1f}",
        f"{kept:,}",
        f"{du(out) / 1e6:.1f}" if out else "–",
    ]


def datatrove_run(src: Path, out: Path, logs: Path) -> int:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.filters import LambdaFilter
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    langs = set(LANGS)

    def sentiment_ok(d):
        s = d.metadata.get("sentiment")
        return s is None or s >= 0.2

    pipe = [
        ParquetReader(str(src.parent), glob_pattern=src.name, id_key="id"),
        LambdaFilter(lambda d: d.metadata.get("lang") in langs),
        LambdaFilter(lambda d: d.metadata.get("toxicity") not in ("hate", "offensive")),
        LambdaFilter(sentiment_ok),
        JsonlWriter(str(out), output_filename="${rank}.jsonl.gz", compression="gzip"),
    ]
    LocalPipelineExecutor(pipeline=pipe, tasks=1, workers=1, logging_dir=str(logs)).run()
    import gzip

    return sum(1 for f in out.glob("*.jsonl.gz") for _ in gzip.open(f, "rt"))


def realmix_rows(tmp: Path) -> tuple[list, dict]:
    import duckdb

    from app.ingest import ingest

    raw = tmp / "raw"
    raw.mkdir()
    src = raw / "realmix.parquet"
    shutil.copy(REALMIX, src)
    con = duckdb.connect()
    n, text_bytes = con.execute(f"SELECT count(*), sum(strlen(text)) FROM read_parquet('{src}')").fetchall()[0]
    mb = text_bytes / 1e6
    rows = []
    with Workspace.open(tmp / "ws", create=True) as ws:
        ingest(ws, [str(src)], source="realmix", id_field="id")
        kept_expected = ws.con.execute(f"SELECT count(*) FROM corpus WHERE {WHERE}").fetchall()[0][0]
        (tmp / "floor_ws").mkdir()
        t = time.perf_counter()
        ws.con.execute(
            f"COPY (SELECT * EXCLUDE (text_hash) FROM docs WHERE {WHERE} ORDER BY id)"
            f" TO '{tmp / 'floor_ws' / 'out.jsonl.gz'}' (FORMAT json, COMPRESSION gzip)"
        )
        floor_ws = row(
            "DuckDB raw COPY from the workspace's docs table -> jsonl.gz, floor",
            time.perf_counter() - t,
            n,
            mb,
            kept_expected,
            tmp / "floor_ws",
        )
        for fmt in ("parquet", "jsonl.gz"):
            t = time.perf_counter()
            m = apply(ws, RECIPE, tmp / f"ws_{fmt}", fmt=fmt)
            dt = time.perf_counter() - t
            assert m["counts"]["kept_docs"] == kept_expected
            rows.append(
                row(f"winnow apply (workspace -> {fmt})", dt, n, mb, m["counts"]["kept_docs"], tmp / f"ws_{fmt}")
            )
    for single in (True, False):
        t = time.perf_counter()
        m = apply_headless(
            RECIPE, [str(src)], tmp / f"hl{single}", fmt="jsonl.gz", source="realmix", id_field="id", single_pass=single
        )
        dt = time.perf_counter() - t
        assert m["counts"]["kept_docs"] == kept_expected, (m["counts"]["kept_docs"], kept_expected)
        label = (
            f"winnow apply headless (raw Parquet -> jsonl.gz, {m['source']['passes']} pass{'es' if not single else ''})"
        )
        rows.append(row(label, dt, n, mb, m["counts"]["kept_docs"], tmp / f"hl{single}"))
    t = time.perf_counter()
    kept = datatrove_run(src, tmp / "dt", tmp / "dt_logs")
    dt = time.perf_counter() - t
    rows.append(row("DataTrove ParquetReader -> 3 LambdaFilter -> JsonlWriter (gzip)", dt, n, mb, kept, tmp / "dt"))
    assert kept == kept_expected, (kept, kept_expected)
    rows.append(floor_ws)
    (tmp / "floor").mkdir()
    t = time.perf_counter()
    con.execute(
        f"COPY (SELECT * FROM read_parquet('{src}') WHERE {WHERE} ORDER BY id)"
        f" TO '{tmp / 'floor' / 'out.jsonl.gz'}' (FORMAT json, COMPRESSION gzip)"
    )
    dt = time.perf_counter() - t
    rows.append(
        row("DuckDB raw COPY (read_parquet -> WHERE -> jsonl.gz), floor", dt, n, mb, kept_expected, tmp / "floor")
    )
    return rows, {"docs": n, "mb": mb}


def big_workspace(path: Path, n_target: int) -> Workspace:
    """realmix replicated to ``n_target`` documents, with signals computed in SQL (a ``sig_bench`` part)."""
    ws = Workspace.open(path, create=True)
    c = ws.con
    base = c.execute(f"SELECT count(*) FROM read_parquet('{REALMIX}')").fetchall()[0][0]
    reps = -(-n_target // base)
    table = source_table("big")
    c.execute(
        f"CREATE TABLE {table} AS SELECT id || '-' || r AS id, 'big' AS source, text, md5(text) AS text_hash,"
        f" source AS origin, lang, sentiment, toxicity FROM read_parquet('{REALMIX}'), range({reps}) t(r)"
        f" LIMIT {n_target}"
    )
    c.execute("INSERT INTO sources VALUES ('big', ?, ?, 0, '{}', now())", [table, n_target])
    with ws.deferred_views():
        c.execute(
            f"CREATE TABLE sig_bench AS SELECT id, length(text) AS size_chars,"
            " len(string_split(text, ' ')) AS size_words, (length(text) / 4)::BIGINT AS size_tokens,"
            " coalesce(lang, 'und') AS lang_code, (hash(id) % 10000) / 10000.0 AS quality_score,"
            f" md5(lower(text)) AS dup_exact_cluster FROM {table}"
        )
        ws.register_part("sig_bench", kind="signal")
    return ws


def summarize_rows(ws: Workspace, repeats: int) -> list:
    def recipe(i: int) -> str:
        return (
            f"version: 1\nrules:\n  - {{signal: size_words, min: {5 + i}}}\n"
            f"  - {{signal: quality_score, min_quantile: {0.05 + 0.01 * i:.2f}}}\n"
            "  - {signal: lang_code, in: [en, zh]}\n  - {signal: sentiment, max: 0.9, keep_null: true}\n"
        )

    out = []
    for label, extra in (
        ("4 rules", ""),
        ("4 rules + exact dedup", "dedup: {exact: true}\n"),
        (
            "4 rules + dedup + MetaCLIP balance + sample",
            "dedup: {exact: true}\nbalance: [{column: origin, cap: 50000}]\nsample: {n: 100000}\n",
        ),
    ):
        t = time.perf_counter()
        summarize(ws.con, recipe(0) + extra)
        first = (time.perf_counter() - t) * 1000
        xs = []
        for i in range(repeats):
            t = time.perf_counter()
            summarize(ws.con, recipe(i + 1) + extra)
            xs.append((time.perf_counter() - t) * 1000)
        xs.sort()
        p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
        out.append([label, f"{first:,.0f}", f"{statistics.median(xs):,.0f}", f"{p95:,.0f}"])
    from app.recipes import load_recipe
    from app.recipes.cache import CACHE

    fr, _tab, _key = CACHE.frame(ws.con, load_recipe(recipe(0)))
    q = (
        f"SELECT source, lang_code, size_words >= 8, quality_score >= 0.3, lang_code IN ('en', 'zh'),"
        f" coalesce(sentiment <= 0.9, true), count(*), sum(size_tokens) FROM {fr} GROUP BY ALL"
    )
    xs = []
    for _ in range(repeats):
        t = time.perf_counter()
        ws.con.execute(q).fetchall()
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    bare = [
        "reference: the bare DuckDB GROUP BY over the same frame",
        "–",
        f"{statistics.median(xs):,.0f}",
        f"{xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]:,.0f}",
    ]
    return [*out, bare]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--full", action="store_true", help="also export the 1M-document workspace")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    if not REALMIX.exists():
        sys.exit(f"realmix is absent ({REALMIX})")
    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-apply-"))
    try:
        rows, info = realmix_rows(tmp)
        headers = ["pipeline", "seconds", "docs/s", "text MB/s", "kept", "output MB"]
        print(md_table(headers, rows))
        ws = big_workspace(tmp / "big", args.docs)
        srows = summarize_rows(ws, args.repeats)
        sh = ["recipe", "first call ms (builds the column frame)", "median ms", "p95 ms"]
        print(md_table(sh, srows))
        full = ""
        if args.full:
            t = time.perf_counter()
            m = apply(ws, RECIPE, tmp / "big_out", fmt="parquet")
            dt = time.perf_counter() - t
            full = (
                f"\n\nAt {args.docs:,} documents, `winnow apply` to Parquet kept {m['counts']['kept_docs']:,} in"
                f" {dt:.1f} s ({args.docs / dt:,.0f} docs/s)."
            )
            rss = []
            for k in (
                (1, 20) if Path("/usr/bin/time").exists() else ()
            ):  # headless peak memory: realmix once vs replicated 20x (1.08M documents)
                src = tmp / f"rep{k}.parquet"
                ws.con.execute(
                    f"COPY (SELECT id || '-' || r AS id, text, lang, toxicity, sentiment FROM read_parquet('{REALMIX}'),"
                    f" range({k}) t(r)) TO '{src}' (FORMAT parquet)"
                )
                rec = tmp / "r.yaml"
                rec.write_text(RECIPE)
                # /usr/bin/time measures the child alone (a forked child's max RSS would include this process's)
                t = time.perf_counter()
                cmd = [sys.executable, "-m", "app.cli", "apply", "-r", str(rec), "-i", str(src), "--id-field", "id"]
                proc = subprocess.run(
                    ["/usr/bin/time", "-f", "%M", *cmd, "-o", str(tmp / f"hl{k}"), "-f", "jsonl.gz"],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=Path(__file__).resolve().parents[1],
                )
                rss.append(
                    (k * info["docs"], time.perf_counter() - t, int(proc.stderr.strip().splitlines()[-1]) / 1024)
                )
            full += (
                " `winnow apply --input` peak memory (max RSS of the process, /usr/bin/time): "
                + "; ".join(f"{n:,} documents {sec:.1f} s, {mb:,.0f} MB" for n, sec, mb in rss)
                + "."
            )
            print(full)
        ws.close()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        body = (
            f"**Apply / export** on realmix ({info['docs']:,} documents, {info['mb']:.1f} MB of text, read from its Parquet"
            f" file; {machine()}):"
            " the same 3-rule recipe (language in en/zh/de, toxicity label not hate/offensive, sentiment >= 0.2, missing"
            " labels pass); every row keeps the"
            " same documents (checked). Workspace rows include compiling, counting and the manifest.\n\n"
            + md_table(headers, rows)
            + f"\n\n**`summarize()` latency** (the Thresholds page's call) at {args.docs:,} documents (realmix"
            f" replicated, signals computed in SQL), {args.repeats} threshold changes each:\n\n"
            + md_table(sh, srows)
            + full
            + "\n\n`python bench/bench_apply.py"
            + (" --full" if args.full else "")
            + f"` (load average {load} on the shared machine during the run)"
            + "\n\nA `winnow report` on realmix scored with `gopher_quality` and `dedup_exact`"
            " (`docs/recipes-report.png`):\n\n![winnow report](docs/recipes-report.png)"
        )
        if not args.no_readme:
            write_section("apply", body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
