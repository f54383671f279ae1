"""The recipe frame at page open: numpy over a plain scan (``app/recipes/frame_fast.py``) against DuckDB's windows.

The Thresholds page's first summary builds the recipe frame (:meth:`app.recipes.cache.RecipeCache.frame`): the
columns the recipe reads, the id rank of every document and codes of its exact and near cluster keys, clusters
side by side. This times that build both ways on one workspace, alternating, each with a fresh cache, in CPU
seconds of the process (DuckDB's threads included) and wall seconds, and checks the two frames agree (the same
rows, ranks and columns, the same clusters). The reference is the same frame built by DuckDB's
``row_number()``/``dense_rank()`` windows and ``ORDER BY``, as every build was before.

    python bench/bench_frame.py                          # a synthetic workspace of 1,000,000 documents
    python bench/bench_frame.py --docs 10000000 --reps 3
    python bench/bench_frame.py --workspace WS --recipe r.yaml   # an existing workspace (e.g. bench_scale's)

Synthetic documents: 7 sources, 3 languages, a score; exact clusters of 2-4 copies for 10% of the documents and
near clusters of 3 for 60% (the rest their own), ids inserted in random order, as a crawl's are.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

OUT = ROOT / "bench" / "out" / "frame.json"
HEADERS = [
    "docs",
    "workspace",
    "frame, SQL CPU s",
    "frame, numpy CPU s",
    "edge sort, SQL CPU s",
    "edge sort, numpy CPU s",
    "less CPU",
    "SQL wall s",
    "numpy wall s",
    "same",
    "load",
]
RECIPE = "version: 1\nrules: [{signal: score, min: 0.2}]\ndedup: {exact: true, near: true}\n"


def synthetic(path: Path, n: int) -> None:
    """A workspace of ``n`` short documents and a hand-made signals part (built in DuckDB, never in Python)."""
    from app.workspace import Workspace

    ws = Workspace.open(path, create=True)
    try:
        rand = "hash(i * 2654435761 + 17)"
        ws.con.execute(
            f"CREATE TABLE _bench_src AS SELECT 'doc-' || substr(md5(i::VARCHAR), 1, 16) AS id, "
            f"'text ' || i::VARCHAR AS text, i FROM range({n}) t(i) ORDER BY {rand}"
        )
        ws.write_source("synthetic", ws.con.sql("SELECT id, text FROM _bench_src").to_arrow_table())
        with ws.transaction() as cur:
            cur.execute(
                "CREATE OR REPLACE TABLE sig_frame AS SELECT id, "
                "['s0','s1','s2','s3','s4','s5','s6'][1 + i % 7] AS source_name, "
                "['en','de','zh'][1 + i % 3] AS lang_code, (i % 997)::BIGINT AS size_tokens, "
                "((i * 7919) % 1000) / 1000.0 AS score, "
                "CASE WHEN i % 10 = 0 THEN 'doc-' || substr(md5((i - i % 40)::VARCHAR), 1, 16) ELSE id END "
                "AS dup_exact_cluster, "
                "CASE WHEN i % 10 < 6 THEN 'doc-' || substr(md5((i - i % 3)::VARCHAR), 1, 16) ELSE id END "
                "AS dup_near_cluster FROM _bench_src"
            )
            cur.execute("DROP TABLE _bench_src")
            ws.register_part("sig_frame", kind="signal", con=cur)
    finally:
        ws.close()


def one(ws_path: Path, recipe_text: str, *, fast: bool) -> dict[str, Any]:
    """One page open's two sorts, each cache emptied first: the recipe frame, then the edge index of the
    recipe's first signal (the first edge request), by numpy (``fast``) or by DuckDB (windows, ``ORDER BY``).
    CPU and wall seconds of each, and what they built."""
    from app.recipes import edge_index, frame_fast, load_recipe
    from app.recipes.cache import CACHE
    from app.workspace import Workspace

    ws = Workspace.open(ws_path, read_only=True)
    real = frame_fast.is_table, edge_index._by_value_then_id
    try:
        if not fast:
            frame_fast.is_table = lambda con, name: False
            edge_index._by_value_then_id = lambda *a: None
        CACHE.clear()
        edge_index._sorted.clear()
        recipe = load_recipe(recipe_text)
        signal = recipe.signals_used()[0]
        rel = "corpus_fast"
        sql_type = dict(ws.con.execute(f"SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = '{rel}'").fetchall())[signal]  # fmt: skip
        c, w = time.process_time(), time.perf_counter()
        table = CACHE.frame(ws.con, recipe)[1]
        c2, w2 = time.process_time(), time.perf_counter()
        index = edge_index.sorted_index(ws.con, rel, signal, sql_type)
        c3, w3 = time.process_time(), time.perf_counter()
        return {"frame": (c2 - c, w2 - w), "edge": (c3 - c2, w3 - w2), "table": table, "index": index}
    finally:
        frame_fast.is_table, edge_index._by_value_then_id = real
        CACHE.clear()
        ws.close()


def agree(a: Any, b: Any) -> bool:
    """The same rows by id rank, the same plain columns, the same clusters (codes may be numbered apart)."""
    import pyarrow.compute as pc

    from app.recipes.sqlparts import EXACT_KEY, ID_RANK, NEAR_KEY

    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    a = a.take(pc.sort_indices(a, [(ID_RANK, "ascending")]))
    b = b.take(pc.sort_indices(b, [(ID_RANK, "ascending")]))
    for c in a.column_names:
        if c in (EXACT_KEY, NEAR_KEY):
            x, y = a.column(c).combine_chunks(), b.column(c).combine_chunks()
            if not pc.equal(pc.is_null(x), pc.is_null(y)).to_numpy(zero_copy_only=False).all():
                return False
            pairs = pc.count_distinct(pc.add(pc.multiply(pc.fill_null(x, 0), a.num_rows + 1), pc.fill_null(y, 0)))
            if not (pairs.as_py() == pc.count_distinct(x).as_py() == pc.count_distinct(y).as_py()):
                return False
        elif not a.column(c).equals(b.column(c)):
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--workspace", type=Path, help="an existing workspace instead of a synthetic one")
    ap.add_argument("--recipe", type=Path, help="recipe file (default: a score rule with exact and near dedup)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--label", help="the workspace's name in the table (default: its directory's name)")
    ap.add_argument("--readme-only", action="store_true")
    args = ap.parse_args()
    done: list[dict[str, Any]] = json.loads(OUT.read_text()) if OUT.exists() else []
    if not args.readme_only:
        import os

        recipe = args.recipe.read_text() if args.recipe else RECIPE
        with tempfile.TemporaryDirectory(prefix="winnow-frame-") as tmp:
            ws = args.workspace
            if ws is None:
                ws = Path(tmp) / "ws"
                print(f"building a synthetic workspace of {args.docs:,} documents ...", flush=True)
                synthetic(ws, args.docs)
            runs: dict[str, dict[str, list]] = {"numpy": {"frame": [], "edge": []}, "sql": {"frame": [], "edge": []}}
            same = True
            load = [os.getloadavg()[0]]
            one(ws, recipe, fast=True)  # warm-up: imports and the first read of the file are not timed
            for r in range(args.reps):
                got = {}
                for name in ("numpy", "sql") if r % 2 == 0 else ("sql", "numpy"):
                    got[name] = one(ws, recipe, fast=name == "numpy")
                    for part in ("frame", "edge"):
                        runs[name][part].append(got[name][part])
                    print(f"  rep {r + 1} {name}: frame {got[name]['frame'][0]:.2f} CPU-s {got[name]['frame'][1]:.2f} s, "
                          f"edge sort {got[name]['edge'][0]:.2f} CPU-s {got[name]['edge'][1]:.2f} s", flush=True)  # fmt: skip
                a, b = got["numpy"]["index"], got["sql"]["index"]
                same = same and agree(got["numpy"]["table"], got["sql"]["table"])
                same = (
                    same
                    and a is not None
                    and b is not None
                    and all(
                        (x is None and y is None) or (x is not None and y is not None and (x == y).all())
                        for x, y in zip(a, b, strict=True)
                    )
                )
                n = got["sql"]["table"].num_rows
                del got, a, b
            load.append(os.getloadavg()[0])
        what = args.label or (args.workspace.name if args.workspace else "synthetic")
        row = {"what": what, "docs": n, "same": same, "load": load, "runs": runs}
        done = [d for d in done if (d["what"], d["docs"]) != (what, n)] + [row]
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(done, indent=1))
    rows = []
    for d in done:
        med = {k: {p: (statistics.median(c for c, _ in v[p]), statistics.median(w for _, w in v[p])) for p in v}
               for k, v in d["runs"].items()}  # fmt: skip
        sql, fast = med["sql"], med["numpy"]
        total = [sum(x[p][i] for p in ("frame", "edge")) for x in (sql, fast) for i in (0, 1)]
        rows.append([f"{d['docs']:,}", d["what"], f"{sql['frame'][0]:.1f}", f"{fast['frame'][0]:.1f}",
                     f"{sql['edge'][0]:.1f}", f"{fast['edge'][0]:.1f}", f"{total[0] / total[2]:.2f}x",
                     f"{total[1]:.1f}", f"{total[3]:.1f}", "yes" if d["same"] else "NO",
                     f"{min(d['load']):.1f}-{max(d['load']):.1f}"])  # fmt: skip
    body = (
        f"The two sorts of opening the Thresholds page, on {machine()}, median of "
        f"{len(done[0]['runs']['sql']['frame']) if done else 0} alternating runs, each with empty caches "
        "(`python bench/bench_frame.py`): the recipe frame of its first summary and the edge index of its first "
        "edge request, by DuckDB (`row_number()`/`dense_rank()` windows and `ORDER BY`; `ORDER BY col, id`: "
        "before) and by a plain scan and numpy sharing one id order (`app/recipes/frame_fast.py`, "
        "`app/recipes/edge_index.py`). CPU: the process's, DuckDB's threads included. *same*: the same rows, "
        "columns and clusters, the same sorted values and rowids. The synthetic workspace is the one "
        "`--docs N` builds (ids in random order, mostly distinct cluster keys, as a crawl's are; the edge column "
        "`score` has 1,000 distinct values, so its sort breaks many ties by id); the numpy path runs mostly on "
        "one core, so on a loaded machine its wall time gains less than its CPU.\n\n" + md_table(HEADERS, rows)
    )
    write_section("frame", body)
    print(body)


if __name__ == "__main__":
    main()
