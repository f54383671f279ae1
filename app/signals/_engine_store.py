"""The workspace side of the signal engine (:mod:`app.signals.engine`): the run registry, the staging tables and
the swap of staged rows into the visible ``sig_<family>`` tables.

Why a module of its own: the engine's scoring loop (batches, workers, flushes) and the tables it writes change for
different reasons. Why few statements: a DuckDB statement costs about a millisecond whatever its size, so the
setup reads every family's staging state with one query and writes it with one, and a finished run records all
families' runs and parts with one statement each (not two per family). A family whose staging table this run
created, with no older rows to merge, becomes ``sig_<family>`` by a rename (its ``text_hash`` copied out to
``_sighash_<family>`` first) instead of being copied through a join with the documents: every staged row came
from the documents the run read, so the join could drop nothing; the rows are the same.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from app.progress import Progress
from app.signals.base import Scorer
from app.sql import qi, setting_held

RUNS = "_signal_runs"
_STAGE_KEY = "signals.stage."
#: DuckDB's write-ahead log size that triggers a checkpoint while a run writes its staging tables (default 16 MiB).
#: A checkpoint rewrites each table's last, partly filled row group (122,880 rows): at the default, a checkpoint
#: came about once per flush of ten families' rows, so a row group's rows were compressed and written again at
#: every flush until it filled; at this size rarely. The engine's own CPU (reading, staging, swapping; the families' results
#: replayed) on 539,410 realmix documents, medians of 3 runs alternating 16MB and 512MB in one process: 26.4 ->
#: 16.0 s; the process peaked at 1,210 MiB before the first 512MB run, 1,463 after it (``python
#: bench/bench_signals_speed.py engine WS --thresholds 16MB,512MB``). The log is on disk; the rows not yet
#: checkpointed are held in DuckDB's buffer pool.
WAL_CHECKPOINT = "512MB"


def roomy_wal(con: Any, size: str | None = None) -> Any:
    """DuckDB's ``checkpoint_threshold`` raised to ``size`` (default :data:`WAL_CHECKPOINT`) for a ``with`` block,
    then restored (:func:`app.sql.setting_held`: also after a failed run, whose own error a failed restore never
    hides).

    The setting is global to the database: the staged rows reach the database file at a later checkpoint (the
    log keeps them durable until then, so an interrupted run still resumes); the values written are the same."""
    return setting_held(con, "checkpoint_threshold", size or WAL_CHECKPOINT)


def sig_table(family: str) -> str:
    """The visible table of a family's columns (``id`` + columns), a part of ``corpus``."""
    return f"sig_{family}"


def hash_table(family: str) -> str:
    """Which text each row of ``sig_<family>`` was computed from (``id``, ``text_hash``)."""
    return f"_sighash_{family}"


def stage_table(family: str) -> str:
    """Rows scored by an unfinished run (``id``, ``text_hash`` + columns)."""
    return f"_stage_{family}"


def ensure_runs(ws: Any) -> None:
    """Create the run registry when the workspace has none."""
    ws.con.execute(
        f"""CREATE TABLE IF NOT EXISTS {RUNS} (family VARCHAR PRIMARY KEY, version VARCHAR, columns JSON,
        n BIGINT, seconds DOUBLE, finished_at TIMESTAMP)"""
    )


def runs(ws: Any) -> dict[str, dict[str, Any]]:
    """The run registry: ``{family: {version, columns, n, seconds, finished_at}}``."""
    if not ws.has_table(RUNS):
        return {}
    rows = ws.cursor().execute(f"SELECT family, version, columns, n, seconds, finished_at FROM {RUNS}").fetchall()
    return {
        r[0]: {"version": r[1], "columns": json.loads(r[2]), "n": r[3], "seconds": r[4], "finished_at": r[5]}
        for r in rows
    }


def record_runs(cur: Any, records: list[tuple[str, str, list[str], int, float]]) -> None:
    """Store ``(family, fingerprint, columns, rows, seconds)`` runs in the registry (one DELETE, one INSERT)."""
    if not records:
        return
    from app.workspace import now

    at = now()
    cur.execute(f"DELETE FROM {RUNS} WHERE family IN ({', '.join('?' * len(records))})", [r[0] for r in records])
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(records))
    params = [v for name, fp, cols, n, sec in records for v in (name, fp, json.dumps(cols), n, sec, at)]
    cur.execute(f"INSERT INTO {RUNS} VALUES {values}", params)


def record_run(ws: Any, cur: Any, name: str, fp: str, cols: list[str], seconds: float) -> int:
    """Store one family's run, its rows counted from ``sig_<name>``; returns that count."""
    n = int(cur.execute(f"SELECT count(*) FROM {qi(sig_table(name))}").fetchall()[0][0])
    record_runs(cur, [(name, fp, cols, n, seconds)])
    return n


def _main_tables(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}


@dataclass
class Staging:
    """Each family's state at the start of a run: ``valid_old`` (its stored rows can be kept where their text is
    unchanged) and ``fresh`` (its staging table was created empty by this run: no rows of an earlier run)."""

    valid_old: dict[str, bool] = field(default_factory=dict)
    fresh: dict[str, bool] = field(default_factory=dict)


def prepare(
    ws: Any, names: list[str], scorers: dict[str, Scorer], fps: dict[str, str], stored: dict, force: bool
) -> Staging:
    """Set up every family's staging table in one transaction: kept when it holds rows of an interrupted run with
    the same fingerprint (the run resumes), else created empty."""
    out = Staging()
    with ws.transaction() as tx:
        tables = _main_tables(tx)
        keys = [_STAGE_KEY + n for n in names]
        marks = dict(
            tx.execute(f"SELECT key, value FROM _meta WHERE key IN ({', '.join('?' * len(keys))})", keys).fetchall()
        )
        for n in names:
            fp, stage = fps[n], stage_table(n)
            out.valid_old[n] = (
                not force
                and stored.get(n, {}).get("version") == fp
                and sig_table(n) in tables
                and hash_table(n) in tables
            )
            keep = not force and marks.get(_STAGE_KEY + n) == fp and stage in tables
            out.fresh[n] = not keep
            if not keep:
                if stage in tables:
                    tx.execute(f"DROP TABLE {qi(stage)}")
                cols = ", ".join(f"{qi(c)} {t}" for c, t in scorers[n].columns.items())
                tx.execute(f"CREATE TABLE {qi(stage)} (id VARCHAR, text_hash VARCHAR, {cols})")
        stale = [k for k, n in zip(keys, names, strict=True) if marks.get(k) != fps[n]]
        if stale:
            tx.execute(
                f"INSERT OR REPLACE INTO _meta VALUES {', '.join(['(?, ?)'] * len(stale))}",
                [v for k in stale for v in (k, fps[k[len(_STAGE_KEY) :]])],
            )
    return out


def finalise_all(
    ws: Any,
    names: list[str],
    scorers: dict[str, Scorer],
    staging: Staging,
    computed: dict[str, int],
    fps: dict[str, str],
    rel: str,
    t0: float,
) -> dict[str, Any]:
    """Swap every family's staged rows (plus still-valid old rows) into ``sig_<family>`` in one transaction, the
    corpus views rebuilt once after it; returns each family's report."""
    out: dict[str, Any] = {}
    records: list[tuple[str, str, list[str], int, float]] = []
    parts: list[tuple[str, str, int]] = []
    with ws.deferred_views(), ws.transaction() as cur:
        registered = set(ws.parts(cur))
        for n in names:
            seconds = time.perf_counter() - t0
            out[n], rows = _finalise(cur, n, scorers[n], staging, computed[n], seconds, rel)
            if rows is not None:
                records.append((n, fps[n], list(scorers[n].columns), rows, seconds))
            if rows is not None or (sig_table(n), "signal") not in registered:
                parts.append((sig_table(n), "signal", 100))
        record_runs(cur, records)
        ws.register_parts(parts, con=cur)
    return out


def _finalise(
    cur: Any, name: str, sc: Scorer, staging: Staging, computed: int, seconds: float, rel: str
) -> tuple[dict[str, Any], int | None]:
    """One family's swap within the transaction ``cur`` (``rel``: the documents as the family saw them,
    :func:`app.fields.relation`); returns its report and its new row count (None: nothing changed)."""
    sig, hsh, stage = qi(sig_table(name)), qi(hash_table(name)), qi(stage_table(name))
    cols = list(sc.columns)
    collist = ", ".join(qi(c) for c in cols)
    valid_old = staging.valid_old[name]
    if valid_old and computed == 0:
        cur.execute(f"DROP TABLE IF EXISTS {stage}")
        n = cur.execute(f"SELECT count(*) FROM {sig}").fetchall()[0][0]
        return {"computed": 0, "reused": int(n), "rows": int(n), "columns": cols, "seconds": round(seconds, 3)}, None
    if staging.fresh[name] and not valid_old:
        # every staged row was read from ``rel`` by this run: the staging table is the new table as it is
        cur.execute(f"DROP TABLE IF EXISTS {sig}")
        cur.execute(f"CREATE OR REPLACE TABLE {hsh} AS SELECT id, text_hash FROM {stage}")
        cur.execute(f"ALTER TABLE {stage} DROP COLUMN text_hash")
        cur.execute(f"ALTER TABLE {stage} RENAME TO {sig}")
        report = {"computed": computed, "reused": 0, "rows": computed, "columns": cols, "seconds": round(seconds, 3)}
        return report, computed
    parts = [f"SELECT id, text_hash, {collist} FROM {stage}"]
    if valid_old:
        parts.append(
            f"SELECT h.id, h.text_hash, {', '.join('s.' + qi(c) for c in cols)} FROM {sig} s JOIN {hsh} h ON h.id = s.id"
            f" ANTI JOIN {stage} st ON st.id = h.id"
        )
    made = cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _sig_new AS SELECT n.* FROM ({' UNION ALL '.join(parts)}) n"
        f" SEMI JOIN {rel} d ON d.id = n.id AND coalesce(d.text_hash, '') = n.text_hash"
    ).fetchall()
    # DuckDB answers CREATE TABLE ... AS with the number of rows written: no count(*) of the new table
    if len(made) == 1 and len(made[0]) == 1 and isinstance(made[0][0], int):
        n = int(made[0][0])
    else:
        n = int(cur.execute("SELECT count(*) FROM _sig_new").fetchall()[0][0])
    cur.execute(f"CREATE OR REPLACE TABLE {sig} AS SELECT id, {collist} FROM _sig_new")
    cur.execute(f"CREATE OR REPLACE TABLE {hsh} AS SELECT id, text_hash FROM _sig_new")
    cur.execute("DROP TABLE _sig_new")
    cur.execute(f"DROP TABLE IF EXISTS {stage}")
    return {"computed": computed, "reused": n - computed, "rows": n, "columns": cols, "seconds": round(seconds, 3)}, n


def run_fingerprint(ws: Any, sc: Scorer, flds: Any = None) -> str:
    """What the run registry stores as a family's ``version``: its scorer's fingerprint and the fields it saw,
    and for a corpus-scope family also the documents' (:meth:`Workspace.fingerprint`: any change reruns it)."""
    from app import fields as fields_mod

    if sc.scope == "document":
        return sc.fingerprint() + fields_mod.tag(flds)
    flds = flds if getattr(sc, "uses_fields", False) else None
    return f"{sc.fingerprint()}{fields_mod.tag(flds)}@{ws.fingerprint()}"


def score_corpus(
    ws: Any, name: str, sc: Scorer, workers: int, progress: Progress | None, force: bool, flds: Any = None
) -> dict:
    """Recompute a corpus-scope family (duplicates) when its fingerprint or the documents changed, and swap its
    table in atomically."""

    t0 = time.perf_counter()
    # a family that reads its text through app.fields (``uses_fields``) sees the chosen fields
    flds = flds if getattr(sc, "uses_fields", False) else None
    sc.text_fields = flds
    fp = run_fingerprint(ws, sc, flds)
    stored = runs(ws).get(name, {})
    cols = list(sc.columns)
    if not force and stored.get("version") == fp and ws.has_table(sig_table(name)):
        if (sig_table(name), "signal") not in ws.parts():
            ws.register_part(sig_table(name), kind="signal")
        return {"computed": 0, "reused": stored.get("n"), "rows": stored.get("n"), "columns": cols, "seconds": 0.0}
    dest = f"_new_{name}"
    cur = ws.cursor()
    try:
        sc.score_corpus(ws, dest=dest, con=cur, workers=workers, progress=progress)
    finally:
        cur.close()
    seconds = time.perf_counter() - t0
    with ws.transaction() as cur:
        cur.execute(
            f"CREATE OR REPLACE TABLE {qi(sig_table(name))} AS SELECT id, {', '.join(qi(c) for c in cols)} FROM {qi(dest)}"
        )
        cur.execute(f"DROP TABLE IF EXISTS {qi(dest)}")
        n = record_run(ws, cur, name, fp, cols, seconds)
        ws.register_part(sig_table(name), kind="signal", con=cur)
    return {"computed": n, "reused": 0, "rows": n, "columns": cols, "seconds": round(seconds, 3)}
