"""Semantic search: documents nearest to a query or to another document under the stored embedding model.

- :func:`search` embeds the query with the model that made the workspace's vectors (:func:`query_embedder`) and
  returns the ``k`` documents of highest cosine similarity, best first (ties by position, so deterministic).
- :func:`neighbours` reads a document's nearest documents from the ``neighbours`` table :func:`app.maps.build_map`
  writes, or computes them exactly when that table holds fewer than ``k``.

Vectors come from :func:`app.embed.load_vectors`; a read-only workspace keeps them cached per process while the
vectors table and the sources are unchanged. Full-text search is :mod:`app.search.bm25`, substring search
:mod:`app.search.substring`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np

from app.errors import MapError
from app.sql import qi

__all__ = ["neighbours", "query_embedder", "search"]


def _docs(ws: Any, wanted: list[str]) -> dict[str, tuple[str, str]]:
    """``{id: (source, text)}`` for a few ids."""
    if not wanted:
        return {}
    cur = ws.cursor()
    rows = cur.execute("SELECT id, source, text FROM docs WHERE id IN (SELECT unnest(?::VARCHAR[]))", [wanted])
    return {r[0]: (r[1], r[2]) for r in rows.fetchall()}


def _rows(ws: Any, hits: list[tuple[str, float]]) -> list[dict[str, Any]]:
    docs = _docs(ws, [h[0] for h in hits])
    return [
        {
            "id": i,
            "score": round(float(s), 6),
            "source": docs.get(i, (None, None))[0],
            "text": docs.get(i, (None, None))[1],
        }
        for i, s in hits
    ]


@lru_cache(maxsize=2)
def _index_cached(db: str, key: str, n: int, stamp: str) -> tuple[np.ndarray, np.ndarray]:
    from app.workspace import Workspace

    with Workspace.open(db, read_only=True) as ro:
        ids, vecs, _ = _load(ro, key)
    return ids, vecs


def _load(ws: Any, key: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    from app.embed import load_vectors

    return load_vectors(ws, model=key)


def _vectors(ws: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """All vectors of the active model, cached per process while the table is unchanged (read-only
    workspaces only: a writer holds the file lock, so the cache must not reopen it)."""
    from app.embed import active_model, vectors_table

    key = active_model(ws)
    if not key:
        raise MapError(f"no embeddings in {ws.path}: run `winnow embed --workspace {ws.path}` first")
    if not ws.read_only:
        return _load(ws, key)
    cur = ws.cursor()
    n = cur.execute(f"SELECT count(*) FROM {qi(vectors_table(key))}").fetchone()[0]
    row = cur.execute(
        "SELECT (SELECT max(updated_at) FROM embed_models)::VARCHAR, (SELECT sum(n_docs) FROM sources)::VARCHAR,"
        " (SELECT max(ingested_at) FROM sources)::VARCHAR"
    ).fetchone()
    stamp = "|".join(str(v) for v in row)  # cheap: changes whenever vectors or sources change
    ids, vecs = _index_cached(str(ws.path), key, int(n), stamp)
    return ids, vecs, key


def neighbours(ws: Any, doc_id: str, *, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` nearest documents of ``doc_id`` (id, score = cosine similarity, source, text), best first.
    Read from the stored ``neighbours`` table when it holds ``k``; else computed exactly."""
    k = int(k)
    if k < 1:
        raise MapError("k must be at least 1")
    from app.maps import NB_TABLE

    cur = ws.cursor()
    if ws.has_table(NB_TABLE, cur):
        row = cur.execute(f"SELECT nb_ids, nb_sims FROM {NB_TABLE} WHERE id = ?", [doc_id]).fetchone()
        if row is not None and len(row[0]) >= k:
            return _rows(ws, list(zip(row[0][:k], row[1][:k])))
    from app.maps.common import PENDING_NOTE, neighbours_pending

    if neighbours_pending(ws):  # a streamed map is computing them: no exact search over every vector meanwhile
        raise MapError(PENDING_NOTE)
    ids, vecs, _ = _vectors(ws)
    pos = np.flatnonzero(ids == doc_id)
    if len(pos) == 0:
        exists = cur.execute("SELECT count(*) FROM docs WHERE id = ?", [doc_id]).fetchone()[0]
        raise MapError(f"document {doc_id!r} " + ("is not embedded yet: run `winnow embed`" if exists else "not found"))
    from app.maps.knn import knn_exact

    nb, sim = knn_exact(vecs[pos[0] : pos[0] + 1], vecs, k + 1)
    hits = [(ids[j], float(s)) for j, s in zip(nb[0], sim[0]) if j != pos[0]][:k]
    return _rows(ws, hits)


@lru_cache(maxsize=2)
def _query_embedder(key: str, spec_json: str) -> Any:
    from app.embed.models import HashEmbedder, TransformerEmbedder

    spec = json.loads(spec_json)
    kind = spec.get("kind")
    if kind == "hash":
        return HashEmbedder(int(spec["dim"]))
    if kind == "static":
        from pathlib import Path

        from app.embed.static import StaticEmbedder

        name = key.split(":", 1)[1].rsplit("@", 1)[0]
        return StaticEmbedder(Path(spec["folder"]), name=name, max_length=spec.get("max_length"))
    return TransformerEmbedder(spec.get("path") or key, device="cpu", max_length=spec.get("max_length"), batch_size=32)


def query_embedder(ws: Any, key: str | None = None) -> Any:
    """The embedder that made the stored vectors (so queries land in the same space)."""
    from app.embed import MODELS_DDL, active_model

    key = key or active_model(ws)
    if not key:
        raise MapError(f"no embeddings in {ws.path}: run `winnow embed --workspace {ws.path}` first")
    cur = ws.cursor()
    if not ws.read_only:
        cur.execute(MODELS_DDL)
    row = cur.execute("SELECT spec FROM embed_models WHERE model = ?", [key]).fetchone()
    if row is None:
        raise MapError(f"model {key!r} is not recorded in {ws.path}: run `winnow embed` again")
    return _query_embedder(key, row[0] if isinstance(row[0], str) else json.dumps(row[0]))


def search(ws: Any, query: str, *, k: int = 10) -> list[dict[str, Any]]:
    """Semantic search: the ``k`` documents most similar to ``query`` under the stored embedding model."""
    if not (query or "").strip():
        raise MapError("empty search query")
    ids, vecs, key = _vectors(ws)
    q = query_embedder(ws, key).encode([query])[0]
    sims = vecs @ q
    k = min(int(k), len(ids))
    top = np.argpartition(-sims, k - 1)[:k] if k < len(ids) else np.arange(len(ids))
    top = top[np.lexsort((top, -sims[top]))]
    return _rows(ws, [(ids[j], float(sims[j])) for j in top])
