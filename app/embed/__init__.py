"""Document embeddings stored in the workspace, cached by content and model.

Storage (measured choice: one DuckDB table per model, no side files): ``emb__<model slug>_<hash>``
with ``text_hash VARCHAR, vec FLOAT[d]``, one row per distinct text. A document's vector is found by
its ``text_hash``, so exact duplicates are embedded once, re-ingesting unchanged text costs nothing,
and re-running ``embed`` only encodes hashes the table lacks. Texts are encoded :data:`STEP` at a time and
committed every :data:`CHUNK` texts or :data:`COMMIT_SECONDS` seconds, whichever comes first, so an
interrupted run resumes where it stopped and a kill loses at most about half a minute of work (a chunk
of 4,096 texts alone is ~7 minutes of the default model on a slow CPU). ``embed_models`` lists the tables; ``_meta`` key
``embed.active`` names the model the map, neighbours and search use. Reading 54k x 384 vectors back
as numpy takes well under a second (Arrow fixed-size lists, zero copy), so no ``.npy`` copy is kept.

What is embedded is the text the workspace's fields make (:mod:`app.fields`; ``--fields`` on ``winnow embed``):
the vectors are keyed by the hash of that text, and ``_meta`` key ``embed.fields.<model>`` records the fields,
so :func:`load_vectors` finds each document's vector under the same fields.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np

from app.embed.choose import get_embedder
from app.embed.models import DEFAULT_MODEL, Embedder
from app.errors import EmbedError
from app.sql import qi, slug

__all__ = ["DEFAULT_MODEL", "active_model", "embed", "fields_of", "get_embedder", "load_vectors", "vectors_table"]

#: most texts per commit
CHUNK = 4096
#: texts per ``encode`` call: the unit a time-based commit can cut at (the todo query is already sorted by
#: length, so smaller calls pad no more than one big one)
STEP = 256
#: commit at least this often (seconds of encoding), whatever the chunk size
COMMIT_SECONDS = 30.0
MODELS_DDL = """CREATE TABLE IF NOT EXISTS embed_models (
    model VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, dim INTEGER NOT NULL, spec JSON, updated_at TIMESTAMP)"""


def vectors_table(model_key: str) -> str:
    """Table name holding the vectors of ``model_key``."""
    return f"emb__{slug(model_key, maxlen=30)}_{hashlib.sha1(model_key.encode()).hexdigest()[:6]}"


def active_model(ws: Any) -> str | None:
    """The model key whose vectors the map/search use (the last one embedded), or None."""
    return ws.get_meta("embed.active")


FIELDS_KEY = "embed.fields."


def fields_of(ws: Any) -> dict[str, str]:
    """``{model: fields}``: the fields (:func:`app.fields.label`) each embedded model last saw."""
    rows = ws.cursor().execute("SELECT key, value FROM _meta WHERE starts_with(key, ?)", [FIELDS_KEY]).fetchall()
    return {k[len(FIELDS_KEY) :]: v for k, v in sorted(rows)}


def _relation(ws: Any, key: str, con: Any) -> str:
    """The documents as model ``key`` saw them (its recorded fields; ``docs`` when none were recorded)."""
    from app import fields

    return fields.relation(con, fields.parse(ws.get_meta(FIELDS_KEY + key)))


def embed(
    ws: Any,
    *,
    model: str | None = None,
    batch_size: int = 64,
    device: str = "auto",
    fast: bool = False,
    max_length: int | None = None,
    embedder: Embedder | None = None,
    chunk: int = CHUNK,
    commit_seconds: float = COMMIT_SECONDS,
    limit_chunks: int | None = None,
    progress: Any = None,
    fields: str | None = None,
) -> dict[str, Any]:
    """Embed every document of ``ws`` whose text is not yet embedded by this model; make it active.

    Vectors are committed every ``chunk`` texts or ``commit_seconds`` of encoding, whichever comes first.
    Returns counts and timing: ``{"model", "table", "dim", "documents", "distinct_texts", "cached",
    "embedded", "remaining", "commits", "seconds", "docs_per_s"}``. ``limit_chunks`` stops after that
    many commits (tests of resumability). ``fields`` overrides the workspace's fields (:mod:`app.fields`).
    """
    from app import fields as fields_mod

    if ws.read_only:
        raise EmbedError(f"workspace {ws.path} is open read-only")
    emb = embedder or get_embedder(
        model, fast=fast, device=device, batch_size=batch_size, max_length=max_length, progress=progress
    )
    table = vectors_table(emb.key)
    cur = ws.cursor()
    flds = fields_mod.resolve(cur, fields)
    docs = fields_mod.relation(cur, flds)  # the text the fields make, hashed like ingest hashes text
    cur.execute(MODELS_DDL)
    cur.execute(f"CREATE TABLE IF NOT EXISTS {qi(table)} (text_hash VARCHAR NOT NULL, vec FLOAT[{int(emb.dim)}])")
    cur.execute(
        "INSERT OR REPLACE INTO embed_models VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
        [emb.key, table, emb.dim, json.dumps(emb.spec(), default=str)],
    )
    n_docs, n_distinct = cur.execute(f"SELECT count(*), count(DISTINCT text_hash) FROM {docs}").fetchone()
    todo_sql = (
        f"SELECT text_hash, any_value(text) AS text FROM {docs} WHERE text_hash NOT IN (SELECT text_hash FROM {qi(table)})"
        " GROUP BY text_hash"
    )
    n_todo = cur.execute(f"SELECT count(*) FROM ({todo_sql})").fetchone()[0]
    if emb.length_sorted:  # longest first: batches pad less; a static embedder does not pad, so skips the sort
        todo_sql += " ORDER BY length(any_value(text)) DESC, text_hash"
    cached = int(n_distinct) - int(n_todo)
    reader = ws.cursor()
    batches = reader.sql(todo_sql).to_arrow_reader(max(1, min(int(chunk), emb.step or STEP)))
    done = encoded = commits = 0
    pending: list[Any] = []
    t0 = last_commit = time.perf_counter()
    if progress:
        progress(0, int(n_todo), f"embedding with {emb.key}")
    import pyarrow as pa

    def commit() -> None:
        nonlocal done, commits, last_commit
        tbl = pa.concat_tables(pending)
        with ws.transaction() as w:  # an interrupted run keeps every commit it finished
            w.register("_winnow_vec", tbl)
            w.execute(f"INSERT INTO {qi(table)} SELECT text_hash, vec FROM _winnow_vec")
            w.unregister("_winnow_vec")
        done += tbl.num_rows
        commits += 1
        pending.clear()
        last_commit = time.perf_counter()

    for batch in batches:
        if limit_chunks is not None and commits >= limit_chunks:
            break
        texts = batch.column("text").to_pylist()
        base = encoded

        def tick(k: int, base: int = base) -> None:
            if progress:
                progress(base + k, int(n_todo), f"embedding with {emb.key}")

        vec = np.ascontiguousarray(emb.encode(texts, progress=tick), dtype=np.float32)
        if vec.shape != (len(texts), emb.dim):
            raise EmbedError(f"model {emb.key} returned shape {vec.shape}, expected ({len(texts)}, {emb.dim})")
        arr = pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1)), emb.dim)
        pending.append(pa.table({"text_hash": batch.column("text_hash"), "vec": arr}))
        encoded += len(texts)
        if encoded - done >= chunk or time.perf_counter() - last_commit >= commit_seconds:
            commit()
    if pending:
        commit()
    reader.close()
    seconds = time.perf_counter() - t0
    ws.set_meta("embed.active", emb.key, con=cur)
    ws.set_meta(FIELDS_KEY + emb.key, fields_mod.label(flds), con=cur)
    return {
        "fields": fields_mod.label(flds),
        "model": emb.key,
        "table": table,
        "dim": emb.dim,
        "documents": int(n_docs),
        "distinct_texts": int(n_distinct),
        "cached": cached,
        "embedded": done,
        "remaining": int(n_todo) - done,
        "commits": commits,
        "seconds": round(seconds, 2),
        "docs_per_s": round(done / seconds, 1) if done and seconds > 0 else None,
    }


def load_vectors(ws: Any, *, model: str | None = None, con: Any = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(ids, vectors, model_key)`` for every embedded document, ordered by id. ``vectors`` is float32
    ``[n, d]``, L2-normalised. Raises ``MapError`` when nothing is embedded yet."""
    from app.errors import MapError

    key = model or active_model(ws)
    if not key:
        raise MapError(f"no embeddings in {ws.path}: run `winnow embed --workspace {ws.path}` first")
    c = con or ws.cursor()
    table = vectors_table(key)
    if not ws.has_table(table, c):
        raise MapError(f"no vectors for model {key!r} in {ws.path}: run `winnow embed` first")
    res = (
        ws.cursor()
        .sql(
            f"SELECT d.id, e.vec FROM {_relation(ws, key, c)} AS d JOIN {qi(table)} AS e ON e.text_hash = d.text_hash"
            " ORDER BY d.id"
        )
        .to_arrow_table()
    )
    if res.num_rows == 0:
        raise MapError(f"no embedded documents in {ws.path}: run `winnow embed` first")
    ids = np.asarray(res.column("id").to_pylist(), dtype=object)
    col = res.column("vec").combine_chunks()
    dim = col.type.list_size
    vecs = col.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)
    return ids, vecs, key


def vector_count(ws: Any, *, model: str | None = None) -> tuple[int, int, str]:
    """``(documents with a vector, dim, model_key)`` without reading a vector (the streamed map sizes its work
    with it). Raises ``MapError`` when nothing is embedded yet."""
    from app.errors import MapError

    key = model or active_model(ws)
    if not key:
        raise MapError(f"no embeddings in {ws.path}: run `winnow embed --workspace {ws.path}` first")
    c = ws.cursor()
    table = vectors_table(key)
    if not ws.has_table(table, c):
        raise MapError(f"no vectors for model {key!r} in {ws.path}: run `winnow embed` first")
    dim = c.execute("SELECT dim FROM embed_models WHERE model = ?", [key]).fetchone()
    n = c.execute(
        f"SELECT count(*) FROM {_relation(ws, key, c)} AS d JOIN {qi(table)} AS e ON e.text_hash = d.text_hash"
    ).fetchone()[0]
    return int(n), int(dim[0]) if dim else 0, key


def iter_vectors(ws: Any, *, model: str, rows: int = 65_536) -> Any:
    """Yield ``(ids: pyarrow string array, vectors: float32 [m, d])`` for every embedded document in id order,
    ``rows`` at a time: the same rows as :func:`load_vectors`, never all in memory (DuckDB streams the sorted
    result through an Arrow reader)."""
    c = ws.cursor()
    table = vectors_table(model)
    reader = (
        ws.cursor()
        .sql(
            f"SELECT d.id, e.vec FROM {_relation(ws, model, c)} AS d JOIN {qi(table)} AS e"
            " ON e.text_hash = d.text_hash ORDER BY d.id"
        )
        .to_arrow_reader(rows)
    )
    for batch in reader:
        if batch.num_rows == 0:
            continue
        col = batch.column("vec")
        dim = col.type.list_size
        vec = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, dim)
        yield batch.column("id").cast("string"), vec
