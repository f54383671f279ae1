"""A forecast before a long ``winnow score``: ``winnow score --dry-run [N]`` on a workspace.

At 10M documents ``winnow score`` runs for about an hour on two cores (README ``bench:scale``); a user should know
that before starting, and whether it fits in memory. How, and why:

1. **What would run.** The requested families (``--signals``), less those whose stored run is current (unless
   ``--force``: the fingerprint a run would store now, and a row for every document): the families a real run
   computes (one with rows missing is forecast in full, though the run scores only the missing documents).
2. **How fast.** A seeded random sample of the workspace's documents (``USING SAMPLE reservoir(N ROWS)
   REPEATABLE``, so every source and language in proportion) is copied into a scratch DuckDB file with the
   tables the families read, and scored for real by :func:`app.signals.engine.score` in one fresh child process:
   first ``N/4`` documents (which loads the models), then ``N``, timed warm: the rate per document. What the first
   run paid beyond that rate (models, first calls) and the imports are the start-up, added once. (A marginal rate
   between two cold runs was tried first: with the models' seconds-long loading in both, the difference of a few
   thousand documents drowned in noise.) Document-scope families are divided among the workers, at most as
   many as the machine's cores (the assumption is printed: ``bench/bench_engine.py`` measured 1.88x on 2
   workers on a quiet machine);
   corpus-scope families (duplicates, decontamination) run their global step in the main process and are not
   divided. Near-duplicate clustering is forecast as linear in the documents (it is at realmix's scale; its cost
   per document rises with the size of duplicate clusters). The real run's copy of the documents into its
   scratch file (:mod:`app.detached`) is forecast by the sample's draw, which reads every document once as the
   copy does (a fixed cost, in the start-up figure); its final commit (the new columns swapped into the
   workspace) is not. The rates are wall time: a sample that took longer than its CPU time shared the machine
   with other work, which the forecast assumes of the run too, and it prints the time on free cores beside it.
3. **How much memory.** The child's peak RSS at ``N`` documents plus, for a workspace more than four times the
   sample, DuckDB's memory limit (``WINNOW_MEMORY``): the main process grows towards that limit while it stores
   the results of millions of documents (3.4 GB at 1M under a 4 GB limit, with the sample at 0.7 GB).

The real run with the same families, options and documents finds the stored forecast
(:mod:`app.export.plan_check`'s cache, keyed here by the workspace's documents) and prints how close it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.errors import SignalError
from app.sql import amount_bytes

#: the numbers a stored forecast must hold for the real run to compare itself with it
NEEDS = ("doc_seconds_per_document", "corpus_seconds_per_document", "startup_seconds", "peak_rss_bytes")
#: the smallest sample worth timing
MIN_SAMPLE = 200


def plan_families(ws: Any, signals: Sequence[str] | str, *, options: dict | None, fields: Any, force: bool) -> dict:
    """``{"run": [...], "current": [...]}``: the families a real ``winnow score`` would compute, and those whose
    stored run is up to date (the fingerprint a run would store now, a row for every document)."""
    from app import fields as fields_mod
    from app.signals import engine
    from app.signals._engine_store import run_fingerprint, runs
    from app.signals.base import load_all

    names = engine.resolve(signals)
    reg = load_all()
    flds = fields_mod.resolve(ws.con, fields)
    stored = runs(ws)
    total = ws.cursor().execute("SELECT count(*) FROM docs").fetchall()[0][0]
    run, current = [], []
    for n in names:
        fp = run_fingerprint(ws, reg[n](**(options or {}).get(n, {})), flds)
        have = stored.get(n) or {}
        (current if not force and have.get("version") == fp and have.get("n") == total else run).append(n)
    return {"run": run, "current": current}


def _sample_workspace(root: Path, dest: Path, n: int, tables: Sequence[str], seed: int = 0) -> int:
    """A scratch workspace at ``dest`` holding a seeded random ``n`` of ``root``'s documents and the tables the
    families read (``_meta``, ``_parts``, ``sources`` and ``tables`` patterns); its document count."""
    import fnmatch

    from app.detached import BASE_TABLES, _clone, _tables
    from app.locks import attach, connect
    from app.workspace import DB_FILE

    dest.mkdir(parents=True, exist_ok=True)
    con = connect(dest / DB_FILE, read_only=False, wait=0)
    try:
        con.execute("SET enable_progress_bar = false")
        attach(con, root / DB_FILE, alias="src", read_only=True)
        names = _tables(con, catalog="src")
        con.execute(
            f"CREATE TABLE docs AS SELECT * FROM src.main.docs USING SAMPLE reservoir({int(n)} ROWS) "
            f"REPEATABLE ({int(seed)}) ORDER BY id"
        )
        for t in names:
            if t in BASE_TABLES or any(fnmatch.fnmatchcase(t, p) for p in tables):
                _clone(con, "src", t)
        con.execute("DETACH src")
        return int(con.execute("SELECT count(*) FROM docs").fetchall()[0][0])
    finally:
        con.close()


def _cpu() -> float:
    """This process's CPU seconds (user + system, every thread)."""
    t = os.times()
    return t.user + t.system


def _sample_score(conn: Any, paths: list[str], kw: dict[str, Any]) -> None:
    """Child process: score each sample workspace of ``paths`` in turn, in this one process (the first warms the
    models up, so the last is timed warm); send ``[(document stage s, corpus stage s), ...]``, the start-up
    (imports) seconds and the peak RSS."""
    import resource

    try:
        t0 = time.perf_counter()
        from app.detached import ScratchWorkspace
        from app.locks import connect
        from app.signals import engine
        from app.workspace import DB_FILE

        kw = dict(kw)
        corpus_families = kw.pop("corpus_families")
        start = time.perf_counter() - t0
        times = []
        for path in paths:
            con = connect(Path(path) / DB_FILE, read_only=False, wait=0)
            ws = ScratchWorkspace(Path(path), con, read_only=False)
            c0, w0 = _cpu(), time.perf_counter()
            try:
                res = engine.score(ws, workers=1, **kw)
            finally:
                ws.close()
            fams = res["families"]
            corpus = sum(float(f.get("seconds") or 0) for n, f in fams.items() if n in corpus_families)
            times.append((float(res["seconds"]) - corpus, corpus, _cpu() - c0, time.perf_counter() - w0))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("ok", times, start, rss))
    except Exception as e:  # sent back as one line
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


def forecast_score(
    root: str | Path,
    *,
    signals: Sequence[str] | str = "all",
    sample: int = 4000,
    workers: int = 1,
    options: dict[str, dict[str, Any]] | None = None,
    fields: Any = None,
    force: bool = False,
    batch_size: int = 2000,
    side_tables: Sequence[str] = (),
) -> dict[str, Any]:
    """Measure ``winnow score`` on a sample of the workspace at ``root`` and forecast the whole run (module doc)."""
    from app.child import run_child
    from app.signals.base import load_all
    from app.workspace import Workspace, memory_limit

    if sample < MIN_SAMPLE:
        raise SignalError(f"--dry-run needs a sample of at least {MIN_SAMPLE} documents")
    root = Path(root)
    with Workspace.open(root, read_only=True) as ws:
        total = int(ws.cursor().execute("SELECT count(*) FROM docs").fetchall()[0][0])
        fams = plan_families(ws, signals, options=options, fields=fields, force=force)
    reg = load_all()
    corpus = [n for n in fams["run"] if reg[n].scope != "document"]
    out: dict[str, Any] = {
        "documents": total,
        "families": fams["run"],
        "up_to_date": fams["current"],
        "workers": workers,
        "memory_limit": memory_limit(),
        "assumes": "document families divide evenly among workers (bench/bench_engine.py: 1.88x on 2); "
        "corpus families' global steps do not",
    }
    if not fams["run"] or total == 0:
        return {**out, "sample": 0, "forecast_seconds": 0.0, "peak_rss_bytes": 0}
    kw = {
        "signals": fams["run"],
        "options": options,
        "fields": fields,
        "batch_size": batch_size,
        "force": True,
        "corpus_families": corpus,
    }
    big = min(sample, total)
    small = min(big, max(big // 4, MIN_SAMPLE // 4))
    with tempfile.TemporaryDirectory(prefix="winnow-score-plan-") as tmp:
        s_big, s_small = Path(tmp) / "big", Path(tmp) / "small"
        t0 = time.perf_counter()
        n1 = _sample_workspace(root, s_big, big, side_tables)  # the one read of every document
        copy_s = time.perf_counter() - t0
        n0 = _sample_workspace(s_big, s_small, small, side_tables)  # drawn from the big sample, not the corpus
        paths = [str(s_small), str(s_big)]
        times, s1, rss = run_child(_sample_score, (paths, kw), f"sample of {n1:,} documents", error=SignalError)
    (d0, g0, _, _), (d1, g1, cpu1, wall1) = times
    # the second sample is scored warm (models loaded by the first): its rate per document, and what the first run
    # paid beyond that rate is the real run's once-per-process cost (models, first calls). The real run first
    # copies every document into its scratch file (app.detached); the draw of the larger sample read every
    # document once too, which is most of that copy: its time is added as a fixed cost
    doc_rate = d1 / max(n1, 1)
    # corpus-wide steps pay a fixed cost in every run (their tables, indexes): their rate is the difference
    corpus_rate = (g1 - g0) / (n1 - n0) if n1 > n0 and g1 > g0 else g1 / max(n1, 1)
    fixed = s1 + max(d0 - n0 * doc_rate, 0.0) + max(g1 - n1 * corpus_rate, 0.0)
    # the larger sample's wall time over its CPU time: above 1, other work had the cores while it ran, and its
    # wall-time rates carry that to the forecast (which says so, and what free cores would take); below 1, DuckDB's
    # threads ran beside the scoring
    busy = wall1 / cpu1 if cpu1 > 0 else 1.0
    out.update(
        sample=n1,
        sample_wall_per_cpu=round(busy, 2),
        cores=os.cpu_count(),
        doc_seconds_per_document=doc_rate,
        corpus_seconds_per_document=corpus_rate,
        startup_seconds=round(fixed + copy_s, 1),
        peak_rss_bytes=int(rss),
    )
    # on a corpus much larger than the sample the main process grows towards DuckDB's memory limit while it stores
    # the results (3.4 GB at 1M documents under a 4 GB limit, where the sample peaked at 0.7): the bound is both
    if total > 4 * n1:
        out["peak_rss_bytes"] = int(rss + (amount_bytes(out["memory_limit"]) or 0))
    out["sample_peak_rss_bytes"] = int(rss)
    out["forecast_seconds"] = seconds(out, documents=total, workers=workers)
    if busy > 1.05:
        out["free_cores_seconds"] = seconds(out, documents=total, workers=workers, busy=busy)
    return out


def seconds(f: dict[str, Any], *, documents: int, workers: int, busy: float = 1.0) -> float:
    """The forecast wall seconds of ``documents`` with ``workers`` at the rates of forecast ``f``: the document
    families divided among the workers, at most as many as this machine's cores (``f["cores"]``; 4 workers on
    2 cores take as long as 2); ``busy``, the sample's wall time over its CPU time, divides the per-document
    time out (the time on free cores)."""
    share = min(max(workers, 1), f.get("cores") or max(workers, 1))
    per_doc = f.get("doc_seconds_per_document", 0.0) / share + f.get("corpus_seconds_per_document", 0.0)
    return round(f.get("startup_seconds", 0.0) + documents * per_doc / max(busy, 1.0), 1)


def describe(f: dict[str, Any]) -> str:
    """The forecast as a few lines for a person."""
    from app.export.plan_check import busy_note, human_seconds
    from app.progress import fmt_amount

    if not f["families"]:
        return f"{f['documents']:,} documents: every requested family is up to date; nothing to score"
    lines = [
        f"{f['documents']:,} documents; families to score: {', '.join(f['families'])}"
        + (f" (up to date: {', '.join(f['up_to_date'])})" if f["up_to_date"] else ""),
    ]
    if f["sample"]:
        per = 1e3 * (f["doc_seconds_per_document"] + f["corpus_seconds_per_document"])
        lines += [
            f"  measured on a random {f['sample']:,}: {per:.2f} ms per document in one process "
            f"({1e3 * f['corpus_seconds_per_document']:.2f} of it in corpus-wide steps), "
            f"{f['startup_seconds']:.0f} s start-up and copy",
            f"  forecast: {human_seconds(f['forecast_seconds'])} with {f['workers']} worker(s) ({f['assumes']})"
            + busy_note(f),
            f"  memory: at most about {fmt_amount(f['peak_rss_bytes'], 'B')} (the sample's "
            f"{fmt_amount(f['sample_peak_rss_bytes'], 'B')}, plus DuckDB's limit {f['memory_limit']} (WINNOW_MEMORY) "
            "when the corpus is much larger: the results are stored under it)",
        ]
    return "\n".join(lines)


def forecast_key(root: str | Path, f_or_args: dict[str, Any]) -> str:
    """A digest of what the run will do: the workspace (path, documents), the families, options and fields."""
    from app.workspace import DB_FILE, Workspace

    with Workspace.open(Path(root), read_only=True) as ws:
        state = ws.cursor().execute("SELECT count(*), max(id), min(id) FROM docs").fetchall()[0]
    body = {"root": os.path.abspath(root), "db": str(Path(root) / DB_FILE), "docs": list(state), **f_or_args}
    return "score-" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]


def stored(root: str | Path, what: dict[str, Any]) -> dict[str, Any] | None:
    """The ``--dry-run`` forecast stored for this workspace and ``what`` (families, options, fields), or None.
    Without any stored score forecast the workspace is not read (the key counts its documents)."""
    from app.export import plan_check

    try:
        if not any(plan_check.forecast_dir().glob("score-*.json")):
            return None
    except OSError:
        return None
    return plan_check.load(forecast_key(root, what), need=NEEDS)


def versus(f: dict[str, Any], *, took: float, documents: int, workers: int, peak_rss: int) -> dict[str, Any]:
    """The forecast for this run (its documents and workers, at the measured rates) next to what it took."""
    want = seconds(f, documents=documents, workers=workers)
    return {
        "forecast_seconds": want,
        "took_seconds": round(took, 1),
        "error_pct": round(100 * (took - want) / want, 1) if want > 0 else None,
        "forecast_peak_rss_bytes": int(f.get("peak_rss_bytes", 0)),
        "peak_rss_bytes": int(peak_rss),
        "documents": int(documents),
        "workers": int(workers),
    }
