"""Full-text search: tantivy index build time and query latency against the ILIKE scan it replaces.

Two corpora, one run each (each under ~3 minutes on 2 shared cores), results kept in ``bench/out/`` and the
README section rewritten from whatever results exist:

    python bench/bench_search.py realmix   # realmix.parquet (53,941 docs) in a fresh temporary workspace
    python bench/bench_search.py 1m        # data/bench_ui/ws_1000000 (read-only; index built in bench/out/fts_1m)
    python bench/bench_search.py readme    # only rewrite the README section

Per query (20 queries: words, phrases, negation, OR/AND, a field, CJK), measured in one process on one cursor:

- ``index``: ``app.search.search_at`` (parse, BM25 top 200, total count, stored id/source/preview of the 200);
- ``index + page``: that plus ``queries.ranked_docs`` (the Documents page's signal columns for the 200 ids);
- ``ILIKE page``: ``app.search.substring_search`` (the page's exact-substring mode: ``text ILIKE '%s%'`` LIMIT 200 joined to
  the same columns; it stops early when 200 documents match);
- ``ILIKE count``: ``SELECT count(*) ... ILIKE`` (every match counted, what the index reports as its total).

The substring scanned by ILIKE is the query's main word (``hotel -room`` scans ``hotel``): the two modes do not
answer the same question for Latin text (words vs substrings), so the match counts are shown side by side;
for CJK queries they must agree (the index's per-character field), and the table says whether they did.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

REALMIX = ROOT.parent / "shared" / "corpora" / "realmix" / "realmix.parquet"
WS_1M = ROOT / "data" / "bench_ui" / "ws_1000000"
OUT = ROOT / "bench" / "out"
COLUMNS = ["quality_score", "size_words", "lang_code"]

#: (index query, ILIKE substring, CJK: the two must match the same documents)
QUERIES = [
    ("hotel", "hotel", False),
    ("the", "the", False),
    ("government", "government", False),
    ("recipe", "recipe", False),
    ("music", "music", False),
    ("photosynthesis", "photosynthesis", False),
    ("Valkyria", "Valkyria", False),
    ('"united states"', "united states", False),
    ('"new york"', "new york", False),
    ('"i love"', "i love", False),
    ("hotel -room", "hotel", False),
    ("war OR battle", "war", False),
    ("python AND code", "python", False),
    ("source:wiki album", "album", False),
    ("love you", "love", False),
    ("酒店", "酒店", True),
    ("不错", "不错", True),
    ("服务态度", "服务态度", True),
    ("房间 -干净", "房间", False),
    ("早餐", "早餐", True),
]


def pct(xs: list[float], p: float) -> float:
    import math

    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))]


def load() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def realmix_workspace(path: Path) -> int:
    """realmix.parquet as a workspace with its seven sources and SQL size/quality columns (like the dashboard's)."""
    from app.sql import qi
    from app.workspace import Workspace, source_table

    ws = Workspace.open(path, create=True)
    try:
        c = ws.con
        sources = [r[0] for r in c.execute("SELECT DISTINCT source FROM read_parquet(?)", [str(REALMIX)]).fetchall()]
        with ws.deferred_views(), ws.transaction() as cur:
            for s in sources:
                cur.execute(
                    f"CREATE TABLE {qi(source_table(s))} AS SELECT id, source, text, md5(text) AS text_hash, lang"
                    " FROM read_parquet(?) WHERE source = ?",
                    [str(REALMIX), s],
                )
                ws.register_source(s, con=cur, spec={"kind": "bench"})
            ws.rebuild_views(con=cur, force=True)
            cur.execute(
                "CREATE TABLE sig_bench AS SELECT id, length(string_split_regex(trim(text), '\\s+')) AS size_words,"
                " coalesce(lang, 'und') AS lang_code, (hash(id) % 1000) / 1000.0 AS quality_score FROM docs"
            )
            ws.register_part("sig_bench", kind="signal", con=cur)
        return int(ws.con.execute("SELECT count(*) FROM docs").fetchone()[0])
    finally:
        ws.close()


def measure(con, index: Path, *, ilike: bool = True) -> list[dict]:
    from app.search import ranked_docs, search_at, substring_search

    rows = []
    search_at(index, "warm up", limit=200)
    substring_search(con, "warm", columns=COLUMNS, limit=200)
    for q, sub, cjk in QUERIES:
        t_ix, t_page = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            found = search_at(index, q, limit=200)
            t1 = time.perf_counter()
            ranked_docs(con, found["rows"], columns=COLUMNS)
            t2 = time.perf_counter()
            t_ix.append((t1 - t0) * 1000)
            t_page.append((t2 - t0) * 1000)
        row = {
            "query": q,
            "substring": sub,
            "cjk": cjk,
            "index_ms": statistics.median(t_ix),
            "index_page_ms": statistics.median(t_page),
            "index_total": found["total"],
        }
        if ilike:
            t0 = time.perf_counter()
            substring_search(con, sub, columns=COLUMNS, limit=200)
            t1 = time.perf_counter()
            like = "%" + sub.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            n = con.execute("SELECT count(*) FROM docs WHERE text ILIKE ? ESCAPE '\\'", [like]).fetchone()[0]
            t2 = time.perf_counter()
            row.update(ilike_page_ms=(t1 - t0) * 1000, ilike_count_ms=(t2 - t1) * 1000, ilike_total=int(n))
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    return rows


def run(name: str, ws_path: Path, index: Path, *, ilike: bool = True) -> dict:
    import duckdb

    from app.search import write_index

    con = duckdb.connect(str(ws_path / "winnow.duckdb"), read_only=True)
    try:
        load0 = load()
        info = write_index(con.cursor(), index)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"index built: {info['documents']:,} documents in {info['seconds']:.1f} s, peak RSS {rss:.0f} MiB",
            flush=True,
        )
        rows = measure(con.cursor(), index, ilike=ilike)
    finally:
        con.close()
    return {
        "name": name,
        "documents": info["documents"],
        "characters": info["characters"],
        "build_s": info["seconds"],
        "index_mb": info["bytes"] / 1e6,
        "build_rss_mib": rss,
        "queries": rows,
        "machine": machine(),
        "load": f"{load0} at the start, {load()} at the end",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def summary_table(results: list[dict]) -> str:
    head = [
        "corpus",
        "documents",
        "index build s",
        "peak RSS MiB",
        "index MB",
        "measure",
        "median ms",
        "p95 ms",
        "speed-up vs ILIKE page (median)",
    ]
    rows = []
    for r in results:
        q = r["queries"]
        measures = [("index (top 200 + total count)", "index_ms"), ("index + page columns", "index_page_ms")]
        if "ilike_page_ms" in q[0]:
            measures += [("ILIKE page (LIMIT 200)", "ilike_page_ms"), ("ILIKE count (every match)", "ilike_count_ms")]
        base = statistics.median(x.get("ilike_page_ms", float("nan")) for x in q)
        for label, key in measures:
            xs = [x[key] for x in q]
            med = statistics.median(xs)
            rows.append(
                [
                    r["name"],
                    f"{r['documents']:,}",
                    f"{r['build_s']:.1f}",
                    f"{r['build_rss_mib']:.0f}" if "build_rss_mib" in r else "",
                    f"{r['index_mb']:.0f}",
                    label,
                    f"{med:,.1f}",
                    f"{pct(xs, 95):,.1f}",
                    f"{base / med:,.1f}x" if base == base else "",
                ]
            )
    return md_table(head, rows)


def query_table(r: dict) -> str:
    head = ["query", "index ms", "index + page ms", "ILIKE scans", "ILIKE page ms", "index matches", "ILIKE matches"]
    rows = []
    for x in r["queries"]:
        same = ""
        if x["cjk"] and "ilike_total" in x:
            same = " (same)" if x["index_total"] == x["ilike_total"] else " (DIFFERENT)"
        rows.append(
            [
                f"`{x['query']}`",
                f"{x['index_ms']:.1f}",
                f"{x['index_page_ms']:.1f}",
                f"`{x['substring']}`",
                f"{x.get('ilike_page_ms', float('nan')):,.0f}",
                f"{x['index_total']:,}",
                f"{x.get('ilike_total', 0):,}{same}",
            ]
        )
    return md_table(head, rows)


def readme() -> None:
    results = [json.loads(p.read_text()) for n in ("realmix", "1m") if (p := OUT / f"search_{n}.json").exists()]
    if not results:
        print("no results in bench/out/search_*.json")
        return
    parts = [
        "**Full-text search** (`winnow index`, the Documents page): a tantivy BM25 index (`app/search`) against the "
        "`ILIKE '%…%'` scan it replaces, over 20 queries (words, phrases, negation, OR/AND, `source:`, CJK). "
        "Latency per query is the median of 3 runs in one process; the table gives the median and p95 over the "
        "20 queries. The ILIKE rows scan each query's main word as a substring, so their match counts differ for "
        "Latin text (substring vs whole word); for the CJK queries the index must match the same documents. "
        "On the page most of the time goes to reading the shown signal columns of the 200 hits from "
        "`corpus_fast` (`queries.ranked_docs`, a scan of the id column), not to the search. Peak RSS is the "
        "benchmark process's after the build (DuckDB reading the documents included; tantivy's writer heap is 256 MB).",
        "",
        summary_table(results),
        "",
    ]
    for r in results:
        parts.append(f"{r['name']}: {r['machine']}; load average {r['load']}; {r['when']}.")
        parts.append("")
    last = results[-1]
    parts += [
        f"<details><summary>Per query, {last['name']}</summary>",
        "",
        query_table(last),
        "",
        "</details>",
        "",
        "`python bench/bench_search.py realmix`, `python bench/bench_search.py 1m` (each writes "
        "`bench/out/search_*.json` and this section)",
    ]
    write_section("search", "\n".join(parts))
    print("README section 'search' written")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["realmix", "1m", "readme"])
    ap.add_argument("--no-ilike", action="store_true", help="skip the ILIKE scans (index only)")
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.what == "realmix":
        if not REALMIX.exists():
            print(f"{REALMIX} is absent")
            return 1
        tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-search-"))
        try:
            realmix_workspace(tmp / "ws")
            res = run("realmix", tmp / "ws", tmp / "ws" / "fts", ilike=not args.no_ilike)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif args.what == "1m":
        if not (WS_1M / "winnow.duckdb").exists():
            print(f"{WS_1M} is absent (python bench/bench_ui.py builds it)")
            return 1
        try:
            res = run("1M (bench_ui)", WS_1M, OUT / "fts_1m", ilike=not args.no_ilike)
        finally:
            shutil.rmtree(OUT / "fts_1m", ignore_errors=True)
    if args.what != "readme":
        name = "realmix" if args.what == "realmix" else "1m"
        (OUT / f"search_{name}.json").write_text(json.dumps(res, ensure_ascii=False, indent=1))
    if not args.no_readme:
        readme()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
