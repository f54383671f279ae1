"""``corpus_fast`` after one part changes: the full rebuild (before) vs the in-place update (after).

A synthetic workspace of ``--docs`` documents (default 1,000,000; 40-character texts, one metadata column) with
``--parts`` signal parts of 8 columns each (6: about what ``winnow score`` with the default families writes).
Timed, each ``--reps`` times (median): the full rebuild (:meth:`Workspace.rebuild_views` without ``changed``,
what every ``register_part`` did before), re-registering one rewritten part (its 8 columns updated in place),
and registering a new part (its columns added). After each update the table is checked against a full rebuild
(same columns and a row digest). ``python bench/bench_corpus_fast.py`` writes ``bench/out/corpus_fast.json``
and the README section ``corpus_fast``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _readme import machine, md_table, write_section  # noqa: E402

from app.workspace import Workspace  # noqa: E402


def _part(ws: Workspace, name: str, seed: int) -> None:
    cols = ", ".join(f"(hash(id || '{seed}_{k}') % 100000) / 1000.0 AS {name}_c{k}" for k in range(8))
    ws.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT id, {cols} FROM docs ORDER BY hash(id || '{seed}')")


def _digest(ws: Workspace) -> tuple:
    cols = list(ws.columns("corpus_fast"))
    row = ws.con.execute(
        "SELECT count(*), bit_xor(hash(" + ", ".join(f'"{c}"' for c in cols) + ")) FROM corpus_fast"
    ).fetchall()[0]
    return cols, row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--parts", type=int, default=6)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README from bench/out/corpus_fast.json")
    a = ap.parse_args()
    if a.readme_only:
        write_readme(json.loads((ROOT / "bench" / "out" / "corpus_fast.json").read_text()))
        return
    import os

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="winnow-cf-") as tmp, Workspace.open(Path(tmp) / "ws", create=True) as ws:
        ws.con.execute(
            f"CREATE TABLE docs__bench AS SELECT 'd' || lpad(i::VARCHAR, 9, '0') AS id, 'web' AS source,"
            f" repeat(chr(97 + (i % 26)::INTEGER), 40) AS text, md5(i::VARCHAR) AS text_hash, i % 7 AS lang_id"
            f" FROM range({a.docs}) t(i)"
        )
        ws.con.execute("INSERT INTO sources VALUES ('bench', 'docs__bench', ?, ?, '{}', now()::TIMESTAMP)",
                       [a.docs, a.docs * 40])  # fmt: skip
        ws.rebuild_views()
        with ws.deferred_views():
            for p in range(a.parts):
                _part(ws, f"sig{p}", p)
                ws.register_part(f"sig{p}", kind="signal", order=100 + p)
        full, upd, new = [], [], []
        for r in range(a.reps):
            t = time.perf_counter()
            ws.rebuild_views()
            full.append(time.perf_counter() - t)
            expect = _digest(ws)
            _part(ws, "sig2", 100 + r)
            t = time.perf_counter()
            ws.register_part("sig2", kind="signal", order=102)
            upd.append(time.perf_counter() - t)
            got = _digest(ws)
            ws.rebuild_views()
            assert got == _digest(ws) and got[0] == expect[0], "in-place update differs from the full rebuild"
            _part(ws, "signew", 200 + r)
            t = time.perf_counter()
            ws.register_part("signew", kind="signal", order=900)
            new.append(time.perf_counter() - t)
            got = _digest(ws)
            ws.rebuild_views()
            assert got == _digest(ws), "in-place added part differs from the full rebuild"
            ws.unregister_part("signew")
    res = {
        "docs": a.docs,
        "parts": a.parts,
        "columns": 8 * a.parts,
        "reps": a.reps,
        "full_rebuild_s": round(statistics.median(full), 2),
        "one_part_changed_s": round(statistics.median(upd), 2),
        "new_part_s": round(statistics.median(new), 2),
        "machine": machine(),
        "load": [round(load0, 1), round(os.getloadavg()[0], 1)],
    }
    print(json.dumps(res))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "corpus_fast.json").write_text(json.dumps(res, indent=1))
    if not a.no_readme:
        write_readme(res)


def write_readme(res: dict) -> None:
    load = res.get("load") or res.get("load_observed")
    body = (
        f"`corpus_fast` after one part changes, {res['docs']:,} synthetic documents, {res['parts']} parts of 8 "
        f"columns (median of {res['reps']}; every update checked equal to a full rebuild; {res['machine']}; the "
        f"1-minute load average was {load[0]} to {load[1]}: the machine was shared, the ratios matter more than the "
        "seconds):\n\n"
        + md_table(
            ["what", "seconds"],
            [
                ["full rebuild (before: after every part registered)", res["full_rebuild_s"]],
                ["one part's rows changed: its 8 columns updated in place", res["one_part_changed_s"]],
                ["a new part registered: its 8 columns added in place", res["new_part_s"]],
            ],
        )
        + "\n\nReproduce: `python bench/bench_corpus_fast.py` (`--docs`, `--parts`, `--reps`)."
    )
    write_section("corpus_fast", body)


if __name__ == "__main__":
    main()
