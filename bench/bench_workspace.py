"""Why ``corpus_fast`` exists: a threshold-style aggregate over N documents with 8 signal tables, through
(a) a view that left-joins every part on the text id (the obvious design), (b) the ``corpus`` view
(``corpus_fast`` + one join for the text), (c) ``corpus_fast`` directly. Also the cost of a rebuild.

    python bench/bench_workspace.py [--docs 1000000] [--repeats 7] [--no-readme]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _readme import machine, md_table, write_section

from app.workspace import Workspace

QUERY = (
    "SELECT source, lang_code, f0_a > 0.2 AS r0, f1_b < 90 AS r1, f3_c >= 2 AS r2, f5_a < 0.95 AS r3,"
    " count(*), sum(size_tokens) FROM {rel} GROUP BY ALL"
)


def timed(fn, repeats: int) -> float:
    xs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    return statistics.median(xs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-readme", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="winnow-bench-ws-"))
    try:
        ws = Workspace.open(tmp / "ws", create=True)
        c = ws.con
        n = args.docs
        c.execute(
            "CREATE TABLE docs__big AS SELECT 'd' || lpad(i::VARCHAR, 9, '0') AS id,"
            " (['web', 'wiki', 'social', 'zh'])[1 + i % 4] AS source, repeat('word ', 20 + i % 50) AS text,"
            f" md5(i::VARCHAR) AS text_hash FROM range({n}) t(i)"
        )
        c.execute("INSERT INTO sources VALUES ('big', 'docs__big', ?, 0, '{}', now())", [n])
        with ws.deferred_views():
            for f in range(7):
                c.execute(
                    f"CREATE TABLE sig_f{f} AS SELECT id, random() AS f{f}_a, random() * 100 AS f{f}_b,"
                    f" (random() * 10)::INT AS f{f}_c FROM docs__big ORDER BY random()"
                )
                ws.register_part(f"sig_f{f}", kind="signal")
            c.execute(
                "CREATE TABLE sig_lang AS SELECT id, (['en', 'de', 'zh'])[1 + (i % 3)] AS lang_code,"
                " (i % 300)::INT AS size_tokens FROM (SELECT id, row_number() OVER () AS i FROM docs__big)"
            )
            ws.register_part("sig_lang", kind="signal")
            t = time.perf_counter()
        rebuild_ms = (time.perf_counter() - t) * 1000
        joins = " ".join(f"LEFT JOIN {p} ON {p}.id = d.id" for p, _ in ws.parts())
        c.execute(f"CREATE VIEW chain AS SELECT * FROM docs d {joins}")
        rows = []
        for label, rel in [
            ("view left-joining 8 parts on `id`", "chain"),
            ("`corpus` (corpus_fast + text join)", "corpus"),
            ("`corpus_fast`", "corpus_fast"),
        ]:
            ms = timed(lambda rel=rel: c.execute(QUERY.format(rel=rel)).fetchall(), args.repeats)
            rows.append([label, f"{ms:,.0f}"])
        base = float(rows[0][1].replace(",", ""))
        for r in rows:
            r.append(f"{base / float(r[1].replace(',', '')):.1f}x")
        ws.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = md_table(["relation", "median ms", "speed-up vs join chain"], rows)
    body = (
        f"**Workspace: threshold aggregate** ({n:,} documents, 8 signal tables, 4 rules grouped by source and "
        f"language; {machine()}; median of {args.repeats}). Rebuilding `corpus_fast` after the last part: "
        f"{rebuild_ms:,.0f} ms.\n\n{table}\n\n`python bench/bench_workspace.py --docs {n}`"
    )
    print(body)
    if not args.no_readme:
        write_section("workspace", body)


if __name__ == "__main__":
    main()
