"""Transforms in the exports: the cleaned text of the exported documents and, with ``score: cleaned``, the
signals the recipe reads recomputed on the cleaned text.

Workspace export (:func:`app.export.apply`):

- ``score: cleaned``: :func:`rescore_workspace` streams every document's text out of ``corpus`` in batches,
  cleans it, computes the document-scope signal families the recipe reads (and ``size`` when the token counts
  come from ``size_tokens``) on the cleaned text with default options but the section's ``segmentation`` (as
  headless apply does; on the engine's workers when the export is given one, :func:`rescore_batch`), and writes
  them to a scratch Parquet file; the recipe is then compiled over a temporary view of ``corpus`` whose columns
  of those families are the cleaned text's. Corpus-scope columns (duplicate clusters), trained models' columns and
  benchmark contamination keep their stored values (computed on the text as ingested).
- every export: :func:`clean_selection` cleans the text of the selected documents once (counting what changed)
  into a temporary table and returns the selection with that text.

Headless apply cleans each batch before scoring it (``score: cleaned``) and the kept rows when it collects them;
both paths call the same :class:`app.transforms.spec.Pipeline`, so they export the same bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import ExportError
from app.sql import qi, ql
from app.transforms.spec import Stats, Transforms, manifest_entry

#: temporary objects on the export's cursor
VIEW = "_winnow_tx_corpus"
#: scratch directory per cursor (id) holding the cleaned text and scores as Parquet
_SCRATCH: dict[int, Path] = {}
#: documents cleaned and scored per batch
BATCH = 2048


def rescore_families(columns: list[str], token_column: str | None) -> list[str]:
    """The document-scope families producing ``columns`` that can be recomputed from the text alone."""
    from app.signals.base import get_scorer
    from app.signals.engine import column_families

    fams = column_families()
    wanted = {fams[c] for c in columns if c in fams}
    if token_column == "size_tokens":
        wanted.add("size")
    return sorted(f for f in wanted if get_scorer(f).scope == "document" and f != "decontam")


def _scratch(con: Any) -> Path:
    """A scratch directory for this export's cleaned text and scores (removed by :func:`drop_temp`)."""
    d = Path(tempfile.mkdtemp(prefix="winnow-transforms-"))
    _SCRATCH[id(con)] = d
    return d


def _stream(con: Any, sql: str, params: dict[str, Any] | None = None) -> Any:
    """Record batches of ``sql`` (the cursor is only read until they are all consumed)."""
    return con.sql(sql, params=params or None).to_arrow_reader(BATCH)


def rescore_batch(texts: list[Any], spec: dict[str, Any], families: list[str]) -> dict[str, list[Any]]:
    """One batch's ``families`` (with the section's signal options) and ``size_chars`` computed on its text
    cleaned by the transforms section ``spec`` (its ``to_dict()``). Runs in this process or on an engine's
    workers alike (module level, plain arguments), so both give the same values."""
    from app.signals.engine import score_texts

    tx, pipe = _worker_spec(spec)
    cleaned = pipe.run(texts)
    out = score_texts(cleaned, families, options=tx.signal_options(families)) if families else {}
    out["size_chars"] = [None if t is None else len(t) for t in cleaned]
    return out


def _write_scores(
    con: Any,
    spec: Transforms,
    families: list[str],
    path: Path,
    total: int,
    progress: Callable[..., None] | None,
    engine: Any = None,
) -> None:
    """Every document's ``families`` and ``size_chars`` computed on its cleaned text (:func:`rescore_batch`),
    batch by batch, into the Parquet file ``path`` (not written for an empty corpus). With ``engine``
    (:func:`app.engine.make_engine`) the batches are cleaned and scored on its workers, a few in flight at a
    time, and written in the order they were read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d = spec.to_dict()
    batches = (
        (b.column(0).to_pylist(), b.column(1).to_pylist(), d, families)
        for b in _stream(con, "SELECT CAST(id AS VARCHAR) AS id, text FROM corpus ORDER BY id")
    )
    if engine is None:
        results: Any = ((b, rescore_batch(*b[1:])) for b in batches)
    else:
        results = engine.map_batches(rescore_batch, batches, arg_index=(1, 2, 3))
    writer = None
    done = 0
    try:
        for (ids, *_), got in results:
            cols: dict[str, Any] = {"id": pa.array(ids, pa.string())}
            cols.update({c: pa.array(v) for c, v in got.items() if c != "size_chars"})
            cols["size_chars"] = pa.array(got["size_chars"], pa.int64())
            tbl = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(str(path), tbl.schema)
            writer.write_table(tbl.cast(writer.schema))
            done += len(ids)
            if progress:
                progress(done, total, "score cleaned")
    finally:
        if writer is not None:
            writer.close()


def rescore_workspace(
    con: Any,
    spec: Transforms,
    columns: list[str],
    *,
    progress: Callable[[int, int, str], None] | None = None,
    engine: Any = None,
) -> tuple[str, list[str], tuple | None]:
    """Create the temporary view of ``corpus`` with the families behind ``columns`` scored on the cleaned text;
    return ``(view name, families rescored, cache token)``. The token (the workspace's state plus the
    transforms' digest) keeps the recipe cache from serving one export's quantiles to another's. The scores go
    to a Parquet file written batch by batch (bounded memory), which the view joins by id."""
    from app.recipes.cache import version_token

    have = {r[0] for r in con.execute("DESCRIBE corpus").fetchall()}
    families = rescore_families(columns, "size_tokens" if "size_tokens" in have else None)
    base = version_token(con, "corpus")
    token = None if base is None else (*base, VIEW, spec.digest(), *families)
    total = con.execute("SELECT count(*) FROM corpus").fetchall()[0][0]
    path = _scratch(con) / "scores.parquet"
    try:
        _write_scores(con, spec, families, path, total, progress, engine)
    except BaseException:
        drop_temp(con)
        raise
    if not path.exists():  # an empty corpus: nothing to replace
        con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT * FROM corpus")
        return VIEW, families, token
    src = f"read_parquet({ql(str(path))})"
    scored = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall() if r[0] != "id"]
    replace = [c for c in scored if c in have]
    add = [c for c in scored if c not in have]
    body = "c.*"
    if replace:
        body = f"c.* REPLACE ({', '.join(f's.{qi(c)} AS {qi(c)}' for c in replace)})"
    if add:
        body += ", " + ", ".join(f"s.{qi(c)}" for c in add)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT {body} FROM corpus AS c"
        f" LEFT JOIN {src} AS s ON s.id = CAST(c.id AS VARCHAR)"
    )
    return VIEW, families, token


def fingerprints(spec: Transforms, rescored: list[str]) -> dict[str, str | None]:
    """``{family: fingerprint}`` of the families re-scored on the cleaned text, with the options they were
    computed with (the section's segmentation), for the manifest's provenance in place of the stored ones."""
    from app.signals.base import get_scorer

    opts = spec.signal_options(rescored) or {}
    return {f: get_scorer(f)(**opts.get(f, {})).fingerprint() for f in rescored}


def clean_export(
    con: Any,
    sql: str,
    params: dict[str, Any],
    spec: Transforms,
    columns: list[str],
    rescored: list[str],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(sql with the cleaned text, the manifest's transforms block)`` for a workspace export."""
    check_text_column(columns)
    stats = Stats(len(spec.steps))
    try:
        sql = clean_selection(con, sql, params, spec, stats, progress=progress)
    except BaseException:
        drop_temp(con)
        raise
    return sql, manifest_entry(spec, stats, rescored=rescored)


def clean_selection(
    con: Any,
    sql: str,
    params: dict[str, Any],
    spec: Transforms,
    stats: Stats,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> str:
    """Clean the ``text`` of the documents ``sql`` selects once each (counting into ``stats``) into a Parquet
    file, and return ``sql`` with that text in place of the stored one (same rows, same order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pipe = spec.pipeline()
    d = _SCRATCH.get(id(con)) or _scratch(con)
    path = d / "text.parquet"
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    done = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        q = f"SELECT DISTINCT CAST(id AS VARCHAR) AS id, text FROM ({sql}) ORDER BY id"
        for batch in _stream(con, q, params):
            ids = batch.column(0).to_pylist()
            cleaned = pipe.run(batch.column(1).to_pylist(), ids=ids, stats=stats)
            writer.write_table(pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(cleaned, pa.string())}))
            done += len(ids)
            if progress:
                progress(done, done, "clean")
    return (
        f"SELECT s.* REPLACE (t.text AS text) FROM ({sql}) AS s"
        f" LEFT JOIN read_parquet({ql(str(path))}) AS t ON t.id = CAST(s.id AS VARCHAR) ORDER BY s.id"
    )


def drop_temp(con: Any) -> None:
    """Remove the temporary view and the scratch files (the cursor may be reused by the caller)."""
    try:
        con.execute(f"DROP VIEW IF EXISTS {VIEW}")
    except Exception:  # a failed export must still report its own error, not this one
        pass
    d = _SCRATCH.pop(id(con), None)
    if d is not None:
        shutil.rmtree(d, ignore_errors=True)


def scoring_texts(texts: list[Any], spec: Transforms | None, pipe: Any = None) -> list[Any]:
    """The texts the signals are computed on: cleaned with ``score: cleaned``, else ``texts`` themselves."""
    if spec is None or not spec.cleaned_scoring:
        return texts
    return (pipe or spec.pipeline()).run(texts)


def clean_table(tbl: Any, pipe: Any, stats: Stats) -> Any:
    """``tbl`` (an Arrow table with ``id`` and ``text``) with its text cleaned, counted into ``stats``."""
    import pyarrow as pa

    if tbl.num_rows == 0 or "text" not in tbl.column_names:
        return tbl
    i = tbl.column_names.index("text")
    ids = [str(x) for x in tbl.column("id").to_pylist()]
    cleaned = pipe.run(tbl.column("text").to_pylist(), ids=ids, stats=stats)
    return tbl.set_column(i, tbl.schema.field(i), pa.array(cleaned, tbl.schema.field(i).type))


_WORKER_SPECS: dict[str, tuple[Transforms, Any]] = {}


def _worker_spec(spec: dict[str, Any]) -> tuple[Transforms, Any]:
    """The section ``spec`` (its ``to_dict()``) parsed, and its pipeline: built once per worker process."""
    import json

    key = json.dumps(spec, sort_keys=True)
    got = _WORKER_SPECS.get(key)
    if got is None:
        from app.recipes import load_recipe

        tx = load_recipe({"version": 1, "transforms": spec}).transforms
        got = _WORKER_SPECS[key] = (tx, tx.pipeline())
    return got


def worker_texts(texts: list[Any], spec: dict[str, Any] | None) -> list[Any]:
    """An engine worker's texts to score: cleaned by the transforms section ``spec`` (its ``to_dict()``, sent
    with each batch; None: ``texts`` as they are)."""
    if spec is None:
        return texts
    return _worker_spec(spec)[1].run(texts)


def worker_options(spec: dict[str, Any] | None, families: list[str]) -> dict[str, dict[str, Any]] | None:
    """The signal options an engine worker scores ``families`` with under the section ``spec`` (its
    ``to_dict()``; None: defaults), as :meth:`Transforms.signal_options` gives the driver."""
    if spec is None:
        return None
    return _worker_spec(spec)[0].signal_options(families)


def manifest_block(spec: Transforms | None, stats: Stats | None, rescored: list[str]) -> dict[str, Any]:
    """``{"transforms": ...}`` for a headless manifest (empty without transforms)."""
    if spec is None or stats is None:
        return {}
    return {"transforms": manifest_entry(spec, stats, rescored=rescored)}


def check_text_column(columns: list[str]) -> None:
    """Transforms rewrite ``text``: an export whose columns leave it out has nothing to clean."""
    if "text" not in columns:
        raise ExportError(
            "the recipe has transforms but its output columns leave out 'text'; add text to output.columns"
        )
