"""The signal engine: computes signal families for every document of a workspace, incrementally.

For each document-scope family the engine computes only what is missing or stale: a document is up to date
when the family's stored fingerprint (version + result-changing options) matches and its ``(id, text_hash)``
was scored before. Batches are streamed out of DuckDB, scored in worker processes (``workers``), and
committed to a staging table ``_stage_<family>`` every :data:`FLUSH_ROWS` documents or :data:`FLUSH_SECONDS`
seconds (and when a run is interrupted), so an interrupted run resumes where it stopped. When the families are
complete, one transaction swaps each family's staged and still-valid old rows into its visible table
``sig_<family>`` (``id`` + the family's columns) and registers it as a part of ``corpus``: a half-written
column is never visible. ``_sighash_<family>`` remembers which text each row was computed from;
``_signal_runs`` records family, fingerprint, columns, rows and when it finished.

Corpus-scope families (duplicates) are recomputed when their fingerprint or the workspace's documents change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from app.engine.columns import to_arrow
from app.errors import SignalError
from app.progress import Progress
from app.signals import _engine_store as store
from app.signals._engine_store import RUNS, runs, sig_table
from app.signals._engine_store import hash_table as _hash_table
from app.signals._engine_store import stage_table as _stage_table
from app.signals._text import gc_paused, reset_memo
from app.signals.base import REGISTRY, Scorer, get_scorer, load_all
from app.sql import qi

DEFAULT_BATCH = 2000
#: Scored rows are buffered and written to the staging tables when this many documents or seconds have passed
#: (and at the end, or when the run is interrupted).
FLUSH_ROWS = 16_000
FLUSH_SECONDS = 5.0

_ARROW_TYPES = {"INTEGER": "int32", "BIGINT": "int64", "DOUBLE": "float64", "BOOLEAN": "bool_", "VARCHAR": "string"}


# ----------------------------------------------------------------------------------------------- registry
def families() -> dict[str, type[Scorer]]:
    """Every registered signal family, by name."""
    return dict(sorted(load_all().items()))


def resolve(signals: Sequence[str] | str) -> list[str]:
    """Family names from a list or a comma-separated string; ``all`` means every family."""
    if isinstance(signals, str):
        signals = [signals]
    reg = load_all()  # once (each call lists the package's modules)
    names: list[str] = []
    for item in signals:
        for s in str(item).split(","):
            s = s.strip()
            if not s:
                continue
            if s == "all":
                names.extend(sorted(reg))
            else:
                if s not in reg:
                    get_scorer(s)  # the error naming the known families
                names.append(s)
    out = list(dict.fromkeys(names))
    if not out:
        raise SignalError("no signal family named; use --signals all or a comma-separated list")
    return out


def column_families() -> dict[str, str]:
    """``{column: family}`` for every column any registered family produces."""
    return {col: name for name, cls in families().items() for col in cls.columns}


def column_docs() -> dict[str, dict[str, str]]:
    """``{column: {family, type, doc}}`` for every registered column (the generated docs table)."""
    out: dict[str, dict[str, str]] = {}
    for name, cls in families().items():
        for col, typ in cls.columns.items():
            out[col] = {"family": name, "type": typ, "doc": cls.docs.get(col, "")}
    return out


# ----------------------------------------------------------------------------------------------- headless
_WORKER_SCORERS: dict[str, Scorer] = {}


def _scorer(name: str, options: dict[str, Any] | None) -> Scorer:
    key = name + json.dumps(options or {}, sort_keys=True, default=str)
    sc = _WORKER_SCORERS.get(key)
    if sc is None:
        sc = get_scorer(name)(**(options or {}))
        _WORKER_SCORERS[key] = sc
    return sc


def score_texts(
    texts: list[str], families: Sequence[str], *, options: dict[str, dict[str, Any]] | None = None
) -> dict[str, list[Any]]:
    """Document-scope signals of ``texts`` without a workspace (headless ``winnow apply``).

    Corpus-scope families (duplicates) need a workspace and raise SignalError here.
    """
    texts = [t if isinstance(t, str) else ("" if t is None else str(t)) for t in texts]
    out: dict[str, list[Any]] = {}
    for name in resolve(list(families)):
        cls = get_scorer(name)
        if cls.scope != "document":
            raise SignalError(f"signal family {name!r} needs the whole workspace (scope {cls.scope}); score it there")
        out.update(_run_scorer(_scorer(name, (options or {}).get(name)), texts))
    return out


def _run_scorer(sc: Scorer, texts: list[str]) -> dict[str, list[Any]]:
    try:
        res = sc.score_batch(texts)
    except (SignalError, ImportError):
        raise
    except Exception as e:  # a scorer bug must not take the batch down silently
        raise SignalError(f"scorer {sc.name} failed: {type(e).__name__}: {e}") from e
    for col in sc.columns:
        if col not in res or len(res[col]) != len(texts):
            raise SignalError(f"scorer {sc.name} returned no or wrong-length column {col!r}")
    return {c: res[c] for c in sc.columns}


def _doc_worker(specs: list[tuple[str, dict[str, Any]]], texts: list[str], masks: list[list[bool] | None]) -> dict:
    """Worker: score one batch for several families (``masks[i]`` None = every text).

    The cyclic garbage collector is paused for the whole batch, not only inside each family (:func:`gc_paused`):
    the batch's tokens, results and Arrow conversions make no reference cycles, and collections between the
    families rescanned them (about 5-10% of the families' CPU on realmix). The batch's memoised tokens are dropped
    before the collector resumes, so its first collection does not scan them."""
    with gc_paused():
        try:
            return _doc_batch(specs, texts, masks)
        finally:
            reset_memo()


def _doc_batch(specs: list[tuple[str, dict[str, Any]]], texts: list[str], masks: list[list[bool] | None]) -> dict:
    out = {}
    for (name, opts), mask in zip(specs, masks):
        sub = texts if mask is None else [t for t, m in zip(texts, mask) if m]
        if not sub:
            out[name] = None
            continue
        sc = _scorer(name, opts)
        # as the Arrow arrays _arrow_batch builds (app.engine.columns): a few buffers to send back, not lists
        types = {c: _ARROW_TYPES[t] for c, t in sc.columns.items() if t in _ARROW_TYPES}
        out[name] = to_arrow(_run_scorer(sc, sub), types)
    return out


# ----------------------------------------------------------------------------------------------- parallel map
def map_batches(
    fn: Callable[..., Any],
    batches: Iterable[tuple],
    *,
    workers: int = 1,
    arg_index: int | Sequence[int] = 0,
    engine: Any = None,
) -> Iterator[tuple[tuple, Any]]:
    """Yield ``(batch, fn(*batch[arg_index...]))`` in order: on ``engine`` (:mod:`app.engine`) when given, else
    here or in a local pool of ``workers`` processes with at most ``2 * workers`` batches in flight."""
    if engine is None:  # a pool for this call only
        from app.engine.local import LocalEngine

        with LocalEngine(workers=workers) as own:
            yield from own.map_batches(fn, batches, arg_index=arg_index)
        return
    yield from engine.map_batches(fn, batches, arg_index=arg_index)


# ----------------------------------------------------------------------------------------------- workspace
def _strings(values: Any, pa: Any) -> Any:
    """``values`` (a list or an Arrow array) as an Arrow string array."""
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else values.cast(pa.string())
    return pa.array(values, pa.string())


def _arrow_batch(ids: Any, hashes: Any, cols: dict[str, str], values: dict[str, list]) -> Any:
    """A family's staged rows: ids and text hashes (lists or Arrow string arrays) and its columns' values."""
    import pyarrow as pa

    arrays = {"id": _strings(ids, pa), "text_hash": _strings(hashes, pa)}
    for c, typ in cols.items():
        try:
            arrays[c] = pa.array(values[c], getattr(pa, _ARROW_TYPES[typ])())
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
            raise SignalError(f"column {c} has a value that is not {typ}: {e}") from e
    return pa.table(arrays)


def score(
    ws: Any,
    *,
    signals: Sequence[str] | str = ("all",),
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    force: bool = False,
    engine: Any = None,
    fields: str | Sequence[str] | None = None,
) -> dict[str, Any]:
    """Compute the named signal families for every document of ``ws`` (only what is missing or stale).

    ``fields`` (:mod:`app.fields`, e.g. ``"instruction,output"``): the text the families see, instead of the
    workspace's fields setting (default: the document's text); it is part of each family's stored fingerprint.

    ``engine`` (:func:`app.engine.make_engine`): where document-scope batches run; by default a local pool of
    ``workers`` processes. The rows written are the same whatever the engine (results come back in order).

    ``options`` maps a family to its scorer options (e.g. ``{"pii": {"blocklist": "words.txt"}}``);
    ``force`` recomputes everything. Returns ``{"documents", "families": {name: {computed, reused, rows,
    seconds, columns}}, "seconds"}``.
    """
    if ws.read_only:
        raise SignalError(f"workspace {ws.path} is open read-only; scoring writes signal tables")
    if workers < 1:
        raise SignalError("--workers must be at least 1")
    t0 = time.perf_counter()
    names = resolve(signals)
    options = options or {}
    scorers: dict[str, Scorer] = {}
    reg = load_all()
    for n in names:
        cls = reg[n]
        cls.check_available()
        scorers[n] = cls(**options.get(n, {}))
    from app import fields as fields_mod

    flds = fields_mod.resolve(ws.con, fields)
    fields_mod.check(ws.con, flds)
    store.ensure_runs(ws)
    n_docs = ws.cursor().execute("SELECT count(*) FROM docs").fetchall()[0][0]
    report: dict[str, Any] = {"documents": int(n_docs), "families": {}, "fields": fields_mod.label(flds)}
    doc_fams = [n for n in names if scorers[n].scope == "document"]
    if doc_fams:
        with store.roomy_wal(ws.con):  # fewer checkpoints while the staging tables grow
            report["families"].update(
                _score_documents(ws, doc_fams, scorers, options, workers, batch_size, progress, force, engine, flds)
            )
    for n in names:
        if scorers[n].scope == "corpus":
            report["families"][n] = store.score_corpus(ws, n, scorers[n], workers, progress, force, flds)
    report["seconds"] = round(time.perf_counter() - t0, 3)
    return report


def _score_documents(
    ws: Any,
    names: list[str],
    scorers: dict[str, Scorer],
    options: dict[str, dict[str, Any]],
    workers: int,
    batch_size: int,
    progress: Progress | None,
    force: bool,
    engine: Any = None,
    flds: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    from app import fields as fields_mod

    t0 = time.perf_counter()
    con = ws.con
    stored = runs(ws)
    rel = fields_mod.relation(con, flds)  # ``docs``, or its text and text_hash made from the chosen fields
    fps = {n: scorers[n].fingerprint() + fields_mod.tag(flds) for n in names}
    staging = store.prepare(ws, names, scorers, fps, stored, force)
    valid_old = staging.valid_old

    joins, needs = [], []
    for i, n in enumerate(names):
        cond = f"s{i}.id IS NULL"
        joins.append(
            f"LEFT JOIN {qi(_stage_table(n))} s{i} ON s{i}.id = d.id AND s{i}.text_hash = coalesce(d.text_hash, '')"
        )
        if valid_old[n]:
            joins.append(
                f"LEFT JOIN {qi(_hash_table(n))} h{i} ON h{i}.id = d.id AND h{i}.text_hash = coalesce(d.text_hash, '')"
            )
            cond += f" AND h{i}.id IS NULL"
        needs.append(f"({cond}) AS need{i}")
    base = f"SELECT d.id, coalesce(d.text_hash, '') AS text_hash, coalesce(d.text, '') AS text, {', '.join(needs)} FROM {rel} d {' '.join(joins)}"
    where = " OR ".join(f"need{i}" for i in range(len(names)))
    todo_sql = f"SELECT * FROM ({base}) WHERE {where}"
    computed = dict.fromkeys(names, 0)
    total = 0
    if progress:  # the total is for the progress bar only (counting runs the join once more)
        total = con.cursor().execute(f"SELECT count(*) FROM ({todo_sql})").fetchall()[0][0]
        progress(0, total, "signals: " + ",".join(names))
    specs = [(n, options.get(n, {})) for n in names]

    reader = con.cursor().sql(todo_sql).to_arrow_reader(batch_size)

    def batches() -> Iterator[tuple]:
        import pyarrow as pa
        import pyarrow.compute as pc

        for rb in reader:
            # ids and text hashes stay Arrow strings: every family's staged rows reuse them (no Python round trip)
            ids, hashes = (_strings(rb.column(i), pa) for i in (0, 1))
            texts = rb.column(2).to_pylist()
            masks = []
            for i in range(len(names)):
                need = rb.column(3 + i)
                masks.append(None if pc.all(need, skip_nulls=False).as_py() else need.to_pylist())
            yield ids, hashes, texts, masks

    done = 0
    writer = ws.cursor()
    pending: dict[str, list[Any]] = {n: [] for n in names}  # scored rows not yet in the staging tables
    buffered, flushed_at = 0, time.monotonic()

    def flush() -> None:
        """Insert the buffered rows of every family into its staging table, in one transaction (an insert has
        a fixed cost of milliseconds: one per family per few batches, not per batch)."""
        nonlocal buffered, flushed_at
        if not buffered:
            return
        import pyarrow as pa

        writer.execute("BEGIN TRANSACTION")
        try:
            for n, tables in pending.items():
                if tables:
                    writer.register("_sig_batch", tables[0] if len(tables) == 1 else pa.concat_tables(tables))
                    writer.execute(f"INSERT INTO {qi(_stage_table(n))} SELECT * FROM _sig_batch")
                    writer.unregister("_sig_batch")
        except BaseException:
            writer.execute("ROLLBACK")
            raise
        writer.execute("COMMIT")
        for tables in pending.values():
            tables.clear()
        buffered, flushed_at = 0, time.monotonic()

    try:
        for (ids, hashes, _texts, masks), res in _iter_scored(specs, batches(), workers, engine):
            for n, mask in zip(names, masks):
                vals = res[n]
                if vals is None:
                    continue
                if mask is None:
                    sub_ids, sub_hashes = ids, hashes
                else:
                    sub_ids, sub_hashes = ids.filter(mask), hashes.filter(mask)
                pending[n].append(_arrow_batch(sub_ids, sub_hashes, scorers[n].columns, vals))
                computed[n] += len(sub_ids)
            buffered += len(ids)
            if buffered >= FLUSH_ROWS or time.monotonic() - flushed_at >= FLUSH_SECONDS:
                flush()
            done += len(ids)
            if progress:
                progress(done, total, "signals: " + ",".join(names))
        flush()
    finally:
        try:
            flush()  # an interrupted run keeps what it scored before the interruption (the next run resumes)
        finally:
            writer.close()

    # every family swaps in one transaction (a commit costs milliseconds); the views are rebuilt once after all
    return store.finalise_all(ws, names, scorers, staging, computed, fps, rel, t0)


def _iter_scored(
    specs: list, batches: Iterable[tuple], workers: int, engine: Any = None
) -> Iterator[tuple[tuple, dict]]:
    """``(batch, {family: columns})`` for each batch, scored here, in ``workers`` processes or on ``engine``."""
    wrapped = ((b, specs, b[2], b[3]) for b in batches)
    for packed, res in map_batches(_doc_worker, wrapped, workers=workers, arg_index=(1, 2, 3), engine=engine):
        yield packed[0], res


__all__ = [
    "REGISTRY",
    "RUNS",
    "column_docs",
    "column_families",
    "families",
    "resolve",
    "runs",
    "score",
    "score_texts",
    "sig_table",
]
